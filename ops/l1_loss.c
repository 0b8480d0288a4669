/*
 * l1_loss.c - the mean absolute error, |input - target|, averaged, summed, or kept.
 *
 *   forward:  l = |input - target|                    input, target broadcast to l's shape
 *             out = mean(l) (0-d) | sum(l) (0-d) | l  by reduction
 *   backward: dinput  += sign(input - target) * g     (/ numel(l) for mean; sign(0) = 0)
 *             dtarget += -sign(input - target) * g
 *
 * No backward of its own: torch 1.13 builds l1_loss from other ops (at::l1_loss is
 * `apply_loss_reduction((input - target).abs(), reduction)`), and so do we, from ag_sub,
 * ag_abs and ag_mean / ag_sum. The graph is torch's: the final node is MeanBackward0,
 * SumBackward0 or AbsBackward0 (reduction none), fed by AbsBackward0 and SubBackward0.
 * Where input - target is 0 the gradient is 0, as abs's sign(0) = 0 makes it.
 *
 * Shapes broadcast as in mse_loss (torch warns there; we cannot: see ops/mse_loss.c).
 * float32 with float64 computes in float64, even with a 0-d operand (torch broadcasts before
 * subtracting, so nothing is 0-d by then; ag_sub alone would keep a 0-d float64 from
 * promoting): the float32 one is converted first, which adds a ToCopyBackward0 node.
 * The argument checks and the final reduction are mse_loss's too (ops/loss.c).
 */
#include "ops/loss.h"

ag_tensor *ag_l1_loss(ag_tensor *input, ag_tensor *target, ag_reduction reduction) {
    if (!ag_pointwise_loss_check("l1_loss", input, target, reduction)) return NULL;
    if (input->dtype != target->dtype) {
        input = ag_to(input, AG_FLOAT64);
        target = input ? ag_to(target, AG_FLOAT64) : NULL;
        if (!target) return NULL;
    }
    ag_tensor *diff = ag_sub(input, target);
    return ag_apply_loss_reduction(diff ? ag_abs(diff) : NULL, reduction);
}
