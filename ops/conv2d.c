/*
 * conv2d.c - 2-d convolution, F.conv2d with dilation 1 and groups 1 (a cross-correlation, as
 * in torch: the kernel is not flipped).
 *
 *   x: (N,C,H,W)  w: (O,C,kH,kW)  b: (O) or NULL  stride (sH,sW)  padding (pH,pW)
 *   OH = (H + 2 pH - kH) / sH + 1,  OW = (W + 2 pW - kW) / sW + 1        out: (N,O,OH,OW)
 *   forward:  out[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] x[n,c, i sH - pH + p, j sW - pW + q]
 *             where x reads as 0 outside its H x W (the padding)
 *   backward: dx[n,c,h,v] += sum of g[n,o,i,j] w[o,c,p,q] over the (o,i,j,p,q) reading (h,v)
 *             dw[o,c,p,q] += sum_{n,i,j} g[n,o,i,j] x[n,c, i sH - pH + p, j sW - pW + q]
 *             db[o]       += sum_{n,i,j} g[n,o,i,j]
 *
 * Two kernels compute it. The reference is the formulas above as direct loops, in the tensors'
 * precision; ag_conv2d_reference runs it, forward and backward. The fast path lays each image
 * out as columns (im2col): cols (C kH kW, OH OW) holds in row (c,p,q) and column (i,j) the
 * input element that w[., c,p,q] meets at output (i,j). Then each step is one OpenBLAS gemm,
 * whose transpose flags give every transpose without a copy:
 *   out[n]  (O, OH OW)      = b + w (O, C kH kW) @ cols
 *   dw      (O, C kH kW)   += g[n] (O, OH OW) @ cols^T
 *   dcols   (C kH kW, OH OW) = w^T @ g[n],  then dx[n] += col2im(dcols), the scatter-add
 *                              that is im2col's adjoint
 * The column buffers are tape memory, reused after a reset. Input and weight are saved.
 */
#include "autograd/internal.h"
#include "ops/gemm.h"
#include "ops/nn_ops.h"

#include <limits.h>

/* The sizes of one convolution. */
typedef struct geometry {
    int64_t n, c, h, w;     /* input (N, C, H, W) */
    int64_t o, kh, kw;      /* weight (O, C, kH, kW) */
    int64_t sh, sw, ph, pw; /* stride and padding */
    int64_t oh, ow;         /* output (N, O, OH, OW) */
} geometry;

static geometry make_geometry(const ag_tensor *x, const ag_tensor *w, ag_pair stride,
                              ag_pair padding) {
    geometry g = {
        .n = x->shape[0],
        .c = x->shape[1],
        .h = x->shape[2],
        .w = x->shape[3],
        .o = w->shape[0],
        .kh = w->shape[2],
        .kw = w->shape[3],
        .sh = stride.h,
        .sw = stride.w,
        .ph = padding.h,
        .pw = padding.w,
    };
    g.oh = (g.h + 2 * g.ph - g.kh) / g.sh + 1;
    g.ow = (g.w + 2 * g.pw - g.kw) / g.sw + 1;
    return g;
}

/* ---- the kernels, written once for T = float and T = double ------------------------------- */

/* The outputs j in [*j0, *j1) of a row whose input column j sW - pW + q lies inside 0 .. W-1:
 * the others read the padding. */
static void inside_columns(const geometry *g, int64_t q, int64_t *j0, int64_t *j1) {
    int64_t lo = g->pw - q, hi = g->w + g->pw - q; /* j sW must lie in [lo, hi) */
    *j0 = lo <= 0 ? 0 : (lo + g->sw - 1) / g->sw;
    *j1 = hi <= 0 ? 0 : (hi + g->sw - 1) / g->sw;
    if (*j1 > g->ow) *j1 = g->ow;
    if (*j0 > *j1) *j0 = *j1;
}

