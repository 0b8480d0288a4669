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
#define BENCH_TRAINING /* bench_training_run, bench_mlp, bench_cnn */
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
    return bench_training_run("cnn_step", bench_cnn(), batch, 3, (const int64_t[]){1, 28, 28},
                              POOL, WARMUP, steps, true);
}
