/*
 * test_random.c - random numbers against torch 1.13, bit for bit (autograd/random.c).
 *
 * Every expected number comes from tests/fixtures/gen_random.py, which runs the same calls in
 * torch after torch.manual_seed(seed) for seeds 0, 1, 42 and 1234. The comparisons are of the
 * bits, not within a tolerance: the point of the generator is that a C training loop starts
 * from exactly the weights, batches and noise its PyTorch twin starts from.
 */
#include "common.h"
#include "fixtures/random.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

AG_TEST_SUITE(random);

/* ---- helpers ------------------------------------------------------------------------------ */

/* The bits of element i (a float32's 32 bits, a float64's 64, an int64's value). */
static uint64_t element_bits(const ag_tensor *t, int64_t i) {
    if (t->dtype == AG_FLOAT32) {
        uint32_t u;
        memcpy(&u, &AG_F32(t)[i], sizeof u);
        return u;
    }
    if (t->dtype == AG_FLOAT64) {
        uint64_t u;
        memcpy(&u, &AG_F64(t)[i], sizeof u);
        return u;
    }
    return (uint64_t)AG_I64(t)[i];
}

/* The bits a fixture value has in dtype (float32 values are stored as exact doubles). */
static uint64_t expected_bits(ag_dtype dtype, double v) {
    if (dtype == AG_FLOAT32) {
        float f = (float)v;
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        return u;
    }
    if (dtype == AG_FLOAT64) {
        uint64_t u;
        memcpy(&u, &v, sizeof u);
        return u;
    }
    return (uint64_t)(int64_t)v;
}

/* t holds exactly the n values, bit for bit. */
static void assert_bits(const ag_tensor *t, const double *expected, int64_t n, const char *what) {
    cr_assert_not_null(t, "%s: NULL (error: %s)", what, ag_last_error());
    cr_assert_eq(t->numel, n, "%s: %lld elements, expected %lld", what, (long long)t->numel,
                 (long long)n);
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(element_bits(t, i), expected_bits(t->dtype, expected[i]),
                     "%s: element %lld is %.17g, torch gives %.17g", what, (long long)i,
                     ag_get(t, i), expected[i]);
}

static void assert_ints(const ag_tensor *t, const int64_t *expected, int64_t n, const char *what) {
    cr_assert_not_null(t, "%s: NULL (error: %s)", what, ag_last_error());
    cr_assert_eq(t->dtype, AG_INT64, "%s: not int64", what);
    cr_assert_eq(t->numel, n, "%s: %lld elements, expected %lld", what, (long long)t->numel,
                 (long long)n);
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(AG_I64(t)[i], expected[i], "%s: element %lld is %lld, torch gives %lld", what,
                     (long long)i, (long long)AG_I64(t)[i], (long long)expected[i]);
}

/* Compares t with the next t->numel values at *cursor, advances the cursor, frees t. */
static void check_next(const double **cursor, ag_tensor *t, const char *what) {
    cr_assert_not_null(t, "%s: NULL (error: %s)", what, ag_last_error());
    assert_bits(t, *cursor, t->numel, what);
    *cursor += t->numel;
    ag_tensor_free(t);
}

/* FNV-1a over the element bits, as gen_random.py's fnv(). */
static uint64_t bits_hash(const ag_tensor *t) {
    uint64_t h = UINT64_C(14695981039346656037);
    for (int64_t i = 0; i < t->numel; i++)
        h = (h ^ element_bits(t, i)) * UINT64_C(1099511628211);
    return h;
}

static ag_tensor *vector(ag_dtype dtype, int64_t n) { return ag_empty(dtype, 1, &n); }

static const char *dtype_tag(ag_dtype dtype) { return dtype == AG_FLOAT32 ? "f32" : "f64"; }

/* ---- creation: rand, randn, randint, randperm --------------------------------------------- */

