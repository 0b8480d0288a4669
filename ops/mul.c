/*
 * mul.c - multiplication, a * b, and its scalar and in-place forms.
 *
 *   forward:  out = a * b            a, b broadcast to out's shape
 *   backward: da += g * b            summed back to a's shape
 *             db += g * a
 * Both inputs are saved: each one's gradient needs the other's value.
 */
#include "autograd/internal.h"

AG_BINARY_KERNEL(mul_kernel, a * b);

static void mul_backward(ag_node *node) {
    ag_tensor *a = ag_saved(node, 0), *b = ag_saved(node, 1);
    if (!a || !b) return;
    if (ag_needs_grad(node, 0)) ag_accumulate(node, 0, ag_mul(node->grad, b));
    if (ag_needs_grad(node, 1)) ag_accumulate(node, 1, ag_mul(node->grad, a));
}

static const ag_op mul_op = {
    .name = "MulBackward0",
    .rule = "da = g * b, db = g * a",
    .backward = mul_backward,
};

ag_tensor *ag_mul(ag_tensor *a, ag_tensor *b) {
    ag_tensor *out = ag_binary_map("mul", &mul_kernel, a, b);
    ag_node *node = ag_record(&mul_op, out, 2, (ag_tensor *[]){a, b});
    ag_save(node, a);
    ag_save(node, b);
    return out;
}

ag_tensor *ag_mul_scalar(ag_tensor *x, double s) {
    return ag_check_tensor("mul", x, "self") ? ag_mul(x, ag_wrap_scalar(s, x->dtype)) : NULL;
}

ag_tensor *ag_mul_(ag_tensor *t, ag_tensor *other) { return ag_inplace("mul_", t, other, ag_mul); }

ag_tensor *ag_mul_scalar_(ag_tensor *t, double s) {
    return ag_check_tensor("mul_", t, "self")
               ? ag_inplace("mul_", t, ag_wrap_scalar(s, t->dtype), ag_mul)
               : NULL;
}
