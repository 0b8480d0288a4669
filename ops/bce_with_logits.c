/*
 * bce_with_logits.c - binary cross-entropy on logits: the loss of sigmoid(input) against
 * targets in [0, 1], computed without ever forming sigmoid(input).
 *
 *   forward:  l = (1 - t) x + log(1 + e^-x)               x = input, t = target, same shape
 *               = (1 - t) x + m + log(e^-m + e^(-x - m))  m = max(-x, 0), as torch 1.13
 *             out = mean(l) (0-d) | sum(l) (0-d) | l      by reduction
 *   backward: dinput  += (sigmoid(x) - t) * g             (/ numel for mean)
 *             dtarget += -x * g                           (/ numel for mean)
 * With m, neither exponent is ever positive, so logits of +-100 or 1e4 give finite losses
 * (x = -1e4, t = 0 gives 0, x = 1e4, t = 0 gives 1e4) where the naive log(sigmoid) would give
 * inf. torch 1.13 gives the target a gradient too (binary_cross_entropy_with_logits_target_
 * backward), and so do we. Unlike mse_loss, torch requires equal shapes here; no weight or
 * pos_weight yet. float32 with float64 computes in float64, as torch.
 */
#include "autograd/internal.h"

#include <tgmath.h>

/* a = x, b = t; each step rounded in the tensor's precision, in torch's order */
AG_BINARY_KERNEL(bce_kernel, (1 - b) * a + (a < 0 ? -a : 0) +
                                 log(exp(-(a < 0 ? -a : 0)) + exp(-a - (a < 0 ? -a : 0))));
AG_BINARY_KERNEL(bce_dinput_kernel, 1 / (1 + exp(-a)) - b);

static ag_dtype loss_dtype(const ag_tensor *a, const ag_tensor *b) {
    return a->dtype == b->dtype ? a->dtype : AG_FLOAT64;
}

static void bce_with_logits_backward(ag_node *node) {
    ag_tensor *input = ag_saved(node, 0), *target = ag_saved(node, 1);
    if (!input || !target) return;
    ag_dtype dtype = loss_dtype(input, target);
    ag_tensor *x = ag_cast(input, dtype), *t = ag_cast(target, dtype);
    if (!x || !t) return;
    double n = node->iarg[0] == AG_REDUCTION_MEAN ? (double)x->numel : 1.0;
    if (ag_needs_grad(node, 0)) {
        ag_tensor *d = ag_mul(
            ag_binary_map("binary_cross_entropy_with_logits_backward", &bce_dinput_kernel, x, t),
            node->grad);
        ag_accumulate_temp(node, 0, d && n != 1.0 ? ag_div_scalar(d, n) : d);
    }
    if (ag_needs_grad(node, 1)) {
        ag_tensor *d = ag_mul(ag_neg(x), node->grad);
        ag_accumulate_temp(node, 1, d && n != 1.0 ? ag_div_scalar(d, n) : d);
    }
}

static const ag_op bce_with_logits_op = {
    .name = "BinaryCrossEntropyWithLogitsBackward0",
    .rule = "dinput = (sigmoid(x) - t) * g, dtarget = -x * g",
    .backward = bce_with_logits_backward,
};

ag_tensor *ag_binary_cross_entropy_with_logits(ag_tensor *input, ag_tensor *target,
                                               ag_reduction reduction) {
    const char *op = "binary_cross_entropy_with_logits";
    char s1[AG_SHAPE_STR], s2[AG_SHAPE_STR];
    if (!ag_check_tensor(op, input, "input") || !ag_check_tensor(op, target, "target")) return NULL;
    if (reduction != AG_REDUCTION_MEAN && reduction != AG_REDUCTION_SUM &&
        reduction != AG_REDUCTION_NONE) {
        AG_ERROR(op, "%d is not a valid value for reduction", (int)reduction);
        return NULL;
    }
    if (!ag_same_shape(input, target)) {
        AG_ERROR(op, "Target size (torch.Size(%s)) must be the same as input size (torch.Size(%s))",
                 ag_shape_str(s1, target->ndim, target->shape),
                 ag_shape_str(s2, input->ndim, input->shape));
        return NULL;
    }
    if (!ag_check_floating(op, input) || !ag_check_floating(op, target)) return NULL;
    ag_dtype dtype = loss_dtype(input, target);
    ag_tensor *x = ag_cast(input, dtype), *t = ag_cast(target, dtype);
    ag_tensor *l = x && t ? ag_binary_map(op, &bce_kernel, x, t) : NULL;
    if (!l) return NULL;
    ag_tensor *out = reduction == AG_REDUCTION_NONE   ? l
                     : reduction == AG_REDUCTION_MEAN ? ag_mean(l)
                                                      : ag_sum(l);
    ag_node *node = ag_record(&bce_with_logits_op, out, 2, (ag_tensor *[]){input, target});
    if (node) {
        node->iarg[0] = reduction;
        ag_save(node, input);
        ag_save(node, target);
    }
    return out;
}
