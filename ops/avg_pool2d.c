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
 *
 * The first NaN of a window is the one its mean carries (add_ says why that needs saying).
 *
 * Two kernels compute it, with the same numbers and the same bits: the general one, for any
 * kernel, stride and padding, and one for kernel 2x2, stride 2, no padding (AvgPool2d(2);
 * ag_pool_is_2x2), whose windows neither overlap nor clip, so that its backward writes dx
 * instead of adding into zeros. Both sum a row of windows at once where they can (each sum in
 * its own order still), which the compiler vectorises.
 */
#include "autograd/internal.h"
#include "ops/nn_ops.h"
#include "ops/pool.h"

#include <string.h>

/* Rows (or columns) [*lo, *hi) of window i of a dim of size n, kernel k, stride s, padding pd,
 * clipped to the image, and the window's extent counted as the divisor counts it: to the end
 * of the padding, not past it. (Never empty: see max_pool2d.c.) */
static inline int64_t span(int64_t i, int64_t n, int64_t k, int64_t s, int64_t pd, int64_t *lo,
                           int64_t *hi) {
    int64_t a = i * s - pd, b = a + k < n + pd ? a + k : n + pd, extent = b - a;
    *lo = a < 0 ? 0 : a;
    *hi = b > n ? n : b;
    return extent;
}

