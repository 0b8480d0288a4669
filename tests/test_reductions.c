/*
 * test_reductions.c - sum, mean, var, std, max, min, argmax and logsumexp, over everything and
 * along one dim, against torch 1.13.
 *
 * Every case of tests/fixtures/reductions.h (float32 and float64; 0-d, 2-d and 3-d inputs
 * reduced over the first, middle and last dim, with and without keepdim; ties, NaN, infinities,
 * empty tensors, N - correction <= 0) is checked for: the result's shape, dtype and values, the
 * indices max/min/argmax return, the grad_fn name, and x.grad after a backward from torch's
 * upstream gradient. Then: finite-difference gradchecks of every differentiable op in float64
 * (max/min on inputs without ties), hand-worked cases (tie splitting, the variance of values
 * with a large mean, g * inf where torch 1.13 cannot run its own backward), and every bad
 * input with torch's message.
 */
#include "common.h"
#include "fixtures/reductions.h"

#include <stdlib.h>

AG_TEST_SUITE(reductions);

#define NCASES ((int)(sizeof reductions_cases / sizeof reductions_cases[0]))

static int64_t numel_of(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return n;
}

/* A tensor you own of dtype, from numel_of(shape) doubles. */
static ag_tensor *make(ag_dtype dtype, const double *values, int ndim, const int64_t *shape) {
    if (dtype == AG_FLOAT64) return ag_from_data(values, dtype, ndim, shape);
    int64_t n = numel_of(ndim, shape);
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    for (int64_t i = 0; i < n; i++) f[i] = (float)values[i];
    ag_tensor *t = ag_from_data(f, dtype, ndim, shape);
    free(f);
    return t;
}

/* The op a case names, on x with the case's arguments; *indices (may be NULL) receives the
 * indices of max_dim/min_dim. argmax's int64 result is returned as the result. */
static ag_tensor *apply(const reductions_case *c, ag_tensor *x, ag_tensor **indices) {
    const char *op = c->op;
    int dim = c->dim, cor = c->correction;
    bool keep = c->keepdim;
    if (!strcmp(op, "sum")) return ag_sum(x);
    if (!strcmp(op, "sum_dim")) return ag_sum_dim(x, dim, keep);
    if (!strcmp(op, "mean")) return ag_mean(x);
    if (!strcmp(op, "mean_dim")) return ag_mean_dim(x, dim, keep);
    if (!strcmp(op, "var")) return ag_var(x, cor);
    if (!strcmp(op, "var_dim")) return ag_var_dim(x, dim, cor, keep);
    if (!strcmp(op, "std")) return ag_std(x, cor);
    if (!strcmp(op, "std_dim")) return ag_std_dim(x, dim, cor, keep);
    if (!strcmp(op, "max")) return ag_max(x);
    if (!strcmp(op, "max_dim")) return ag_max_dim(x, dim, keep, indices);
    if (!strcmp(op, "min")) return ag_min(x);
    if (!strcmp(op, "min_dim")) return ag_min_dim(x, dim, keep, indices);
    if (!strcmp(op, "argmax")) return ag_argmax(x);
    if (!strcmp(op, "argmax_dim")) return ag_argmax_dim(x, dim, keep);
    if (!strcmp(op, "logsumexp")) return ag_logsumexp(x, dim, keep);
    cr_assert_fail("unknown op %s", op);
    return NULL;
}

/* assert_values, naming the case: NaN matches NaN, an infinity itself. */
static void check_values(const char *name, const char *what, const ag_tensor *t,
                         const double *expected, int64_t n, double atol, double rtol) {
    cr_assert_not_null(t, "%s: %s is NULL (error: %s)", name, what, ag_last_error());
    cr_assert_eq(t->numel, n, "%s: %s has %lld elements, expected %lld", name, what,
                 (long long)t->numel, (long long)n);
    for (int64_t i = 0; i < n; i++) {
        double v = ag_get(t, i), e = expected[i];
        bool ok = (isnan(e) && isnan(v)) || (isinf(e) && v == e) ||
                  (!isinf(e) && fabs(v - e) <= atol + rtol * fabs(e));
        cr_assert(ok, "%s: %s[%lld] is %.17g, expected %.17g", name, what, (long long)i, v, e);
    }
}

