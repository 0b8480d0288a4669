/*
 * extremum.h - what max.c and min.c share: the whole of their work, parameterised by direction.
 *
 * max and min differ only in which of two numbers wins, in their names and in their nodes'
 * descriptors, so one implementation (ops/extremum.c) serves both. ops/max.c and ops/min.c
 * keep the math, the descriptors (MaxBackward0/1, MinBackward0/1) and the public functions,
 * which pass their ag_extremum to the functions below. The backwards do not depend on the
 * direction (they find the ties of the saved result, or use the saved indices), so both
 * files' descriptors point at the same two.
 */
#ifndef AG_OPS_EXTREMUM_H
#define AG_OPS_EXTREMUM_H

#include "autograd/internal.h"

/* One direction: max (largest) or min (smallest). */
typedef struct ag_extremum {
    const char *name;    /* "max" or "min": the op's name in errors */
    bool largest;        /* true for max: a larger number wins; false for min */
    const ag_op *all_op; /* the node of the reduction over everything (Max/MinBackward1) */
    const ag_op *dim_op; /* the node of the reduction along dim (Max/MinBackward0) */
} ag_extremum;

/* The extremum of all elements of x: a 0-d tape-owned tensor, recorded as e->all_op (saving x
 * and the result); NULL after reporting bad input (NULL, int64, no elements). */
ag_tensor *ag_extremum_all(const ag_extremum *e, ag_tensor *x);

/* The extremum along dim (negative counts from the end), with keepdim, and in *indices (if not
 * NULL; left alone on error) the int64 position of the first one along dim. Recorded as
 * e->dim_op (saving the indices). NULL after reporting bad input. */
ag_tensor *ag_extremum_dim(const ag_extremum *e, ag_tensor *x, int dim, bool keepdim,
                           ag_tensor **indices);

/* The backward of ag_extremum_all: g split evenly among the elements equal to the result
 * (or, if it is NaN, among the NaNs). */
void ag_extremum_all_backward(ag_node *node);

/* The backward of ag_extremum_dim: g to the saved index along dim, 0 elsewhere. */
void ag_extremum_dim_backward(ag_node *node);

#endif