#define CONV2D_KERNELS(T)                                                                          \
    /* cols (C kH kW, OH OW) from one image x (C, H, W): each row of cols, output row by output \
     * row, is a run of x's row ih (strided by sW) between zeros of the padding */                \
    static void im2col_##T(const geometry *g, const T *x, T *cols) {                               \
        for (int64_t c = 0; c < g->c; c++)                                                         \
            for (int64_t p = 0; p < g->kh; p++)                                                    \
                for (int64_t q = 0; q < g->kw; q++) {                                              \
                    T *row = cols + ((c * g->kh + p) * g->kw + q) * g->oh * g->ow;                 \
                    int64_t j0, j1, sw = g->sw;                                                    \
                    inside_columns(g, q, &j0, &j1);                                                \
                    for (int64_t i = 0; i < g->oh; i++) {                                          \
                        T *out = row + i * g->ow;                                                  \
                        int64_t ih = i * g->sh - g->ph + p;                                        \
                        if (ih < 0 || ih >= g->h) {                                                \
                            for (int64_t j = 0; j < g->ow; j++)                                    \
                                out[j] = 0;                                                        \
                            continue;                                                              \
                        }                                                                          \
                        int64_t at = (c * g->h + ih) * g->w + q - g->pw; /* x[at + j sW] */        \
                        for (int64_t j = 0; j < j0; j++)                                           \
                            out[j] = 0;                                                            \
                        if (sw == 1)                                                               \
                            for (int64_t j = j0; j < j1; j++)                                      \
                                out[j] = x[at + j];                                                \
                        else                                                                       \
                            for (int64_t j = j0; j < j1; j++)                                      \
                                out[j] = x[at + j * sw];                                           \
                        for (int64_t j = j1; j < g->ow; j++)                                       \
                            out[j] = 0;                                                            \
                    }                                                                              \
                }                                                                                  \
    }                                                                                              \
    /* dx (C, H, W) += cols put back where im2col took each element from */                        \
    static void col2im_##T(const geometry *g, const T *cols, T *dx) {                              \
        for (int64_t c = 0; c < g->c; c++)                                                         \
            for (int64_t p = 0; p < g->kh; p++)                                                    \
                for (int64_t q = 0; q < g->kw; q++) {                                              \
                    const T *row = cols + ((c * g->kh + p) * g->kw + q) * g->oh * g->ow;           \
                    int64_t j0, j1, sw = g->sw;                                                    \
                    inside_columns(g, q, &j0, &j1);                                                \
                    for (int64_t i = 0; i < g->oh; i++) {                                          \
                        int64_t ih = i * g->sh - g->ph + p;                                        \
                        if (ih < 0 || ih >= g->h) continue;                                        \
                        const T *in = row + i * g->ow;                                             \
                        int64_t at = (c * g->h + ih) * g->w + q - g->pw; /* dx[at + j sW] */       \
                        if (sw == 1)                                                               \
                            for (int64_t j = j0; j < j1; j++)                                      \
                                dx[at + j] += in[j];                                               \
                        else                                                                       \
                            for (int64_t j = j0; j < j1; j++)                                      \
                                dx[at + j * sw] += in[j];                                          \
                    }                                                                              \
                }                                                                                  \
    }                                                                                              \
    /* The reference forward: the formula, one output element at a time. */                        \
    static void reference_forward_##T(const geometry *g, const T *x, const T *w, const T *b,       \
                                      T *out) {                                                    \
        for (int64_t n = 0; n < g->n; n++)                                                         \
            for (int64_t o = 0; o < g->o; o++)                                                     \
                for (int64_t i = 0; i < g->oh; i++)                                                \
                    for (int64_t j = 0; j < g->ow; j++) {                                          \
                        T sum = b ? b[o] : 0;                                                      \
                        for (int64_t c = 0; c < g->c; c++)                                         \
                            for (int64_t p = 0; p < g->kh; p++)                                    \
                                for (int64_t q = 0; q < g->kw; q++) {                              \
                                    int64_t ih = i * g->sh - g->ph + p,                            \
                                            iw = j * g->sw - g->pw + q;                            \
                                    if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;    \
                                    sum += w[((o * g->c + c) * g->kh + p) * g->kw + q] *           \
                                           x[((n * g->c + c) * g->h + ih) * g->w + iw];            \
                                }                                                                  \
                        out[((n * g->o + o) * g->oh + i) * g->ow + j] = sum;                       \
                    }                                                                              \
    }                                                                                              \
    /* The reference backward: each output's gradient handed to what made it. dx, dw, db are       \
     * zeroed (or NULL: not wanted). */                                                            \
    static void reference_backward_##T(const geometry *g, const T *x, const T *w, const T *gy,     \
                                       T *dx, T *dw, T *db) {                                      \
        for (int64_t n = 0; n < g->n; n++)                                                         \
            for (int64_t o = 0; o < g->o; o++)                                                     \
                for (int64_t i = 0; i < g->oh; i++)                                                \
                    for (int64_t j = 0; j < g->ow; j++) {                                          \
                        T go = gy[((n * g->o + o) * g->oh + i) * g->ow + j];                       \
                        if (db) db[o] += go;                                                       \
                        for (int64_t c = 0; c < g->c; c++)                                         \
                            for (int64_t p = 0; p < g->kh; p++)                                    \
                                for (int64_t q = 0; q < g->kw; q++) {                              \
                                    int64_t ih = i * g->sh - g->ph + p,                            \
                                            iw = j * g->sw - g->pw + q;                            \
                                    if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;    \
                                    int64_t at_x = ((n * g->c + c) * g->h + ih) * g->w + iw;       \
                                    int64_t at_w = ((o * g->c + c) * g->kh + p) * g->kw + q;       \
                                    if (dx) dx[at_x] += go * w[at_w];                              \
                                    if (dw) dw[at_w] += go * x[at_x];                              \
                                }                                                                  \
                    }                                                                              \
    }