static void check_shape(const char *name, const char *what, const ag_tensor *t, int ndim,
                        const int64_t *shape) {
    cr_assert_eq(t->ndim, ndim, "%s: %s has %d dims, expected %d", name, what, t->ndim, ndim);
    for (int d = 0; d < ndim; d++)
        cr_assert_eq(t->shape[d], shape[d], "%s: %s dim %d is %lld, expected %lld", name, what,
                     d, (long long)t->shape[d], (long long)shape[d]);
}

static void check_indices(const char *name, const ag_tensor *t, const int64_t *expected,
                          int64_t n) {
    cr_assert_not_null(t, "%s: indices are NULL", name);
    cr_assert_eq(t->dtype, AG_INT64, "%s: indices are not int64", name);
    cr_assert(!t->requires_grad, "%s: indices require grad", name);
    cr_assert_eq(t->numel, n, "%s: %lld indices, expected %lld", name, (long long)t->numel,
                 (long long)n);
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(AG_I64(t)[i], expected[i], "%s: index %lld is %lld, expected %lld", name,
                     (long long)i, (long long)AG_I64(t)[i], (long long)expected[i]);
}

/* Everything one fixture case says. */
static void check_case(const reductions_case *c) {
    ag_dtype dtype = c->f64 ? AG_FLOAT64 : AG_FLOAT32;
    /* float64: sums of a few terms in another order; float32: torch sums in float where we
     * accumulate in double, and its backward rounds each op in float */
    double atol = c->f64 ? 1e-13 : 1e-6, rtol = c->f64 ? 1e-12 : 2e-6;
    bool differentiable = c->grad_fn != NULL;
    int64_t nx = numel_of(c->xndim, c->xshape), no = numel_of(c->ondim, c->oshape);
    ag_tensor *x = make(dtype, c->x, c->xndim, c->xshape);
    if (differentiable) ag_requires_grad_(x, true);

    ag_tensor *indices = NULL;
    ag_tensor *out = apply(c, x, &indices);
    cr_assert_not_null(out, "%s: NULL (error: %s)", c->name, ag_last_error());
    check_shape(c->name, "out", out, c->ondim, c->oshape);
    if (c->out) {
        cr_assert_eq(out->dtype, dtype, "%s: dtype %s", c->name, ag_dtype_name(out->dtype));
        check_values(c->name, "out", out, c->out, no, atol, rtol);
    }
    if (c->indices) {
        ag_tensor *idx = differentiable ? indices : out;
        check_shape(c->name, "indices", idx, c->ondim, c->oshape);
        check_indices(c->name, idx, c->indices, no);
    }
    if (differentiable) {
        cr_assert_str_eq(ag_grad_fn_name(out), c->grad_fn, "case %s", c->name);
    } else {
        cr_assert_null(ag_grad_fn_name(out), "%s records nothing", c->name);
        cr_assert(!out->requires_grad, "%s: an index does not require grad", c->name);
    }
    if (c->dx) {
        ag_tensor *g = make(dtype, c->g, c->ondim, c->oshape);
        ag_backward_with(out, g, false);
        cr_assert_not_null(x->grad, "%s: x.grad is None", c->name);
        check_shape(c->name, "x.grad", x->grad, c->xndim, c->xshape);
        check_values(c->name, "x.grad", x->grad, c->dx, nx, 10 * atol, 10 * rtol);
        ag_tensor_free(g);
    }
    ag_tensor_free(x);
}

/* Every fixture case whose op is `op` or `op`_dim. */
static void check_cases(const char *op) {
    int checked = 0;
    size_t n = strlen(op);
    for (int k = 0; k < NCASES; k++) {
        const reductions_case *c = reductions_cases[k];
        if (strncmp(c->op, op, n) || (c->op[n] && strcmp(c->op + n, "_dim"))) continue;
        check_case(c);
        ag_tape_reset(NULL);
        checked++;
    }
    cr_assert_gt(checked, 0, "no fixture case for %s", op);
}

