/*
 * test_unary.c - the unary elementwise ops: exp, log, sqrt, abs, tanh, sigmoid, relu,
 * leaky_relu, gelu, softplus, clamp, and clone, to, detach.
 *
 * Each math op is checked against torch (tests/fixtures/elementwise.h: forward values and the
 * gradient for a fixed upstream gradient, in float32 and float64, at points that include the
 * kinks and large |x|), with a float64 finite-difference gradcheck away from the kinks, its
 * grad_fn name, and its refusal of bad input.
 */
#include "common.h"
#include "fixtures/elementwise.h"

AG_TEST_SUITE(unary);

#define COUNT(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

/* A leaf you own of dtype filled from doubles (rounded to float for float32, as torch.tensor
 * rounds), requiring grad. */
static ag_tensor *leaf(const double *v, int ndim, const int64_t *shape, ag_dtype dtype) {
    ag_tensor *t = ag_empty(dtype, ndim, shape);
    cr_assert_not_null(t);
    for (int64_t i = 0; i < t->numel; i++) {
        if (dtype == AG_FLOAT32)
            AG_F32(t)[i] = (float)v[i];
        else
            AG_F64(t)[i] = v[i];
    }
    return ag_requires_grad_(t, true);
}

/*
 * The fixture check: for float32 and float64, y = f(x) against torch's y, then a backward with
 * the upstream gradient against torch's dx. float32 forward values agree within 1e-6 relative
 * (torch's vectorised transcendentals may differ from glibc's by an ulp; atol32 covers values
 * that are themselves an ulp-sized difference of two numbers near 1, as gelu far left);
 * gradients within 1e-6.
 */
typedef struct unary_fixture {
    const char *grad_fn;
    ag_function f;
    void *ctx;
    const double *x, *y32, *dx32, *y64, *dx64;
    int64_t n;
    double atol32;
} unary_fixture;

#define FIXTURE(name, fn, c, grad_fn_name, atol)                                                   \
    (unary_fixture) {                                                                              \
        .grad_fn = grad_fn_name, .f = fn, .ctx = c, .x = name##_x, .y32 = name##_y32,              \
        .dx32 = name##_dx32, .y64 = name##_y64, .dx64 = name##_dx64, .n = COUNT(name##_x),         \
        .atol32 = atol                                                                             \
    }

static void check_fixture(unary_fixture fx) {
    for (int k = 0; k < 2; k++) {
        ag_dtype dtype = k == 0 ? AG_FLOAT32 : AG_FLOAT64;
        ag_tensor *x = leaf(fx.x, 1, (int64_t[]){fx.n}, dtype);
        ag_tensor *g = leaf(upstream, 1, (int64_t[]){fx.n}, dtype);
        ag_requires_grad_(g, false);
        ag_tensor *y = fx.f(&x, fx.ctx);
        cr_assert_not_null(y, "%s: %s", fx.grad_fn, ag_last_error());
        cr_assert_eq(y->dtype, dtype);
        ASSERT_SHAPE(y, fx.n);
        cr_assert_str_eq(ag_grad_fn_name(y), fx.grad_fn);
        if (dtype == AG_FLOAT32)
            assert_values(y, fx.y32, fx.n, fx.atol32, 1e-6);
        else
            assert_values(y, fx.y64, fx.n, 1e-15, 1e-13);
        ag_backward_with(y, g, false);
        cr_assert_not_null(x->grad, "%s: no gradient reached x", fx.grad_fn);
        cr_assert_eq(x->grad->dtype, dtype);
        assert_values(x->grad, dtype == AG_FLOAT32 ? fx.dx32 : fx.dx64, fx.n, 1e-6, 1e-6);
        ag_tensor_free(x);
        ag_tensor_free(g);
        ag_tape_reset(NULL);
    }
}

/* A float64 gradcheck of f at the given points, as a (2, 3) tensor (so n-d shapes too). */
static void check_gradient(ag_function f, void *ctx, const double values[6]) {
    ag_tensor *x = leaf(values, 2, (int64_t[]){2, 3}, AG_FLOAT64);
    assert_gradcheck(f, ctx, &x, 1);
    ag_tensor_free(x);
}

/* Rejects NULL and int64 input, in the op's name. */
static void check_bad_input(ag_function f, void *ctx, const char *op) {
    char text[64];
    snprintf(text, sizeof text, "%s: argument 'self' must be a tensor", op);
    EXPECT_ERROR(f((ag_tensor *[]){NULL}, ctx), text);
    ag_tensor *i = AG_INDEX(1, 2, 3);
    snprintf(text, sizeof text, "%s: expected a floating point tensor", op);
    EXPECT_ERROR(f(&i, ctx), text);
    ag_tensor_free(i);
}

