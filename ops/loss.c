/*
 * loss.c - the argument checks and the reduction that mse_loss and l1_loss share (see
 * ops/loss.h).
 */
#include "ops/loss.h"

bool ag_pointwise_loss_check(const char *op, const ag_tensor *input, const ag_tensor *target,
                             ag_reduction reduction) {
    if (!ag_check_tensor(op, input, "input") || !ag_check_tensor(op, target, "target"))
        return false;
    if (reduction != AG_REDUCTION_MEAN && reduction != AG_REDUCTION_SUM &&
        reduction != AG_REDUCTION_NONE) {
        AG_ERROR(op, "%d is not a valid value for reduction", (int)reduction);
        return false;
    }
    if (!ag_check_floating(op, input) || !ag_check_floating(op, target)) return false;
    int ndim;
    int64_t shape[AG_MAX_DIMS];
    return ag_broadcast_shape(op, input->ndim, input->shape, target->ndim, target->shape, &ndim,
                              shape);
}

ag_tensor *ag_apply_loss_reduction(ag_tensor *l, ag_reduction reduction) {
    if (!l || reduction == AG_REDUCTION_NONE) return l;
    return reduction == AG_REDUCTION_MEAN ? ag_mean(l) : ag_sum(l);
}
