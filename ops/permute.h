/*
 * permute.h - permute's copy kernel, shared with transpose (ops/transpose.c), which is a
 * permute with two dims swapped. Both are copies here (torch returns strided views; here every
 * tensor is contiguous), so both need the same strided walk; each keeps its own checks, node
 * and grad_fn name (PermuteBackward0, TransposeBackward0).
 */
#ifndef AG_OPS_PERMUTE_H
#define AG_OPS_PERMUTE_H

#include "autograd/internal.h"

/* out = x with its dims reordered: out's dim d is x's dim dims[d]. dims is a permutation of
 * 0 .. x->ndim - 1 (checked by the caller); out has the permuted shape and x's dtype and is
 * written in full. Records nothing. */
void ag_permute_forward(const ag_tensor *x, const int *dims, ag_tensor *out);

#endif
