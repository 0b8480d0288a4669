/*
 * neg.c - negation, -x.
 *
 *   forward:  out = -x
 *   backward: dx += -g
 */
#include "autograd/internal.h"

AG_UNARY_KERNEL(neg_kernel, -x);

static void neg_backward(ag_node *node) { ag_accumulate_temp(node, 0, ag_neg(node->grad)); }

static const ag_op neg_op = {
    .name = "NegBackward0",
    .rule = "dx = -g",
    .backward = neg_backward,
};

ag_tensor *ag_neg(ag_tensor *x) {
    if (!ag_check_tensor("neg", x, "self") || !ag_check_floating("neg", x)) return NULL;
    return ag_unary_op(&neg_kernel, &neg_op, x, NULL, 0, AG_SAVE_NOTHING);
}
