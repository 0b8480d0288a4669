/*
 * random.h - random numbers bit for bit as PyTorch 1.13's CPU generator makes them.
 *
 *     ag_manual_seed(42);                                   // torch.manual_seed(42)
 *     ag_tensor *x = ag_randn(NULL, AG_FLOAT32, AG_SHAPE(64, 784));   // torch.randn(64, 784)
 *     ag_tensor *w = ag_empty(AG_FLOAT32, AG_SHAPE(256, 784));
 *     ag_init_kaiming_uniform_(w, sqrt(5), "fan_in", "leaky_relu", NULL);
 *                                                // nn.init.kaiming_uniform_(w, a=math.sqrt(5))
 *     ag_tensor *order = ag_randperm(NULL, 60000);           // torch.randperm(60000)
 *     ...
 *     ag_tensor_free(x); ag_tensor_free(w); ag_tensor_free(order);
 *
 * After the same seed, every function here returns the same bits as the torch call beside
 * it, float32 and float64: the same Mersenne Twister (mt19937), the same draws consumed in
 * the same order, the same transforms (checked on 16 seeds, sizes 1..40, 100, 1000 and 2^20).
 *
 * The platform caveat. Torch compiles its CPU kernels once per instruction set and runs the
 * AVX2 build on any x86-64 CPU with AVX2; this file reproduces that build. There (1) randn /
 * normal_ of 16 or more float32 elements is a vectorised Box-Muller whose log, sin and cos
 * are polynomials (avx_mathfun.h), done here lane by lane with fmaf, and (2) x * scale + shift
 * is one fused rounding (uniform_(a, b), normal_(mean, std), the init helpers). Torch on a CPU
 * without AVX2, or on ARM, differs from both in the last bits; rand, randint, randperm,
 * bernoulli, random_ and randn of float64 or of fewer than 16 elements are the same there.
 * The double-precision log, sin and cos come from the C library, as torch's do: the numbers
 * match where both use the same libm (glibc here).
 *
 * Generators. A generator is an explicit object (torch.Generator): pass one to any function
 * below, or NULL for the default generator (torch.default_generator). The default generator
 * is one per process, as torch's: all threads draw from it, one call at a time (every
 * generator has a lock, held for the whole of a call, as torch's mutex). Until ag_manual_seed
 * it is seeded from /dev/urandom (or the clock), as torch seeds it at start-up.
 *
 * Ownership. Tensors these functions create (ag_rand, ...) are the caller's, as ag_zeros'
 * are: free them with ag_tensor_free. They do not require grad. The in-place fills change
 * and return their argument. Generators from ag_generator_new are the caller's.
 *
 * Errors are reported in torch's words (see autograd.h); the function then returns NULL (or
 * does nothing), draws nothing, and changes nothing.
 */
#ifndef AG_RANDOM_H
#define AG_RANDOM_H

#include "autograd/autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* Generators                                                                                 */
/* ---------------------------------------------------------------------------------------- */

/* A random stream: mt19937's state and torch's cached second Box-Muller value. Opaque. */
typedef struct ag_generator ag_generator;

/* torch.Generator().manual_seed(seed): a new generator owned by the caller; NULL after an
 * out-of-memory report. */
ag_generator *ag_generator_new(uint64_t seed);
/* Frees a generator you made. NULL is a no-op; the default generator is an error. */
void ag_generator_free(ag_generator *g);
/* torch.default_generator: the process's generator, used wherever NULL is passed. */
ag_generator *ag_default_generator(void);
/* torch.manual_seed(seed): reseeds the default generator. */
void ag_manual_seed(uint64_t seed);
/* g.manual_seed(seed): restarts g's stream (mt19937 takes the low 32 bits of the seed, as in
 * torch) and drops its cached normal value. NULL is the default generator. */
void ag_generator_manual_seed(ag_generator *g, uint64_t seed);
/* g.initial_seed() and torch.initial_seed(): the seed the stream started from. */
uint64_t ag_generator_initial_seed(ag_generator *g);
uint64_t ag_initial_seed(void);

