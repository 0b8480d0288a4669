/*
 * mse_loss.c - the mean squared error, (input - target)^2, averaged, summed, or kept.
 *
 *   forward:  l = (input - target)^2                  input, target broadcast to l's shape
 *             out = mean(l) (0-d) | sum(l) (0-d) | l  by reduction
 *   backward: dinput  += norm * (input - target) * g  norm = 2 / numel(l) for mean, else 2
 *             dtarget += -norm * (input - target) * g (the target may require grad too)
 * Both are summed back to their own shapes where they were broadcast.
 *
 * Shapes: torch 1.13's F.mse_loss broadcasts input and target when their sizes differ, after
 * warning "Using a target size (...) that is different to the input size (...). This will
 * likely lead to incorrect results due to broadcasting." We broadcast the same way and give
 * the same numbers, but have no warning channel: check your shapes ((N, 1) against (N) makes
 * (N, N)). Sizes that cannot broadcast are an error in torch's words. float32 with float64
 * computes in float64 (torch broadcasts first, so even a 0-d float64 promotes). One node,
 * MseLossBackward0, for every reduction, as torch. The argument checks and the reduction are
 * l1_loss's too (ops/loss.c).
 */
#include "ops/loss.h"

AG_BINARY_KERNEL(mse_kernel, (a - b) * (a - b));

/* The dtype torch computes a loss of two floating tensors in: float64 if either is. */
static ag_dtype loss_dtype(const ag_tensor *a, const ag_tensor *b) {
    return a->dtype == b->dtype ? a->dtype : AG_FLOAT64;
}

static void mse_loss_backward(ag_node *node) {
    ag_tensor *input = ag_saved(node, 0), *target = ag_saved(node, 1);
    if (!input || !target) return;
    ag_dtype dtype = loss_dtype(input, target);
    ag_tensor *diff = ag_sub(ag_cast(input, dtype), ag_cast(target, dtype));
    ag_tensor *dinput = diff ? ag_mul(ag_mul_scalar(diff, node->farg[0]), node->grad) : NULL;
    if (!dinput) return;
    if (ag_needs_grad(node, 0)) ag_accumulate(node, 0, dinput);
    if (ag_needs_grad(node, 1)) ag_accumulate(node, 1, ag_neg(dinput));
}

static const ag_op mse_loss_op = {
    .name = "MseLossBackward0",
    .rule = "dinput = norm * (input - target) * g, dtarget = -dinput",
    .backward = mse_loss_backward,
};

ag_tensor *ag_mse_loss(ag_tensor *input, ag_tensor *target, ag_reduction reduction) {
    const char *op = "mse_loss";
    if (!ag_pointwise_loss_check(op, input, target, reduction)) return NULL;
    ag_dtype dtype = loss_dtype(input, target);
    ag_tensor *a = ag_cast(input, dtype), *b = ag_cast(target, dtype);
    ag_tensor *l = a && b ? ag_binary_map(op, &mse_kernel, a, b) : NULL;
    if (!l) return NULL;
    /* l requires no grad, so ag_mean and ag_sum record nothing: they only reduce */
    ag_tensor *out = ag_apply_loss_reduction(l, reduction);
    ag_node *node = ag_record(&mse_loss_op, out, 2, (ag_tensor *[]){input, target});
    if (node) {
        node->farg[0] = reduction == AG_REDUCTION_MEAN ? 2.0 / (double)l->numel : 2.0;
        ag_save(node, input);
        ag_save(node, target);
    }
    return out;
}
