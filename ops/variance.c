/*
 * variance.c - var and std, written once (see ops/variance.h; the math is in ops/var.c and
 * ops/std.c).
 *
 * The forward is two-pass, the mean first and then the squared deviations from it, both
 * accumulated in double and rounded once to the tensor's dtype (for std, after the square
 * root, also taken in double, as torch does): the one-pass sum(x^2) - N mean^2 loses every
 * digit when the mean is large against the spread. Along dim, x is seen as
 * (outer, size, inner) (ag_split_dim).
 */
#include "ops/variance.h"


#include <math.h>

/* The variance of the size elements at x[at], x[at + inner], ...: two passes in double. */
static double variance_of(const ag_tensor *x, int64_t at, int64_t size, int64_t inner,
                          int64_t correction) {
    double mean = 0, m2 = 0;
    for (int64_t k = 0; k < size; k++)
        mean += ag_float_get(x, at + k * inner);
    mean /= (double)size; /* NaN for no elements: so is their variance */
    for (int64_t k = 0; k < size; k++) {
        double d = ag_float_get(x, at + k * inner) - mean;
        m2 += d * d;
    }
    int64_t dof = size - correction;
    return m2 / (double)(dof > 0 ? dof : 0);
}

/* (x, dim, correction) -> out, its square root with root; dim < 0 means over everything. */
static void variance_forward(const ag_tensor *x, int dim, int64_t correction, bool root,
                             ag_tensor *out) {
    if (dim < 0) {
        double v = variance_of(x, 0, x->numel, 1, correction);
        ag_float_set(out, 0, root ? sqrt(v) : v);
        return;
    }
    int64_t outer, size, inner;
    ag_split_dim(x, dim, &outer, &size, &inner);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            double v = variance_of(x, o * size * inner + i, size, inner, correction);
            ag_float_set(out, o * inner + i, root ? sqrt(v) : v);
        }
    }
}

ag_tensor *ag_variance_kept(ag_tensor *t, const ag_tensor *x, int dim, bool keepdim) {
    int64_t shape[AG_MAX_DIMS];
    if (dim < 0 || keepdim || x->ndim == 0) return t;
    return ag_result_view(t, ag_reduced_shape(x, dim, true, shape), shape);
}

ag_tensor *ag_variance_grad(ag_tensor *gv, ag_tensor *x, int dim, int64_t correction) {
    bool all = dim < 0 || x->ndim == 0;
    int64_t dof = (all ? x->numel : x->shape[dim]) - correction;
    if (all && dof == 0) return ag_broadcast_to(ag_mul_scalar(gv, INFINITY), x->ndim, x->shape);
    ag_tensor *mean = all ? ag_mean(x) : ag_mean_dim(x, dim, true);
    return ag_mul(ag_mul_scalar(gv, 2.0 / (double)dof), ag_sub(x, mean));
}

ag_tensor *ag_variance_reduce(const ag_variance_kind *kind, ag_tensor *x, int dim, bool all,
                              int correction, bool keepdim) {
    const char *op = kind->name;
    if (!ag_check_tensor(op, x, "input")) return NULL;
    if (!ag_is_floating(x->dtype)) {
        AG_ERROR(op, "std and var only support floating point and complex dtypes");
        return NULL;
    }
    if (!all && !ag_check_dim(op, x->ndim, &dim)) return NULL;
    int64_t shape[AG_MAX_DIMS];
    int ndim = all ? 0 : ag_reduced_shape(x, dim, keepdim, shape);
    ag_tensor *out = ag_result(x->dtype, ndim, shape);
    if (!out) return NULL;
    variance_forward(x, all ? -1 : dim, correction, kind->root, out);
    ag_node *node = ag_record(kind->op, out, 1, &x);
    if (node) {
        ag_save(node, x);
        if (kind->root) ag_save(node, out);
        node->iarg[0] = all ? -1 : dim;
        node->iarg[1] = correction;
        node->iarg[2] = keepdim;
    }
    return out;
}
