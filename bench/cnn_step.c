/*
 * cnn_step.c - one training step of examples/fashion_mnist.c's convnet on a fixed batch:
 * conv 1->32 3x3, ReLU, max-pool 2, conv 32->64 3x3, ReLU, max-pool 2, flatten, linear -> 10;
 * cross_entropy, backward, SGD step (lr 0.01, momentum 0.9); the median time per step.
 *
 *     build/bench/cnn_step BATCH STEPS
 *
 * The batches are POOL batches of BATCH random images (rand, (BATCH, 1, 28, 28)) with random
 * labels, made before the clock starts and taken in turn (why: bench/mlp_step.c). After 3
 * warm-up steps each of STEPS steps is timed on its own, by CPU time and wall clock (why:
 * bench/mlp_step.c); the last line is "cnn_step: <median CPU time> ms/step". bench/torch/cnn_step.py is the same step in PyTorch, on the same numbers.
 */
#define BENCH_TRAINING      /* bench_train_steps */
#include "bench.h" /* first: it sets _POSIX_C_SOURCE */

#include "autograd/autograd.h"
#include "nn/nn.h"

#include <stdio.h>

#define WARMUP 3
#define POOL 8

int main(int argc, char **argv) {
    int64_t batch;
    int steps;
    if (!bench_batch_steps(argc, argv, 20, &batch, &steps)) return 2;
    ag_manual_seed(0);
    ag_module *m[8]; /* one statement each: the layers draw their weights in torch's order */
    m[0] = ag_conv2d_module(1, 32, AG_PAIR(3), AG_PAIR(1), AG_PAIR(0), true, NULL);
    m[1] = ag_relu_module();
    m[2] = ag_max_pool2d_module(AG_PAIR(2), AG_PAIR(0), AG_PAIR(0));
    m[3] = ag_conv2d_module(32, 64, AG_PAIR(3), AG_PAIR(1), AG_PAIR(0), true, NULL);
    m[4] = ag_relu_module();
    m[5] = ag_max_pool2d_module(AG_PAIR(2), AG_PAIR(0), AG_PAIR(0));
    m[6] = ag_flatten_module(1, -1);
    m[7] = ag_linear_module(64 * 5 * 5, 10, true, NULL);
    ag_sequential *model = ag_sequential_new(8, m);
    int n;
    ag_tensor *const *params = ag_sequential_parameters(model, &n);
    ag_optimizer *opt = ag_sgd(params, n, (ag_sgd_options){.lr = 0.01, .momentum = 0.9});
    ag_tensor *x[POOL], *y[POOL];
    for (int k = 0; k < POOL; k++) {
        x[k] = ag_rand(NULL, AG_FLOAT32, AG_SHAPE(batch, 1, 28, 28));
        y[k] = ag_randint(NULL, 0, 10, AG_SHAPE(batch));
    }

    double *times = malloc((size_t)steps * sizeof *times);
    double *cpu = malloc((size_t)steps * sizeof *cpu);
    if (!times || !cpu) return 1;
    double loss = bench_train_steps(model, opt, x, y, POOL, WARMUP, steps, times, cpu);
    for (int s = 0; s < steps; s++) times[s] *= 1e3, cpu[s] *= 1e3; /* in ms */
    printf("loss after %d steps: %.4f\n", WARMUP + steps, loss);
    printf("wall-clock median: %.3f ms/step\n", bench_median(times, steps));
    printf("cnn_step: %.3f ms/step (CPU time)\n", bench_median(cpu, steps));
    free(times), free(cpu);
    for (int k = 0; k < POOL; k++)
        ag_tensor_free(x[k]), ag_tensor_free(y[k]);
    ag_optimizer_free(opt);
    ag_sequential_free(model);
    return 0;
}
