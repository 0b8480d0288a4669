/*
 * test_conv.c - ag_conv2d, ag_max_pool2d and ag_avg_pool2d against torch.nn.functional.
 *
 * Each fixture case of tests/fixtures/nn.h (conv: strides and paddings, square and not, with
 * and without bias, 1x1, padding wider than the kernel's half, float32 and float64; pools:
 * default stride, stride and padding, rectangular windows, unbatched input, ties) is checked
 * for the output, the grad_fn name and every input's gradient after a backward from torch's
 * upstream gradient. Conv's two kernels (im2col + BLAS, and the direct loops) must both match
 * torch, and each other on a medium size. Float64 gradchecks cover every op on small sizes,
 * and every bad input reports torch's words. The pools' two kernels each (kernel 2x2 stride 2,
 * and the general one) must give bit for bit what the plainest loops give, on hard inputs too
 * (ties, -0, infinities, NaNs).
 */
#include "common.h"
#include "nn/nn.h"

#define NN_FIXTURES_CONV
#include "fixtures/nn.h"

AG_TEST_SUITE(conv);

/* ---- helpers ------------------------------------------------------------------------------ */

/* Every element of a and b (same shape) within atol + rtol |b|. */
static void assert_close(const ag_tensor *a, const ag_tensor *b, double atol, double rtol) {
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    assert_shape(a, b->ndim, b->shape);
    for (int64_t i = 0; i < a->numel; i++) {
        double x = ag_get(a, i), y = ag_get(b, i);
        cr_assert(fabs(x - y) <= atol + rtol * fabs(y), "element %lld: %.10g vs %.10g",
                  (long long)i, x, y);
    }
}

/* ---- conv2d against torch ----------------------------------------------------------------- */

typedef struct conv_case {
    const fx_tensor *x, *w, *b, *g, *out, *dx, *dw, *db;
    const char *grad_fn;
    ag_pair stride, padding;
    ag_dtype dtype;
} conv_case;

#define CONV_CASE(name, b_, db_, stride_, padding_, dtype_)                                        \
    (conv_case) {                                                                                  \
        &nn_##name##_x, &nn_##name##_w, b_, &nn_##name##_g, &nn_##name##_out, &nn_##name##_dx,     \
            &nn_##name##_dw, db_, nn_##name##_grad_fn, stride_, padding_, dtype_                   \
    }

static void check_conv(conv_case c, bool reference) {
    double tol = c.dtype == AG_FLOAT32 ? 2e-5 : 1e-12;
    ag_tensor *x = fx_make(c.x, c.dtype, true), *w = fx_make(c.w, c.dtype, true);
    ag_tensor *b = fx_make(c.b, c.dtype, true), *g = fx_make(c.g, c.dtype, false);
    ag_tensor *out = reference ? ag_conv2d_reference(x, w, b, c.stride, c.padding)
                               : ag_conv2d(x, w, b, c.stride, c.padding);
    assert_fx(out, c.out, tol, tol);
    cr_assert_eq(out->dtype, c.dtype);
    cr_assert_str_eq(ag_grad_fn_name(out), c.grad_fn);
    ag_backward_with(out, g, false);
    assert_fx(x->grad, c.dx, tol, tol);
    assert_fx(w->grad, c.dw, tol, tol);
    if (b) assert_fx(b->grad, c.db, tol, tol);
    ag_tensor_free(x), ag_tensor_free(w), ag_tensor_free(b), ag_tensor_free(g);
}

static void check_conv_both(conv_case c) {
    check_conv(c, false);
    check_conv(c, true);
}

Test(conv, stride1_pad0) {
    check_conv_both(CONV_CASE(conv_s1p0, &nn_conv_s1p0_b, &nn_conv_s1p0_db, AG_PAIR(1), AG_PAIR(0),
                              AG_FLOAT32));
}
Test(conv, stride2_pad1) {
    check_conv_both(CONV_CASE(conv_s2p1, &nn_conv_s2p1_b, &nn_conv_s2p1_db, AG_PAIR(2), AG_PAIR(1),
                              AG_FLOAT32));
}
Test(conv, rectangular_kernel_stride_padding) {
    check_conv_both(CONV_CASE(conv_rect, &nn_conv_rect_b, &nn_conv_rect_db, AG_PAIR(1, 2),
                              AG_PAIR(0, 1), AG_FLOAT32));
}
Test(conv, without_bias) {
    check_conv_both(CONV_CASE(conv_nobias, NULL, NULL, AG_PAIR(2, 1), AG_PAIR(1, 0), AG_FLOAT32));
}
Test(conv, one_by_one_kernel) {
    check_conv_both(
        CONV_CASE(conv_1x1, &nn_conv_1x1_b, &nn_conv_1x1_db, AG_PAIR(1), AG_PAIR(0), AG_FLOAT32));
}
Test(conv, padding_wider_than_half_the_kernel) { /* outputs that see only padding: the bias */
    check_conv_both(CONV_CASE(conv_big_pad, &nn_conv_big_pad_b, &nn_conv_big_pad_db, AG_PAIR(1),
                              AG_PAIR(2), AG_FLOAT32));
}
Test(conv, float64) {
    check_conv_both(
        CONV_CASE(conv_f64, &nn_conv_f64_b, &nn_conv_f64_db, AG_PAIR(2), AG_PAIR(1), AG_FLOAT64));
}

