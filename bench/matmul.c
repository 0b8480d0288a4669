/*
 * matmul.c - ag_matmul of two N x N float32 matrices against calling OpenBLAS's cblas_sgemm
 * directly on the same buffers: what the library adds around the gemm.
 *
 *     build/bench/matmul N REPEATS          ag_matmul(a, b), its result from the tape
 *     build/bench/matmul N REPEATS --blas   cblas_sgemm(a, b) into a buffer of our own
 *
 * a and b are randn (N, N) and do not require grad (the product records nothing, as under
 * torch.no_grad()); after 2 warm-up products each of REPEATS products is timed on its own. The
 * last line is "matmul: <median> us" and bench/run.sh runs both forms alternately.
 */
#include "bench.h" /* first: it sets _POSIX_C_SOURCE */

#include "autograd/autograd.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>

#define WARMUP 2

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 256, repeats = argc > 2 ? atoi(argv[2]) : 20;
    bool blas = argc > 3 && !strcmp(argv[3], "--blas");
    if (argc > 4 || (argc > 3 && !blas) || n <= 0 || n > 8192 || repeats <= 0 ||
        repeats > 100000) {
        fprintf(stderr, "usage: %s N REPEATS [--blas]\n", argv[0]);
        return 2;
    }
    ag_manual_seed(0);
    ag_tensor *a = ag_randn(NULL, AG_FLOAT32, AG_SHAPE(n, n));
    ag_tensor *b = ag_randn(NULL, AG_FLOAT32, AG_SHAPE(n, n));
    ag_tensor *c = ag_zeros(AG_FLOAT32, AG_SHAPE(n, n));
    double *times = malloc((size_t)repeats * sizeof *times), check = 0;
    if (!times) return 1;
    for (int r = -WARMUP; r < repeats; r++) {
        double t0 = bench_now();
        if (blas) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a->data, n,
                        b->data, n, 0.0f, c->data, n);
            check = AG_F32(c)[(int64_t)n * n - 1];
        } else {
            ag_tensor *p = ag_matmul(a, b);
            check = AG_F32(p)[(int64_t)n * n - 1];
            ag_tape_reset(NULL);
        }
        if (r >= 0) times[r] = (bench_now() - t0) * 1e6;
    }
    double us = bench_median(times, repeats);
    printf("c[%d][%d] = %.4f, %.1f GFLOP/s\n", n - 1, n - 1, check, 2.0 * n * n * n / us * 1e-3);
    printf("matmul: %.2f us\n", us);
    free(times);
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(c);
    return 0;
}
