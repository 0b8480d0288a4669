/*
 * expand.c - x.expand(shape): x broadcast to a larger shape.
 *
 *   forward:  x: (1, B), expand(A, B)  ->  out: (A, B)    out[i, j] = x[0, j]
 *             a size of -1 keeps x's size; new dims may be added in front
 *   backward: dx += g summed over the expanded dims        g: (A, B) -> (1, B)
 * A materialized copy (torch returns a view with stride 0; here every tensor is contiguous).
 */
#include "autograd/internal.h"

static const char *tensor_type_name(ag_dtype dtype) {
    return dtype == AG_FLOAT32 ? "torch.FloatTensor"
           : dtype == AG_FLOAT64 ? "torch.DoubleTensor"
           : dtype == AG_UINT8   ? "torch.ByteTensor"
                                 : "torch.LongTensor";
}

/* The target shape with each -1 resolved, checked in torch's words (infer_expand_geometry). */
static bool expand_shape(const char *op, const ag_tensor *x, int ndim, const int64_t *shape,
                         int64_t *resolved) {
    char s1[AG_SHAPE_STR], s2[AG_SHAPE_STR];
    if (ndim < x->ndim) {
        AG_ERROR(op, "expand(%s{%s}, size=%s): the number of sizes provided (%d) must be "
                     "greater or equal to the number of dimensions in the tensor (%d)",
                 tensor_type_name(x->dtype), ag_shape_str(s1, x->ndim, x->shape),
                 ag_shape_str(s2, ndim, shape), ndim, x->ndim);
        return false;
    }
    int lead = ndim - x->ndim; /* new dims in front */
    for (int d = 0; d < ndim; d++) {
        int64_t want = shape[d], have = d < lead ? 1 : x->shape[d - lead];
        if (d < lead && want == -1) {
            AG_ERROR(op, "The expanded size of the tensor (-1) isn't allowed in a leading, "
                         "non-existing dimension %d", d);
            return false;
        }
        if (want == -1) want = have;
        if (d >= lead && want != have && have != 1) {
            AG_ERROR(op, "The expanded size of the tensor (%lld) must match the existing size "
                         "(%lld) at non-singleton dimension %d.  Target sizes: %s.  Tensor "
                         "sizes: %s",
                     (long long)want, (long long)have, d, ag_shape_str(s1, ndim, shape),
                     ag_shape_str(s2, x->ndim, x->shape));
            return false;
        }
        resolved[d] = want;
    }
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (resolved[d] < 0) {
            AG_ERROR(op, "Trying to create tensor with negative dimension %lld: %s",
                     (long long)resolved[d], ag_shape_str(s1, ndim, shape));
            return false;
        }
        /* also in bytes: ag_result does not check its size for overflow */
        if (resolved[d] > 0 &&
            numel > INT64_MAX / (int64_t)ag_dtype_size(x->dtype) / resolved[d]) {
            AG_ERROR(op, "numel: integer multiplication overflow");
            return false;
        }
        numel *= resolved[d];
    }
    return true;
}

static void expand_backward(ag_node *node) {
    ag_accumulate(node, 0, node->grad); /* ag_accumulate sums g down to x's shape */
}

static const ag_op expand_op = {
    .name = "ExpandBackward0",
    .rule = "dx = g summed over the expanded dims",
    .backward = expand_backward,
};

ag_tensor *ag_expand(ag_tensor *x, int ndim, const int64_t *shape) {
    const char *op = "expand";
    if (!ag_check_tensor(op, x, "self")) return NULL;
    if (ndim < 0 || ndim > AG_MAX_DIMS) {
        AG_ERROR(op, "a tensor has at most %d dims, got %d", AG_MAX_DIMS, ndim);
        return NULL;
    }
    if (ndim > 0 && !shape) {
        AG_ERROR(op, "argument 'size' must be %d sizes, not NULL", ndim);
        return NULL;
    }
    int64_t resolved[AG_MAX_DIMS];
    if (!expand_shape(op, x, ndim, shape, resolved)) return NULL;
    ag_tensor *out = ag_broadcast_to(x, ndim, resolved);
    ag_record(&expand_op, out, 1, &x);
    return out;
}
