/*
 * index_select.c - x.index_select(dim, index): the slices of x at the given indices along dim.
 *
 *   forward:  x: (A, N, B), index: (K) int64  ->  out: (A, K, B)
 *             out[a, k, b] = x[a, index[k], b]              0 <= index[k] < N
 *   backward: dx[a, index[k], b] += g[a, k, b]               g: (A, K, B) -> (A, N, B)
 *             an index repeated r times collects r shares: a scatter-add
 * A 0-d index acts as one of one element; a 0-d x takes a one-element index and gives a 0-d
 * out. The index is saved (checked against in-place changes); it takes no gradient.
 */
#include "autograd/internal.h"

#include <string.h>

/* out[o, k, i] = x[o, index[k], i], x seen as (outer, size, inner) around dim. */
static void index_select_forward(const ag_tensor *x, int dim, const ag_tensor *index,
                                 ag_tensor *out) {
    int64_t outer, size, inner, k = index->numel;
    ag_split_dim(x, dim, &outer, &size, &inner);
    size_t run = (size_t)inner * ag_dtype_size(x->dtype);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < k; j++)
            memcpy((char *)out->data + (size_t)(o * k + j) * run,
                   (const char *)x->data + (size_t)(o * size + AG_I64(index)[j]) * run, run);
}

static void index_select_backward(ag_node *node) {
    ag_tensor *index = ag_saved(node, 0);
    if (!index) return;
    const ag_tensor *x = node->inputs[0];
    ag_tensor *g = node->grad;
    int dim = (int)node->iarg[0];
    int64_t outer, size, inner, k = index->numel;
    ag_tensor *dx = ag_result_zeros(g->dtype, x->ndim, x->shape);
    if (!dx) return;
    ag_split_dim(x, dim, &outer, &size, &inner);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < k; j++) {
            int64_t to = (o * size + AG_I64(index)[j]) * inner, from = (o * k + j) * inner;
            for (int64_t i = 0; i < inner; i++) {
                if (g->dtype == AG_FLOAT32)
                    AG_F32(dx)[to + i] += AG_F32(g)[from + i];
                else
                    AG_F64(dx)[to + i] += AG_F64(g)[from + i];
            }
        }
    }
    ag_accumulate(node, 0, dx);
}

static const ag_op index_select_op = {
    .name = "IndexSelectBackward0",
    .rule = "dx = g scatter-added at index along dim",
    .backward = index_select_backward,
};

ag_tensor *ag_index_select(ag_tensor *x, int dim, ag_tensor *index) {
    const char *op = "index_select";
    if (!ag_check_tensor(op, x, "self") || !ag_check_tensor(op, index, "index") ||
        !ag_check_dim(op, x->ndim, &dim))
        return NULL;
    if (index->ndim > 1) {
        AG_ERROR(op, "index_select(): Index is supposed to be a vector");
        return NULL;
    }
    if (x->ndim == 0 && index->numel != 1) {
        AG_ERROR(op, "index_select(): Index to scalar can have only 1 value, got %lld value(s)",
                 (long long)index->numel);
        return NULL;
    }
    if (index->dtype != AG_INT64) {
        AG_ERROR(op, "index_select(): Expected dtype int32 or int64 for index");
        return NULL;
    }
    int64_t size = x->ndim ? x->shape[dim] : 1;
    for (int64_t j = 0; j < index->numel; j++) {
        if (AG_I64(index)[j] < 0 || AG_I64(index)[j] >= size) {
            AG_ERROR(op, "index out of range in self");
            return NULL;
        }
    }
    int64_t shape[AG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = d == dim ? index->numel : x->shape[d];
    ag_tensor *out = ag_result(x->dtype, x->ndim, shape);
    if (!out) return NULL;
    index_select_forward(x, dim, index, out);
    ag_node *node = ag_record(&index_select_op, out, 1, &x);
    if (node) {
        node->iarg[0] = dim;
        ag_save(node, index);
    }
    return out;
}