CONV2D_KERNELS(float)
CONV2D_KERNELS(double)

static void im2col(ag_dtype dtype, const geometry *g, const void *x, void *cols) {
    if (dtype == AG_FLOAT32)
        im2col_float(g, x, cols);
    else
        im2col_double(g, x, cols);
}

static void col2im(ag_dtype dtype, const geometry *g, const void *cols, void *dx) {
    if (dtype == AG_FLOAT32)
        col2im_float(g, cols, dx);
    else
        col2im_double(g, cols, dx);
}

/* ---- forward ------------------------------------------------------------------------------ */

static ag_tensor *conv2d_forward(const geometry *g, const ag_tensor *x, const ag_tensor *w,
                                 const ag_tensor *b, bool reference) {
    ag_tensor *out = ag_result(x->dtype, 4, (const int64_t[]){g->n, g->o, g->oh, g->ow});
    if (!out) return NULL;
    if (reference) {
        if (x->dtype == AG_FLOAT32)
            reference_forward_float(g, x->data, w->data, b ? b->data : NULL, out->data);
        else
            reference_forward_double(g, x->data, w->data, b ? b->data : NULL, out->data);
        return out;
    }
    size_t size = ag_dtype_size(x->dtype);
    int64_t rows = g->c * g->kh * g->kw, cols = g->oh * g->ow;
    void *buf = out->numel ? ag_tape_alloc((size_t)(rows * cols + 1) * size) : NULL;
    if (out->numel && !buf) return NULL;
    for (int64_t n = 0; n < g->n; n++) {
        char *outn = (char *)out->data + (size_t)(n * g->o * cols) * size;
        /* out[n] starts as the bias (or 0), and the gemm adds w @ cols to it (beta 1) */
        for (int64_t o = 0; o < g->o; o++) {
            if (x->dtype == AG_FLOAT32) {
                float v = b ? AG_F32(b)[o] : 0.0f, *row = (float *)outn + o * cols;
                for (int64_t l = 0; l < cols; l++)
                    row[l] = v;
            } else {
                double v = b ? AG_F64(b)[o] : 0.0, *row = (double *)outn + o * cols;
                for (int64_t l = 0; l < cols; l++)
                    row[l] = v;
            }
        }
        im2col(x->dtype, g, (const char *)x->data + (size_t)(n * g->c * g->h * g->w) * size, buf);
        ag_gemm(x->dtype, false, false, g->o, cols, rows, w->data, buf, 1.0, outn);
    }
    return out;
}

/* ---- backward ----------------------------------------------------------------------------- */

