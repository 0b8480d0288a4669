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
#endif

#endif
