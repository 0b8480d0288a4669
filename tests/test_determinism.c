/*
 * test_determinism.c - the same seed gives the same bits, run after run and whatever the
 * OpenBLAS thread count, checked with tensor fingerprints (XXH3 of dtype, shape and data).
 *
 * OpenBLAS alone does not: it sums a GEMM in another order when it splits it between threads
 * (ops/gemm.c says where; the first test shows it). Every product of the library goes through
 * ag_gemm, which gives the bits of OpenBLAS with 1 thread for any count. Here products (with
 * 1 to 4 threads), their gradients (1 to 3) and short MLP and CNN training runs (1 and 2) must
 * agree bit for bit, and the products with cblas called with 1 thread; the user's count must
 * be as it was afterwards, also when products run on two threads at once, and a forked child
 * must multiply too. The count is varied in the process with openblas_set_num_threads
 * (cblas.h), and each test puts the count it found back.
 */
#define _POSIX_C_SOURCE 200809L /* pthreads */
#include "common.h"

#include "nn/nn.h"

#include <cblas.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

AG_TEST_SUITE(determinism);

/* ---- products ----------------------------------------------------------------------------- */

/* a (n,k) @ b (k,m): chosen so that OpenBLAS alone differs between 1 and 2 threads, or to
 * reach every path of ag_gemm (one block, several, tails in every dim) */
typedef struct dims {
    int64_t n, k, m;
} dims;
static const dims shapes[] = {
    {256, 256, 256}, /* sgemm: 5616 elements differ in OpenBLAS alone */
    {64, 784, 64},   /* an MLP layer */
    {301, 263, 257}, /* tails in every dim */
    {300, 700, 300}, /* K's last stretch halved: dgemm differs in OpenBLAS alone */
    {1000, 40, 300}, /* many rows, few columns: two blocks */
    {30, 2000, 500}, /* too few rows to cut: one call */
    {3100, 40, 50},  /* more rows than one call takes (3072) */
};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* c (n,m) = a @ b by cblas itself, with OpenBLAS's count as it is */
static void cblas_product(ag_dtype dtype, dims d, const void *a, const void *b, void *c) {
    int n = (int)d.n, k = (int)d.k, m = (int)d.m;
    if (dtype == AG_FLOAT32)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, m, k, 1.0f, a, k, b, m, 0.0f, c,
                    m);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, m, k, 1.0, a, k, b, m, 0.0, c, m);
}

static const char *dtype_name(ag_dtype dtype) {
    return dtype == AG_FLOAT32 ? "float32" : "float64";
}

/* Evidence for the tests below: without ag_gemm, 2 threads change the bits (this test can
 * only say so for the OpenBLAS it was written against: a pthreads build, Haswell kernels). */
Test(determinism, openblas_alone_differs_between_thread_counts) {
    int threads = openblas_get_num_threads();
    if (openblas_get_parallel() != 1 || strcmp(openblas_get_corename(), "Haswell") != 0) return;
    ag_manual_seed(1);
    dims d = {256, 256, 256};
    ag_tensor *a = ag_randn(NULL, AG_FLOAT32, AG_SHAPE(d.n, d.k));
    ag_tensor *b = ag_randn(NULL, AG_FLOAT32, AG_SHAPE(d.k, d.m));
    ag_tensor *one = ag_zeros(AG_FLOAT32, AG_SHAPE(d.n, d.m));
    ag_tensor *two = ag_zeros(AG_FLOAT32, AG_SHAPE(d.n, d.m));
    openblas_set_num_threads(1);
    cblas_product(AG_FLOAT32, d, a->data, b->data, one->data);
    openblas_set_num_threads(2);
    cblas_product(AG_FLOAT32, d, a->data, b->data, two->data);
    openblas_set_num_threads(threads);
    cr_assert_neq(ag_fingerprint(one), ag_fingerprint(two),
                  "OpenBLAS gave the same bits with 1 and 2 threads: the tests below prove less");
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(one), ag_tensor_free(two);
}

