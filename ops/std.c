/*
 * std.c - the standard deviation of all elements, or along one dim, with Bessel's correction c.
 *
 *   forward:  out = sqrt(sum_k (x[k] - mean)^2 / max(0, N - c))   N elements, or size of dim
 *   backward: dx[k] += g (x[k] - mean) / ((N - c) out)            0 where out == 0
 * The backward is var's (ops/var.c) applied to g / (2 out): torch's std_backward, which sets
 * that to 0 where out == 0 (all elements equal) rather than dividing 0 by 0. N - c <= 0 behaves
 * as in var: inf or NaN forward, the signed N - c backward, and g * inf over everything when
 * N == c (where torch 1.13 fails its own shape check, see var.c).
 *
 * The forward is var's two-pass sum in double; the square root is taken in double too and
 * the result rounded once, as torch does. Both, the checks and var's gradient formula are in
 * ops/variance.c, shared with var.
 */
#include "ops/variance.h"

/* a = g, b = std: g / (2 std), and 0 where std == 0 (torch's masked_fill) */
AG_BINARY_KERNEL(std_share_kernel, b == 0 ? 0 : a / (b * 2));

static void std_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0), *out = ag_saved(node, 1);
    if (!x || !out) return;
    int dim = (int)node->iarg[0];
    bool keepdim = node->iarg[2];
    ag_tensor *gv = ag_binary_map("std_backward", &std_share_kernel,
                                  ag_variance_kept(node->grad, x, dim, keepdim),
                                  ag_variance_kept(out, x, dim, keepdim));
    ag_accumulate_temp(node, 0, gv ? ag_variance_grad(gv, x, dim, node->iarg[1]) : NULL);
}

static const ag_op std_op = {
    .name = "StdBackward0",
    .rule = "dx = g (x - mean) / ((N - correction) std), 0 where std == 0",
    .backward = std_backward,
};

static const ag_variance_kind std = {.name = "std", .root = true, .op = &std_op};

ag_tensor *ag_std(ag_tensor *x, int correction) {
    return ag_variance_reduce(&std, x, -1, true, correction, false);
}

ag_tensor *ag_std_dim(ag_tensor *x, int dim, int correction, bool keepdim) {
    return ag_variance_reduce(&std, x, dim, false, correction, keepdim);
}
