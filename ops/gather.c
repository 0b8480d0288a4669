/*
 * gather.c - x.gather(dim, index): one element of x per element of index, picked along dim.
 *
 *   forward:  x: (A, N, B), index: (A', K, B') int64 with A' <= A, B' <= B  ->  out: (A', K, B')
 *             out[a, k, b] = x[a, index[a, k, b], b]          0 <= index[a, k, b] < N
 *   backward: dx[a, index[a, k, b], b] += g[a, k, b]          g: (A', K, B') -> (A, N, B)
 *             an index repeated r times collects r shares: a scatter-add
 * index has x's number of dims (a 0-d tensor counts as 1-d of one element, as in torch). The
 * index is saved (checked against in-place changes); it takes no gradient.
 */
#include "autograd/internal.h"

#include <string.h>

/* The walk both directions share: for each element p of index (in order), the flat position
 * in x it addresses. at[p] is written into pos, which has index->numel entries. */
static void gather_positions(const ag_tensor *x, int dim, const ag_tensor *index, int64_t *pos) {
    int n = index->ndim;
    int64_t xstride[AG_MAX_DIMS], step[AG_MAX_DIMS], idx[AG_MAX_DIMS] = {0}, s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        xstride[d] = s;
        s *= x->shape[d];
    }
    int64_t along = x->ndim ? xstride[dim] : 1;
    for (int d = 0; d < n; d++) step[d] = d == dim ? 0 : xstride[d];
    int64_t at = 0; /* x's flat index of (p with p[dim] = 0) */
    for (int64_t p = 0; p < index->numel; p++) {
        pos[p] = at + AG_I64(index)[p] * along;
        for (int d = n - 1; d >= 0; d--) {
            at += step[d];
            if (++idx[d] < index->shape[d]) break;
            at -= step[d] * index->shape[d];
            idx[d] = 0;
        }
    }
}

/* One element of es bytes (1, 4 or 8); constant sizes let the compiler make it one move. */
static void copy_element(char *dst, const char *src, size_t es) {
    if (es == 4)
        memcpy(dst, src, 4);
    else if (es == 8)
        memcpy(dst, src, 8);
    else
        *dst = *src;
}

static bool gather_forward(const ag_tensor *x, int dim, const ag_tensor *index, ag_tensor *out) {
    int64_t *pos = ag_tape_alloc((size_t)index->numel * sizeof *pos);
    if (!pos) return false;
    gather_positions(x, dim, index, pos);
    size_t es = ag_dtype_size(x->dtype);
    for (int64_t p = 0; p < index->numel; p++)
        copy_element((char *)out->data + (size_t)p * es, (const char *)x->data + pos[p] * es,
                     es);
    return true;
}

static void gather_backward(ag_node *node) {
    ag_tensor *index = ag_saved(node, 0);
    if (!index) return;
    const ag_tensor *x = node->inputs[0];
    ag_tensor *g = node->grad;
    ag_tensor *dx = ag_result_zeros(g->dtype, x->ndim, x->shape);
    int64_t *pos = ag_tape_alloc((size_t)index->numel * sizeof *pos);
    if (!dx || !pos) return;
    gather_positions(x, (int)node->iarg[0], index, pos);
    for (int64_t p = 0; p < index->numel; p++) {
        if (g->dtype == AG_FLOAT32)
            AG_F32(dx)[pos[p]] += AG_F32(g)[p];
        else
            AG_F64(dx)[pos[p]] += AG_F64(g)[p];
    }
    ag_accumulate_temp(node, 0, dx);
}

static const ag_op gather_op = {
    .name = "GatherBackward0",
    .rule = "dx = g scatter-added at index along dim",
    .backward = gather_backward,
};

/* index's shape against x's, in torch's words (gather_shape_check), and its values. */
static bool check_index(const char *op, const ag_tensor *x, int dim, const ag_tensor *index) {
    int xnd = x->ndim ? x->ndim : 1, ind = index->ndim ? index->ndim : 1;
    if (xnd != ind) {
        AG_ERROR(op, "Index tensor must have the same number of dimensions as input tensor");
        return false;
    }
    if (index->numel == 0) return true;
    for (int d = 0; d < x->ndim && index->ndim; d++) {
        if (d != dim && index->shape[d] > x->shape[d]) {
            char s1[AG_SHAPE_STR], s2[AG_SHAPE_STR];
            AG_ERROR(op, "Size does not match at dimension %d expected index %s to be smaller "
                         "than self %s apart from dimension %d",
                     d, ag_shape_str(s1, index->ndim, index->shape),
                     ag_shape_str(s2, x->ndim, x->shape), dim);
            return false;
        }
    }
    int64_t size = x->ndim ? x->shape[dim] : 1;
    for (int64_t p = 0; p < index->numel; p++) {
        int64_t v = AG_I64(index)[p];
        if (v < 0 || v >= size) {
            AG_ERROR(op, "index %lld is out of bounds for dimension %d with size %lld",
                     (long long)v, dim, (long long)size);
            return false;
        }
    }
    return true;
}

ag_tensor *ag_gather(ag_tensor *x, int dim, ag_tensor *index) {
    const char *op = "gather";
    if (!ag_check_tensor(op, x, "self") || !ag_check_tensor(op, index, "index") ||
        !ag_check_dim(op, x->ndim, &dim))
        return NULL;
    if (index->dtype != AG_INT64) {
        AG_ERROR(op, "gather(): Expected dtype int64 for index");
        return NULL;
    }
    if (!check_index(op, x, dim, index)) return NULL;
    ag_tensor *out = ag_result_shaped(x->dtype, index);
    if (!out || !gather_forward(x, dim, index, out)) return NULL;
    ag_node *node = ag_record(&gather_op, out, 1, &x);
    if (node) {
        node->iarg[0] = dim;
        ag_save(node, index);
    }
    return out;
}
