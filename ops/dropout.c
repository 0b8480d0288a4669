/*
 * dropout.c - F.dropout, made of an op that exists: x times a random mask. Like sub in
 * micrograd, it needs no backward of its own; its node is mul's, MulBackward0, which is the
 * grad_fn torch 1.13 shows for dropout on the CPU (its fused native_dropout is GPU-only).
 *
 *   training:  mask[i] = [u[i] < 1 - p] / (1 - p)      u[i] uniform on [0, 1)
 *   forward:   out = x * mask                          x: any shape, mask: x's shape
 *   backward:  dx = g * mask                           (mul's backward)
 *   p = 1:     out = x * 0 (a 0-d zero), as torch; evaluation, p = 0 or an empty x: x itself
 *
 * The draws are torch's: noise.bernoulli_(1 - p) on the CPU takes, per element in order, one
 * 64-bit draw as a double uniform on [0, 1) (53 bits) and keeps the element if it is below
 * 1 - p; ag_rand(g, AG_FLOAT64, ...) makes exactly those doubles. Then noise.div_(1 - p)
 * divides in x's precision, so a kept element is scaled by 1 / (T)(1 - p).
 */
#include "autograd/internal.h"
#include "ops/nn_ops.h"

ag_tensor *ag_dropout(ag_tensor *input, double p, bool training, ag_generator *g) {
    const char *op = "dropout";
    ag_tensor *x = input;
    if (!ag_check_tensor(op, x, "input")) return NULL;
    if (!(p >= 0 && p <= 1)) {
        AG_ERROR(op, "dropout probability has to be between 0 and 1, but got %g", p);
        return NULL;
    }
    if (!ag_check_floating(op, x)) return NULL;
    if (!training || p == 0 || x->numel == 0) return x;
    if (p == 1) return ag_mul(x, ag_wrap_scalar(0.0, x->dtype));

    ag_tensor *u = ag_rand(g, AG_FLOAT64, x->ndim, x->shape); /* yours: freed below */
    ag_tensor *mask = u ? ag_result_like(x) : NULL;
    if (!mask) {
        ag_tensor_free(u);
        return NULL;
    }
    double keep = 1 - p;
    for (int64_t i = 0; i < x->numel; i++) {
        bool kept = AG_F64(u)[i] < keep;
        if (x->dtype == AG_FLOAT32)
            AG_F32(mask)[i] = (kept ? 1.0f : 0.0f) / (float)keep;
        else
            AG_F64(mask)[i] = (kept ? 1.0 : 0.0) / keep;
    }
    ag_tensor_free(u);
    return ag_mul(x, mask);
}