/* ---- the ops as gradcheck sees them: parameters come through ctx -------------------------- */

static ag_tensor *f_exp(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_exp(in[0]);
}
static ag_tensor *f_log(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_log(in[0]);
}
static ag_tensor *f_sqrt(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_sqrt(in[0]);
}
static ag_tensor *f_abs(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_abs(in[0]);
}
static ag_tensor *f_tanh(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_tanh(in[0]);
}
static ag_tensor *f_sigmoid(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_sigmoid(in[0]);
}
static ag_tensor *f_relu(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_relu(in[0]);
}
static ag_tensor *f_gelu(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_gelu(in[0]);
}
static ag_tensor *f_leaky_relu(ag_tensor *const *in, void *ctx) {
    return ag_leaky_relu(in[0], *(const double *)ctx);
}
static ag_tensor *f_softplus(ag_tensor *const *in, void *ctx) {
    const double *p = ctx; /* beta, threshold */
    return ag_softplus(in[0], p[0], p[1]);
}
static ag_tensor *f_clamp(ag_tensor *const *in, void *ctx) {
    const double *p = ctx; /* lo, hi */
    return ag_clamp(in[0], p[0], p[1]);
}
static ag_tensor *f_clone(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_clone(in[0]);
}

static double slope_001[] = {0.01}, slope_02[] = {0.2};
static double softplus_default[] = {1, 20}, softplus_b2[] = {2, 10};
static double clamp_box[] = {-1, 2}, clamp_empty_box[] = {2, -1},
              clamp_max_box[] = {-INFINITY, 0.5};
static double clamp_inexact_box[] = {0.1, 0.7};

/* Six points away from every kink, large enough for central differences to be exact enough. */
static const double smooth_points[6] = {-2.5, -1.25, -0.3, 0.4, 1.1, 2.75};
static const double positive_points[6] = {0.05, 0.3, 0.9, 1.7, 4.0, 12.5};

/* ---- exp, log, sqrt, abs ------------------------------------------------------------------ */

Test(unary, exp) {
    check_fixture(FIXTURE(exp, f_exp, NULL, "ExpBackward0", 0));
    check_gradient(f_exp, NULL, smooth_points);
    check_bad_input(f_exp, NULL, "exp");
}

Test(unary, log) {
    /* ln 0 = -inf with gradient g / 0 = +-inf, ln -1 = NaN: as torch */
    check_fixture(FIXTURE(log, f_log, NULL, "LogBackward0", 0));
    check_gradient(f_log, NULL, positive_points);
    check_bad_input(f_log, NULL, "log");
}

Test(unary, sqrt) {
    /* sqrt 0 = 0 with gradient g / 0 = inf; sqrt -1 = NaN: as torch */
    check_fixture(FIXTURE(sqrt, f_sqrt, NULL, "SqrtBackward0", 0));
    check_gradient(f_sqrt, NULL, positive_points);
    check_bad_input(f_sqrt, NULL, "sqrt");
}

Test(unary, abs) {
    /* abs'(0) = abs'(-0) = 0, and sign(NaN) = 0 */
    check_fixture(FIXTURE(abs, f_abs, NULL, "AbsBackward0", 0));
    check_gradient(f_abs, NULL, smooth_points);
    check_bad_input(f_abs, NULL, "abs");
}

/* ---- tanh, sigmoid (saving their output) -------------------------------------------------- */

Test(unary, tanh) {
    check_fixture(FIXTURE(tanh, f_tanh, NULL, "TanhBackward0", 0));
    check_gradient(f_tanh, NULL, smooth_points);
    check_bad_input(f_tanh, NULL, "tanh");
}

Test(unary, sigmoid) {
    /* down to -100, where e^100 overflows float32 and the result is 0, not NaN */
    check_fixture(FIXTURE(sigmoid, f_sigmoid, NULL, "SigmoidBackward0", 0));
    check_gradient(f_sigmoid, NULL, smooth_points);
    check_bad_input(f_sigmoid, NULL, "sigmoid");
}

