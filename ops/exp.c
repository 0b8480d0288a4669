/*
 * exp.c - the exponential, e^x.
 *
 *   forward:  y = e^x                 x: any shape, y: x's shape
 *   backward: dx += g * y             (x's shape)
 * The output is saved, not the input: e^x is its own derivative, as torch's ExpBackward0.
 */
#include "autograd/internal.h"

#include <tgmath.h>

AG_UNARY_KERNEL(exp_kernel, exp(x));
AG_BINARY_KERNEL(exp_grad_kernel, a * b); /* a = g, b = y */

static void exp_backward(ag_node *node) {
    ag_tensor *y = ag_saved(node, 0);
    if (!y) return;
    ag_accumulate_temp(node, 0, ag_binary_map("exp_backward", &exp_grad_kernel, node->grad, y));
}

static const ag_op exp_op = {
    .name = "ExpBackward0",
    .rule = "dx = g * e^x",
    .backward = exp_backward,
};

ag_tensor *ag_exp(ag_tensor *x) {
    if (!ag_check_tensor("exp", x, "self") || !ag_check_floating("exp", x)) return NULL;
    return ag_unary_op(&exp_kernel, &exp_op, x, NULL, 0, AG_SAVE_OUTPUT);
}
