/*
 * test_losses.c - softmax, log_softmax and the losses (mse, l1, nll, cross-entropy,
 * binary cross-entropy with logits): forward and backward against PyTorch 1.13's numbers
 * (tests/fixtures/losses.h, made by gen_losses.py), for every dim and reduction, in float64
 * and float32; extreme logits that must stay finite; float64 gradchecks; torch's error
 * messages for bad input; and the grad_fn names torch gives.
 */
#include "common.h"
#include "fixtures/losses.h"

AG_TEST_SUITE(losses);

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A tensor you own of dtype, filled from doubles (exact for the float32 fixtures). */
static ag_tensor *tensor(const double *values, ag_dtype dtype, int ndim, const int64_t *shape) {
    if (dtype == AG_FLOAT64) return f64_tensor(values, ndim, shape);
    ag_tensor *t = ag_zeros(AG_FLOAT32, ndim, shape);
    for (int64_t i = 0; t && i < t->numel; i++)
        AG_F32(t)[i] = (float)values[i];
    return t;
}

static ag_tensor *param(const double *values, ag_dtype dtype, int ndim, const int64_t *shape) {
    return ag_requires_grad_(tensor(values, dtype, ndim, shape), true);
}

static void assert_finite(const ag_tensor *t) {
    cr_assert_not_null(t);
    for (int64_t i = 0; i < t->numel; i++)
        cr_assert(isfinite(ag_get(t, i)), "element %lld is %g", (long long)i, ag_get(t, i));
}

/* Tolerances: float64 agrees with torch to rounding; float32 to a few ulps. */
static double atol_of(ag_dtype d) { return d == AG_FLOAT32 ? 1e-6 : 1e-13; }
static double rtol_of(ag_dtype d) { return d == AG_FLOAT32 ? 2e-6 : 1e-12; }

static const int64_t S23[] = {2, 3}, S234[] = {2, 3, 4}, S34[] = {3, 4}, S3[] = {3}, S4[] = {4},
                     S6[] = {6}, S24[] = {2, 4};

/* ---- softmax and log_softmax ------------------------------------------------------------- */

typedef ag_tensor *(*dim_fn)(ag_tensor *, int);

/* y = fn(x, dim) and x.grad after y.backward(w), against torch's out and dx. */
static void check_dim_op(dim_fn fn, const double *x, const double *w, int ndim,
                         const int64_t *shape, int dim, ag_dtype dtype, const double *out,
                         const double *dx) {
    ag_tensor *xt = param(x, dtype, ndim, shape), *wt = tensor(w, dtype, ndim, shape);
    ag_tensor *y = fn(xt, dim);
    assert_shape(y, ndim, shape);
    cr_assert_eq(y->dtype, dtype);
    assert_values(y, out, y->numel, atol_of(dtype), rtol_of(dtype));
    ag_backward_with(y, wt, false);
    assert_values(xt->grad, dx, xt->numel, atol_of(dtype), rtol_of(dtype));
    ag_tensor_free(xt), ag_tensor_free(wt);
}

/* The fixtures' inputs of the dim ops: x, the upstream gradient w, and their shape. */
typedef struct dim_input {
    const double *x, *w;
    int ndim;
    const int64_t *shape;
} dim_input;
static const dim_input IN23 = {x23, w23, 2, S23}, IN234 = {x234, w234, 3, S234};

/* fn(in.x, dim) against torch's out and dx */
typedef struct dim_case {
    const dim_input *in;
    int dim;
    const double *out, *dx;
} dim_case;

static void check_dim_cases(dim_fn fn, ag_dtype dtype, const dim_case *cases, size_t n) {
    for (size_t c = 0; c < n; c++) {
        const dim_input *in = cases[c].in;
        check_dim_op(fn, in->x, in->w, in->ndim, in->shape, cases[c].dim, dtype, cases[c].out,
                     cases[c].dx);
    }
}

Test(losses, softmax_matches_torch_along_every_dim) {
    const dim_case cases[] = {
        {&IN23, 0, softmax_x23_d0_out, softmax_x23_d0_dx},
        {&IN23, 1, softmax_x23_d1_out, softmax_x23_d1_dx},
        {&IN23, -1, softmax_x23_d1_out, softmax_x23_d1_dx},
        {&IN23, -2, softmax_x23_d0_out, softmax_x23_d0_dx},
        {&IN234, 0, softmax_x234_d0_out, softmax_x234_d0_dx},
        {&IN234, 1, softmax_x234_d1_out, softmax_x234_d1_dx},
        {&IN234, -1, softmax_x234_d2_out, softmax_x234_d2_dx},
    };
    check_dim_cases(ag_softmax, AG_FLOAT64, cases, COUNT(cases));
}