#define AVG_POOL2D_KERNELS(T)                                                                      \
    /* sum + e, where a NaN sum keeps its own NaN: the first NaN of a window is the one its mean   \
     * carries. (Of two NaNs, x86 returns the instruction's first operand, which the compiler      \
     * picks: `sum += e` in a plain loop gets sum there, in a vectorised one it may get e.) */     \
    static inline T add_##T(T sum, T e) {                                                          \
        return sum != sum ? sum : sum + e;                                                         \
    }                                                                                              \
    /* The sum of window [h0, h1) x [w0, w1) of plane xp: from 0, in row-major order. */           \
    static inline T sum_window_##T(const T *xp, int64_t W, int64_t h0, int64_t h1, int64_t w0,     \
                                   int64_t w1) {                                                   \
        T sum = 0;                                                                                 \
        for (int64_t h = h0; h < h1; h++)                                                          \
            for (int64_t v = w0; v < w1; v++)                                                      \
                sum = add_##T(sum, xp[h * W + v]);                                                 \
        return sum;                                                                                \
    }                                                                                              \
    /* The mean of window (i, j) of plane xp clipped to the image, given its rows: its sum over    \
     * its divisor, dh times the extent of its columns. */                                         \
    static inline T mean_clipped_##T(const ag_pool *p, const T *xp, int64_t h0, int64_t h1,        \
                                     int64_t dh, int64_t j) {                                      \
        int64_t w0, w1, dw = span(j, p->w, p->kw, p->sw, p->pw, &w0, &w1);                         \
        return sum_window_##T(xp, p->w, h0, h1, w0, w1) / (T)(dh * dw);                            \
    }                                                                                              \
    /* Windows [j0, j1) of row i, whose means y[j0..j1) a vectorised loop computed: those that     \
     * came out NaN are summed again one by one, with add_ (rare: a NaN in the window). */         \
    static void renan_##T(const ag_pool *p, const T *xp, int64_t i, T *y, int64_t j0,              \
                          int64_t j1) {                                                            \
        int any = 0;                                                                               \
        for (int64_t j = j0; j < j1; j++)                                                          \
            any |= y[j] != y[j];                                                                   \
        if (!any) return;                                                                          \
        int64_t h0, h1, dh = span(i, p->h, p->kh, p->sh, p->ph, &h0, &h1);                         \
        for (int64_t j = j0; j < j1; j++)                                                          \
            if (y[j] != y[j]) y[j] = mean_clipped_##T(p, xp, h0, h1, dh, j);                       \
    }                                                                                              \
    /* The general forward, a row of windows at a time. The windows the image's left or right      \
     * edge clips (the border) go one by one; the others (the interior, columns [lo, hi)) side     \
     * by side, element by element of the window: each sum still runs in row-major order, but      \
     * beside its neighbours' (and vectorised) instead of each addition waiting on the one         \
     * before. An interior window's columns are kW, all in the image. */                           \
    static void avg_pool2d_forward_##T(const ag_pool *p, const T *restrict x, T *restrict y) {     \
        const int64_t planes = p->planes, H = p->h, W = p->w, OH = p->oh, OW = p->ow;              \
        const int64_t kh = p->kh, kw = p->kw, sh = p->sh, sw = p->sw, ph = p->ph, pw = p->pw;      \
        int64_t lo = (pw + sw - 1) / sw, hi = W + pw >= kw ? (W + pw - kw) / sw + 1 : 0;           \
        hi = hi < OW ? hi : OW;                                                                    \
        lo = lo < hi ? lo : hi;                                                                    \
        for (int64_t plane = 0; plane < planes; plane++) {                                         \
            const T *xp = x + plane * H * W;                                                       \
            for (int64_t i = 0; i < OH; i++, y += OW) {                                            \
                int64_t h0, h1, dh = span(i, H, kh, sh, ph, &h0, &h1);                             \
                for (int64_t j = 0; j < lo; j++) /* the left border */                             \
                    y[j] = mean_clipped_##T(p, xp, h0, h1, dh, j);                                 \
                for (int64_t j = hi; j < OW; j++) /* the right border */                           \
                    y[j] = mean_clipped_##T(p, xp, h0, h1, dh, j);                                 \
                T *sum = y + lo; /* the interior */                                                \
                const T *first = xp + h0 * W + lo * sw - pw;                                       \
                for (int64_t j = 0; j < hi - lo; j++)                                              \
                    sum[j] = 0;                                                                    \
                for (int64_t h = h0; h < h1; h++)                                                  \
                    for (int64_t v = 0; v < kw; v++) {                                             \
                        const T *e_row = first + (h - h0) * W + v;                                 \
                        for (int64_t j = 0; j < hi - lo; j++)                                      \
                            sum[j] += e_row[j * sw];                                               \
                    }                                                                              \
                for (int64_t j = 0; j < hi - lo; j++)                                              \
                    sum[j] = sum[j] / (T)(dh * kw);                                                \
                renan_##T(p, xp, i, y, lo, hi);                                                    \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    /* The 2x2 forward: the same sums, (((0 + a) + b) + c) + d over a, b (row 2i) and c, d         \
     * (row 2i + 1), divided by 4 as the general kernel divides, over a row of windows at once,    \
     * which the compiler vectorises; NaN means again by renan. */                                 \
    static void avg_pool2d_forward_2x2_##T(const ag_pool *p, const T *restrict x,                  \
                                           T *restrict y) {                                        \
        const int64_t planes = p->planes, H = p->h, W = p->w, OH = p->oh, OW = p->ow;              \
        for (int64_t plane = 0; plane < planes; plane++)                                           \
            for (int64_t i = 0; i < OH; i++, y += OW) {                                            \
                const T *xp = x + plane * H * W, *u = xp + 2 * i * W, *l = u + W;                  \
                for (int64_t j = 0; j < OW; j++) {                                                 \
                    T sum = 0;                                                                     \
                    sum += u[2 * j];                                                               \
                    sum += u[2 * j + 1];                                                           \
                    sum += l[2 * j];                                                               \
                    sum += l[2 * j + 1];                                                           \
                    y[j] = sum / (T)4;                                                             \
                }                                                                                  \
                renan_##T(p, xp, i, y, 0, OW);                                                     \
            }                                                                                      \
    }                                                                                              \
    /* The general backward: dx (zeros) += g / divisor over each window, in the outputs' order. */ \
    static void avg_pool2d_backward_##T(const ag_pool *p, const T *restrict g, T *restrict dx) {   \
        const int64_t planes = p->planes, H = p->h, W = p->w, OH = p->oh, OW = p->ow;              \
        for (int64_t plane = 0; plane < planes; plane++, dx += H * W) {                            \
            for (int64_t i = 0; i < OH; i++, g += OW) {                                            \
                int64_t h0, h1, dh = span(i, H, p->kh, p->sh, p->ph, &h0, &h1);                    \
                for (int64_t j = 0; j < OW; j++) {                                                 \
                    int64_t w0, w1, dw = span(j, W, p->kw, p->sw, p->pw, &w0, &w1);                \
                    T share = g[j] / (T)(dh * dw);                                                 \
                    for (int64_t h = h0; h < h1; h++)                                              \
                        for (int64_t v = w0; v < w1; v++)                                          \
                            dx[h * W + v] += share;                                                \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    /* The 2x2 backward writes all of dx, uninitialised: each element of a window gets             \
     * 0 + g / 4 (what zeros += g / 4 gives), the odd last row and column, in no window, 0. */     \
    static void avg_pool2d_backward_2x2_##T(const ag_pool *p, const T *restrict g,                 \
                                            T *restrict dx) {                                      \
        const int64_t planes = p->planes, H = p->h, W = p->w, OH = p->oh, OW = p->ow;              \
        for (int64_t plane = 0; plane < planes; plane++) {                                         \
            for (int64_t i = 0; i < OH; i++, g += OW, dx += 2 * W) {                               \
                T *u = dx, *l = dx + W;                                                            \
                for (int64_t j = 0; j < OW; j++) {                                                 \
                    T share = (T)0 + g[j] / (T)4;                                                  \
                    u[2 * j] = u[2 * j + 1] = l[2 * j] = l[2 * j + 1] = share;                     \
                }                                                                                  \
                if (W % 2) u[W - 1] = l[W - 1] = 0;                                                \
            }                                                                                      \
            if (H % 2) {                                                                           \
                memset(dx, 0, (size_t)W * sizeof *dx);                                             \
                dx += W;                                                                           \
            }                                                                                      \
        }                                                                                          \
    }
AVG_POOL2D_KERNELS(float)
AVG_POOL2D_KERNELS(double)

static void avg_pool2d_backward(ag_node *node) {
    if (!ag_needs_grad(node, 0)) return;
    const ag_tensor *x = node->inputs[0];
    ag_pool p = ag_pool_of(x, node->iarg);
    bool fast = ag_pool_is_2x2(&p);
    ag_tensor *g = ag_cast(node->grad, x->dtype);
    ag_tensor *dx = fast ? ag_result_like(x)
                         : ag_result_zeros(x->dtype, x->ndim, x->shape);
    if (!g || !dx) return;
    if (x->dtype == AG_FLOAT32)
        (fast ? avg_pool2d_backward_2x2_float : avg_pool2d_backward_float)(&p, g->data, dx->data);
    else
        (fast ? avg_pool2d_backward_2x2_double : avg_pool2d_backward_double)(&p, g->data,
                                                                            dx->data);
    ag_accumulate_temp(node, 0, dx);
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
    bool fast = ag_pool_is_2x2(&p);
    if (x->dtype == AG_FLOAT32)
        (fast ? avg_pool2d_forward_2x2_float : avg_pool2d_forward_float)(&p, x->data, out->data);
    else
        (fast ? avg_pool2d_forward_2x2_double : avg_pool2d_forward_double)(&p, x->data, out->data);
    ag_node *node = ag_record(&avg_pool2d_op, out, 1, &x);
    if (node)
        for (int a = 0; a < 6; a++)
            node->iarg[a] = args[a];
    return out;
}
