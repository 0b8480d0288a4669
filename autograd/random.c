/*
 * random.c - PyTorch 1.13's CPU random numbers, reproduced bit for bit (see random.h).
 *
 * Five layers, bottom to top, each written after the torch 1.13 source it follows (read and
 * re-expressed in this library's style, not copied):
 *
 *   1. the engine, mt19937 ........ aten/src/ATen/core/MT19937RNGEngine.h
 *   2. 32- and 64-bit draws ....... aten/src/ATen/CPUGeneratorImpl.cpp: random() is one engine
 *                                   word; random64() is two, the FIRST one the HIGH half.
 *   3. draws into numbers ......... aten/src/ATen/core/TransformationHelper.h (uniform_real,
 *                                   uniform_int_from_to, uniform_int) and
 *                                   aten/src/ATen/core/DistributionsHelper.h
 *                                   (normal_distribution and its cached value,
 *                                   bernoulli_distribution, uniform_int_distribution)
 *   4. kernels over a tensor ...... aten/src/ATen/native/cpu/DistributionTemplates.h
 *                                   (uniform_kernel, normal_kernel, normal_fill,
 *                                   normal_fill_AVX2, random kernels, bernoulli_kernel),
 *                                   aten/src/ATen/native/cpu/avx_mathfun.h (log256_ps,
 *                                   sincos256_ps), aten/src/ATen/native/TensorFactories.cpp
 *                                   (randperm_cpu), aten/src/ATen/native/DistributionTemplates.h
 *                                   (the argument checks and their messages)
 *   5. torch.nn.init .............. torch/nn/init.py
 *
 * Where torch rounds once. Torch compiles its CPU kernels once per instruction set and runs
 * the AVX2 build on AVX2 machines; there GCC (with -mfma, and C++'s default
 * -ffp-contract=fast) fuses a*b + c into one FMA. This library builds with
 * -ffp-contract=off, so the fused sites are written out as fma()/fmaf(), each checked against
 * torch: uniform's x * (to - from) + from, normal's z * std + mean (both paths), and inside
 * the float32 Box-Muller of 16 (box_muller16_f32 below, from the instructions GCC emitted).
 *
 * Locking: every public function checks its arguments and allocates before it takes the
 * generator's lock, and reports nothing while holding it (an error handler may longjmp).
 */
#include "autograd/internal.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AG_PI 3.14159265358979323846 /* c10::pi<double> */

/* ---------------------------------------------------------------------------------------- */
/* 1-2. The engine and the generator                                                          */
/* ---------------------------------------------------------------------------------------- */

/* mt19937: 624 words of state; each draw tempers the next word; every 624 draws the whole
 * state is regenerated ("twisted"). */
#define MT_N 624
#define MT_M 397

struct ag_generator {
    uint32_t state[MT_N];
    int next;           /* the next word to temper; MT_N: regenerate first */
    uint64_t seed;      /* the seed it started from (initial_seed) */
    bool seeded;        /* false only for the default generator before its first use */
    bool has_normal;    /* torch's next_double_normal_sample: the cached sin value */
    double normal;      /*   of the last Box-Muller pair */
    atomic_bool locked; /* held for the whole of a call, as torch's generator mutex */
};

/* torch.default_generator. Zero-initialised: unseeded and unlocked. */
static ag_generator default_generator;

/* Knuth's initialisation (init_genrand): the low 32 bits of the seed, spread over the state. */
static void seed_engine(ag_generator *g, uint64_t seed) {
    g->state[0] = (uint32_t)seed;
    for (uint32_t j = 1; j < MT_N; j++)
        g->state[j] = 1812433253u * (g->state[j - 1] ^ (g->state[j - 1] >> 30)) + j;
    g->next = MT_N;
    g->seed = seed;
    g->seeded = true;
    g->has_normal = false; /* CPUGeneratorImpl::set_current_seed resets the cache */
}

/* The twist: word k becomes word k+M xor a mix of words k and k+1, in place and in order,
 * so that words past the end wrap around to words already regenerated. */
static void regenerate(ag_generator *g) {
    for (int k = 0; k < MT_N; k++) {
        uint32_t y = (g->state[k] & 0x80000000u) | (g->state[(k + 1) % MT_N] & 0x7fffffffu);
        g->state[k] = g->state[(k + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1) ? 0x9908b0dfu : 0);
    }
    g->next = 0;
}

