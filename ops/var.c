/*
 * var.c - the variance of all elements, or along one dim, with Bessel's correction c.
 *
 *   forward:  out = sum_k (x[k] - mean)^2 / max(0, N - c)     N elements, or N = size of dim
 *   backward: dx[k] += g * 2 (x[k] - mean) / (N - c)          g (and mean) kept along dim
 * c = 1 is torch's default (unbiased), c = 0 the population variance. When N - c <= 0 the
 * forward divides by 0, giving inf, or NaN where every deviation is 0 (torch, no warning); the
 * backward keeps the signed N - c, as torch does, so N - c < 0 gives finite gradients.
 *
 * Over everything with N == c, torch 1.13's backward is g * inf (the "2 / 0" of the formula,
 * without the deviations): it delivers that for a 0-d x, and fails its own shape check for
 * larger x ("VarBackward0 returned an invalid gradient"); here every element receives g * inf.
 * A 0-d x takes that path for var_dim too, as in torch.
 *
 * The forward is two-pass, the mean first and then the squared deviations from it, both
 * accumulated in double and rounded once to the tensor's dtype: the one-pass sum(x^2) -
 * N mean^2 loses every digit when the mean is large against the spread. Along dim, x is seen
 * as (outer, size, inner) (ag_split_dim).
 */
#include "autograd/internal.h"

#include <math.h>

static double get(const ag_tensor *x, int64_t i) {
    return x->dtype == AG_FLOAT32 ? (double)AG_F32(x)[i] : AG_F64(x)[i];
}

static void set(ag_tensor *t, int64_t i, double v) {
    if (t->dtype == AG_FLOAT32)
        AG_F32(t)[i] = (float)v;
    else
        AG_F64(t)[i] = v;
}

/* The variance of the size elements at x[at], x[at + inner], ...: two passes in double. */
static double var_of(const ag_tensor *x, int64_t at, int64_t size, int64_t inner,
                     int64_t correction) {
    double mean = 0, m2 = 0;
    for (int64_t k = 0; k < size; k++) mean += get(x, at + k * inner);
    mean /= (double)size; /* NaN for no elements: so is their variance */
    for (int64_t k = 0; k < size; k++) {
        double d = get(x, at + k * inner) - mean;
        m2 += d * d;
    }
    int64_t dof = size - correction;
    return m2 / (double)(dof > 0 ? dof : 0);
}

/* (x, dim, correction, keepdim) -> out; dim < 0 means over everything. */
static void var_forward(const ag_tensor *x, int dim, int64_t correction, ag_tensor *out) {
    if (dim < 0) {
        set(out, 0, var_of(x, 0, x->numel, 1, correction));
        return;
    }
    int64_t outer, size, inner;
    ag_split_dim(x, dim, &outer, &size, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            set(out, o * inner + i, var_of(x, o * size * inner + i, size, inner, correction));
}

/* g: (reduced shape) seen with dim kept as 1, so that it broadcasts against x. */
static ag_tensor *kept(ag_tensor *g, const ag_tensor *x, int dim, bool keepdim) {
    int64_t shape[AG_MAX_DIMS];
    if (keepdim || x->ndim == 0) return g;
    return ag_result_view(g, ag_reduced_shape(x, dim, true, shape), shape);
}

/* g * d var / dx, as torch's var_backward: (2 / (N - c)) g (x - mean). */
static ag_tensor *var_grad(ag_tensor *g, ag_tensor *x, int dim, int64_t correction,
                           bool keepdim) {
    bool all = dim < 0 || x->ndim == 0;
    int64_t dof = (all ? x->numel : x->shape[dim]) - correction;
    if (all && dof == 0) return ag_broadcast_to(ag_mul_scalar(g, INFINITY), x->ndim, x->shape);
    ag_tensor *mean = all ? ag_mean(x) : ag_mean_dim(x, dim, true);
    ag_tensor *gk = all ? g : kept(g, x, dim, keepdim);
    return ag_mul(ag_mul_scalar(gk, 2.0 / (double)dof), ag_sub(x, mean));
}

static void var_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0);
    if (!x) return;
    ag_accumulate(node, 0,
                  var_grad(node->grad, x, (int)node->iarg[0], node->iarg[1], node->iarg[2]));
}

static const ag_op var_op = {
    .name = "VarBackward0",
    .rule = "dx = g * 2 (x - mean) / (N - correction)",
    .backward = var_backward,
};

/* The checks and the work shared by ag_var (all: over everything) and ag_var_dim. */
static ag_tensor *var_reduce(ag_tensor *x, int dim, bool all, int correction, bool keepdim) {
    const char *op = "var";
    if (!ag_check_tensor(op, x, "input")) return NULL;
    if (x->dtype == AG_INT64) {
        AG_ERROR(op, "std and var only support floating point and complex dtypes");
        return NULL;
    }
    if (!all && !ag_check_dim(op, x->ndim, &dim)) return NULL;
    int64_t shape[AG_MAX_DIMS];
    int ndim = all ? 0 : ag_reduced_shape(x, dim, keepdim, shape);
    ag_tensor *out = ag_result(x->dtype, ndim, shape);
    if (!out) return NULL;
    var_forward(x, all ? -1 : dim, correction, out);
    ag_node *node = ag_record(&var_op, out, 1, &x);
    if (node) {
        ag_save(node, x);
        node->iarg[0] = all ? -1 : dim;
        node->iarg[1] = correction;
        node->iarg[2] = keepdim;
    }
    return out;
}

ag_tensor *ag_var(ag_tensor *x, int correction) {
    return var_reduce(x, -1, true, correction, false);
}

ag_tensor *ag_var_dim(ag_tensor *x, int dim, int correction, bool keepdim) {
    return var_reduce(x, dim, false, correction, keepdim);
}
