/*
 * batch_norm.c - F.batch_norm: every channel normalised over the batch (and the positions),
 * then scaled and shifted per channel; in training, the running statistics are updated.
 *
 *   x: (N, C) or (N, C, *) seen as (N, C, S)     w, b: (C) or NULL (1 and 0)
 *   training:   mean[c] = (1/K) sum_{n,s} x[n,c,s]      K = N S values per channel
 *               var[c]  = (1/K) sum_{n,s} (x[n,c,s] - mean[c])^2          (biased)
 *               running_mean = (1 - momentum) running_mean + momentum mean
 *               running_var  = (1 - momentum) running_var + momentum var K / (K - 1)  (unbiased)
 *   evaluation: mean = running_mean, var = running_var (nothing is updated)
 *   forward:    invstd = 1 / sqrt(var + eps)   xhat = (x - mean) invstd   y = xhat w + b
 *   backward:   training:   dx = w invstd (g - mean_{n,s} g - xhat mean_{n,s} (g xhat))
 *               evaluation: dx = w invstd g         (the statistics are constants)
 *               dw[c] += sum_{n,s} g xhat      db[c] += sum_{n,s} g
 * As torch's CPU kernels: the sums run in double and are rounded to the tensor's precision,
 * y is computed as x alpha + beta with alpha = invstd w and beta = b - mean alpha, and the
 * running statistics are updated in the tensor's precision. x, mean, invstd and w are saved.
 */
#include "autograd/internal.h"
#include "ops/nn_ops.h"

#include <math.h>

/* x as (N, C, S) */
typedef struct planes {
    int64_t n, c, s;
} planes;

static planes planes_of(const ag_tensor *x) {
    planes p = {x->shape[0], x->shape[1], 1};
    for (int d = 2; d < x->ndim; d++)
        p.s *= x->shape[d];
    return p;
}

