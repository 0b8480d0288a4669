/*
 * test_nn.c - the layer ops (linear, layer_norm, batch_norm, dropout, embedding) against
 * torch.nn.functional, and the layers of nn/nn.h against torch.nn.
 *
 * Ops: each fixture case of tests/fixtures/nn.h is checked for its output, grad_fn name and
 * every input's gradient after a backward from torch's upstream gradient; batch_norm for two
 * training steps (outputs, gradients, running statistics) and then evaluation; dropout for
 * torch's very mask after the same seed. Float64 gradchecks cover every op, and every bad
 * input reports torch's words.
 * Layers: after torch.manual_seed, the parameters ag_*_new draws are torch's bit for bit
 * (nn.Linear(784, 256), nn.Conv2d, nn.Embedding); two Sequential models (an MLP with one SGD
 * step, a CNN with BatchNorm, pooling and dropout, in training and evaluation) reproduce
 * torch's outputs and gradients; the parameters come out in torch's order.
 */
#include "common.h"
#include "nn/nn.h"

#define NN_FIXTURES_NN
#include "fixtures/nn.h"

AG_TEST_SUITE(nn);

/* ---- helpers ------------------------------------------------------------------------------ */

/* Copies a fixture's values into a tensor (a parameter) of the same shape. */
static void load(ag_tensor *t, const fx_tensor *fx) {
    assert_shape(t, fx->ndim, fx->shape);
    for (int64_t i = 0; i < t->numel; i++)
        AG_F32(t)[i] = (float)fx->v[i];
}

static ag_tensor *randn64(uint64_t seed, int ndim, const int64_t *shape) {
    ag_generator *gen = ag_generator_new(seed);
    ag_tensor *t = ag_requires_grad_(ag_randn(gen, AG_FLOAT64, ndim, shape), true);
    ag_generator_free(gen);
    return t;
}

#define F32_TOL 2e-6

/* ---- linear ---------------------------------------------------------------------------------- */

static void check_linear(const fx_tensor *fx, const fx_tensor *fw, const fx_tensor *fb,
                         const fx_tensor *fg, const fx_tensor *fout, const fx_tensor *fdx,
                         const fx_tensor *fdw, const fx_tensor *fdb, const char *grad_fn) {
    ag_tensor *x = fx_make(fx, AG_FLOAT32, true), *w = fx_make(fw, AG_FLOAT32, true);
    ag_tensor *b = fx_make(fb, AG_FLOAT32, true), *g = fx_make(fg, AG_FLOAT32, false);
    ag_tensor *out = ag_linear(x, w, b);
    assert_fx(out, fout, F32_TOL, F32_TOL);
    cr_assert_str_eq(ag_grad_fn_name(out), grad_fn);
    ag_backward_with(out, g, false);
    assert_fx(x->grad, fdx, F32_TOL, F32_TOL);
    assert_fx(w->grad, fdw, F32_TOL, F32_TOL);
    if (b) assert_fx(b->grad, fdb, F32_TOL, F32_TOL);
    ag_tensor_free(x), ag_tensor_free(w), ag_tensor_free(b), ag_tensor_free(g);
}

#define CHECK_LINEAR(name, b, db)                                                                  \
    check_linear(&nn_##name##_x, &nn_##name##_w, b, &nn_##name##_g, &nn_##name##_out,              \
                 &nn_##name##_dx, &nn_##name##_dw, db, nn_##name##_grad_fn)

Test(nn, linear) {
    CHECK_LINEAR(linear_2d, &nn_linear_2d_b, &nn_linear_2d_db); /* AddmmBackward0 */
    CHECK_LINEAR(linear_3d, &nn_linear_3d_b, &nn_linear_3d_db); /* ViewBackward0 */
    CHECK_LINEAR(linear_1d, &nn_linear_1d_b, &nn_linear_1d_db); /* AddBackward0 */
    CHECK_LINEAR(linear_nobias, NULL, NULL);                    /* UnsafeView... */
}

static ag_tensor *linear_fn(ag_tensor *const *in, void *ctx) {
    return ag_linear(in[0], in[1], ctx ? in[2] : NULL);
}

Test(nn, linear_gradcheck) {
    ag_tensor *x = randn64(1, AG_SHAPE(2, 3, 4)), *w = randn64(2, AG_SHAPE(5, 4));
    ag_tensor *b = randn64(3, AG_SHAPE(5)), *v = randn64(4, AG_SHAPE(4));
    assert_gradcheck(linear_fn, "bias", (ag_tensor *[]){x, w, b}, 3);
    assert_gradcheck(linear_fn, NULL, (ag_tensor *[]){x, w}, 2);
    assert_gradcheck(linear_fn, "bias", (ag_tensor *[]){v, w, b}, 3);
    ag_tensor_free(x), ag_tensor_free(w), ag_tensor_free(b), ag_tensor_free(v);
}

Test(nn, linear_errors) {
    ag_tensor *x = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 5)), *w = ag_zeros(AG_FLOAT32, AG_SHAPE(3, 4));
    ag_tensor *x4 = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 4)), *b2 = ag_zeros(AG_FLOAT32, AG_SHAPE(2));
    ag_tensor *x3 = ag_zeros(AG_FLOAT32, AG_SHAPE(3, 2, 5)), *s = ag_scalar(1, AG_FLOAT32);
    ag_tensor *w64 = ag_zeros(AG_FLOAT64, AG_SHAPE(3, 4)), *b64 = ag_zeros(AG_FLOAT64, AG_SHAPE(3));
    ag_tensor *w3 = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 3, 4));
    EXPECT_ERROR(ag_linear(x, w, NULL), "mat1 and mat2 shapes cannot be multiplied (2x5 and 4x3)");
    EXPECT_ERROR(ag_linear(x3, w, NULL), "mat1 and mat2 shapes cannot be multiplied (6x5 and 4x3)");
    EXPECT_ERROR(ag_linear(x4, w, b2),
                 "The expanded size of the tensor (3) must match the existing size (2) at "
                 "non-singleton dimension 1.  Target sizes: [2, 3].  Tensor sizes: [2]");
    EXPECT_ERROR(ag_linear(s, w, NULL),
                 "both arguments to matmul need to be at least 1D, but they are 0D and 2D");
    EXPECT_ERROR(ag_linear(x4, w64, NULL), "expected scalar type Float but found Double");
    EXPECT_ERROR(ag_linear(x4, w, b64), "self and mat2 must have the same dtype");
    EXPECT_ERROR(ag_linear(x4, w3, NULL),
                 "t() expects a tensor with <= 2 dimensions, but self is 3D");
    EXPECT_ERROR(ag_linear(NULL, w, NULL), "argument 'input' must be a tensor, not NULL");
    ag_tensor *all[] = {x, w, x4, b2, x3, s, w64, b64, w3};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        ag_tensor_free(all[i]);
}

