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
    ag_accumulate(node, 0, node->grad);
    ag_accumulate(node, 1, node->grad);
}

static const ag_op add_op = {
    .name = "AddBackward0",
    .rule = "da = g, db = g",
    .backward = add_backward,
};

ag_tensor *ag_add(ag_tensor *a, ag_tensor *b) {
    ag_tensor *out = ag_binary_map("add", &add_kernel, a, b);
    ag_record(&add_op, out, 2, (ag_tensor *[]){a, b});
    return out;
}

ag_tensor *ag_add_scalar(ag_tensor *x, double s) {
    return ag_check_tensor("add", x, "self") ? ag_add(x, ag_wrap_scalar(s, x->dtype)) : NULL;
}

ag_tensor *ag_add_(ag_tensor *t, ag_tensor *other) { return ag_inplace("add_", t, other, ag_add); }

ag_tensor *ag_add_scalar_(ag_tensor *t, double s) {
    return ag_check_tensor("add_", t, "self")
               ? ag_inplace("add_", t, ag_wrap_scalar(s, t->dtype), ag_add)
               : NULL;
}
