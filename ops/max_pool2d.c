/*
 * max_pool2d.c - 2-d max pooling, F.max_pool2d with dilation 1 and floor mode.
 *
 *   x: (N,C,H,W) or (C,H,W)   kernel (kH,kW)   stride (sH,sW)   padding (pH,pW) <= kernel / 2
 *   OH = floor((H + 2 pH - kH) / sH) + 1, OW likewise      out: (N,C,OH,OW) or (C,OH,OW)
 *   forward:  out[., i,j] = max of x[., h,v] over the window h in [i sH - pH, i sH - pH + kH),
 *             v in [j sW - pW, j sW - pW + kW), clipped to the image (padding never wins)
 *   backward: dx[., h,v] += g[., i,j] for the (h,v) that won window (i,j)   (scatter-add)
 * Each plane (one image's one channel) is pooled alone. As torch's CPU kernel, the window is
 * scanned row by row and a value wins only if it is greater than the maximum so far, so among
 * ties the first wins; a NaN always wins (the last NaN), so NaN propagates. The winner's flat
 * index in its plane (h W + v, torch's `indices`) is saved for backward: x is not.
 */
#include "autograd/internal.h"
#include "ops/nn_ops.h"
#include "ops/pool.h"

#include <math.h>

#define MAX_POOL2D_KERNELS(T)                                                                      \
    static void max_pool2d_forward_##T(const ag_pool *p, const T *x, T *y, int64_t *index) {       \
        for (int64_t plane = 0; plane < p->planes; plane++) {                                      \
            const T *xp = x + plane * p->h * p->w;                                                 \
            for (int64_t i = 0; i < p->oh; i++) {                                                  \
                for (int64_t j = 0; j < p->ow; j++) {                                              \
                    int64_t h0 = i * p->sh - p->ph, w0 = j * p->sw - p->pw;                        \
                    int64_t h1 = h0 + p->kh < p->h ? h0 + p->kh : p->h;                            \
                    int64_t w1 = w0 + p->kw < p->w ? w0 + p->kw : p->w;                            \
                    if (h0 < 0) h0 = 0;                                                            \
                    if (w0 < 0) w0 = 0;                                                            \
                    T best = -INFINITY;                                                            \
                    int64_t at = h0 * p->w + w0;                                                   \
                    for (int64_t h = h0; h < h1; h++)                                              \
                        for (int64_t v = w0; v < w1; v++)                                          \
                            if (xp[h * p->w + v] > best || isnan(xp[h * p->w + v])) {              \
                                best = xp[h * p->w + v];                                           \
                                at = h * p->w + v;                                                 \
                            }                                                                      \
                    int64_t o = (plane * p->oh + i) * p->ow + j;                                   \
                    y[o] = best;                                                                   \
                    index[o] = at;                                                                 \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    static void max_pool2d_backward_##T(const ag_pool *p, const T *g, const int64_t *index,        \
                                        T *dx) {                                                   \
        for (int64_t plane = 0; plane < p->planes; plane++)                                        \
            for (int64_t k = 0; k < p->oh * p->ow; k++) {                                          \
                int64_t o = plane * p->oh * p->ow + k;                                             \
                if (index[o] >= 0 && index[o] < p->h * p->w)                                       \
                    dx[plane * p->h * p->w + index[o]] += g[o];                                    \
            }                                                                                      \
    }
MAX_POOL2D_KERNELS(float)
MAX_POOL2D_KERNELS(double)

static void max_pool2d_backward(ag_node *node) {
    ag_tensor *index = ag_saved(node, 0);
    if (!index || !ag_needs_grad(node, 0)) return;
    const ag_tensor *x = node->inputs[0];
    ag_pool p = ag_pool_of(x, node->iarg);
    ag_tensor *g = ag_cast(node->grad, x->dtype),
              *dx = ag_result_zeros(x->dtype, x->ndim, x->shape);
    if (!g || !dx) return;
    if (x->dtype == AG_FLOAT32)
        max_pool2d_backward_float(&p, g->data, index->data, dx->data);
    else
        max_pool2d_backward_double(&p, g->data, index->data, dx->data);
    ag_accumulate(node, 0, dx);
}

static const ag_op max_pool2d_op = {
    .name = "MaxPool2DWithIndicesBackward0",
    .rule = "dx = g added at each window's argmax",
    .backward = max_pool2d_backward,
};

/* ---- checks: torch 1.13's max_pool2d_with_indices, in its order and words ----------------- */

static bool check_max_pool2d(const char *op, const ag_tensor *x, ag_pair k, ag_pair *s,
                             ag_pair pad) {
    if (!ag_check_tensor(op, x, "input")) return false;
    if (x->ndim != 3 && x->ndim != 4) {
        AG_ERROR(op, "non-empty 3D or 4D (batch mode) tensor expected for input");
        return false;
    }
    if (!ag_pool_check(op, x, k, s, pad)) return false;
    if (!ag_is_floating(x->dtype)) {
        AG_ERROR(op, "\"max_pool2d\" not implemented for '%s'",
                 x->dtype == AG_UINT8 ? "Byte" : "Long");
        return false;
    }
    return true;
}

ag_tensor *ag_max_pool2d(ag_tensor *input, ag_pair kernel, ag_pair stride, ag_pair padding) {
    ag_tensor *x = input;
    if (!check_max_pool2d("max_pool2d", x, kernel, &stride, padding)) return NULL;
    const int64_t args[6] = {kernel.h, kernel.w, stride.h, stride.w, padding.h, padding.w};
    ag_pool p = ag_pool_of(x, args);
    int64_t shape[4];
    ag_pool_out_shape(x, &p, shape);
    ag_tensor *out = ag_result(x->dtype, x->ndim, shape);
    ag_tensor *index = ag_result(AG_INT64, x->ndim, shape);
    if (!out || !index) return NULL;
    if (x->dtype == AG_FLOAT32)
        max_pool2d_forward_float(&p, x->data, out->data, index->data);
    else
        max_pool2d_forward_double(&p, x->data, out->data, index->data);
    ag_node *node = ag_record(&max_pool2d_op, out, 1, &x);
    if (node) {
        for (int a = 0; a < 6; a++)
            node->iarg[a] = args[a];
        ag_save(node, index);
    }
    return out;
}