/* A weight's gradient goes straight into its .grad (ag_accumulate_write): at the end of the
 * backward the product g^T X is added into .grad by the gemm itself, with no temporary on the
 * tape. A step-by-step backward never does that, so it is the reference: every way a weight
 * can receive its gradient must give its bits exactly. */
typedef struct {
    ag_tensor *x, *w, *b, *g;
} linear_case;

static linear_case linear_case_new(ag_dtype dtype, int64_t rows, uint64_t seed) {
    ag_generator *gen = ag_generator_new(seed);
    linear_case c = {ag_randn(gen, dtype, AG_SHAPE(rows, 784)),
                     ag_requires_grad_(ag_randn(gen, dtype, AG_SHAPE(256, 784)), true),
                     ag_requires_grad_(ag_randn(gen, dtype, AG_SHAPE(256)), true),
                     ag_randn(gen, dtype, AG_SHAPE(rows, 256))};
    ag_generator_free(gen);
    return c;
}

static void linear_case_free(linear_case c) {
    ag_tensor_free(c.x), ag_tensor_free(c.w), ag_tensor_free(c.b), ag_tensor_free(c.g);
}

/* One forward and backward on tape (fresh), whole or step by step; the tape's reserved bytes. */
static size_t linear_step(linear_case c, bool step_by_step) {
    ag_tape *tape = ag_tape_new(), *previous = ag_tape_use(tape);
    ag_tensor *out = ag_linear(c.x, c.w, c.b);
    if (step_by_step)
        ag_backward_end(ag_backward_begin(out, c.g, false));
    else
        ag_backward_with(out, c.g, false);
    size_t reserved = ag_tape_reserved_bytes(tape);
    ag_tape_use(previous);
    ag_tape_free(tape);
    return reserved;
}

static void assert_same_bits(const ag_tensor *a, const ag_tensor *b) {
    cr_assert(a && b && a->numel == b->numel && a->dtype == b->dtype);
    cr_assert_eq(memcmp(a->data, b->data, (size_t)a->numel * ag_dtype_size(a->dtype)), 0,
                 "the gradients differ in their bits");
}

Test(nn, linear_weight_gradient_goes_straight_into_grad) {
    /* Up to 256 rows the gemm sums each element of g^T X in one pass (float32 and float64);
     * over that, OpenBLAS's float64 gemm sums in blocks, and the gradient is a temporary. */
    int64_t rows[] = {64, 256, 300};
    ag_dtype dtypes[] = {AG_FLOAT32, AG_FLOAT64};
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 3; i++) {
            size_t wbytes = 256 * 784 * ag_dtype_size(dtypes[d]);
            linear_case a = linear_case_new(dtypes[d], rows[i], 7);
            linear_case r = linear_case_new(dtypes[d], rows[i], 7);
            for (int step = 0; step < 3; step++) { /* into nothing, then twice into a sum */
                size_t direct = linear_step(a, false), reference = linear_step(r, true);
                assert_same_bits(a.w->grad, r.w->grad);
                assert_same_bits(a.b->grad, r.b->grad);
                cr_assert_geq(reference, wbytes, "step by step, the gradient is a temporary");
                if (rows[i] <= 256 && step > 0)
                    cr_assert_lt(direct, wbytes, "rows %lld: the weight's gradient was on the tape",
                                 (long long)rows[i]);
            }
            /* zero_grad(set_to_none=True): the same memory is filled again, the same bits */
            void *memory = a.w->grad->data;
            ag_set_grad_none(a.w), ag_set_grad_none(r.w);
            linear_step(a, false), linear_step(r, true);
            assert_same_bits(a.w->grad, r.w->grad);
            cr_assert_eq(a.w->grad->data, memory);
            linear_case_free(a), linear_case_free(r);
        }
}

/* A hook that changes leaf p (its userdata) in place, as an SGD step would. */
static ag_tensor *change_p(ag_tensor *grad, void *userdata) {
    (void)grad;
    ag_add_scalar_(userdata, 100);
    return NULL;
}

static ag_tensor *times_three(ag_tensor *grad, void *userdata) {
    (void)userdata;
    return ag_mul_scalar(grad, 3);
}