Test(random, rand_matches_torch_for_every_size_up_to_100) {
    for (int s = 0; s < RANDOM_NSEEDS; s++) {
        for (int d = 0; d < 2; d++) {
            ag_dtype dtype = d ? AG_FLOAT64 : AG_FLOAT32;
            const double *expected = (d ? rand_f64 : rand_f32) + 100 * s;
            for (int64_t n = 1; n <= 100; n++) {
                if (n > 40 && n != 100) continue;
                ag_manual_seed(random_seeds[s]);
                ag_tensor *t = ag_rand(NULL, dtype, 1, &n);
                char what[64];
                snprintf(what, sizeof what, "rand(%lld) %s seed %llu", (long long)n,
                         dtype_tag(dtype), (unsigned long long)random_seeds[s]);
                assert_bits(t, expected, n, what);
                ag_tensor_free(t);
            }
        }
    }
}

Test(random, rand_takes_any_shape_and_stays_in_unit_interval) {
    ag_manual_seed(0);
    ag_tensor *t = ag_rand(NULL, AG_FLOAT32, AG_SHAPE(4, 5, 5));
    ASSERT_SHAPE(t, 4, 5, 5);
    cr_assert_not(t->requires_grad);
    assert_bits(t, rand_f32, 100, "rand(4, 5, 5) seed 0"); /* row-major: rand(100) */
    for (int64_t i = 0; i < t->numel; i++)
        cr_assert(AG_F32(t)[i] >= 0 && AG_F32(t)[i] < 1);
    ag_tensor_free(t);
    ag_manual_seed(0);
    ag_tensor *s = ag_rand(NULL, AG_FLOAT64, AG_SCALAR_SHAPE); /* torch.rand(()) */
    ASSERT_SCALAR_SHAPE(s);
    assert_bits(s, rand_f64, 1, "rand(()) f64 seed 0");
    ag_tensor_free(s);
}

Test(random, randn_below_16_is_box_muller_pairs) {
    for (int s = 0; s < RANDOM_NSEEDS; s++) {
        for (int d = 0; d < 2; d++) {
            ag_dtype dtype = d ? AG_FLOAT64 : AG_FLOAT32;
            const double *expected = (d ? randn_small_f64 : randn_small_f32) + 15 * s;
            for (int64_t n = 1; n < 16; n++) {
                ag_manual_seed(random_seeds[s]);
                ag_tensor *t = ag_randn(NULL, dtype, 1, &n);
                char what[64];
                snprintf(what, sizeof what, "randn(%lld) %s seed %llu", (long long)n,
                         dtype_tag(dtype), (unsigned long long)random_seeds[s]);
                assert_bits(t, expected, n, what);
                ag_tensor_free(t);
            }
        }
    }
}

Test(random, randn_from_16_is_blocks_with_the_tail_redrawn) {
    const int nsizes = (int)(sizeof randn_block_sizes / sizeof *randn_block_sizes);
    for (int d = 0; d < 2; d++) {
        ag_dtype dtype = d ? AG_FLOAT64 : AG_FLOAT32;
        const double *expected = d ? randn_block_f64 : randn_block_f32;
        for (int s = 0; s < RANDOM_NSEEDS; s++) {
            for (int k = 0; k < nsizes; k++) {
                int64_t n = randn_block_sizes[k];
                ag_manual_seed(random_seeds[s]);
                char what[64];
                snprintf(what, sizeof what, "randn(%lld) %s seed %llu", (long long)n,
                         dtype_tag(dtype), (unsigned long long)random_seeds[s]);
                check_next(&expected, ag_randn(NULL, dtype, 1, &n), what);
            }
        }
        ag_manual_seed(0);
        ag_tensor *big = ag_randn(NULL, dtype, AG_SHAPE(10, 100));
        assert_bits(big, d ? randn_1000_f64 : randn_1000_f32, 1000, "randn(10, 100) seed 0");
        ag_tensor_free(big);
    }
}

Test(random, randint_matches_torch_in_both_draw_widths) {
    for (int s = 0; s < RANDOM_NSEEDS; s++) {
        ag_manual_seed(random_seeds[s]);
        ag_tensor *t = ag_randint(NULL, -7, 100, AG_SHAPE(50));
        assert_ints(t, randint_small + 50 * s, 50, "randint(-7, 100, (50,))");
        ag_tensor_free(t);
        ag_manual_seed(random_seeds[s]);
        t = ag_randint(NULL, -((int64_t)1 << 40), (int64_t)1 << 62, AG_SHAPE(4, 5));
        ASSERT_SHAPE(t, 4, 5);
        assert_ints(t, randint_big + 20 * s, 20, "randint(-2^40, 2^62, (4, 5))");
        ag_tensor_free(t);
    }
    ag_manual_seed(0);
    ag_tensor *t = ag_randint(NULL, INT64_MIN, INT64_MAX, AG_SHAPE(10));
    assert_ints(t, randint_full_seed0, 10, "randint(-2^63, 2^63 - 1, (10,))");
    ag_tensor_free(t);
}