Test(conv, by_hand) {
    /* a 1x1x3x3 image of 1..9 and a 2x2 kernel of ones: each output sums a 2x2 window */
    ag_tensor *x =
        ag_from_data((const float[]){1, 2, 3, 4, 5, 6, 7, 8, 9}, AG_FLOAT32, AG_SHAPE(1, 1, 3, 3));
    ag_tensor *w = ag_ones(AG_FLOAT32, AG_SHAPE(1, 1, 2, 2)), *b = AG_TENSOR(0.5);
    ag_tensor *out = ag_conv2d(x, w, b, AG_PAIR(1), AG_PAIR(0));
    ASSERT_SHAPE(out, 1, 1, 2, 2);
    ASSERT_VALUES(out, 0, 0, 12.5, 16.5, 24.5, 28.5);
    /* padding 1, stride 2: the corners' windows hold one element each */
    ASSERT_VALUES(ag_conv2d(x, w, NULL, AG_PAIR(2), AG_PAIR(1)), 0, 0, 1, 5, 11, 28);
    ag_tensor_free(x), ag_tensor_free(w), ag_tensor_free(b);
}

/* sum(conv(x, w1) + conv(x, w2)): x's gradient comes from two different nodes and must add. */
Test(conv, gradients_from_two_nodes_add) {
    ag_tensor *x = ag_requires_grad_(ag_ones(AG_FLOAT64, AG_SHAPE(1, 1, 2, 2)), true);
    ag_tensor *w1 = ag_full(AG_FLOAT64, AG_SHAPE(1, 1, 1, 1), 2.0);
    ag_tensor *w2 = ag_full(AG_FLOAT64, AG_SHAPE(1, 1, 1, 1), 3.0);
    ag_backward(ag_sum(ag_add(ag_conv2d(x, w1, NULL, AG_PAIR(1), AG_PAIR(0)),
                              ag_conv2d(x, w2, NULL, AG_PAIR(1), AG_PAIR(0)))));
    ASSERT_VALUES(x->grad, 0, 0, 5, 5, 5, 5);
    ag_tensor_free(x), ag_tensor_free(w1), ag_tensor_free(w2);
}

Test(conv, empty_batch) {
    ag_tensor *x = ag_requires_grad_(ag_zeros(AG_FLOAT32, AG_SHAPE(0, 2, 5, 5)), true);
    ag_tensor *w = ag_requires_grad_(ag_ones(AG_FLOAT32, AG_SHAPE(3, 2, 3, 3)), true);
    ag_tensor *b = ag_requires_grad_(ag_ones(AG_FLOAT32, AG_SHAPE(3)), true);
    ag_tensor *out = ag_conv2d(x, w, b, AG_PAIR(2), AG_PAIR(1));
    ASSERT_SHAPE(out, 0, 3, 3, 3);
    ag_backward(ag_sum(out));
    ASSERT_VALUES(b->grad, 0, 0, 0, 0, 0);
    ASSERT_SHAPE(w->grad, 3, 2, 3, 3);
    ag_tensor_free(x), ag_tensor_free(w), ag_tensor_free(b);
}

/* ---- gradchecks (float64) ------------------------------------------------------------------- */

typedef struct conv_args {
    ag_pair stride, padding;
    bool reference;
} conv_args;

static ag_tensor *conv_fn(ag_tensor *const *in, void *ctx) {
    const conv_args *a = ctx;
    return a->reference ? ag_conv2d_reference(in[0], in[1], in[2], a->stride, a->padding)
                        : ag_conv2d(in[0], in[1], in[2], a->stride, a->padding);
}

static ag_tensor *conv_nobias_fn(ag_tensor *const *in, void *ctx) {
    const conv_args *a = ctx;
    return ag_conv2d(in[0], in[1], NULL, a->stride, a->padding);
}

static ag_tensor *randn64(uint64_t seed, int ndim, const int64_t *shape) {
    ag_generator *gen = ag_generator_new(seed);
    ag_tensor *t = ag_requires_grad_(ag_randn(gen, AG_FLOAT64, ndim, shape), true);
    ag_generator_free(gen);
    return t;
}

Test(conv, gradcheck) {
    ag_tensor *x = randn64(1, AG_SHAPE(1, 2, 5, 5)), *w = randn64(2, AG_SHAPE(3, 2, 3, 3));
    ag_tensor *b = randn64(3, AG_SHAPE(3));
    conv_args fast = {AG_PAIR(2), AG_PAIR(1), false}, ref = {AG_PAIR(2), AG_PAIR(1), true};
    assert_gradcheck(conv_fn, &fast, (ag_tensor *[]){x, w, b}, 3);
    assert_gradcheck(conv_fn, &ref, (ag_tensor *[]){x, w, b}, 3);
    conv_args rect = {AG_PAIR(1, 2), AG_PAIR(0, 1), false};
    assert_gradcheck(conv_nobias_fn, &rect, (ag_tensor *[]){x, w}, 2);
    ag_tensor_free(x), ag_tensor_free(w), ag_tensor_free(b);
}

/* ---- the two kernels agree on a medium size ------------------------------------------------- */

