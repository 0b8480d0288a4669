/*
 * log_softmax.c - the logarithm of the softmax along one dim, computed without the softmax.
 *
 *   forward:  y[k] = x[k] - m - log(sum_j e^(x[j] - m))     m = max_j x[j], along dim
 *   backward: dx[k] += g[k] - e^(y[k]) * sum_j g[j]          x: any shape, dim any (negative ok)
 * log(softmax(x)) would round tiny probabilities to 0 and give -inf; this form stays exact
 * for logits far apart (a logit of -1e4 next to 0 gives -1e4, not -inf). It is what
 * cross_entropy (ops/cross_entropy.c) feeds to nll_loss. The output is saved for backward,
 * where e^y is the softmax.
 *
 * Along dim, x is seen as (outer, size, inner) (ag_split_dim), as in ops/softmax.c; a 0-d x
 * gives 0. Sums are accumulated in double; the rest is computed in the tensor's precision.
 */
#include "autograd/internal.h"

#include <tgmath.h>

#define LOG_SOFTMAX_FORWARD(T)                                                                     \
    static void log_softmax_forward_##T(const T *x, T *y, int64_t outer, int64_t size,             \
                                        int64_t inner) {                                           \
        for (int64_t o = 0; o < outer; o++) {                                                      \
            for (int64_t i = 0; i < inner; i++) {                                                  \
                const T *xs = x + o * size * inner + i;                                            \
                T *ys = y + o * size * inner + i;                                                  \
                T m = -INFINITY;                                                                   \
                for (int64_t k = 0; k < size; k++)                                                 \
                    if (xs[k * inner] > m || isnan(xs[k * inner])) m = xs[k * inner];              \
                double s = 0;                                                                      \
                for (int64_t k = 0; k < size; k++)                                                 \
                    s += exp(xs[k * inner] - m);                                                   \
                T log_s = (T)log(s);                                                               \
                for (int64_t k = 0; k < size; k++)                                                 \
                    ys[k * inner] = (xs[k * inner] - m) - log_s;                                   \
            }                                                                                      \
        }                                                                                          \
    }
LOG_SOFTMAX_FORWARD(float)
LOG_SOFTMAX_FORWARD(double)

/* dx = g - exp(y) * sum(g) along dim */
#define LOG_SOFTMAX_BACKWARD(T)                                                                    \
    static void log_softmax_backward_##T(const T *y, const T *g, T *dx, int64_t outer,             \
                                         int64_t size, int64_t inner) {                            \
        for (int64_t o = 0; o < outer; o++) {                                                      \
            for (int64_t i = 0; i < inner; i++) {                                                  \
                int64_t at = o * size * inner + i;                                                 \
                double s = 0;                                                                      \
                for (int64_t k = 0; k < size; k++)                                                 \
                    s += g[at + k * inner];                                                        \
                for (int64_t k = 0; k < size; k++)                                                 \
                    dx[at + k * inner] = g[at + k * inner] - exp(y[at + k * inner]) * (T)s;        \
            }                                                                                      \
        }                                                                                          \
    }
LOG_SOFTMAX_BACKWARD(float)
LOG_SOFTMAX_BACKWARD(double)

static void log_softmax_backward(ag_node *node) {
    ag_tensor *y = ag_saved(node, 0);
    if (!y || !ag_needs_grad(node, 0)) return;
    ag_tensor *g = ag_cast(node->grad, y->dtype), *dx = ag_result_like(y);
    if (!g || !dx) return;
    int64_t outer, size, inner;
    ag_split_dim(y, (int)node->iarg[0], &outer, &size, &inner);
    if (y->dtype == AG_FLOAT32)
        log_softmax_backward_float(y->data, g->data, dx->data, outer, size, inner);
    else
        log_softmax_backward_double(y->data, g->data, dx->data, outer, size, inner);
    ag_accumulate(node, 0, dx);
}

static const ag_op log_softmax_op = {
    .name = "LogSoftmaxBackward0",
    .rule = "dx = g - exp(y) * sum(g, dim)",
    .backward = log_softmax_backward,
};

ag_tensor *ag_log_softmax(ag_tensor *x, int dim) {
    const char *op = "log_softmax";
    if (!ag_check_tensor(op, x, "input") || !ag_check_floating(op, x) ||
        !ag_check_dim(op, x->ndim, &dim))
        return NULL;
    ag_tensor *y = ag_result_like(x);
    if (!y) return NULL;
    int64_t outer, size, inner;
    ag_split_dim(x, dim, &outer, &size, &inner);
    if (x->dtype == AG_FLOAT32)
        log_softmax_forward_float(x->data, y->data, outer, size, inner);
    else
        log_softmax_forward_double(x->data, y->data, outer, size, inner);
    ag_node *node = ag_record(&log_softmax_op, y, 1, &x);
    if (node) {
        node->iarg[0] = dim;
        ag_save(node, y);
    }
    return y;
}