Test(random, randperm_matches_torch) {
    const int nsizes = (int)(sizeof randperm_sizes / sizeof *randperm_sizes);
    const int64_t *expected = randperm_values;
    for (int s = 0; s < RANDOM_NSEEDS; s++) {
        for (int k = 0; k < nsizes; k++) {
            ag_manual_seed(random_seeds[s]);
            ag_tensor *p = ag_randperm(NULL, randperm_sizes[k]);
            assert_ints(p, expected, randperm_sizes[k], "randperm");
            expected += randperm_sizes[k];
            ag_tensor_free(p);
        }
    }
    ag_manual_seed(0);
    ag_tensor *p = ag_randperm(NULL, 1000);
    assert_ints(p, randperm_1000_seed0, 1000, "randperm(1000)");
    /* and it is a permutation */
    bool seen[1000] = {false};
    for (int i = 0; i < 1000; i++) {
        cr_assert(AG_I64(p)[i] >= 0 && AG_I64(p)[i] < 1000 && !seen[AG_I64(p)[i]]);
        seen[AG_I64(p)[i]] = true;
    }
    ag_tensor_free(p);
    ag_tensor *empty = ag_randperm(NULL, 0);
    ASSERT_SHAPE(empty, 0);
    ag_tensor_free(empty);
}

/* ---- one stream, many calls; generators --------------------------------------------------- */

Test(random, interleaved_calls_continue_one_stream) {
    const double *expected = interleaved;
    for (int s = 0; s < RANDOM_NSEEDS; s++) {
        ag_manual_seed(random_seeds[s]);
        check_next(&expected, ag_rand(NULL, AG_FLOAT32, AG_SHAPE(5)), "rand(5)");
        check_next(&expected, ag_randn(NULL, AG_FLOAT32, AG_SHAPE(3)), "randn(3)");
        check_next(&expected, ag_randperm(NULL, 10), "randperm(10)");
        check_next(&expected, ag_randn(NULL, AG_FLOAT64, AG_SHAPE(20)), "randn(20) f64");
        /* its first value is the sin that randn(3) cached: the cache is the generator's */
        check_next(&expected, ag_randn(NULL, AG_FLOAT64, AG_SHAPE(2)), "randn(2) f64");
        check_next(&expected, ag_rand(NULL, AG_FLOAT64, AG_SHAPE(7)), "rand(7) f64");
        check_next(&expected, ag_randint(NULL, 0, 5, AG_SHAPE(4)), "randint(0, 5, (4,))");
        check_next(&expected, ag_randn(NULL, AG_FLOAT32, AG_SHAPE(1)), "randn(1)");
        check_next(&expected, ag_uniform_(vector(AG_FLOAT32, 6), -2, 3, NULL), "uniform_(-2, 3)");
        check_next(&expected, ag_normal_(vector(AG_FLOAT64, 5), 1, 2, NULL), "normal_(1, 2)");
    }
    cr_assert_eq(expected, interleaved + sizeof interleaved / sizeof *interleaved);
}

Test(random, a_generator_object_is_its_own_stream) {
    const double *expected = generator_values;
    for (int s = 0; s < RANDOM_NSEEDS; s++) {
        ag_manual_seed(random_seeds[s]);
        ag_generator *g = ag_generator_new(7);
        check_next(&expected, ag_rand(NULL, AG_FLOAT32, AG_SHAPE(4)), "rand(4)");
        check_next(&expected, ag_rand(g, AG_FLOAT32, AG_SHAPE(4)), "rand(4, g)");
        check_next(&expected, ag_randn(g, AG_FLOAT32, AG_SHAPE(3)), "randn(3, g)");
        check_next(&expected, ag_randn(NULL, AG_FLOAT32, AG_SHAPE(3)), "randn(3)");
        check_next(&expected, ag_randperm(g, 6), "randperm(6, g)");
        check_next(&expected, ag_rand(NULL, AG_FLOAT32, AG_SHAPE(4)), "rand(4)");
        check_next(&expected, ag_randn(g, AG_FLOAT32, AG_SHAPE(1)), "randn(1, g): cached");
        ag_generator_free(g);
    }
}

