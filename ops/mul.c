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

/* g * b computed into g itself, when only input 0 wants a gradient, g may be overwritten
 * (ag_grad_scratch) and g * b has g's dtype and shape (b is 0-d, or of g's shape): the common
 * case of x * s and of a chain of scalars, where it spares a new tensor. NULL otherwise. */
static ag_tensor *mul_into_grad(ag_node *node, const ag_tensor *b) {
    ag_tensor *g = ag_needs_grad(node, 1) ? NULL : ag_grad_scratch(node);
    if (!g || g->dtype != b->dtype || (b->ndim != 0 && !ag_same_shape_inline(g, b))) return NULL;
    int64_t sb = b->ndim == 0 ? 0 : 1;
    if (g->dtype == AG_FLOAT32)
        mul_kernel.f32(g->numel, g->data, 1, b->data, sb, g->data);
    else if (g->dtype == AG_FLOAT64)
        mul_kernel.f64(g->numel, g->data, 1, b->data, sb, g->data);
    else
        return NULL;
    return g;
}

static void mul_backward(ag_node *node) {
    ag_tensor *a = ag_saved(node, 0), *b = ag_saved(node, 1);
    if (!a || !b) return;
    if (ag_needs_grad(node, 0)) {
        ag_tensor *gb = mul_into_grad(node, b);
        ag_accumulate_temp(node, 0, gb ? gb : ag_mul(node->grad, b));
    }
    if (ag_needs_grad(node, 1)) ag_accumulate_temp(node, 1, ag_mul(node->grad, a));
}

static const ag_op mul_op = {
    .name = "MulBackward0",
    .rule = "da = g * b, db = g * a",
    .backward = mul_backward,
};

ag_tensor *ag_mul(ag_tensor *a, ag_tensor *b) {
    return ag_binary_op("mul", &mul_kernel, &mul_op, a, b, true); /* both saved */
}

ag_tensor *ag_mul_scalar(ag_tensor *x, double s) {
    if (!x && !ag_check_tensor("mul", x, "self")) return NULL;
    /* s as a 0-d tensor, made only for the record: the graph shows it as an input, as torch's */
    return ag_scalar_op("mul", &mul_kernel, &mul_op, x, s, true);
}

ag_tensor *ag_mul_(ag_tensor *t, ag_tensor *other) {
    return ag_inplace_elementwise("mul_", t, other, &mul_kernel, ag_mul);
}

ag_tensor *ag_mul_scalar_(ag_tensor *t, double s) {
    if (!ag_check_tensor("mul_", t, "self")) return NULL;
    return ag_inplace_elementwise("mul_", t, ag_wrap_scalar(s, t->dtype), &mul_kernel, ag_mul);
}
