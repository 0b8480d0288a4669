/*
 * div.c - division, a / b, its scalar and in-place forms, and s / x.
 *
 *   forward:  out = a / b            a, b broadcast to out's shape
 *   backward: da += g / b            summed back to a's shape
 *             db += -g * a / b^2
 *   s / x is recorded as torch records it, as s * x^-1 (MulBackward0 of a PowBackward0).
 */
#include "autograd/internal.h"

AG_BINARY_KERNEL(div_kernel, a / b);
AG_BINARY_KERNEL(div_dden_kernel, -a / (b * b));

static void div_backward(ag_node *node) {
    ag_tensor *a = ag_saved(node, 0), *b = ag_saved(node, 1);
    if (!a || !b) return;
    if (ag_needs_grad(node, 0)) ag_accumulate_temp(node, 0, ag_div(node->grad, b));
    if (ag_needs_grad(node, 1))
        ag_accumulate_temp(node, 1,
                           ag_mul(node->grad, ag_binary_map("div", &div_dden_kernel, a, b)));
}

static const ag_op div_op = {
    .name = "DivBackward0",
    .rule = "da = g / b, db = -g * a / b^2",
    .backward = div_backward,
};

ag_tensor *ag_div(ag_tensor *a, ag_tensor *b) {
    return ag_binary_op("div", &div_kernel, &div_op, a, b, true); /* both saved */
}

ag_tensor *ag_div_scalar(ag_tensor *x, double s) {
    if (!ag_check_tensor("div", x, "self")) return NULL;
    /* s as a 0-d tensor, made only for the record: the graph shows it as an input, as torch's */
    return ag_scalar_op("div", &div_kernel, &div_op, x, s, true);
}

ag_tensor *ag_rdiv_scalar(double s, ag_tensor *x) {
    return ag_check_tensor("div", x, "self") ? ag_mul_scalar(ag_pow_scalar(x, -1.0), s) : NULL;
}

ag_tensor *ag_div_(ag_tensor *t, ag_tensor *other) {
    return ag_inplace_elementwise("div_", t, other, &div_kernel, ag_div);
}

ag_tensor *ag_div_scalar_(ag_tensor *t, double s) {
    if (!ag_check_tensor("div_", t, "self")) return NULL;
    return ag_inplace_elementwise("div_", t, ag_wrap_scalar(s, t->dtype), &div_kernel, ag_div);
}
