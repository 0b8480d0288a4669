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
 *
 * Two kernels compute it, with the same numbers and the same bits: the general one, for any
 * kernel, stride and padding, and one for kernel 2x2, stride 2, no padding (MaxPool2d(2),
 * nearly every convnet's; ag_pool_is_2x2). Both make the same comparisons in the same order,
 * over a row of windows at once where they can, which the compiler vectorises. Neither
 * branches on the data: "does e win?" is a select, not an if, since on real activations its
 * answer is a coin toss that a branch predictor cannot learn (but for the compiler's scalar
 * copy of some vectorised loops, run on rows only a few windows wide). A window is never
 * empty: padding <= kernel / 2 and the output size keep its first row and column in the image.
 */
#include "autograd/internal.h"
#include "ops/nn_ops.h"
#include "ops/pool.h"

#include <string.h>

/* Windows at a time of the 2x2 kernels: their codes (below) live on the stack. */
#define ROW_CHUNK 256
/* Elements of T in a vector of SSE2, x86-64's baseline: the 2x2 kernels run their vectorised
 * loops on whole vectors, so that no scalar rest (where ?: would branch) is left in them. */
#define VECTOR_OF(T) (16 / (int64_t)sizeof(T))

#define MAX_POOL2D_KERNELS(T, U)                                                                   \
    /* wins ? e : other. With bits, computed on the bits (U: T's size): a compiler turns a         \
     * scalar ?: on floats into a branch, this it cannot. Without, as ?:, which the vectoriser     \
     * turns into a blend of vectors (and which the bits would keep from vectorising in            \
     * double). bits is a constant in every call, so only one of the two is compiled. */           \
    static inline T select_##T(bool wins, T e, T other, bool bits) {                               \
        if (!bits) return wins ? e : other;                                                        \
        U mask = -(U)wins, eb, ob;                                                                 \
        memcpy(&eb, &e, sizeof eb);                                                                \
        memcpy(&ob, &other, sizeof ob);                                                            \
        ob = (eb & mask) | (ob & ~mask);                                                           \
        memcpy(&other, &ob, sizeof other);                                                         \
        return other;                                                                              \
    }                                                                                              \
    /* Window [h0, h1) x [w0, w1) of plane xp: its maximum, and its winner's index in *at.         \
     * Starting from the window's first element (what starting from -inf and scanning gives:       \
     * the first element always wins against -inf, or ties with it), each element e replaces       \
     * the best so far if e > best or e is NaN. */                                                 \
    static inline T max_window_##T(const T *xp, int64_t W, int64_t h0, int64_t h1, int64_t w0,     \
                                   int64_t w1, int64_t *at) {                                      \
        int64_t where = h0 * W + w0;                                                               \
        T best = xp[where];                                                                        \
        for (int64_t h = h0; h < h1; h++)                                                          \
            for (int64_t v = w0; v < w1; v++) {                                                    \
                T e = xp[h * W + v];                                                               \
                bool wins = (e > best) | (e != e);                                                 \
                best = select_##T(wins, e, best, true);                                            \
                where = wins ? h * W + v : where;                                                  \
            }                                                                                      \
        *at = where;                                                                               \
        return best;                                                                               \
    }                                                                                              \
    /* max_window of the window of rows [h0, h1), columns [w0, w0 + kw) clipped to the image. */   \
    static inline T max_clipped_##T(const T *xp, int64_t W, int64_t h0, int64_t h1, int64_t w0,    \
                                    int64_t kw, int64_t *at) {                                     \
        int64_t w1 = w0 + kw < W ? w0 + kw : W;                                                    \
        return max_window_##T(xp, W, h0, h1, w0 < 0 ? 0 : w0, w1, at);                             \
    }                                                                                              \
    /* One element of window j, e, against the window's best so far (max_window's step), for       \
     * windows side by side: the winner's offset from the window's first element is kept in        \
     * code[j], as a T. */                                                                         \
    static inline void max_step_##T(const T *e_row, int64_t sw, T *best, T *code, T offset,        \
                                    int64_t j, bool bits) {                                        \
        T e = e_row[j * sw];                                                                       \
        bool wins = (e > best[j]) | (e != e);                                                      \
        best[j] = select_##T(wins, e, best[j], bits);                                              \
        code[j] = select_##T(wins, offset, code[j], bits);                                         \
    }                                                                                              \
    /* The general forward, a row of windows at a time. The windows the image's left or right      \
     * edge clips (the border) go one by one (max_window); the others (the interior) side by       \
     * side, element by element of the window: each window still sees its elements in              \
     * row-major order, but its chain of comparisons runs beside its neighbours' (and              \
     * vectorises) instead of each comparison waiting on the one before. The winners' offsets      \
     * are kept as T, exact while below 2^24 (float), else the whole row goes one by one. */       \
    static void max_pool2d_forward_##T(const ag_pool *p, const T *restrict x, T *restrict y,       \
                                       int64_t *restrict index) {                                  \
        const int64_t planes = p->planes, H = p->h, W = p->w, OH = p->oh, OW = p->ow;              \
        const int64_t kh = p->kh, kw = p->kw, sh = p->sh, sw = p->sw, ph = p->ph, pw = p->pw;      \
        /* Selects on the bits in float: they vectorise there (?: would too, but the compiler's    \
         * scalar copy for short rows would branch); in double, ?: on whole vectors, which         \
         * vectorises where the bits do not. */                                                    \
        const bool bits = sizeof(T) == sizeof(float);                                              \
        int64_t lo = (pw + sw - 1) / sw, hi = W + pw >= kw ? (W + pw - kw) / sw + 1 : 0;           \
        hi = hi < OW ? hi : OW;                                                                    \
        lo = lo < hi ? lo : hi;                                                                    \
        const int64_t exact = (int64_t)1 << (sizeof(T) == sizeof(float) ? 24 : 53);                \
        if ((kh - 1) * W + kw - 1 > exact) lo = hi = 0;                                            \
        T code[ROW_CHUNK];                                                                         \
        for (int64_t plane = 0; plane < planes; plane++) {                                         \
            const T *xp = x + plane * H * W;                                                       \
            for (int64_t i = 0; i < OH; i++, y += OW, index += OW) {                               \
                int64_t h0 = i * sh - ph, h1 = h0 + kh < H ? h0 + kh : H;                          \
                if (h0 < 0) h0 = 0;                                                                \
                for (int64_t j = 0; j < lo; j++) /* the left border */                             \
                    y[j] = max_clipped_##T(xp, W, h0, h1, j * sw - pw, kw, &index[j]);             \
                for (int64_t j = hi; j < OW; j++) /* the right border */                           \
                    y[j] = max_clipped_##T(xp, W, h0, h1, j * sw - pw, kw, &index[j]);             \
                for (int64_t j0 = lo; j0 < hi; j0 += ROW_CHUNK) { /* the interior */               \
                    int64_t n = hi - j0 < ROW_CHUNK ? hi - j0 : ROW_CHUNK;                         \
                    int64_t whole = n & -(int64_t)VECTOR_OF(T), at = h0 * W + j0 * sw - pw;        \
                    T *best = y + j0;                                                              \
                    for (int64_t j = 0; j < n; j++)                                                \
                        best[j] = xp[at + j * sw], code[j] = 0;                                    \
                    for (int64_t h = h0; h < h1; h++)                                              \
                        for (int64_t v = h == h0; v < kw; v++) {                                   \
                            const T *e_row = xp + at + (h - h0) * W + v;                           \
                            T offset = (T)((h - h0) * W + v);                                      \
                            int64_t j = 0;                                                         \
                            for (; j < whole; j++)                                                 \
                                max_step_##T(e_row, sw, best, code, offset, j, bits);              \
                            for (; j < n; j++)                                                     \
                                max_step_##T(e_row, sw, best, code, offset, j, true);              \
                        }                                                                          \
                    for (int64_t j = 0; j < n; j++)                                                \
                        index[j0 + j] = at + j * sw + (int64_t)code[j];                            \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    /* Window j of a row of 2x2 windows, u[2j], u[2j + 1] (row 2i), l[2j], l[2j + 1] (row          \
     * 2i + 1), compared as in the general kernel: its maximum, and in *code the winner's place    \
     * in the window, 0..3, as a T (a T select vectorises, an int64 one does not on SSE2). */      \
    static inline T max4_##T(const T *u, const T *l, int64_t j, T *code, bool bits) {              \
        T b = u[2 * j + 1], c = l[2 * j], d = l[2 * j + 1], best = u[2 * j], k = 0;                \
        bool wins = (b > best) | (b != b);                                                         \
        best = select_##T(wins, b, best, bits), k = select_##T(wins, 1, k, bits);                  \
        wins = (c > best) | (c != c);                                                              \
        best = select_##T(wins, c, best, bits), k = select_##T(wins, 2, k, bits);                  \
        wins = (d > best) | (d != d);                                                              \
        best = select_##T(wins, d, best, bits), k = select_##T(wins, 3, k, bits);                  \
        *code = k;                                                                                 \
        return best;                                                                               \
    }                                                                                              \
    /* The 2x2 forward: a row of windows in two vectorised passes, the maxima and their codes      \
     * (whole vectors, then the odd rest on the bits), then the codes to flat indices: window      \
     * j's first element's index + 0, 1, W or W + 1, in int32 then widened. */                     \
    static void max_pool2d_forward_2x2_##T(const ag_pool *p, const T *restrict x,                  \
                                           T *restrict y, int64_t *restrict index) {               \
        const int64_t planes = p->planes, H = p->h, W = p->w, OH = p->oh, OW = p->ow;              \
        const int32_t w32 = (int32_t)W; /* < INT32_MAX (ag_pool_is_2x2) */                         \
        T code[ROW_CHUNK];                                                                         \
        for (int64_t plane = 0; plane < planes; plane++)                                           \
            for (int64_t i = 0; i < OH; i++, y += OW, index += OW) {                               \
                const T *r0 = x + (plane * H + 2 * i) * W, *r1 = r0 + W;                           \
                for (int64_t j0 = 0; j0 < OW; j0 += ROW_CHUNK) {                                   \
                    int64_t n = OW - j0 < ROW_CHUNK ? OW - j0 : ROW_CHUNK, j = 0;                  \
                    int64_t whole = n & -(int64_t)VECTOR_OF(T);                                    \
                    const T *u = r0 + 2 * j0, *l = r1 + 2 * j0;                                    \
                    T *yc = y + j0;                                                                \
                    for (; j < whole; j++)                                                         \
                        yc[j] = max4_##T(u, l, j, &code[j], false);                                \
                    for (; j < n; j++)                                                             \
                        yc[j] = max4_##T(u, l, j, &code[j], true);                                 \
                    int64_t *ic = index + j0, first = 2 * i * W + 2 * j0; /* u[0]'s index */       \
                    for (j = 0; j < n; j++) {                                                      \
                        int32_t k = (int32_t)code[j];                                              \
                        ic[j] = first + 2 * j + ((-(k >> 1) & w32) + (k & 1));                     \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
    }                                                                                              \
    /* The general backward: dx (zeros) += g at each window's winner, in the outputs' order. */    \
    static void max_pool2d_backward_##T(const ag_pool *p, const T *restrict g,                     \
                                        const int64_t *restrict index, T *restrict dx) {           \
        const int64_t planes = p->planes, size = p->h * p->w, outs = p->oh * p->ow;                \
        for (int64_t plane = 0; plane < planes; plane++, g += outs, index += outs, dx += size)     \
            for (int64_t o = 0; o < outs; o++)                                                     \
                if (index[o] >= 0 && index[o] < size) dx[index[o]] += g[o];                        \
    }                                                                                              \
    /* Window j of a row of 2x2 windows (as max4), given its gradient share and its winner's       \
     * code: share to the winner, 0 to the others. Vectorised, by selects; scalar, by the          \
     * winner's address, since the compiler makes branches of a scalar `k == 0 ? share : 0`,       \
     * even on the bits. (Either way only the window is written, whatever k.) */                   \
    static inline void scatter4_##T(T *u, T *l, int64_t j, T share, T k, bool scalar) {            \
        if (scalar) {                                                                              \
            int32_t place = (int32_t)k;                                                            \
            u[2 * j] = u[2 * j + 1] = l[2 * j] = l[2 * j + 1] = 0;                                 \
            (place >= 2 ? l : u)[2 * j + (place & 1)] = share;                                     \
            return;                                                                                \
        }                                                                                          \
        u[2 * j] = k == 0 ? share : 0;                                                             \
        u[2 * j + 1] = k == 1 ? share : 0;                                                         \
        l[2 * j] = k == 2 ? share : 0;                                                             \
        l[2 * j + 1] = k == 3 ? share : 0;                                                         \
    }                                                                                              \
    /* The 2x2 backward writes all of dx, uninitialised: each element of a window gets 0 + g       \
     * (what zeros += g gives, -0 included) if it won, else 0, and the odd last row and column,    \
     * in no window, get 0. As the forward, in two vectorised passes over a row of windows:        \
     * each winner's code from its index, then dx. */                                              \
    static void max_pool2d_backward_2x2_##T(const ag_pool *p, const T *restrict g,                 \
                                            const int64_t *restrict index, T *restrict dx) {       \
        const int64_t planes = p->planes, H = p->h, W = p->w, OH = p->oh, OW = p->ow;              \
        const int32_t w32 = (int32_t)W; /* < INT32_MAX (ag_pool_is_2x2) */                         \
        T code[ROW_CHUNK];                                                                         \
        for (int64_t plane = 0; plane < planes; plane++) {                                         \
            for (int64_t i = 0; i < OH; i++, g += OW, index += OW, dx += 2 * W) {                  \
                for (int64_t j0 = 0; j0 < OW; j0 += ROW_CHUNK) {                                   \
                    int64_t n = OW - j0 < ROW_CHUNK ? OW - j0 : ROW_CHUNK, j = 0;                  \
                    int64_t whole = n & -(int64_t)VECTOR_OF(T);                                    \
                    const int64_t *ic = index + j0, first = 2 * i * W + 2 * j0;                    \
                    for (j = 0; j < n; j++) {                                                      \
                        int32_t at = (int32_t)(ic[j] - first - 2 * j); /* 0, 1, W or W + 1 */      \
                        int32_t low = -(at >= w32);                    /* in row 2i + 1 */         \
                        code[j] = (T)((low & 2) + (at - (low & w32)));                             \
                    }                                                                              \
                    const T *gc = g + j0;                                                          \
                    T *u = dx + 2 * j0, *l = u + W;                                                \
                    for (j = 0; j < whole; j++)                                                    \
                        scatter4_##T(u, l, j, (T)0 + gc[j], code[j], false);                       \
                    for (; j < n; j++)                                                             \
                        scatter4_##T(u, l, j, (T)0 + gc[j], code[j], true);                        \
                }                                                                                  \
                if (W % 2) dx[W - 1] = dx[2 * W - 1] = 0;                                          \
            }                                                                                      \
            if (H % 2) {                                                                           \
                memset(dx, 0, (size_t)W * sizeof *dx);                                             \
                dx += W;                                                                           \
            }                                                                                      \
        }                                                                                          \
    }
MAX_POOL2D_KERNELS(float, uint32_t)
MAX_POOL2D_KERNELS(double, uint64_t)

static void max_pool2d_backward(ag_node *node) {
    ag_tensor *index = ag_saved(node, 0);
    if (!index || !ag_needs_grad(node, 0)) return;
    const ag_tensor *x = node->inputs[0];
    ag_pool p = ag_pool_of(x, node->iarg);
    bool fast = ag_pool_is_2x2(&p);
    ag_tensor *g = ag_cast(node->grad, x->dtype);
    ag_tensor *dx = fast ? ag_result_like(x)
                         : ag_result_zeros(x->dtype, x->ndim, x->shape);
    if (!g || !dx) return;
    if (x->dtype == AG_FLOAT32)
        (fast ? max_pool2d_backward_2x2_float : max_pool2d_backward_float)(&p, g->data,
                                                                          index->data, dx->data);
    else
        (fast ? max_pool2d_backward_2x2_double : max_pool2d_backward_double)(&p, g->data,
                                                                            index->data, dx->data);
    ag_accumulate_temp(node, 0, dx);
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
    bool fast = ag_pool_is_2x2(&p);
    if (x->dtype == AG_FLOAT32)
        (fast ? max_pool2d_forward_2x2_float : max_pool2d_forward_float)(&p, x->data, out->data,
                                                                        index->data);
    else
        (fast ? max_pool2d_forward_2x2_double : max_pool2d_forward_double)(&p, x->data, out->data,
                                                                          index->data);
    ag_node *node = ag_record(&max_pool2d_op, out, 1, &x);
    if (node) {
        for (int a = 0; a < 6; a++)
            node->iarg[a] = args[a];
        ag_save(node, index);
    }
    return out;
}