Test(determinism, products_have_the_bits_of_one_thread_for_any_count) {
    int threads = openblas_get_num_threads();
    for (int t = 0; t < 2; t++) {
        ag_dtype dtype = t ? AG_FLOAT64 : AG_FLOAT32;
        for (int s = 0; s < NSHAPES; s++) {
            dims d = shapes[s];
            ag_manual_seed((uint64_t)s);
            ag_tensor *a = ag_randn(NULL, dtype, AG_SHAPE(d.n, d.k));
            ag_tensor *b = ag_randn(NULL, dtype, AG_SHAPE(d.k, d.m));
            ag_tensor *expect = ag_zeros(dtype, AG_SHAPE(d.n, d.m));
            openblas_set_num_threads(1);
            cblas_product(dtype, d, a->data, b->data, expect->data);
            for (int count = 1; count <= 4; count++) {
                openblas_set_num_threads(count);
                ag_tensor *got = ag_matmul(a, b);
                cr_assert_eq(openblas_get_num_threads(), count, "the thread count was changed");
                cr_assert(
                    memcmp(got->data, expect->data, (size_t)got->numel * ag_dtype_size(dtype)) == 0,
                    "%s (%lld,%lld) @ (%lld,%lld) with %d threads differs from OpenBLAS "
                    "with 1 thread",
                    dtype_name(dtype), (long long)d.n, (long long)d.k, (long long)d.k,
                    (long long)d.m, count);
                ag_tape_reset(NULL);
            }
            ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(expect);
        }
    }
    openblas_set_num_threads(threads);
}

/* The fingerprints of a's and b's gradients of sum((a @ b) * r), r random; a may be batched:
 * (batch, n, k) @ (k, m), or (n, k) @ (k, m) for batch 0. Backward computes g @ b^T and
 * a^T @ g, ag_gemm's transposed forms. */
static void gradient_prints(ag_dtype dtype, int64_t batch, dims d, uint64_t prints[2]) {
    ag_manual_seed(3);
    ag_tensor *a = batch ? ag_randn(NULL, dtype, AG_SHAPE(batch, d.n, d.k))
                         : ag_randn(NULL, dtype, AG_SHAPE(d.n, d.k));
    ag_tensor *b = ag_randn(NULL, dtype, AG_SHAPE(d.k, d.m));
    ag_tensor *r = batch ? ag_randn(NULL, dtype, AG_SHAPE(batch, d.n, d.m))
                         : ag_randn(NULL, dtype, AG_SHAPE(d.n, d.m));
    ag_requires_grad_(a, true), ag_requires_grad_(b, true);
    ag_backward(ag_sum(ag_mul(ag_matmul(a, b), r)));
    prints[0] = ag_fingerprint(a->grad);
    prints[1] = ag_fingerprint(b->grad);
    ag_tape_reset(NULL);
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(r);
}

Test(determinism, gradients_are_the_same_bits_for_any_count) {
    int threads = openblas_get_num_threads();
    static const int64_t batches[] = {0, 0, 3};
    static const dims cases[] = {{256, 256, 256}, {300, 700, 300}, {256, 256, 256}};
    for (int t = 0; t < 2; t++) {
        ag_dtype dtype = t ? AG_FLOAT64 : AG_FLOAT32;
        for (int c = 0; c < 3; c++) {
            uint64_t one[2], other[2];
            openblas_set_num_threads(1);
            gradient_prints(dtype, batches[c], cases[c], one);
            for (int count = 2; count <= 3; count++) {
                openblas_set_num_threads(count);
                gradient_prints(dtype, batches[c], cases[c], other);
                for (int k = 0; k < 2; k++)
                    cr_assert_eq(one[k], other[k],
                                 "%s case %d: the gradient of %s differs between 1 and %d "
                                 "threads",
                                 dtype_name(dtype), c, k ? "b" : "a", count);
            }
        }
    }
    openblas_set_num_threads(threads);
}