/*
 * g.get_state() and torch.get_rng_state() (g NULL: the default generator): the whole state of
 * the stream as a new int64 tensor of shape [629], owned by the caller: after
 * ag_generator_set_state(g, state), g draws exactly what it would have drawn after the
 * get_state. Torch returns bytes (a uint8 tensor); libautograd has no uint8, so the same
 * fields are int64s:
 *     [0]       1, the layout's version
 *     [1]       the initial seed (its 64 bits)
 *     [2]       the position in the 624 words: the next word to temper (624: twist first)
 *     [3], [4]  whether a normal value is cached (0 or 1), and that double's 64 bits (or 0)
 *     [5..628]  mt19937's 624 words, each in [0, 2^32)
 * NULL after an out-of-memory report. Getting the state of the default generator before its
 * first use seeds it, as any first use does.
 */
ag_tensor *ag_generator_get_state(const ag_generator *g);
/* g.set_state(state) and torch.set_rng_state(state) (g NULL: the default generator).
 * A state usually comes from a file (a checkpoint), so this judges it as a loader judges a
 * file: returns 0, or -1 with ag_last_error() saying what is wrong (not an int64 tensor of
 * shape [629], an unknown version, a position or a word out of range), without calling the
 * error handler and without changing g. ag_generator_check_state only judges. */
int ag_generator_set_state(ag_generator *g, const ag_tensor *state);
int ag_generator_check_state(const ag_tensor *state);

/* ---------------------------------------------------------------------------------------- */
/* New random tensors (caller-owned; g NULL = the default generator)                         */
/* ---------------------------------------------------------------------------------------- */

/* torch.rand(shape, dtype=dtype, generator=g): uniform on [0, 1). float32 takes one 32-bit
 * draw per element (24 bits used), float64 one 64-bit draw (53 bits used). */
ag_tensor *ag_rand(ag_generator *g, ag_dtype dtype, int ndim, const int64_t *shape);
/* torch.randn: standard normal. Fewer than 16 elements: Box-Muller one pair at a time, its
 * second value cached in g for the next call; 16 or more: Box-Muller by blocks of 16. */
ag_tensor *ag_randn(ag_generator *g, ag_dtype dtype, int ndim, const int64_t *shape);
/* torch.randint(low, high, shape, generator=g): int64 in [low, high), by (draw mod range),
 * the draw 32-bit for a range below 2^32 and 64-bit above. */
ag_tensor *ag_randint(ag_generator *g, int64_t low, int64_t high, int ndim, const int64_t *shape);
/* torch.randperm(n, generator=g): a random permutation of 0..n-1 (int64), by torch's
 * Fisher-Yates: swap i with i + (32-bit draw mod (n - i)). */
ag_tensor *ag_randperm(ag_generator *g, int64_t n);
/* torch.bernoulli(p, generator=g): 1 with probability p[i], else 0; a new tensor of p's
 * shape and dtype (float32 or float64, each p in [0, 1]). It does not require grad: torch's
 * BernoulliBackward0 gives p a zero gradient, and libautograd records nothing. */
ag_tensor *ag_bernoulli(ag_tensor *p, ag_generator *g);

/* ---------------------------------------------------------------------------------------- */
/* Filling a tensor in place (returns t)                                                      */
/* ---------------------------------------------------------------------------------------- */

/*
 * These write t's data and bump its version, as torch does with grad recording off. As in
 * torch, a leaf that requires grad can only be filled in no-grad mode (AG_NO_GRAD) or by the
 * ag_init_* functions below, which run as torch.nn.init does, under torch.no_grad(). Torch
 * records a zero-gradient node when it fills a tensor with history in grad mode; libautograd
 * reports that case instead.
 */
/* t.uniform_(a, b, generator=g): uniform on [a, b), computed in t's dtype. */
ag_tensor *ag_uniform_(ag_tensor *t, double a, double b, ag_generator *g);
/* t.normal_(mean, std, generator=g): the draws of ag_randn, times std plus mean. */
ag_tensor *ag_normal_(ag_tensor *t, double mean, double std, ag_generator *g);
/* t.random_(generator=g): integers in [0, 2^63) for int64, [0, 2^24] for float32 and
 * [0, 2^53] for float64 (what DataLoader draws for its base seed: int64, one element). */
ag_tensor *ag_random_(ag_tensor *t, ag_generator *g);

/* ---------------------------------------------------------------------------------------- */
/* torch.nn.init (in place, under no-grad; return t)                                          */
/* ---------------------------------------------------------------------------------------- */

