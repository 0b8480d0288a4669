/*
 * gelu.c - the Gaussian error linear unit, exact (erf) form: x Phi(x).
 *
 *   forward:  y = x * 0.5 * (1 + erf(x / sqrt 2))                 x: any shape
 *   backward: dx += g * (Phi(x) + x * phi(x))                     (x's shape)
 *             Phi(x) = 0.5 * (1 + erf(x / sqrt 2)),  phi(x) = e^(-x^2 / 2) / sqrt(2 pi)
 * Both in torch's order of operations, with its constants rounded to x's precision.
 */
#include "autograd/internal.h"

#include <tgmath.h>

#define SQRT1_2 0.70710678118654752440  /* 1 / sqrt 2: torch's M_SQRT1_2 */
#define INV_SQRT_2PI 0.3989422804014327 /* torch's M_2_SQRTPI * M_SQRT1_2 * 0.5 */
/* a constant in the precision of v (float32 computes in float32, as torch) */
#define C(v, c) _Generic((v), float: (float)(c), default: (double)(c))

AG_UNARY_KERNEL(gelu_kernel, x * C(x, 0.5) * (1 + erf(x * C(x, SQRT1_2))));
/* a = g, b = x */
AG_BINARY_KERNEL(gelu_grad_kernel,
                 a * (C(b, 0.5) * (1 + erf(b * C(b, SQRT1_2))) +
                      b * (C(b, INV_SQRT_2PI) * exp(b * b * C(b, -0.5)))));

static void gelu_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0);
    if (!x) return;
    ag_accumulate_temp(node, 0, ag_binary_map("gelu_backward", &gelu_grad_kernel, node->grad, x));
}

static const ag_op gelu_op = {
    .name = "GeluBackward0",
    .rule = "dx = g * (Phi(x) + x * phi(x))",
    .backward = gelu_backward,
};

ag_tensor *ag_gelu(ag_tensor *x) {
    if (!ag_check_tensor("gelu", x, "self") || !ag_check_floating("gelu", x)) return NULL;
    return ag_unary_op(&gelu_kernel, &gelu_op, x, NULL, 0, AG_SAVE_INPUT);
}
