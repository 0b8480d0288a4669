/*
 * sigmoid.c - the logistic function, 1 / (1 + e^-x).
 *
 *   forward:  y = 1 / (1 + e^-x)      x: any shape; e^-x = inf gives 0, not NaN
 *   backward: dx += g * (1 - y) * y   (x's shape, in torch's order of operations)
 * The output is saved, as torch's SigmoidBackward0 saves it.
 */
#include "autograd/internal.h"

#include <tgmath.h>

AG_UNARY_KERNEL(sigmoid_kernel, 1 / (1 + exp(-x)));
AG_BINARY_KERNEL(sigmoid_grad_kernel, a * (1 - b) * b); /* a = g, b = y */

static void sigmoid_backward(ag_node *node) {
    ag_tensor *y = ag_saved(node, 0);
    if (!y) return;
    ag_accumulate_temp(node, 0, ag_binary_map("sigmoid_backward", &sigmoid_grad_kernel, node->grad, y));
}

static const ag_op sigmoid_op = {
    .name = "SigmoidBackward0",
    .rule = "dx = g * (1 - sigmoid(x)) * sigmoid(x)",
    .backward = sigmoid_backward,
};

ag_tensor *ag_sigmoid(ag_tensor *x) {
    if (!ag_check_tensor("sigmoid", x, "self") || !ag_check_floating("sigmoid", x)) return NULL;
    return ag_unary_op(&sigmoid_kernel, &sigmoid_op, x, NULL, 0, AG_SAVE_OUTPUT);
}