/* iarg: stride h, w, padding h, w, and 1 for the reference kernels. */
static void conv2d_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0), *w = ag_saved(node, 1);
    if (!x || !w) return;
    ag_pair stride = {node->iarg[0], node->iarg[1]}, padding = {node->iarg[2], node->iarg[3]};
    geometry g = make_geometry(x, w, stride, padding);
    ag_tensor *gy = ag_cast(node->grad, x->dtype);
    if (!gy) return;
    ag_dtype dtype = x->dtype;
    ag_tensor *dx = ag_needs_grad(node, 0) ? ag_result_zeros(dtype, 4, x->shape) : NULL;
    ag_tensor *dw = ag_needs_grad(node, 1) ? ag_result_zeros(dtype, 4, w->shape) : NULL;
    ag_tensor *db = ag_needs_grad(node, 2) ? ag_result_zeros(dtype, 1, &g.o) : NULL;
    if ((ag_needs_grad(node, 0) && !dx) || (ag_needs_grad(node, 1) && !dw) ||
        (ag_needs_grad(node, 2) && !db))
        return;

    if (node->iarg[4]) {
        if (dtype == AG_FLOAT32)
            reference_backward_float(&g, x->data, w->data, gy->data, dx ? dx->data : NULL,
                                     dw ? dw->data : NULL, db ? db->data : NULL);
        else
            reference_backward_double(&g, x->data, w->data, gy->data, dx ? dx->data : NULL,
                                      dw ? dw->data : NULL, db ? db->data : NULL);
    } else {
        size_t size = ag_dtype_size(dtype);
        int64_t rows = g.c * g.kh * g.kw, cols = g.oh * g.ow;
        void *buf = gy->numel ? ag_tape_alloc((size_t)(rows * cols + 1) * size) : NULL;
        if (gy->numel && !buf) return;
        for (int64_t n = 0; n < g.n && gy->numel; n++) {
            const char *gn = (const char *)gy->data + (size_t)(n * g.o * cols) * size;
            size_t image = (size_t)(n * g.c * g.h * g.w) * size;
            if (dw) { /* dw += g[n] @ cols^T */
                im2col(dtype, &g, (const char *)x->data + image, buf);
                ag_gemm(dtype, false, true, g.o, rows, cols, gn, buf, 1.0, dw->data);
            }
            if (dx) { /* dcols = w^T @ g[n], scattered back into dx[n] */
                ag_gemm(dtype, true, false, rows, cols, g.o, w->data, gn, 0.0, buf);
                col2im(dtype, &g, buf, (char *)dx->data + image);
            }
        }
        for (int64_t o = 0; db && o < g.o; o++) { /* summed in double, rounded once */
            double s = 0;
            for (int64_t n = 0; n < g.n; n++) {
                int64_t at = (n * g.o + o) * cols;
                if (dtype == AG_FLOAT32)
                    for (int64_t l = 0; l < cols; l++)
                        s += AG_F32(gy)[at + l];
                else
                    for (int64_t l = 0; l < cols; l++)
                        s += AG_F64(gy)[at + l];
            }
            ag_float_set(db, o, s);
        }
    }
    if (dx) ag_accumulate_temp(node, 0, dx);
    if (dw) ag_accumulate_temp(node, 1, dw);
    if (db) ag_accumulate_temp(node, 2, db);
}

static const ag_op conv2d_op = {
    .name = "ConvolutionBackward0",
    .rule = "dx = g correlated back through w, dw = g correlated with x, db = sum g",
    .backward = conv2d_backward,
};

/* ---- checks: torch 1.13's, in the order F.conv2d reaches them ------------------------------ */

static const char *type_name(ag_dtype dtype) { return dtype == AG_FLOAT32 ? "float" : "double"; }

