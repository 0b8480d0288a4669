/*
 * lanewise.c - the part of softmax and log_softmax that is not their math (see
 * ops/lanewise.h): checks, the loop over the lanes along dim, the dtype dispatch, the node.
 */
#include "ops/lanewise.h"

ag_tensor *ag_lanewise(const char *name, const ag_op *op, const ag_lane_kernel *k, ag_tensor *x,
                       int dim) {
    if (!ag_check_tensor(name, x, "input") || !ag_check_floating(name, x) ||
        !ag_check_dim(name, x->ndim, &dim))
        return NULL;
    ag_tensor *y = ag_result_like(x);
    if (!y) return NULL;
    int64_t outer, size, inner;
    ag_split_dim(x, dim, &outer, &size, &inner);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t at = o * size * inner + i; /* the lane's first element */
            if (x->dtype == AG_FLOAT32)
                k->forward_float(AG_F32(x) + at, AG_F32(y) + at, size, inner);
            else
                k->forward_double(AG_F64(x) + at, AG_F64(y) + at, size, inner);
        }
    }
    ag_node *node = ag_record(op, y, 1, &x);
    if (node) {
        node->iarg[0] = dim;
        ag_save(node, y);
    }
    return y;
}

void ag_lanewise_backward(ag_node *node, const ag_lane_kernel *k) {
    ag_tensor *y = ag_saved(node, 0);
    if (!y || !ag_needs_grad(node, 0)) return;
    ag_tensor *g = ag_cast(node->grad, y->dtype), *dx = ag_result_like(y);
    if (!g || !dx) return;
    int64_t outer, size, inner;
    ag_split_dim(y, (int)node->iarg[0], &outer, &size, &inner);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t at = o * size * inner + i;
            if (y->dtype == AG_FLOAT32)
                k->backward_float(AG_F32(y) + at, AG_F32(g) + at, AG_F32(dx) + at, size, inner);
            else
                k->backward_double(AG_F64(y) + at, AG_F64(g) + at, AG_F64(dx) + at, size, inner);
        }
    }
    ag_accumulate_temp(node, 0, dx);
}