/* ---- every case against torch ------------------------------------------------------------- */

Test(reductions, sum_matches_torch) { check_cases("sum"); }
Test(reductions, mean_matches_torch) { check_cases("mean"); }
Test(reductions, var_matches_torch) { check_cases("var"); }
Test(reductions, std_matches_torch) { check_cases("std"); }
Test(reductions, max_matches_torch) { check_cases("max"); }
Test(reductions, min_matches_torch) { check_cases("min"); }
Test(reductions, argmax_matches_torch) { check_cases("argmax"); }
Test(reductions, logsumexp_matches_torch) { check_cases("logsumexp"); }

/* ---- gradchecks (float64, inputs without ties) -------------------------------------------- */

static ag_tensor *apply_fn(ag_tensor *const *in, void *ctx) { return apply(ctx, in[0], NULL); }

/* x: (2, 3, 4), the fixtures' random input (no two elements equal) */
static ag_tensor *random_x(void) {
    return ag_requires_grad_(make(AG_FLOAT64, reductions_var_dim1_c1_f64_x, AG_SHAPE(2, 3, 4)),
                             true);
}

/* gradcheck of op(x, dim, correction, keepdim) on the (2, 3, 4) input */
static void gradcheck_op(const char *op, int dim, int correction, bool keepdim) {
    reductions_case c = {.name = op, .op = op, .dim = dim, .correction = correction,
                         .keepdim = keepdim};
    ag_tensor *x = random_x();
    assert_gradcheck(apply_fn, &c, &x, 1);
    ag_tensor_free(x);
}

Test(reductions, gradcheck_sum) {
    gradcheck_op("sum", 0, 0, false);
    gradcheck_op("sum_dim", 1, 0, false);
    gradcheck_op("sum_dim", -1, 0, true);
}

Test(reductions, gradcheck_mean) {
    gradcheck_op("mean", 0, 0, false);
    gradcheck_op("mean_dim", 1, 0, false);
    gradcheck_op("mean_dim", 0, 0, true);
}

/* var and std (op and op_dim) on the same six argument sets: over everything with c = 0 and
 * 1, along the middle dim with and without keepdim, the last dim, and the first with keepdim.
 * N - c <= 0 makes the forward inf: no finite difference; the fixtures check torch's values. */
static void gradcheck_var_or_std(const char *op, const char *op_dim) {
    gradcheck_op(op, 0, 0, false);
    gradcheck_op(op, 0, 1, false);
    gradcheck_op(op_dim, 1, 0, false);
    gradcheck_op(op_dim, 1, 1, true);
    gradcheck_op(op_dim, -1, 1, false);
    gradcheck_op(op_dim, 0, 0, true);
}

Test(reductions, gradcheck_var) { gradcheck_var_or_std("var", "var_dim"); }
Test(reductions, gradcheck_std) { gradcheck_var_or_std("std", "std_dim"); }

Test(reductions, gradcheck_max_min) {
    gradcheck_op("max", 0, 0, false);
    gradcheck_op("max_dim", 1, 0, false);
    gradcheck_op("max_dim", -1, 0, true);
    gradcheck_op("min", 0, 0, false);
    gradcheck_op("min_dim", 1, 0, false);
    gradcheck_op("min_dim", 0, 0, true);
}

Test(reductions, gradcheck_logsumexp) {
    gradcheck_op("logsumexp", 1, 0, false);
    gradcheck_op("logsumexp", 1, 0, true);
    gradcheck_op("logsumexp", 0, 0, false);
    gradcheck_op("logsumexp", -1, 0, true);
}

/* ---- worked by hand ----------------------------------------------------------------------- */

