/*
 * layer_norm.c - F.layer_norm: every row normalised to mean 0 and variance 1 over the last
 * k dims, then scaled and shifted per element.
 *
 *   x: (*, D1..Dk) seen as (M, N), N = D1...Dk     w, b: (D1..Dk) or NULL (1 and 0)
 *   forward:  mean[i] = (1/N) sum_j x[i,j]      var[i] = (1/N) sum_j (x[i,j] - mean[i])^2
 *             rstd[i] = 1 / sqrt(var[i] + eps)   xhat = (x - mean) rstd     y = xhat w + b
 *   backward: with gw = g w (per row):
 *             dx[i,j] += rstd[i] (gw[i,j] - mean_j gw[i,.] - xhat[i,j] mean_j (gw xhat)[i,.])
 *             dw[j]   += sum_i g[i,j] xhat[i,j]
 *             db[j]   += sum_i g[i,j]
 * The variance is the biased one (divided by N). As torch's CPU kernel, y is computed as
 * (x rstd - rstd mean) w + b in the tensor's precision; the row statistics are summed in
 * double and rounded to it. x, mean, rstd and w are saved.
 */
#include "autograd/internal.h"
#include "ops/nn_ops.h"

#include <math.h>

#define LAYER_NORM_KERNELS(T)                                                                      \
    static void layer_norm_forward_##T(int64_t m, int64_t n, const T *x, const T *w, const T *b,   \
                                       double eps, T *y, T *mean, T *rstd) {                       \
        for (int64_t i = 0; i < m; i++) {                                                          \
            const T *xi = x + i * n;                                                               \
            double s = 0, ss = 0;                                                                  \
            for (int64_t j = 0; j < n; j++)                                                        \
                s += xi[j];                                                                        \
            double mu = s / (double)n;                                                             \
            for (int64_t j = 0; j < n; j++)                                                        \
                ss += (xi[j] - mu) * (xi[j] - mu);                                                 \
            T mean_i = (T)mu, var_i = (T)(ss / (double)n);                                         \
            T rstd_i = (T)1 / (T)sqrt(var_i + (T)eps), shift = -rstd_i * mean_i;                   \
            for (int64_t j = 0; j < n; j++)                                                        \
                y[i * n + j] = (xi[j] * rstd_i + shift) * (w ? w[j] : (T)1) + (b ? b[j] : (T)0);   \
            mean[i] = mean_i;                                                                      \
            rstd[i] = rstd_i;                                                                      \
        }                                                                                          \
    }                                                                                              \
    /* dx, dw, db: zeroed, or NULL when not wanted */                                              \
    static void layer_norm_backward_##T(int64_t m, int64_t n, const T *x, const T *w,              \
                                        const T *mean, const T *rstd, const T *g, T *dx, T *dw,    \
                                        T *db) {                                                   \
        for (int64_t i = 0; i < m; i++) {                                                          \
            const T *xi = x + i * n, *gi = g + i * n;                                              \
            double s1 = 0, s2 = 0; /* sum gw, sum gw xhat */                                       \
            for (int64_t j = 0; j < n; j++) {                                                      \
                T xhat = (xi[j] - mean[i]) * rstd[i], gw = gi[j] * (w ? w[j] : (T)1);              \
                s1 += gw;                                                                          \
                s2 += gw * xhat;                                                                   \
                if (dw) dw[j] += gi[j] * xhat;                                                     \
                if (db) db[j] += gi[j];                                                            \
            }                                                                                      \
            T c1 = (T)(s1 / (double)n), c2 = (T)(s2 / (double)n);                                  \
            for (int64_t j = 0; dx && j < n; j++) {                                                \
                T xhat = (xi[j] - mean[i]) * rstd[i], gw = gi[j] * (w ? w[j] : (T)1);              \
                dx[i * n + j] = rstd[i] * (gw - c1 - xhat * c2);                                   \
            }                                                                                      \
        }                                                                                          \
    }
LAYER_NORM_KERNELS(float)
LAYER_NORM_KERNELS(double)

/* saved: x, mean, rstd, then w if there is one */
static void layer_norm_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0), *mean = ag_saved(node, 1), *rstd = ag_saved(node, 2);
    ag_tensor *w = node->nsaved > 3 ? ag_saved(node, 3) : NULL;
    if (!x || !mean || !rstd || (node->nsaved > 3 && !w)) return;
    ag_dtype dtype = x->dtype;
    int64_t m = mean->numel, n = m ? x->numel / m : 0;
    ag_tensor *g = ag_cast(node->grad, dtype);
    ag_tensor *dx = ag_needs_grad(node, 0) ? ag_result_zeros(dtype, x->ndim, x->shape) : NULL;
    ag_tensor *dw = ag_needs_grad(node, 1) ? ag_result_zeros(dtype, w->ndim, w->shape) : NULL;
    ag_tensor *db = NULL;
    if (ag_needs_grad(node, 2)) {
        const ag_tensor *b = node->inputs[2];
        db = ag_result_zeros(dtype, b->ndim, b->shape);
    }
    if (!g || (ag_needs_grad(node, 0) && !dx) || (ag_needs_grad(node, 1) && !dw) ||
        (ag_needs_grad(node, 2) && !db))
        return;
    if (dtype == AG_FLOAT32)
        layer_norm_backward_float(m, n, x->data, w ? w->data : NULL, mean->data, rstd->data,
                                  g->data, dx ? dx->data : NULL, dw ? dw->data : NULL,
                                  db ? db->data : NULL);
    else
        layer_norm_backward_double(m, n, x->data, w ? w->data : NULL, mean->data, rstd->data,
                                   g->data, dx ? dx->data : NULL, dw ? dw->data : NULL,
                                   db ? db->data : NULL);
    if (dx) ag_accumulate_temp(node, 0, dx);
    if (dw) ag_accumulate_temp(node, 1, dw);
    if (db) ag_accumulate_temp(node, 2, db);
}

