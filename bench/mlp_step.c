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
#define BENCH_TRAINING /* bench_training_run, bench_mlp, bench_cnn */
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
    return bench_training_run("mlp_step", bench_mlp(), batch, 1, (const int64_t[]){784}, POOL,
                              WARMUP, steps, false);
}
