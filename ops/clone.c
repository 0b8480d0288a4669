/*
 * clone.c - a copy of a tensor, with its own memory (x.clone()).
 *
 *   forward:  y = x                   a new tensor of x's shape and dtype (int64 too)
 *   backward: dx += g
 */
#include "autograd/internal.h"

#include <string.h>

static void clone_backward(ag_node *node) { ag_accumulate(node, 0, node->grad); }

static const ag_op clone_op = {
    .name = "CloneBackward0",
    .rule = "dx = g",
    .backward = clone_backward,
};

ag_tensor *ag_clone(ag_tensor *x) {
    if (!ag_check_tensor("clone", x, "self")) return NULL;
    ag_tensor *out = ag_result_like(x);
    if (!out) return NULL;
    memcpy(out->data, x->data, (size_t)x->numel * ag_dtype_size(x->dtype));
    ag_record(&clone_op, out, 1, &x);
    return out;
}
