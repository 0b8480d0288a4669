/*
 * transpose.c - x.transpose(dim0, dim1): two dims of x swapped.
 *
 *   forward:  x: (A, B, C), transpose(0, 2)  ->  out: (C, B, A)    out[k, j, i] = x[i, j, k]
 *   backward: dx += g.transpose(dim0, dim1)                        g: (C, B, A) -> (A, B, C)
 * A contiguous copy: torch returns a strided view, but here every tensor is contiguous (so an
 * in-place change of x is not seen by out, unlike torch).
 */
#include "autograd/internal.h"

#include <string.h>

/* One element of es bytes (4 or 8); constant sizes let the compiler make it one move. */
static void copy_element(char *dst, const char *src, size_t es) {
    if (es == 4)
        memcpy(dst, src, 4);
    else
        memcpy(dst, src, 8);
}

/* out = x with dims a and b swapped: walks out in order, reading x at swapped strides. */
static void transpose_forward(const ag_tensor *x, int a, int b, ag_tensor *out) {
    int n = x->ndim;
    size_t es = ag_dtype_size(x->dtype);
    int64_t step[AG_MAX_DIMS], idx[AG_MAX_DIMS] = {0}, s = 1;
    for (int d = n - 1; d >= 0; d--) {
        step[d == a ? b : d == b ? a : d] = s; /* out's dim d walks x's dim perm[d] */
        s *= x->shape[d];
    }
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

static void transpose_backward(ag_node *node) {
    ag_accumulate(node, 0, ag_transpose(node->grad, (int)node->iarg[0], (int)node->iarg[1]));
}

static const ag_op transpose_op = {
    .name = "TransposeBackward0",
    .rule = "dx = g transposed back",
    .backward = transpose_backward,
};

ag_tensor *ag_transpose(ag_tensor *x, int dim0, int dim1) {
    const char *op = "transpose";
    if (!ag_check_tensor(op, x, "self") || !ag_check_dim(op, x->ndim, &dim0) ||
        !ag_check_dim(op, x->ndim, &dim1))
        return NULL;
    int64_t shape[AG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    if (x->ndim) {
        shape[dim0] = x->shape[dim1];
        shape[dim1] = x->shape[dim0];
    }
    ag_tensor *out = ag_result(x->dtype, x->ndim, shape);
    if (!out) return NULL;
    transpose_forward(x, dim0, dim1, out);
    ag_node *node = ag_record(&transpose_op, out, 1, &x);
    if (node) {
        node->iarg[0] = dim0;
        node->iarg[1] = dim1;
    }
    return out;
}
