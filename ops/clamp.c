/*
 * clamp.c - clamping into [lo, hi]: min(max(x, lo), hi).
 *
 *   forward:  y = min(max(x, lo), hi)           x: any shape; -INFINITY / INFINITY: no bound
 *   backward: dx += lo <= x <= hi ? g : 0       (x's shape; g passes at the bounds themselves)
 * As torch: a NaN in x or in a bound gives NaN; lo > hi gives hi everywhere and a zero
 * gradient (no x lies in the empty interval); bounds are rounded to x's precision.
 */
#include "autograd/internal.h"

/* parameter k in the precision of x (float32 computes in float32) */
#define PARAM(k) _Generic((x), float : (float)p[k], default : p[k])
/* torch's maximum and minimum, which propagate NaN */
#define NAN_MAX(a, b) ((a) < (b) || (b) != (b) ? (b) : (a))
#define NAN_MIN(a, b) ((a) > (b) || (b) != (b) ? (b) : (a))

AG_UNARY_KERNEL(clamp_kernel, NAN_MIN(NAN_MAX(x, PARAM(0)), PARAM(1)));

/* The gradient over g and x of one shape and one dtype; T is float or double. */
#define CLAMP_GRAD(T)                                                                              \
    do {                                                                                           \
        const T *gv = g->data, *xv = x->data, l = (T)lo, h = (T)hi;                                \
        T *d = dx->data;                                                                           \
        for (int64_t i = 0; i < x->numel; i++)                                                     \
            d[i] = xv[i] >= l && xv[i] <= h ? gv[i] : 0;                                           \
    } while (0)

static ag_tensor *clamp_grad(const ag_tensor *g, const ag_tensor *x, double lo, double hi) {
    ag_tensor *dx = ag_result_like(x);
    if (!dx) return NULL;
    if (x->dtype == AG_FLOAT32)
        CLAMP_GRAD(float);
    else
        CLAMP_GRAD(double);
    return dx;
}

static void clamp_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0);
    if (!x) return;
    ag_accumulate_temp(node, 0, clamp_grad(node->grad, x, node->farg[0], node->farg[1]));
}

static const ag_op clamp_op = {
    .name = "ClampBackward1",
    .rule = "dx = g * [lo <= x <= hi]",
    .backward = clamp_backward,
};

ag_tensor *ag_clamp(ag_tensor *x, double lo, double hi) {
    if (!ag_check_tensor("clamp", x, "self") || !ag_check_floating("clamp", x)) return NULL;
    return ag_unary_op(&clamp_kernel, &clamp_op, x, (double[]){lo, hi}, 2, AG_SAVE_INPUT);
}
