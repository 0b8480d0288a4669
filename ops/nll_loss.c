/*
 * nll_loss.c - the negative log likelihood loss: minus the log-probability of the right class.
 *
 *   forward:  l[n] = -input[n, target[n]]         input: (N, C) log-probabilities, target: (N)
 *             out = mean(l) (0-d) | sum(l) (0-d) | l (N)     by reduction
 *   backward: dinput[n, target[n]] += -g[n]       (-g / N for mean, -g for sum); 0 elsewhere
 * Also one sample without the batch dim: input (C) and a 0-d target give a 0-d l.
 *
 * target holds class indices in [0, C), int64 or uint8 (torch 1.13 takes both: Fashion-MNIST's
 * labels are bytes), and takes no gradient; it is saved (a change to
 * it in place before backward is reported). The mean divides by N, the number of targets: the
 * options that change that are not here yet (no class weights, no ignore_index, so torch's
 * default ignore_index -100 is reported out of bounds), nor (N, C, d1, ...) inputs (torch's
 * NllLoss2dBackward0). ops/cross_entropy.c feeds it log_softmax(logits), and shares the
 * checks below (ag_nll_loss_check) so that it reports bad input before computing anything.
 */
#include "autograd/internal.h"

/* Class index n of target (int64 or uint8). */
static inline int64_t target_at(const ag_tensor *target, int64_t n) {
    return target->dtype == AG_UINT8 ? (int64_t)AG_U8(target)[n] : AG_I64(target)[n];
}

/* Checks nll_loss's (and cross_entropy's) arguments, reporting in torch's words as op. */
bool ag_nll_loss_check(const char *op, const ag_tensor *input, const ag_tensor *target,
                       ag_reduction reduction) {
    char s1[AG_SHAPE_STR], s2[AG_SHAPE_STR];
    if (!ag_check_tensor(op, input, "input") || !ag_check_tensor(op, target, "target"))
        return false;
    if (reduction != AG_REDUCTION_MEAN && reduction != AG_REDUCTION_SUM &&
        reduction != AG_REDUCTION_NONE) {
        AG_ERROR(op, "%d is not a valid value for reduction", (int)reduction);
        return false;
    }
    if (!ag_check_floating(op, input)) return false;
    if (input->ndim < 1) {
        AG_ERROR(op, "Expected 1 or more dimensions (got %d)", input->ndim);
        return false;
    }
    /* torch reads a 0-d target's batch size as 0 here */
    int64_t target_batch = target->ndim ? target->shape[0] : 0;
    if (input->ndim >= 2 && input->shape[0] != target_batch) {
        AG_ERROR(op, "Expected input batch_size (%lld) to match target batch_size (%lld).",
                 (long long)input->shape[0], (long long)target_batch);
        return false;
    }
    if (input->ndim > 2) {
        AG_ERROR(op, "input tensor should be 1D or 2D");
        return false;
    }
    if (target->ndim > 1) {
        AG_ERROR(op, "0D or 1D target tensor expected, multi-target not supported");
        return false;
    }
    if (input->ndim == 1 && target->ndim != 0) {
        AG_ERROR(op, "size mismatch (got input: %s, target: %s)",
                 ag_shape_str(s1, input->ndim, input->shape),
                 ag_shape_str(s2, target->ndim, target->shape));
        return false;
    }
    if (target->dtype != AG_INT64 && target->dtype != AG_UINT8) {
        AG_ERROR(op, "expected scalar type Long but found %s", ag_scalar_type_name(target->dtype));
        return false;
    }
    int64_t classes = input->shape[input->ndim - 1];
    for (int64_t n = 0; n < target->numel; n++) {
        int64_t t = target_at(target, n);
        if (t < 0 || t >= classes) {
            AG_ERROR(op, "Target %lld is out of bounds.", (long long)t);
            return false;
        }
    }
    return true;
}

/* l[n] = -input[n, target[n]] for the N = numel(target) rows of C classes */
static void nll_forward(const ag_tensor *input, const ag_tensor *target, ag_tensor *l) {
    int64_t classes = input->shape[input->ndim - 1];
    for (int64_t n = 0; n < target->numel; n++) {
        int64_t at = n * classes + target_at(target, n);
        if (input->dtype == AG_FLOAT32)
            AG_F32(l)[n] = -AG_F32(input)[at];
        else
            AG_F64(l)[n] = -AG_F64(input)[at];
    }
}

static void nll_loss_backward(ag_node *node) {
    ag_tensor *target = ag_saved(node, 0);
    const ag_tensor *input = node->inputs[0];
    if (!target || !ag_needs_grad(node, 0)) return;
    ag_tensor *g = ag_cast(node->grad, input->dtype), *dinput =
        ag_result_zeros(input->dtype, input->ndim, input->shape);
    if (!g || !dinput) return;
    ag_reduction reduction = (ag_reduction)node->iarg[0];
    int64_t classes = input->shape[input->ndim - 1], n_targets = target->numel;
    for (int64_t n = 0; n < n_targets; n++) {
        int64_t at = n * classes + target_at(target, n);
        int64_t gi = reduction == AG_REDUCTION_NONE ? n : 0; /* g: (N), or 0-d */
        if (input->dtype == AG_FLOAT32) {
            float v = -AG_F32(g)[gi];
            AG_F32(dinput)[at] = reduction == AG_REDUCTION_MEAN ? v / (float)n_targets : v;
        } else {
            double v = -AG_F64(g)[gi];
            AG_F64(dinput)[at] = reduction == AG_REDUCTION_MEAN ? v / (double)n_targets : v;
        }
    }
    ag_accumulate_temp(node, 0, dinput);
}

static const ag_op nll_loss_op = {
    .name = "NllLossBackward0",
    .rule = "dinput[n, target[n]] = -g[n] (/ N for mean)",
    .backward = nll_loss_backward,
};

ag_tensor *ag_nll_loss(ag_tensor *input, ag_tensor *target, ag_reduction reduction) {
    if (!ag_nll_loss_check("nll_loss", input, target, reduction)) return NULL;
    /* l: (N) for a batch, 0-d for one sample */
    ag_tensor *l = ag_result_shaped(input->dtype, target);
    if (!l) return NULL;
    nll_forward(input, target, l);
    ag_tensor *out = reduction == AG_REDUCTION_NONE   ? l
                     : reduction == AG_REDUCTION_MEAN ? ag_mean(l)
                                                      : ag_sum(l);
    ag_node *node = ag_record(&nll_loss_op, out, 1, &input);
    if (node) {
        node->iarg[0] = reduction;
        ag_save(node, target);
    }
    return out;
}