Test(random, a_new_generator_equals_the_default_after_the_same_seed) {
    ag_manual_seed(42);
    ag_generator *g = ag_generator_new(42);
    cr_assert_eq(ag_generator_initial_seed(g), 42);
    cr_assert_eq(ag_initial_seed(), 42);
    cr_assert_eq(ag_generator_initial_seed(ag_default_generator()), 42);
    ag_tensor *a = ag_randn(NULL, AG_FLOAT64, AG_SHAPE(7, 3));
    ag_tensor *b = ag_randn(g, AG_FLOAT64, AG_SHAPE(7, 3));
    cr_assert_eq(memcmp(a->data, b->data, 21 * sizeof(double)), 0);
    /* reseeding drops the cached normal: randn(1) twice after a seed gives the same value */
    ag_generator_manual_seed(g, 5);
    ag_tensor *c = ag_randn(g, AG_FLOAT64, AG_SHAPE(1));
    ag_generator_manual_seed(g, 5);
    ag_tensor *e = ag_randn(g, AG_FLOAT64, AG_SHAPE(1));
    cr_assert_eq(AG_F64(c)[0], AG_F64(e)[0]);
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(c), ag_tensor_free(e);
    ag_generator_free(g);
    ag_generator_free(NULL); /* a no-op */
}

Test(random, seeds_use_their_low_32_bits_and_negatives_wrap) {
    ag_manual_seed(((uint64_t)1 << 40) + 5);
    cr_assert_eq(ag_initial_seed(), ((uint64_t)1 << 40) + 5);
    ag_tensor *a = ag_rand(NULL, AG_FLOAT32, AG_SHAPE(8));
    ag_manual_seed(5);
    ag_tensor *b = ag_rand(NULL, AG_FLOAT32, AG_SHAPE(8));
    cr_assert_eq(memcmp(a->data, b->data, 8 * sizeof(float)), 0);
    ag_manual_seed((uint64_t)-1); /* torch.manual_seed(-1) */
    ag_tensor *c = ag_rand(NULL, AG_FLOAT32, AG_SHAPE(5));
    assert_bits(c, rand_seed_minus1, 5, "rand(5) after manual_seed(-1)");
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(c);
}

Test(random, empty_results_draw_nothing) {
    ag_manual_seed(0);
    ag_tensor *none = ag_randn(NULL, AG_FLOAT32, AG_SHAPE(3, 0));
    ASSERT_SHAPE(none, 3, 0);
    ag_tensor *one = ag_randperm(NULL, 1); /* [0], with no draw */
    ag_tensor *t = ag_rand(NULL, AG_FLOAT32, AG_SHAPE(5));
    assert_bits(t, rand_f32, 5, "rand(5) after empty draws");
    ASSERT_VALUES(one, 0, 0, 0);
    ag_tensor_free(none), ag_tensor_free(one), ag_tensor_free(t);
}

/* ---- in place ----------------------------------------------------------------------------- */

Test(random, uniform_and_normal_with_bounds_match_torch) {
    for (int d = 0; d < 2; d++) {
        ag_dtype dtype = d ? AG_FLOAT64 : AG_FLOAT32;
        const double *expected = d ? fill_f64 : fill_f32;
        for (int s = 0; s < RANDOM_NSEEDS; s++) {
            ag_manual_seed(random_seeds[s]);
            check_next(&expected, ag_uniform_(vector(dtype, 20), -0.37, 0.91, NULL),
                       "uniform_(-0.37, 0.91)");
            check_next(&expected, ag_normal_(vector(dtype, 9), 0.3, 1.7, NULL),
                       "normal_(0.3, 1.7) of 9");
            check_next(&expected, ag_normal_(vector(dtype, 40), 0.3, 1.7, NULL),
                       "normal_(0.3, 1.7) of 40");
        }
    }
}