Test(reductions, keepdim_shapes_of_a_middle_dim) {
    ag_tensor *x = random_x(), *idx;
    ASSERT_SHAPE(ag_sum_dim(x, 1, true), 2, 1, 4);
    ASSERT_SHAPE(ag_sum_dim(x, 1, false), 2, 4);
    ASSERT_SHAPE(ag_mean_dim(x, -2, true), 2, 1, 4);
    ASSERT_SHAPE(ag_var_dim(x, 1, 1, true), 2, 1, 4);
    ASSERT_SHAPE(ag_std_dim(x, 1, 0, false), 2, 4);
    ASSERT_SHAPE(ag_max_dim(x, 1, true, &idx), 2, 1, 4);
    ASSERT_SHAPE(idx, 2, 1, 4);
    ASSERT_SHAPE(ag_min_dim(x, 1, false, &idx), 2, 4);
    ASSERT_SHAPE(idx, 2, 4);
    ASSERT_SHAPE(ag_argmax_dim(x, 1, true), 2, 1, 4);
    ASSERT_SHAPE(ag_logsumexp(x, 1, false), 2, 4);
    ASSERT_SCALAR_SHAPE(ag_var(x, 1));
    ASSERT_SCALAR_SHAPE(ag_argmax(x));
    ag_tensor_free(x);
}

Test(reductions, grad_fn_names) {
    ag_tensor *x = random_x();
    cr_assert_str_eq(ag_grad_fn_name(ag_sum(x)), "SumBackward0");
    cr_assert_str_eq(ag_grad_fn_name(ag_sum_dim(x, 1, false)), "SumBackward1");
    cr_assert_str_eq(ag_grad_fn_name(ag_mean(x)), "MeanBackward0");
    cr_assert_str_eq(ag_grad_fn_name(ag_mean_dim(x, 1, false)), "MeanBackward1");
    cr_assert_str_eq(ag_grad_fn_name(ag_var(x, 1)), "VarBackward0");
    cr_assert_str_eq(ag_grad_fn_name(ag_var_dim(x, 1, 1, false)), "VarBackward0");
    cr_assert_str_eq(ag_grad_fn_name(ag_std(x, 1)), "StdBackward0");
    cr_assert_str_eq(ag_grad_fn_name(ag_std_dim(x, 1, 1, false)), "StdBackward0");
    cr_assert_str_eq(ag_grad_fn_name(ag_max(x)), "MaxBackward1");
    cr_assert_str_eq(ag_grad_fn_name(ag_max_dim(x, 1, false, NULL)), "MaxBackward0");
    cr_assert_str_eq(ag_grad_fn_name(ag_min(x)), "MinBackward1");
    cr_assert_str_eq(ag_grad_fn_name(ag_min_dim(x, 1, false, NULL)), "MinBackward0");
    cr_assert_str_eq(ag_grad_fn_name(ag_logsumexp(x, 1, false)), "LogsumexpBackward0");
    cr_assert_null(ag_grad_fn_name(ag_argmax(x)));
    cr_assert_null(ag_grad_fn_name(ag_argmax_dim(x, 1, false)));
    ag_tensor_free(x);
}

Test(reductions, max_splits_g_among_ties_and_max_dim_gives_it_to_the_first) {
    /* x = [[3, 1, 3], [0, 3, 2]]: three elements tie for the max */
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(3, 1, 3, 0, 3, 2), true);
    ag_tensor *x2 = ag_reshape(x, AG_SHAPE(2, 3)), *idx;
    ag_backward(ag_mul_scalar(ag_max(x2), 6));
    ASSERT_VALUES(x->grad, 0, 0, 2, 0, 2, 0, 2, 0);
    ag_set_grad_none(x);
    /* along dim 1: row 0's first 3 (index 0) and row 1's 3 (index 1) */
    ag_tensor *m = ag_max_dim(x2, 1, false, &idx);
    ASSERT_VALUES(m, 0, 0, 3, 3);
    cr_assert_eq(AG_I64(idx)[0], 0);
    cr_assert_eq(AG_I64(idx)[1], 1);
    ag_backward(ag_sum(m));
    ASSERT_VALUES(x->grad, 0, 0, 1, 0, 0, 0, 1, 0);
    ag_tensor_free(x);
}

Test(reductions, min_with_nan_returns_nan_and_the_first_nan) {
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(1, NAN, -2, NAN), true), *idx;
    cr_assert(isnan(ag_item(ag_min(x))));
    ag_tensor *m = ag_min_dim(x, 0, false, &idx);
    cr_assert(isnan(ag_item(m)));
    cr_assert_eq(AG_I64(idx)[0], 1);
    cr_assert_eq(ag_item(ag_argmax(x)), 1);
    ag_backward(m);
    ASSERT_VALUES(x->grad, 0, 0, 0, 1, 0, 0);
    ag_tensor_free(x);
}

