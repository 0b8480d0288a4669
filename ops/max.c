/*
 * max.c - the largest element: over everything (a 0-d value), or along one dim (the values and
 * the int64 indices where they sit).
 *
 *   max(x)         forward:  out = max_k x[k]                        x: any shape, numel > 0
 *                  backward: dx[k] += g / T where x[k] == out, else 0    T: how many tie for it
 *   max(x, dim)    forward:  out[o,i] = x[o, idx[o,i], i]    idx[o,i]: the first position of
 *                                                            the max along dim
 *                  backward: dx[o, idx[o,i], i] += g[o,i], 0 elsewhere
 * NaN propagates, as in torch: a NaN wins over every number, the first NaN is the one
 * returned along dim, and over everything the NaNs share g as ties do. Over everything g is
 * split evenly among all tied maxima (torch's evenly_distribute_backward, grad_fn
 * MaxBackward1); along dim it goes only to the index returned, the first one (MaxBackward0).
 * Along dim, x is seen as (outer, size, inner) (ag_split_dim); out and idx are (outer, inner).
 *
 * min (ops/min.c) is the same with the comparison turned round, so the forwards and backwards
 * are written once for both, in ops/extremum.c; this file holds max's nodes and entry points.
 */
#include "ops/extremum.h"

static const ag_op max_op = {
    .name = "MaxBackward1",
    .rule = "dx = g / T where x == max (T ties), 0 elsewhere",
    .backward = ag_extremum_all_backward,
};

static const ag_op max_dim_op = {
    .name = "MaxBackward0",
    .rule = "dx = g at the index of the max along dim, 0 elsewhere",
    .backward = ag_extremum_dim_backward,
};

static const ag_extremum max = {
    .name = "max", .largest = true, .all_op = &max_op, .dim_op = &max_dim_op};

ag_tensor *ag_max(ag_tensor *x) { return ag_extremum_all(&max, x); }

ag_tensor *ag_max_dim(ag_tensor *x, int dim, bool keepdim, ag_tensor **indices) {
    return ag_extremum_dim(&max, x, dim, keepdim, indices);
}
