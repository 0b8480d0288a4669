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
    /* g goes on unchanged to a: at g's last use, a may keep it (ag_accumulate_temp) */
    if (ag_needs_grad(node, 1)) {
        ag_accumulate(node, 0, node->grad);
        ag_accumulate_temp(node, 1, ag_neg(node->grad));
    } else {
        ag_accumulate_temp(node, 0, node->grad);
    }
}

static const ag_op sub_op = {
    .name = "SubBackward0",
    .rule = "da = g, db = -g",
    .backward = sub_backward,
};

ag_tensor *ag_sub(ag_tensor *a, ag_tensor *b) {
    return ag_binary_op("sub", &sub_kernel, &sub_op, a, b, false);
}

ag_tensor *ag_sub_scalar(ag_tensor *x, double s) {
    if (!ag_check_tensor("sub", x, "self")) return NULL;
    /* s as a 0-d tensor, made only for the record: the graph shows it as an input, as torch's */
    return ag_scalar_op("sub", &sub_kernel, &sub_op, x, s, false);
}

ag_tensor *ag_sub_(ag_tensor *t, ag_tensor *other) {
    return ag_inplace_elementwise("sub_", t, other, &sub_kernel, ag_sub);
}

ag_tensor *ag_sub_scalar_(ag_tensor *t, double s) {
    if (!ag_check_tensor("sub_", t, "self")) return NULL;
    return ag_inplace_elementwise("sub_", t, ag_wrap_scalar(s, t->dtype), &sub_kernel, ag_sub);
}

/*
 * rsub: s - x, with s a number (torch records it as RsubBackward1).
 *   backward: dx += -g
 */
AG_BINARY_KERNEL(rsub_kernel, b - a);

static void rsub_backward(ag_node *node) { ag_accumulate_temp(node, 0, ag_neg(node->grad)); }

static const ag_op rsub_op = {
    .name = "RsubBackward1",
    .rule = "dx = -g",
    .backward = rsub_backward,
};

ag_tensor *ag_rsub_scalar(double s, ag_tensor *x) {
    if (!ag_check_tensor("rsub", x, "self")) return NULL;
    ag_tensor *out = ag_binary_map_scalar("rsub", &rsub_kernel, x, s); /* s is no input */
    ag_record(&rsub_op, out, 1, &x);
    return out;
}