/* random(): one tempered word. */
static uint32_t draw32(ag_generator *g) {
    if (g->next == MT_N) regenerate(g);
    uint32_t y = g->state[g->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* random64(): two words, the first drawn the high half. */
static uint64_t draw64(ag_generator *g) {
    uint64_t hi = draw32(g);
    uint64_t lo = draw32(g);
    return hi << 32 | lo;
}

/* torch seeds its default generator from std::random_device; we read /dev/urandom. */
static uint64_t nondeterministic_seed(void) {
    uint64_t seed = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(&seed, sizeof seed, 1, f) != 1) seed = 0;
        fclose(f);
    }
    if (!seed) seed = ((uint64_t)time(NULL) * 6364136223846793005u) ^ (uint64_t)clock();
    return seed;
}

static ag_generator *lock(ag_generator *g) {
    if (!g) g = &default_generator;
    while (atomic_exchange_explicit(&g->locked, true, memory_order_acquire)) {
    }
    return g;
}

/* Locks g (NULL: the default generator), seeding the default one at its first use. */
static ag_generator *acquire(ag_generator *g) {
    g = lock(g);
    if (!g->seeded) seed_engine(g, nondeterministic_seed());
    return g;
}

static void release(ag_generator *g) {
    atomic_store_explicit(&g->locked, false, memory_order_release);
}

ag_generator *ag_generator_new(uint64_t seed) {
    ag_generator *g = malloc(sizeof *g);
    if (!g) {
        AG_ERROR("ag_generator_new", "out of memory");
        return NULL;
    }
    atomic_init(&g->locked, false);
    seed_engine(g, seed);
    return g;
}

void ag_generator_free(ag_generator *g) {
    if (g == &default_generator) {
        AG_ERROR("ag_generator_free", "the default generator belongs to the library: it "
                                      "cannot be freed");
        return;
    }
    free(g);
}

ag_generator *ag_default_generator(void) { return &default_generator; }

void ag_generator_manual_seed(ag_generator *g, uint64_t seed) {
    g = lock(g);
    seed_engine(g, seed);
    release(g);
}

void ag_manual_seed(uint64_t seed) { ag_generator_manual_seed(NULL, seed); }

uint64_t ag_generator_initial_seed(ag_generator *g) {
    g = acquire(g);
    uint64_t seed = g->seed;
    release(g);
    return seed;
}

uint64_t ag_initial_seed(void) { return ag_generator_initial_seed(NULL); }

/* ---- the whole state, as torch.get_rng_state / set_rng_state ----------------------------- */

static int64_t as_int64(uint64_t u); /* below, with the draws */

/* The layout of the int64 state tensor (random.h): a version, then the fields. */
enum {
    STATE_VERSION,
    STATE_SEED,
    STATE_NEXT,
    STATE_HAS_NORMAL,
    STATE_NORMAL,
    STATE_WORDS,
    STATE_LEN = STATE_WORDS + MT_N
};

ag_tensor *ag_generator_get_state(const ag_generator *g) {
    ag_tensor *t = ag_empty(AG_INT64, 1, (const int64_t[]){STATE_LEN});
    if (!t) return NULL;
    /* The lock is a field of the (never const) generator: taking it changes no state. */
    ag_generator *locked = acquire((ag_generator *)g);
    int64_t *s = AG_I64(t);
    s[STATE_VERSION] = 1;
    s[STATE_SEED] = as_int64(locked->seed);
    s[STATE_NEXT] = locked->next;
    s[STATE_HAS_NORMAL] = locked->has_normal;
    uint64_t bits;
    memcpy(&bits, &locked->normal, sizeof bits);
    s[STATE_NORMAL] = locked->has_normal ? as_int64(bits) : 0;
    for (int k = 0; k < MT_N; k++)
        s[STATE_WORDS + k] = locked->state[k];
    release(locked);
    return t;
}

int ag_generator_check_state(const ag_tensor *state) {
    const char *op = "ag_generator_set_state";
    if (!state) return ag_status_error("%s: argument 'state' must be a tensor, not NULL", op);
    char sb[AG_SHAPE_STR];
    if (state->dtype != AG_INT64 || state->ndim != 1 || state->shape[0] != STATE_LEN)
        return ag_status_error("%s: a generator state is an int64 tensor of shape [%d] (from "
                               "ag_generator_get_state), not a %s tensor of shape %s",
                               op, STATE_LEN, ag_dtype_name(state->dtype),
                               ag_shape_str(sb, state->ndim, state->shape));
    const int64_t *s = AG_I64(state);
    if (s[STATE_VERSION] != 1)
        return ag_status_error("%s: unknown generator state version %lld (this library writes "
                               "and reads version 1)",
                               op, (long long)s[STATE_VERSION]);
    if (s[STATE_NEXT] < 0 || s[STATE_NEXT] > MT_N)
        return ag_status_error("%s: the state's position %lld is outside [0, %d]", op,
                               (long long)s[STATE_NEXT], MT_N);
    if (s[STATE_HAS_NORMAL] != 0 && s[STATE_HAS_NORMAL] != 1)
        return ag_status_error("%s: the state's cached-normal flag is %lld, not 0 or 1", op,
                               (long long)s[STATE_HAS_NORMAL]);
    for (int k = 0; k < MT_N; k++)
        if (s[STATE_WORDS + k] < 0 || s[STATE_WORDS + k] > (int64_t)UINT32_MAX)
            return ag_status_error("%s: word %d of the state, %lld, is not a 32-bit unsigned "
                                   "number",
                                   op, k, (long long)s[STATE_WORDS + k]);
    return 0;
}

