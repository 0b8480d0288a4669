/*
 * extremum.c - max and min, written once (see ops/extremum.h; the math is in ops/max.c).
 *
 * NaN propagates, as in torch: a NaN wins over every number in both directions, the first NaN
 * is the one returned along dim, and over everything the NaNs share g as ties do. Along dim, x
 * is seen as (outer, size, inner) (ag_split_dim); the result and the indices are
 * (outer, inner). Values are compared as doubles (exact for float32) and copied, never
 * computed, so the result is exactly an element of x.
 */
#include "ops/extremum.h"


#include <math.h>
#include <string.h>

/* Whether v takes the place of the best so far, m: larger (for max) or smaller (for min), or
 * the first NaN. */
static bool beats(const ag_extremum *e, double v, double m) {
    return (e->largest ? v > m : v < m) || (isnan(v) && !isnan(m));
}

/* The position k of the first extremum of the size >= 1 elements x[at + k * inner]. */
static int64_t first_extremum(const ag_extremum *e, const ag_tensor *x, int64_t at, int64_t size,
                              int64_t inner) {
    int64_t best = 0;
    for (int64_t k = 1; k < size; k++)
        if (beats(e, ag_float_get(x, at + k * inner), ag_float_get(x, at + best * inner))) best = k;
    return best;
}

/* ---- over everything ---------------------------------------------------------------------- */

void ag_extremum_all_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0), *out = ag_saved(node, 1);
    if (!x || !out) return;
    ag_tensor *g = ag_cast(node->grad, x->dtype), *dx = ag_result_like(x);
    if (!g || !dx) return;
    double m = ag_float_get(out, 0);
    int64_t ties = 0;
    for (int64_t k = 0; k < x->numel; k++)
        ties += isnan(m) ? isnan(ag_float_get(x, k)) : ag_float_get(x, k) == m;
    /* g / T in the tensor's precision, as torch divides the float grad by the count */
    double share =
        x->dtype == AG_FLOAT32 ? (double)(AG_F32(g)[0] / (float)ties) : AG_F64(g)[0] / (double)ties;
    for (int64_t k = 0; k < x->numel; k++) {
        bool tied = isnan(m) ? isnan(ag_float_get(x, k)) : ag_float_get(x, k) == m;
        ag_float_set(dx, k, tied ? share : 0);
    }
    ag_accumulate_temp(node, 0, dx);
}

ag_tensor *ag_extremum_all(const ag_extremum *e, ag_tensor *x) {
    const char *op = e->name;
    if (!ag_check_tensor(op, x, "input") || !ag_check_floating(op, x)) return NULL;
    if (x->numel == 0) {
        AG_ERROR(op,
                 "%s(): Expected reduction dim to be specified for input.numel() == 0. "
                 "Specify the reduction dim with the 'dim' argument.",
                 op);
        return NULL;
    }
    ag_tensor *out = ag_result(x->dtype, 0, NULL);
    if (!out) return NULL;
    ag_float_set(out, 0, ag_float_get(x, first_extremum(e, x, 0, x->numel, 1)));
    ag_node *node = ag_record(e->all_op, out, 1, &x);
    ag_save(node, x);
    ag_save(node, out);
    return out;
}

/* ---- along one dim ------------------------------------------------------------------------ */

void ag_extremum_dim_backward(ag_node *node) {
    ag_tensor *idx = ag_saved(node, 0), *x = node->inputs[0];
    if (!idx) return;
    ag_tensor *g = ag_cast(node->grad, x->dtype), *dx = ag_result_like(x);
    if (!g || !dx) return;
    memset(dx->data, 0, (size_t)dx->numel * ag_dtype_size(dx->dtype));
    int64_t outer, size, inner;
    ag_split_dim(x, (int)node->iarg[0], &outer, &size, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            ag_float_set(dx, (o * size + AG_I64(idx)[o * inner + i]) * inner + i,
                         ag_float_get(g, o * inner + i));
    ag_accumulate_temp(node, 0, dx);
}

ag_tensor *ag_extremum_dim(const ag_extremum *e, ag_tensor *x, int dim, bool keepdim,
                           ag_tensor **indices) {
    const char *op = e->name;
    if (!ag_check_tensor(op, x, "input") || !ag_check_floating(op, x) ||
        !ag_check_dim(op, x->ndim, &dim))
        return NULL;
    if (x->ndim && x->shape[dim] == 0) {
        AG_ERROR(op, "%s(): Expected reduction dim %d to have non-zero size.", op, dim);
        return NULL;
    }
    int64_t shape[AG_MAX_DIMS], outer, size, inner;
    int ndim = ag_reduced_shape(x, dim, keepdim, shape);
    ag_tensor *out = ag_result(x->dtype, ndim, shape), *idx = ag_result(AG_INT64, ndim, shape);
    if (!out || !idx) return NULL;
    ag_split_dim(x, dim, &outer, &size, &inner);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t k = first_extremum(e, x, o * size * inner + i, size, inner);
            AG_I64(idx)[o * inner + i] = k;
            ag_float_set(out, o * inner + i, ag_float_get(x, (o * size + k) * inner + i));
        }
    }
    ag_node *node = ag_record(e->dim_op, out, 1, &x);
    if (node) {
        ag_save(node, idx);
        node->iarg[0] = dim;
        node->iarg[1] = keepdim;
    }
    if (indices) *indices = idx;
    return out;
}
