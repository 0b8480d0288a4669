/*
 * cross_entropy.c - the cross-entropy of logits against class indices: log_softmax, then
 * nll_loss.
 *
 *   forward:  out = nll_loss(log_softmax(input, class dim), target, reduction)
 *             input: (N, C) logits and target: (N), class dim 1; or input (C), target 0-d,
 *             class dim 0
 *   backward: dinput = (softmax(input) - onehot(target)) * g   (/ N for mean), through the
 *             two nodes: NllLossBackward0, then LogSoftmaxBackward0
 *
 * No backward of its own: torch composes cross_entropy the same way, so the result's grad_fn
 * is NllLossBackward0 and the graph is torch's, node for node. log_softmax keeps it exact for
 * logits far apart (1e4 gives no inf or NaN). The target must hold int64 class indices: the
 * class-probability targets torch also accepts (a floating target of input's shape), class
 * weights, ignore_index and label_smoothing are not here yet (see ops/nll_loss.c).
 */
#include "autograd/internal.h"

ag_tensor *ag_cross_entropy(ag_tensor *input, ag_tensor *target, ag_reduction reduction) {
    if (!ag_nll_loss_check("cross_entropy", input, target, reduction)) return NULL;
    ag_tensor *log_probs = ag_log_softmax(input, input->ndim == 1 ? 0 : 1);
    return log_probs ? ag_nll_loss(log_probs, target, reduction) : NULL;
}