int ag_generator_set_state(ag_generator *g, const ag_tensor *state) {
    if (ag_generator_check_state(state) < 0) return -1;
    const int64_t *s = AG_I64(state);
    g = lock(g);
    g->seed = (uint64_t)s[STATE_SEED];
    g->next = (int)s[STATE_NEXT];
    g->has_normal = s[STATE_HAS_NORMAL] != 0;
    uint64_t bits = (uint64_t)s[STATE_NORMAL];
    memcpy(&g->normal, &bits, sizeof bits);
    if (!g->has_normal) g->normal = 0;
    for (int k = 0; k < MT_N; k++)
        g->state[k] = (uint32_t)s[STATE_WORDS + k];
    g->seeded = true;
    release(g);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* 3. Draws into numbers                                                                      */
/* ---------------------------------------------------------------------------------------- */

/* uniform_real: the low 24 bits of a 32-bit draw (float) or the low 53 bits of a 64-bit draw
 * (double) as a fraction of 2^24 or 2^53, in [0, 1); then x * (to - from) + from, fused. */
static float uniform_f32(ag_generator *g, float from, float to) {
    float x = (float)(draw32(g) & 0xffffffu) * 0x1p-24f;
    return fmaf(x, to - from, from);
}

static double uniform_f64(ag_generator *g, double from, double to) {
    double x = (double)(draw64(g) & 0x1fffffffffffffu) * 0x1p-53;
    return fma(x, to - from, from);
}

/* normal_distribution<double>: Box-Muller on two uniforms u1, u2 gives r cos(theta), and
 * r sin(theta) is kept for the next call. Torch 1.13 takes log(1 - u2) (not log1p). */
static double normal_f64(ag_generator *g, double mean, double std) {
    double z;
    if (g->has_normal) {
        g->has_normal = false;
        z = g->normal;
    } else {
        double u1 = uniform_f64(g, 0.0, 1.0);
        double u2 = uniform_f64(g, 0.0, 1.0);
        double r = sqrt(-2.0 * log(1.0 - u2));
        double theta = 2.0 * AG_PI * u1;
        g->normal = r * sin(theta);
        g->has_normal = true;
        z = r * cos(theta);
    }
    return fma(z, std, mean);
}

/* A signed int64 from its two's-complement bits (what torch's static_cast does). */
static int64_t as_int64(uint64_t u) {
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

/* ---------------------------------------------------------------------------------------- */
/* 4. Box-Muller by blocks of 16 (normal_fill)                                                */
/* ---------------------------------------------------------------------------------------- */

/*
 * A block holds 16 uniforms u: for j < 8, u1 = 1 - u[j] (in (0, 1], for the log) and
 * u2 = u[j + 8]; then u[j] = r cos(theta) std + mean and u[j + 8] = r sin(theta) std + mean,
 * r = sqrt(-2 log u1), theta = 2 pi u2.
 */
static void box_muller16_f64(double *u, double mean, double std) {
    for (int j = 0; j < 8; j++) {
        double u1 = 1 - u[j], u2 = u[j + 8];
        double radius = sqrt(-2 * log(u1));
        double theta = 2.0 * AG_PI * u2;
        u[j] = fma(radius * cos(theta), std, mean);
        u[j + 8] = fma(radius * sin(theta), std, mean);
    }
}

/*
 * float32 runs torch's AVX2 kernel (normal_fill_16_AVX2), one lane at a time: log and
 * sin/cos are the Cephes polynomials of avx_mathfun.h (log256_ps, sincos256_ps), with
 * exactly the roundings of the instructions GCC 12 emitted for Debian's libtorch_cpu 1.13
 * (each FMA below is one there; every other operation is one IEEE single operation).
 */
static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* log256_ps: x = m 2^e with m in [sqrt(1/2), sqrt(2)), then a degree-9 polynomial in m - 1
 * and e ln 2 in two parts. NaN for x <= 0. */
static float cephes_logf(float x) {
    static const float p[9] = {
        (float)7.0376836292E-2,  (float)-1.1514610310E-1, (float)1.1676998740E-1,
        (float)-1.2420140846E-1, (float)+1.4249322787E-1, (float)-1.6668057665E-1,
        (float)+2.0000714765E-1, (float)-2.4999993993E-1, (float)+3.3333331174E-1,
    };
    const float q1 = (float)-2.12194440e-4, q2 = (float)0.693359375;
    const float sqrthf = (float)0.707106781186547524;
    uint32_t invalid = x <= 0 ? 0xffffffffu : 0;
    if (!(x >= FLT_MIN)) x = FLT_MIN; /* _mm256_max_ps(x, min_norm_pos) */
    int32_t exponent = (int32_t)(bits_of(x) >> 23) - 0x7f;
    x = float_of((bits_of(x) & ~0x7f800000u) | bits_of(0.5f)); /* the mantissa, in [0.5, 1) */
    float e = (float)exponent + 1.0f;
    bool below = x < sqrthf;
    float tmp = below ? x : 0.0f;
    x = x - 1.0f;
    e = e - (below ? 1.0f : 0.0f);
    x = x + tmp;
    float z = x * x;
    float y = p[0];
    for (int k = 1; k < 9; k++)
        y = fmaf(y, x, p[k]);
    y = y * x;
    y = fmaf(y, z, e * q1);
    y = fmaf(-z, 0.5f, y);
    x = x + y;
    x = fmaf(e, q2, x);
    return float_of(bits_of(x) | invalid);
}

/* sincos256_ps: reduce x by multiples of pi/4 (j, in three parts), evaluate the sine and the
 * cosine polynomials, and pick and sign them by j. For 0 <= x < 8192. */
static void cephes_sincosf(float x, float *sin_out, float *cos_out) {
    const float four_over_pi = (float)1.27323954473516;
    const float dp1 = (float)-0.78515625, dp2 = (float)-2.4187564849853515625e-4,
                dp3 = (float)-3.77489497744594108e-8;
    const float sp0 = (float)-1.9515295891E-4, sp1 = (float)8.3321608736E-3,
                sp2 = (float)-1.6666654611E-1;
    const float cp0 = (float)2.443315711809948E-005, cp1 = (float)-1.388731625493765E-003,
                cp2 = (float)4.166664568298827E-002;
    uint32_t sign_sin = bits_of(x) & 0x80000000u;
    x = float_of(bits_of(x) & 0x7fffffffu);
    int32_t j = (int32_t)(x * four_over_pi); /* truncates, as cvttps2dq */
    j = (j + 1) & ~1;
    float y = (float)j;
    sign_sin ^= (uint32_t)(j & 4) << 29;
    uint32_t sign_cos = (uint32_t)(~(j - 2) & 4) << 29;
    bool sine_poly = (j & 2) == 0;
    x = fmaf(y, dp1, x);
    x = fmaf(y, dp2, x);
    x = fmaf(y, dp3, x);
    float z = x * x;
    float yc = fmaf(cp0, z, cp1); /* cosine polynomial */
    yc = fmaf(yc, z, cp2);
    yc = yc * z;
    yc = fmaf(yc, z, -(z * 0.5f));
    yc = yc + 1.0f;
    float ys = fmaf(sp0, z, sp1); /* sine polynomial */
    ys = fmaf(ys, z, sp2);
    ys = ys * z;
    ys = fmaf(ys, x, x);
    float sin2 = sine_poly ? ys : 0.0f, sin1 = sine_poly ? 0.0f : yc;
    ys = ys - sin2;
    yc = yc - sin1;
    *sin_out = float_of(bits_of(sin2 + sin1) ^ sign_sin);
    *cos_out = float_of(bits_of(ys + yc) ^ sign_cos);
}

static void box_muller16_f32(float *u, float mean, float std) {
    const float two_pi = (float)(2.0 * AG_PI);
    for (int j = 0; j < 8; j++) {
        float radius = sqrtf(cephes_logf(1.0f - u[j]) * -2.0f);
        float s, c;
        cephes_sincosf(two_pi * u[j + 8], &s, &c);
        u[j] = fmaf(radius * c, std, mean);
        u[j + 8] = fmaf(radius * s, std, mean);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* 4. Kernels over a tensor (called with g locked; no checks here)                           */
/* ---------------------------------------------------------------------------------------- */

static void uniform_kernel(ag_generator *g, ag_tensor *t, double from, double to) {
    if (t->dtype == AG_FLOAT32) {
        float from32 = (float)from, to32 = (float)to;
        for (int64_t i = 0; i < t->numel; i++)
            AG_F32(t)[i] = uniform_f32(g, from32, to32);
    } else {
        for (int64_t i = 0; i < t->numel; i++)
            AG_F64(t)[i] = uniform_f64(g, from, to);
    }
}

/*
 * normal_kernel: with 16 or more elements, all of them are first drawn uniform, then turned
 * into normals block by block; when 16 does not divide n, the last 16 elements (overlapping
 * the last full block) are drawn again and transformed again. With fewer than 16, one
 * normal_distribution<double> at a time, its second value cached in g.
 */
static void normal_kernel(ag_generator *g, ag_tensor *t, double mean, double std) {
    int64_t n = t->numel;
    if (n >= 16 && t->dtype == AG_FLOAT32) {
        float *u = AG_F32(t);
        for (int64_t i = 0; i < n; i++)
            u[i] = uniform_f32(g, 0.0f, 1.0f);
        for (int64_t i = 0; i + 16 <= n; i += 16)
            box_muller16_f32(u + i, (float)mean, (float)std);
        if (n % 16) {
            for (int64_t i = n - 16; i < n; i++)
                u[i] = uniform_f32(g, 0.0f, 1.0f);
            box_muller16_f32(u + n - 16, (float)mean, (float)std);
        }
    } else if (n >= 16) {
        double *u = AG_F64(t);
        for (int64_t i = 0; i < n; i++)
            u[i] = uniform_f64(g, 0.0, 1.0);
        for (int64_t i = 0; i + 16 <= n; i += 16)
            box_muller16_f64(u + i, mean, std);
        if (n % 16) {
            for (int64_t i = n - 16; i < n; i++)
                u[i] = uniform_f64(g, 0.0, 1.0);
            box_muller16_f64(u + n - 16, mean, std);
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            double z = normal_f64(g, mean, std);
            if (t->dtype == AG_FLOAT32)
                AG_F32(t)[i] = (float)z;
            else
                AG_F64(t)[i] = z;
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Checks, in torch's words                                                                   */
/* ---------------------------------------------------------------------------------------- */

/* A floating dtype, or the message torch's AT_DISPATCH gives for int64 or uint8 in kernel. */
static bool check_floating_dtype(const char *op, ag_dtype dtype, const char *kernel) {
    if (dtype == AG_FLOAT32 || dtype == AG_FLOAT64) return true;
    if (dtype == AG_INT64 || dtype == AG_UINT8)
        AG_ERROR(op, "\"%s\" not implemented for '%s'", kernel,
                 ag_scalar_type_name(dtype));
    else
        AG_ERROR(op, "unknown dtype %d", (int)dtype);
    return false;
}

/* check_uniform_bounds of aten/src/ATen/native/DistributionTemplates.h. */
static bool check_uniform(const char *op, const ag_tensor *t, double from, double to) {
    if (!ag_check_tensor(op, t, "self") ||
        !check_floating_dtype(op, t->dtype, "check_uniform_bounds"))
        return false;
    bool f32 = t->dtype == AG_FLOAT32;
    double max = f32 ? FLT_MAX : DBL_MAX;
    const char *type = f32 ? "float" : "double";
    if (!(from >= -max && from <= max)) {
        AG_ERROR(op, "from is out of bounds for %s", type);
        return false;
    }
    if (!(to >= -max && to <= max)) {
        AG_ERROR(op, "to is out of bounds for %s", type);
        return false;
    }
    if (from > to) {
        AG_ERROR(op, "uniform_ expects to return a [from, to) range, but found from=%g > to=%g",
                 from, to);
        return false;
    }
    if (!(to - from <= max)) {
        AG_ERROR(op,
                 "uniform_ expects to-from <= std::numeric_limits<%s>::max(), but found "
                 "to=%g and from=%g which result in to-from to exceed the limit",
                 ag_scalar_type_name(f32 ? AG_FLOAT32 : AG_FLOAT64), to, from);
        return false;
    }
    return true;
}

static bool check_normal(const char *op, const ag_tensor *t, double std) {
    if (!ag_check_tensor(op, t, "self")) return false;
    if (!(std >= 0.0)) {
        AG_ERROR(op, "normal expects std >= 0.0, but found std %g", std);
        return false;
    }
    return check_floating_dtype(op, t->dtype, "normal_kernel_cpu");
}

/* Tensor.uniform_ and friends in grad mode: torch's leaf rule (ag_check_writable), and no
 * tensor with history, for which torch would record a zero-gradient node. */
static bool check_fillable(const char *op, const ag_tensor *t) {
    if (!ag_check_writable(op, t)) return false;
    if (ag_is_grad_enabled() && t->requires_grad && t->grad_fn) {
        AG_ERROR(op,
                 "filling a tensor that has a grad_fn (%s) with random numbers is not "
                 "recorded by libautograd: fill a leaf, or fill in no-grad mode",
                 ag_grad_fn_name(t));
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* New random tensors                                                                         */
/* ---------------------------------------------------------------------------------------- */

ag_tensor *ag_rand(ag_generator *g, ag_dtype dtype, int ndim, const int64_t *shape) {
    if (!check_floating_dtype("rand", dtype, "check_uniform_bounds")) return NULL;
    ag_tensor *t = ag_empty(dtype, ndim, shape);
    if (!t) return NULL;
    g = acquire(g);
    uniform_kernel(g, t, 0.0, 1.0);
    release(g);
    return t;
}

ag_tensor *ag_randn(ag_generator *g, ag_dtype dtype, int ndim, const int64_t *shape) {
    if (!check_floating_dtype("randn", dtype, "normal_kernel_cpu")) return NULL;
    ag_tensor *t = ag_empty(dtype, ndim, shape);
    if (!t) return NULL;
    g = acquire(g);
    normal_kernel(g, t, 0.0, 1.0);
    release(g);
    return t;
}

/* random_(from, to): (draw mod range) + from, with a 64-bit draw when range >= 2^32. */
ag_tensor *ag_randint(ag_generator *g, int64_t low, int64_t high, int ndim, const int64_t *shape) {
    if (low >= high) {
        AG_ERROR("randint",
                 "random_ expects 'from' to be less than 'to', but got from=%lld >= "
                 "to=%lld",
                 (long long)low, (long long)high);
        return NULL;
    }
    ag_tensor *t = ag_empty(AG_INT64, ndim, shape);
    if (!t) return NULL;
    uint64_t range = (uint64_t)high - (uint64_t)low;
    g = acquire(g);
    for (int64_t i = 0; i < t->numel; i++) {
        uint64_t draw = range >= (UINT64_C(1) << 32) ? draw64(g) : draw32(g);
        AG_I64(t)[i] = as_int64(draw % range + (uint64_t)low);
    }
    release(g);
    return t;
}

/* randperm_cpu: the identity, then for i = 0 .. n-2 swap i with i + (32-bit draw mod n-i).
 * With p NULL it makes the same draws and keeps nothing (see internal.h). */
void ag_randperm_into(ag_generator *g, int64_t n, int64_t *p) {
    if (p)
        for (int64_t i = 0; i < n; i++)
            p[i] = i;
    g = acquire(g);
    for (int64_t i = 0; i < n - 1; i++) {
        int64_t z = (int64_t)(draw32(g) % (uint64_t)(n - i));
        if (!p) continue;
        int64_t saved = p[i];
        p[i] = p[z + i];
        p[z + i] = saved;
    }
    release(g);
}

ag_tensor *ag_randperm(ag_generator *g, int64_t n) {
    ag_tensor *t = ag_empty(AG_INT64, 1, &n); /* reports a negative n in torch's words */
    if (!t) return NULL;
    ag_randperm_into(g, n, AG_I64(t));
    return t;
}

/* bernoulli_kernel(self, p): one uniform per element (float32 p: a 32-bit draw; float64: a
 * 64-bit draw), 1 where it is below p. */
ag_tensor *ag_bernoulli(ag_tensor *p, ag_generator *g) {
    if (!ag_check_tensor("bernoulli", p, "input") ||
        !check_floating_dtype("bernoulli", p->dtype, "bernoulli_tensor_cpu_p_"))
        return NULL;
    for (int64_t i = 0; i < p->numel; i++) {
        double pi = ag_get(p, i);
        if (!(pi >= 0 && pi <= 1)) {
            AG_ERROR("bernoulli",
                     "Expected p_in >= 0 && p_in <= 1 to be true, but got false. "
                     "(p[%lld] = %g)",
                     (long long)i, pi);
            return NULL;
        }
    }
    ag_tensor *t = ag_empty(p->dtype, p->ndim, p->shape);
    if (!t) return NULL;
    g = acquire(g);
    for (int64_t i = 0; i < p->numel; i++) {
        if (p->dtype == AG_FLOAT32)
            AG_F32(t)[i] = uniform_f32(g, 0.0f, 1.0f) < AG_F32(p)[i] ? 1.0f : 0.0f;
        else
            AG_F64(t)[i] = uniform_f64(g, 0.0, 1.0) < AG_F64(p)[i] ? 1.0 : 0.0;
    }
    release(g);
    return t;
}

/* ---------------------------------------------------------------------------------------- */
/* Filling in place                                                                           */
/* ---------------------------------------------------------------------------------------- */

/* The fills without the grad-mode rule: what torch.nn.init runs under torch.no_grad(). */
static ag_tensor *fill_uniform(const char *op, ag_tensor *t, double a, double b, ag_generator *g) {
    if (!check_uniform(op, t, a, b)) return NULL;
    g = acquire(g);
    uniform_kernel(g, t, a, b);
    release(g);
    ag_bump_version(t);
    return t;
}

static ag_tensor *fill_normal(const char *op, ag_tensor *t, double mean, double std,
                              ag_generator *g) {
    if (!check_normal(op, t, std)) return NULL;
    g = acquire(g);
    normal_kernel(g, t, mean, std);
    release(g);
    ag_bump_version(t);
    return t;
}

ag_tensor *ag_uniform_(ag_tensor *t, double a, double b, ag_generator *g) {
    if (!ag_check_tensor("uniform_", t, "self") || !check_fillable("uniform_", t)) return NULL;
    return fill_uniform("uniform_", t, a, b, g);
}

ag_tensor *ag_normal_(ag_tensor *t, double mean, double std, ag_generator *g) {
    if (!ag_check_tensor("normal_", t, "self") || !check_fillable("normal_", t)) return NULL;
    return fill_normal("normal_", t, mean, std, g);
}

/* random_() of one int64: a 64-bit draw mod 2^63. The caller holds g's lock. */
static int64_t random_int64(ag_generator *g) { return (int64_t)(draw64(g) & (uint64_t)INT64_MAX); }

int64_t ag_random_int64(ag_generator *g) {
    g = acquire(g);
    int64_t v = random_int64(g);
    release(g);
    return v;
}

/* random_(): uniform_int_distribution, draw mod (int64: 2^63, uint8: 2^8, float32: 2^24 + 1,
 * float64: 2^53 + 1), a 64-bit draw for int64 and float64. */
ag_tensor *ag_random_(ag_tensor *t, ag_generator *g) {
    if (!ag_check_tensor("random_", t, "self") || !check_fillable("random_", t)) return NULL;
    g = acquire(g);
    for (int64_t i = 0; i < t->numel; i++) {
        switch (t->dtype) {
        case AG_INT64: AG_I64(t)[i] = random_int64(g); break;
        case AG_FLOAT32: AG_F32(t)[i] = (float)(draw32(g) % ((1u << 24) + 1)); break;
        case AG_FLOAT64: AG_F64(t)[i] = (double)(draw64(g) % ((UINT64_C(1) << 53) + 1)); break;
        case AG_UINT8: AG_U8(t)[i] = (uint8_t)(draw32(g) % 256); break;
        }
    }
    release(g);
    ag_bump_version(t);
    return t;
}

/* ---------------------------------------------------------------------------------------- */
/* 5. torch.nn.init                                                                           */
/* ---------------------------------------------------------------------------------------- */

ag_tensor *ag_init_uniform_(ag_tensor *t, double a, double b, ag_generator *g) {
    return fill_uniform("uniform_", t, a, b, g);
}

ag_tensor *ag_init_normal_(ag_tensor *t, double mean, double std, ag_generator *g) {
    return fill_normal("normal_", t, mean, std, g);
}

/* a * b for sizes (>= 0), or false when it does not fit in int64 (Python's ints would). */
static bool size_mul(int64_t a, int64_t b, int64_t *out) {
    if (b && a > INT64_MAX / b) return false;
    *out = a * b;
    return true;
}

static bool fans(const char *op, const ag_tensor *t, int64_t *fan_in, int64_t *fan_out) {
    if (!ag_check_tensor(op, t, "tensor")) return false;
    if (t->ndim < 2) {
        AG_ERROR(op, "Fan in and fan out can not be computed for tensor with fewer than 2 "
                     "dimensions");
        return false;
    }
    int64_t receptive_field = 1;
    bool fits = true;
    for (int d = 2; d < t->ndim; d++)
        fits = fits && size_mul(receptive_field, t->shape[d], &receptive_field);
    fits = fits && size_mul(t->shape[1], receptive_field, fan_in) &&
           size_mul(t->shape[0], receptive_field, fan_out);
    if (!fits) AG_ERROR(op, "fan in and fan out do not fit in int64");
    return fits;
}

bool ag_init_fan_in_and_fan_out(const ag_tensor *t, int64_t *fan_in, int64_t *fan_out) {
    int64_t in, out;
    if (!fans("_calculate_fan_in_and_fan_out", t, &in, &out)) return false;
    if (fan_in) *fan_in = in;
    if (fan_out) *fan_out = out;
    return true;
}

/* calculate_gain into *gain; has_param false is Python's None. False after an error. */
static bool gain_of(const char *op, const char *nonlinearity, double param, bool has_param,
                    double *gain) {
    static const char *const gain_one[] = {
        "linear",           "conv1d",           "conv2d",           "conv3d",
        "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid",
    };
    *gain = NAN;
    if (!nonlinearity) {
        AG_ERROR(op, "Unsupported nonlinearity None");
        return false;
    }
    for (size_t k = 0; k < sizeof gain_one / sizeof *gain_one; k++)
        if (strcmp(nonlinearity, gain_one[k]) == 0) *gain = 1.0;
    if (strcmp(nonlinearity, "tanh") == 0) *gain = 5.0 / 3;
    if (strcmp(nonlinearity, "relu") == 0) *gain = sqrt(2.0);
    if (strcmp(nonlinearity, "leaky_relu") == 0) {
        double negative_slope = has_param ? param : 0.01;
        *gain = sqrt(2.0 / (1 + pow(negative_slope, 2)));
    }
    if (strcmp(nonlinearity, "selu") == 0) *gain = 3.0 / 4;
    if (strcmp(nonlinearity, "leaky_relu") != 0 && isnan(*gain)) {
        AG_ERROR(op, "Unsupported nonlinearity %s", nonlinearity);
        return false;
    }
    return true;
}

double ag_init_calculate_gain(const char *nonlinearity, double param) {
    double gain;
    gain_of("calculate_gain", nonlinearity, param, !isnan(param), &gain);
    return gain;
}

/* _calculate_correct_fan: mode (lower-cased) picks fan_in or fan_out. NULL mode: "fan_in". */
static bool correct_fan(const char *op, const ag_tensor *t, const char *mode, int64_t *fan) {
    char lower[32];
    size_t n = 0;
    for (const char *c = mode ? mode : "fan_in"; *c && n < sizeof lower - 1; c++)
        lower[n++] = (char)tolower((unsigned char)*c);
    lower[n] = '\0';
    bool in = strcmp(lower, "fan_in") == 0;
    if (!in && strcmp(lower, "fan_out") != 0) {
        AG_ERROR(op, "Mode %s not supported, please use one of ['fan_in', 'fan_out']", lower);
        return false;
    }
    int64_t fan_in, fan_out;
    if (!fans(op, t, &fan_in, &fan_out)) return false;
    *fan = in ? fan_in : fan_out;
    return true;
}

/* kaiming_*_: std = gain / sqrt(fan), as Python computes it. False after an error. */
static bool kaiming_std(const char *op, ag_tensor *t, double a, const char *mode,
                        const char *nonlinearity, double *std) {
    int64_t fan;
    if (!correct_fan(op, t, mode, &fan)) return false;
    double gain;
    if (!gain_of(op, nonlinearity ? nonlinearity : "leaky_relu", a, true, &gain)) return false;
    *std = gain / sqrt((double)fan);
    return true;
}

static bool has_zero_dim(const ag_tensor *t) {
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] == 0) return true;
    return false;
}

ag_tensor *ag_init_kaiming_uniform_(ag_tensor *t, double a, const char *mode,
                                    const char *nonlinearity, ag_generator *g) {
    double std;
    if (!ag_check_tensor("kaiming_uniform_", t, "tensor")) return NULL;
    if (has_zero_dim(t)) return t; /* torch: "Initializing zero-element tensors is a no-op" */
    if (!kaiming_std("kaiming_uniform_", t, a, mode, nonlinearity, &std)) return NULL;
    double bound = sqrt(3.0) * std;
    return fill_uniform("kaiming_uniform_", t, -bound, bound, g);
}

ag_tensor *ag_init_kaiming_normal_(ag_tensor *t, double a, const char *mode,
                                   const char *nonlinearity, ag_generator *g) {
    double std;
    if (!ag_check_tensor("kaiming_normal_", t, "tensor")) return NULL;
    if (has_zero_dim(t)) return t;
    if (!kaiming_std("kaiming_normal_", t, a, mode, nonlinearity, &std)) return NULL;
    return fill_normal("kaiming_normal_", t, 0.0, std, g);
}

/* xavier_*_: std = gain sqrt(2 / (fan_in + fan_out)). False after an error. */
static bool xavier_std(const char *op, const ag_tensor *t, double gain, double *std) {
    int64_t fan_in, fan_out;
    if (!fans(op, t, &fan_in, &fan_out)) return false;
    if (fan_in + fan_out == 0) {
        AG_ERROR(op, "float division by zero");
        return false;
    }
    *std = gain * sqrt(2.0 / (double)(fan_in + fan_out));
    return true;
}

ag_tensor *ag_init_xavier_uniform_(ag_tensor *t, double gain, ag_generator *g) {
    double std;
    if (!xavier_std("xavier_uniform_", t, gain, &std)) return NULL;
    double a = sqrt(3.0) * std;
    return fill_uniform("xavier_uniform_", t, -a, a, g);
}

ag_tensor *ag_init_xavier_normal_(ag_tensor *t, double gain, ag_generator *g) {
    double std;
    if (!xavier_std("xavier_normal_", t, gain, &std)) return NULL;
    return fill_normal("xavier_normal_", t, 0.0, std, g);
}
