/*
 * sum.c - the sum of all elements, or along one dim.
 *
 *   forward:  out = sum_k x[k]              over everything, or over dim (keepdim keeps it as 1)
 *   backward: dx[k] += g                    g copied back along the summed dims
 * Sums of float32 are accumulated in double and rounded once.
 */
#include "autograd/internal.h"

static void sum_backward(ag_node *node) {
    const ag_tensor *x = node->inputs[0];
    ag_accumulate_temp(node, 0, ag_broadcast_to(node->grad, x->ndim, x->shape));
}

static const ag_op sum_op = {
    .name = "SumBackward0",
    .rule = "dx = g (copied to every element)",
    .backward = sum_backward,
};

double ag_sum_all(const ag_tensor *x) {
    double s = 0;
    for (int64_t i = 0; i < x->numel; i++)
        s += x->dtype == AG_FLOAT32 ? (double)AG_F32(x)[i] : AG_F64(x)[i];
    return s;
}

ag_tensor *ag_sum(ag_tensor *x) {
    if (!ag_check_tensor("sum", x, "self") || !ag_check_floating("sum", x)) return NULL;
    double s = ag_sum_all(x);
    return ag_scalar_result_op(&sum_op, x, x->dtype == AG_FLOAT32 ? (double)(float)s : s);
}

static void sum_dim_backward(ag_node *node) {
    ag_accumulate_temp(node, 0, ag_unreduce(node->grad, node->inputs[0], (int)node->iarg[0],
                                            node->iarg[1]));
}

static const ag_op sum_dim_op = {
    .name = "SumBackward1",
    .rule = "dx = g (copied along dim)",
    .backward = sum_dim_backward,
};

ag_tensor *ag_sum_dim_divided(const char *op, ag_tensor *x, int dim, bool keepdim,
                              double divisor) {
    if (!ag_check_tensor(op, x, "self") || !ag_check_floating(op, x) ||
        !ag_check_dim(op, x->ndim, &dim))
        return NULL;
    int64_t shape[AG_MAX_DIMS], outer, size, inner;
    ag_split_dim(x, dim, &outer, &size, &inner);
    ag_tensor *out = ag_result(x->dtype, ag_reduced_shape(x, dim, keepdim, shape), shape);
    if (!out) return NULL;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            double s = 0;
            for (int64_t k = 0; k < size; k++) {
                int64_t at = (o * size + k) * inner + i;
                s += x->dtype == AG_FLOAT32 ? (double)AG_F32(x)[at] : AG_F64(x)[at];
            }
            if (x->dtype == AG_FLOAT32)
                AG_F32(out)[o * inner + i] = (float)s / (float)divisor;
            else
                AG_F64(out)[o * inner + i] = s / divisor;
        }
    }
    return out;
}

ag_tensor *ag_sum_dim(ag_tensor *x, int dim, bool keepdim) {
    ag_tensor *out = ag_sum_dim_divided("sum", x, dim, keepdim, 1.0);
    ag_node *node = ag_record(&sum_dim_op, out, 1, &x);
    if (node) {
        node->iarg[0] = dim < 0 ? dim + (x->ndim ? x->ndim : 1) : dim;
        node->iarg[1] = keepdim;
    }
    return out;
}