Test(losses, softmax_float32_matches_torch) {
    const dim_case cases[] = {
        {&IN23, 0, softmax_x23_d0_f32_out, softmax_x23_d0_f32_dx},
        {&IN23, 1, softmax_x23_d1_f32_out, softmax_x23_d1_f32_dx},
    };
    check_dim_cases(ag_softmax, AG_FLOAT32, cases, COUNT(cases));
}

Test(losses, log_softmax_matches_torch_along_every_dim) {
    const dim_case cases[] = {
        {&IN23, 0, log_softmax_x23_d0_out, log_softmax_x23_d0_dx},
        {&IN23, 1, log_softmax_x23_d1_out, log_softmax_x23_d1_dx},
        {&IN23, -1, log_softmax_x23_d1_out, log_softmax_x23_d1_dx},
        {&IN234, 0, log_softmax_x234_d0_out, log_softmax_x234_d0_dx},
        {&IN234, 1, log_softmax_x234_d1_out, log_softmax_x234_d1_dx},
        {&IN234, 2, log_softmax_x234_d2_out, log_softmax_x234_d2_dx},
    };
    check_dim_cases(ag_log_softmax, AG_FLOAT64, cases, COUNT(cases));
}

Test(losses, log_softmax_float32_matches_torch) {
    const dim_case cases[] = {
        {&IN23, 0, log_softmax_x23_d0_f32_out, log_softmax_x23_d0_f32_dx},
        {&IN23, 1, log_softmax_x23_d1_f32_out, log_softmax_x23_d1_f32_dx},
    };
    check_dim_cases(ag_log_softmax, AG_FLOAT32, cases, COUNT(cases));
}

Test(losses, softmax_and_log_softmax_of_extreme_logits_stay_finite) {
    /* rows [100, -100, 0] and [1e4, 0, -1e4]: e^1e4 would be inf without the max shift */
    const struct {
        dim_fn fn;
        int dim;
        ag_dtype dtype;
        const double *out, *dx;
    } cases[] = {
        {ag_softmax, 0, AG_FLOAT64, softmax_xe_d0_out, softmax_xe_d0_dx},
        {ag_softmax, 1, AG_FLOAT64, softmax_xe_d1_out, softmax_xe_d1_dx},
        {ag_softmax, 0, AG_FLOAT32, softmax_xe_d0_f32_out, softmax_xe_d0_f32_dx},
        {ag_softmax, 1, AG_FLOAT32, softmax_xe_d1_f32_out, softmax_xe_d1_f32_dx},
        {ag_log_softmax, 0, AG_FLOAT64, log_softmax_xe_d0_out, log_softmax_xe_d0_dx},
        {ag_log_softmax, 1, AG_FLOAT64, log_softmax_xe_d1_out, log_softmax_xe_d1_dx},
        {ag_log_softmax, 0, AG_FLOAT32, log_softmax_xe_d0_f32_out, log_softmax_xe_d0_f32_dx},
        {ag_log_softmax, 1, AG_FLOAT32, log_softmax_xe_d1_f32_out, log_softmax_xe_d1_f32_dx},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ag_tensor *x = param(xe, cases[c].dtype, 2, S23), *w = tensor(w23, cases[c].dtype, 2, S23);
        ag_tensor *y = cases[c].fn(x, cases[c].dim);
        assert_finite(y);
        assert_values(y, cases[c].out, 6, atol_of(cases[c].dtype), rtol_of(cases[c].dtype));
        ag_backward_with(y, w, false);
        assert_finite(x->grad);
        assert_values(x->grad, cases[c].dx, 6, atol_of(cases[c].dtype), rtol_of(cases[c].dtype));
        ag_tensor_free(x), ag_tensor_free(w);
    }
}

Test(losses, softmax_of_a_0d_tensor_is_one) {
    /* torch.softmax(torch.tensor(3.), 0) == 1 and log_softmax gives 0; dims 0 and -1 only */
    ag_tensor *x = ag_requires_grad_(ag_scalar(3.0, AG_FLOAT64), true);
    ag_tensor *y = ag_softmax(x, 0), *z = ag_log_softmax(x, -1);
    ASSERT_SCALAR_SHAPE(y);
    ASSERT_SCALAR_SHAPE(z);
    ASSERT_VALUES(y, 0, 0, 1.0);
    ASSERT_VALUES(z, 0, 0, 0.0);
    ag_backward(ag_add(y, z)); /* y's local derivative is 0, as is z's */
    ASSERT_VALUES(x->grad, 0, 0, 0.0);
    EXPECT_ERROR(ag_softmax(x, 1),
                 "Dimension out of range (expected to be in range of [-1, 0], but got 1)");
    ag_tensor_free(x);
}