Test(nn, linear_weight_gradient_with_a_hook_a_second_use_or_an_error) {
    /* A hook sees the whole gradient, so it is made as a tensor first: the same bits. */
    linear_case a = linear_case_new(AG_FLOAT32, 64, 9), r = linear_case_new(AG_FLOAT32, 64, 9);
    ag_register_hook(a.w, times_three, NULL), ag_register_hook(r.w, times_three, NULL);
    for (int step = 0; step < 2; step++) {
        linear_step(a, false), linear_step(r, true);
        assert_same_bits(a.w->grad, r.w->grad);
    }
    linear_case_free(a), linear_case_free(r);

    /* A weight used three times, two backwards: its first gradient is made when the second
     * arrives, and the three are summed before .grad is added to, in torch's order. */
    ag_tensor *grads[2];
    ag_tensor *x = ag_randn(NULL, AG_FLOAT32, AG_SHAPE(32, 40));
    for (int k = 0; k < 2; k++) {
        ag_generator *gen = ag_generator_new(10);
        ag_tensor *w = ag_requires_grad_(ag_randn(gen, AG_FLOAT32, AG_SHAPE(40, 40)), true);
        ag_generator_free(gen);
        AG_NO_GRAD { ag_mul_scalar_(w, 0.2); }
        for (int step = 0; step < 2; step++) {
            ag_tensor *h = x;
            for (int use = 0; use < 3; use++)
                h = ag_tanh(ag_linear(h, w, NULL));
            if (k == 0)
                ag_backward(ag_sum(h));
            else
                ag_backward_end(ag_backward_begin(ag_sum(h), NULL, false));
        }
        grads[k] = ag_clone(w->grad);
        ag_tensor_free(w);
    }
    assert_same_bits(grads[0], grads[1]);
    ag_tape_reset(NULL);

    /* The user's code that runs later in the backward (here a hook on a leaf, then a hook on
     * a tensor made before the linear node) may change the layer's input in place: the weight's
     * gradient is made from the input as the forward saw it, as torch's: x's columns summed. */
    for (int k = 0; k < 2; k++) {
        ag_tensor *p = ag_requires_grad_(
            ag_from_data((const float[]){1, 2, 3, 4, 5, 6}, AG_FLOAT32, AG_SHAPE(6)), true);
        ag_tensor *z = ag_requires_grad_(ag_scalar(1, AG_FLOAT32), true);
        ag_tensor *w = ag_requires_grad_(ag_ones(AG_FLOAT32, AG_SHAPE(1, 3)), true);
        ag_tensor *h = ag_mul_scalar(z, 2); /* before the linear node: its hook runs after */
        ag_register_hook(k ? h : p, change_p, p);
        ag_tensor *loss = ag_add(ag_sum(ag_linear(ag_view(p, AG_SHAPE(2, 3)), w, NULL)), h);
        ag_backward(loss);
        ASSERT_VALUES(w->grad, 0, 0, 5, 7, 9);
        ag_tape_reset(NULL);
        ag_tensor_free(p), ag_tensor_free(z), ag_tensor_free(w);
    }

    /* An empty batch adds a gradient of zeros, which turns a -0 in .grad into +0 (as torch). */
    ag_tensor *w0 = ag_requires_grad_(ag_zeros(AG_FLOAT32, AG_SHAPE(2, 3)), true);
    ag_tensor *empty = ag_zeros(AG_FLOAT32, AG_SHAPE(0, 3));
    ag_backward(ag_sum(ag_linear(empty, w0, NULL)));
    ag_mul_scalar_(w0->grad, -1); /* -0s */
    cr_assert(signbit(AG_F32(w0->grad)[0]));
    ag_backward(ag_sum(ag_linear(empty, w0, NULL)));
    cr_assert(!signbit(AG_F32(w0->grad)[0]) && !signbit(AG_F32(w0->grad)[5]));
    ag_tape_reset(NULL);
    ag_tensor_free(w0), ag_tensor_free(empty);

    /* A backward that fails after the linear node ran leaves .grad as it was. */
    ag_tensor *w = ag_requires_grad_(ag_full(AG_FLOAT32, AG_SHAPE(3, 40), 0.5), true);
    ag_tensor *z = ag_requires_grad_(ag_full(AG_FLOAT32, AG_SHAPE(32, 3), 0.25), true);
    ag_backward(ag_sum(ag_linear(x, w, NULL)));
    ag_tensor *before = ag_clone(w->grad);
    ag_tensor *s = ag_sigmoid(z); /* saves its output s */
    ag_tensor *loss = ag_sum(ag_add(ag_linear(x, w, NULL), s));
    AG_NO_GRAD { ag_mul_scalar_(s, 2); }
    EXPECT_ERROR(ag_backward(loss), "modified by an inplace operation");
    assert_same_bits(w->grad, before);
    cr_assert_null(z->grad);
    ag_tape_reset(NULL);
    ag_tensor_free(x), ag_tensor_free(w), ag_tensor_free(z);
}

/* ---- layer_norm ------------------------------------------------------------------------------ */

static void check_layer_norm(const fx_tensor *fx, const fx_tensor *fw, const fx_tensor *fb,
                             const fx_tensor *fg, const fx_tensor *fout, const fx_tensor *fdx,
                             const fx_tensor *fdw, const fx_tensor *fdb, const char *grad_fn,
                             int k) {
    ag_tensor *x = fx_make(fx, AG_FLOAT32, true), *w = fx_make(fw, AG_FLOAT32, true);
    ag_tensor *b = fx_make(fb, AG_FLOAT32, true), *g = fx_make(fg, AG_FLOAT32, false);
    ag_tensor *out = ag_layer_norm(x, k, x->shape + x->ndim - k, w, b, 1e-5);
    assert_fx(out, fout, 1e-5, 1e-5);
    cr_assert_str_eq(ag_grad_fn_name(out), grad_fn);
    ag_backward_with(out, g, false);
    assert_fx(x->grad, fdx, 1e-5, 1e-5);
    if (w) assert_fx(w->grad, fdw, 1e-5, 1e-5);
    if (b) assert_fx(b->grad, fdb, 1e-5, 1e-5);
    ag_tensor_free(x), ag_tensor_free(w), ag_tensor_free(b), ag_tensor_free(g);
}

Test(nn, layer_norm_over_one_and_two_dims) {
    check_layer_norm(&nn_layer_norm_1d_x, &nn_layer_norm_1d_w, &nn_layer_norm_1d_b,
                     &nn_layer_norm_1d_g, &nn_layer_norm_1d_out, &nn_layer_norm_1d_dx,
                     &nn_layer_norm_1d_dw, &nn_layer_norm_1d_db, nn_layer_norm_1d_grad_fn, 1);
    check_layer_norm(&nn_layer_norm_2d_x, &nn_layer_norm_2d_w, &nn_layer_norm_2d_b,
                     &nn_layer_norm_2d_g, &nn_layer_norm_2d_out, &nn_layer_norm_2d_dx,
                     &nn_layer_norm_2d_dw, &nn_layer_norm_2d_db, nn_layer_norm_2d_grad_fn, 2);
    check_layer_norm(&nn_layer_norm_plain_x, NULL, NULL, &nn_layer_norm_plain_g,
                     &nn_layer_norm_plain_out, &nn_layer_norm_plain_dx, NULL, NULL,
                     nn_layer_norm_plain_grad_fn, 1);
}

