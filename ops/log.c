/*
 * log.c - the natural logarithm, ln x.
 *
 *   forward:  y = ln x                x: any shape (ln 0 = -inf, ln of a negative = NaN)
 *   backward: dx += g / x             (x's shape)
 */
#include "autograd/internal.h"

#include <tgmath.h>

AG_UNARY_KERNEL(log_kernel, log(x));
AG_BINARY_KERNEL(log_grad_kernel, a / b); /* a = g, b = x */

static void log_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0);
    if (!x) return;
    ag_accumulate_temp(node, 0, ag_binary_map("log_backward", &log_grad_kernel, node->grad, x));
}

static const ag_op log_op = {
    .name = "LogBackward0",
    .rule = "dx = g / x",
    .backward = log_backward,
};

ag_tensor *ag_log(ag_tensor *x) {
    if (!ag_check_tensor("log", x, "self") || !ag_check_floating("log", x)) return NULL;
    return ag_unary_op(&log_kernel, &log_op, x, NULL, 0, AG_SAVE_INPUT);
}
