/*
 * gemm.h - the one BLAS matrix product of the library, c = op(a) @ op(b) + beta c, in float32
 * or float64, on row-major storage (ops/gemm.c). matmul.c, linear.c and conv2d.c call it.
 *
 * Its bits do not depend on the OpenBLAS thread count: whatever openblas_set_num_threads or
 * OPENBLAS_NUM_THREADS says, every product equals, bit for bit, the same product computed by
 * OpenBLAS with 1 thread. With more threads a big product is cut into row blocks that run on
 * threads of its own (gemm.c says why and how); OpenBLAS's own threads are not used.
 */
#ifndef AG_OPS_GEMM_H
#define AG_OPS_GEMM_H

#include "autograd/internal.h"

/* c (rows, cols) = op(a) @ op(b) + beta c, beta 0 or 1; op(a) is a stored (rows, inner), or
 * with ta a stored (inner, rows) and transposed; likewise b, (inner, cols) or with tb (cols,
 * inner). A sum over nothing (inner 0) leaves beta c. The caller checked that the sizes fit
 * BLAS's int. Uses up to openblas_get_num_threads() threads; while it runs, OpenBLAS's count
 * is 1 (process-wide), and it is restored afterwards. */
void ag_gemm(ag_dtype dtype, bool ta, bool tb, int64_t rows, int64_t cols, int64_t inner,
             const void *a, const void *b, double beta, void *c);

/* The largest inner size whose product OpenBLAS sums in one pass: up to it, c = a b + c (beta
 * 1) has the bits of t = a b (beta 0) followed by c = c + t. Beyond, OpenBLAS cuts the inner
 * sum into blocks (its GEMM_Q: 320 and 256 for float32 and float64 with the Haswell kernels)
 * and adds each block into c in turn, which rounds differently. tests/test_nn.c checks it. */
#define AG_GEMM_ONE_PASS_INNER 256

#endif
