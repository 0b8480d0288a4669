/*
 * bench.h - what the benchmark programs share: a monotonic clock and the median of repeats.
 *
 * Each program times its workload REPEATS times in-process and prints, on its last line,
 * "NAME: <median> <unit>" so that bench/run.sh can read the figure and anyone can rerun one.
 */
#ifndef AG_BENCH_H
#define AG_BENCH_H

#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int bench_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The CPU time this process has used, in seconds: a busy machine (the other processes that
 * share its cores) disturbs it far less than the wall clock. */
static inline double bench_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The median of n values (sorts them). */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The BATCH STEPS arguments of the training benchmarks (defaults 64 and default_steps);
 * false after printing the usage line. */
static inline bool bench_batch_steps(int argc, char **argv, int default_steps, int64_t *batch,
                                     int *steps) {
    *batch = argc > 1 ? atoll(argv[1]) : 64;
    *steps = argc > 2 ? atoi(argv[2]) : default_steps;
    if (argc > 3 || *batch <= 0 || *steps <= 0 || *steps > 1000000) {
        fprintf(stderr, "usage: %s BATCH STEPS\n", argv[0]);
        return false;
    }
    return true;
}

#ifdef BENCH_TRAINING /* defined before including bench.h by the training benchmarks */
#include "nn/nn.h"

/* warmup + steps training steps of model (zero_grad, cross_entropy, backward, step) on the
 * batches x[k], y[k], k cycling over pool; the wall and CPU time of each of the last steps
 * go to wall[] and cpu[] in seconds. Returns the last step's loss. (mlp_step, cnn_step) */
static inline double bench_train_steps(ag_sequential *model, ag_optimizer *opt, ag_tensor **x,
                                       ag_tensor **y, int pool, int warmup, int steps,
                                       double *wall, double *cpu) {
    double loss = 0;
    for (int s = -warmup; s < steps; s++) {
        double t0 = bench_now(), c0 = bench_cpu_now();
        ag_optimizer_zero_grad(opt, false);
        int k = (s + warmup) % pool;
        ag_tensor *l =
            ag_cross_entropy(ag_sequential_forward(model, x[k]), y[k], AG_REDUCTION_MEAN);
        ag_backward(l);
        ag_optimizer_step(opt);
        if (s == steps - 1) loss = ag_item(l);
        ag_tape_reset(NULL);
        if (s >= 0) wall[s] = bench_now() - t0, cpu[s] = bench_cpu_now() - c0;
    }
    return loss;
}

/* The two models of issue #5, their layers made one statement at a time so that they draw
 * their weights in torch's order: the MLP 784-256-10, and examples/fashion_mnist.c's convnet
 * (conv 1->32 3x3, ReLU, max-pool 2, conv 32->64 3x3, ReLU, max-pool 2, flatten, linear). */
static inline ag_sequential *bench_mlp(void) {
    ag_module *m[3];
    m[0] = ag_linear_module(784, 256, true, NULL);
    m[1] = ag_relu_module();
    m[2] = ag_linear_module(256, 10, true, NULL);
    return ag_sequential_new(3, m);
}

static inline ag_sequential *bench_cnn(void) {
    ag_module *m[8];
    m[0] = ag_conv2d_module(1, 32, AG_PAIR(3), AG_PAIR(1), AG_PAIR(0), true, NULL);
    m[1] = ag_relu_module();
    m[2] = ag_max_pool2d_module(AG_PAIR(2), AG_PAIR(0), AG_PAIR(0));
    m[3] = ag_conv2d_module(32, 64, AG_PAIR(3), AG_PAIR(1), AG_PAIR(0), true, NULL);
    m[4] = ag_relu_module();
    m[5] = ag_max_pool2d_module(AG_PAIR(2), AG_PAIR(0), AG_PAIR(0));
    m[6] = ag_flatten_module(1, -1);
    m[7] = ag_linear_module(64 * 5 * 5, 10, true, NULL);
    return ag_sequential_new(8, m);
}

#define BENCH_MAX_POOL 16
/* The whole of mlp_step and cnn_step after the model is made: SGD (lr 0.01, momentum 0.9), pool
 * (at most BENCH_MAX_POOL) batches of batch random images of shape image (rand) with random labels, warmup + steps
 * timed steps (bench_train_steps); prints the loss, the wall-clock median and, last,
 * "<name>: <median CPU time> <unit>/step", in ms when in_ms, else us; frees model. */
static inline int bench_training_run(const char *name, ag_sequential *model, int64_t batch,
                                     int image_ndim, const int64_t *image, int pool, int warmup,
                                     int steps, bool in_ms) {
    if (pool < 1 || pool > BENCH_MAX_POOL) return 2;
    int n;
    ag_tensor *const *params = ag_sequential_parameters(model, &n);
    ag_optimizer *opt = ag_sgd(params, n, (ag_sgd_options){.lr = 0.01, .momentum = 0.9});
    ag_tensor *x[BENCH_MAX_POOL], *y[BENCH_MAX_POOL];
    int64_t shape[AG_MAX_DIMS] = {batch};
    for (int d = 0; d < image_ndim; d++)
        shape[d + 1] = image[d];
    for (int k = 0; k < pool; k++) {
        x[k] = ag_rand(NULL, AG_FLOAT32, image_ndim + 1, shape);
        y[k] = ag_randint(NULL, 0, 10, AG_SHAPE(batch));
    }
    double *times = malloc((size_t)steps * sizeof *times);
    double *cpu = malloc((size_t)steps * sizeof *cpu);
    if (!times || !cpu) return 1;
    double loss = bench_train_steps(model, opt, x, y, pool, warmup, steps, times, cpu);
    double scale = in_ms ? 1e3 : 1e6;
    for (int s = 0; s < steps; s++)
        times[s] *= scale, cpu[s] *= scale;
    const char *unit = in_ms ? "ms" : "us";
    int digits = in_ms ? 3 : 2;
    printf("loss after %d steps: %.4f\n", warmup + steps, loss);
    printf("wall-clock median: %.*f %s/step\n", digits, bench_median(times, steps), unit);
    printf("%s: %.*f %s/step (CPU time)\n", name, digits, bench_median(cpu, steps), unit);
    free(times), free(cpu);
    for (int k = 0; k < pool; k++)
        ag_tensor_free(x[k]), ag_tensor_free(y[k]);
    ag_optimizer_free(opt);
    ag_sequential_free(model);
    return 0;
}
#endif

#endif