Test(reductions, var_of_values_with_a_large_mean) {
    /* one-pass sum(x^2) - N mean^2 would lose every digit here; two passes keep them */
    ag_tensor *x = f64_tensor((const double[]){1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4}, AG_SHAPE(4));
    ASSERT_VALUES(ag_var(x, 0), 0, 1e-15, 1.25);
    ASSERT_VALUES(ag_var(x, 1), 0, 1e-15, 5.0 / 3.0);
    ASSERT_VALUES(ag_std(x, 0), 0, 1e-15, sqrt(1.25));
    ag_tensor *y = AG_TENSOR(10001, 10002, 10003, 10004); /* float32 */
    ASSERT_VALUES(ag_var_dim(y, 0, 1, false), 0, 1e-7, 5.0 / 3.0);
    ag_tensor_free(x), ag_tensor_free(y);
}

Test(reductions, var_over_everything_with_n_equal_to_correction_gives_g_times_inf) {
    /* torch 1.13 computes g * inf here and then fails its own shape check ("VarBackward0
     * returned an invalid gradient ... got [] but expected shape compatible with [2]"); we
     * deliver its value to every element. A 0-d x (where torch succeeds) is in the fixtures. */
    ag_tensor *x = ag_requires_grad_(f64_tensor((const double[]){1.5, 2}, AG_SHAPE(2)), true);
    ag_tensor *g = ag_scalar(-0.5, AG_FLOAT64);
    ag_tensor *v = ag_var(x, 2);
    ASSERT_VALUES(v, 0, 0, INFINITY);
    ag_backward_with(v, g, false);
    ASSERT_VALUES(x->grad, 0, 0, -INFINITY, -INFINITY);
    ag_set_grad_none(x);
    ag_tensor *one = ag_requires_grad_(f64_tensor((const double[]){1.5}, AG_SHAPE(1)), true);
    v = ag_var(one, 1);
    ASSERT_VALUES(v, 0, 0, NAN);
    ag_backward(v);
    ASSERT_VALUES(one->grad, 0, 0, INFINITY);
    /* std: g / (2 std) = g / inf = 0, times inf: NaN */
    ag_tensor *s = ag_std(x, 2);
    ASSERT_VALUES(s, 0, 0, INFINITY);
    ag_backward_with(s, g, false);
    ASSERT_VALUES(x->grad, 0, 0, NAN, NAN);
    ag_tensor_free(x), ag_tensor_free(g), ag_tensor_free(one);
}

Test(reductions, std_of_equal_elements_has_zero_gradient) {
    /* d std / dx is 0 / 0 there; torch sets it to 0 */
    ag_tensor *x = ag_requires_grad_(f64_tensor((const double[]){2, 2, 2}, AG_SHAPE(3)), true);
    ag_tensor *s = ag_std(x, 1);
    ASSERT_VALUES(s, 0, 0, 0);
    ag_backward(s);
    ASSERT_VALUES(x->grad, 0, 0, 0, 0, 0);
    ag_tensor_free(x);
}

Test(reductions, logsumexp_is_stable_and_its_gradient_is_softmax) {
    /* e^1000 overflows a double; logsumexp([1000, 1000, 1000 + ln 2]) = 1000 + ln 4 does not */
    ag_tensor *x = ag_requires_grad_(
        f64_tensor((const double[]){1000, 1000, 1000 + log(2.0)}, AG_SHAPE(3)), true);
    ag_tensor *y = ag_logsumexp(x, 0, false);
    ASSERT_VALUES(y, 0, 1e-15, 1000 + log(4.0));
    ag_backward(y);
    ASSERT_VALUES(x->grad, 1e-13, 0, 0.25, 0.25, 0.5);
    ag_tensor_free(x);
}