/* ---- the thread count is the user's --------------------------------------------------------- */

typedef struct worker {
    ag_tensor *a, *b;
    uint64_t expect; /* the product's fingerprint */
    int wrong;       /* products that did not have it */
} worker;

/* On a tape of its own, freed before the thread ends (a thread's default tape would keep its
 * memory after the thread is gone). */
static void *multiply_repeatedly(void *arg) {
    worker *w = arg;
    ag_tape *tape = ag_tape_new();
    ag_tape_use(tape);
    for (int i = 0; i < 8; i++) {
        ag_tensor *p = ag_matmul(w->a, w->b);
        if (!p || ag_fingerprint(p) != w->expect) w->wrong++;
        ag_tape_reset(NULL);
    }
    ag_tape_use(NULL);
    ag_tape_free(tape);
    return NULL;
}

Test(determinism, the_thread_count_is_left_as_it_was) {
    int threads = openblas_get_num_threads();
    ag_manual_seed(5);
    ag_tensor *a = ag_randn(NULL, AG_FLOAT32, AG_SHAPE(384, 256));
    ag_tensor *b = ag_randn(NULL, AG_FLOAT32, AG_SHAPE(256, 256));
    openblas_set_num_threads(1);
    uint64_t expect = ag_fingerprint(ag_matmul(a, b));
    for (int count = 2; count <= 3; count++) {
        openblas_set_num_threads(count);
        ag_matmul(a, b);
        cr_assert_eq(openblas_get_num_threads(), count);
    }
    /* two threads of the program multiply at once, each with 2 blocks of its own: OpenBLAS is
     * held at 1 thread until both are done, then the count is 2 again */
    openblas_set_num_threads(2);
    worker w[2] = {{a, b, expect, 0}, {a, b, expect, 0}};
    pthread_t ids[2];
    for (int k = 0; k < 2; k++)
        cr_assert_eq(pthread_create(&ids[k], NULL, multiply_repeatedly, &w[k]), 0);
    for (int k = 0; k < 2; k++)
        pthread_join(ids[k], NULL);
    cr_assert_eq(w[0].wrong + w[1].wrong, 0, "%d products of 16 had other bits",
                 w[0].wrong + w[1].wrong);
    cr_assert_eq(openblas_get_num_threads(), 2, "the thread count is %d, not 2",
                 openblas_get_num_threads());
    openblas_set_num_threads(threads);
    ag_tensor_free(a), ag_tensor_free(b);
}

/* A child forked while the helper threads exist has none: its products must start their own
 * rather than wait for threads that are not there, and give the same bits. */