static ag_tensor *layer_norm_fn(ag_tensor *const *in, void *ctx) {
    int k = *(const int *)ctx;
    return ag_layer_norm(in[0], k, in[0]->shape + in[0]->ndim - k, in[1], in[2], 1e-5);
}

static ag_tensor *layer_norm_plain_fn(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_layer_norm(in[0], AG_SHAPE(4), NULL, NULL, 1e-5);
}

Test(nn, layer_norm_gradcheck) {
    ag_tensor *x = randn64(1, AG_SHAPE(2, 3, 4));
    ag_tensor *w1 = randn64(2, AG_SHAPE(4)), *b1 = randn64(3, AG_SHAPE(4));
    ag_tensor *w2 = randn64(4, AG_SHAPE(3, 4)), *b2 = randn64(5, AG_SHAPE(3, 4));
    int one = 1, two = 2;
    assert_gradcheck(layer_norm_fn, &one, (ag_tensor *[]){x, w1, b1}, 3);
    assert_gradcheck(layer_norm_fn, &two, (ag_tensor *[]){x, w2, b2}, 3);
    assert_gradcheck(layer_norm_plain_fn, NULL, &x, 1);
    ag_tensor_free(x), ag_tensor_free(w1), ag_tensor_free(b1), ag_tensor_free(w2);
    ag_tensor_free(b2);
}

Test(nn, layer_norm_errors) {
    ag_tensor *x = ag_zeros(AG_FLOAT32, AG_SHAPE(1, 2, 5, 5)),
              *w5 = ag_ones(AG_FLOAT32, AG_SHAPE(5));
    ag_tensor *w64 = ag_ones(AG_FLOAT64, AG_SHAPE(5)), *xi = ag_zeros(AG_INT64, AG_SHAPE(2, 5));
    EXPECT_ERROR(ag_layer_norm(x, AG_SHAPE(4), NULL, NULL, 1e-5),
                 "Given normalized_shape=[4], expected input with shape [*, 4], but got input "
                 "of size[1, 2, 5, 5]");
    EXPECT_ERROR(ag_layer_norm(x, AG_SHAPE(5, 5), w5, NULL, 1e-5),
                 "Expected weight to be of same shape as normalized_shape, but got weight of "
                 "shape [5] and normalized_shape = [5, 5]");
    EXPECT_ERROR(ag_layer_norm(x, AG_SHAPE(5, 5), NULL, w5, 1e-5),
                 "Expected bias to be of same shape as normalized_shape, but got bias of shape "
                 "[5] and normalized_shape = [5, 5]");
    EXPECT_ERROR(ag_layer_norm(x, 0, NULL, NULL, NULL, 1e-5),
                 "Expected normalized_shape to be at least 1-dimensional, i.e., containing at "
                 "least one element, but got normalized_shape = []");
    EXPECT_ERROR(ag_layer_norm(x, AG_SHAPE(1, 2, 5, 5, 5), NULL, NULL, 1e-5),
                 "Given normalized_shape=[1, 2, 5, 5, 5], expected input with shape [*, 1, 2, 5, "
                 "5, 5], but got input of size[1, 2, 5, 5]");
    EXPECT_ERROR(ag_layer_norm(x, AG_SHAPE(5), w64, NULL, 1e-5),
                 "expected scalar type Float but found Double");
    EXPECT_ERROR(ag_layer_norm(xi, AG_SHAPE(5), NULL, NULL, 1e-5),
                 "\"LayerNormKernelImpl\" not implemented for 'Long'");
    ag_tensor_free(x), ag_tensor_free(w5), ag_tensor_free(w64), ag_tensor_free(xi);
}

/* ---- batch_norm ------------------------------------------------------------------------------ */

typedef struct bn_step {
    const fx_tensor *x, *g, *out, *dx, *dw, *db, *rm, *rv;
    const char *grad_fn;
} bn_step;

#define BN_STEP(name, k)                                                                           \
    (bn_step) {                                                                                    \
        &nn_##name##_x##k, &nn_##name##_g##k, &nn_##name##_out##k, &nn_##name##_dx##k,             \
            &nn_##name##_dw##k, &nn_##name##_db##k, &nn_##name##_rm##k, &nn_##name##_rv##k,        \
            nn_##name##_grad_fn##k                                                                 \
    }

/* Two training steps then one evaluation step, with the same running statistics. */
static void check_batch_norm(const fx_tensor *fw, const fx_tensor *fb, const bn_step *steps) {
    ag_tensor *w = fx_make(fw, AG_FLOAT32, true), *b = fx_make(fb, AG_FLOAT32, true);
    ag_tensor *rm = ag_zeros(AG_FLOAT32, AG_SHAPE(w->shape[0]));
    ag_tensor *rv = ag_ones(AG_FLOAT32, AG_SHAPE(w->shape[0]));
    for (int k = 0; k < 3; k++) {
        const bn_step *s = &steps[k];
        ag_tensor *x = fx_make(s->x, AG_FLOAT32, true), *g = fx_make(s->g, AG_FLOAT32, false);
        ag_set_grad_none(w), ag_set_grad_none(b);
        ag_tensor *out = ag_batch_norm(x, rm, rv, w, b, k < 2, 0.1, 1e-5);
        assert_fx(out, s->out, 1e-5, 1e-5);
        cr_assert_str_eq(ag_grad_fn_name(out), s->grad_fn);
        assert_fx(rm, s->rm, 1e-6, 1e-6);
        assert_fx(rv, s->rv, 1e-6, 1e-6);
        ag_backward_with(out, g, false);
        assert_fx(x->grad, s->dx, 1e-5, 1e-5);
        assert_fx(w->grad, s->dw, 1e-5, 1e-5);
        assert_fx(b->grad, s->db, 1e-5, 1e-5);
        ag_tensor_free(x), ag_tensor_free(g);
    }
    ag_tensor_free(w), ag_tensor_free(b), ag_tensor_free(rm), ag_tensor_free(rv);
}

