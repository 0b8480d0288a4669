/*
 * reshape.c - x.reshape(shape) and x.view(shape): the same elements under another shape.
 *
 *   forward:  out = x seen as `shape`          one size may be -1: inferred from x's numel
 *   backward: dx += g seen as x's shape        (N elements either way)
 * Both return a view: out shares x's data and its version counter (every tensor here is
 * contiguous, so torch's reshape is a view too), and an in-place change of either is seen by
 * the other and by any node that saved one of them. Each op's own grad_fn name is torch's:
 * ReshapeAliasBackward0 for reshape, ViewBackward0 for view.
 */
#include "autograd/internal.h"

/* shape with its -1 resolved into resolved[], checked against x's numel in torch's words
 * (infer_size). Returns false after reporting. */
static bool infer_shape(const char *op, const ag_tensor *x, int ndim, const int64_t *shape,
                        int64_t *resolved) {
    if (ndim < 0 || ndim > AG_MAX_DIMS) {
        AG_ERROR(op, "a tensor has at most %d dims, got %d", AG_MAX_DIMS, ndim);
        return false;
    }
    if (ndim > 0 && !shape) {
        AG_ERROR(op, "argument 'shape' must be %d sizes, not NULL", ndim);
        return false;
    }
    int infer = -1;
    bool overflow = false;
    int64_t known = 1; /* the product of the given sizes */
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == -1) {
            if (infer >= 0) {
                AG_ERROR(op, "only one dimension can be inferred");
                return false;
            }
            infer = d;
        } else if (shape[d] >= 0) {
            if (shape[d] != 0 && known > INT64_MAX / shape[d]) overflow = true;
            known = overflow ? 1 : known * shape[d];
        } else {
            AG_ERROR(op, "invalid shape dimension %lld", (long long)shape[d]);
            return false;
        }
    }
    for (int d = 0; d < ndim; d++) resolved[d] = shape[d];
    if (!overflow && (x->numel == known || (infer >= 0 && known > 0 && x->numel % known == 0))) {
        if (infer >= 0) {
            if (known == 0) {
                char s[AG_SHAPE_STR];
                AG_ERROR(op, "cannot reshape tensor of 0 elements into shape %s because the "
                             "unspecified dimension size -1 can be any value and is ambiguous",
                         ag_shape_str(s, ndim, shape));
                return false;
            }
            resolved[infer] = x->numel / known;
        }
        return true;
    }
    char s[AG_SHAPE_STR];
    AG_ERROR(op, "shape '%s' is invalid for input of size %lld", ag_shape_str(s, ndim, shape),
             (long long)x->numel);
    return false;
}

/* The backward of both: g, viewed with x's shape. */
static void reshape_backward(ag_node *node) {
    const ag_tensor *x = node->inputs[0];
    ag_accumulate(node, 0, ag_result_view(node->grad, x->ndim, x->shape));
}

static const ag_op reshape_op = {
    .name = "ReshapeAliasBackward0",
    .rule = "dx = g reshaped to x's shape",
    .backward = reshape_backward,
};

static const ag_op view_op = {
    .name = "ViewBackward0",
    .rule = "dx = g viewed with x's shape",
    .backward = reshape_backward,
};

/* The shared body: check, alias, record. */
static ag_tensor *reshaped(const char *op, const ag_op *desc, ag_tensor *x, int ndim,
                           const int64_t *shape) {
    int64_t resolved[AG_MAX_DIMS];
    if (!ag_check_tensor(op, x, "self") || !infer_shape(op, x, ndim, shape, resolved))
        return NULL;
    ag_tensor *out = ag_result_view(x, ndim, resolved);
    ag_record(desc, out, 1, &x);
    return out;
}

ag_tensor *ag_reshape(ag_tensor *x, int ndim, const int64_t *shape) {
    return reshaped("reshape", &reshape_op, x, ndim, shape);
}

ag_tensor *ag_view(ag_tensor *x, int ndim, const int64_t *shape) {
    return reshaped("view", &view_op, x, ndim, shape);
}
