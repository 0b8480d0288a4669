/*
 * cat.c - torch.cat(xs, dim): n tensors joined along an existing dim.
 *
 *   forward:  xs[k]: (A, N_k, B)  ->  out: (A, N_0 + ... + N_{n-1}, B)
 *             out[a, off_k + j, b] = xs[k][a, j, b]          off_k = N_0 + ... + N_{k-1}
 *   backward: dxs[k][a, j, b] += g[a, off_k + j, b]          g split back along dim
 * The inputs must agree on every dim but dim; their dtypes promote as torch's (float32 with
 * float64 gives float64, uint8 with float32 float32, uint8 with int64 int64). As torch, a
 * 1-d tensor with no elements is skipped whatever its shape. The node's inputs are the n
 * tensors; backward reads each one's size along dim from its shape.
 */
#include "autograd/internal.h"

#include <string.h>

/* torch's legacy rule: a 1-d empty tensor joins anything, and is left out. */
static bool skipped(const ag_tensor *t) { return t->ndim == 1 && t->shape[0] == 0; }

/* torch's promotion of two dtypes: floating beats integer; of two floats, float64; of two
 * integers, int64 (uint8 with int64). */
static ag_dtype promote(ag_dtype a, ag_dtype b) {
    if (a == b) return a;
    if (ag_is_floating(a) != ag_is_floating(b)) return ag_is_floating(a) ? a : b;
    return ag_is_floating(a) ? AG_FLOAT64 : AG_INT64;
}

/* Copies each input's (outer, N_k * inner) block into its place in out's rows. */
static bool cat_forward(ag_tensor *const *xs, int n, int dim, ag_tensor *out) {
    int64_t outer = 1, inner = 1, total = out->shape[dim], off = 0;
    for (int d = 0; d < dim; d++) outer *= out->shape[d];
    for (int d = dim + 1; d < out->ndim; d++) inner *= out->shape[d];
    size_t es = ag_dtype_size(out->dtype);
    for (int k = 0; k < n; k++) {
        if (skipped(xs[k])) continue;
        ag_tensor *x = ag_cast(xs[k], out->dtype);
        if (!x) return false;
        int64_t size = x->shape[dim];
        size_t run = (size_t)(size * inner) * es;
        for (int64_t o = 0; o < outer; o++)
            memcpy((char *)out->data + (size_t)((o * total + off) * inner) * es,
                   (const char *)x->data + (size_t)o * run, run);
        off += size;
    }
    return true;
}

static void cat_backward(ag_node *node) {
    ag_tensor *g = node->grad;
    int dim = (int)node->iarg[0];
    int64_t outer = 1, inner = 1, total = g->shape[dim], off = 0;
    for (int d = 0; d < dim; d++) outer *= g->shape[d];
    for (int d = dim + 1; d < g->ndim; d++) inner *= g->shape[d];
    size_t es = ag_dtype_size(g->dtype);
    for (int k = 0; k < node->ninputs; k++) {
        const ag_tensor *x = node->inputs[k];
        int64_t size = skipped(x) ? 0 : x->shape[dim];
        if (ag_needs_grad(node, k)) {
            /* dxs[k] = g[:, off:off+size, :], added to xs[k] (cast back to its dtype) */
            ag_tensor *dx = ag_result_shaped(g->dtype, x);
            if (!dx) return;
            size_t run = (size_t)(size * inner) * es;
            for (int64_t o = 0; o < outer && run; o++)
                memcpy((char *)dx->data + (size_t)o * run,
                       (const char *)g->data + (size_t)((o * total + off) * inner) * es, run);
            ag_accumulate_temp(node, k, dx);
        }
        off += size;
    }
}

static const ag_op cat_op = {
    .name = "CatBackward0",
    .rule = "dxs[k] = g split along dim at the inputs' sizes",
    .backward = cat_backward,
};

/* Shapes and dim in torch's words (cat_meta); ref is the first input not skipped, or -1. */
static bool check_inputs(const char *op, ag_tensor *const *xs, int n, int *dim, int *ref) {
    if (n <= 0 || !xs) {
        AG_ERROR(op, "torch.cat(): expected a non-empty list of Tensors");
        return false;
    }
    for (int k = 0; k < n; k++)
        if (!ag_check_tensor(op, xs[k], "tensors")) return false;
    for (int k = 0; k < n; k++) {
        if (xs[k]->ndim == 0) {
            AG_ERROR(op, "zero-dimensional tensor (at position %d) cannot be concatenated", k);
            return false;
        }
    }
    *ref = -1;
    for (int k = 0; k < n && *ref < 0; k++)
        if (!skipped(xs[k])) *ref = k;
    if (*ref < 0) return true; /* only empty 1-d tensors: dim is not looked at */
    const ag_tensor *r = xs[*ref];
    if (!ag_check_dim(op, r->ndim, dim)) return false;
    for (int k = *ref + 1; k < n; k++) {
        const ag_tensor *x = xs[k];
        if (skipped(x)) continue;
        if (x->ndim != r->ndim) {
            AG_ERROR(op, "Tensors must have same number of dimensions: got %d and %d", r->ndim,
                     x->ndim);
            return false;
        }
        for (int d = 0; d < r->ndim; d++) {
            if (d != *dim && x->shape[d] != r->shape[d]) {
                AG_ERROR(op, "Sizes of tensors must match except in dimension %d. Expected "
                             "size %lld but got size %lld for tensor number %d in the list.",
                         *dim, (long long)r->shape[d], (long long)x->shape[d], k);
                return false;
            }
        }
    }
    return true;
}

ag_tensor *ag_cat(ag_tensor *const *xs, int n, int dim) {
    const char *op = "cat";
    int ref;
    if (!check_inputs(op, xs, n, &dim, &ref)) return NULL;
    ag_dtype dtype = xs[0]->dtype;
    for (int k = 1; k < n; k++) dtype = promote(dtype, xs[k]->dtype);
    ag_tensor *out;
    if (ref < 0) { /* every input is an empty 1-d tensor */
        out = ag_result(dtype, 1, (const int64_t[]){0});
        dim = 0;
    } else {
        int64_t shape[AG_MAX_DIMS];
        const ag_tensor *r = xs[ref];
        for (int d = 0; d < r->ndim; d++) shape[d] = r->shape[d];
        shape[dim] = 0;
        for (int k = 0; k < n; k++)
            if (!skipped(xs[k])) shape[dim] += xs[k]->shape[dim];
        out = ag_result(dtype, r->ndim, shape);
        if (!out || !cat_forward(xs, n, dim, out)) return NULL;
    }
    ag_node *node = ag_record(&cat_op, out, n, xs);
    if (node) node->iarg[0] = dim;
    return out;
}
