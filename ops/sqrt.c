/*
 * sqrt.c - the square root, sqrt x.
 *
 *   forward:  y = sqrt x              x: any shape (sqrt of a negative = NaN)
 *   backward: dx += g / (2 y)         (x's shape; +inf at x = 0, as torch)
 * The output is saved, as torch's SqrtBackward0 saves it.
 */
#include "autograd/internal.h"

#include <tgmath.h>

AG_UNARY_KERNEL(sqrt_kernel, sqrt(x));
AG_BINARY_KERNEL(sqrt_grad_kernel, a / (2 * b)); /* a = g, b = y */

static void sqrt_backward(ag_node *node) {
    ag_tensor *y = ag_saved(node, 0);
    if (!y) return;
    ag_accumulate_temp(node, 0, ag_binary_map("sqrt_backward", &sqrt_grad_kernel, node->grad, y));
}

static const ag_op sqrt_op = {
    .name = "SqrtBackward0",
    .rule = "dx = g / (2 sqrt x)",
    .backward = sqrt_backward,
};

ag_tensor *ag_sqrt(ag_tensor *x) {
    if (!ag_check_tensor("sqrt", x, "self") || !ag_check_floating("sqrt", x)) return NULL;
    return ag_unary_op(&sqrt_kernel, &sqrt_op, x, NULL, 0, AG_SAVE_OUTPUT);
}
