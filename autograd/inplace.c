/*
 * inplace.c - the one path every in-place op takes (add_, mul_, fill_, copy_, ...).
 *
 * t.op_(other) is computed as r = op(t, other) and written back into t's memory. Without a
 * graph (no-grad mode, or nothing requires grad) that is all, plus a version bump. With one,
 * t's history must go on: the node that made r is given t as its output, and its input is a
 * "shadow" of t as it was before (a copy of its values, with the old grad_fn), so gradients
 * still reach t's past and the new node can save t's old values (as torch saves "original
 * self"). A node recorded earlier that saved t itself sees the version bump, and its backward
 * fails with PyTorch's "modified by an inplace operation" error rather than use new values.
 */
#include "autograd/internal.h"

#include <string.h>

bool ag_check_writable(const char *op, const ag_tensor *t) {
    if (!ag_is_grad_enabled() || !t->requires_grad) return true;
    if (!t->grad_fn) {
        AG_ERROR(op, "a leaf Variable that requires grad is being used in an in-place "
                     "operation.");
        return false;
    }
    if (t->base) {
        if (t->base->requires_grad && !t->base->grad_fn)
            AG_ERROR(op, "a view of a leaf Variable that requires grad is being used in an "
                         "in-place operation.");
        else
            AG_ERROR(op, "an in-place operation on a view that requires grad is not supported "
                         "by libautograd: use the out-of-place op, or work in no-grad mode");
        return false;
    }
    return true;
}

/* t as it is now, as a tape-owned tensor with its own copy of the values and t's history. */
static ag_tensor *shadow_of(ag_tensor *t) {
    ag_tensor *old = ag_result_like(t);
    if (!old) return NULL;
    memcpy(old->data, t->data, (size_t)t->numel * ag_dtype_size(t->dtype));
    old->grad_fn = t->grad_fn;
    old->requires_grad = t->requires_grad;
    old->name = t->name;
    return old;
}

ag_tensor *ag_inplace(const char *op, ag_tensor *t, ag_tensor *other, ag_binary_fn fn) {
    if (!ag_check_tensor(op, t, "self") || !ag_check_tensor(op, other, "other")) return NULL;
    if (!ag_check_writable(op, t)) return NULL;
    int ndim;
    int64_t shape[AG_MAX_DIMS];
    if (!ag_broadcast_shape(op, t->ndim, t->shape, other->ndim, other->shape, &ndim, shape))
        return NULL;
    if (ndim != t->ndim || memcmp(shape, t->shape, (size_t)ndim * sizeof *shape) != 0) {
        char s1[AG_SHAPE_STR], s2[AG_SHAPE_STR];
        AG_ERROR(op, "output with shape %s doesn't match the broadcast shape %s",
                 ag_shape_str(s1, t->ndim, t->shape), ag_shape_str(s2, ndim, shape));
        return NULL;
    }
    if (!ag_is_floating(t->dtype) && ag_is_floating(other->dtype)) { /* (ag_copy_ converts) */
        AG_ERROR(op, "result type %s can't be cast to the desired output type %s",
                 ag_scalar_type_name(other->dtype), ag_scalar_type_name(t->dtype));
        return NULL;
    }
    bool graph = ag_is_grad_enabled() && (t->requires_grad || other->requires_grad);
    ag_tensor *self = graph ? shadow_of(t) : t;
    if (!self) return NULL;
    ag_tensor *r = fn(self, other);
    if (!r) return NULL;
    ag_tensor *cast = ag_cast(r, t->dtype);
    if (!cast) return NULL;
    memcpy(t->data, cast->data, (size_t)t->numel * ag_dtype_size(t->dtype));
    ag_bump_version(t);
    if (r->grad_fn) ag_node_set_output(r->grad_fn, t);
    return t;
}

ag_tensor *ag_inplace_elementwise(const char *op, ag_tensor *t, ag_tensor *other,
                                  const ag_binary_kernel *k, ag_binary_fn fn) {
    bool direct = t && other && t->dtype == other->dtype && ag_is_floating(t->dtype) &&
                  (other->ndim == 0 || ag_same_shape_inline(t, other)) &&
                  !ag_record_needed(t, other);
    if (!direct) return ag_inplace(op, t, other, fn);
    /* No graph to keep: what ag_inplace would compute and copy into t, computed in t. Each
     * output element is written after both its operands were read, so other may share t's
     * memory; a single number is read once, first. */
    int64_t sb = other->ndim == 0 ? 0 : 1;
    if (t->dtype == AG_FLOAT32) {
        const float b0 = sb ? 0.0f : AG_F32(other)[0];
        k->f32(t->numel, t->data, 1, sb ? other->data : &b0, sb, t->data);
    } else {
        const double b0 = sb ? 0.0 : AG_F64(other)[0];
        k->f64(t->numel, t->data, 1, sb ? other->data : &b0, sb, t->data);
    }
    ag_bump_version(t);
    return t;
}