Test(nn, batch_norm_2d_two_steps_then_eval) {
    bn_step steps[3] = {BN_STEP(batch_norm_2d, 1), BN_STEP(batch_norm_2d, 2),
                        BN_STEP(batch_norm_2d, 3)};
    check_batch_norm(&nn_batch_norm_2d_w, &nn_batch_norm_2d_b, steps);
}

Test(nn, batch_norm_4d_two_steps_then_eval) {
    bn_step steps[3] = {BN_STEP(batch_norm_4d, 1), BN_STEP(batch_norm_4d, 2),
                        BN_STEP(batch_norm_4d, 3)};
    check_batch_norm(&nn_batch_norm_4d_w, &nn_batch_norm_4d_b, steps);
}

Test(nn, batch_norm_running_stats_by_hand) {
    /* x = (1, 3) per channel: mean 2, biased var 1, unbiased var 2 */
    ag_tensor *x = ag_from_data((const double[]){1, 10, 3, 30}, AG_FLOAT64, AG_SHAPE(2, 2));
    ag_tensor *rm = ag_zeros(AG_FLOAT64, AG_SHAPE(2)), *rv = ag_ones(AG_FLOAT64, AG_SHAPE(2));
    ag_tensor *y = ag_batch_norm(x, rm, rv, NULL, NULL, true, 0.1, 0.0);
    ASSERT_VALUES(y, 1e-12, 0, -1, -1, 1, 1);
    ASSERT_VALUES(rm, 1e-12, 0, 0.2, 2.0);        /* 0.9 * 0 + 0.1 * mean */
    ASSERT_VALUES(rv, 1e-12, 0, 1.1, 0.9 + 20.0); /* 0.9 * 1 + 0.1 * unbiased var (2, 200) */
    ag_tensor_free(x), ag_tensor_free(rm), ag_tensor_free(rv);
}

typedef struct bn_args {
    bool training;
    ag_tensor *rm, *rv;
} bn_args;

static ag_tensor *batch_norm_fn(ag_tensor *const *in, void *ctx) {
    const bn_args *a = ctx;
    return ag_batch_norm(in[0], a->rm, a->rv, in[1], in[2], a->training, 0.1, 1e-5);
}

Test(nn, batch_norm_gradcheck) {
    ag_tensor *x2 = randn64(1, AG_SHAPE(5, 3)), *x4 = randn64(2, AG_SHAPE(3, 3, 2, 4));
    ag_tensor *w = randn64(3, AG_SHAPE(3)), *b = randn64(4, AG_SHAPE(3));
    ag_tensor *rm = ag_from_data((const double[]){0.1, -0.2, 0.3}, AG_FLOAT64, AG_SHAPE(3));
    ag_tensor *rv = ag_from_data((const double[]){0.5, 1.5, 2.0}, AG_FLOAT64, AG_SHAPE(3));
    bn_args train = {true, NULL, NULL}, train_rs = {true, rm, rv}, eval = {false, rm, rv};
    assert_gradcheck(batch_norm_fn, &train, (ag_tensor *[]){x2, w, b}, 3);
    assert_gradcheck(batch_norm_fn, &train, (ag_tensor *[]){x4, w, b}, 3);
    assert_gradcheck(batch_norm_fn, &train_rs, (ag_tensor *[]){x4, w, b}, 3);
    assert_gradcheck(batch_norm_fn, &eval, (ag_tensor *[]){x4, w, b}, 3);
    ag_tensor *all[] = {x2, x4, w, b, rm, rv};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        ag_tensor_free(all[i]);
}

Test(nn, batch_norm_errors) {
    ag_tensor *x = ag_zeros(AG_FLOAT32, AG_SHAPE(1, 2, 5, 5)),
              *one = ag_zeros(AG_FLOAT32, AG_SHAPE(1, 2));
    ag_tensor *z2 = ag_zeros(AG_FLOAT32, AG_SHAPE(2)), *o2 = ag_ones(AG_FLOAT32, AG_SHAPE(2));
    ag_tensor *z3 = ag_zeros(AG_FLOAT32, AG_SHAPE(3)), *d2 = ag_ones(AG_FLOAT64, AG_SHAPE(2));
    EXPECT_ERROR(ag_batch_norm(x, z3, o2, NULL, NULL, true, 0.1, 1e-5),
                 "running_mean should contain 2 elements not 3");
    EXPECT_ERROR(ag_batch_norm(x, z2, z3, NULL, NULL, true, 0.1, 1e-5),
                 "running_var should contain 2 elements not 3");
    EXPECT_ERROR(ag_batch_norm(x, z2, o2, z3, NULL, true, 0.1, 1e-5),
                 "weight should contain 2 elements not 3");
    EXPECT_ERROR(ag_batch_norm(x, z2, o2, NULL, z3, true, 0.1, 1e-5),
                 "bias should contain 2 elements not 3");
    EXPECT_ERROR(ag_batch_norm(one, z2, o2, NULL, NULL, true, 0.1, 1e-5),
                 "Expected more than 1 value per channel when training, got input size "
                 "torch.Size([1, 2])");
    EXPECT_ERROR(ag_batch_norm(x, NULL, NULL, NULL, NULL, false, 0.1, 1e-5),
                 "running_mean must be defined in evaluation mode");
    EXPECT_ERROR(ag_batch_norm(x, z2, d2, NULL, NULL, true, 0.1, 1e-5),
                 "expected scalar type Float but found Double");
    EXPECT_ERROR(ag_batch_norm(x, z2, o2, d2, NULL, true, 0.1, 1e-5),
                 "mixed dtype (CPU): expect parameter to have scalar type of Float");
    /* nothing changed: the running statistics are untouched after an error */
    ASSERT_VALUES(z2, 0, 0, 0, 0);
    ag_tensor *y = ag_batch_norm(one, z2, o2, NULL, NULL, false, 0.1, 1e-5); /* eval: fine */
    ASSERT_SHAPE(y, 1, 2);
    ag_tensor *all[] = {x, one, z2, o2, z3, d2};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        ag_tensor_free(all[i]);
}

