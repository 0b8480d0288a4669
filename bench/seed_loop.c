/*
 * seed_loop.c - the seed's first training loop, time per epoch.
 *
 *     build/bench/seed_loop EPOCHS [REPEATS]
 *
 * Runs the loop of examples/seed_loop.c (without printing) for EPOCHS epochs, REPEATS times,
 * and prints the median time per epoch in microseconds. bench/torch/seed_loop.py is the same
 * loop in PyTorch with the same arguments.
 */
#include "bench.h" /* first: it sets _POSIX_C_SOURCE */

#include "autograd/autograd.h"

#include <stdio.h>

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 10000, repeats = argc > 2 ? atoi(argv[2]) : 5;
    if (epochs <= 0 || repeats <= 0 || repeats > 1000) {
        fprintf(stderr, "usage: %s EPOCHS [REPEATS]\n", argv[0]);
        return 2;
    }
    ag_tensor *x = AG_TENSOR(1.0, 2.0, 3.0, 4.0), *y = AG_TENSOR(2.0, 4.0, 6.0, 8.0);
    double times[1000], eta = 0.01, last = 0;
    for (int r = 0; r < repeats; r++) {
        ag_tensor *w = ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true);
        ag_tensor *b = ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true);
        double t0 = bench_now();
        for (int epoch = 0; epoch < epochs; epoch++) {
            ag_tensor *loss = ag_mean(ag_pow_scalar(ag_sub(ag_add(ag_mul(w, x), b), y), 2));
            ag_backward(loss);
            AG_NO_GRAD {
                ag_sub_(w, ag_mul_scalar(w->grad, eta));
                ag_sub_(b, ag_mul_scalar(b->grad, eta));
            }
            ag_zero_(w->grad);
            ag_zero_(b->grad);
            last = ag_item(loss);
            ag_tape_reset(NULL);
        }
        times[r] = (bench_now() - t0) / epochs * 1e6;
        ag_tensor_free(w), ag_tensor_free(b);
    }
    ag_tensor_free(x), ag_tensor_free(y);
    printf("final loss %.4f\n", last);
    printf("seed_loop: %.4f us/epoch\n", bench_median(times, repeats));
    return 0;
}
