/*
 * softmax.c - the softmax along one dim: turns scores into probabilities that sum to 1.
 *
 *   forward:  y[k] = e^(x[k] - m) / sum_j e^(x[j] - m)     m = max_j x[j], along dim
 *   backward: dx[k] += y[k] * (g[k] - sum_j g[j] y[j])     x: any shape, dim any (negative ok)
 * Subtracting the max changes nothing mathematically (it cancels) but keeps e^(...) <= 1, so
 * logits of 1e4 give no inf and no NaN. The output is saved: the backward needs only y.
 *
 * Along dim, x is seen as (outer, size, inner) (ag_split_dim): the softmax runs over the
 * size elements (o, k, i) at (o * size + k) * inner + i, for every (o, i). A 0-d x is one
 * element (torch accepts dim 0 and -1 there) and its softmax is 1. Sums are accumulated in
 * double; everything else is computed in the tensor's own precision, as torch does.
 */
#include "autograd/internal.h"

#include <tgmath.h>

/* One kernel per precision, written once: T is float or double. */
#define SOFTMAX_FORWARD(T)                                                                         \
    static void softmax_forward_##T(const T *x, T *y, int64_t outer, int64_t size,                 \
                                    int64_t inner) {                                               \
        for (int64_t o = 0; o < outer; o++) {                                                      \
            for (int64_t i = 0; i < inner; i++) {                                                  \
                const T *xs = x + o * size * inner + i;                                            \
                T *ys = y + o * size * inner + i;                                                  \
                T m = -INFINITY;                                                                   \
                for (int64_t k = 0; k < size; k++)                                                 \
                    if (xs[k * inner] > m || isnan(xs[k * inner])) m = xs[k * inner];              \
                double s = 0;                                                                      \
                for (int64_t k = 0; k < size; k++) {                                               \
                    ys[k * inner] = exp(xs[k * inner] - m);                                        \
                    s += ys[k * inner];                                                            \
                }                                                                                  \
                for (int64_t k = 0; k < size; k++)                                                 \
                    ys[k * inner] = ys[k * inner] / (T)s;                                          \
            }                                                                                      \
        }                                                                                          \
    }
SOFTMAX_FORWARD(float)
SOFTMAX_FORWARD(double)

/* dx = y * (g - sum(g * y)) along dim */
#define SOFTMAX_BACKWARD(T)                                                                        \
    static void softmax_backward_##T(const T *y, const T *g, T *dx, int64_t outer, int64_t size,   \
                                     int64_t inner) {                                              \
        for (int64_t o = 0; o < outer; o++) {                                                      \
            for (int64_t i = 0; i < inner; i++) {                                                  \
                int64_t at = o * size * inner + i;                                                 \
                double s = 0;                                                                      \
                for (int64_t k = 0; k < size; k++)                                                 \
                    s += (double)g[at + k * inner] * (double)y[at + k * inner];                    \
                for (int64_t k = 0; k < size; k++)                                                 \
                    dx[at + k * inner] = y[at + k * inner] * (g[at + k * inner] - (T)s);           \
            }                                                                                      \
        }                                                                                          \
    }
SOFTMAX_BACKWARD(float)
SOFTMAX_BACKWARD(double)

static void softmax_backward(ag_node *node) {
    ag_tensor *y = ag_saved(node, 0);
    if (!y || !ag_needs_grad(node, 0)) return;
    ag_tensor *g = ag_cast(node->grad, y->dtype), *dx = ag_result_like(y);
    if (!g || !dx) return;
    int64_t outer, size, inner;
    ag_split_dim(y, (int)node->iarg[0], &outer, &size, &inner);
    if (y->dtype == AG_FLOAT32)
        softmax_backward_float(y->data, g->data, dx->data, outer, size, inner);
    else
        softmax_backward_double(y->data, g->data, dx->data, outer, size, inner);
    ag_accumulate(node, 0, dx);
}

static const ag_op softmax_op = {
    .name = "SoftmaxBackward0",
    .rule = "dx = y * (g - sum(g * y, dim))",
    .backward = softmax_backward,
};

ag_tensor *ag_softmax(ag_tensor *x, int dim) {
    const char *op = "softmax";
    if (!ag_check_tensor(op, x, "input") || !ag_check_floating(op, x) ||
        !ag_check_dim(op, x->ndim, &dim))
        return NULL;
    ag_tensor *y = ag_result_like(x);
    if (!y) return NULL;
    int64_t outer, size, inner;
    ag_split_dim(x, dim, &outer, &size, &inner);
    if (x->dtype == AG_FLOAT32)
        softmax_forward_float(x->data, y->data, outer, size, inner);
    else
        softmax_forward_double(x->data, y->data, outer, size, inner);
    ag_node *node = ag_record(&softmax_op, y, 1, &x);
    if (node) {
        node->iarg[0] = dim;
        ag_save(node, y);
    }
    return y;
}
