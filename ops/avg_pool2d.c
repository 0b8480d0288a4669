/*
 * avg_pool2d.c - 2-d average pooling, F.avg_pool2d with floor mode and count_include_pad=True
 * (torch's defaults).
 *
 *   x: (N,C,H,W) or (C,H,W)   kernel (kH,kW)   stride (sH,sW)   padding (pH,pW) <= kernel / 2
 *   OH = floor((H + 2 pH - kH) / sH) + 1, OW likewise      out: (N,C,OH,OW) or (C,OH,OW)
 *   forward:  out[., i,j] = (sum of x[., h,v] over the window clipped to the image) / d
 *   backward: dx[., h,v] += g[., i,j] / d for every window (i,j) that holds (h,v)
 * The window is h in [i sH - pH, i sH - pH + kH), v in [j sW - pW, j sW - pW + kW); its divisor
 * d counts the padding (count_include_pad) but not the part of the window past the padding, as
 * torch's kernel: d = (min(h0 + kH, H + pH) - h0) (min(v0 + kW, W + pW) - v0). So with
 * padding 0, d = kH kW everywhere. Each plane (one image's one channel) is pooled alone; the
 * sums run in the tensor's precision, as torch's CPU kernel. Nothing needs saving.
 */
#include "autograd/internal.h"
#include "ops/nn_ops.h"
#include "ops/pool.h"

/* Window (i, j) clipped to the image, [h0, h1) x [w0, w1), and its divisor; false if empty. */
static bool window(const ag_pool *p, int64_t i, int64_t j, int64_t *h0, int64_t *h1, int64_t *w0,
                   int64_t *w1, int64_t *divisor) {
    *h0 = i * p->sh - p->ph;
    *w0 = j * p->sw - p->pw;
    *h1 = *h0 + p->kh < p->h + p->ph ? *h0 + p->kh : p->h + p->ph;
    *w1 = *w0 + p->kw < p->w + p->pw ? *w0 + p->kw : p->w + p->pw;
    *divisor = (*h1 - *h0) * (*w1 - *w0);
    if (*h0 < 0) *h0 = 0;
    if (*w0 < 0) *w0 = 0;
    if (*h1 > p->h) *h1 = p->h;
    if (*w1 > p->w) *w1 = p->w;
    return *h0 < *h1 && *w0 < *w1;
}

#define AVG_POOL2D_KERNELS(T)                                                                      \
    static void avg_pool2d_forward_##T(const ag_pool *p, const T *x, T *y) {                       \
        for (int64_t plane = 0; plane < p->planes; plane++) {                                      \
            const T *xp = x + plane * p->h * p->w;                                                 \
            for (int64_t i = 0; i < p->oh; i++) {                                                  \
                for (int64_t j = 0; j < p->ow; j++) {                                              \
                    int64_t h0, h1, w0, w1, d;                                                     \
                    T sum = 0;                                                                     \
                    if (window(p, i, j, &h0, &h1, &w0, &w1, &d)) {                                 \
                        for (int64_t h = h0; h < h1; h++)                                          \
                            for (int64_t v = w0; v < w1; v++)                                      \
                                sum += xp[h * p->w + v];                                           \
                        sum = sum / (T)d;                                                          \
                    }                                                                              \
                    y[(plane * p->oh + i) * p->ow + j] = sum;                                      \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    static void avg_pool2d_backward_##T(const ag_pool *p, const T *g, T *dx) {                     \
        for (int64_t plane = 0; plane < p->planes; plane++) {                                      \
            T *dp = dx + plane * p->h * p->w;                                                      \
            for (int64_t i = 0; i < p->oh; i++) {                                                  \
                for (int64_t j = 0; j < p->ow; j++) {                                              \
                    int64_t h0, h1, w0, w1, d;                                                     \
                    if (!window(p, i, j, &h0, &h1, &w0, &w1, &d)) continue;                        \
                    T share = g[(plane * p->oh + i) * p->ow + j] / (T)d;                           \
                    for (int64_t h = h0; h < h1; h++)                                              \
                        for (int64_t v = w0; v < w1; v++)                                          \
                            dp[h * p->w + v] += share;                                             \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }
AVG_POOL2D_KERNELS(float)
AVG_POOL2D_KERNELS(double)

static void avg_pool2d_backward(ag_node *node) {
    if (!ag_needs_grad(node, 0)) return;
    const ag_tensor *x = node->inputs[0];
    ag_pool p = ag_pool_of(x, node->iarg);
    ag_tensor *g = ag_cast(node->grad, x->dtype),
              *dx = ag_result_zeros(x->dtype, x->ndim, x->shape);
    if (!g || !dx) return;
    if (x->dtype == AG_FLOAT32)
        avg_pool2d_backward_float(&p, g->data, dx->data);
    else
        avg_pool2d_backward_double(&p, g->data, dx->data);
    ag_accumulate(node, 0, dx);
}

static const ag_op avg_pool2d_op = {
    .name = "AvgPool2DBackward0",
    .rule = "dx = g / (window size) added to each element of the window",
    .backward = avg_pool2d_backward,
};

/* ---- checks: torch 1.13's avg_pool2d, in its order and words ------------------------------ */

static bool check_avg_pool2d(const char *op, const ag_tensor *x, ag_pair k, ag_pair *s,
                             ag_pair pad) {
    if (!ag_check_tensor(op, x, "input")) return false;
    if (x->ndim == 0) { /* torch reads input.size(-3) first */
        AG_ERROR(op, "Dimension specified as -3 but tensor has no dimensions");
        return false;
    }
    if (x->ndim < 3) {
        AG_ERROR(op, "Dimension out of range (expected to be in range of [%d, %d], but got -3)",
                 -x->ndim, x->ndim - 1);
        return false;
    }
    if (!ag_pool_check(op, x, k, s, pad)) return false;
    if (x->dtype == AG_UINT8) { /* (torch averages int64, which we do not) */
        AG_ERROR(op, "\"avg_pool2d\" not implemented for 'Byte'");
        return false;
    }
    return ag_check_floating(op, x);
}

ag_tensor *ag_avg_pool2d(ag_tensor *input, ag_pair kernel, ag_pair stride, ag_pair padding) {
    ag_tensor *x = input;
    if (!check_avg_pool2d("avg_pool2d", x, kernel, &stride, padding)) return NULL;
    const int64_t args[6] = {kernel.h, kernel.w, stride.h, stride.w, padding.h, padding.w};
    ag_pool p = ag_pool_of(x, args);
    int64_t shape[4];
    ag_pool_out_shape(x, &p, shape);
    ag_tensor *out = ag_result(x->dtype, x->ndim, shape);
    if (!out) return NULL;
    if (x->dtype == AG_FLOAT32)
        avg_pool2d_forward_float(&p, x->data, out->data);
    else
        avg_pool2d_forward_double(&p, x->data, out->data);
    ag_node *node = ag_record(&avg_pool2d_op, out, 1, &x);
    if (node)
        for (int a = 0; a < 6; a++)
            node->iarg[a] = args[a];
    return out;
}