Test(losses, softmax_of_empty_tensors) {
    ag_tensor *a = ag_zeros(AG_FLOAT32, AG_SHAPE(0, 3)), *b = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 0));
    ASSERT_SHAPE(ag_softmax(a, 1), 0, 3);
    ASSERT_SHAPE(ag_log_softmax(b, 1), 2, 0);
    ag_tensor_free(a), ag_tensor_free(b);
}

static ag_tensor *softmax_of(ag_tensor *const *in, void *ctx) {
    return ag_softmax(in[0], *(int *)ctx);
}
static ag_tensor *log_softmax_of(ag_tensor *const *in, void *ctx) {
    return ag_log_softmax(in[0], *(int *)ctx);
}

Test(losses, softmax_and_log_softmax_gradcheck) {
    ag_tensor *a = param(x23, AG_FLOAT64, 2, S23), *b = param(x234, AG_FLOAT64, 3, S234);
    for (int dim = 0; dim < 2; dim++) {
        assert_gradcheck(softmax_of, &dim, &a, 1);
        assert_gradcheck(log_softmax_of, &dim, &a, 1);
    }
    int middle = 1;
    assert_gradcheck(softmax_of, &middle, &b, 1);
    assert_gradcheck(log_softmax_of, &middle, &b, 1);
    ag_tensor_free(a), ag_tensor_free(b);
}

Test(losses, softmax_bad_input) {
    ag_tensor *x = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 3)), *i = AG_INDEX(1, 2);
    EXPECT_ERROR(ag_softmax(NULL, 0), "argument 'input' must be a tensor, not NULL");
    EXPECT_ERROR(ag_log_softmax(NULL, 0), "argument 'input' must be a tensor, not NULL");
    EXPECT_ERROR(ag_softmax(x, 2),
                 "Dimension out of range (expected to be in range of [-2, 1], but got 2)");
    EXPECT_ERROR(ag_log_softmax(x, -3),
                 "Dimension out of range (expected to be in range of [-2, 1], but got -3)");
    EXPECT_ERROR(ag_softmax(i, 0), "expected a floating point tensor");
    EXPECT_ERROR(ag_log_softmax(i, 0), "expected a floating point tensor");
    ag_tensor_free(x), ag_tensor_free(i);
}

Test(losses, softmax_grad_fn_names) {
    ag_tensor *x = param(x23, AG_FLOAT32, 2, S23);
    cr_assert_str_eq(ag_grad_fn_name(ag_softmax(x, 1)), "SoftmaxBackward0");
    cr_assert_str_eq(ag_grad_fn_name(ag_log_softmax(x, 1)), "LogSoftmaxBackward0");
    AG_NO_GRAD { cr_assert_null(ag_grad_fn_name(ag_softmax(x, 1))); }
    ag_tensor_free(x);
}

Test(losses, softmax_saved_output_changed_in_place_is_reported) {
    ag_tensor *x = param(x23, AG_FLOAT64, 2, S23);
    ag_tensor *y = ag_softmax(x, 1);
    ag_mul_scalar_(y, 2.0); /* the output softmax saved is no longer its output */
    EXPECT_ERROR(ag_backward(ag_sum(y)), "modified by an inplace operation");
    ag_tensor_free(x);
}

/* ---- mse_loss, l1_loss, binary_cross_entropy_with_logits --------------------------------- */

typedef ag_tensor *(*loss_fn)(ag_tensor *, ag_tensor *, ag_reduction);

typedef struct loss_case {
    const double *out, *dx, *dt;
} loss_case;

/* out = fn(input, target, r), then backward (with w for reduction none): torch's out, dx, dt */
static void check_loss(loss_fn fn, const double *x, int xdim, const int64_t *xshape,
                       const double *t, int tdim, const int64_t *tshape, const double *w,
                       ag_reduction r, ag_dtype dtype, loss_case want) {
    ag_tensor *xt = param(x, dtype, xdim, xshape), *tt = param(t, dtype, tdim, tshape);
    ag_tensor *out = fn(xt, tt, r);
    cr_assert_not_null(out);
    cr_assert_eq(out->dtype, dtype);
    ag_tensor *wt = NULL;
    if (r == AG_REDUCTION_NONE) {
        wt = tensor(w, dtype, out->ndim, out->shape);
        ag_backward_with(out, wt, false);
    } else {
        cr_assert_eq(out->ndim, 0, "a reduced loss is 0-d");
        ag_backward(out);
    }
    double atol = atol_of(dtype), rtol = rtol_of(dtype);
    assert_values(out, want.out, out->numel, atol, rtol);
    assert_values(xt->grad, want.dx, xt->numel, atol, rtol);
    assert_values(tt->grad, want.dt, tt->numel, atol, rtol);
    ag_tensor_free(xt), ag_tensor_free(tt), ag_tensor_free(wt);
}

