/*
 * max.c - the largest element: over everything (a 0-d value), or along one dim (the values and
 * the int64 indices where they sit).
 *
 *   max(x)         forward:  out = max_k x[k]                        x: any shape, numel > 0
 *                  backward: dx[k] += g / T where x[k] == out, else 0    T: how many tie for it
 *   max(x, dim)    forward:  out[o,i] = x[o, idx[o,i], i]    idx[o,i]: the first position of
 *                                                            the max along dim
 *                  backward: dx[o, idx[o,i], i] += g[o,i], 0 elsewhere
 * NaN propagates, as in torch: a NaN wins over every number, the first NaN is the one
 * returned along dim, and over everything the NaNs share g as ties do. Over everything g is
 * split evenly among all tied maxima (torch's evenly_distribute_backward, grad_fn
 * MaxBackward1); along dim it goes only to the index returned, the first one (MaxBackward0).
 * Along dim, x is seen as (outer, size, inner) (ag_split_dim); out and idx are (outer, inner).
 */
#include "autograd/internal.h"

#include <math.h>
#include <string.h>

static double get(const ag_tensor *x, int64_t i) {
    return x->dtype == AG_FLOAT32 ? (double)AG_F32(x)[i] : AG_F64(x)[i];
}

static void set(ag_tensor *t, int64_t i, double v) {
    if (t->dtype == AG_FLOAT32)
        AG_F32(t)[i] = (float)v;
    else
        AG_F64(t)[i] = v;
}

/* Whether v takes the place of the best so far, m: larger, or the first NaN. */
static bool beats(double v, double m) { return v > m || (isnan(v) && !isnan(m)); }

/* The position k of the first maximum of the size >= 1 elements x[at + k * inner]. */
static int64_t first_max(const ag_tensor *x, int64_t at, int64_t size, int64_t inner) {
    int64_t best = 0;
    for (int64_t k = 1; k < size; k++)
        if (beats(get(x, at + k * inner), get(x, at + best * inner))) best = k;
    return best;
}

/* ---- over everything ---------------------------------------------------------------------- */

static void max_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0), *out = ag_saved(node, 1);
    if (!x || !out) return;
    ag_tensor *g = ag_cast(node->grad, x->dtype), *dx = ag_result_like(x);
    if (!g || !dx) return;
    double m = get(out, 0);
    int64_t ties = 0;
    for (int64_t k = 0; k < x->numel; k++) ties += isnan(m) ? isnan(get(x, k)) : get(x, k) == m;
    /* g / T in the tensor's precision, as torch divides the float grad by the count */
    double share = x->dtype == AG_FLOAT32 ? (double)(AG_F32(g)[0] / (float)ties)
                                          : AG_F64(g)[0] / (double)ties;
    for (int64_t k = 0; k < x->numel; k++) {
        bool tied = isnan(m) ? isnan(get(x, k)) : get(x, k) == m;
        set(dx, k, tied ? share : 0);
    }
    ag_accumulate(node, 0, dx);
}

static const ag_op max_op = {
    .name = "MaxBackward1",
    .rule = "dx = g / T where x == max (T ties), 0 elsewhere",
    .backward = max_backward,
};

ag_tensor *ag_max(ag_tensor *x) {
    const char *op = "max";
    if (!ag_check_tensor(op, x, "input") || !ag_check_floating(op, x)) return NULL;
    if (x->numel == 0) {
        AG_ERROR(op, "max(): Expected reduction dim to be specified for input.numel() == 0. "
                     "Specify the reduction dim with the 'dim' argument.");
        return NULL;
    }
    ag_tensor *out = ag_result(x->dtype, 0, NULL);
    if (!out) return NULL;
    set(out, 0, get(x, first_max(x, 0, x->numel, 1)));
    ag_node *node = ag_record(&max_op, out, 1, &x);
    ag_save(node, x);
    ag_save(node, out);
    return out;
}

/* ---- along one dim ------------------------------------------------------------------------ */

static void max_dim_backward(ag_node *node) {
    ag_tensor *idx = ag_saved(node, 0), *x = node->inputs[0];
    if (!idx) return;
    ag_tensor *g = ag_cast(node->grad, x->dtype), *dx = ag_result_like(x);
    if (!g || !dx) return;
    memset(dx->data, 0, (size_t)dx->numel * ag_dtype_size(dx->dtype));
    int64_t outer, size, inner;
    ag_split_dim(x, (int)node->iarg[0], &outer, &size, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            set(dx, (o * size + AG_I64(idx)[o * inner + i]) * inner + i, get(g, o * inner + i));
    ag_accumulate(node, 0, dx);
}

static const ag_op max_dim_op = {
    .name = "MaxBackward0",
    .rule = "dx = g at the index of the max along dim, 0 elsewhere",
    .backward = max_dim_backward,
};

ag_tensor *ag_max_dim(ag_tensor *x, int dim, bool keepdim, ag_tensor **indices) {
    const char *op = "max";
    if (!ag_check_tensor(op, x, "input") || !ag_check_floating(op, x) ||
        !ag_check_dim(op, x->ndim, &dim))
        return NULL;
    if (x->ndim && x->shape[dim] == 0) {
        AG_ERROR(op, "max(): Expected reduction dim %d to have non-zero size.", dim);
        return NULL;
    }
    int64_t shape[AG_MAX_DIMS], outer, size, inner;
    int ndim = ag_reduced_shape(x, dim, keepdim, shape);
    ag_tensor *out = ag_result(x->dtype, ndim, shape), *idx = ag_result(AG_INT64, ndim, shape);
    if (!out || !idx) return NULL;
    ag_split_dim(x, dim, &outer, &size, &inner);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t k = first_max(x, o * size * inner + i, size, inner);
            AG_I64(idx)[o * inner + i] = k;
            set(out, o * inner + i, get(x, (o * size + k) * inner + i));
        }
    }
    ag_node *node = ag_record(&max_dim_op, out, 1, &x);
    if (node) {
        ag_save(node, idx);
        node->iarg[0] = dim;
        node->iarg[1] = keepdim;
    }
    if (indices) *indices = idx;
    return out;
}