Test(random, bernoulli_matches_torch) {
    for (int d = 0; d < 2; d++) {
        ag_dtype dtype = d ? AG_FLOAT64 : AG_FLOAT32;
        ag_tensor *p = ag_linspace(0, 1, 33, dtype); /* i / 32, exact */
        for (int s = 0; s < RANDOM_NSEEDS; s++) {
            ag_manual_seed(random_seeds[s]);
            ag_tensor *b = ag_bernoulli(p, NULL);
            cr_assert_eq(b->dtype, dtype);
            assert_bits(b, (d ? bernoulli_f64 : bernoulli_f32) + 33 * s, 33, "bernoulli");
            cr_assert_eq(ag_get(b, 0), 0.0); /* p = 0 never, p = 1 always */
            cr_assert_eq(ag_get(b, 32), 1.0);
            ag_tensor_free(b);
        }
        ag_tensor_free(p);
    }
}

Test(random, random_matches_torch) {
    const double *expected = random_floats;
    for (int s = 0; s < RANDOM_NSEEDS; s++) {
        ag_manual_seed(random_seeds[s]);
        ag_tensor *i = ag_random_(vector(AG_INT64, 5), NULL); /* DataLoader's base seed draw */
        assert_ints(i, random_int64 + 5 * s, 5, "random_() int64");
        ag_tensor_free(i);
        check_next(&expected, ag_random_(vector(AG_FLOAT32, 5), NULL), "random_() f32");
        check_next(&expected, ag_random_(vector(AG_FLOAT64, 5), NULL), "random_() f64");
    }
}

Test(random, fills_bump_the_version_and_keep_the_leaf_rule) {
    ag_tensor *w = ag_requires_grad_(ag_zeros(AG_FLOAT32, AG_SHAPE(3)), true);
    uint64_t v0 = w->version;
    EXPECT_ERROR(ag_uniform_(w, 0, 1, NULL),
                 "a leaf Variable that requires grad is being used in an in-place operation.");
    EXPECT_ERROR(ag_normal_(w, 0, 1, NULL),
                 "a leaf Variable that requires grad is being used in an in-place operation.");
    cr_assert_eq(w->version, v0);
    ASSERT_VALUES(w, 0, 0, 0, 0, 0); /* untouched */
    AG_NO_GRAD { cr_assert_eq(ag_uniform_(w, 0, 1, NULL), w); }
    cr_assert_eq(w->version, v0 + 1);
    cr_assert_eq(ag_init_normal_(w, 0, 1, NULL), w); /* nn.init: no-grad of its own */
    cr_assert_eq(w->version, v0 + 2);
    cr_assert(w->requires_grad && ag_is_leaf(w));
    /* a tensor with history: torch would record a zero-gradient node; we refuse */
    ag_tensor *y = ag_mul_scalar(w, 2);
    EXPECT_ERROR(ag_uniform_(y, 0, 1, NULL), "MulBackward0");
    ag_tensor_free(w);
}

/* ---- torch.nn.init ------------------------------------------------------------------------ */

/* An init case of gen_random.py's INIT_CASES: per seed, the hash of all the element bits and
 * the first and last 4 values. */
typedef ag_tensor *(*init_fn)(ag_tensor *);
static void check_init(init_fn init, ag_dtype dtype, int ndim, const int64_t *shape,
                       const uint64_t *hashes, const double *ends, const char *what) {
    for (int s = 0; s < RANDOM_NSEEDS; s++) {
        ag_tensor *t = ag_empty(dtype, ndim, shape);
        ag_manual_seed(random_seeds[s]);
        cr_assert_eq(init(t), t, "%s: %s", what, ag_last_error());
        const double *e = ends + 8 * s;
        for (int k = 0; k < 8; k++) {
            int64_t i = k < 4 ? k : t->numel - 8 + k;
            cr_assert_eq(element_bits(t, i), expected_bits(dtype, e[k]),
                         "%s seed %llu: element %lld is %.17g, torch gives %.17g", what,
                         (unsigned long long)random_seeds[s], (long long)i, ag_get(t, i), e[k]);
        }
        cr_assert_eq(bits_hash(t), hashes[s], "%s seed %llu: the values differ from torch's", what,
                     (unsigned long long)random_seeds[s]);
        ag_tensor_free(t);
    }
}

