/*
 * var.c - the variance of all elements, or along one dim, with Bessel's correction c.
 *
 *   forward:  out = sum_k (x[k] - mean)^2 / max(0, N - c)     N elements, or N = size of dim
 *   backward: dx[k] += g * 2 (x[k] - mean) / (N - c)          g (and mean) kept along dim
 * c = 1 is torch's default (unbiased), c = 0 the population variance. When N - c <= 0 the
 * forward divides by 0, giving inf, or NaN where every deviation is 0 (torch, no warning); the
 * backward keeps the signed N - c, as torch does, so N - c < 0 gives finite gradients.
 *
 * Over everything with N == c, torch 1.13's backward is g * inf (the "2 / 0" of the formula,
 * without the deviations): it delivers that for a 0-d x, and fails its own shape check for
 * larger x ("VarBackward0 returned an invalid gradient"); here every element receives g * inf.
 * A 0-d x takes that path for var_dim too, as in torch.
 *
 * The forward (two passes in double), the checks and the gradient formula are shared with std
 * (ops/std.c), which is their square root: they are in ops/variance.c.
 */
#include "ops/variance.h"

static void var_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0);
    if (!x) return;
    int dim = (int)node->iarg[0];
    ag_tensor *g = ag_variance_kept(node->grad, x, dim, node->iarg[2]);
    ag_accumulate_temp(node, 0, ag_variance_grad(g, x, dim, node->iarg[1]));
}

static const ag_op var_op = {
    .name = "VarBackward0",
    .rule = "dx = g * 2 (x - mean) / (N - correction)",
    .backward = var_backward,
};

static const ag_variance_kind var = {.name = "var", .root = false, .op = &var_op};

ag_tensor *ag_var(ag_tensor *x, int correction) {
    return ag_variance_reduce(&var, x, -1, true, correction, false);
}

ag_tensor *ag_var_dim(ag_tensor *x, int dim, int correction, bool keepdim) {
    return ag_variance_reduce(&var, x, dim, false, correction, keepdim);
}