#define CASE(name) ((loss_case){name##_out, name##_dx, name##_dt})
static const ag_reduction REDUCTIONS[] = {AG_REDUCTION_MEAN, AG_REDUCTION_SUM, AG_REDUCTION_NONE};

/* fn(li, target) on (3, 4), for mean, sum and none (REDUCTIONS' order), in float64 and
 * float32 */
static void check_loss_each_reduction(loss_fn fn, const double *target, const loss_case *f64,
                                      const loss_case *f32) {
    for (int r = 0; r < 3; r++) {
        check_loss(fn, li, 2, S34, target, 2, S34, lw, REDUCTIONS[r], AG_FLOAT64, f64[r]);
        check_loss(fn, li, 2, S34, target, 2, S34, lw, REDUCTIONS[r], AG_FLOAT32, f32[r]);
    }
}

Test(losses, mse_loss_matches_torch_for_each_reduction) {
    const loss_case f64[] = {CASE(mse_mean), CASE(mse_sum), CASE(mse_none)};
    const loss_case f32[] = {CASE(mse_mean_f32), CASE(mse_sum_f32), CASE(mse_none_f32)};
    check_loss_each_reduction(ag_mse_loss, lt, f64, f32);
}

Test(losses, l1_loss_matches_torch_for_each_reduction) {
    const loss_case f64[] = {CASE(l1_mean), CASE(l1_sum), CASE(l1_none)};
    const loss_case f32[] = {CASE(l1_mean_f32), CASE(l1_sum_f32), CASE(l1_none_f32)};
    check_loss_each_reduction(ag_l1_loss, lt, f64, f32);
}

Test(losses, bce_with_logits_matches_torch_for_each_reduction) {
    /* targets in [0, 1]: lp */
    const loss_case f64[] = {CASE(bce_mean), CASE(bce_sum), CASE(bce_none)};
    const loss_case f32[] = {CASE(bce_mean_f32), CASE(bce_sum_f32), CASE(bce_none_f32)};
    check_loss_each_reduction(ag_binary_cross_entropy_with_logits, lp, f64, f32);
}

Test(losses, mse_and_l1_broadcast_as_torch_does) {
    /* input (2, 3) against target (3): torch warns and broadcasts; the target's gradient is
     * summed over the broadcast dim */
    const loss_case mse[] = {CASE(mse_bcast_mean), CASE(mse_bcast_sum), CASE(mse_bcast_none)};
    const loss_case l1[] = {CASE(l1_bcast_mean), CASE(l1_bcast_sum), CASE(l1_bcast_none)};
    for (int r = 0; r < 3; r++) {
        check_loss(ag_mse_loss, bi, 2, S23, bt, 1, S3, bw, REDUCTIONS[r], AG_FLOAT64, mse[r]);
        check_loss(ag_l1_loss, bi, 2, S23, bt, 1, S3, bw, REDUCTIONS[r], AG_FLOAT64, l1[r]);
    }
}

Test(losses, bce_with_logits_of_extreme_logits_stays_finite) {
    /* logits -100, 0, 100, 1e4, -1e4, 1e4: log(1 + e^1e4) would be inf without the max trick */
    const loss_case f64[] = {CASE(bce_extreme_mean), CASE(bce_extreme_none)};
    const loss_case f32[] = {CASE(bce_extreme_mean_f32), CASE(bce_extreme_none_f32)};
    const ag_reduction rs[] = {AG_REDUCTION_MEAN, AG_REDUCTION_NONE};
    for (int r = 0; r < 2; r++) {
        check_loss(ag_binary_cross_entropy_with_logits, be_x, 1, S6, be_t, 1, S6, be_w, rs[r],
                   AG_FLOAT64, f64[r]);
        check_loss(ag_binary_cross_entropy_with_logits, be_x, 1, S6, be_t, 1, S6, be_w, rs[r],
                   AG_FLOAT32, f32[r]);
    }
    ag_tensor *x = tensor(be_x, AG_FLOAT32, 1, S6), *t = tensor(be_t, AG_FLOAT32, 1, S6);
    assert_finite(ag_binary_cross_entropy_with_logits(x, t, AG_REDUCTION_NONE));
    ag_tensor_free(x), ag_tensor_free(t);
}