#define BATCH_NORM_KERNELS(T)                                                                      \
    /* The batch's mean and invstd per channel, and the running statistics updated (if any). */    \
    static void batch_stats_##T(planes p, const T *x, double momentum, double eps, T *mean,        \
                                T *invstd, T *running_mean, T *running_var) {                      \
        int64_t k = p.n * p.s;                                                                     \
        T mom = (T)momentum;                                                                       \
        for (int64_t c = 0; c < p.c; c++) {                                                        \
            double sum = 0, var_sum = 0;                                                           \
            for (int64_t n = 0; n < p.n; n++)                                                      \
                for (int64_t s = 0; s < p.s; s++)                                                  \
                    sum += x[(n * p.c + c) * p.s + s];                                             \
            T mu = (T)(sum / (double)k);                                                           \
            for (int64_t n = 0; n < p.n; n++)                                                      \
                for (int64_t s = 0; s < p.s; s++) {                                                \
                    T d = x[(n * p.c + c) * p.s + s] - mu;                                         \
                    var_sum += d * d;                                                              \
                }                                                                                  \
            T vs = (T)var_sum;                                                                     \
            mean[c] = mu;                                                                          \
            invstd[c] = (T)(1 / sqrt((double)(vs / (T)k) + eps));                                  \
            if (running_mean) running_mean[c] = mom * mu + (1 - mom) * running_mean[c];            \
            if (running_var) {                                                                     \
                double unbiased = vs / (T)(k - 1);                                                 \
                running_var[c] = (T)(mom * unbiased + (1 - mom) * running_var[c]);                 \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    static void batch_norm_forward_##T(planes p, const T *x, const T *w, const T *b,               \
                                       const T *mean, const T *invstd, T *y) {                     \
        for (int64_t c = 0; c < p.c; c++) {                                                        \
            T alpha = invstd[c] * (w ? w[c] : (T)1);                                               \
            T beta = (b ? b[c] : (T)0) - mean[c] * alpha;                                          \
            for (int64_t n = 0; n < p.n; n++)                                                      \
                for (int64_t s = 0; s < p.s; s++) {                                                \
                    int64_t at = (n * p.c + c) * p.s + s;                                          \
                    y[at] = x[at] * alpha + beta;                                                  \
                }                                                                                  \
        }                                                                                          \
    }                                                                                              \
    /* dx, dw, db: NULL when not wanted */                                                         \
    static void batch_norm_backward_##T(planes p, bool training, const T *x, const T *w,           \
                                        const T *mean, const T *invstd, const T *g, T *dx, T *dw,  \
                                        T *db) {                                                   \
        int64_t k = p.n * p.s;                                                                     \
        for (int64_t c = 0; c < p.c; c++) {                                                        \
            double sum = 0, dotp = 0; /* sum g, sum (x - mean) g */                                \
            for (int64_t n = 0; n < p.n; n++)                                                      \
                for (int64_t s = 0; s < p.s; s++) {                                                \
                    int64_t at = (n * p.c + c) * p.s + s;                                          \
                    sum += g[at];                                                                  \
                    dotp += (x[at] - mean[c]) * g[at];                                             \
                }                                                                                  \
            T scale = invstd[c] * (w ? w[c] : (T)1);                                               \
            T proj = (T)dotp * invstd[c] * invstd[c] / (T)k, g_mean = (T)(sum / (double)k);        \
            for (int64_t n = 0; dx && n < p.n; n++)                                                \
                for (int64_t s = 0; s < p.s; s++) {                                                \
                    int64_t at = (n * p.c + c) * p.s + s;                                          \
                    if (training)                                                                  \
                        dx[at] = (g[at] - g_mean - (x[at] - mean[c]) * proj) * scale;              \
                    else                                                                           \
                        dx[at] = g[at] * scale;                                                    \
                }                                                                                  \
            if (dw) dw[c] = (T)dotp * invstd[c];                                                   \
            if (db) db[c] = (T)sum;                                                                \
        }                                                                                          \
    }
BATCH_NORM_KERNELS(float)
BATCH_NORM_KERNELS(double)

/* saved: x, mean, invstd, then w if there is one; iarg[0]: training */
static void batch_norm_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0), *mean = ag_saved(node, 1), *invstd = ag_saved(node, 2);
    ag_tensor *w = node->nsaved > 3 ? ag_saved(node, 3) : NULL;
    if (!x || !mean || !invstd || (node->nsaved > 3 && !w)) return;
    ag_dtype dtype = x->dtype;
    planes p = planes_of(x);
    ag_tensor *g = ag_cast(node->grad, dtype);
    ag_tensor *dx = ag_needs_grad(node, 0) ? ag_result_shaped(dtype, x) : NULL;
    ag_tensor *dw = ag_needs_grad(node, 1) ? ag_result(dtype, 1, &p.c) : NULL;
    ag_tensor *db = ag_needs_grad(node, 2) ? ag_result(dtype, 1, &p.c) : NULL;
    if (!g || (ag_needs_grad(node, 0) && !dx) || (ag_needs_grad(node, 1) && !dw) ||
        (ag_needs_grad(node, 2) && !db))
        return;
    bool training = node->iarg[0];
    if (dtype == AG_FLOAT32)
        batch_norm_backward_float(p, training, x->data, w ? w->data : NULL, mean->data,
                                  invstd->data, g->data, dx ? dx->data : NULL, dw ? dw->data : NULL,
                                  db ? db->data : NULL);
    else
        batch_norm_backward_double(p, training, x->data, w ? w->data : NULL, mean->data,
                                   invstd->data, g->data, dx ? dx->data : NULL,
                                   dw ? dw->data : NULL, db ? db->data : NULL);
    if (dx) ag_accumulate_temp(node, 0, dx);
    if (dw) ag_accumulate_temp(node, 1, dw);
    if (db) ag_accumulate_temp(node, 2, db);
}

static const ag_op batch_norm_op = {
    .name = "NativeBatchNormBackward0",
    .rule = "dx = w invstd (g - mean(g) - xhat mean(g xhat)) (training), dw = sum g xhat, "
            "db = sum g",
    .backward = batch_norm_backward,
};

/* ---- checks: torch 1.13's F.batch_norm, in its order and words ----------------------------- */


