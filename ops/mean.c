/*
 * mean.c - the mean of all elements, or along one dim.
 *
 *   forward:  out = (1/n) sum_k x[k]        n elements, or n = size of dim
 *   backward: dx[k] += g / n                g copied back along the averaged dims
 */
#include "autograd/internal.h"

/* g / n copied to every element of x's shape, in one pass: the division of ag_div_scalar and
 * the copy of ag_broadcast_to, for a one-element g. */
static ag_tensor *mean_grad(const ag_tensor *g, const ag_tensor *x) {
    ag_tensor *dx = ag_result_shaped(g->dtype, x);
    if (!dx) return NULL;
    if (g->dtype == AG_FLOAT32) {
        const float v = AG_F32(g)[0] / (float)(double)x->numel; /* n as ag_div_scalar has it */
        for (int64_t i = 0; i < dx->numel; i++) AG_F32(dx)[i] = v;
    } else {
        const double v = AG_F64(g)[0] / (double)x->numel;
        for (int64_t i = 0; i < dx->numel; i++) AG_F64(dx)[i] = v;
    }
    return dx;
}

static void mean_backward(ag_node *node) {
    const ag_tensor *x = node->inputs[0];
    /* Anomaly mode checks each op's result on its own: then they run one by one. */
    if (!ag_is_anomaly_enabled() && node->grad->numel == 1 && ag_is_floating(node->grad->dtype)) {
        ag_accumulate_temp(node, 0, mean_grad(node->grad, x));
        return;
    }
    ag_tensor *g = ag_div_scalar(node->grad, (double)x->numel);
    ag_accumulate_temp(node, 0, g ? ag_broadcast_to(g, x->ndim, x->shape) : NULL);
}

static const ag_op mean_op = {
    .name = "MeanBackward0",
    .rule = "dx = g / n (copied to every element)",
    .backward = mean_backward,
};

ag_tensor *ag_mean(ag_tensor *x) {
    if (!ag_check_tensor("mean", x, "self") || !ag_check_floating("mean", x)) return NULL;
    /* as torch: the sum rounded to the tensor's precision, then divided in it */
    double s = ag_sum_all(x);
    double mean = x->dtype == AG_FLOAT32 ? (double)((float)s / (float)x->numel)
                                         : s / (double)x->numel;
    return ag_scalar_result_op(&mean_op, x, mean);
}

static void mean_dim_backward(ag_node *node) {
    const ag_tensor *x = node->inputs[0];
    int dim = (int)node->iarg[0];
    ag_tensor *g = ag_div_scalar(node->grad, (double)(x->ndim ? x->shape[dim] : 1));
    ag_accumulate_temp(node, 0, g ? ag_unreduce(g, x, dim, node->iarg[1]) : NULL);
}

static const ag_op mean_dim_op = {
    .name = "MeanBackward1",
    .rule = "dx = g / n (copied along dim)",
    .backward = mean_dim_backward,
};

ag_tensor *ag_mean_dim(ag_tensor *x, int dim, bool keepdim) {
    if (!ag_check_tensor("mean", x, "self") || !ag_check_dim("mean", x->ndim, &dim)) return NULL;
    double n = (double)(x->ndim ? x->shape[dim] : 1);
    ag_tensor *out = ag_sum_dim_divided("mean", x, dim, keepdim, n);
    ag_node *node = ag_record(&mean_dim_op, out, 1, &x);
    if (node) {
        node->iarg[0] = dim;
        node->iarg[1] = keepdim;
    }
    return out;
}