Test(losses, l1_loss_gradient_is_zero_where_input_equals_target) {
    /* d|x - t|/dx at x == t is sign(0) = 0: torch gives [0, -0.5] */
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(1, 2), true), *t = AG_TENSOR(1, 3);
    ag_tensor *loss = ag_l1_loss(x, t, AG_REDUCTION_MEAN);
    ASSERT_VALUES(loss, 0, 0, 0.5);
    ag_backward(loss);
    ASSERT_VALUES(x->grad, 0, 0, 0.0, -0.5);
    ag_tensor_free(x), ag_tensor_free(t);
}

Test(losses, losses_of_float32_and_float64_compute_in_float64) {
    ag_tensor *x = tensor(li, AG_FLOAT32, 2, S34), *t = tensor(lt, AG_FLOAT64, 2, S34);
    cr_assert_eq(ag_mse_loss(x, t, AG_REDUCTION_MEAN)->dtype, AG_FLOAT64);
    cr_assert_eq(ag_l1_loss(x, t, AG_REDUCTION_SUM)->dtype, AG_FLOAT64);
    cr_assert_eq(ag_binary_cross_entropy_with_logits(x, t, AG_REDUCTION_NONE)->dtype, AG_FLOAT64);
    /* even a 0-d float64 target promotes, as torch broadcasts it first */
    ag_tensor *s = ag_scalar(0.5, AG_FLOAT64);
    cr_assert_eq(ag_mse_loss(x, s, AG_REDUCTION_NONE)->dtype, AG_FLOAT64);
    cr_assert_eq(ag_l1_loss(x, s, AG_REDUCTION_NONE)->dtype, AG_FLOAT64);
    ag_tensor_free(x), ag_tensor_free(t), ag_tensor_free(s);
}

typedef struct loss_ctx {
    loss_fn fn;
    ag_reduction reduction;
} loss_ctx;

static ag_tensor *loss_of(ag_tensor *const *in, void *ctx) {
    const loss_ctx *c = ctx;
    return c->fn(in[0], in[1], c->reduction);
}

Test(losses, mse_l1_bce_gradcheck_for_both_arguments) {
    const loss_fn fns[] = {ag_mse_loss, ag_l1_loss, ag_binary_cross_entropy_with_logits};
    for (int f = 0; f < 3; f++) {
        for (int r = 0; r < 3; r++) {
            ag_tensor *in[2] = {param(li, AG_FLOAT64, 2, S34),
                                param(f == 2 ? lp : lt, AG_FLOAT64, 2, S34)};
            loss_ctx ctx = {fns[f], REDUCTIONS[r]};
            assert_gradcheck(loss_of, &ctx, in, 2);
            ag_tensor_free(in[0]), ag_tensor_free(in[1]);
        }
    }
    /* and broadcast: (2, 3) against (3) */
    for (int f = 0; f < 2; f++) {
        ag_tensor *in[2] = {param(bi, AG_FLOAT64, 2, S23), param(bt, AG_FLOAT64, 1, S3)};
        loss_ctx ctx = {fns[f], AG_REDUCTION_MEAN};
        assert_gradcheck(loss_of, &ctx, in, 2);
        ag_tensor_free(in[0]), ag_tensor_free(in[1]);
    }
}

Test(losses, mse_l1_bce_bad_input) {
    ag_tensor *a = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 3)), *b = ag_zeros(AG_FLOAT32, AG_SHAPE(2));
    ag_tensor *c = ag_zeros(AG_FLOAT32, AG_SHAPE(3)), *d = ag_zeros(AG_FLOAT32, AG_SHAPE(2));
    ag_tensor *i = ag_zeros(AG_INT64, AG_SHAPE(2, 3));
    const char *mismatch =
        "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1";
    EXPECT_ERROR(ag_mse_loss(a, b, AG_REDUCTION_MEAN), mismatch);
    EXPECT_ERROR(ag_l1_loss(a, b, AG_REDUCTION_SUM), mismatch);
    EXPECT_ERROR(ag_mse_loss(a, a, (ag_reduction)7), "7 is not a valid value for reduction");
    EXPECT_ERROR(ag_l1_loss(a, a, (ag_reduction)-1), "-1 is not a valid value for reduction");
    EXPECT_ERROR(ag_binary_cross_entropy_with_logits(a, a, (ag_reduction)3),
                 "3 is not a valid value for reduction");
    EXPECT_ERROR(ag_mse_loss(NULL, a, AG_REDUCTION_MEAN), "argument 'input' must be a tensor");
    EXPECT_ERROR(ag_l1_loss(a, NULL, AG_REDUCTION_MEAN), "argument 'target' must be a tensor");
    EXPECT_ERROR(ag_binary_cross_entropy_with_logits(a, NULL, AG_REDUCTION_MEAN),
                 "argument 'target' must be a tensor");
    EXPECT_ERROR(ag_mse_loss(a, i, AG_REDUCTION_MEAN), "expected a floating point tensor");
    EXPECT_ERROR(ag_l1_loss(i, a, AG_REDUCTION_MEAN), "expected a floating point tensor");
    EXPECT_ERROR(ag_binary_cross_entropy_with_logits(a, i, AG_REDUCTION_MEAN),
                 "expected a floating point tensor");
    /* bce wants equal shapes even where they would broadcast */
    EXPECT_ERROR(ag_binary_cross_entropy_with_logits(d, c, AG_REDUCTION_MEAN),
                 "Target size (torch.Size([3])) must be the same as input size "
                 "(torch.Size([2]))");
    EXPECT_ERROR(ag_binary_cross_entropy_with_logits(a, c, AG_REDUCTION_MEAN),
                 "Target size (torch.Size([3])) must be the same as input size "
                 "(torch.Size([2, 3]))");
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(c), ag_tensor_free(d), ag_tensor_free(i);
}

