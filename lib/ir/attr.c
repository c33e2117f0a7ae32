/* Node attributes: typed getters with defaults and setters that replace
 * an attribute of the same name (ir.h). */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

#include "ir_internal.h"

void ir_attr_clear(qp_attr *a)
{
	free(a->name);
	free(a->ints);
	free(a->floats);
	free(a->s);
	memset(a, 0, sizeof *a);
}

const qp_attr *qp_node_attr(const qp_node *n, const char *name)
{
	for (int i = 0; i < n->n_attrs; i++)
		if (strcmp(n->attrs[i].name, name) == 0)
			return &n->attrs[i];
	return NULL;
}

int64_t qp_node_attr_int(const qp_node *n, const char *name, int64_t dflt)
{
	const qp_attr *a = qp_node_attr(n, name);

	return a && a->type == QP_ATTR_INT ? a->i : dflt;
}

float qp_node_attr_float(const qp_node *n, const char *name, float dflt)
{
	const qp_attr *a = qp_node_attr(n, name);

	if (a && a->type == QP_ATTR_FLOAT)
		return a->f;
	/* ONNX writers sometimes store a whole number as an int. */
	if (a && a->type == QP_ATTR_INT)
		return (float)a->i;
	return dflt;
}

const int64_t *qp_node_attr_ints(const qp_node *n, const char *name, int *count)
{
	const qp_attr *a = qp_node_attr(n, name);

	if (a && a->type == QP_ATTR_INTS) {
		*count = a->n;
		return a->ints;
	}
	*count = 0;
	return NULL;
}

const float *qp_node_attr_floats(const qp_node *n, const char *name, int *count)
{
	const qp_attr *a = qp_node_attr(n, name);

	if (a && a->type == QP_ATTR_FLOATS) {
		*count = a->n;
		return a->floats;
	}
	*count = 0;
	return NULL;
}

const char *qp_node_attr_string(const qp_node *n, const char *name, const char *dflt)
{
	const qp_attr *a = qp_node_attr(n, name);

	return a && a->type == QP_ATTR_STRING ? a->s : dflt;
}

/* The attribute called name, emptied for a new value (appended when new). */
static qp_attr *attr_slot(qp_node *n, const char *name)
{
	qp_attr *a = (qp_attr *)qp_node_attr(n, name);
	char *nm;

	if (!name || !name[0])
		return NULL;
	if (a) {
		nm = a->name;
		a->name = NULL;
		ir_attr_clear(a);
		a->name = nm;
		return a;
	}
	nm = ir_strdup(name);
	if (!nm)
		return NULL;
	/* Attribute arrays are short: grow one at a time. */
	a = realloc(n->attrs, ((size_t)n->n_attrs + 1) * sizeof *a);
	if (!a) {
		free(nm);
		return NULL;
	}
	n->attrs = a;
	a = &n->attrs[n->n_attrs++];
	memset(a, 0, sizeof *a);
	a->name = nm;
	return a;
}

int qp_node_set_int(qp_node *n, const char *name, int64_t v)
{
	qp_attr *a = attr_slot(n, name);

	if (!a)
		return -1;
	a->type = QP_ATTR_INT;
	a->i = v;
	return 0;
}

int qp_node_set_float(qp_node *n, const char *name, float v)
{
	qp_attr *a = attr_slot(n, name);

	if (!a)
		return -1;
	a->type = QP_ATTR_FLOAT;
	a->f = v;
	return 0;
}

/* Stores a copy of count elements of size es as attribute name of type
 * QP_ATTR_INTS or QP_ATTR_FLOATS. */
static int set_array(qp_node *n, const char *name, qp_attr_type type, int count,
		     const void *v, size_t es)
{
	void *copy;
	qp_attr *a;

	if (count < 0)
		return -1;
	copy = malloc(((size_t)count + 1) * es);
	if (!copy)
		return -1;
	if (count)
		memcpy(copy, v, (size_t)count * es);
	a = attr_slot(n, name);
	if (!a) {
		free(copy);
		return -1;
	}
	a->type = type;
	a->n = count;
	if (type == QP_ATTR_INTS)
		a->ints = copy;
	else
		a->floats = copy;
	return 0;
}

int qp_node_set_ints(qp_node *n, const char *name, int count, const int64_t *v)
{
	return set_array(n, name, QP_ATTR_INTS, count, v, sizeof *v);
}

int qp_node_set_floats(qp_node *n, const char *name, int count, const float *v)
{
	return set_array(n, name, QP_ATTR_FLOATS, count, v, sizeof *v);
}

int qp_node_set_string(qp_node *n, const char *name, const char *v)
{
	char *copy;
	qp_attr *a;

	if (!v)
		return -1;
	copy = ir_strdup(v);
	if (!copy)
		return -1;
	a = attr_slot(n, name);
	if (!a) {
		free(copy);
		return -1;
	}
	a->type = QP_ATTR_STRING;
	a->s = copy;
	return 0;
}