/* ---- embedding ---------------------------------------------------------------------------------
 */

Test(nn, embedding) {
    ag_tensor *w = fx_make(&nn_embedding_w, AG_FLOAT32, true);
    ag_tensor *idx = fx_make(&nn_embedding_idx, AG_INT64, false);
    ag_tensor *g = fx_make(&nn_embedding_g, AG_FLOAT32, false);
    ag_tensor *out = ag_embedding(idx, w);
    assert_fx(out, &nn_embedding_out, 0, 0);
    cr_assert_str_eq(ag_grad_fn_name(out), nn_embedding_grad_fn);
    ag_backward_with(out, g, false);
    assert_fx(w->grad, &nn_embedding_dw, 1e-6, 1e-6); /* index 1 and 3 collect two rows */
    ag_tensor_free(w), ag_tensor_free(idx), ag_tensor_free(g);
}

static ag_tensor *embedding_fn(ag_tensor *const *in, void *ctx) { return ag_embedding(ctx, in[0]); }

Test(nn, embedding_gradcheck_and_errors) {
    ag_tensor *w = randn64(1, AG_SHAPE(6, 3)), *idx = AG_INDEX(5, 0, 5, 2);
    assert_gradcheck(embedding_fn, idx, &w, 1);
    ag_tensor *s = ag_scalar(3, AG_INT64), *wf = ag_zeros(AG_FLOAT32, AG_SHAPE(10));
    ASSERT_SHAPE(ag_embedding(s, w), 3); /* a 0-d index gives one row */
    ag_tensor *bad = AG_INDEX(6), *neg = AG_INDEX(-1), *fidx = AG_TENSOR(1.0);
    EXPECT_ERROR(ag_embedding(bad, w), "index out of range in self");
    EXPECT_ERROR(ag_embedding(neg, w), "index out of range in self");
    EXPECT_ERROR(ag_embedding(fidx, w),
                 "Expected tensor for argument #1 'indices' to have one of the following scalar "
                 "types: Long, Int; but got torch.FloatTensor instead (while checking arguments "
                 "for embedding)");
    EXPECT_ERROR(ag_embedding(idx, wf), "'weight' must be 2-D");
    ag_tensor *all[] = {w, idx, s, wf, bad, neg, fidx};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        ag_tensor_free(all[i]);
}

/* ---- dropout -----------------------------------------------------------------------------------
 */

static void check_dropout(const fx_tensor *fx, const fx_tensor *fg, const fx_tensor *fout,
                          const fx_tensor *fdx, const char *grad_fn, double p, ag_dtype dtype) {
    ag_tensor *x = fx_make(fx, dtype, true), *g = fx_make(fg, dtype, false);
    ag_manual_seed(123);
    ag_tensor *out = ag_dropout(x, p, true, NULL);
    assert_fx(out, fout, 0, 0); /* the very mask, and x * (1 / (1 - p)) rounded as torch */
    cr_assert_str_eq(ag_grad_fn_name(out), grad_fn);
    ag_backward_with(out, g, false);
    assert_fx(x->grad, fdx, 0, 0);
    ag_tensor_free(x), ag_tensor_free(g);
}

Test(nn, dropout_draws_torchs_mask) {
    check_dropout(&nn_dropout_p03_x, &nn_dropout_p03_g, &nn_dropout_p03_out, &nn_dropout_p03_dx,
                  nn_dropout_p03_grad_fn, 0.3, AG_FLOAT32);
    check_dropout(&nn_dropout_p06_f64_x, &nn_dropout_p06_f64_g, &nn_dropout_p06_f64_out,
                  &nn_dropout_p06_f64_dx, nn_dropout_p06_f64_grad_fn, 0.6, AG_FLOAT64);
}

Test(nn, dropout_edges) {
    ag_tensor *x = ag_requires_grad_(ag_ones(AG_FLOAT32, AG_SHAPE(2, 3)), true);
    cr_assert_eq(ag_dropout(x, 0.5, false, NULL), x, "evaluation: x itself");
    cr_assert_eq(ag_dropout(x, 0.0, true, NULL), x, "p = 0: x itself");
    ag_tensor *zero = ag_dropout(x, 1.0, true, NULL);
    ASSERT_VALUES(zero, 0, 0, 0, 0, 0, 0, 0, 0);
    cr_assert_str_eq(ag_grad_fn_name(zero), "MulBackward0");
    ag_backward(ag_sum(zero));
    ASSERT_VALUES(x->grad, 0, 0, 0, 0, 0, 0, 0, 0);
    EXPECT_ERROR(ag_dropout(x, 1.5, true, NULL),
                 "dropout probability has to be between 0 and 1, but got 1.5");
    EXPECT_ERROR(ag_dropout(x, -0.1, true, NULL),
                 "dropout probability has to be between 0 and 1, but got -0.1");
    /* the kept fraction of a large tensor is near 1 - p, each kept value 1 / (1 - p) */
    ag_generator *gen = ag_generator_new(9);
    ag_tensor *big = ag_ones(AG_FLOAT32, AG_SHAPE(100, 100));
    ag_tensor *y = ag_dropout(big, 0.25, true, gen);
    int64_t kept = 0;
    for (int64_t i = 0; i < y->numel; i++) {
        float v = AG_F32(y)[i];
        cr_assert(v == 0.0f || v == 1.0f / 0.75f);
        kept += v != 0.0f;
    }
    cr_assert(kept > 7300 && kept < 7700, "kept %lld of 10000", (long long)kept);
    ag_generator_free(gen);
    ag_tensor_free(x), ag_tensor_free(big);
}

static ag_tensor *dropout_fn(ag_tensor *const *in, void *ctx) {
    ag_generator_manual_seed(ctx, 5); /* the same mask at every call */
    return ag_dropout(in[0], 0.4, true, ctx);
}

