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
 * Along dim, x is seen as (outer, size, inner) (ag_split_dim), as in ops/softmax.c: the
 * kernels below compute one lane along dim, and the rest is shared with softmax
 * (ops/lanewise.c). A 0-d x gives 0. Sums are accumulated in double; the rest is computed in
 * the tensor's precision.
 */
#include "ops/lanewise.h"

#include <tgmath.h>

/* One lane of size elements at stride inner; T is float or double. */
#define LOG_SOFTMAX_LANE(T)                                                                        \
    static void log_softmax_forward_##T(const T *x, T *y, int64_t size, int64_t inner) {           \
        T m = ag_lane_max_##T(x, size, inner);                                                     \
        double s = 0;                                                                              \
        for (int64_t k = 0; k < size; k++)                                                         \
            s += exp(x[k * inner] - m);                                                            \
        T log_s = (T)log(s);                                                                       \
        for (int64_t k = 0; k < size; k++)                                                         \
            y[k * inner] = (x[k * inner] - m) - log_s;                                             \
    }                                                                                              \
    /* dx = g - exp(y) * sum(g) */                                                                 \
    static void log_softmax_backward_##T(const T *y, const T *g, T *dx, int64_t size,              \
                                         int64_t inner) {                                          \
        double s = 0;                                                                              \
        for (int64_t k = 0; k < size; k++)                                                         \
            s += g[k * inner];                                                                     \
        for (int64_t k = 0; k < size; k++)                                                         \
            dx[k * inner] = g[k * inner] - exp(y[k * inner]) * (T)s;                               \
    }
LOG_SOFTMAX_LANE(float)
LOG_SOFTMAX_LANE(double)

static const ag_lane_kernel log_softmax_kernel = {
    log_softmax_forward_float, log_softmax_forward_double, log_softmax_backward_float,
    log_softmax_backward_double};

static void log_softmax_backward(ag_node *node) { ag_lanewise_backward(node, &log_softmax_kernel); }

static const ag_op log_softmax_op = {
    .name = "LogSoftmaxBackward0",
    .rule = "dx = g - exp(y) * sum(g, dim)",
    .backward = log_softmax_backward,
};

ag_tensor *ag_log_softmax(ag_tensor *x, int dim) {
    return ag_lanewise("log_softmax", &log_softmax_op, &log_softmax_kernel, x, dim);
}
