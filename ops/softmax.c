/*
 * softmax.c - the softmax along one dim: turns scores into probabilities that sum to 1.
 *
 *   forward:  y[k] = e^(x[k] - m) / sum_j e^(x[j] - m)     m = max_j x[j], along dim
 *   backward: dx[k] += y[k] * (g[k] - sum_j g[j] y[j])     x: any shape, dim any (negative ok)
 * Subtracting the max changes nothing mathematically (it cancels) but keeps e^(...) <= 1, so
 * logits of 1e4 give no inf and no NaN. The output is saved: the backward needs only y.
 *
 * Along dim, x is seen as (outer, size, inner) (ag_split_dim): the softmax runs over each
 * lane, the size elements (o, k, i) at (o * size + k) * inner + i, for every (o, i). The
 * kernels below compute one lane; the loop over the lanes, the checks and the node are
 * shared with log_softmax (ops/lanewise.c). A 0-d x is one element (torch accepts dim 0 and
 * -1 there) and its softmax is 1. Sums are accumulated in double; everything else is computed
 * in the tensor's own precision, as torch does.
 */
#include "ops/lanewise.h"

#include <tgmath.h>

/* One lane of size elements at stride inner, one kernel per precision, written once: T is
 * float or double. */
#define SOFTMAX_LANE(T)                                                                            \
    static void softmax_forward_##T(const T *x, T *y, int64_t size, int64_t inner) {               \
        T m = ag_lane_max_##T(x, size, inner);                                                     \
        double s = 0;                                                                              \
        for (int64_t k = 0; k < size; k++) {                                                       \
            y[k * inner] = exp(x[k * inner] - m);                                                  \
            s += y[k * inner];                                                                     \
        }                                                                                          \
        for (int64_t k = 0; k < size; k++)                                                         \
            y[k * inner] = y[k * inner] / (T)s;                                                    \
    }                                                                                              \
    /* dx = y * (g - sum(g * y)) */                                                                \
    static void softmax_backward_##T(const T *y, const T *g, T *dx, int64_t size, int64_t inner) { \
        double s = 0;                                                                              \
        for (int64_t k = 0; k < size; k++)                                                         \
            s += (double)g[k * inner] * (double)y[k * inner];                                      \
        for (int64_t k = 0; k < size; k++)                                                         \
            dx[k * inner] = y[k * inner] * (g[k * inner] - (T)s);                                  \
    }
SOFTMAX_LANE(float)
SOFTMAX_LANE(double)

static const ag_lane_kernel softmax_kernel = {softmax_forward_float, softmax_forward_double,
                                              softmax_backward_float, softmax_backward_double};

static void softmax_backward(ag_node *node) { ag_lanewise_backward(node, &softmax_kernel); }

static const ag_op softmax_op = {
    .name = "SoftmaxBackward0",
    .rule = "dx = y * (g - sum(g * y, dim))",
    .backward = softmax_backward,
};

ag_tensor *ag_softmax(ag_tensor *x, int dim) {
    return ag_lanewise("softmax", &softmax_op, &softmax_kernel, x, dim);
}
