/*
 * permute.c - x.permute(dims): the dims of x reordered.
 *
 *   forward:  out.shape[i] = x.shape[dims[i]]     out[..., j_i, ...] = x[..., j at dims[i], ...]
 *             x: (A, B, C), dims (2, 0, 1)  ->  out: (C, A, B)
 *   backward: dx += g.permute(inverse of dims)    g: out's shape -> x's shape
 * A contiguous copy: torch returns a strided view, but here every tensor is contiguous. The
 * copy kernel, ag_permute_forward, is also transpose's (ops/permute.h).
 */
#include "ops/permute.h"

#include <string.h>

/* One element of es bytes (1, 4 or 8); constant sizes let the compiler make it one move. */
static void copy_element(char *dst, const char *src, size_t es) {
    if (es == 4)
        memcpy(dst, src, 4);
    else if (es == 8)
        memcpy(dst, src, 8);
    else
        *dst = *src;
}

/* out = x permuted: walks out in order, reading x at the permuted strides. */
void ag_permute_forward(const ag_tensor *x, const int *dims, ag_tensor *out) {
    int n = x->ndim;
    size_t es = ag_dtype_size(x->dtype);
    int64_t xstride[AG_MAX_DIMS], step[AG_MAX_DIMS], idx[AG_MAX_DIMS] = {0}, s = 1;
    for (int d = n - 1; d >= 0; d--) {
        xstride[d] = s;
        s *= x->shape[d];
    }
    for (int d = 0; d < n; d++) step[d] = xstride[dims[d]];
    const char *src = x->data;
    char *dst = out->data;
    int64_t at = 0; /* x's flat index of out's element i */
    for (int64_t i = 0; i < out->numel; i++) {
        copy_element(dst + (size_t)i * es, src + (size_t)at * es, es);
        for (int d = n - 1; d >= 0; d--) {
            at += step[d];
            if (++idx[d] < out->shape[d]) break;
            at -= step[d] * out->shape[d];
            idx[d] = 0;
        }
    }
}

static void permute_backward(ag_node *node) {
    int n = (int)node->iarg[0], inverse[AG_MAX_DIMS];
    for (int d = 0; d < n; d++) inverse[node->iarg[1 + d]] = d;
    ag_accumulate_temp(node, 0, ag_permute(node->grad, n, inverse));
}

static const ag_op permute_op = {
    .name = "PermuteBackward0",
    .rule = "dx = g permuted by the inverse of dims",
    .backward = permute_backward,
};

ag_tensor *ag_permute(ag_tensor *x, int ndim, const int *dims) {
    const char *op = "permute";
    if (!ag_check_tensor(op, x, "self")) return NULL;
    if (ndim != x->ndim) {
        AG_ERROR(op, "permute(sparse_coo): number of dimensions in the tensor input does not "
                     "match the length of the desired ordering of dimensions i.e. input.dim() "
                     "= %d is not equal to len(dims) = %d",
                 x->ndim, ndim);
        return NULL;
    }
    if (ndim > 0 && !dims) {
        AG_ERROR(op, "argument 'dims' must be %d dims, not NULL", ndim);
        return NULL;
    }
    int perm[AG_MAX_DIMS];
    bool seen[AG_MAX_DIMS] = {false};
    for (int d = 0; d < ndim; d++) {
        perm[d] = dims[d];
        if (!ag_check_dim(op, ndim, &perm[d])) return NULL;
        if (seen[perm[d]]) {
            AG_ERROR(op, "permute(): duplicate dims are not allowed.");
            return NULL;
        }
        seen[perm[d]] = true;
    }
    int64_t shape[AG_MAX_DIMS];
    for (int d = 0; d < ndim; d++) shape[d] = x->shape[perm[d]];
    ag_tensor *out = ag_result(x->dtype, ndim, shape);
    if (!out) return NULL;
    ag_permute_forward(x, perm, out);
    ag_node *node = ag_record(&permute_op, out, 1, &x);
    if (node) {
        node->iarg[0] = ndim;
        for (int d = 0; d < ndim; d++) node->iarg[1 + d] = perm[d];
    }
    return out;
}
