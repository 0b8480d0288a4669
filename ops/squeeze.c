/*
 * squeeze.c - x.squeeze() and x.squeeze(dim): size-1 dims dropped.
 *
 *   squeeze()     forward:  x: (A, 1, B, 1)  ->  out: (A, B)      every dim of size 1
 *   squeeze(dim)  forward:  x: (A, 1, B)     ->  out: (A, B)      dim only, if its size is 1;
 *                                                                 else out has x's shape
 *   backward (both): dx += g seen as x's shape
 * Views sharing x's data and version counter. grad_fn names as torch: SqueezeBackward0 for
 * the whole squeeze, SqueezeBackward1 for one dim.
 */
#include "autograd/internal.h"

/* The backward of both: g, viewed with x's shape (the size-1 dims put back). */
static void squeeze_backward(ag_node *node) {
    const ag_tensor *x = node->inputs[0];
    ag_accumulate(node, 0, ag_result_view(node->grad, x->ndim, x->shape));
}

static const ag_op squeeze_op = {
    .name = "SqueezeBackward0",
    .rule = "dx = g with x's size-1 dims put back",
    .backward = squeeze_backward,
};

static const ag_op squeeze_dim_op = {
    .name = "SqueezeBackward1",
    .rule = "dx = g with dim put back",
    .backward = squeeze_backward,
};

ag_tensor *ag_squeeze(ag_tensor *x) {
    if (!ag_check_tensor("squeeze", x, "self")) return NULL;
    int64_t shape[AG_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < x->ndim; d++)
        if (x->shape[d] != 1) shape[n++] = x->shape[d];
    ag_tensor *out = ag_result_view(x, n, shape);
    ag_record(&squeeze_op, out, 1, &x);
    return out;
}

ag_tensor *ag_squeeze_dim(ag_tensor *x, int dim) {
    if (!ag_check_tensor("squeeze", x, "self") || !ag_check_dim("squeeze", x->ndim, &dim))
        return NULL;
    int64_t shape[AG_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < x->ndim; d++)
        if (d != dim || x->shape[d] != 1) shape[n++] = x->shape[d];
    ag_tensor *out = ag_result_view(x, n, shape);
    ag_record(&squeeze_dim_op, out, 1, &x);
    return out;
}