static void compare_kernels(ag_dtype dtype, const int64_t *xs, const int64_t *ws, ag_pair stride,
                            ag_pair padding, double tol) {
    ag_generator *gen = ag_generator_new(42);
    ag_tensor *x = ag_requires_grad_(ag_randn(gen, dtype, 4, xs), true);
    ag_tensor *w = ag_requires_grad_(ag_randn(gen, dtype, 4, ws), true);
    ag_tensor *b = ag_requires_grad_(ag_randn(gen, dtype, AG_SHAPE(ws[0])), true);
    ag_tensor *fast = ag_conv2d(x, w, b, stride, padding);
    ag_tensor *g = ag_randn(gen, dtype, fast->ndim, fast->shape);
    ag_backward_with(fast, g, false);
    ag_tensor *dx = ag_clone(x->grad), *dw = ag_clone(w->grad), *db = ag_clone(b->grad);
    ag_set_grad_none(x), ag_set_grad_none(w), ag_set_grad_none(b);
    ag_tensor *ref = ag_conv2d_reference(x, w, b, stride, padding);
    ag_backward_with(ref, g, false);
    assert_close(fast, ref, tol, tol);
    assert_close(dx, x->grad, tol, tol);
    assert_close(dw, w->grad, tol, tol);
    assert_close(db, b->grad, tol, tol);
    ag_tensor_free(x), ag_tensor_free(w), ag_tensor_free(b), ag_tensor_free(g);
    ag_generator_free(gen);
}

Test(conv, blas_matches_reference_float32) {
    compare_kernels(AG_FLOAT32, (const int64_t[]){4, 8, 16, 16}, (const int64_t[]){16, 8, 3, 3},
                    AG_PAIR(1), AG_PAIR(1), 1e-4);
}

Test(conv, blas_matches_reference_strided_float64) {
    compare_kernels(AG_FLOAT64, (const int64_t[]){3, 5, 13, 11}, (const int64_t[]){7, 5, 4, 3},
                    AG_PAIR(2, 3), AG_PAIR(1, 2), 1e-11);
}

/* ---- bad input: torch's words ---------------------------------------------------------------- */

Test(conv, errors) {
    ag_tensor *x = ag_zeros(AG_FLOAT32, AG_SHAPE(1, 2, 5, 5));
    ag_tensor *w = ag_zeros(AG_FLOAT32, AG_SHAPE(3, 2, 3, 3));
    ag_tensor *x3 = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 5, 5));
    ag_tensor *x4c = ag_zeros(AG_FLOAT32, AG_SHAPE(1, 4, 5, 5));
    ag_tensor *w3 = ag_zeros(AG_FLOAT32, AG_SHAPE(3, 2, 3));
    ag_tensor *w64 = ag_zeros(AG_FLOAT64, AG_SHAPE(3, 2, 3, 3));
    ag_tensor *b4 = ag_zeros(AG_FLOAT32, AG_SHAPE(4)), *b64 = ag_zeros(AG_FLOAT64, AG_SHAPE(3));
    ag_tensor *big = ag_zeros(AG_FLOAT32, AG_SHAPE(3, 2, 7, 7));
    ag_tensor *w0 = ag_zeros(AG_FLOAT32, AG_SHAPE(0, 2, 3, 3));
    ag_tensor *kw0 = ag_zeros(AG_FLOAT32, AG_SHAPE(3, 2, 0, 3));
    ag_tensor *xi = ag_zeros(AG_INT64, AG_SHAPE(1, 2, 5, 5));
    ag_pair s1 = AG_PAIR(1), p0 = AG_PAIR(0);
    EXPECT_ERROR(ag_conv2d(x3, w, NULL, s1, p0),
                 "Expected 4-dimensional input for 4-dimensional weight [3, 2, 3, 3], but got "
                 "3-dimensional input of size [2, 5, 5] instead");
    EXPECT_ERROR(ag_conv2d(x4c, w, NULL, s1, p0),
                 "Given groups=1, weight of size [3, 2, 3, 3], expected input[1, 4, 5, 5] to have "
                 "2 channels, but got 4 channels instead");
    EXPECT_ERROR(ag_conv2d(x, w3, NULL, s1, p0),
                 "expected stride to be a single integer value or a list of 1 values to match "
                 "the convolution dimensions, but got stride=[1, 1]");
    EXPECT_ERROR(ag_conv2d(x, w, b4, s1, p0),
                 "Given weight of size [3, 2, 3, 3], expected bias to be 1-dimensional with 3 "
                 "elements, but got bias of size [4] instead");
    EXPECT_ERROR(ag_conv2d(x, big, NULL, s1, p0),
                 "Calculated padded input size per channel: (5 x 5). Kernel size: (7 x 7). "
                 "Kernel size can't be greater than actual input size");
    EXPECT_ERROR(ag_conv2d(x, w, NULL, AG_PAIR(0, 1), p0), "non-positive stride is not supported");
    EXPECT_ERROR(ag_conv2d(x, w, NULL, s1, AG_PAIR(-1)), "negative padding is not supported");
    EXPECT_ERROR(ag_conv2d(x, w64, NULL, s1, p0), "expected scalar type Float but found Double");
    EXPECT_ERROR(ag_conv2d(x, w, b64, s1, p0),
                 "Input type (float) and bias type (double) should be the same");
    EXPECT_ERROR(ag_conv2d(x, w0, NULL, s1, p0),
                 "Given groups=1, expected weight to be at least 1 at dimension 0, but got weight "
                 "of size [0, 2, 3, 3] instead");
    EXPECT_ERROR(ag_conv2d(x, kw0, NULL, s1, p0),
                 "kernel size should be greater than zero, but got kernel_height: 0 "
                 "kernel_width: 3");
    EXPECT_ERROR(ag_conv2d(NULL, w, NULL, s1, p0), "argument 'input' must be a tensor, not NULL");
    EXPECT_ERROR(ag_conv2d(xi, w, NULL, s1, p0), "expected a floating point tensor");
    ag_tensor *all[] = {x, w, x3, x4c, w3, w64, b4, b64, big, w0, kw0, xi};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        ag_tensor_free(all[i]);
}

