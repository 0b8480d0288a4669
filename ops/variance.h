/*
 * variance.h - what var.c and std.c share: the checks, the two-pass variance, and its gradient.
 *
 * std is the square root of var, so both run the same forward (ops/variance.c), std taking
 * the root at the end; and std's backward is var's gradient formula applied to g / (2 std).
 * ops/var.c and ops/std.c keep the math, their backwards, their descriptors (VarBackward0,
 * StdBackward0) and the public functions.
 *
 * Every reduction here is over everything (all) or along one dim; its node keeps
 * iarg[0] = dim (-1 over everything), iarg[1] = correction, iarg[2] = keepdim, and saves x
 * (and, for std, the result second).
 */
#ifndef AG_OPS_VARIANCE_H
#define AG_OPS_VARIANCE_H

#include "autograd/internal.h"

/* One of the two ops. */
typedef struct ag_variance_kind {
    const char *name; /* "var" or "std": the op's name in errors */
    bool root;        /* std: the square root of the variance (and the result is saved) */
    const ag_op *op;  /* the node's descriptor */
} ag_variance_kind;

/* The variance (or standard deviation) of x over everything (all; dim is ignored) or along
 * dim (negative counts from the end), dividing by max(0, N - correction), accumulated in
 * double and rounded once. A tape-owned result recorded as kind->op, or NULL after reporting
 * bad input (NULL, int64, dim out of range). */
ag_tensor *ag_variance_reduce(const ag_variance_kind *kind, ag_tensor *x, int dim, bool all,
                              int correction, bool keepdim);

/* t, a reduction's result or gradient (reduced shape), seen with dim kept as 1 so that it
 * broadcasts against x; t itself over everything (dim < 0), with keepdim, or for a 0-d x. */
ag_tensor *ag_variance_kept(ag_tensor *t, const ag_tensor *x, int dim, bool keepdim);

/* gv * d var / dx = (2 / (N - c)) gv (x - mean), torch's var_backward; gv already kept (see
 * ag_variance_kept). Over everything with N == c: gv * inf at every element (see ops/var.c). */
ag_tensor *ag_variance_grad(ag_tensor *gv, ag_tensor *x, int dim, int64_t correction);

#endif