Test(reductions, fan_out_through_two_reductions_adds) {
    /* var(x) + max(x) on x = [1, 4, 2] (var with c = 0: mean 7/3): each node adds its share,
     * d var / dx = 2 (x - 7/3) / 3, d max / dx = [0, 1, 0] */
    ag_tensor *x = ag_requires_grad_(f64_tensor((const double[]){1, 4, 2}, AG_SHAPE(3)), true);
    ag_backward(ag_add(ag_var(x, 0), ag_max(x)));
    ASSERT_VALUES(x->grad, 1e-15, 1e-15, -8.0 / 9, 10.0 / 9 + 1, -2.0 / 9);
    ag_tensor_free(x);
}

Test(reductions, argmax_records_nothing_and_takes_int64) {
    ag_tensor *x = random_x();
    int64_t before = ag_tape_size(NULL);
    ag_tensor *a = ag_argmax(x), *b = ag_argmax_dim(x, 1, false);
    cr_assert_eq(ag_tape_size(NULL), before);
    cr_assert(!a->requires_grad && !b->requires_grad);
    cr_assert_eq(a->dtype, AG_INT64);
    ag_tensor *labels = AG_INDEX(3, 9, 9, -4);
    cr_assert_eq(ag_item(ag_argmax(labels)), 1);
    ag_tensor *big = AG_INDEX(INT64_MAX - 1, INT64_MAX, INT64_MAX - 2); /* equal as doubles */
    cr_assert_eq(ag_item(ag_argmax_dim(big, 0, false)), 1);
    ag_tensor_free(x), ag_tensor_free(labels), ag_tensor_free(big);
}

Test(reductions, no_grad_records_nothing) {
    ag_tensor *x = random_x(), *idx;
    int64_t before = ag_tape_size(NULL);
    AG_NO_GRAD {
        cr_assert(!ag_var(x, 1)->requires_grad);
        cr_assert(!ag_std_dim(x, 1, 1, false)->requires_grad);
        cr_assert(!ag_max_dim(x, 1, false, &idx)->requires_grad);
        cr_assert_not_null(idx, "indices are returned in no-grad too");
        cr_assert(!ag_min(x)->requires_grad);
        cr_assert(!ag_logsumexp(x, 1, false)->requires_grad);
    }
    cr_assert_eq(ag_tape_size(NULL), before);
    ag_tensor_free(x);
}

Test(reductions, max_dim_backward_checks_its_saved_indices) {
    /* the indices are saved for backward: changing them in place is caught, as in torch */
    ag_tensor *x = random_x(), *idx;
    ag_tensor *m = ag_max_dim(x, 1, false, &idx);
    AG_NO_GRAD { ag_zero_(idx); }
    EXPECT_ERROR(ag_backward(ag_sum(m)), "modified by an inplace operation");
    ag_tensor_free(x);
}

/* ---- bad input ---------------------------------------------------------------------------- */

Test(reductions, bad_dims_in_torchs_words) {
    ag_tensor *x = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 3)), *s = ag_scalar(1, AG_FLOAT32), *idx;
    const char *two = "Dimension out of range (expected to be in range of [-2, 1], but got 2)";
    EXPECT_ERROR(ag_sum_dim(x, 2, false), two);
    EXPECT_ERROR(ag_mean_dim(x, 2, true), two);
    EXPECT_ERROR(ag_var_dim(x, 2, 1, false), two);
    EXPECT_ERROR(ag_std_dim(x, 2, 1, false), two);
    EXPECT_ERROR(ag_max_dim(x, 2, false, &idx), two);
    EXPECT_ERROR(ag_min_dim(x, 2, false, NULL), two);
    EXPECT_ERROR(ag_argmax_dim(x, 2, false), two);
    EXPECT_ERROR(ag_logsumexp(x, 2, false), two);
    EXPECT_ERROR(ag_var_dim(x, -3, 1, false),
                 "Dimension out of range (expected to be in range of [-2, 1], but got -3)");
    const char *scalar = "Dimension out of range (expected to be in range of [-1, 0], but got 1)";
    EXPECT_ERROR(ag_sum_dim(s, 1, false), scalar);
    EXPECT_ERROR(ag_mean_dim(s, 1, false), scalar);
    EXPECT_ERROR(ag_std_dim(s, 1, 0, false), scalar);
    EXPECT_ERROR(ag_max_dim(s, 1, false, NULL), scalar);
    EXPECT_ERROR(ag_logsumexp(s, -2, false),
                 "Dimension out of range (expected to be in range of [-1, 0], but got -2)");
    ag_tensor_free(x), ag_tensor_free(s);
}