Test(losses, mse_l1_bce_grad_fn_names) {
    /* mse and bce are one node for every reduction; l1 is composed, as in torch 1.13 */
    const char *l1_names[] = {"MeanBackward0", "SumBackward0", "AbsBackward0"};
    ag_tensor *x = param(li, AG_FLOAT32, 2, S34), *t = tensor(lp, AG_FLOAT32, 2, S34);
    for (int r = 0; r < 3; r++) {
        cr_assert_str_eq(ag_grad_fn_name(ag_mse_loss(x, t, REDUCTIONS[r])), "MseLossBackward0");
        cr_assert_str_eq(ag_grad_fn_name(ag_l1_loss(x, t, REDUCTIONS[r])), l1_names[r]);
        cr_assert_str_eq(ag_grad_fn_name(ag_binary_cross_entropy_with_logits(x, t, REDUCTIONS[r])),
                         "BinaryCrossEntropyWithLogitsBackward0");
    }
    ag_tensor_free(x), ag_tensor_free(t);
}

/* ---- nll_loss and cross_entropy ------------------------------------------------------------ */

typedef struct class_case {
    const double *out, *dx;
} class_case;
#define CCASE(name) ((class_case){name##_out, name##_dx})

/* out = fn(input, target, r), backward (with cw for reduction none): torch's out and dx */
static void check_class_loss(loss_fn fn, const double *x, int xdim, const int64_t *xshape,
                             ag_tensor *target, ag_reduction r, ag_dtype dtype, class_case want) {
    ag_tensor *xt = param(x, dtype, xdim, xshape), *wt = NULL;
    ag_tensor *out = fn(xt, target, r);
    cr_assert_not_null(out);
    cr_assert_eq(out->dtype, dtype);
    if (out->ndim > 0) {
        wt = tensor(cw, dtype, out->ndim, out->shape);
        ag_backward_with(out, wt, false);
    } else {
        ag_backward(out);
    }
    assert_values(out, want.out, out->numel, atol_of(dtype), rtol_of(dtype));
    assert_values(xt->grad, want.dx, xt->numel, atol_of(dtype), rtol_of(dtype));
    ag_tensor_free(xt), ag_tensor_free(wt);
}

/* fn(x, target) for mean, sum and none: x (3, 4) in float64 and float32, and one sample
 * (input x[8:12] of shape (4), a 0-d target, a 0-d loss for every reduction) in float64.
 * The targets are int64, then uint8 (torch 1.13 takes both, with the same results). */
static void check_class_loss_each_reduction(loss_fn fn, const double *x, const class_case *f64,
                                            const class_case *f32, const class_case *one) {
    for (int bytes = 0; bytes < 2; bytes++) {
        const uint8_t cu[3] = {(uint8_t)ct[0], (uint8_t)ct[1], (uint8_t)ct[2]};
        ag_tensor *target =
            bytes ? ag_from_data(cu, AG_UINT8, 1, S3) : ag_from_data(ct, AG_INT64, 1, S3);
        ag_tensor *target0 = bytes ? ag_from_data(&cu[2], AG_UINT8, 0, NULL)
                                   : ag_from_data(&ct[2], AG_INT64, 0, NULL);
        for (int r = 0; r < 3; r++) {
            check_class_loss(fn, x, 2, S34, target, REDUCTIONS[r], AG_FLOAT64, f64[r]);
            check_class_loss(fn, x, 2, S34, target, REDUCTIONS[r], AG_FLOAT32, f32[r]);
            check_class_loss(fn, x + 8, 1, S4, target0, REDUCTIONS[r], AG_FLOAT64, one[r]);
        }
        ag_tensor_free(target), ag_tensor_free(target0);
    }
}

