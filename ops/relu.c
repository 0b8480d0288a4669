/*
 * relu.c - the rectifier, max(x, 0).
 *
 *   forward:  y = x < 0 ? 0 : x       x: any shape (NaN and -0 pass through, as torch)
 *   backward: dx += y > 0 ? g : 0     (x's shape; relu'(0) = 0)
 * The output is saved, as torch's ReluBackward0 saves it (threshold_backward on the result):
 * y > 0 exactly where x > 0, and a NaN output lets g through as torch does.
 */
#include "autograd/internal.h"

AG_UNARY_KERNEL(relu_kernel, x < 0 ? 0 : x);
AG_BINARY_KERNEL(relu_grad_kernel, b <= 0 ? 0 : a); /* a = g, b = y */

static void relu_backward(ag_node *node) {
    ag_tensor *y = ag_saved(node, 0);
    if (!y) return;
    ag_accumulate_temp(node, 0, ag_binary_map("relu_backward", &relu_grad_kernel, node->grad, y));
}

static const ag_op relu_op = {
    .name = "ReluBackward0",
    .rule = "dx = g * [x > 0]",
    .backward = relu_backward,
};

ag_tensor *ag_relu(ag_tensor *x) {
    if (!ag_check_tensor("relu", x, "self") || !ag_check_floating("relu", x)) return NULL;
    return ag_unary_op(&relu_kernel, &relu_op, x, NULL, 0, AG_SAVE_OUTPUT);
}
