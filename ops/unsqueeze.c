/*
 * unsqueeze.c - x.unsqueeze(dim): a new dim of size 1 inserted at dim.
 *
 *   forward:  x: (A, B), unsqueeze(1)  ->  out: (A, 1, B)    dim in [-ndim-1, ndim]
 *   backward: dx += g seen as x's shape                      (the size-1 dim dropped)
 * A view sharing x's data and version counter.
 */
#include "autograd/internal.h"

static void unsqueeze_backward(ag_node *node) {
    const ag_tensor *x = node->inputs[0];
    ag_accumulate(node, 0, ag_result_view(node->grad, x->ndim, x->shape));
}

static const ag_op unsqueeze_op = {
    .name = "UnsqueezeBackward0",
    .rule = "dx = g with dim dropped",
    .backward = unsqueeze_backward,
};

ag_tensor *ag_unsqueeze(ag_tensor *x, int dim) {
    const char *op = "unsqueeze";
    if (!ag_check_tensor(op, x, "self") || !ag_check_dim(op, x->ndim + 1, &dim)) return NULL;
    if (x->ndim == AG_MAX_DIMS) {
        AG_ERROR(op, "a tensor has at most %d dims: cannot unsqueeze one of %d", AG_MAX_DIMS,
                 x->ndim);
        return NULL;
    }
    int64_t shape[AG_MAX_DIMS];
    for (int d = 0, n = 0; d <= x->ndim; d++)
        shape[d] = d == dim ? 1 : x->shape[n++];
    ag_tensor *out = ag_result_view(x, x->ndim + 1, shape);
    ag_record(&unsqueeze_op, out, 1, &x);
    return out;
}