static ag_tensor *kaiming_uniform_sqrt5(ag_tensor *t) {
    return ag_init_kaiming_uniform_(t, sqrt(5.0), "fan_in", "leaky_relu", NULL);
}
static ag_tensor *kaiming_normal_fan_out_relu(ag_tensor *t) {
    return ag_init_kaiming_normal_(t, 0, "fan_out", "relu", NULL);
}
static ag_tensor *kaiming_normal_defaults(ag_tensor *t) {
    return ag_init_kaiming_normal_(t, 0, NULL, NULL, NULL); /* a=0, fan_in, leaky_relu */
}
static ag_tensor *xavier_uniform_gain1(ag_tensor *t) { return ag_init_xavier_uniform_(t, 1, NULL); }
static ag_tensor *xavier_normal_tanh(ag_tensor *t) {
    return ag_init_xavier_normal_(t, ag_init_calculate_gain("tanh", NAN), NULL);
}
static ag_tensor *init_uniform(ag_tensor *t) { return ag_init_uniform_(t, -0.5, 2, NULL); }
static ag_tensor *init_normal(ag_tensor *t) { return ag_init_normal_(t, 3, 0.25, NULL); }

Test(random, kaiming_uniform_of_a_linear_weight_matches_torch) {
    /* nn.Linear(784, 256).weight: kaiming_uniform_(w, a=sqrt(5)) */
    check_init(kaiming_uniform_sqrt5, AG_FLOAT32, AG_SHAPE(256, 784),
               kaiming_uniform_linear_f32_hash, kaiming_uniform_linear_f32_ends,
               "kaiming_uniform_ (256, 784) f32");
    check_init(kaiming_uniform_sqrt5, AG_FLOAT64, AG_SHAPE(256, 784),
               kaiming_uniform_linear_f64_hash, kaiming_uniform_linear_f64_ends,
               "kaiming_uniform_ (256, 784) f64");
    /* the bound: gain sqrt(2 / (1 + 5)), std gain / sqrt(784), bound sqrt(3) std = 1/28 */
    ag_tensor *w = ag_empty(AG_FLOAT32, AG_SHAPE(256, 784));
    ag_manual_seed(0);
    kaiming_uniform_sqrt5(w);
    float bound = (float)(sqrt(3.0) * (sqrt(2.0 / 6) / 28)), largest = 0;
    cr_assert_float_eq(bound, 1.0 / 28, 1e-7);
    for (int64_t i = 0; i < w->numel; i++)
        largest = fmaxf(largest, fabsf(AG_F32(w)[i]));
    cr_assert(largest <= bound && largest > 0.999f * bound, "largest |w| %g, bound %g", largest,
              bound);
    ag_tensor_free(w);
}

Test(random, other_init_helpers_match_torch) {
    check_init(kaiming_uniform_sqrt5, AG_FLOAT32, AG_SHAPE(16, 3, 5, 5),
               kaiming_uniform_conv_f32_hash, kaiming_uniform_conv_f32_ends,
               "kaiming_uniform_ (16, 3, 5, 5)");
    check_init(kaiming_normal_fan_out_relu, AG_FLOAT32, AG_SHAPE(64, 3, 5, 5),
               kaiming_normal_fan_out_relu_f32_hash, kaiming_normal_fan_out_relu_f32_ends,
               "kaiming_normal_ fan_out relu (64, 3, 5, 5)");
    check_init(kaiming_normal_defaults, AG_FLOAT64, AG_SHAPE(30, 7),
               kaiming_normal_default_f64_hash, kaiming_normal_default_f64_ends,
               "kaiming_normal_ (30, 7)");
    check_init(xavier_uniform_gain1, AG_FLOAT32, AG_SHAPE(30, 20), xavier_uniform_f32_hash,
               xavier_uniform_f32_ends, "xavier_uniform_ (30, 20)");
    check_init(xavier_normal_tanh, AG_FLOAT64, AG_SHAPE(20, 30, 3), xavier_normal_tanh_f64_hash,
               xavier_normal_tanh_f64_ends, "xavier_normal_ tanh (20, 30, 3)");
    check_init(init_uniform, AG_FLOAT32, AG_SHAPE(5, 7), init_uniform_f32_hash,
               init_uniform_f32_ends, "uniform_(-0.5, 2)");
    check_init(init_normal, AG_FLOAT64, AG_SHAPE(5, 7), init_normal_f64_hash, init_normal_f64_ends,
               "normal_(3, 0.25)");
}

