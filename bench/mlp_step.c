/*
 * mlp_step.c - one training step of the MLP 784-256-10: forward, cross_entropy, backward,
 * SGD step (lr 0.01, momentum 0.9); the median time per step.
 *
 *     build/bench/mlp_step BATCH STEPS
 *
 * The batches are POOL batches of BATCH random images (rand, already flat: (BATCH, 784)) with
 * random labels, made before the clock starts and taken in turn, so that only the library is
 * timed. They are many, with random labels and a small lr, so that the loss stays near ln 10:
 * on one batch learnt by heart the gradients would sink into subnormal numbers, which are
 * slow on x86 and no real step meets. After 10 warm-up steps (the tape reaches its high-water
 * mark, the momentum buffers exist) each of STEPS steps is timed on its own, by the process's
 * CPU time and by the wall clock; the last line is "mlp_step: <median CPU time> us/step". The
 * gradients are zeroed in place (zero_grad(set_to_none=
 * False), torch 1.13's default), so a steady step allocates nothing. bench/torch/mlp_step.py
 * is the same step in PyTorch with the same arguments, on the same numbers (the same seed).
 */
#define BENCH_TRAINING      /* bench_train_steps */
#include "bench.h" /* first: it sets _POSIX_C_SOURCE */

#include "autograd/autograd.h"
#include "nn/nn.h"

#include <stdio.h>

#define WARMUP 10
#define POOL 16

int main(int argc, char **argv) {
    int64_t batch;
    int steps;
    if (!bench_batch_steps(argc, argv, 200, &batch, &steps)) return 2;
    ag_manual_seed(0);
    ag_module *m[3];
    m[0] = ag_linear_module(784, 256, true, NULL);
    m[1] = ag_relu_module();
    m[2] = ag_linear_module(256, 10, true, NULL);
    ag_sequential *model = ag_sequential_new(3, m);
    int n;
    ag_tensor *const *params = ag_sequential_parameters(model, &n);
    ag_optimizer *opt = ag_sgd(params, n, (ag_sgd_options){.lr = 0.01, .momentum = 0.9});
    ag_tensor *x[POOL], *y[POOL];
    for (int k = 0; k < POOL; k++) {
        x[k] = ag_rand(NULL, AG_FLOAT32, AG_SHAPE(batch, 784));
        y[k] = ag_randint(NULL, 0, 10, AG_SHAPE(batch));
    }

    double *times = malloc((size_t)steps * sizeof *times);
    double *cpu = malloc((size_t)steps * sizeof *cpu);
    if (!times || !cpu) return 1;
    double loss = bench_train_steps(model, opt, x, y, POOL, WARMUP, steps, times, cpu);
    for (int s = 0; s < steps; s++) times[s] *= 1e6, cpu[s] *= 1e6; /* in us */
    printf("loss after %d steps: %.4f\n", WARMUP + steps, loss);
    printf("wall-clock median: %.2f us/step\n", bench_median(times, steps));
    printf("mlp_step: %.2f us/step (CPU time)\n", bench_median(cpu, steps));
    free(times), free(cpu);
    for (int k = 0; k < POOL; k++)
        ag_tensor_free(x[k]), ag_tensor_free(y[k]);
    ag_optimizer_free(opt);
    ag_sequential_free(model);
    return 0;
}
