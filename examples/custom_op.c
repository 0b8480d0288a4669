/*
 * custom_op.c - writing your own differentiable op: swish(x) = x * sigmoid(x).
 *
 * As a torch.autograd.Function: a forward that computes the output (and saves what backward
 * will need on its context), a backward that turns the output's gradient into the input's.
 * ag_apply records the pair as ONE node, named as you choose; ag_gradcheck then compares
 * your backward with central finite differences, entry by entry of the Jacobian.
 *
 *     d/dx [x s(x)] = s(x) + x s(x) (1 - s(x)),   s = sigmoid
 */
#include "autograd/autograd.h"

#include <stdio.h>

static ag_tensor *swish_forward(ag_ctx *ctx, ag_tensor *const *inputs, int n) {
    (void)n;
    ag_ctx_save(ctx, inputs[0]); /* backward needs x */
    return ag_mul(inputs[0], ag_sigmoid(inputs[0]));
}

static void swish_backward(ag_ctx *ctx, ag_tensor *g, ag_tensor **grad_inputs, int n) {
    (void)n;
    ag_tensor *x = ag_ctx_saved(ctx, 0);
    ag_tensor *s = ag_sigmoid(x);
    ag_tensor *local = ag_add(s, ag_mul(x, ag_mul(s, ag_rsub_scalar(1, s))));
    grad_inputs[0] = ag_mul(g, local);
}

static const ag_custom_op swish = {
    .name = "SwishBackward",
    .rule = "dx = g (s + x s (1 - s))",
    .forward = swish_forward,
    .backward = swish_backward,
};

static ag_tensor *swish_of(ag_tensor *const *inputs, void *ctx) {
    (void)ctx;
    return ag_apply(&swish, inputs, 1);
}

int main(void) {
    ag_tensor *x = ag_set_name(
        ag_requires_grad_(ag_from_data((const double[]){-2, -0.5, 0, 1.5, 3}, AG_FLOAT64,
                                       AG_SHAPE(5)),
                          true),
        "x");
    ag_tensor *y = swish_of(&x, NULL);
    printf("y = swish(x):   ");
    ag_print(y);
    printf("recorded as one node: %s\n", ag_grad_fn_name(y));

    ag_backward(ag_sum(y));
    printf("dy/dx (backward): ");
    ag_print(x->grad);

    ag_gradcheck_report report;
    bool ok = ag_gradcheck(swish_of, NULL, &x, 1, 1e-6, 1e-5, 1e-3, &report);
    printf("%s\n", report.message);
    ag_tape_reset(NULL);
    ag_tensor_free(x);
    return ok ? 0 : 1;
}
