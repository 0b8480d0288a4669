/*
 * gemm.h - what conv2d.c and linear.c share: one BLAS matrix product, c = op(a) @ op(b) + beta c,
 * in float32 or float64, on row-major storage (ops/gemm.c).
 */
#ifndef AG_OPS_GEMM_H
#define AG_OPS_GEMM_H

#include "autograd/internal.h"

/* c (rows, cols) = op(a) @ op(b) + beta c, beta 0 or 1; op(a) is a stored (rows, inner), or
 * with ta a stored (inner, rows) and transposed; likewise b, (inner, cols) or with tb (cols,
 * inner). A sum over nothing (inner 0) leaves beta c. The caller checked that the sizes fit
 * BLAS's int. */
void ag_gemm(ag_dtype dtype, bool ta, bool tb, int64_t rows, int64_t cols, int64_t inner,
             const void *a, const void *b, double beta, void *c);

#endif
