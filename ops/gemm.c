/*
 * gemm.c - the BLAS matrix product that conv2d.c and linear.c share (see gemm.h).
 */
#include "ops/gemm.h"

#include <cblas.h>
#include <string.h>

void ag_gemm(ag_dtype dtype, bool ta, bool tb, int64_t rows, int64_t cols, int64_t inner,
             const void *a, const void *b, double beta, void *c) {
    if (rows == 0 || cols == 0) return;
    if (inner == 0) {
        if (beta == 0) memset(c, 0, (size_t)(rows * cols) * ag_dtype_size(dtype));
        return;
    }
    int r = (int)rows, q = (int)cols, n = (int)inner;
    enum CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
    if (dtype == AG_FLOAT32)
        cblas_sgemm(CblasRowMajor, opa, opb, r, q, n, 1.0f, a, ta ? r : n, b, tb ? n : q,
                    (float)beta, c, q);
    else
        cblas_dgemm(CblasRowMajor, opa, opb, r, q, n, 1.0, a, ta ? r : n, b, tb ? n : q, beta, c,
                    q);
}
