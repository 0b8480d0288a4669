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
    if (ag_needs_grad(node, 0)) ag_accumulate_temp(node, 0, ag_mul(node->grad, b));
    if (ag_needs_grad(node, 1)) ag_accumulate_temp(node, 1, ag_mul(node->grad, a));
}

static const ag_op mul_op = {
    .name = "MulBackward0",
    .rule = "da = g * b, db = g * a",
    .backward = mul_backward,
};

/* The second half of ag_mul: records out = a * b, saving both. */
static ag_tensor *record(ag_tensor *out, ag_tensor *a, ag_tensor *b) {
    ag_node *node = ag_record(&mul_op, out, 2, (ag_tensor *[]){a, b});
    ag_save(node, a);
    ag_save(node, b);
    return out;
}

ag_tensor *ag_mul(ag_tensor *a, ag_tensor *b) {
    return record(ag_binary_map("mul", &mul_kernel, a, b), a, b);
}

ag_tensor *ag_mul_scalar(ag_tensor *x, double s) {
    if (!ag_check_tensor("mul", x, "self")) return NULL;
    ag_tensor *out = ag_binary_map_scalar("mul", &mul_kernel, x, s);
    if (!out || !ag_record_needed(x, NULL)) return out;
    /* s as a 0-d tensor, only for the record: the graph shows it as an input, as torch's */
    ag_tensor *number = ag_wrap_scalar(s, x->dtype);
    return number ? record(out, x, number) : NULL;
}

ag_tensor *ag_mul_(ag_tensor *t, ag_tensor *other) {
    return ag_inplace_elementwise("mul_", t, other, &mul_kernel, ag_mul);
}

ag_tensor *ag_mul_scalar_(ag_tensor *t, double s) {
    if (!ag_check_tensor("mul_", t, "self")) return NULL;
    return ag_inplace_elementwise("mul_", t, ag_wrap_scalar(s, t->dtype), &mul_kernel, ag_mul);
}