Test(determinism, a_forked_child_multiplies_with_threads_of_its_own, .timeout = 60) {
    int threads = openblas_get_num_threads();
    ag_manual_seed(6);
    ag_tensor *a = ag_randn(NULL, AG_FLOAT32, AG_SHAPE(384, 256));
    ag_tensor *b = ag_randn(NULL, AG_FLOAT32, AG_SHAPE(256, 256));
    openblas_set_num_threads(1);
    uint64_t expect = ag_fingerprint(ag_matmul(a, b));
    openblas_set_num_threads(2);
    cr_assert_eq(ag_fingerprint(ag_matmul(a, b)), expect); /* the helpers are started */
    fflush(NULL);
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        bool same = ag_fingerprint(ag_matmul(a, b)) == expect && openblas_get_num_threads() == 2;
        ag_tape_reset(NULL);
        ag_tensor_free(a), ag_tensor_free(b); /* (the child's copies: valgrind checks it too) */
        _exit(same ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the child's product had other bits, or the thread count changed");
    openblas_set_num_threads(threads);
    ag_tensor_free(a), ag_tensor_free(b);
}

/* ---- training runs ------------------------------------------------------------------------ */

typedef enum model_kind {
    SMALL_MLP, /* 784 -> 64 -> 10, batch 64: OpenBLAS threads its products */
    WIDE_MLP,  /* 784 -> 256 -> 10, batch 128: ag_gemm cuts its products in blocks */
    CNN,       /* bench/cnn_step's convnet, batch 8 */
} model_kind;

/* The model, its parameters drawn in torch's order (one module per statement). */
static ag_sequential *make_model(model_kind kind) {
    if (kind == CNN) {
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
    int64_t width = kind == WIDE_MLP ? 256 : 64;
    ag_module *hidden = ag_linear_module(784, width, true, NULL);
    ag_module *relu = ag_relu_module();
    ag_module *out = ag_linear_module(width, 10, true, NULL);
    return ag_sequential_new(3, (ag_module *[]){hidden, relu, out});
}

/* Trains from seed for a few SGD steps and writes each parameter's fingerprint into prints
 * (returns how many). */
static int train(model_kind kind, uint64_t seed, uint64_t *prints) {
    ag_manual_seed(seed);
    int64_t batch = kind == WIDE_MLP ? 128 : kind == CNN ? 8 : 64;
    ag_tensor *x = kind == CNN ? ag_rand(NULL, AG_FLOAT32, AG_SHAPE(batch, 1, 28, 28))
                               : ag_randn(NULL, AG_FLOAT32, AG_SHAPE(batch, 784));
    ag_tensor *y = ag_randint(NULL, 0, 10, AG_SHAPE(batch));
    ag_sequential *model = make_model(kind);
    int n;
    ag_tensor *const *params = ag_sequential_parameters(model, &n);
    ag_optimizer *opt = ag_sgd(params, n, (ag_sgd_options){.lr = 0.1, .momentum = 0.9});
    for (int step = 0; step < (kind == SMALL_MLP ? 5 : 3); step++) {
        ag_optimizer_zero_grad(opt, true);
        ag_backward(ag_cross_entropy(ag_sequential_forward(model, x), y, AG_REDUCTION_MEAN));
        ag_optimizer_step(opt);
        ag_tape_reset(NULL);
    }
    for (int k = 0; k < n; k++)
        prints[k] = ag_fingerprint(params[k]);
    ag_optimizer_free(opt);
    ag_sequential_free(model);
    ag_tensor_free(x), ag_tensor_free(y);
    return n;
}

Test(determinism, same_seed_same_fingerprints_across_runs) {
    uint64_t one[8], again[8], other[8];
    int threads = openblas_get_num_threads();
    for (int t = 1; t <= 2; t++) {
        openblas_set_num_threads(t);
        int n = train(SMALL_MLP, 7, one);
        train(SMALL_MLP, 7, again);
        train(SMALL_MLP, 8, other);
        cr_assert_eq(n, 4);
        for (int k = 0; k < n; k++) {
            cr_assert_eq(one[k], again[k], "parameter %d differs between two runs (%d threads)", k,
                         t);
            cr_assert_neq(one[k], other[k], "parameter %d is the same for another seed", k);
        }
    }
    openblas_set_num_threads(threads);
}

Test(determinism, same_seed_same_fingerprints_across_thread_counts) {
    static const char *names[] = {"small MLP", "wide MLP", "CNN"};
    int threads = openblas_get_num_threads();
    for (model_kind kind = SMALL_MLP; kind <= CNN; kind++) {
        uint64_t one[8], two[8];
        openblas_set_num_threads(1);
        int n = train(kind, 11, one);
        openblas_set_num_threads(2);
        train(kind, 11, two);
        cr_assert_eq(n, kind == CNN ? 6 : 4);
        for (int k = 0; k < n; k++)
            cr_assert_eq(one[k], two[k], "%s: parameter %d differs between 1 and 2 threads",
                         names[kind], k);
    }
    openblas_set_num_threads(threads);
}
