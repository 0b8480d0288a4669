/*
 * std.c - the standard deviation of all elements, or along one dim, with Bessel's correction c.
 *
 *   forward:  out = sqrt(sum_k (x[k] - mean)^2 / max(0, N - c))   N elements, or size of dim
 *   backward: dx[k] += g (x[k] - mean) / ((N - c) out)            0 where out == 0
 * The backward is var's (ops/var.c) applied to g / (2 out): torch's std_backward, which sets
 * that to 0 where out == 0 (all elements equal) rather than dividing 0 by 0. N - c <= 0 behaves
 * as in var: inf or NaN forward, the signed N - c backward, and g * inf over everything when
 * N == c (where torch 1.13 fails its own shape check, see var.c).
 *
 * The forward is var's two-pass sum in double; the square root is taken in double too and
 * the result rounded once, as torch does.
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

/* The std of the size elements at x[at], x[at + inner], ...: two passes in double. */
static double std_of(const ag_tensor *x, int64_t at, int64_t size, int64_t inner,
                     int64_t correction) {
    double mean = 0, m2 = 0;
    for (int64_t k = 0; k < size; k++) mean += get(x, at + k * inner);
    mean /= (double)size; /* NaN for no elements: so is their std */
    for (int64_t k = 0; k < size; k++) {
        double d = get(x, at + k * inner) - mean;
        m2 += d * d;
    }
    int64_t dof = size - correction;
    return sqrt(m2 / (double)(dof > 0 ? dof : 0));
}

/* (x, dim, correction) -> out; dim < 0 means over everything. */
static void std_forward(const ag_tensor *x, int dim, int64_t correction, ag_tensor *out) {
    if (dim < 0) {
        set(out, 0, std_of(x, 0, x->numel, 1, correction));
        return;
    }
    int64_t outer, size, inner;
    ag_split_dim(x, dim, &outer, &size, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            set(out, o * inner + i, std_of(x, o * size * inner + i, size, inner, correction));
}

/* g: (reduced shape) seen with dim kept as 1, so that it broadcasts against x. */
static ag_tensor *kept(ag_tensor *g, const ag_tensor *x, int dim, bool keepdim) {
    int64_t shape[AG_MAX_DIMS];
    if (dim < 0 || keepdim || x->ndim == 0) return g;
    return ag_result_view(g, ag_reduced_shape(x, dim, true, shape), shape);
}

/* a = g, b = std: g / (2 std), and 0 where std == 0 (torch's masked_fill) */
AG_BINARY_KERNEL(std_share_kernel, b == 0 ? 0 : a / (b * 2));

/* gv * d var / dx, as var.c's var_grad: (2 / (N - c)) gv (x - mean); gv already kept. */
static ag_tensor *var_grad(ag_tensor *gv, ag_tensor *x, int dim, int64_t correction) {
    bool all = dim < 0 || x->ndim == 0;
    int64_t dof = (all ? x->numel : x->shape[dim]) - correction;
    if (all && dof == 0) return ag_broadcast_to(ag_mul_scalar(gv, INFINITY), x->ndim, x->shape);
    ag_tensor *mean = all ? ag_mean(x) : ag_mean_dim(x, dim, true);
    return ag_mul(ag_mul_scalar(gv, 2.0 / (double)dof), ag_sub(x, mean));
}

static void std_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0), *out = ag_saved(node, 1);
    if (!x || !out) return;
    int dim = (int)node->iarg[0];
    bool keepdim = node->iarg[2];
    ag_tensor *gv = ag_binary_map("std_backward", &std_share_kernel,
                                  kept(node->grad, x, dim, keepdim), kept(out, x, dim, keepdim));
    ag_accumulate(node, 0, gv ? var_grad(gv, x, dim, node->iarg[1]) : NULL);
}

static const ag_op std_op = {
    .name = "StdBackward0",
    .rule = "dx = g (x - mean) / ((N - correction) std), 0 where std == 0",
    .backward = std_backward,
};

/* The checks and the work shared by ag_std (all: over everything) and ag_std_dim. */
static ag_tensor *std_reduce(ag_tensor *x, int dim, bool all, int correction, bool keepdim) {
    const char *op = "std";
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
    std_forward(x, all ? -1 : dim, correction, out);
    ag_node *node = ag_record(&std_op, out, 1, &x);
    if (node) {
        ag_save(node, x);
        ag_save(node, out);
        node->iarg[0] = all ? -1 : dim;
        node->iarg[1] = correction;
        node->iarg[2] = keepdim;
    }
    return out;
}

ag_tensor *ag_std(ag_tensor *x, int correction) {
    return std_reduce(x, -1, true, correction, false);
}

ag_tensor *ag_std_dim(ag_tensor *x, int dim, int correction, bool keepdim) {
    return std_reduce(x, dim, false, correction, keepdim);
}