static const ag_op layer_norm_op = {
    .name = "NativeLayerNormBackward0",
    .rule = "dx = rstd (g w - mean(g w) - xhat mean(g w xhat)), dw = sum g xhat, db = sum g",
    .backward = layer_norm_backward,
};

/* ---- checks: torch 1.13's, in its order and words ------------------------------------------ */


static bool same_shape(const ag_tensor *t, int ndim, const int64_t *shape) {
    if (t->ndim != ndim) return false;
    for (int d = 0; d < ndim; d++)
        if (t->shape[d] != shape[d]) return false;
    return true;
}

static bool check_layer_norm(const char *op, const ag_tensor *x, int k, const int64_t *shape,
                             const ag_tensor *w, const ag_tensor *b) {
    char s1[AG_SHAPE_STR], s2[AG_SHAPE_STR];
    if (!ag_check_tensor(op, x, "input")) return false;
    if (k < 1 || !shape) {
        AG_ERROR(op, "Expected normalized_shape to be at least 1-dimensional, i.e., containing "
                     "at least one element, but got normalized_shape = []");
        return false;
    }
    const char *names[2] = {"weight", "bias"};
    const ag_tensor *params[2] = {w, b};
    for (int p = 0; p < 2; p++) {
        if (params[p] && !same_shape(params[p], k, shape)) {
            AG_ERROR(op,
                     "Expected %s to be of same shape as normalized_shape, but got %s of "
                     "shape %s and normalized_shape = %s",
                     names[p], names[p], ag_shape_str(s1, params[p]->ndim, params[p]->shape),
                     ag_shape_str(s2, k, shape));
            return false;
        }
    }
    bool match = x->ndim >= k;
    for (int d = 0; match && d < k; d++)
        match = x->shape[x->ndim - k + d] == shape[d];
    if (!match) {
        char want[AG_SHAPE_STR] = "[*";
        size_t at = 2;
        for (int d = 0; d < k && at < sizeof want - 24; d++)
            at += (size_t)snprintf(want + at, sizeof want - at, ", %lld", (long long)shape[d]);
        snprintf(want + at, sizeof want - at, "]");
        AG_ERROR(op,
                 "Given normalized_shape=%s, expected input with shape %s, but got input of "
                 "size%s",
                 ag_shape_str(s1, k, shape), want, ag_shape_str(s2, x->ndim, x->shape));
        return false;
    }
    if (!ag_is_floating(x->dtype)) {
        AG_ERROR(op, "\"LayerNormKernelImpl\" not implemented for '%s'",
                 ag_scalar_type_name(x->dtype));
        return false;
    }
    for (int p = 0; p < 2; p++) {
        if (params[p] && params[p]->dtype != x->dtype) {
            AG_ERROR(op, "expected scalar type %s but found %s", ag_scalar_type_name(x->dtype),
                     ag_scalar_type_name(params[p]->dtype));
            return false;
        }
    }
    return true;
}

ag_tensor *ag_layer_norm(ag_tensor *input, int ndim, const int64_t *normalized_shape,
                         ag_tensor *weight, ag_tensor *bias, double eps) {
    ag_tensor *x = input, *w = weight, *b = bias;
    if (!check_layer_norm("layer_norm", x, ndim, normalized_shape, w, b)) return NULL;
    int64_t m = 1, n = 1; /* x as (M, N) */
    for (int d = 0; d < x->ndim; d++) {
        if (d < x->ndim - ndim)
            m *= x->shape[d];
        else
            n *= x->shape[d];
    }
    ag_tensor *y = ag_result_like(x);
    ag_tensor *mean = ag_result(x->dtype, 1, &m), *rstd = ag_result(x->dtype, 1, &m);
    if (!y || !mean || !rstd) return NULL;
    if (n == 0) { /* nothing to normalise: torch's statistics of an empty row */
        for (int64_t i = 0; i < m; i++) {
            if (x->dtype == AG_FLOAT32)
                AG_F32(mean)[i] = NAN, AG_F32(rstd)[i] = NAN;
            else
                AG_F64(mean)[i] = NAN, AG_F64(rstd)[i] = NAN;
        }
    } else if (x->dtype == AG_FLOAT32) {
        layer_norm_forward_float(m, n, x->data, w ? w->data : NULL, b ? b->data : NULL, eps,
                                 y->data, mean->data, rstd->data);
    } else {
        layer_norm_forward_double(m, n, x->data, w ? w->data : NULL, b ? b->data : NULL, eps,
                                  y->data, mean->data, rstd->data);
    }
    ag_node *node = ag_record(&layer_norm_op, y, 3, (ag_tensor *[]){x, w, b});
    ag_save(node, x);
    ag_save(node, mean);
    ag_save(node, rstd);
    ag_save(node, w);
    return y;
}
