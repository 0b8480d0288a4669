/*
 * pow.c - powers: x ^ s with a number s, a ^ b with tensors, and s ^ x.
 *
 *   x ^ s    forward:  out = x^s
 *            backward: dx += g * s * x^(s-1)          (0 where s == 0)
 *   a ^ b    forward:  out = a^b                      a, b broadcast
 *            backward: da += g * b * a^(b-1)          (0 where b == 0)
 *                      db += g * a^b * ln a           (0 where a == 0 and b >= 0)
 *   s ^ x    is a ^ b with a = s, a number that takes no gradient.
 * The zeros are PyTorch's conventions: they keep 0^0 and 0^positive from making NaN grads.
 */
#include "autograd/internal.h"

#include <tgmath.h>

/* ---- x ^ s -------------------------------------------------------------------------------- */

/* Two exponents skip pow() with its own results: x^1 is x (pow is exact there), and a float32
 * x^2 is x * x (the double product of two floats is exact, so either way it is rounded once).
 * (A float64 x^2 stays pow(): x * x, which torch computes, can differ in the last bit.) */
AG_UNARY_KERNEL(pow_scalar_any_kernel, pow(x, p[0]));
AG_UNARY_KERNEL(pow_scalar_1_kernel, x);
AG_UNARY_KERNEL(pow_scalar_2_kernel, sizeof x == sizeof(float) ? x * x : pow(x, 2.0));

/* x^s's kernel, picked once for the whole tensor. */
static const ag_unary_kernel *pow_scalar_kernel(double s) {
    return s == 1.0 ? &pow_scalar_1_kernel : s == 2.0 ? &pow_scalar_2_kernel : &pow_scalar_any_kernel;
}

/* g * (s * x^(s-1)) in one pass, for g of x's dtype and shape: the operations of the three
 * ops in pow_scalar_backward, in the same order and precision, without their bookkeeping. */
static ag_tensor *pow_scalar_grad(const ag_tensor *g, ag_tensor *x, double s) {
    /* (x^1 is x itself: the square's gradient reads x, without a pass making x^1) */
    ag_tensor *out = s == 2.0 ? ag_result_like(x)
                              : ag_unary_map(pow_scalar_kernel(s - 1.0), x, (double[]){s - 1.0});
    if (!out) return NULL;
    if (s == 2.0) {
        if (x->dtype == AG_FLOAT32) {
            float *o = out->data;
            const float *gd = g->data, *xd = x->data;
            for (int64_t i = 0; i < out->numel; i++) o[i] = gd[i] * (xd[i] * 2.0f);
        } else {
            double *o = out->data;
            const double *gd = g->data, *xd = x->data;
            for (int64_t i = 0; i < out->numel; i++) o[i] = gd[i] * (xd[i] * 2.0);
        }
        return out;
    }
    if (x->dtype == AG_FLOAT32) {
        float *o = out->data, sf = (float)s;
        const float *gd = g->data;
        for (int64_t i = 0; i < out->numel; i++) o[i] = gd[i] * (o[i] * sf);
    } else {
        double *o = out->data;
        const double *gd = g->data;
        for (int64_t i = 0; i < out->numel; i++) o[i] = gd[i] * (o[i] * s);
    }
    return out;
}

static void pow_scalar_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0), *g = node->grad;
    double s = node->farg[0];
    if (!x) return;
    if (s == 0.0) { /* the gradient is 0, but x.grad becomes zeros, not None, as torch */
        ag_accumulate_temp(node, 0,
                           ag_broadcast_to(ag_wrap_scalar(0, x->dtype), x->ndim, x->shape));
        return;
    }
    /* Anomaly mode checks each op's result on its own: then they run one by one. */
    if (!ag_is_anomaly_enabled() && g->dtype == x->dtype && ag_same_shape_inline(g, x))
        ag_accumulate_temp(node, 0, pow_scalar_grad(g, x, s));
    else
        ag_accumulate_temp(node, 0, ag_mul(g, ag_mul_scalar(ag_pow_scalar(x, s - 1.0), s)));
}

static const ag_op pow_scalar_op = {
    .name = "PowBackward0",
    .rule = "dx = g * s * x^(s-1)",
    .backward = pow_scalar_backward,
};

ag_tensor *ag_pow_scalar(ag_tensor *x, double s) {
    if (!ag_check_tensor("pow", x, "self") || !ag_check_floating("pow", x)) return NULL;
    return ag_unary_op(pow_scalar_kernel(s), &pow_scalar_op, x, (double[]){s}, 1, AG_SAVE_INPUT);
}

/* ---- a ^ b -------------------------------------------------------------------------------- */

AG_BINARY_KERNEL(pow_kernel, pow(a, b));
AG_BINARY_KERNEL(pow_dbase_kernel, b == 0 ? 0 : b * pow(a, b - 1));
AG_BINARY_KERNEL(pow_dexponent_kernel, a == 0 && b >= 0 ? 0 : pow(a, b) * log(a));

static void pow_backward(ag_node *node) {
    ag_tensor *a = ag_saved(node, 0), *b = ag_saved(node, 1);
    if (!a || !b) return;
    if (ag_needs_grad(node, 0))
        ag_accumulate_temp(node, 0,
                           ag_mul(node->grad, ag_binary_map("pow", &pow_dbase_kernel, a, b)));
    if (ag_needs_grad(node, 1))
        ag_accumulate_temp(node, 1,
                           ag_mul(node->grad, ag_binary_map("pow", &pow_dexponent_kernel, a, b)));
}

static const ag_op pow_op = {
    .name = "PowBackward1",
    .rule = "da = g * b * a^(b-1), db = g * a^b * ln(a)",
    .backward = pow_backward,
};

ag_tensor *ag_pow(ag_tensor *a, ag_tensor *b) {
    return ag_binary_op("pow", &pow_kernel, &pow_op, a, b, true); /* both saved */
}

ag_tensor *ag_rpow_scalar(double s, ag_tensor *x) {
    return ag_check_tensor("pow", x, "exponent") ? ag_pow(ag_wrap_scalar(s, x->dtype), x) : NULL;
}
