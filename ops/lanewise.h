/*
 * lanewise.h - what softmax.c and log_softmax.c share: an op that maps each lane of x along
 * dim to a lane of the result, and the lane's max that both subtract.
 *
 * Along dim, x is seen as (outer, size, inner) (ag_split_dim): a lane is the size elements
 * (o, k, i) at (o * size + k) * inner + i for one (o, i), so its k-th element is at stride
 * inner from its first. softmax and log_softmax differ only in what they compute over one
 * lane, forward and backward; everything else (the checks, the loop over the lanes, the
 * dispatch on dtype, the node saving y) is written once in ops/lanewise.c. ops/softmax.c and
 * ops/log_softmax.c keep the math, their lane kernels, their backwards and descriptors, and
 * the public functions.
 */
#ifndef AG_OPS_LANEWISE_H
#define AG_OPS_LANEWISE_H

#include "autograd/internal.h"

#include <math.h>

/* One op's kernels over one lane of size elements at stride inner, in each precision:
 * forward y = f(x), and backward dx from the op's output y and the gradient g at it. */
typedef struct ag_lane_kernel {
    void (*forward_float)(const float *x, float *y, int64_t size, int64_t inner);
    void (*forward_double)(const double *x, double *y, int64_t size, int64_t inner);
    void (*backward_float)(const float *y, const float *g, float *dx, int64_t size, int64_t inner);
    void (*backward_double)(const double *y, const double *g, double *dx, int64_t size,
                            int64_t inner);
} ag_lane_kernel;

/* y = k's forward over every lane of x along dim (negative counts from the end; a 0-d x is
 * one lane of one element): a tape-owned tensor of x's shape, recorded as op with
 * iarg[0] = dim and y saved. NULL after reporting bad input (NULL, int64, dim out of range)
 * in name's words. */
ag_tensor *ag_lanewise(const char *name, const ag_op *op, const ag_lane_kernel *k, ag_tensor *x,
                       int dim);

/* The backward of a node ag_lanewise recorded: dx = k's backward over every lane, from the
 * saved y and the node's gradient. */
void ag_lanewise_backward(ag_node *node, const ag_lane_kernel *k);

/* The max of a lane (the shift that keeps every e^(x - m) <= 1): -inf for an empty lane, and
 * NaN if the lane holds one. One function per precision, ag_lane_max_float and
 * ag_lane_max_double, so that a kernel written for T calls ag_lane_max_##T. */
#define AG_LANE_MAX(T)                                                                             \
    static inline T ag_lane_max_##T(const T *x, int64_t size, int64_t inner) {                     \
        T m = -INFINITY;                                                                           \
        for (int64_t k = 0; k < size; k++)                                                         \
            if (x[k * inner] > m || isnan(x[k * inner])) m = x[k * inner];                         \
        return m;                                                                                  \
    }
AG_LANE_MAX(float)
AG_LANE_MAX(double)
#undef AG_LANE_MAX

#endif
