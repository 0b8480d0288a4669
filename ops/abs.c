/*
 * abs.c - the absolute value, |x|.
 *
 *   forward:  y = |x|                 x: any shape
 *   backward: dx += g * sign(x)       (x's shape; sign(0) = sign(NaN) = 0, as torch's sgn)
 */
#include "autograd/internal.h"

#include <tgmath.h>

AG_UNARY_KERNEL(abs_kernel, fabs(x));
/* a = g, b = x: g * sign(x), a product as torch computes it (so inf * 0 is NaN there too) */
AG_BINARY_KERNEL(abs_grad_kernel, a * (b > 0 ? 1 : b < 0 ? -1 : 0));

static void abs_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0);
    if (!x) return;
    ag_accumulate_temp(node, 0, ag_binary_map("abs_backward", &abs_grad_kernel, node->grad, x));
}

static const ag_op abs_op = {
    .name = "AbsBackward0",
    .rule = "dx = g * sign(x)",
    .backward = abs_backward,
};

ag_tensor *ag_abs(ag_tensor *x) {
    if (!ag_check_tensor("abs", x, "self") || !ag_check_floating("abs", x)) return NULL;
    return ag_unary_op(&abs_kernel, &abs_op, x, NULL, 0, AG_SAVE_INPUT);
}