Test(losses, nll_loss_matches_torch_for_each_reduction) {
    const class_case f64[] = {CCASE(nll_mean), CCASE(nll_sum), CCASE(nll_none)};
    const class_case f32[] = {CCASE(nll_mean_f32), CCASE(nll_sum_f32), CCASE(nll_none_f32)};
    const class_case one[] = {CCASE(nll_1d_mean), CCASE(nll_1d_sum), CCASE(nll_1d_none)};
    check_class_loss_each_reduction(ag_nll_loss, ni, f64, f32, one);
}

Test(losses, cross_entropy_matches_torch_for_each_reduction) {
    const class_case f64[] = {CCASE(ce_mean), CCASE(ce_sum), CCASE(ce_none)};
    const class_case f32[] = {CCASE(ce_mean_f32), CCASE(ce_sum_f32), CCASE(ce_none_f32)};
    const class_case one[] = {CCASE(ce_1d_mean), CCASE(ce_1d_sum), CCASE(ce_1d_none)};
    check_class_loss_each_reduction(ag_cross_entropy, ci, f64, f32, one);
}

Test(losses, cross_entropy_of_extreme_logits_stays_finite) {
    /* logits up to +-1e4: softmax would underflow to 0 and log give -inf; log_softmax does not */
    ag_tensor *target = ag_from_data(cet, AG_INT64, 1, (const int64_t[]){2});
    check_class_loss(ag_cross_entropy, cex, 2, S24, target, AG_REDUCTION_MEAN, AG_FLOAT64,
                     CCASE(ce_extreme));
    check_class_loss(ag_cross_entropy, cex, 2, S24, target, AG_REDUCTION_MEAN, AG_FLOAT32,
                     CCASE(ce_extreme_f32));
    ag_tensor *x = tensor(cex, AG_FLOAT32, 2, S24);
    assert_finite(ag_cross_entropy(x, target, AG_REDUCTION_NONE));
    ag_tensor_free(target), ag_tensor_free(x);
}

Test(losses, nll_loss_of_an_empty_batch) {
    /* torch: mean over no targets is nan (0 / 0), sum is 0 */
    ag_tensor *x = ag_zeros(AG_FLOAT32, AG_SHAPE(0, 3)), *t = ag_zeros(AG_INT64, AG_SHAPE(0));
    cr_assert(isnan(ag_item(ag_nll_loss(x, t, AG_REDUCTION_MEAN))));
    ASSERT_VALUES(ag_nll_loss(x, t, AG_REDUCTION_SUM), 0, 0, 0.0);
    ASSERT_SHAPE(ag_cross_entropy(x, t, AG_REDUCTION_NONE), 0);
    ag_tensor_free(x), ag_tensor_free(t);
}

typedef struct class_ctx {
    loss_fn fn;
    ag_tensor *target;
    ag_reduction reduction;
} class_ctx;

static ag_tensor *class_loss_of(ag_tensor *const *in, void *ctx) {
    const class_ctx *c = ctx;
    return c->fn(in[0], c->target, c->reduction);
}

Test(losses, nll_loss_and_cross_entropy_gradcheck) {
    ag_tensor *target = ag_from_data(ct, AG_INT64, 1, S3);
    ag_tensor *target0 = ag_from_data(&ct[2], AG_INT64, 0, NULL);
    const loss_fn fns[] = {ag_nll_loss, ag_cross_entropy};
    for (int f = 0; f < 2; f++) {
        for (int r = 0; r < 3; r++) {
            ag_tensor *x = param(f ? ci : ni, AG_FLOAT64, 2, S34);
            ag_tensor *x1 = param(f ? ci : ni, AG_FLOAT64, 1, S4);
            class_ctx ctx = {fns[f], target, REDUCTIONS[r]},
                      ctx0 = {fns[f], target0, REDUCTIONS[r]};
            assert_gradcheck(class_loss_of, &ctx, &x, 1);
            assert_gradcheck(class_loss_of, &ctx0, &x1, 1);
            ag_tensor_free(x), ag_tensor_free(x1);
        }
    }
    ag_tensor_free(target), ag_tensor_free(target0);
}

