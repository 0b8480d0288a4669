/*
 * tanh.c - the hyperbolic tangent, tanh x.
 *
 *   forward:  y = tanh x              x: any shape
 *   backward: dx += g * (1 - y^2)     (x's shape)
 * The output is saved, as torch's TanhBackward0 saves it.
 */
#include "autograd/internal.h"

#include <tgmath.h>

AG_UNARY_KERNEL(tanh_kernel, tanh(x));
AG_BINARY_KERNEL(tanh_grad_kernel, a * (1 - b * b)); /* a = g, b = y */

static void tanh_backward(ag_node *node) {
    ag_tensor *y = ag_saved(node, 0);
    if (!y) return;
    ag_accumulate_temp(node, 0, ag_binary_map("tanh_backward", &tanh_grad_kernel, node->grad, y));
}

static const ag_op tanh_op = {
    .name = "TanhBackward0",
    .rule = "dx = g * (1 - tanh(x)^2)",
    .backward = tanh_backward,
};

ag_tensor *ag_tanh(ag_tensor *x) {
    if (!ag_check_tensor("tanh", x, "self") || !ag_check_floating("tanh", x)) return NULL;
    return ag_unary_op(&tanh_kernel, &tanh_op, x, NULL, 0, AG_SAVE_OUTPUT);
}
