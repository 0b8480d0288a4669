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

/* The second half of ag_div: records out = a / b, saving both. */
static ag_tensor *record(ag_tensor *out, ag_tensor *a, ag_tensor *b) {
    ag_node *node = ag_record(&div_op, out, 2, (ag_tensor *[]){a, b});
    ag_save(node, a);
    ag_save(node, b);
    return out;
}

ag_tensor *ag_div(ag_tensor *a, ag_tensor *b) {
    return record(ag_binary_map("div", &div_kernel, a, b), a, b);
}

ag_tensor *ag_div_scalar(ag_tensor *x, double s) {
    if (!ag_check_tensor("div", x, "self")) return NULL;
    ag_tensor *out = ag_binary_map_scalar("div", &div_kernel, x, s);
    if (!out || !ag_record_needed(x, NULL)) return out;
    /* s as a 0-d tensor, only for the record: the graph shows it as an input, as torch's */
    ag_tensor *number = ag_wrap_scalar(s, x->dtype);
    return number ? record(out, x, number) : NULL;
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