Test(losses, nll_loss_and_cross_entropy_bad_input) {
    ag_tensor *x = ag_zeros(AG_FLOAT32, AG_SHAPE(3, 4)), *x1 = ag_zeros(AG_FLOAT32, AG_SHAPE(4));
    ag_tensor *x0 = ag_scalar(0, AG_FLOAT32), *x3 = ag_zeros(AG_FLOAT32, AG_SHAPE(3, 4, 2));
    ag_tensor *xi = ag_zeros(AG_INT64, AG_SHAPE(3, 4));
    ag_tensor *t5 = AG_INDEX(0, 5, 1), *tneg = AG_INDEX(-1, 0, 1), *t2 = AG_INDEX(0, 1);
    ag_tensor *tok = AG_INDEX(0, 1, 2), *t0 = ag_scalar(1, AG_INT64), *t1 = AG_INDEX(2);
    ag_tensor *tf = AG_TENSOR(0, 1, 2), *td = ag_zeros(AG_FLOAT64, AG_SHAPE(3));
    ag_tensor *t31 = ag_zeros(AG_INT64, AG_SHAPE(3, 1)), *tignore = AG_INDEX(0, -100, 1);
    ag_tensor *tu9 = ag_from_data((const uint8_t[]){1, 2, 9}, AG_UINT8, 1, S3);
    loss_fn fns[] = {ag_nll_loss, ag_cross_entropy};
    for (int f = 0; f < 2; f++) {
        loss_fn fn = fns[f];
        int64_t before = ag_tape_size(NULL);
        EXPECT_ERROR(fn(x, t5, AG_REDUCTION_MEAN), "Target 5 is out of bounds.");
        EXPECT_ERROR(fn(x, tneg, AG_REDUCTION_MEAN), "Target -1 is out of bounds.");
        EXPECT_ERROR(fn(x, tignore, AG_REDUCTION_MEAN), "Target -100 is out of bounds.");
        EXPECT_ERROR(fn(x, t2, AG_REDUCTION_MEAN),
                     "Expected input batch_size (3) to match target batch_size (2).");
        EXPECT_ERROR(fn(x, tf, AG_REDUCTION_MEAN), "expected scalar type Long but found Float");
        EXPECT_ERROR(fn(x, tu9, AG_REDUCTION_MEAN), "Target 9 is out of bounds.");
        EXPECT_ERROR(fn(x, td, AG_REDUCTION_SUM), "expected scalar type Long but found Double");
        EXPECT_ERROR(fn(x0, t0, AG_REDUCTION_MEAN), "Expected 1 or more dimensions (got 0)");
        EXPECT_ERROR(fn(x3, tok, AG_REDUCTION_MEAN), "input tensor should be 1D or 2D");
        EXPECT_ERROR(fn(x, t31, AG_REDUCTION_MEAN),
                     "0D or 1D target tensor expected, multi-target not supported");
        EXPECT_ERROR(fn(x1, t1, AG_REDUCTION_MEAN), "size mismatch (got input: [4], target: [1])");
        EXPECT_ERROR(fn(x, tok, (ag_reduction)9), "9 is not a valid value for reduction");
        EXPECT_ERROR(fn(xi, tok, AG_REDUCTION_MEAN), "expected a floating point tensor");
        EXPECT_ERROR(fn(NULL, tok, AG_REDUCTION_MEAN), "argument 'input' must be a tensor");
        EXPECT_ERROR(fn(x, NULL, AG_REDUCTION_MEAN), "argument 'target' must be a tensor");
        cr_assert_eq(ag_tape_size(NULL), before, "a failed call recorded nothing");
    }
    EXPECT_ERROR(ag_nll_loss(x, t5, AG_REDUCTION_MEAN), "nll_loss: Target 5");
    EXPECT_ERROR(ag_cross_entropy(x, t5, AG_REDUCTION_MEAN), "cross_entropy: Target 5");
    ag_tensor *all[] = {x, x1, x0, x3, xi, t5, tneg, t2, tok, t0, t1, tf, td, t31, tignore, tu9};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        ag_tensor_free(all[k]);
}

Test(losses, nll_loss_and_cross_entropy_grad_fn_names) {
    /* cross_entropy is torch's two nodes: NllLossBackward0 fed by LogSoftmaxBackward0 */
    ag_tensor *x = param(ci, AG_FLOAT32, 2, S34), *t = ag_from_data(ct, AG_INT64, 1, S3);
    int64_t before = ag_tape_size(NULL);
    ag_tensor *ce = ag_cross_entropy(x, t, AG_REDUCTION_MEAN);
    cr_assert_str_eq(ag_grad_fn_name(ce), "NllLossBackward0");
    cr_assert_eq(ag_tape_size(NULL) - before, 2, "log_softmax, then nll_loss");
    for (int r = 0; r < 3; r++)
        cr_assert_str_eq(ag_grad_fn_name(ag_nll_loss(x, t, REDUCTIONS[r])), "NllLossBackward0");
    AG_NO_GRAD { cr_assert_null(ag_grad_fn_name(ag_cross_entropy(x, t, AG_REDUCTION_SUM))); }
    ag_tensor_free(x), ag_tensor_free(t);
}
