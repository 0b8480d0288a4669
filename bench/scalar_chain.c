/*
 * scalar_chain.c - a chain of scalar ops, forward and backward: the engine's overhead per op.
 *
 *     build/bench/scalar_chain NODES REPEATS
 *
 * Builds y = (((x * c1) + c2) * c3 + ...) with NODES ops on 0-d float32 tensors (alternating
 * mul and add with numbers), runs backward, releases the tape; REPEATS times. Prints the
 * median time per op (forward + backward) in nanoseconds. bench/torch/scalar_chain.py is the
 * same in PyTorch.
 */
#include "bench.h" /* first: it sets _POSIX_C_SOURCE */

#include "autograd/autograd.h"

#include <stdio.h>

int main(int argc, char **argv) {
    int nodes = argc > 1 ? atoi(argv[1]) : 10000, repeats = argc > 2 ? atoi(argv[2]) : 20;
    if (nodes <= 0 || repeats <= 0 || repeats > 1000) {
        fprintf(stderr, "usage: %s NODES REPEATS\n", argv[0]);
        return 2;
    }
    ag_tensor *x = ag_requires_grad_(ag_scalar(0.5, AG_FLOAT32), true);
    double times[1000], grad = 0;
    for (int r = 0; r < repeats; r++) {
        double t0 = bench_now();
        ag_tensor *y = x;
        for (int i = 0; i < nodes; i++) y = i % 2 ? ag_add_scalar(y, 0.001) : ag_mul_scalar(y, 0.999);
        ag_backward(y);
        grad = ag_item(x->grad);
        ag_set_grad_none(x);
        ag_tape_reset(NULL);
        times[r] = (bench_now() - t0) / nodes * 1e9;
    }
    ag_tensor_free(x);
    printf("d y / d x = %.6f\n", grad);
    printf("scalar_chain: %.2f ns/op\n", bench_median(times, repeats));
    return 0;
}
