/*
 * slice.c - x[start:end:step] along one dim.
 *
 *   forward:  x: (A, N, B)  ->  out: (A, L, B)       out[a, j, b] = x[a, start + j*step, b]
 *             start and end count from the end when negative and are clamped to [0, N] as
 *             Python's slices are; L = ceil((end - start) / step), 0 if end <= start; step > 0
 *   backward: dx[a, start + j*step, b] += g[a, j, b]; the rest of dx gets 0
 * A contiguous copy: torch returns a view, but here every tensor is contiguous. For "to the
 * end" pass INT64_MAX as end.
 */
#include "ops/rows.h"

/* The copy and its scatter-add backward are index_select's too (ops/rows.c). */
static void slice_backward(ag_node *node) {
    int dim = (int)node->iarg[0];
    ag_rows rows = {.start = node->iarg[1], .step = node->iarg[2], .len = node->grad->shape[dim]};
    ag_accumulate_temp(node, 0, ag_rows_scatter_add(node->inputs[0], dim, rows, node->grad));
}

static const ag_op slice_op = {
    .name = "SliceBackward0",
    .rule = "dx = g placed at start:end:step along dim, 0 elsewhere",
    .backward = slice_backward,
};

ag_tensor *ag_slice(ag_tensor *x, int dim, int64_t start, int64_t end, int64_t step) {
    const char *op = "slice";
    if (!ag_check_tensor(op, x, "self")) return NULL;
    if (x->ndim == 0) {
        AG_ERROR(op, "slice() cannot be applied to a 0-dim tensor.");
        return NULL;
    }
    if (!ag_check_dim(op, x->ndim, &dim)) return NULL;
    if (step <= 0) {
        AG_ERROR(op, "slice step must be positive");
        return NULL;
    }
    int64_t size = x->shape[dim];
    /* Python's clamping, as torch's slice (no overflow: start < 0 here adds at most size) */
    if (start < 0) start += size;
    if (end < 0) end += size;
    start = start < 0 ? 0 : start > size ? size : start;
    end = end < start ? start : end > size ? size : end;
    int64_t len = end == start ? 0 : (end - start - 1) / step + 1; /* ceil, without overflow */
    int64_t shape[AG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[dim] = len;
    ag_tensor *out = ag_result(x->dtype, x->ndim, shape);
    if (!out) return NULL;
    ag_rows_copy(x, dim, (ag_rows){.start = start, .step = step, .len = len}, out);
    ag_node *node = ag_record(&slice_op, out, 1, &x);
    if (node) {
        node->iarg[0] = dim;
        node->iarg[1] = start;
        node->iarg[2] = step;
    }
    return out;
}
