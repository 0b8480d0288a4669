/*
 * leaky_relu.c - the leaky rectifier: x where x > 0, else slope * x.
 *
 *   forward:  y = x > 0 ? x : slope * x         x: any shape (NaN passes through)
 *   backward: dx += x > 0 ? g : g * slope       (x's shape; the slope side at x = 0, as torch)
 * The slope is computed in x's precision, as torch converts it to the tensor's dtype.
 */
#include "autograd/internal.h"

/* parameter k in the precision of x (float32 computes in float32) */
#define PARAM(k) _Generic((x), float : (float)p[k], default : p[k])

AG_UNARY_KERNEL(leaky_relu_kernel, x > 0 ? x : x * PARAM(0));

/* dx = x > 0 ? g : g * slope, over g and x of one shape and one dtype. */
static ag_tensor *leaky_relu_grad(const ag_tensor *g, const ag_tensor *x, double slope) {
    ag_tensor *dx = ag_result_like(x);
    if (!dx) return NULL;
    if (x->dtype == AG_FLOAT32) {
        const float *gv = g->data, *xv = x->data, s = (float)slope;
        float *d = dx->data;
        for (int64_t i = 0; i < x->numel; i++)
            d[i] = xv[i] > 0 ? gv[i] : gv[i] * s;
    } else {
        const double *gv = g->data, *xv = x->data, s = slope;
        double *d = dx->data;
        for (int64_t i = 0; i < x->numel; i++)
            d[i] = xv[i] > 0 ? gv[i] : gv[i] * s;
    }
    return dx;
}

static void leaky_relu_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0);
    if (!x) return;
    ag_accumulate_temp(node, 0, leaky_relu_grad(node->grad, x, node->farg[0]));
}

static const ag_op leaky_relu_op = {
    .name = "LeakyReluBackward0",
    .rule = "dx = x > 0 ? g : g * slope",
    .backward = leaky_relu_backward,
};

ag_tensor *ag_leaky_relu(ag_tensor *x, double slope) {
    if (!ag_check_tensor("leaky_relu", x, "self") || !ag_check_floating("leaky_relu", x))
        return NULL;
    return ag_unary_op(&leaky_relu_kernel, &leaky_relu_op, x, (double[]){slope}, 1,
                       AG_SAVE_INPUT);
}