static bool check_conv2d(const char *op, const ag_tensor *x, const ag_tensor *w, const ag_tensor *b,
                         ag_pair stride, ag_pair padding) {
    char s1[AG_SHAPE_STR], s2[AG_SHAPE_STR];
    if (!ag_check_tensor(op, x, "input") || !ag_check_tensor(op, w, "weight") ||
        !ag_check_floating(op, x) || !ag_check_floating(op, w) || (b && !ag_check_floating(op, b)))
        return false;
    if (b && b->dtype != x->dtype) {
        AG_ERROR(op, "Input type (%s) and bias type (%s) should be the same", type_name(x->dtype),
                 type_name(b->dtype));
        return false;
    }
    if (w->ndim < 3) {
        AG_ERROR(op, "weight should have at least three dimensions");
        return false;
    }
    if (w->ndim != 4) {
        AG_ERROR(op,
                 "expected stride to be a single integer value or a list of %d values to match "
                 "the convolution dimensions, but got stride=[%lld, %lld]",
                 w->ndim - 2, (long long)stride.h, (long long)stride.w);
        return false;
    }
    if (padding.h < 0 || padding.w < 0) {
        AG_ERROR(op, "negative padding is not supported");
        return false;
    }
    if (stride.h <= 0 || stride.w <= 0) {
        AG_ERROR(op, "non-positive stride is not supported");
        return false;
    }
    if (x->ndim != 4) {
        AG_ERROR(op,
                 "Expected 4-dimensional input for 4-dimensional weight %s, but got "
                 "%d-dimensional input of size %s instead",
                 ag_shape_str(s1, 4, w->shape), x->ndim, ag_shape_str(s2, x->ndim, x->shape));
        return false;
    }
    if (w->shape[0] < 1) {
        AG_ERROR(op,
                 "Given groups=1, expected weight to be at least 1 at dimension 0, but got "
                 "weight of size %s instead",
                 ag_shape_str(s1, 4, w->shape));
        return false;
    }
    if (x->shape[1] != w->shape[1]) {
        AG_ERROR(op,
                 "Given groups=1, weight of size %s, expected input%s to have %lld channels, but "
                 "got %lld channels instead",
                 ag_shape_str(s1, 4, w->shape), ag_shape_str(s2, 4, x->shape),
                 (long long)w->shape[1], (long long)x->shape[1]);
        return false;
    }
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0])) {
        AG_ERROR(op,
                 "Given weight of size %s, expected bias to be 1-dimensional with %lld elements, "
                 "but got bias of size %s instead",
                 ag_shape_str(s1, 4, w->shape), (long long)w->shape[0],
                 ag_shape_str(s2, b->ndim, b->shape));
        return false;
    }
    long long ph = x->shape[2] + 2 * padding.h, pw = x->shape[3] + 2 * padding.w;
    if (ph < w->shape[2] || pw < w->shape[3]) {
        AG_ERROR(op,
                 "Calculated padded input size per channel: (%lld x %lld). Kernel size: (%lld x "
                 "%lld). Kernel size can't be greater than actual input size",
                 ph, pw, (long long)w->shape[2], (long long)w->shape[3]);
        return false;
    }
    if (w->dtype != x->dtype) {
        AG_ERROR(op, "expected scalar type %s but found %s", ag_scalar_type_name(x->dtype),
                 ag_scalar_type_name(w->dtype));
        return false;
    }
    if (w->shape[2] <= 0 || w->shape[3] <= 0) {
        AG_ERROR(op,
                 "kernel size should be greater than zero, but got kernel_height: %lld "
                 "kernel_width: %lld",
                 (long long)w->shape[2], (long long)w->shape[3]);
        return false;
    }
    int64_t rows = w->shape[1] * w->shape[2] * w->shape[3];
    int64_t cols = ((ph - w->shape[2]) / stride.h + 1) * ((pw - w->shape[3]) / stride.w + 1);
    if (rows > INT_MAX || cols > INT_MAX || w->shape[0] > INT_MAX) {
        AG_ERROR(op, "a convolution of %s by %s exceeds what BLAS can index",
                 ag_shape_str(s1, 4, x->shape), ag_shape_str(s2, 4, w->shape));
        return false;
    }
    return true;
}

/* ---- the public functions ----------------------------------------------------------------- */

static ag_tensor *conv2d(const char *op, ag_tensor *x, ag_tensor *w, ag_tensor *b, ag_pair stride,
                         ag_pair padding, bool reference) {
    if (!check_conv2d(op, x, w, b, stride, padding)) return NULL;
    geometry g = make_geometry(x, w, stride, padding);
    ag_tensor *out = conv2d_forward(&g, x, w, b, reference);
    ag_node *node = ag_record(&conv2d_op, out, 3, (ag_tensor *[]){x, w, b});
    if (node) {
        node->iarg[0] = stride.h;
        node->iarg[1] = stride.w;
        node->iarg[2] = padding.h;
        node->iarg[3] = padding.w;
        node->iarg[4] = reference;
        ag_save(node, x);
        ag_save(node, w);
    }
    return out;
}

ag_tensor *ag_conv2d(ag_tensor *input, ag_tensor *weight, ag_tensor *bias, ag_pair stride,
                     ag_pair padding) {
    return conv2d("conv2d", input, weight, bias, stride, padding, false);
}

ag_tensor *ag_conv2d_reference(ag_tensor *input, ag_tensor *weight, ag_tensor *bias, ag_pair stride,
                               ag_pair padding) {
    return conv2d("conv2d", input, weight, bias, stride, padding, true);
}
