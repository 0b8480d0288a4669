/*
 * softplus.c - a smooth rectifier: ln(1 + e^(beta x)) / beta, and x itself for large x.
 *
 *   forward:  y = x * beta > threshold ? x : ln(1 + e^(x beta)) / beta       x: any shape
 *   backward: dx += x * beta > threshold ? g : g * z / (z + 1),  z = e^(x beta)
 * Exactly torch's formulas (its defaults are beta = 1, threshold = 20), computed in x's
 * precision with beta and threshold rounded to it, as torch does.
 */
#include "autograd/internal.h"

#include <tgmath.h>

/* parameter k in the precision of x (float32 computes in float32) */
#define PARAM(k) _Generic((x), float: (float)p[k], default: p[k])

AG_UNARY_KERNEL(softplus_kernel,
                x * PARAM(0) > PARAM(1) ? x : log1p(exp(x * PARAM(0))) / PARAM(0));

/* The gradient over g and x of one shape and one dtype; T is float or double. */
#define SOFTPLUS_GRAD(T)                                                                           \
    do {                                                                                           \
        const T *gv = g->data, *xv = x->data, b = (T)beta, t = (T)threshold;                       \
        T *d = dx->data;                                                                           \
        for (int64_t i = 0; i < x->numel; i++) {                                                   \
            T z = exp(xv[i] * b);                                                                  \
            d[i] = xv[i] * b > t ? gv[i] : gv[i] * z / (z + 1);                                    \
        }                                                                                          \
    } while (0)

static ag_tensor *softplus_grad(const ag_tensor *g, const ag_tensor *x, double beta,
                                double threshold) {
    ag_tensor *dx = ag_result_like(x);
    if (!dx) return NULL;
    if (x->dtype == AG_FLOAT32)
        SOFTPLUS_GRAD(float);
    else
        SOFTPLUS_GRAD(double);
    return dx;
}

static void softplus_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0);
    if (!x) return;
    ag_accumulate_temp(node, 0, softplus_grad(node->grad, x, node->farg[0], node->farg[1]));
}

static const ag_op softplus_op = {
    .name = "SoftplusBackward0",
    .rule = "dx = g * sigmoid(beta x), or g where x beta > threshold",
    .backward = softplus_backward,
};

ag_tensor *ag_softplus(ag_tensor *x, double beta, double threshold) {
    if (!ag_check_tensor("softplus", x, "self") || !ag_check_floating("softplus", x)) return NULL;
    return ag_unary_op(&softplus_kernel, &softplus_op, x, (double[]){beta, threshold}, 2,
                       AG_SAVE_INPUT);
}
