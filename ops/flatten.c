/*
 * flatten.c - x.flatten(start_dim, end_dim): dims start_dim..end_dim merged into one.
 *
 *   forward:  x: (A, B, C, D), flatten(1, 2)  ->  out: (A, B*C, D), the same elements
 *   backward: dx += g seen as x's shape
 * A view sharing x's data and version counter, as reshape (torch records it as a reshape, so
 * its grad_fn is ReshapeAliasBackward0). A 0-d x becomes 1-d of one element. Where torch
 * returns x itself (start_dim == end_dim), this returns a view of x with the same shape: an
 * op's result always belongs to the tape.
 */
#include "autograd/internal.h"

static void flatten_backward(ag_node *node) {
    const ag_tensor *x = node->inputs[0];
    ag_accumulate(node, 0, ag_result_view(node->grad, x->ndim, x->shape));
}

static const ag_op flatten_op = {
    .name = "ReshapeAliasBackward0",
    .rule = "dx = g reshaped to x's shape",
    .backward = flatten_backward,
};

ag_tensor *ag_flatten(ag_tensor *x, int start_dim, int end_dim) {
    const char *op = "flatten";
    if (!ag_check_tensor(op, x, "self") || !ag_check_dim(op, x->ndim, &start_dim) ||
        !ag_check_dim(op, x->ndim, &end_dim))
        return NULL;
    if (start_dim > end_dim) {
        AG_ERROR(op, "flatten() has invalid args: start_dim cannot come after end_dim");
        return NULL;
    }
    int64_t shape[AG_MAX_DIMS];
    int n = 0;
    if (x->ndim == 0) {
        shape[n++] = 1;
    } else {
        for (int d = 0; d < start_dim; d++) shape[n++] = x->shape[d];
        int64_t merged = 1;
        for (int d = start_dim; d <= end_dim; d++) merged *= x->shape[d];
        shape[n++] = merged;
        for (int d = end_dim + 1; d < x->ndim; d++) shape[n++] = x->shape[d];
    }
    ag_tensor *out = ag_result_view(x, n, shape);
    ag_record(&flatten_op, out, 1, &x);
    return out;
}
