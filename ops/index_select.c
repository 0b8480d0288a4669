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
#include "ops/rows.h"

/* index_select's rows: x's rows index[0], index[1], ... along dim (the copy and the
 * scatter-add are slice's too: ops/rows.c) */
static ag_rows index_rows(const ag_tensor *index) {
    return (ag_rows){.index = AG_I64(index), .len = index->numel};
}

static void index_select_backward(ag_node *node) {
    ag_tensor *index = ag_saved(node, 0);
    if (!index) return;
    int dim = (int)node->iarg[0];
    ag_accumulate_temp(node, 0,
                  ag_rows_scatter_add(node->inputs[0], dim, index_rows(index), node->grad));
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
    ag_rows_copy(x, dim, index_rows(index), out);
    ag_node *node = ag_record(&index_select_op, out, 1, &x);
    if (node) {
        node->iarg[0] = dim;
        ag_save(node, index);
    }
    return out;
}