Test(nn, dropout_gradcheck) {
    ag_generator *gen = ag_generator_new(0);
    ag_tensor *x = randn64(1, AG_SHAPE(3, 4));
    assert_gradcheck(dropout_fn, gen, &x, 1);
    ag_tensor_free(x);
    ag_generator_free(gen);
}

/* ---- initialisation: torch's bits after torch.manual_seed -------------------------------------
 */

Test(nn, linear_init_equals_torch) {
    ag_manual_seed(0);
    ag_linear_layer *l = ag_linear_new(784, 256, true, NULL);
    cr_assert_not_null(l);
    ASSERT_SHAPE(l->weight, 256, 784);
    cr_assert(l->weight->requires_grad && l->bias->requires_grad);
    const fx_tensor *every = &nn_init_linear_w_every97;
    for (int64_t i = 0; i < every->shape[0]; i++)
        cr_assert_eq(AG_F32(l->weight)[i * 97], (float)every->v[i], "weight[%lld]",
                     (long long)(i * 97));
    double sum = 0, squares = 0;
    for (int64_t i = 0; i < l->weight->numel; i++) {
        sum += AG_F32(l->weight)[i];
        squares += (double)AG_F32(l->weight)[i] * AG_F32(l->weight)[i];
    }
    cr_assert(fabs(sum - nn_init_linear_w_sums.v[0]) < 1e-9, "sum %.17g", sum);
    cr_assert(fabs(squares - nn_init_linear_w_sums.v[1]) < 1e-9, "squares %.17g", squares);
    assert_fx(l->bias, &nn_init_linear_b, 0, 0);
    ag_linear_free(l);
}

Test(nn, conv2d_and_embedding_init_equal_torch) {
    ag_manual_seed(1);
    ag_conv2d_layer *c = ag_conv2d_new(3, 4, AG_PAIR(3), AG_PAIR(1), AG_PAIR(0), true, NULL);
    assert_fx(c->weight, &nn_init_conv_w, 0, 0);
    assert_fx(c->bias, &nn_init_conv_b, 0, 0);
    ag_conv2d_free(c);
    ag_generator *gen = ag_generator_new(2); /* an explicit generator draws the same */
    ag_embedding_layer *e = ag_embedding_new(5, 3, gen);
    assert_fx(e->weight, &nn_init_embedding_w, 0, 0);
    ag_embedding_free(e);
    ag_generator_free(gen);
}

/* ---- layers and modules ------------------------------------------------------------------------
 */

Test(nn, layers_forward_their_op) {
    ag_layer_norm_layer *ln = ag_layer_norm_new(AG_SHAPE(2, 3));
    ag_batch_norm_layer *bn = ag_batch_norm_new(2);
    ag_dropout_layer *dr = ag_dropout_new(0.5, NULL);
    ag_tensor *x = ag_from_data((const float[]){1, 2, 3, 4, 5, 9}, AG_FLOAT32, AG_SHAPE(1, 2, 3));
    ag_tensor *y = ag_layer_norm_forward(ln, x);
    cr_assert_str_eq(ag_grad_fn_name(y), "NativeLayerNormBackward0");
    ag_tensor *b = ag_from_data((const float[]){1, 2, 3, 6}, AG_FLOAT32, AG_SHAPE(2, 2));
    ASSERT_VALUES(ag_batch_norm_forward(bn, b), 1e-4, 0, -1, -1, 1, 1);
    cr_assert_eq(bn->num_batches_tracked, 1);
    ASSERT_VALUES(bn->running_mean, 1e-7, 0, 0.2, 0.4);
    bn->training = false;
    ag_batch_norm_forward(bn, b);
    cr_assert_eq(bn->num_batches_tracked, 1, "evaluation does not count");
    dr->training = false;
    cr_assert_eq(ag_dropout_forward(dr, x), x);
    ag_layer_norm_free(ln), ag_batch_norm_free(bn), ag_dropout_free(dr);
    ag_tensor_free(x), ag_tensor_free(b);
}

/* A module kind of one's own: y = 2 x, no parameters. */
static ag_tensor *double_forward(ag_module *m, ag_tensor *x) {
    (void)m;
    return ag_mul_scalar(x, 2.0);
}
static const ag_module_kind double_kind = {.name = "Double", .forward = double_forward};

Test(nn, modules_and_their_parameters) {
    ag_module *lin = ag_linear_module(4, 3, true, NULL);
    ag_module *nob = ag_linear_module(4, 3, false, NULL);
    ag_module *bn = ag_batch_norm_module(3), *relu = ag_relu_module();
    ag_module *mine = ag_module_new(&double_kind, NULL);
    ag_tensor *p[2];
    cr_assert_eq(ag_module_parameters(lin, p), 2);
    cr_assert_eq(p[0], ((ag_linear_layer *)lin->layer)->weight);
    cr_assert_eq(p[1], ((ag_linear_layer *)lin->layer)->bias);
    cr_assert_eq(ag_module_parameters(nob, NULL), 1);
    cr_assert_eq(ag_module_parameters(bn, NULL), 2);
    cr_assert_eq(ag_module_parameters(relu, NULL), 0);
    ag_tensor *x = AG_TENSOR(-1, 2);
    ASSERT_VALUES(ag_module_forward(relu, x), 0, 0, 0, 2);
    ASSERT_VALUES(ag_module_forward(mine, x), 0, 0, -2, 4);
    ag_module_train(bn, false);
    cr_assert(!((ag_batch_norm_layer *)bn->layer)->training);
    EXPECT_ERROR(ag_module_forward(NULL, x), "the module is NULL");
    ag_module *all[] = {lin, nob, bn, relu, mine};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        ag_module_free(all[i]);
    ag_tensor_free(x);
}

/* ---- sequential models against torch ------------------------------------------------------------
 */

