/*
 * select.c - x.select(dim, index): the slice at one index along dim, with dim removed.
 * x[i] is ag_select(x, 0, i).
 *
 *   forward:  x: (A, N, B), select(1, k)  ->  out: (A, B)     out[a, b] = x[a, k, b]
 *             a negative index counts from the end (k + N)
 *   backward: dx[a, k, b] += g[a, b]; the rest of dx gets 0    g: (A, B) -> (A, N, B)
 * A contiguous copy: torch returns a view, but here every tensor is contiguous.
 */
#include "autograd/internal.h"

#include <string.h>

/* out[o, i] = x[o, index, i], x seen as (outer, size, inner) around dim. */
static void select_forward(const ag_tensor *x, int dim, int64_t index, ag_tensor *out) {
    int64_t outer, size, inner;
    ag_split_dim(x, dim, &outer, &size, &inner);
    size_t es = ag_dtype_size(x->dtype), run = (size_t)inner * es;
    for (int64_t o = 0; o < outer; o++)
        memcpy((char *)out->data + (size_t)o * run,
               (const char *)x->data + (size_t)(o * size + index) * run, run);
}

static void select_backward(ag_node *node) {
    const ag_tensor *x = node->inputs[0];
    ag_tensor *g = node->grad;
    int dim = (int)node->iarg[0];
    int64_t index = node->iarg[1], outer, size, inner;
    ag_tensor *dx = ag_result_zeros(g->dtype, x->ndim, x->shape);
    if (!dx) return;
    ag_split_dim(x, dim, &outer, &size, &inner);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t to = (o * size + index) * inner + i, from = o * inner + i;
            if (g->dtype == AG_FLOAT32)
                AG_F32(dx)[to] += AG_F32(g)[from];
            else
                AG_F64(dx)[to] += AG_F64(g)[from];
        }
    }
    ag_accumulate_temp(node, 0, dx);
}

static const ag_op select_op = {
    .name = "SelectBackward0",
    .rule = "dx = g placed at index along dim, 0 elsewhere",
    .backward = select_backward,
};

ag_tensor *ag_select(ag_tensor *x, int dim, int64_t index) {
    const char *op = "select";
    if (!ag_check_tensor(op, x, "self")) return NULL;
    if (x->ndim == 0) {
        AG_ERROR(op, "select() cannot be applied to a 0-dim tensor.");
        return NULL;
    }
    if (!ag_check_dim(op, x->ndim, &dim)) return NULL;
    int64_t size = x->shape[dim];
    if (index < -size || index >= size) {
        char s[AG_SHAPE_STR];
        AG_ERROR(op, "select(): index %lld out of range for tensor of size %s at dimension %d",
                 (long long)index, ag_shape_str(s, x->ndim, x->shape), dim);
        return NULL;
    }
    if (index < 0) index += size;
    int64_t shape[AG_MAX_DIMS];
    for (int d = 0, n = 0; d < x->ndim; d++)
        if (d != dim) shape[n++] = x->shape[d];
    ag_tensor *out = ag_result(x->dtype, x->ndim - 1, shape);
    if (!out) return NULL;
    select_forward(x, dim, index, out);
    ag_node *node = ag_record(&select_op, out, 1, &x);
    if (node) {
        node->iarg[0] = dim;
        node->iarg[1] = index;
    }
    return out;
}
