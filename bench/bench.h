/*
 * bench.h - what the benchmark programs share: a monotonic clock and the median of repeats.
 *
 * Each program times its workload REPEATS times in-process and prints, on its last line,
 * "NAME: <median> <unit>" so that bench/run.sh can read the figure and anyone can rerun one.
 */
#ifndef AG_BENCH_H
#define AG_BENCH_H

#define _POSIX_C_SOURCE 200809L
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

/* The median of n values (sorts them). */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
