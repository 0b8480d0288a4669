/*
 * alloc_count.c - heap allocations per steady training step (target: none).
 *
 *     build/bench/alloc_count [STEPS]
 *
 * This program defines malloc, calloc, realloc, aligned_alloc, posix_memalign and free itself:
 * they take the place of the C library's for the whole process (the library's calls included,
 * with no LD_PRELOAD and no link flag), count each call, and pass it on to the C library's
 * own, found with dlsym(RTLD_NEXT). Each workload runs a few warm-up steps (the tape reaches
 * its high-water mark, .grad and optimizer buffers exist), then STEPS counted steps; a row says
 * the allocations per step. The last line is "alloc_count: <allocations per step, summed over
 * the rows>": every row should make none (zero_grad(set_to_none=True) and the data loader's
 * epochs included), so anything but 0.00 there is a regression to look at.
 */
#define _GNU_SOURCE /* RTLD_NEXT; first, before bench.h sets _POSIX_C_SOURCE */
#define BENCH_TRAINING /* bench_mlp, bench_cnn */
#include "bench.h"

#include "autograd/autograd.h"
#include "autograd/data.h"
#include "nn/nn.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ---- the counters ------------------------------------------------------------------------- */

static bool counting;
static long long allocs, frees;
static size_t bytes;

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void (*real_free)(void *);

/* dlsym may itself call calloc before real_calloc is known: that is served from here. */
static _Alignas(16) char bootstrap[4096];
static size_t bootstrap_used;
static bool resolving;

/* (memcpy: ISO C has no cast from an object pointer to a function pointer) */
#define RESOLVE(fn, name)                                                                      \
    do {                                                                                       \
        void *p_ = dlsym(RTLD_NEXT, name);                                                     \
        memcpy(&fn, &p_, sizeof p_);                                                           \
    } while (0)

static void resolve(void) {
    if (real_free || resolving) return;
    resolving = true;
    RESOLVE(real_malloc, "malloc");
    RESOLVE(real_calloc, "calloc");
    RESOLVE(real_realloc, "realloc");
    RESOLVE(real_aligned_alloc, "aligned_alloc");
    RESOLVE(real_posix_memalign, "posix_memalign");
    RESOLVE(real_free, "free");
    resolving = false;
}

static void count(size_t n) {
    if (!counting) return;
    allocs++;
    bytes += n;
}

void *malloc(size_t n) { return resolve(), count(n), real_malloc(n); }
void *realloc(void *p, size_t n) { return resolve(), count(n), real_realloc(p, n); }
void *aligned_alloc(size_t a, size_t n) { return resolve(), count(n), real_aligned_alloc(a, n); }
int posix_memalign(void **p, size_t a, size_t n) {
    return resolve(), count(n), real_posix_memalign(p, a, n);
}

void *calloc(size_t n, size_t size) {
    resolve();
    if (!real_calloc) { /* inside dlsym, before it is known */
        size_t want = (n * size + 15) & ~(size_t)15;
        if (bootstrap_used + want > sizeof bootstrap) return NULL;
        bootstrap_used += want;
        return bootstrap + bootstrap_used - want; /* static: already zero */
    }
    return count(n * size), real_calloc(n, size);
}

void free(void *p) {
    if (!p || ((char *)p >= bootstrap && (char *)p < bootstrap + sizeof bootstrap)) return;
    resolve();
    if (counting) frees++;
    real_free(p);
}

/* Runs step(state) warmup times, then steps times counting; prints a row; returns the
 * allocations per counted step. */
static double measure(const char *name, const char *unit, void (*step)(void *), void *state,
                      int warmup, int steps) {
    for (int s = 0; s < warmup; s++) step(state);
    allocs = frees = 0;
    bytes = 0;
    counting = true;
    for (int s = 0; s < steps; s++) step(state);
    counting = false;
    double per = (double)allocs / steps;
    printf("%-64s %8.2f allocations/%s (%lld frees, %zu bytes in all)\n", name, per, unit, frees,
           bytes);
    return per;
}

/* ---- the seed's loop and a scalar chain (bench/seed_loop.c, bench/scalar_chain.c) --------- */

typedef struct seed_state {
    ag_tensor *x, *y, *w, *b;
} seed_state;

static void seed_step(void *p) {
    seed_state *s = p;
    ag_tensor *loss = ag_mean(ag_pow_scalar(ag_sub(ag_add(ag_mul(s->w, s->x), s->b), s->y), 2));
    ag_backward(loss);
    AG_NO_GRAD {
        ag_sub_(s->w, ag_mul_scalar(s->w->grad, 0.01));
        ag_sub_(s->b, ag_mul_scalar(s->b->grad, 0.01));
    }
    ag_zero_(s->w->grad);
    ag_zero_(s->b->grad);
    (void)ag_item(loss);
    ag_tape_reset(NULL);
}

static void chain_step(void *p) {
    ag_tensor *x = p, *y = x;
    for (int i = 0; i < 10000; i++) y = i % 2 ? ag_add_scalar(y, 0.001) : ag_mul_scalar(y, 0.999);
    ag_backward(y);
    ag_zero_(x->grad);
    ag_tape_reset(NULL);
}