/* nn.init.uniform_(t, a, b) and nn.init.normal_(t, mean, std). */
ag_tensor *ag_init_uniform_(ag_tensor *t, double a, double b, ag_generator *g);
ag_tensor *ag_init_normal_(ag_tensor *t, double mean, double std, ag_generator *g);
/*
 * Kaiming (He) init: std = gain / sqrt(fan), gain = ag_init_calculate_gain(nonlinearity, a);
 * kaiming_uniform_ draws uniform on [-sqrt(3) std, sqrt(3) std), kaiming_normal_ normal with
 * that std. mode is "fan_in" or "fan_out" (any case), nonlinearity as calculate_gain's;
 * NULL for either is torch's default ("fan_in", "leaky_relu"), and a is always passed as the
 * slope (torch's default a = 0 gives the gain sqrt(2)). nn.Linear and nn.Conv2d initialise
 * their weight with kaiming_uniform_(w, sqrt(5)). A tensor with no elements is returned as it
 * is, drawing nothing (torch warns "Initializing zero-element tensors is a no-op").
 */
ag_tensor *ag_init_kaiming_uniform_(ag_tensor *t, double a, const char *mode,
                                    const char *nonlinearity, ag_generator *g);
ag_tensor *ag_init_kaiming_normal_(ag_tensor *t, double a, const char *mode,
                                   const char *nonlinearity, ag_generator *g);
/* Xavier (Glorot) init: std = gain sqrt(2 / (fan_in + fan_out)); uniform on
 * [-sqrt(3) std, sqrt(3) std), or normal with that std. */
ag_tensor *ag_init_xavier_uniform_(ag_tensor *t, double gain, ag_generator *g);
ag_tensor *ag_init_xavier_normal_(ag_tensor *t, double gain, ag_generator *g);
/* nn.init.calculate_gain(nonlinearity, param): 1 for "linear", "conv1d" ... "sigmoid"; 5/3
 * "tanh"; sqrt(2) "relu"; sqrt(2 / (1 + param^2)) "leaky_relu" (param NAN means None: 0.01);
 * 3/4 "selu". NAN after reporting "Unsupported nonlinearity foo". */
double ag_init_calculate_gain(const char *nonlinearity, double param);
/* nn.init._calculate_fan_in_and_fan_out: for a weight (out, in, k...), fan_in = in * prod(k)
 * and fan_out = out * prod(k). False after reporting a tensor of fewer than 2 dims. */
bool ag_init_fan_in_and_fan_out(const ag_tensor *t, int64_t *fan_in, int64_t *fan_out);

/* Each function that can report an error first records the caller's file:line (ag_here). */
#ifndef AG_BUILDING_LIBRARY
#define ag_generator_new(...) AG_AT_(ag_generator_new(__VA_ARGS__))
#define ag_generator_free(...) AG_AT_(ag_generator_free(__VA_ARGS__))
#define ag_generator_get_state(...) AG_AT_(ag_generator_get_state(__VA_ARGS__))
#define ag_rand(...) AG_AT_(ag_rand(__VA_ARGS__))
#define ag_randn(...) AG_AT_(ag_randn(__VA_ARGS__))
#define ag_randint(...) AG_AT_(ag_randint(__VA_ARGS__))
#define ag_randperm(...) AG_AT_(ag_randperm(__VA_ARGS__))
#define ag_bernoulli(...) AG_AT_(ag_bernoulli(__VA_ARGS__))
#define ag_uniform_(...) AG_AT_(ag_uniform_(__VA_ARGS__))
#define ag_normal_(...) AG_AT_(ag_normal_(__VA_ARGS__))
#define ag_random_(...) AG_AT_(ag_random_(__VA_ARGS__))
#define ag_init_uniform_(...) AG_AT_(ag_init_uniform_(__VA_ARGS__))
#define ag_init_normal_(...) AG_AT_(ag_init_normal_(__VA_ARGS__))
#define ag_init_kaiming_uniform_(...) AG_AT_(ag_init_kaiming_uniform_(__VA_ARGS__))
#define ag_init_kaiming_normal_(...) AG_AT_(ag_init_kaiming_normal_(__VA_ARGS__))
#define ag_init_xavier_uniform_(...) AG_AT_(ag_init_xavier_uniform_(__VA_ARGS__))
#define ag_init_xavier_normal_(...) AG_AT_(ag_init_xavier_normal_(__VA_ARGS__))
#define ag_init_calculate_gain(...) AG_AT_(ag_init_calculate_gain(__VA_ARGS__))
#define ag_init_fan_in_and_fan_out(...) AG_AT_(ag_init_fan_in_and_fan_out(__VA_ARGS__))
#endif

#ifdef __cplusplus
}
#endif

#endif