Test(reductions, a_failed_max_dim_leaves_indices_alone) {
    ag_tensor *x = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 3)), *idx = x;
    EXPECT_ERROR(ag_max_dim(x, 5, false, &idx), "Dimension out of range");
    cr_assert_eq(idx, x);
    ag_tensor_free(x);
}

Test(reductions, empty_inputs_in_torchs_words) {
    ag_tensor *e = ag_zeros(AG_FLOAT32, AG_SHAPE(0)), *e2 = ag_zeros(AG_FLOAT32, AG_SHAPE(0, 3));
    EXPECT_ERROR(ag_max(e), "max(): Expected reduction dim to be specified for input.numel() == "
                            "0. Specify the reduction dim with the 'dim' argument.");
    EXPECT_ERROR(ag_min(e2), "min(): Expected reduction dim to be specified for input.numel() "
                             "== 0. Specify the reduction dim with the 'dim' argument.");
    EXPECT_ERROR(ag_argmax(e), "argmax(): Expected reduction dim to be specified for "
                               "input.numel() == 0.");
    EXPECT_ERROR(ag_max_dim(e2, -2, false, NULL),
                 "max(): Expected reduction dim 0 to have non-zero size.");
    EXPECT_ERROR(ag_min_dim(e2, 0, true, NULL),
                 "min(): Expected reduction dim 0 to have non-zero size.");
    EXPECT_ERROR(ag_argmax_dim(e2, 0, false),
                 "argmax(): Expected reduction dim 0 to have non-zero size.");
    /* what torch accepts: the sum of nothing is 0, its mean and var NaN, its logsumexp -inf */
    ASSERT_VALUES(ag_sum(e), 0, 0, 0);
    ASSERT_VALUES(ag_mean(e), 0, 0, NAN);
    ASSERT_VALUES(ag_var(e, 1), 0, 0, NAN);
    ASSERT_VALUES(ag_std(e, 0), 0, 0, NAN);
    ASSERT_VALUES(ag_logsumexp(e, 0, false), 0, 0, -INFINITY);
    ag_tensor_free(e), ag_tensor_free(e2);
}

Test(reductions, wrong_dtypes_and_null_in_torchs_words) {
    ag_tensor *i = AG_INDEX(1, 2, 3);
    const char *floating = "expected a floating point tensor";
    EXPECT_ERROR(ag_sum(i), floating);
    EXPECT_ERROR(ag_mean_dim(i, 0, false), floating);
    EXPECT_ERROR(ag_var(i, 1), "std and var only support floating point and complex dtypes");
    EXPECT_ERROR(ag_std_dim(i, 0, 1, false),
                 "std and var only support floating point and complex dtypes");
    EXPECT_ERROR(ag_max(i), floating);
    EXPECT_ERROR(ag_min_dim(i, 0, false, NULL), floating);
    EXPECT_ERROR(ag_logsumexp(i, 0, false), floating);
    const char *null = "argument 'input' must be a tensor, not NULL";
    EXPECT_ERROR(ag_var(NULL, 1), null);
    EXPECT_ERROR(ag_std_dim(NULL, 0, 1, false), null);
    EXPECT_ERROR(ag_max(NULL), null);
    EXPECT_ERROR(ag_min_dim(NULL, 0, false, NULL), null);
    EXPECT_ERROR(ag_argmax(NULL), null);
    EXPECT_ERROR(ag_argmax_dim(NULL, 0, false), null);
    EXPECT_ERROR(ag_logsumexp(NULL, 0, false), null);
    EXPECT_ERROR(ag_sum(NULL), "must be a tensor, not NULL");
    EXPECT_ERROR(ag_mean_dim(NULL, 0, false), "must be a tensor, not NULL");
    ag_tensor_free(i);
}
