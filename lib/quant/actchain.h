/* Elementwise activation chains: a few float ops that together compute
 * one function of one tensor, such as torch's GELU export
 * x * 0.5 * (1 + erf(x / sqrt 2)) or SiLU's x * sigmoid(x).  lower makes
 * each chain one QLut (a table of the whole function) and quantize gives
 * only the chain's end parameters, so fake quantization rounds once, where
 * the table does.  Both call qp_act_chains, so they decide alike.
 */
#ifndef QP_ACTCHAIN_H
#define QP_ACTCHAIN_H

#include "ir.h"

/* The most nodes one chain may have. */
#define QP_ACT_CHAIN_MAX 16

/* For every node of g: the index of the node that ends the chain it
 * belongs to (itself for the end), or -1.  end_of has g->n_nodes entries.
 * A chain is a set of nodes, each Sigmoid, Tanh, Erf, Add, Sub, Mul, Div
 * or Pow with one output, whose inputs are one float activation X (the
 * chain's input), float32 constants of one element that no node outside
 * the set reads, or outputs of other nodes of the set; the outputs but the
 * end's are read only inside the set and are no graph outputs; at least
 * one node is Sigmoid, Tanh or Erf and one is binary.  Chains are taken greedily from the graph's last node
 * back, each as large as it can be.  Returns 0, or -1 when out of memory. */
int qp_act_chains(const qp_graph *g, int *end_of);

/* The input X of the chain that ends at node end (end_of as above). */
int qp_act_chain_input(const qp_graph *g, const int *end_of, int end);

#endif