Test(unary, float32_computes_in_float32) {
    /* the same roundings as torch's float kernels, not a double result rounded once */
    const double v[] = {-3.7, -0.61, 0.3, 1.9, 7.25};
    ag_tensor *x = leaf(v, 1, (int64_t[]){5}, AG_FLOAT32);
    ag_tensor *s = ag_sigmoid(x), *t = ag_tanh(x), *e = ag_exp(x);
    for (int64_t i = 0; i < 5; i++) {
        float xi = AG_F32(x)[i];
        cr_assert_eq(AG_F32(s)[i], 1.0f / (1.0f + expf(-xi)));
        cr_assert_eq(AG_F32(t)[i], tanhf(xi));
        cr_assert_eq(AG_F32(e)[i], expf(xi));
    }
    ag_tensor_free(x);
}

/* f saves its output: changing the output in place breaks f's backward, as in torch. */
static void check_saved_output(ag_function f, const char *grad_fn) {
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(0.5f, 1.5f), true);
    ag_tensor *y = f(&x, NULL);
    ag_mul_scalar_(y, 2.0);
    cr_assert_eq(y->version, 1);
    ag_tensor *loss = ag_sum(y);
    char text[128];
    snprintf(text, sizeof text,
             "%s: one of the variables needed for gradient computation has "
             "been modified by an inplace operation",
             grad_fn);
    EXPECT_ERROR(ag_backward(loss), text);
    ag_tensor_free(x);
    ag_tape_reset(NULL);
}

Test(unary, saved_output_modified_in_place) {
    check_saved_output(f_exp, "ExpBackward0");
    check_saved_output(f_sqrt, "SqrtBackward0");
    check_saved_output(f_tanh, "TanhBackward0");
    check_saved_output(f_sigmoid, "SigmoidBackward0");
    check_saved_output(f_relu, "ReluBackward0");
}

/* ---- relu, leaky_relu, gelu, softplus ----------------------------------------------------- */

Test(unary, relu) {
    /* relu'(0) = 0; -0 and NaN pass through; a NaN output passes g, as torch */
    check_fixture(FIXTURE(relu, f_relu, NULL, "ReluBackward0", 0));
    check_gradient(f_relu, NULL, smooth_points);
    check_bad_input(f_relu, NULL, "relu");
}

Test(unary, leaky_relu) {
    /* the slope side at x = 0, as torch */
    check_fixture(FIXTURE(leaky_relu, f_leaky_relu, slope_001, "LeakyReluBackward0", 0));
    check_fixture(FIXTURE(leaky_relu_02, f_leaky_relu, slope_02, "LeakyReluBackward0", 0));
    check_gradient(f_leaky_relu, slope_02, smooth_points);
    check_bad_input(f_leaky_relu, slope_001, "leaky_relu");
}

Test(unary, gelu) {
    /* In the left tail gelu(x) = x/2 (1 + erf(x / sqrt 2)) cancels to a few ulps of 1 in
     * float32, where torch's vectorised erf (a polynomial) and glibc's erff differ by about
     * 6e-8: at x = -3 torch gives -0.0040498674, glibc -0.0040496886 (exact: -0.0040496941).
     * Hence an absolute 2e-7 beside the relative 1e-6. */
    check_fixture(FIXTURE(gelu, f_gelu, NULL, "GeluBackward0", 2e-7));
    check_gradient(f_gelu, NULL, smooth_points);
    check_bad_input(f_gelu, NULL, "gelu");
}

Test(unary, softplus) {
    /* beta = 1, threshold = 20: x itself only where x > 20 (20 takes the log path) */
    check_fixture(FIXTURE(softplus, f_softplus, softplus_default, "SoftplusBackward0", 0));
    /* beta = 2, threshold = 10: x * beta > 10, so the switch is at x = 5 */
    check_fixture(FIXTURE(softplus_b2, f_softplus, softplus_b2, "SoftplusBackward0", 0));
    check_gradient(f_softplus, softplus_default, smooth_points);
    check_gradient(f_softplus, softplus_b2, smooth_points);
    check_bad_input(f_softplus, softplus_default, "softplus");
}

/* ---- clamp -------------------------------------------------------------------------------- */

Test(unary, clamp) {
    /* g passes at the bounds themselves; NaN stays NaN with gradient 0 */
    check_fixture(FIXTURE(clamp, f_clamp, clamp_box, "ClampBackward1", 0));
    /* lo > hi: hi everywhere, gradient 0 everywhere (torch's result) */
    check_fixture(FIXTURE(clamp_empty, f_clamp, clamp_empty_box, "ClampBackward1", 0));
    /* no lower bound */
    check_fixture(FIXTURE(clamp_max, f_clamp, clamp_max_box, "ClampBackward1", 0));
    /* bounds not representable in float32 are rounded to it, as torch: 0.1f lies in
     * [0.1, 0.7] */
    check_fixture(FIXTURE(clamp_inexact, f_clamp, clamp_inexact_box, "ClampBackward1", 0));
    check_gradient(f_clamp, clamp_box, smooth_points);
    check_bad_input(f_clamp, clamp_box, "clamp");
}