Test(random, fans_and_gains_as_torch_computes_them) {
    struct {
        int ndim;
        int64_t shape[4], fan_in, fan_out;
    } cases[] = {
        {2, {256, 784}, 784, 256},
        {4, {16, 3, 5, 5}, 75, 400},
        {3, {20, 30, 3}, 90, 60},
        {3, {3, 4, 0}, 0, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        ag_tensor *t = ag_empty(AG_FLOAT32, cases[k].ndim, cases[k].shape);
        int64_t fan_in = -1, fan_out = -1;
        cr_assert(ag_init_fan_in_and_fan_out(t, &fan_in, &fan_out));
        cr_assert_eq(fan_in, cases[k].fan_in, "case %zu", k);
        cr_assert_eq(fan_out, cases[k].fan_out, "case %zu", k);
        ag_tensor_free(t);
    }
    const double got[] = {
        ag_init_calculate_gain("linear", NAN),
        ag_init_calculate_gain("sigmoid", NAN),
        ag_init_calculate_gain("tanh", NAN),
        ag_init_calculate_gain("relu", NAN),
        ag_init_calculate_gain("leaky_relu", NAN),
        ag_init_calculate_gain("leaky_relu", 0.2),
        ag_init_calculate_gain("leaky_relu", sqrt(5.0)),
        ag_init_calculate_gain("selu", NAN),
    };
    for (int k = 0; k < 8; k++)
        cr_assert_eq(got[k], gains[k], "gain %d: %.17g", k, got[k]);
    cr_assert_eq(ag_init_calculate_gain("conv_transpose2d", NAN), 1.0);
}

Test(random, kaiming_mode_ignores_case_and_empty_tensors_are_left_alone) {
    ag_tensor *a = ag_empty(AG_FLOAT32, AG_SHAPE(64, 3, 5, 5));
    ag_tensor *b = ag_empty(AG_FLOAT32, AG_SHAPE(64, 3, 5, 5));
    ag_manual_seed(3);
    ag_init_kaiming_normal_(a, 0, "fan_out", "relu", NULL);
    ag_manual_seed(3);
    ag_init_kaiming_normal_(b, 0, "FAN_OUT", "relu", NULL);
    cr_assert_eq(memcmp(a->data, b->data, (size_t)a->numel * sizeof(float)), 0);
    /* (3, 0): no elements, no draws, no error (torch warns "a no-op") */
    ag_tensor *e = ag_empty(AG_FLOAT32, AG_SHAPE(3, 0));
    ag_manual_seed(0);
    cr_assert_eq(ag_init_kaiming_uniform_(e, 0, "fan_in", "leaky_relu", NULL), e);
    ag_tensor *r = ag_rand(NULL, AG_FLOAT32, AG_SHAPE(3));
    assert_bits(r, rand_f32, 3, "rand(3) after an empty kaiming_uniform_");
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(e), ag_tensor_free(r);
}

/* ---- bad input ---------------------------------------------------------------------------- */

Test(random, bad_input_is_reported_in_torch_words_and_draws_nothing) {
    ag_tensor *f = vector(AG_FLOAT32, 3), *d = vector(AG_FLOAT64, 3), *i = vector(AG_INT64, 3);
    ag_tensor *v = vector(AG_FLOAT32, 3), *m = ag_empty(AG_FLOAT32, AG_SHAPE(0, 0));
    ag_manual_seed(0);
    EXPECT_ERROR(ag_randint(NULL, 5, 5, AG_SHAPE(3)),
                 "random_ expects 'from' to be less than 'to', but got from=5 >= to=5");
    EXPECT_ERROR(ag_randint(NULL, 6, 5, AG_SHAPE(3)),
                 "random_ expects 'from' to be less than 'to', but got from=6 >= to=5");
    EXPECT_ERROR(ag_randperm(NULL, -1), "Trying to create tensor with negative dimension -1: [-1]");
    EXPECT_ERROR(ag_rand(NULL, AG_FLOAT32, AG_SHAPE(3, -2)),
                 "Trying to create tensor with negative dimension -2: [3, -2]");
    EXPECT_ERROR(ag_rand(NULL, AG_INT64, AG_SHAPE(3)),
                 "\"check_uniform_bounds\" not implemented for 'Long'");
    EXPECT_ERROR(ag_randn(NULL, AG_INT64, AG_SHAPE(3)),
                 "\"normal_kernel_cpu\" not implemented for 'Long'");
    EXPECT_ERROR(ag_uniform_(f, 1, 0, NULL),
                 "uniform_ expects to return a [from, to) range, but found from=1 > to=0");
    EXPECT_ERROR(ag_uniform_(f, -3e38, 3e38, NULL),
                 "uniform_ expects to-from <= std::numeric_limits<Float>::max(), but found "
                 "to=3e+38 and from=-3e+38 which result in to-from to exceed the limit");
    EXPECT_ERROR(ag_uniform_(d, -1e308, 1e308, NULL),
                 "uniform_ expects to-from <= std::numeric_limits<Double>::max()");
    EXPECT_ERROR(ag_uniform_(f, -1e39, 0, NULL), "from is out of bounds for float");
    EXPECT_ERROR(ag_uniform_(f, 0, NAN, NULL), "to is out of bounds for float");
    EXPECT_ERROR(ag_uniform_(i, 0, 1, NULL), "\"check_uniform_bounds\" not implemented for 'Long'");
    EXPECT_ERROR(ag_uniform_(NULL, 0, 1, NULL), "argument 'self' must be a tensor, not NULL");
    EXPECT_ERROR(ag_normal_(f, 0, -1, NULL), "normal expects std >= 0.0, but found std -1");
    EXPECT_ERROR(ag_normal_(f, 0, NAN, NULL), "normal expects std >= 0.0, but found std nan");
    EXPECT_ERROR(ag_normal_(i, 0, 1, NULL), "\"normal_kernel_cpu\" not implemented for 'Long'");
    AG_NO_GRAD { ag_fill_(v, 0.5); }
    AG_F32(v)[1] = 1.5f;
    EXPECT_ERROR(ag_bernoulli(v, NULL),
                 "Expected p_in >= 0 && p_in <= 1 to be true, but got false.");
    EXPECT_ERROR(ag_bernoulli(i, NULL), "\"bernoulli_tensor_cpu_p_\" not implemented for 'Long'");
    EXPECT_ERROR(ag_init_kaiming_uniform_(f, 0, "fan_in", "leaky_relu", NULL),
                 "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions");
    EXPECT_ERROR(ag_init_xavier_normal_(d, 1, NULL),
                 "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions");
    EXPECT_ERROR(ag_init_xavier_uniform_(m, 1, NULL), "float division by zero");
    ag_tensor *w = ag_empty(AG_FLOAT32, AG_SHAPE(3, 4));
    EXPECT_ERROR(ag_init_kaiming_uniform_(w, 0, "fan_avg", "leaky_relu", NULL),
                 "Mode fan_avg not supported, please use one of ['fan_in', 'fan_out']");
    EXPECT_ERROR(ag_init_kaiming_normal_(w, 0, "fan_in", "foo", NULL),
                 "Unsupported nonlinearity foo");
    EXPECT_ERROR(ag_init_calculate_gain("foo", NAN), "Unsupported nonlinearity foo");
    EXPECT_ERROR(ag_generator_free(ag_default_generator()), "cannot be freed");
    /* nothing was drawn, and the default generator is not left locked */
    ag_tensor *r = ag_rand(NULL, AG_FLOAT32, AG_SHAPE(5));
    assert_bits(r, rand_f32, 5, "rand(5) after the errors");
    ag_tensor_free(f), ag_tensor_free(d), ag_tensor_free(i), ag_tensor_free(v);
    ag_tensor_free(m), ag_tensor_free(w), ag_tensor_free(r);
}
