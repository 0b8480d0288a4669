/*
 * add.c - addition, a + b, and its scalar and in-place forms.
 *
 *   forward:  out = a + b            a, b broadcast to out's shape
 *   backward: da += g                g summed back to a's shape (ag_accumulate does it)
 *             db += g
 */
#include "autograd/internal.h"

AG_BINARY_KERNEL(add_kernel, a + b);

static void add_backward(ag_node *node) {
    /* g goes on unchanged: the last input to take it may keep it (ag_accumulate_temp), so that
     * is a, when b was broadcast (b's share is a sum of g, made anyway) and a was not */
    ag_tensor *g = node->grad;
    if (ag_needs_grad(node, 1)) {
        int keep = !ag_same_shape_inline(node->inputs[1], g) &&
                   ag_same_shape_inline(node->inputs[0], g) ? 0 : 1;
        ag_accumulate(node, 1 - keep, g);
        ag_accumulate_temp(node, keep, g);
    } else {
        ag_accumulate_temp(node, 0, node->grad);
    }
}

static const ag_op add_op = {
    .name = "AddBackward0",
    .rule = "da = g, db = g",
    .backward = add_backward,
};

ag_tensor *ag_add(ag_tensor *a, ag_tensor *b) {
    return ag_binary_op("add", &add_kernel, &add_op, a, b, false);
}

ag_tensor *ag_add_scalar(ag_tensor *x, double s) {
    if (!x && !ag_check_tensor("add", x, "self")) return NULL;
    /* s as a 0-d tensor, made only for the record: the graph shows it as an input, as torch's */
    return ag_scalar_op("add", &add_kernel, &add_op, x, s, false);
}

ag_tensor *ag_add_(ag_tensor *t, ag_tensor *other) {
    return ag_inplace_elementwise("add_", t, other, &add_kernel, ag_add);
}

ag_tensor *ag_add_scalar_(ag_tensor *t, double s) {
    if (!ag_check_tensor("add_", t, "self")) return NULL;
    return ag_inplace_elementwise("add_", t, ag_wrap_scalar(s, t->dtype), &add_kernel, ag_add);
}