/* ---- training steps of an MLP and a convnet (bench/mlp_step.c, bench/cnn_step.c) ----------- */

typedef struct model_state {
    ag_sequential *model;
    ag_optimizer *opt;
    ag_tensor *x, *y;
    ag_data_loader *loader; /* when set, the batches come from it, one per step */
    bool set_to_none;
} model_state;

static void model_step(void *p) {
    model_state *s = p;
    ag_tensor *batch[2] = {s->x, s->y};
    if (s->loader && !ag_data_loader_next(s->loader, batch)) ag_data_loader_next(s->loader, batch);
    ag_optimizer_zero_grad(s->opt, s->set_to_none);
    ag_tensor *l =
        ag_cross_entropy(ag_sequential_forward(s->model, batch[0]), batch[1], AG_REDUCTION_MEAN);
    ag_backward(l);
    ag_optimizer_step(s->opt);
    ag_tape_reset(NULL);
}

static model_state mlp(int64_t batch) {
    model_state s = {.model = bench_mlp()};
    int n;
    ag_tensor *const *params = ag_sequential_parameters(s.model, &n);
    s.opt = ag_sgd(params, n, (ag_sgd_options){.lr = 0.1, .momentum = 0.9});
    s.x = ag_randn(NULL, AG_FLOAT32, AG_SHAPE(batch, 784));
    s.y = ag_randint(NULL, 0, 10, AG_SHAPE(batch));
    return s;
}

static model_state cnn(int64_t batch) {
    model_state s = {.model = bench_cnn()};
    int n;
    ag_tensor *const *params = ag_sequential_parameters(s.model, &n);
    s.opt = ag_sgd(params, n, (ag_sgd_options){.lr = 0.1, .momentum = 0.9});
    s.x = ag_randn(NULL, AG_FLOAT32, AG_SHAPE(batch, 1, 28, 28));
    s.y = ag_randint(NULL, 0, 10, AG_SHAPE(batch));
    return s;
}

static void model_free(model_state *s) {
    ag_data_loader_free(s->loader);
    ag_tensor_free(s->x), ag_tensor_free(s->y);
    ag_optimizer_free(s->opt);
    ag_sequential_free(s->model);
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 100;
    if (argc > 2 || steps <= 0) {
        fprintf(stderr, "usage: %s [STEPS]\n", argv[0]);
        return 2;
    }
    ag_manual_seed(0);
    double steady = 0; /* the rows' sum: each should make no allocation */

    seed_state seed = {AG_TENSOR(1.0, 2.0, 3.0, 4.0), AG_TENSOR(2.0, 4.0, 6.0, 8.0),
                       ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true),
                       ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true)};
    steady += measure("seed loop (bench/seed_loop)", "epoch", seed_step, &seed, 3, steps * 100);
    ag_tensor_free(seed.x), ag_tensor_free(seed.y), ag_tensor_free(seed.w), ag_tensor_free(seed.b);

    ag_tensor *x = ag_requires_grad_(ag_scalar(0.5, AG_FLOAT32), true);
    steady += measure("scalar chain of 10000 ops (bench/scalar_chain)", "chain", chain_step, x, 2,
                      steps / 10 + 1);
    ag_tensor_free(x);

    model_state m = mlp(64);
    steady +=
        measure("MLP batch 64, zero_grad(set_to_none=False)", "step", model_step, &m, 3, steps);
    m.set_to_none = true; /* .grad freed and made again each step, as in torch */
    steady +=
        measure("MLP batch 64, zero_grad(set_to_none=True)", "step", model_step, &m, 3, steps);
    model_free(&m);

    /* An epoch every 20 steps: each begins with the workers' base seed, (without a generator)
     * the sampler's seed and its re-seeding, and the randperm; each ends, with a generator,
     * with RandomSampler's unused randperm. */
    m = mlp(64 * 20);
    model_state data = mlp(64);
    data.loader = ag_data_loader_new((ag_tensor *[]){m.x, m.y}, 2,
                                     (ag_data_loader_options){.batch_size = 64, .shuffle = true});
    steady += measure("MLP batch 64 + DataLoader(shuffle), 20 steps an epoch", "step", model_step,
                      &data, 25, steps);
    model_free(&data);
    ag_generator *gen = ag_generator_new(0);
    data = mlp(64);
    data.loader = ag_data_loader_new(
        (ag_tensor *[]){m.x, m.y}, 2,
        (ag_data_loader_options){.batch_size = 64, .shuffle = true, .generator = gen});
    steady += measure("MLP batch 64 + DataLoader(shuffle, generator), 20 steps an epoch", "step",
                      model_step, &data, 25, steps);
    model_free(&data);
    ag_generator_free(gen);
    model_free(&m);

    m = cnn(16);
    steady += measure("CNN batch 16, zero_grad(set_to_none=False)", "step", model_step, &m, 2,
                      steps / 10 + 1);
    model_free(&m);

    printf("alloc_count: %.2f allocations/step\n", steady);
    return 0;
}
