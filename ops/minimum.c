/*
 * minimum.c - the elementwise minimum of two tensors, min(a, b).
 *
 *   forward:  out = min(a, b)            a, b broadcast to out's shape; NaN if either is NaN
 *   backward: da += g where a < b, g / 2 where a == b, 0 where a > b     summed to a's shape
 *             db += g where b < a, g / 2 where a == b, 0 where b > a     summed to b's shape
 * Ties split g evenly, torch 1.13's rule; where one is NaN both receive g, as in torch.
 */
#include "autograd/internal.h"

AG_BINARY_KERNEL(minimum_kernel, a != a ? a : b != b ? b : b < a ? b : a); /* std::min, as torch */
/* the share of g that a (and, with a and b swapped, b) receives: 1, 1/2 or 0 */
AG_BINARY_KERNEL(minimum_share_kernel, a == b ? 0.5 : a > b ? 0 : 1);
/* a = g, b = share: exactly g, g / 2 or 0 (never g * 0, which is NaN for an infinite g) */
AG_BINARY_KERNEL(share_kernel, b == 1 ? a : b == 0 ? 0 : a / 2);

static void minimum_backward(ag_node *node) {
    ag_tensor *a = ag_saved(node, 0), *b = ag_saved(node, 1);
    if (!a || !b) return;
    const char *op = "minimum_backward";
    if (ag_needs_grad(node, 0))
        ag_accumulate_temp(node, 0,
                      ag_binary_map(op, &share_kernel, node->grad,
                                    ag_binary_map(op, &minimum_share_kernel, a, b)));
    if (ag_needs_grad(node, 1))
        ag_accumulate_temp(node, 1,
                      ag_binary_map(op, &share_kernel, node->grad,
                                    ag_binary_map(op, &minimum_share_kernel, b, a)));
}

static const ag_op minimum_op = {
    .name = "MinimumBackward0",
    .rule = "da = g [a < b] + g/2 [a == b], db = g [b < a] + g/2 [a == b]",
    .backward = minimum_backward,
};

ag_tensor *ag_minimum(ag_tensor *a, ag_tensor *b) {
    return ag_binary_op("minimum", &minimum_kernel, &minimum_op, a, b, true); /* both saved */
}