Test(nn, sequential_mlp_matches_torch) {
    ag_manual_seed(0); /* torch.manual_seed(0); nn.Sequential(Linear(6, 5), ReLU(), Linear(5, 3)) */
    /* one statement per layer: the order of a brace initializer's calls is unspecified */
    ag_module *l1 = ag_linear_module(6, 5, true, NULL), *relu = ag_relu_module();
    ag_module *l2 = ag_linear_module(5, 3, true, NULL);
    ag_sequential *mlp = ag_sequential_new(3, (ag_module *[]){l1, relu, l2});
    int n;
    ag_tensor *const *params = ag_sequential_parameters(mlp, &n);
    cr_assert_eq(n, 4);
    const fx_tensor *p0[4] = {&nn_mlp_p0, &nn_mlp_p1, &nn_mlp_p2, &nn_mlp_p3};
    const fx_tensor *grads[4] = {&nn_mlp_grad0, &nn_mlp_grad1, &nn_mlp_grad2, &nn_mlp_grad3};
    const fx_tensor *stepped[4] = {&nn_mlp_step0, &nn_mlp_step1, &nn_mlp_step2, &nn_mlp_step3};
    for (int k = 0; k < 4; k++)
        assert_fx(params[k], p0[k], 0, 0); /* torch's initial parameters, bit for bit */
    ag_tensor *x = fx_make(&nn_mlp_x, AG_FLOAT32, false), *y = fx_make(&nn_mlp_y, AG_INT64, false);
    ag_tensor *out = ag_sequential_forward(mlp, x);
    assert_fx(out, &nn_mlp_out, F32_TOL, F32_TOL);
    ag_tensor *loss = ag_cross_entropy(out, y, AG_REDUCTION_MEAN);
    assert_fx(loss, &nn_mlp_loss, F32_TOL, F32_TOL);
    ag_backward(loss);
    for (int k = 0; k < 4; k++)
        assert_fx(params[k]->grad, grads[k], F32_TOL, F32_TOL);
    ag_optimizer *opt = ag_sgd(params, n, (ag_sgd_options){.lr = 0.1});
    ag_optimizer_step(opt);
    for (int k = 0; k < 4; k++)
        assert_fx(params[k], stepped[k], F32_TOL, F32_TOL);
    ag_optimizer_free(opt);
    ag_sequential_free(mlp);
    ag_tensor_free(x), ag_tensor_free(y);
}

Test(nn, sequential_cnn_matches_torch) {
    ag_manual_seed(0);
    ag_module *m[7]; /* one statement per layer, in torch's order (each may draw) */
    m[0] = ag_conv2d_module(1, 2, AG_PAIR(3), AG_PAIR(1), AG_PAIR(1), true, NULL);
    m[1] = ag_batch_norm_module(2);
    m[2] = ag_relu_module();
    m[3] = ag_max_pool2d_module(AG_PAIR(2), AG_PAIR(0), AG_PAIR(0));
    m[4] = ag_flatten_module(1, -1);
    m[5] = ag_dropout_module(0.25, NULL);
    m[6] = ag_linear_module(2 * 3 * 3, 3, true, NULL);
    ag_sequential *cnn = ag_sequential_new(7, m);
    int n;
    ag_tensor *const *params = ag_sequential_parameters(cnn, &n);
    cr_assert_eq(n, 6); /* conv w, b; batch norm w, b; linear w, b */
    const fx_tensor *p0[6] = {&nn_cnn_p0, &nn_cnn_p1, &nn_cnn_p2,
                              &nn_cnn_p3, &nn_cnn_p4, &nn_cnn_p5};
    const fx_tensor *grads[6] = {&nn_cnn_grad0, &nn_cnn_grad1, &nn_cnn_grad2,
                                 &nn_cnn_grad3, &nn_cnn_grad4, &nn_cnn_grad5};
    for (int k = 0; k < 6; k++)
        assert_fx(params[k], p0[k], 0, 0);
    ag_tensor *x = fx_make(&nn_cnn_x, AG_FLOAT32, false),
              *g = fx_make(&nn_cnn_g, AG_FLOAT32, false);
    ag_manual_seed(7); /* the dropout mask */
    ag_tensor *out = ag_sequential_forward(cnn, x);
    assert_fx(out, &nn_cnn_out, 1e-5, 1e-5);
    ag_backward_with(out, g, false);
    for (int k = 0; k < 6; k++)
        assert_fx(params[k]->grad, grads[k], 1e-5, 1e-5);
    ag_batch_norm_layer *bn = cnn->modules[1]->layer;
    assert_fx(bn->running_mean, &nn_cnn_rm, 1e-6, 1e-6);
    assert_fx(bn->running_var, &nn_cnn_rv, 1e-6, 1e-6);
    ag_sequential_train(cnn, false); /* cnn.eval(): running statistics, no dropout */
    assert_fx(ag_sequential_forward(cnn, x), &nn_cnn_eval_out, 1e-5, 1e-5);
    ag_sequential_free(cnn);
    ag_tensor_free(x), ag_tensor_free(g);
}

/* A trained parameter can be loaded from elsewhere: parameters are plain tensors. */
Test(nn, parameters_are_plain_tensors) {
    ag_linear_layer *l = ag_linear_new(2, 1, true, NULL);
    load(l->weight, &(fx_tensor){2, {1, 2}, (const double[]){2, -1}});
    load(l->bias, &(fx_tensor){1, {1}, (const double[]){0.5}});
    ag_tensor *x = ag_from_data((const float[]){1, 1, 3, 2}, AG_FLOAT32, AG_SHAPE(2, 2));
    ASSERT_VALUES(ag_linear_forward(l, x), 0, 0, 1.5, 4.5);
    ag_linear_free(l);
    ag_tensor_free(x);
}

Test(nn, constructor_errors) {
    EXPECT_ERROR(ag_dropout_new(1.5, NULL),
                 "dropout probability has to be between 0 and 1, but got 1.5");
    EXPECT_ERROR(ag_linear_new(-1, 3, true, NULL), "negative dimension");
    /* a NULL among the modules (a failed constructor): the others are freed, nothing leaks */
    EXPECT_ERROR(ag_sequential_new(2, (ag_module *[]){ag_relu_module(), NULL}), "module 1 is NULL");
    EXPECT_ERROR(ag_linear_forward(NULL, NULL), "the layer is NULL");
}