Test(unary, clamp_nan_bound) {
    /* torch: a NaN bound makes every element NaN */
    ag_tensor *x = AG_TENSOR(-1, 0.5f, 3);
    ASSERT_VALUES(ag_clamp(x, NAN, 1), 0, 0, NAN, NAN, NAN);
    ASSERT_VALUES(ag_clamp(x, 0, NAN), 0, 0, NAN, NAN, NAN);
    ag_tensor_free(x);
}

/* ---- shapes and recording ----------------------------------------------------------------- */

Test(unary, keeps_shape_and_records_only_when_needed) {
    ag_tensor *x = ag_full(AG_FLOAT32, AG_SHAPE(2, 1, 3), 0.5);
    ag_tensor *y = ag_tanh(x);
    ASSERT_SHAPE(y, 2, 1, 3);
    cr_assert_null(ag_grad_fn_name(y), "x requires no grad: nothing is recorded");
    cr_assert(!y->requires_grad);
    ag_requires_grad_(x, true);
    AG_NO_GRAD { y = ag_softplus(x, 1, 20); }
    cr_assert_null(ag_grad_fn_name(y), "no-grad mode: nothing is recorded");
    cr_assert_eq(ag_tape_size(NULL), 0);
    ag_tensor *s = ag_requires_grad_(ag_scalar(-0.25, AG_FLOAT64), true);
    y = ag_leaky_relu(s, 0.5);
    ASSERT_SCALAR_SHAPE(y);
    ASSERT_VALUES(y, 0, 0, -0.125);
    ag_backward(y);
    ASSERT_VALUES(s->grad, 0, 0, 0.5);
    ag_tensor_free(x);
    ag_tensor_free(s);
}

Test(unary, fan_out_adds) {
    /* d/dx sum(exp(x) + sigmoid(x) * relu(x)) through three different nodes */
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(0.5f, 2.0f), true);
    ag_tensor *loss = ag_sum(ag_add(ag_exp(x), ag_mul(ag_sigmoid(x), ag_relu(x))));
    ag_backward(loss);
    double expected[2];
    for (int i = 0; i < 2; i++) {
        double v = AG_F32(x)[i], s = 1 / (1 + exp(-v));
        expected[i] = exp(v) + s * (1 - s) * v + s;
    }
    assert_values(x->grad, expected, 2, 1e-6, 1e-6);
    ag_tensor_free(x);
}

/* ---- clone -------------------------------------------------------------------------------- */

Test(unary, clone) {
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(1, -2, 3), true);
    ag_tensor *c = ag_clone(x);
    ASSERT_VALUES(c, 0, 0, 1, -2, 3);
    cr_assert_neq(c->data, x->data, "clone has its own memory");
    cr_assert_str_eq(ag_grad_fn_name(c), "CloneBackward0");
    ag_tensor *g = AG_TENSOR(0.5f, -1, 4);
    ag_backward_with(c, g, false);
    ASSERT_VALUES(x->grad, 0, 0, 0.5, -1, 4);
    /* int64 clones too (labels), with nothing to record */
    ag_tensor *i = AG_INDEX(4, 5);
    ag_tensor *ic = ag_clone(i);
    cr_assert_eq(ic->dtype, AG_INT64);
    ASSERT_VALUES(ic, 0, 0, 4, 5);
    EXPECT_ERROR(ag_clone(NULL), "clone: argument 'self' must be a tensor");
    ag_tensor_free(x);
    ag_tensor_free(g);
    ag_tensor_free(i);
    check_gradient(f_clone, NULL, smooth_points);
}

/* ---- to ----------------------------------------------------------------------------------- */

Test(unary, to_float64_and_back) {
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(0.1f, -2.5f), true);
    ag_tensor *y = ag_to(x, AG_FLOAT64);
    cr_assert_eq(y->dtype, AG_FLOAT64);
    ASSERT_VALUES(y, 0, 0, (double)0.1f, -2.5);
    cr_assert_str_eq(ag_grad_fn_name(y), "ToCopyBackward0");
    ag_tensor *loss = ag_sum(ag_mul_scalar(y, 1.0 / 3.0));
    ag_backward(loss);
    /* the float64 gradient 1/3 is cast back to x's float32 */
    cr_assert_eq(x->grad->dtype, AG_FLOAT32);
    cr_assert_eq(AG_F32(x->grad)[0], (float)(1.0 / 3.0));
    /* no gradcheck: a float32 copy is too coarse for central differences of 1e-6 */
    ag_tensor_free(x);
}