static bool check_batch_norm(const char *op, const ag_tensor *x, const ag_tensor *const *stats,
                             bool training) {
    static const char *names[4] = {"running_mean", "running_var", "weight", "bias"};
    char buf[AG_SHAPE_STR];
    if (!ag_check_tensor(op, x, "input") || !ag_check_floating(op, x)) return false;
    if (x->ndim < 2) {
        AG_ERROR(op, "expected 2D or more input (got %dD input)", x->ndim);
        return false;
    }
    planes p = planes_of(x);
    if (training && p.n * p.s == 1) {
        AG_ERROR(op,
                 "Expected more than 1 value per channel when training, got input size "
                 "torch.Size(%s)",
                 ag_shape_str(buf, x->ndim, x->shape));
        return false;
    }
    for (int k = 0; k < 4; k++) {
        const ag_tensor *t = stats[k];
        if (!t && k < 2 && !training) {
            AG_ERROR(op, "%s must be defined in evaluation mode", names[k]);
            return false;
        }
        if (t && t->numel != p.c) {
            AG_ERROR(op, "%s should contain %lld elements not %lld", names[k], (long long)p.c,
                     (long long)t->numel);
            return false;
        }
    }
    for (int k = 0; k < 4; k++) {
        const ag_tensor *t = stats[k];
        if (t && t->dtype != x->dtype && k < 2) {
            AG_ERROR(op, "expected scalar type %s but found %s", ag_scalar_type_name(x->dtype),
                     ag_scalar_type_name(t->dtype));
            return false;
        }
        if (t && t->dtype != x->dtype) {
            AG_ERROR(op, "mixed dtype (CPU): expect parameter to have scalar type of %s",
                     ag_scalar_type_name(x->dtype));
            return false;
        }
    }
    return true;
}

ag_tensor *ag_batch_norm(ag_tensor *input, ag_tensor *running_mean, ag_tensor *running_var,
                         ag_tensor *weight, ag_tensor *bias, bool training, double momentum,
                         double eps) {
    ag_tensor *x = input, *w = weight, *b = bias, *rm = running_mean, *rv = running_var;
    if (!check_batch_norm("batch_norm", x, (const ag_tensor *[]){rm, rv, w, b}, training))
        return NULL;
    planes p = planes_of(x);
    ag_dtype dtype = x->dtype;
    ag_tensor *y = ag_result_like(x);
    ag_tensor *mean = ag_result_zeros(dtype, 1, &p.c), *invstd = ag_result_zeros(dtype, 1, &p.c);
    if (!y || !mean || !invstd) return NULL;
    if (training && x->numel) { /* torch leaves the running statistics alone on empty input */
        if (dtype == AG_FLOAT32)
            batch_stats_float(p, x->data, momentum, eps, mean->data, invstd->data,
                              rm ? rm->data : NULL, rv ? rv->data : NULL);
        else
            batch_stats_double(p, x->data, momentum, eps, mean->data, invstd->data,
                               rm ? rm->data : NULL, rv ? rv->data : NULL);
        if (rm) ag_bump_version(rm);
        if (rv) ag_bump_version(rv);
    } else if (!training) {
        for (int64_t c = 0; c < p.c; c++) {
            if (dtype == AG_FLOAT32) {
                AG_F32(mean)[c] = AG_F32(rm)[c];
                AG_F32(invstd)[c] = 1 / sqrtf(AG_F32(rv)[c] + (float)eps);
            } else {
                AG_F64(mean)[c] = AG_F64(rm)[c];
                AG_F64(invstd)[c] = 1 / sqrt(AG_F64(rv)[c] + eps);
            }
        }
    }
    if (dtype == AG_FLOAT32)
        batch_norm_forward_float(p, x->data, w ? w->data : NULL, b ? b->data : NULL, mean->data,
                                 invstd->data, y->data);
    else
        batch_norm_forward_double(p, x->data, w ? w->data : NULL, b ? b->data : NULL, mean->data,
                                  invstd->data, y->data);
    ag_node *node = ag_record(&batch_norm_op, y, 3, (ag_tensor *[]){x, w, b});
    if (node) {
        node->iarg[0] = training;
        ag_save(node, x);
        ag_save(node, mean);
        ag_save(node, invstd);
        ag_save(node, w);
    }
    return y;
}
