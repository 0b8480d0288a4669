/*
 * copy.c - t.copy_(src): src's values (broadcast to t's shape, cast to t's dtype) into t.
 *
 *   forward:  t = src
 *   backward: dsrc += g              summed back to src's shape, cast to its dtype
 *             dt_old += 0
 */
#include "autograd/internal.h"

static void copy_backward(ag_node *node) { ag_accumulate_temp(node, 1, node->grad); }

static const ag_op copy_op = {
    .name = "CopyBackwards",
    .rule = "dsrc = g",
    .backward = copy_backward,
};

/* src as self's dtype and shape (the fn given to ag_inplace). */
static ag_tensor *copied(ag_tensor *self, ag_tensor *src) {
    ag_tensor *cast = ag_cast(src, self->dtype);
    ag_tensor *out = cast ? ag_broadcast_to(cast, self->ndim, self->shape) : NULL;
    ag_record(&copy_op, out, 2, (ag_tensor *[]){self, src});
    return out;
}

ag_tensor *ag_copy_(ag_tensor *t, ag_tensor *src) {
    /* Into an int64 or uint8 t, src is converted first, as ag_to converts (floats truncate;
     * into uint8 they wrap): as in torch, no gradient flows back through that. */
    if (t && src && !ag_is_floating(t->dtype) && src->dtype != t->dtype) {
        src = ag_to(src, t->dtype);
        if (!src) return NULL;
    }
    return ag_inplace("copy_", t, src, copied);
}
