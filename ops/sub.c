/*
 * sub.c - subtraction, a - b, its scalar and in-place forms, and s - x (torch's rsub).
 *
 *   forward:  out = a - b            a, b broadcast to out's shape
 *   backward: da += g                summed back to a's shape
 *             db += -g
 */
#include "autograd/internal.h"

AG_BINARY_KERNEL(sub_kernel, a - b);

static void sub_backward(ag_node *node) {
    ag_accumulate(node, 0, node->grad);
    if (ag_needs_grad(node, 1)) ag_accumulate(node, 1, ag_neg(node->grad));
}

static const ag_op sub_op = {
    .name = "SubBackward0",
    .rule = "da = g, db = -g",
    .backward = sub_backward,
};

ag_tensor *ag_sub(ag_tensor *a, ag_tensor *b) {
    ag_tensor *out = ag_binary_map("sub", &sub_kernel, a, b);
    ag_record(&sub_op, out, 2, (ag_tensor *[]){a, b});
    return out;
}

ag_tensor *ag_sub_scalar(ag_tensor *x, double s) {
    return ag_check_tensor("sub", x, "self") ? ag_sub(x, ag_wrap_scalar(s, x->dtype)) : NULL;
}

ag_tensor *ag_sub_(ag_tensor *t, ag_tensor *other) { return ag_inplace("sub_", t, other, ag_sub); }

ag_tensor *ag_sub_scalar_(ag_tensor *t, double s) {
    return ag_check_tensor("sub_", t, "self")
               ? ag_inplace("sub_", t, ag_wrap_scalar(s, t->dtype), ag_sub)
               : NULL;
}

/*
 * rsub: s - x, with s a number (torch records it as RsubBackward1).
 *   backward: dx += -g
 */
AG_BINARY_KERNEL(rsub_kernel, b - a);

static void rsub_backward(ag_node *node) { ag_accumulate(node, 0, ag_neg(node->grad)); }

static const ag_op rsub_op = {
    .name = "RsubBackward1",
    .rule = "dx = -g",
    .backward = rsub_backward,
};

ag_tensor *ag_rsub_scalar(double s, ag_tensor *x) {
    if (!ag_check_tensor("rsub", x, "self")) return NULL;
    ag_tensor *out = ag_binary_map("rsub", &rsub_kernel, x, ag_wrap_scalar(s, x->dtype));
    ag_record(&rsub_op, out, 1, &x);
    return out;
}