/* ---- pooling against torch ----------------------------------------------------------------- */

typedef ag_tensor *(*pool_fn)(ag_tensor *, ag_pair, ag_pair, ag_pair);

static void check_pool(pool_fn f, const fx_tensor *fx, const fx_tensor *fg, const fx_tensor *fout,
                       const fx_tensor *fdx, const char *grad_fn, ag_pair k, ag_pair s, ag_pair p) {
    ag_tensor *x = fx_make(fx, AG_FLOAT32, true), *g = fx_make(fg, AG_FLOAT32, false);
    ag_tensor *out = f(x, k, s, p);
    assert_fx(out, fout, 1e-6, 1e-6);
    cr_assert_str_eq(ag_grad_fn_name(out), grad_fn);
    ag_backward_with(out, g, false);
    assert_fx(x->grad, fdx, 1e-6, 1e-6);
    ag_tensor_free(x), ag_tensor_free(g);
}

#define CHECK_POOL(f, name, k, s, p)                                                               \
    check_pool(f, &nn_##name##_x, &nn_##name##_g, &nn_##name##_out, &nn_##name##_dx,               \
               nn_##name##_grad_fn, k, s, p)

Test(conv, max_pool2d) {
    CHECK_POOL(ag_max_pool2d, maxpool_k2, AG_PAIR(2), AG_PAIR(0), AG_PAIR(0)); /* stride None */
    CHECK_POOL(ag_max_pool2d, maxpool_k3s2p1, AG_PAIR(3), AG_PAIR(2), AG_PAIR(1));
    CHECK_POOL(ag_max_pool2d, maxpool_rect, AG_PAIR(2, 3), AG_PAIR(1, 2), AG_PAIR(1, 0));
    CHECK_POOL(ag_max_pool2d, maxpool_3d, AG_PAIR(2), AG_PAIR(1), AG_PAIR(0));
}

/* Integer values in -2..2 with overlapping windows: many ties, the first maximum takes g. */
Test(conv, max_pool2d_ties_go_to_the_first) {
    CHECK_POOL(ag_max_pool2d, maxpool_ties, AG_PAIR(3), AG_PAIR(1), AG_PAIR(1));
    ag_tensor *x = ag_requires_grad_(ag_ones(AG_FLOAT32, AG_SHAPE(1, 1, 2, 2)), true);
    ag_backward(ag_sum(ag_max_pool2d(x, AG_PAIR(2), AG_PAIR(0), AG_PAIR(0))));
    ASSERT_VALUES(x->grad, 0, 0, 1, 0, 0, 0);
    ag_tensor_free(x);
}

Test(conv, max_pool2d_nan_wins) {
    ag_tensor *x = ag_from_data((const float[]){1, NAN, 3, 2}, AG_FLOAT32, AG_SHAPE(1, 1, 2, 2));
    ag_tensor *out = ag_max_pool2d(x, AG_PAIR(2), AG_PAIR(0), AG_PAIR(0));
    cr_assert(isnan(ag_get(out, 0)));
    ag_tensor_free(x);
}

Test(conv, avg_pool2d) {
    CHECK_POOL(ag_avg_pool2d, avgpool_k2, AG_PAIR(2), AG_PAIR(0), AG_PAIR(0));
    CHECK_POOL(ag_avg_pool2d, avgpool_k3s2p1, AG_PAIR(3), AG_PAIR(2), AG_PAIR(1));
    CHECK_POOL(ag_avg_pool2d, avgpool_rect, AG_PAIR(2, 3), AG_PAIR(1, 2), AG_PAIR(1, 0));
    CHECK_POOL(ag_avg_pool2d, avgpool_3d, AG_PAIR(2), AG_PAIR(1), AG_PAIR(0));
    /* windows running past the padding: their divisor stops at the padding */
    CHECK_POOL(ag_avg_pool2d, avgpool_k4s3p2, AG_PAIR(4), AG_PAIR(3), AG_PAIR(2));
}

Test(conv, avg_pool2d_counts_the_padding) {
    /* 2x2 ones, kernel 2, stride 2, padding 1: each window holds one element and three pads */
    ag_tensor *x = ag_ones(AG_FLOAT32, AG_SHAPE(1, 1, 2, 2));
    ASSERT_VALUES(ag_avg_pool2d(x, AG_PAIR(2), AG_PAIR(2), AG_PAIR(1)), 0, 0, 0.25, 0.25, 0.25,
                  0.25);
    ag_tensor_free(x);
}

Test(conv, pools_of_an_empty_batch) {
    ag_tensor *x = ag_zeros(AG_FLOAT32, AG_SHAPE(0, 2, 5, 5));
    ASSERT_SHAPE(ag_max_pool2d(x, AG_PAIR(2), AG_PAIR(0), AG_PAIR(0)), 0, 2, 2, 2);
    ASSERT_SHAPE(ag_avg_pool2d(x, AG_PAIR(2), AG_PAIR(0), AG_PAIR(0)), 0, 2, 2, 2);
    ag_tensor_free(x);
}

typedef struct pool_args {
    pool_fn f;
    ag_pair k, s, p;
} pool_args;

static ag_tensor *pool_call(ag_tensor *const *in, void *ctx) {
    const pool_args *a = ctx;
    return a->f(in[0], a->k, a->s, a->p);
}

Test(conv, pool_gradchecks) {
    ag_tensor *x = randn64(5, AG_SHAPE(1, 1, 4, 5));
    pool_args cases[] = {
        {ag_max_pool2d, AG_PAIR(2), AG_PAIR(0), AG_PAIR(0)},
        {ag_max_pool2d, AG_PAIR(3), AG_PAIR(2), AG_PAIR(1)},
        {ag_max_pool2d, AG_PAIR(2, 3), AG_PAIR(1, 2), AG_PAIR(1, 0)},
        {ag_avg_pool2d, AG_PAIR(2), AG_PAIR(0), AG_PAIR(0)},
        {ag_avg_pool2d, AG_PAIR(3), AG_PAIR(2), AG_PAIR(1)},
        {ag_avg_pool2d, AG_PAIR(2, 3), AG_PAIR(1, 2), AG_PAIR(1, 0)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_gradcheck(pool_call, &cases[i], &x, 1);
    ag_tensor_free(x);
}

Test(conv, pool_errors) {
    ag_tensor *x = ag_zeros(AG_FLOAT32, AG_SHAPE(1, 2, 5, 5));
    ag_tensor *x2 = ag_zeros(AG_FLOAT32, AG_SHAPE(5, 5)),
              *xi = ag_zeros(AG_INT64, AG_SHAPE(1, 2, 5, 5));
    ag_tensor *x5 = ag_zeros(AG_FLOAT32, AG_SHAPE(1, 1, 2, 5, 5));
    ag_tensor *xe = ag_zeros(AG_FLOAT32, AG_SHAPE(1, 2, 0, 5));
    ag_pair k2 = AG_PAIR(2), s0 = AG_PAIR(0), p0 = AG_PAIR(0);
    pool_fn fs[2] = {ag_max_pool2d, ag_avg_pool2d};
    for (int i = 0; i < 2; i++) {
        pool_fn f = fs[i];
        EXPECT_ERROR(f(x, k2, s0, AG_PAIR(2)),
                     "pad should be at most half of kernel size, but got pad=2 and kernel_size=2");
        EXPECT_ERROR(f(x, AG_PAIR(6), s0, p0),
                     "Given input size: (2x5x5). Calculated output size: (2x0x0). Output size is "
                     "too small");
        EXPECT_ERROR(f(x, AG_PAIR(0), s0, p0), "stride should not be zero");
        EXPECT_ERROR(f(x, k2, AG_PAIR(0, 1), p0), "stride should not be zero");
        EXPECT_ERROR(f(x, AG_PAIR(0), AG_PAIR(1), p0),
                     "kernel size should be greater than zero, but got kH: 0 kW: 0");
        EXPECT_ERROR(f(x, k2, AG_PAIR(-1), p0),
                     "stride should be greater than zero, but got dH: -1 dW: -1");
        EXPECT_ERROR(f(x, k2, s0, AG_PAIR(-1)), "pad must be non-negative, but got pad: -1");
        EXPECT_ERROR(f(xe, k2, s0, p0),
                     "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for "
                     "input, but got:[1, 2, 0, 5]");
        EXPECT_ERROR(f(NULL, k2, s0, p0), "argument 'input' must be a tensor, not NULL");
    }
    EXPECT_ERROR(ag_max_pool2d(x2, k2, s0, p0),
                 "non-empty 3D or 4D (batch mode) tensor expected for input");
    EXPECT_ERROR(ag_max_pool2d(x5, k2, s0, p0),
                 "non-empty 3D or 4D (batch mode) tensor expected for input");
    EXPECT_ERROR(ag_max_pool2d(xi, k2, s0, p0), "\"max_pool2d\" not implemented for 'Long'");
    EXPECT_ERROR(ag_avg_pool2d(x2, k2, s0, p0),
                 "Dimension out of range (expected to be in range of [-2, 1], but got -3)");
    EXPECT_ERROR(ag_avg_pool2d(x5, k2, s0, p0),
                 "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for "
                 "input, but got:[1, 1, 2, 5, 5]");
    ag_tensor_free(x), ag_tensor_free(x2), ag_tensor_free(xi), ag_tensor_free(x5);
    ag_tensor_free(xe);
}

/* ---- pooling: the kernels against the plainest loops, bit for bit -------------------------- */

/* Kernel 2x2, stride 2, no padding has kernels of its own in max_pool2d.c and avg_pool2d.c
 * (vectorised, branch-free); every other pooling goes through the general ones. Both must give
 * exactly, bit for bit, what the definitions below give: these are the ops' loops as they were
 * before either was made fast. max: a value wins if it is greater than the best so far or NaN
 * (ties: the first; NaNs: the last), padding never wins, and g goes to the winner (zeros +=
 * g, in the outputs' order); avg: sum from 0 in row-major order over the window clipped to the
 * image (once NaN, the sum keeps its NaN: the first NaN of a window is the one its mean carries),
 * divided by the window's size counted to the end of the padding; dx += g / size. */
#define REFERENCE_POOLS(T)                                                                         \
    static void reference_max_##T(const T *x, const T *g, int64_t planes, int64_t H, int64_t W,    \
                                  ag_pair k, ag_pair s, ag_pair p, T *y, T *dx) {                  \
        int64_t OH = (H + 2 * p.h - k.h) / s.h + 1, OW = (W + 2 * p.w - k.w) / s.w + 1;            \
        for (int64_t e = 0; e < planes * H * W; e++)                                               \
            dx[e] = 0;                                                                             \
        for (int64_t c = 0, o = 0; c < planes; c++)                                                \
            for (int64_t i = 0; i < OH; i++)                                                       \
                for (int64_t j = 0; j < OW; j++, o++) {                                            \
                    int64_t h0 = i * s.h - p.h, w0 = j * s.w - p.w;                                \
                    int64_t h1 = h0 + k.h < H ? h0 + k.h : H, w1 = w0 + k.w < W ? w0 + k.w : W;    \
                    if (h0 < 0) h0 = 0;                                                            \
                    if (w0 < 0) w0 = 0;                                                            \
                    T best = -INFINITY;                                                            \
                    int64_t at = h0 * W + w0;                                                      \
                    for (int64_t h = h0; h < h1; h++)                                              \
                        for (int64_t v = w0; v < w1; v++) {                                        \
                            T e = x[c * H * W + h * W + v];                                        \
                            if (e > best || isnan(e)) {                                            \
                                best = e;                                                          \
                                at = h * W + v;                                                    \
                            }                                                                      \
                        }                                                                          \
                    y[o] = best;                                                                   \
                    dx[c * H * W + at] += g[o];                                                    \
                }                                                                                  \
    }                                                                                              \
    static void reference_avg_##T(const T *x, const T *g, int64_t planes, int64_t H, int64_t W,    \
                                  ag_pair k, ag_pair s, ag_pair p, T *y, T *dx) {                  \
        int64_t OH = (H + 2 * p.h - k.h) / s.h + 1, OW = (W + 2 * p.w - k.w) / s.w + 1;            \
        for (int64_t e = 0; e < planes * H * W; e++)                                               \
            dx[e] = 0;                                                                             \
        for (int64_t c = 0, o = 0; c < planes; c++)                                                \
            for (int64_t i = 0; i < OH; i++)                                                       \
                for (int64_t j = 0; j < OW; j++, o++) {                                            \
                    int64_t h0 = i * s.h - p.h, w0 = j * s.w - p.w;                                \
                    int64_t h1 = h0 + k.h < H + p.h ? h0 + k.h : H + p.h;                          \
                    int64_t w1 = w0 + k.w < W + p.w ? w0 + k.w : W + p.w;                          \
                    int64_t size = (h1 - h0) * (w1 - w0);                                          \
                    if (h0 < 0) h0 = 0;                                                            \
                    if (w0 < 0) w0 = 0;                                                            \
                    if (h1 > H) h1 = H;                                                            \
                    if (w1 > W) w1 = W;                                                            \
                    T sum = 0;                                                                     \
                    for (int64_t h = h0; h < h1; h++)                                              \
                        for (int64_t v = w0; v < w1; v++)                                          \
                            sum = isnan(sum) ? sum : sum + x[c * H * W + h * W + v];               \
                    y[o] = sum / (T)size;                                                          \
                    T share = g[o] / (T)size;                                                      \
                    for (int64_t h = h0; h < h1; h++)                                              \
                        for (int64_t v = w0; v < w1; v++)                                          \
                            dx[c * H * W + h * W + v] += share;                                    \
                }                                                                                  \
    }
REFERENCE_POOLS(float)
REFERENCE_POOLS(double)

/* A deterministic stream for the test's inputs (xorshift64). */
static uint64_t pool_draw(uint64_t *state) {
    *state ^= *state << 13, *state ^= *state >> 7, *state ^= *state << 17;
    return *state;
}

/* Fills t: kind 0, uniform in [-1, 1); kind 1, the hard cases: few distinct values (ties),
 * +-0, +-inf and NaNs of both signs with payloads of their own (which NaN wins shows). */
static void pool_fill(ag_tensor *t, int kind, uint64_t *state) {
    for (int64_t e = 0; e < t->numel; e++) {
        uint64_t r = pool_draw(state);
        double v = (double)(r >> 11) * 0x1p-52 - 1;
        int pick = (int)(r % 10);
        bool nan = false;
        if (kind == 1) {
            const double hard[] = {-0.0, 0.0, -INFINITY, INFINITY, 1, -1, 2, 2, 0.5};
            nan = pick == 9;
            v = hard[pick % 9];
        }
        if (t->dtype == AG_FLOAT32) {
            float f = (float)v;
            uint32_t bits = 0x7fc00000u | (uint32_t)(r >> 40 & 0x3fffff) | (uint32_t)(r & 1) << 31;
            if (nan) memcpy(&f, &bits, sizeof f);
            ((float *)t->data)[e] = f;
        } else {
            uint64_t bits = 0x7ff8000000000000u | (r >> 20 & 0x7ffffffffffffu) | (r & 1) << 63;
            if (nan) memcpy(&v, &bits, sizeof v);
            ((double *)t->data)[e] = v;
        }
    }
}

/* t[e] = v, rounded once to t's dtype. */
static void pool_set(ag_tensor *t, int64_t e, double v) {
    if (t->dtype == AG_FLOAT32)
        ((float *)t->data)[e] = (float)v;
    else
        ((double *)t->data)[e] = v;
}

/* a's data has exactly the bits of expected (a's numel elements of a's dtype). */
static void assert_same_bits(const ag_tensor *a, const void *expected, const char *what) {
    cr_assert_not_null(a);
    size_t size = a->dtype == AG_FLOAT32 ? sizeof(float) : sizeof(double);
    for (int64_t e = 0; e < a->numel; e++)
        cr_assert(memcmp((const char *)a->data + e * size, (const char *)expected + e * size,
                         size) == 0,
                  "%s: element %lld differs: %.17g, expected %.17g", what, (long long)e,
                  ag_get(a, e),
                  size == sizeof(float) ? (double)((const float *)expected)[e]
                                        : ((const double *)expected)[e]);
}

/* f on x of `shape` (3 or 4 dims) filled by kind: the output, and x's gradient after one and
 * after two backwards from a g with distinct values, -0s and a NaN (so that each winner shows)
 * must have the reference's bits. Through a clone when via_clone (the op's gradient then is
 * the clone's first: handed on as it is rather than added into zeros). */
static void check_pool_bits(bool max, ag_dtype dtype, int ndim, const int64_t *shape, ag_pair k,
                            ag_pair s, ag_pair p, int kind, bool via_clone) {
    pool_fn f = max ? ag_max_pool2d : ag_avg_pool2d;
    /* NaNs in the tape's memory, which its next results reuse: a kernel that leaves some of
     * an uninitialised result unwritten shows. */
    ag_tensor *junk = ag_full(AG_FLOAT64, AG_SHAPE(1 << 16), NAN);
    for (int r = 0; r < 8; r++)
        ag_neg(junk);
    ag_tensor_free(junk);
    ag_tape_reset(NULL);
    uint64_t state = 0x9e3779b97f4a7c15u ^ (uint64_t)(kind + 2 * k.h + 7 * s.w + 31 * p.h);
    ag_tensor *x = ag_empty(dtype, ndim, shape);
    pool_fill(x, kind, &state);
    ag_requires_grad_(x, true);
    ag_tensor *out = f(via_clone ? ag_clone(x) : x, k, s.h ? s : k, p);
    cr_assert_not_null(out);
    ag_tensor *g = ag_empty(dtype, out->ndim, out->shape);
    pool_fill(g, 0, &state);
    for (int64_t e = 1; e < g->numel; e += 4)
        pool_set(g, e, -0.0);
    if (g->numel > 2) pool_set(g, g->numel - 1, NAN);
    int64_t H = shape[ndim - 2], W = shape[ndim - 1], planes = x->numel / (H * W);
    size_t size = dtype == AG_FLOAT32 ? sizeof(float) : sizeof(double);
    void *y = malloc((size_t)out->numel * size), *dx = malloc((size_t)x->numel * size);
    cr_assert(y && dx);
    if (dtype == AG_FLOAT32)
        (max ? reference_max_float : reference_avg_float)(x->data, g->data, planes, H, W, k,
                                                          s.h ? s : k, p, y, dx);
    else
        (max ? reference_max_double : reference_avg_double)(x->data, g->data, planes, H, W, k,
                                                            s.h ? s : k, p, y, dx);
    assert_same_bits(out, y, "forward");
    ag_backward_with(out, g, true);
    assert_same_bits(x->grad, dx, "x.grad");
    /* The second adds into .grad: set to -0s and 1s, as a user may (a -0 shows whether dx holds
     * 0 + g, as zeros += g would, rather than g) */
    for (int64_t e = 0; e < x->numel; e++) {
        double base = e % 3 ? -0.0 : 1;
        pool_set(x->grad, e, base);
        if (dtype == AG_FLOAT32)
            ((float *)dx)[e] = (float)base + ((float *)dx)[e];
        else
            ((double *)dx)[e] = base + ((double *)dx)[e];
    }
    ag_backward_with(out, g, false);
    assert_same_bits(x->grad, dx, "x.grad after a second backward");
    free(y), free(dx);
    ag_tensor_free(x), ag_tensor_free(g);
}

/* Both ops, both dtypes, both kinds of input, directly and through a clone. */
static void check_pool_bits_all(int ndim, const int64_t *shape, ag_pair k, ag_pair s, ag_pair p) {
    for (int m = 0; m < 2; m++)
        for (int d = 0; d < 2; d++)
            for (int kind = 0; kind < 2; kind++)
                for (int clone = 0; clone < 2; clone++)
                    check_pool_bits(m == 0, d ? AG_FLOAT64 : AG_FLOAT32, ndim, shape, k, s, p,
                                    kind, clone);
}

/* The 2x2 kernels: even and odd sizes (the last row and column in no window), 3-d input,
 * stride None, tiny planes, and rows of more windows than the kernels take at once (256). */
Test(conv, pool_2x2_kernels_match_the_definition) {
    ag_pair k2 = AG_PAIR(2), s2 = AG_PAIR(2), p0 = AG_PAIR(0);
    check_pool_bits_all(AG_SHAPE(2, 3, 8, 8), k2, s2, p0);
    check_pool_bits_all(AG_SHAPE(2, 3, 7, 9), k2, s2, p0);
    check_pool_bits_all(AG_SHAPE(4, 26, 26), k2, AG_PAIR(0), p0);
    check_pool_bits_all(AG_SHAPE(64, 3, 11, 11), k2, s2, p0);
    check_pool_bits_all(AG_SHAPE(1, 1, 2, 2), k2, s2, p0);
    check_pool_bits_all(AG_SHAPE(3, 1, 3, 2), k2, s2, p0);
    check_pool_bits_all(AG_SHAPE(1, 2, 5, 1031), k2, s2, p0);
}

/* The general kernels: padding, stride other than the kernel (overlapping windows, and
 * windows with gaps between them), rectangular windows, windows past the padding. */
Test(conv, pool_general_kernels_match_the_definition) {
    const int64_t shape[] = {2, 3, 9, 8};
    struct {
        ag_pair k, s, p;
    } cases[] = {
        {AG_PAIR(2), AG_PAIR(2), AG_PAIR(1)},       {AG_PAIR(2), AG_PAIR(1), AG_PAIR(0)},
        {AG_PAIR(2), AG_PAIR(3), AG_PAIR(0)},       {AG_PAIR(3), AG_PAIR(2), AG_PAIR(1)},
        {AG_PAIR(3), AG_PAIR(1), AG_PAIR(1)},       {AG_PAIR(3), AG_PAIR(3), AG_PAIR(0)},
        {AG_PAIR(2, 3), AG_PAIR(1, 2), AG_PAIR(1, 0)}, {AG_PAIR(4), AG_PAIR(3), AG_PAIR(2)},
        {AG_PAIR(2, 1), AG_PAIR(2, 1), AG_PAIR(0)}, {AG_PAIR(1), AG_PAIR(1), AG_PAIR(0)},
        {AG_PAIR(5, 2), AG_PAIR(2), AG_PAIR(2, 0)},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        check_pool_bits_all(4, shape, cases[c].k, cases[c].s, cases[c].p);
    check_pool_bits_all(AG_SHAPE(3, 7, 600), AG_PAIR(3), AG_PAIR(2), AG_PAIR(1));
}

/* The cases by hand, on the 2x2 kernel, float32 and float64: one window per plane. */
static ag_tensor *pool_2x2_grad(ag_dtype dtype, const double *values, int64_t planes, double *out) {
    ag_tensor *x = ag_zeros(dtype, AG_SHAPE(1, planes, 2, 2));
    for (int64_t e = 0; e < 4 * planes; e++)
        pool_set(x, e, values[e]);
    ag_requires_grad_(x, true);
    ag_tensor *y = ag_max_pool2d(x, AG_PAIR(2), AG_PAIR(2), AG_PAIR(0));
    for (int64_t e = 0; e < planes; e++)
        out[e] = ag_get(y, e);
    ag_backward(ag_sum(y));
    return x;
}

Test(conv, max_pool2d_2x2_ties_nan_inf_and_zeros) {
    for (int d = 0; d < 2; d++) {
        ag_dtype dtype = d ? AG_FLOAT64 : AG_FLOAT32;
        double out[7];
        ag_tensor *x = pool_2x2_grad(dtype,
                                     (const double[]){
                                         5, 5, 5, 5,                     /* all tied: the first */
                                         1, 3, 3, 2,                     /* tied maxima */
                                         NAN, 1, -NAN, 2,                /* NaNs: the last */
                                         -INFINITY, -INFINITY, -INFINITY, -INFINITY,
                                         -INFINITY, -INFINITY, -INFINITY, -7,
                                         -0.0, 0.0, -1, -2,              /* -0 == 0: the first */
                                         INFINITY, NAN, INFINITY, 1,     /* NaN beats +inf */
                                     },
                                     7, out);
        ASSERT_VALUES(x->grad, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1,
                      0, 0, 0, 0, 1, 0, 0);
        cr_assert_eq(out[0], 5);
        cr_assert_eq(out[1], 3);
        cr_assert(isnan(out[2]) && signbit(out[2])); /* -NAN: the last NaN's sign */
        cr_assert_eq(out[3], -INFINITY);
        cr_assert_eq(out[4], -7);
        cr_assert(out[5] == 0 && signbit(out[5]));
        cr_assert(isnan(out[6]));
        ag_tensor_free(x);
    }
}

/* Odd sizes: the last row and column belong to no window and get no gradient. */
Test(conv, pool_2x2_odd_sizes_drop_the_last_row_and_column) {
    for (int d = 0; d < 2; d++) {
        ag_dtype dtype = d ? AG_FLOAT64 : AG_FLOAT32;
        ag_tensor *x = ag_zeros(dtype, AG_SHAPE(1, 1, 3, 5));
        for (int64_t e = 0; e < 15; e++) /* 0..14, with 100 in the dropped row and column */
            pool_set(x, e, e % 5 == 4 || e >= 10 ? 100 : (double)e);
        ag_requires_grad_(x, true);
        ag_tensor *m = ag_max_pool2d(x, AG_PAIR(2), AG_PAIR(0), AG_PAIR(0));
        ag_tensor *a = ag_avg_pool2d(x, AG_PAIR(2), AG_PAIR(0), AG_PAIR(0));
        ASSERT_SHAPE(m, 1, 1, 1, 2);
        ASSERT_VALUES(m, 0, 0, 6, 8);
        ASSERT_VALUES(a, 0, 0, 3, 5);
        ag_backward(ag_add(ag_sum(m), ag_sum(a)));
        ASSERT_VALUES(x->grad, 0, 0, 0.25, 0.25, 0.25, 0.25, 0, 0.25, 1.25, 0.25, 1.25, 0, 0, 0, 0,
                      0, 0);
        ag_tensor_free(x);
    }
}

/* avg's sum starts from +0: four -0s average to +0, as the general kernel gives. */
Test(conv, avg_pool2d_2x2_of_negative_zeros_is_positive_zero) {
    for (int d = 0; d < 2; d++) {
        ag_tensor *x = ag_full(d ? AG_FLOAT64 : AG_FLOAT32, AG_SHAPE(1, 2, 2), -0.0);
        ag_tensor *y = ag_avg_pool2d(x, AG_PAIR(2), AG_PAIR(0), AG_PAIR(0));
        cr_assert(ag_get(y, 0) == 0 && !signbit(ag_get(y, 0)));
        ag_tensor_free(x);
    }
}
