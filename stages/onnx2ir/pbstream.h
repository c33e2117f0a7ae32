/* Loading an ONNX model without holding it in memory twice.
 *
 * protobuf-c's onnx__model_proto__unpack copies every bytes field, so
 * unpacking a 100 MB model from a 100 MB buffer costs 200 MB before the
 * importer has made its own 100 MB of IR constants.  Instead the model file
 * is mapped (or, for a pipe, read) and walked at the protobuf wire level:
 * everything except the initializers' raw_data is copied into a small
 * "skeleton" message that protobuf-c unpacks as usual, and each
 * initializer's raw_data is copied straight from the mapping into its IR
 * tensor, one at a time, after which those file pages are dropped from the
 * process (MADV_DONTNEED).  Peak memory is then the IR constants plus one
 * initializer plus the (small) graph structure.  docs/performance.md.
 */
#ifndef ONNX2IR_PBSTREAM_H
#define ONNX2IR_PBSTREAM_H

#include <stddef.h>

#include "err.h"
#include "ir.h"
#include "onnx.pb-c.h"

typedef struct onnx_pb_file onnx_pb_file;

/* Opens an ONNX model file (path NULL or "-": standard input; a regular
 * file there is mapped too, a pipe is read whole).  limit: refuse larger
 * files.  Messages do not include the path. */
int onnx_pb_open(const char *path, size_t limit, onnx_pb_file **out, qp_err *err);
/* The same over a caller's buffer, which must outlive the onnx_pb_file. */
int onnx_pb_open_mem(const void *buf, size_t len, onnx_pb_file **out, qp_err *err);

/* The model with every field but the initializers' raw_data: each
 * graph->initializer[i] has its name, dims, data type and any typed data
 * fields, but no raw_data until onnx_pb_add_initializer.  Owned by f. */
const Onnx__ModelProto *onnx_pb_model(const onnx_pb_file *f);

/* Adds initializer i of the main graph to g as a constant
 * (onnx_add_constant_ext, with its raw_data read from the file; base_dir as
 * there) and releases the file pages it occupied.  Sets *index to the
 * tensor's index. */
int onnx_pb_add_initializer(onnx_pb_file *f, size_t i, qp_graph *g,
			    const char *base_dir, int *index, qp_err *err);

/* Unmaps or frees everything; accepts NULL. */
void onnx_pb_close(onnx_pb_file *f);

#endif
