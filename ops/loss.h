/*
 * loss.h - what the pointwise losses share: mse_loss.c and l1_loss.c check their arguments
 * the same way, in the same order, and reduce the same way (ops/loss.c).
 *
 * Both take (input, target, reduction), broadcast input against target, compute a loss per
 * element, and then keep, average or sum it. Only the per-element loss and the graph differ
 * (mse records one node, l1 is composed of other ops, each as torch 1.13 does).
 */
#ifndef AG_OPS_LOSS_H
#define AG_OPS_LOSS_H

#include "autograd/internal.h"

/* The checks of a pointwise loss, in torch's order and words, each naming op: input and
 * target are tensors, reduction is mean, sum or none, both are floating, and their shapes
 * broadcast. Reports and returns false on the first that fails. */
bool ag_pointwise_loss_check(const char *op, const ag_tensor *input, const ag_tensor *target,
                             ag_reduction reduction);

/* torch's apply_loss_reduction: l itself for none, else ag_mean(l) or ag_sum(l) (0-d; a node
 * if l requires grad). NULL for a NULL l. */
ag_tensor *ag_apply_loss_reduction(ag_tensor *l, ag_reduction reduction);

#endif