Test(unary, to_same_dtype_is_self) {
    /* torch: x.to(x.dtype) is x */
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(1, 2), true);
    cr_assert_eq(ag_to(x, AG_FLOAT32), x);
    cr_assert_eq(ag_tape_size(NULL), 0);
    ag_tensor_free(x);
}

Test(unary, to_int64_and_from_int64) {
    /* float -> int64 truncates toward zero and takes no gradient */
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(2.7f, -2.7f, 0.5f), true);
    ag_tensor *i = ag_to(x, AG_INT64);
    cr_assert_eq(i->dtype, AG_INT64);
    cr_assert(!i->requires_grad);
    cr_assert_null(ag_grad_fn_name(i));
    cr_assert_eq(AG_I64(i)[0], 2);
    cr_assert_eq(AG_I64(i)[1], -2);
    cr_assert_eq(AG_I64(i)[2], 0);
    /* NaN, infinities and out-of-range values: INT64_MIN, as torch on x86 */
    ag_tensor *odd =
        ag_from_data((const double[]){NAN, INFINITY, -1e300, 9.3e18}, AG_FLOAT64, AG_SHAPE(4));
    ag_tensor *oi = ag_to(odd, AG_INT64);
    for (int k = 0; k < 4; k++)
        cr_assert_eq(AG_I64(oi)[k], INT64_MIN);
    /* int64 -> float rounds once */
    ag_tensor *big = AG_INDEX(16777217, -3);
    ag_tensor *f = ag_to(big, AG_FLOAT32);
    cr_assert_eq(f->dtype, AG_FLOAT32);
    ASSERT_VALUES(f, 0, 0, 16777216, -3);
    ASSERT_VALUES(ag_to(big, AG_FLOAT64), 0, 0, 16777217, -3);
    EXPECT_ERROR(ag_to(x, (ag_dtype)7), "to: unknown dtype 7");
    EXPECT_ERROR(ag_to(NULL, AG_FLOAT32), "to: argument 'self' must be a tensor");
    ag_tensor_free(x);
    ag_tensor_free(odd);
    ag_tensor_free(big);
}

/* ---- detach ------------------------------------------------------------------------------- */

Test(unary, detach_shares_memory_and_version) {
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(1, 2, 3), true);
    ag_tensor *d = ag_detach(x);
    cr_assert(!d->requires_grad);
    cr_assert(ag_is_leaf(d));
    cr_assert_null(ag_grad_fn_name(d));
    cr_assert_eq(d->data, x->data, "detach is a view");
    ASSERT_SHAPE(d, 3);
    cr_assert_eq(ag_tape_size(NULL), 0, "detach records nothing");
    /* an in-place change through the view shows in x and bumps x's version */
    ag_add_scalar_(d, 10);
    ASSERT_VALUES(x, 0, 0, 11, 12, 13);
    cr_assert_eq(x->version, 1);
    ag_tensor_free(x);
}

Test(unary, detach_then_in_place_breaks_saved_tensor) {
    /* torch: y = x * x; x.detach().add_(1); y.sum().backward() fails: x was saved by mul */
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(1, 2), true);
    ag_tensor *y = ag_mul(x, x);
    ag_add_scalar_(ag_detach(x), 1);
    EXPECT_ERROR(ag_backward(ag_sum(y)), "MulBackward0: one of the variables needed for "
                                         "gradient computation has been modified by an inplace "
                                         "operation: [torch.FloatTensor [2]]");
    cr_assert(strstr(ag_last_error(), "is at version 1; expected version 0 instead."));
    ag_tensor_free(x);
}

Test(unary, detach_of_intermediate_and_of_null) {
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(1, 2), true);
    ag_tensor *y = ag_exp(x);
    ag_tensor *d = ag_detach(y);
    cr_assert(!d->requires_grad);
    ASSERT_VALUES(d, 1e-6, 1e-6, exp(1.0), exp(2.0));
    /* a loss through the detached branch reaches nothing; through y it reaches x */
    ag_backward(ag_sum(ag_mul(y, d)));
    ASSERT_VALUES(x->grad, 1e-5, 1e-6, exp(2.0), exp(4.0));
    EXPECT_ERROR(ag_detach(NULL), "detach: argument 'self' must be a tensor");
    ag_tensor_free(x);
}
