/*
 * test_shape.c - the shape ops: reshape, view, flatten, squeeze, unsqueeze (views sharing x's
 * data), transpose, permute, expand, select, slice, index_select, gather, cat, stack (copies).
 *
 * Per op: forward values (by hand, or PyTorch's from tests/fixtures/shape.h), a float64
 * gradcheck, backward values against PyTorch (loss = sum(op(x) * w) with a ramp w), bad
 * inputs with PyTorch 1.13's messages, and the grad_fn name. The views are also checked to
 * share data and version counter with x: an in-place change of x is seen through them, and a
 * node that saved a view notices it.
 */
#include "common.h"

#include "fixtures/shape.h"

AG_TEST_SUITE(shape);

#define NUMEL(array) ((int64_t)(sizeof(array) / sizeof((array)[0])))
/* t equals a fixture array (exact: these ops move numbers, and the sums are of a few terms) */
#define ASSERT_FIXTURE(t, array) assert_values(t, array, NUMEL(array), 1e-12, 1e-12)

/* A float64 tensor you own, requiring grad. */
static ag_tensor *param(const double *values, int ndim, const int64_t *shape) {
    return ag_requires_grad_(f64_tensor(values, ndim, shape), true);
}

/* 0, 1, 2, ... as float64, shaped; yours, requiring grad if asked. */
static ag_tensor *ramp(bool grad, int ndim, const int64_t *shape) {
    ag_tensor *t = ag_zeros(AG_FLOAT64, ndim, shape);
    for (int64_t i = 0; i < t->numel; i++) AG_F64(t)[i] = (double)i * 0.5 - 1.0;
    return grad ? ag_requires_grad_(t, true) : t;
}

/* backward of sum(out * w), with w (a fixture array) given out's shape */
static void backward_weighted(ag_tensor *out, const double *w) {
    cr_assert_not_null(out, "op failed: %s", ag_last_error());
    ag_tensor *wt = f64_tensor(w, out->ndim, out->shape);
    ag_backward(ag_sum(ag_mul(out, wt)));
    ag_tensor_free(wt);
}

static void assert_grad_fn(const ag_tensor *t, const char *name) {
    cr_assert_not_null(t, "op failed: %s", ag_last_error());
    cr_assert_not_null(ag_grad_fn_name(t), "no grad_fn, expected %s", name);
    cr_assert_str_eq(ag_grad_fn_name(t), name);
}

/* ---- reshape and view ------------------------------------------------------------------ */

Test(shape, reshape_and_view_share_data_and_infer_minus_one) {
    ag_tensor *x = ag_arange(0, 6, 1, AG_FLOAT32);
    ag_tensor *r = ag_reshape(x, AG_SHAPE(3, -1));
    ASSERT_SHAPE(r, 3, 2);
    ASSERT_VALUES(r, 0, 0, 0, 1, 2, 3, 4, 5);
    cr_assert_eq(r->data, x->data, "reshape must alias x's data");
    cr_assert_eq(r->base, x);
    ag_tensor *v = ag_view(r, AG_SHAPE(-1, 1, 3));
    ASSERT_SHAPE(v, 2, 1, 3);
    cr_assert_eq(v->data, x->data);
    cr_assert_eq(v->base, x, "a view of a view aliases the first base");
    ag_tensor *sc = ag_reshape(ag_slice(x, 0, 2, 3, 1), AG_SCALAR_SHAPE); /* one element */
    ASSERT_SCALAR_SHAPE(sc);
    ASSERT_VALUES(sc, 0, 0, 2);
    ASSERT_SHAPE(ag_view(sc, AG_SHAPE(-1)), 1);
    cr_assert(!r->requires_grad && r->grad_fn == NULL, "x needs no grad: nothing recorded");
    ag_tensor_free(x);
}

Test(shape, reshape_and_view_grad_fn_and_backward) {
    ag_tensor *x = param((const double[]){1, 2, 3, 4, 5, 6}, AG_SHAPE(2, 3));
    ag_tensor *r = ag_reshape(x, AG_SHAPE(3, 2));
    ag_tensor *v = ag_view(x, AG_SHAPE(6));
    assert_grad_fn(r, "ReshapeAliasBackward0");
    assert_grad_fn(v, "ViewBackward0");
    ag_tensor *w = f64_tensor((const double[]){1, 2, 3, 4, 5, 6}, AG_SHAPE(3, 2));
    ag_tensor *u = f64_tensor((const double[]){10, 20, 30, 40, 50, 60}, AG_SHAPE(6));
    /* fan-out through two different views: dx = w + u, element by element in row-major order */
    ag_backward(ag_add(ag_sum(ag_mul(r, w)), ag_sum(ag_mul(v, u))));
    ASSERT_SHAPE(x->grad, 2, 3);
    ASSERT_VALUES(x->grad, 0, 0, 11, 22, 33, 44, 55, 66);
    ag_tensor_free(x), ag_tensor_free(w), ag_tensor_free(u);
}

/* A view's result aliases its input, so gradcheck's f squares it into a fresh tensor: the
 * finite differences must not read an output that a later nudge of x has changed. */
static ag_tensor *f_reshape(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_pow_scalar(ag_reshape(in[0], AG_SHAPE(4, -1)), 2);
}
static ag_tensor *f_view(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_pow_scalar(ag_view(in[0], AG_SHAPE(-1)), 2);
}

Test(shape, reshape_and_view_gradcheck) {
    ag_tensor *x = ramp(true, AG_SHAPE(2, 3, 2));
    assert_gradcheck(f_reshape, NULL, &x, 1);
    assert_gradcheck(f_view, NULL, &x, 1);
    ag_tensor_free(x);
}

Test(shape, reshape_and_view_bad_shapes) {
    ag_tensor *x = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 3));
    ag_tensor *e = ag_zeros(AG_FLOAT32, AG_SHAPE(0, 3));
    EXPECT_ERROR(ag_reshape(x, AG_SHAPE(2, 5)), "shape '[2, 5]' is invalid for input of size 6");
    EXPECT_ERROR(ag_view(x, AG_SHAPE(2, 5)), "shape '[2, 5]' is invalid for input of size 6");
    EXPECT_ERROR(ag_reshape(x, AG_SHAPE(-1, -1)), "only one dimension can be inferred");
    EXPECT_ERROR(ag_view(x, AG_SHAPE(4, -1)), "shape '[4, -1]' is invalid for input of size 6");
    EXPECT_ERROR(ag_reshape(x, AG_SHAPE(0, -1)), "shape '[0, -1]' is invalid for input of size 6");
    EXPECT_ERROR(ag_reshape(x, AG_SHAPE(-2, 3)), "invalid shape dimension -2");
    EXPECT_ERROR(ag_reshape(e, AG_SHAPE(0, -1)),
                 "cannot reshape tensor of 0 elements into shape [0, -1] because the unspecified "
                 "dimension size -1 can be any value and is ambiguous");
    EXPECT_ERROR(ag_reshape(NULL, AG_SHAPE(6)), "argument 'self' must be a tensor, not NULL");
    EXPECT_ERROR(ag_reshape(x, 9, (const int64_t[]){1, 1, 1, 1, 1, 1, 1, 2, 3}),
                 "at most 8 dims");
    /* a huge product is rejected, not overflowed */
    EXPECT_ERROR(ag_reshape(x, AG_SHAPE(INT64_MAX, 4, -1)), "is invalid for input of size 6");
    ASSERT_SHAPE(ag_reshape(e, AG_SHAPE(3, 0, 2)), 3, 0, 2);
    ag_tensor_free(x), ag_tensor_free(e);
}

Test(shape, in_place_change_of_x_is_seen_through_its_views) {
    ag_tensor *x = param((const double[]){1, 2, 3, 4, 5, 6}, AG_SHAPE(2, 3));
    ag_tensor *views[] = {
        ag_reshape(x, AG_SHAPE(3, 2)), ag_view(x, AG_SHAPE(6)),     ag_flatten(x, 0, -1),
        ag_unsqueeze(x, 1),            ag_squeeze(ag_unsqueeze(x, 0)), ag_squeeze_dim(x, 0),
    };
    uint64_t before = x->version;
    for (int k = 0; k < 6; k++) {
        cr_assert_eq(views[k]->base, x, "view %d", k);
        cr_assert_eq(views[k]->data, x->data, "view %d", k);
        cr_assert(views[k]->requires_grad, "a view of x is differentiable (view %d)", k);
    }
    AG_NO_GRAD { ag_add_scalar_(x, 10); }
    cr_assert_eq(x->version, before + 1);
    for (int k = 0; k < 6; k++) {
        cr_assert_eq(views[k]->base->version, before + 1, "view %d shares x's version", k);
        ASSERT_VALUES(views[k], 0, 0, 11, 12, 13, 14, 15, 16);
    }
    /* writing through a view changes x, and bumps the shared counter */
    AG_NO_GRAD { ag_mul_scalar_(views[0], 2); }
    ASSERT_VALUES(x, 0, 0, 22, 24, 26, 28, 30, 32);
    cr_assert_eq(x->version, before + 2);
    ag_tensor_free(x);
}

Test(shape, node_that_saved_a_view_notices_an_in_place_change_of_x) {
    ag_tensor *x = param((const double[]){1, 2, 3, 4}, AG_SHAPE(2, 2));
    ag_tensor *v = ag_reshape(x, AG_SHAPE(4));
    ag_tensor *loss = ag_sum(ag_mul(v, v)); /* mul saves v */
    AG_NO_GRAD { ag_add_scalar_(x, 1); }
    EXPECT_ERROR(ag_backward(loss), "modified by an inplace operation");
    ag_tensor_free(x);
}

/* ---- flatten --------------------------------------------------------------------------- */

static ag_tensor *f_flatten(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_pow_scalar(ag_flatten(in[0], 1, 2), 2);
}

Test(shape, flatten) {
    ag_tensor *x = ramp(true, AG_SHAPE(2, 3, 4, 1));
    ASSERT_SHAPE(ag_flatten(x, 1, 2), 2, 12, 1);
    ASSERT_SHAPE(ag_flatten(x, 0, -1), 24);
    ASSERT_SHAPE(ag_flatten(x, -2, -1), 2, 3, 4);
    ASSERT_SHAPE(ag_flatten(x, 2, 2), 2, 3, 4, 1);
    ag_tensor *f = ag_flatten(x, 0, 1);
    ASSERT_SHAPE(f, 6, 4, 1);
    cr_assert_eq(f->data, x->data);
    assert_grad_fn(f, "ReshapeAliasBackward0");
    assert_grad_fn(ag_flatten(x, 2, 2), "ReshapeAliasBackward0");
    ag_tensor *s = ag_scalar(3, AG_FLOAT64);
    ag_tensor *fs = ag_flatten(s, 0, -1);
    ASSERT_SHAPE(fs, 1);
    ASSERT_VALUES(fs, 0, 0, 3);
    assert_gradcheck(f_flatten, NULL, &x, 1);
    EXPECT_ERROR(ag_flatten(x, 2, 1),
                 "flatten() has invalid args: start_dim cannot come after end_dim");
    EXPECT_ERROR(ag_flatten(x, -5, 1),
                 "Dimension out of range (expected to be in range of [-4, 3], but got -5)");
    ag_tensor_free(x), ag_tensor_free(s);
}

/* ---- squeeze and unsqueeze ------------------------------------------------------------- */

static ag_tensor *f_squeeze(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_pow_scalar(ag_squeeze(in[0]), 2);
}
static ag_tensor *f_squeeze_dim(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_pow_scalar(ag_squeeze_dim(in[0], -2), 2);
}
static ag_tensor *f_unsqueeze(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_pow_scalar(ag_unsqueeze(in[0], 1), 2);
}

Test(shape, squeeze) {
    ag_tensor *x = ramp(true, AG_SHAPE(1, 3, 1, 2));
    ag_tensor *s = ag_squeeze(x);
    ASSERT_SHAPE(s, 3, 2);
    ASSERT_VALUES(s, 0, 0, -1, -0.5, 0, 0.5, 1, 1.5);
    assert_grad_fn(s, "SqueezeBackward0");
    ASSERT_SHAPE(ag_squeeze_dim(x, 0), 3, 1, 2);
    ASSERT_SHAPE(ag_squeeze_dim(x, -2), 1, 3, 2);
    ASSERT_SHAPE(ag_squeeze_dim(x, 1), 1, 3, 1, 2); /* size 3: unchanged, as torch */
    assert_grad_fn(ag_squeeze_dim(x, 1), "SqueezeBackward1");
    ag_tensor *one = ag_ones(AG_FLOAT32, AG_SHAPE(1, 1));
    ASSERT_SCALAR_SHAPE(ag_squeeze(one));
    ag_tensor *c = ag_scalar(2, AG_FLOAT32);
    ASSERT_SCALAR_SHAPE(ag_squeeze(c));
    ASSERT_SCALAR_SHAPE(ag_squeeze_dim(c, -1));
    assert_gradcheck(f_squeeze, NULL, &x, 1);
    assert_gradcheck(f_squeeze_dim, NULL, &x, 1);
    EXPECT_ERROR(ag_squeeze_dim(x, 4),
                 "Dimension out of range (expected to be in range of [-4, 3], but got 4)");
    EXPECT_ERROR(ag_squeeze_dim(c, 1),
                 "Dimension out of range (expected to be in range of [-1, 0], but got 1)");
    ag_tensor_free(x), ag_tensor_free(one), ag_tensor_free(c);
}

Test(shape, unsqueeze) {
    ag_tensor *x = ramp(true, AG_SHAPE(2, 3));
    ASSERT_SHAPE(ag_unsqueeze(x, 0), 1, 2, 3);
    ASSERT_SHAPE(ag_unsqueeze(x, 2), 2, 3, 1);
    ASSERT_SHAPE(ag_unsqueeze(x, -1), 2, 3, 1);
    ASSERT_SHAPE(ag_unsqueeze(x, -3), 1, 2, 3);
    ag_tensor *u = ag_unsqueeze(x, 1);
    ASSERT_SHAPE(u, 2, 1, 3);
    ASSERT_VALUES(u, 0, 0, -1, -0.5, 0, 0.5, 1, 1.5);
    assert_grad_fn(u, "UnsqueezeBackward0");
    ag_tensor *c = ag_scalar(2, AG_FLOAT32);
    ASSERT_SHAPE(ag_unsqueeze(c, 0), 1);
    ASSERT_SHAPE(ag_unsqueeze(c, -1), 1);
    assert_gradcheck(f_unsqueeze, NULL, &x, 1);
    EXPECT_ERROR(ag_unsqueeze(x, 3),
                 "Dimension out of range (expected to be in range of [-3, 2], but got 3)");
    EXPECT_ERROR(ag_unsqueeze(x, -4),
                 "Dimension out of range (expected to be in range of [-3, 2], but got -4)");
    EXPECT_ERROR(ag_unsqueeze(c, 1),
                 "Dimension out of range (expected to be in range of [-1, 0], but got 1)");
    ag_tensor *big = ag_zeros(AG_FLOAT32, AG_SHAPE(1, 1, 1, 1, 1, 1, 1, 2));
    EXPECT_ERROR(ag_unsqueeze(big, 0), "at most 8 dims");
    ag_tensor_free(x), ag_tensor_free(c), ag_tensor_free(big);
}

/* ---- transpose and permute ------------------------------------------------------------- */

static ag_tensor *f_transpose(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_transpose(in[0], 0, -1);
}
static ag_tensor *f_permute(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_permute(in[0], 3, (const int[]){2, 0, 1});
}

Test(shape, transpose_matches_pytorch) {
    ag_tensor *x = param(transpose_x0, AG_SHAPE(2, 3, 4));
    ag_tensor *t = ag_transpose(x, 0, 2);
    ASSERT_SHAPE(t, 4, 3, 2);
    ASSERT_FIXTURE(t, transpose_out);
    assert_grad_fn(t, "TransposeBackward0");
    backward_weighted(t, transpose_w);
    ASSERT_FIXTURE(x->grad, transpose_dx0);
    assert_gradcheck(f_transpose, NULL, &x, 1);
    ag_tensor_free(x);
}

Test(shape, transpose_is_a_copy_and_checks_dims) {
    ag_tensor *x = ag_arange(0, 6, 1, AG_FLOAT32);
    ag_tensor *m = ag_reshape(x, AG_SHAPE(2, 3));
    ag_tensor *t = ag_transpose(m, 1, 0);
    ASSERT_SHAPE(t, 3, 2);
    ASSERT_VALUES(t, 0, 0, 0, 3, 1, 4, 2, 5);
    cr_assert_neq(t->data, x->data, "transpose copies (a documented deviation)");
    ASSERT_VALUES(ag_transpose(m, 1, 1), 0, 0, 0, 1, 2, 3, 4, 5);
    ag_tensor *c = ag_scalar(7, AG_FLOAT64);
    ASSERT_SCALAR_SHAPE(ag_transpose(c, 0, -1));
    EXPECT_ERROR(ag_transpose(m, 0, 2),
                 "Dimension out of range (expected to be in range of [-2, 1], but got 2)");
    ag_tensor_free(x), ag_tensor_free(c);
}

Test(shape, permute_3d_matches_pytorch) {
    ag_tensor *x = param(permute_x0, AG_SHAPE(2, 3, 4));
    ag_tensor *p = ag_permute(x, 3, (const int[]){2, 0, 1});
    ASSERT_SHAPE(p, 4, 2, 3);
    ASSERT_FIXTURE(p, permute_out);
    assert_grad_fn(p, "PermuteBackward0");
    backward_weighted(p, permute_w);
    ASSERT_FIXTURE(x->grad, permute_dx0);
    assert_gradcheck(f_permute, NULL, &x, 1);
    ag_tensor_free(x);
}

Test(shape, permute_bad_dims) {
    ag_tensor *x = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 3));
    EXPECT_ERROR(ag_permute(x, 2, (const int[]){0, 0}),
                 "permute(): duplicate dims are not allowed.");
    EXPECT_ERROR(ag_permute(x, 2, (const int[]){1, -1}),
                 "permute(): duplicate dims are not allowed.");
    EXPECT_ERROR(ag_permute(x, 1, (const int[]){0}),
                 "number of dimensions in the tensor input does not match the length of the "
                 "desired ordering of dimensions i.e. input.dim() = 2 is not equal to "
                 "len(dims) = 1");
    EXPECT_ERROR(ag_permute(x, 2, (const int[]){0, 2}),
                 "Dimension out of range (expected to be in range of [-2, 1], but got 2)");
    ASSERT_SHAPE(ag_permute(x, 2, (const int[]){-1, 0}), 3, 2);
    ag_tensor *c = ag_scalar(7, AG_FLOAT64);
    ASSERT_VALUES(ag_permute(c, 0, NULL), 0, 0, 7);
    ag_tensor_free(x), ag_tensor_free(c);
}

/* ---- expand ---------------------------------------------------------------------------- */

static ag_tensor *f_expand(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_expand(in[0], AG_SHAPE(2, -1, 4));
}

Test(shape, expand_matches_pytorch) {
    ag_tensor *x = param(expand_x0, AG_SHAPE(3, 1));
    ag_tensor *e = ag_expand(x, AG_SHAPE(2, 3, 4));
    ASSERT_SHAPE(e, 2, 3, 4);
    ASSERT_FIXTURE(e, expand_out);
    assert_grad_fn(e, "ExpandBackward0");
    backward_weighted(e, expand_w);
    ASSERT_FIXTURE(x->grad, expand_dx0);
    assert_gradcheck(f_expand, NULL, &x, 1);
    ag_tensor_free(x);
}

Test(shape, expand_sizes_and_errors) {
    ag_tensor *x = ag_from_data((const float[]){1, 2, 3}, AG_FLOAT32, AG_SHAPE(3));
    ag_tensor *e = ag_expand(x, AG_SHAPE(2, -1));
    ASSERT_SHAPE(e, 2, 3);
    ASSERT_VALUES(e, 0, 0, 1, 2, 3, 1, 2, 3);
    ASSERT_SHAPE(ag_expand(x, AG_SHAPE(3)), 3);
    ASSERT_SHAPE(ag_expand(x, AG_SHAPE(0, 3)), 0, 3);
    ag_tensor *c = ag_scalar(5, AG_FLOAT32);
    ASSERT_VALUES(ag_expand(c, AG_SHAPE(2, 2)), 0, 0, 5, 5, 5, 5);
    ASSERT_SCALAR_SHAPE(ag_expand(c, AG_SCALAR_SHAPE));
    EXPECT_ERROR(ag_expand(x, AG_SHAPE(2, 4)),
                 "The expanded size of the tensor (4) must match the existing size (3) at "
                 "non-singleton dimension 1.  Target sizes: [2, 4].  Tensor sizes: [3]");
    EXPECT_ERROR(ag_expand(x, AG_SHAPE(-1, 3)),
                 "The expanded size of the tensor (-1) isn't allowed in a leading, non-existing "
                 "dimension 0");
    ag_tensor *m = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 3));
    EXPECT_ERROR(ag_expand(m, AG_SHAPE(3)),
                 "expand(torch.FloatTensor{[2, 3]}, size=[3]): the number of sizes provided (1) "
                 "must be greater or equal to the number of dimensions in the tensor (2)");
    EXPECT_ERROR(ag_expand(c, AG_SHAPE(-2, 3)), "negative dimension -2");
    EXPECT_ERROR(ag_expand(c, AG_SHAPE(INT64_MAX, 4)), "numel: integer multiplication overflow");
    ag_tensor_free(x), ag_tensor_free(c), ag_tensor_free(m);
}

/* ---- select and slice ------------------------------------------------------------------ */

static ag_tensor *f_select(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_select(in[0], 1, -2);
}
static ag_tensor *f_slice(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_slice(in[0], 1, 1, INT64_MAX, 2);
}

Test(shape, select_matches_pytorch) {
    ag_tensor *x = param(select_x0, AG_SHAPE(3, 4));
    ag_tensor *s = ag_select(x, 1, -1);
    ASSERT_SHAPE(s, 3);
    ASSERT_FIXTURE(s, select_out);
    assert_grad_fn(s, "SelectBackward0");
    backward_weighted(s, select_w);
    ASSERT_FIXTURE(x->grad, select_dx0);
    ag_tensor *y = ramp(true, AG_SHAPE(2, 3, 2));
    assert_gradcheck(f_select, NULL, &y, 1);
    ag_tensor_free(x), ag_tensor_free(y);
}

Test(shape, select_is_indexing) {
    ag_tensor *x = ramp(false, AG_SHAPE(3, 4));
    ag_tensor *row = ag_select(x, 0, 1); /* x[1] */
    ASSERT_SHAPE(row, 4);
    ASSERT_VALUES(row, 0, 0, 1, 1.5, 2, 2.5);
    ASSERT_VALUES(ag_select(x, 0, -3), 0, 0, -1, -0.5, 0, 0.5);
    ASSERT_SCALAR_SHAPE(ag_select(row, 0, 3));
    ASSERT_VALUES(ag_select(row, 0, 3), 0, 0, 2.5);
    EXPECT_ERROR(ag_select(x, 0, 5),
                 "select(): index 5 out of range for tensor of size [3, 4] at dimension 0");
    EXPECT_ERROR(ag_select(x, 1, -5),
                 "select(): index -5 out of range for tensor of size [3, 4] at dimension 1");
    EXPECT_ERROR(ag_select(x, 2, 0),
                 "Dimension out of range (expected to be in range of [-2, 1], but got 2)");
    ag_tensor *c = ag_scalar(1, AG_FLOAT32);
    EXPECT_ERROR(ag_select(c, 0, 0), "select() cannot be applied to a 0-dim tensor.");
    ag_tensor_free(x), ag_tensor_free(c);
}

Test(shape, slice_matches_pytorch) {
    ag_tensor *x = param(slice_x0, AG_SHAPE(5, 3));
    ag_tensor *s = ag_slice(x, 0, 1, 5, 2); /* x[1:5:2] */
    ASSERT_SHAPE(s, 2, 3);
    ASSERT_FIXTURE(s, slice_out);
    assert_grad_fn(s, "SliceBackward0");
    backward_weighted(s, slice_w);
    ASSERT_FIXTURE(x->grad, slice_dx0);
    ag_tensor *y = param(slice_neg_x0, AG_SHAPE(2, 4));
    ag_tensor *t = ag_slice(y, 1, -2, INT64_MAX, 1); /* y[:, -2:] */
    ASSERT_SHAPE(t, 2, 2);
    ASSERT_FIXTURE(t, slice_neg_out);
    backward_weighted(t, slice_neg_w);
    ASSERT_FIXTURE(y->grad, slice_neg_dx0);
    ag_tensor *z = ramp(true, AG_SHAPE(2, 5));
    assert_gradcheck(f_slice, NULL, &z, 1);
    ag_tensor_free(x), ag_tensor_free(y), ag_tensor_free(z);
}

Test(shape, slice_clamps_as_python) {
    ag_tensor *x = ag_arange(0, 5, 1, AG_FLOAT64);
    ASSERT_VALUES(ag_slice(x, 0, -100, 100, 1), 0, 0, 0, 1, 2, 3, 4);
    ASSERT_VALUES(ag_slice(x, 0, 1, -1, 1), 0, 0, 1, 2, 3);
    ASSERT_VALUES(ag_slice(x, 0, 0, 5, 3), 0, 0, 0, 3);
    ASSERT_VALUES(ag_slice(x, 0, INT64_MIN, INT64_MAX, INT64_MAX), 0, 0, 0);
    ASSERT_SHAPE(ag_slice(x, 0, 4, 2, 1), 0);  /* end before start: empty */
    ASSERT_SHAPE(ag_slice(x, 0, 7, 9, 1), 0);  /* past the end: empty */
    ag_tensor *m = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 3));
    EXPECT_ERROR(ag_slice(m, 1, 0, 3, 0), "slice step must be positive");
    EXPECT_ERROR(ag_slice(m, 1, 0, 3, -1), "slice step must be positive");
    EXPECT_ERROR(ag_slice(m, 2, 0, 1, 1),
                 "Dimension out of range (expected to be in range of [-2, 1], but got 2)");
    ag_tensor *c = ag_scalar(1, AG_FLOAT32);
    EXPECT_ERROR(ag_slice(c, 0, 0, 1, 1), "slice() cannot be applied to a 0-dim tensor.");
    ag_tensor_free(x), ag_tensor_free(m), ag_tensor_free(c);
}

/* ---- index_select and gather ----------------------------------------------------------- */

static ag_tensor *f_index_select(ag_tensor *const *in, void *ctx) {
    return ag_index_select(in[0], 1, ctx);
}
static ag_tensor *f_gather(ag_tensor *const *in, void *ctx) { return ag_gather(in[0], 0, ctx); }

Test(shape, index_select_matches_pytorch_with_repeated_indices) {
    ag_tensor *x = param(index_select0_x0, AG_SHAPE(4, 3));
    ag_tensor *i0 = AG_INDEX(2, 0, 2, 2, 3);
    ag_tensor *s = ag_index_select(x, 0, i0);
    ASSERT_SHAPE(s, 5, 3);
    ASSERT_FIXTURE(s, index_select0_out);
    assert_grad_fn(s, "IndexSelectBackward0");
    backward_weighted(s, index_select0_w);
    ASSERT_FIXTURE(x->grad, index_select0_dx0); /* row 2 collects three shares, row 1 none */
    ag_tensor *y = param(index_select1_x0, AG_SHAPE(2, 3));
    ag_tensor *i1 = AG_INDEX(1, 1, 0);
    ag_tensor *t = ag_index_select(y, -1, i1);
    ASSERT_FIXTURE(t, index_select1_out);
    backward_weighted(t, index_select1_w);
    ASSERT_FIXTURE(y->grad, index_select1_dx0);
    ag_tensor *z = ramp(true, AG_SHAPE(2, 4));
    ag_tensor *rep = AG_INDEX(3, 0, 3, 3, 1);
    assert_gradcheck(f_index_select, rep, &z, 1);
    ag_tensor_free(x), ag_tensor_free(i0), ag_tensor_free(y), ag_tensor_free(i1);
    ag_tensor_free(z), ag_tensor_free(rep);
}

Test(shape, index_select_shapes_and_errors) {
    ag_tensor *x = ramp(false, AG_SHAPE(2, 3));
    ag_tensor *i0 = ag_from_data((const int64_t[]){1}, AG_INT64, AG_SCALAR_SHAPE);
    ag_tensor *s = ag_index_select(x, 0, i0); /* a 0-d index keeps the dim, as size 1 */
    ASSERT_SHAPE(s, 1, 3);
    ASSERT_VALUES(s, 0, 0, 0.5, 1, 1.5);
    ag_tensor *none = ag_from_data((const int64_t[]){0}, AG_INT64, AG_SHAPE(0));
    ASSERT_SHAPE(ag_index_select(x, 0, none), 0, 3);
    ag_tensor *c = ag_scalar(4, AG_FLOAT64);
    ag_tensor *zero = AG_INDEX(0);
    ASSERT_SCALAR_SHAPE(ag_index_select(c, 0, zero));
    ASSERT_VALUES(ag_index_select(c, 0, zero), 0, 0, 4);
    ag_tensor *big = AG_INDEX(0, 2), *neg = AG_INDEX(0, -1), *two = AG_INDEX(0, 0);
    ag_tensor *mat = ag_from_data((const int64_t[]){0, 1}, AG_INT64, AG_SHAPE(1, 2));
    ag_tensor *flt = AG_TENSOR(0, 1);
    EXPECT_ERROR(ag_index_select(x, 0, big), "index out of range in self");
    EXPECT_ERROR(ag_index_select(x, 0, neg), "index out of range in self");
    EXPECT_ERROR(ag_index_select(x, 0, mat), "index_select(): Index is supposed to be a vector");
    EXPECT_ERROR(ag_index_select(x, 0, flt),
                 "index_select(): Expected dtype int32 or int64 for index");
    EXPECT_ERROR(ag_index_select(x, 2, big),
                 "Dimension out of range (expected to be in range of [-2, 1], but got 2)");
    EXPECT_ERROR(ag_index_select(c, 0, two),
                 "index_select(): Index to scalar can have only 1 value, got 2 value(s)");
    EXPECT_ERROR(ag_index_select(x, 0, NULL), "argument 'index' must be a tensor, not NULL");
    ag_tensor_free(x), ag_tensor_free(i0), ag_tensor_free(none), ag_tensor_free(c);
    ag_tensor_free(zero), ag_tensor_free(big), ag_tensor_free(neg), ag_tensor_free(two);
    ag_tensor_free(mat), ag_tensor_free(flt);
}

Test(shape, gather_matches_pytorch_with_repeated_indices) {
    ag_tensor *x = param(gather1_x0, AG_SHAPE(3, 4));
    ag_tensor *i1 = ag_from_data((const int64_t[]){0, 0, 3, 1, 2, 1, 3, 3, 3}, AG_INT64,
                                 AG_SHAPE(3, 3));
    ag_tensor *g = ag_gather(x, 1, i1);
    ASSERT_SHAPE(g, 3, 3);
    ASSERT_FIXTURE(g, gather1_out);
    assert_grad_fn(g, "GatherBackward0");
    backward_weighted(g, gather1_w);
    ASSERT_FIXTURE(x->grad, gather1_dx0);
    ag_tensor *y = param(gather0_x0, AG_SHAPE(3, 4));
    ag_tensor *i0 = ag_from_data((const int64_t[]){2, 0, 2, 2, 2, 1, 0, 2}, AG_INT64,
                                 AG_SHAPE(2, 4));
    ag_tensor *h = ag_gather(y, 0, i0);
    ASSERT_FIXTURE(h, gather0_out);
    backward_weighted(h, gather0_w);
    ASSERT_FIXTURE(y->grad, gather0_dx0);
    ag_tensor *z = ramp(true, AG_SHAPE(3, 2));
    ag_tensor *rep = ag_from_data((const int64_t[]){2, 2, 2, 0, 1, 2, 2, 2}, AG_INT64,
                                  AG_SHAPE(4, 2));
    assert_gradcheck(f_gather, rep, &z, 1);
    ag_tensor_free(x), ag_tensor_free(i1), ag_tensor_free(y), ag_tensor_free(i0);
    ag_tensor_free(z), ag_tensor_free(rep);
}

Test(shape, gather_shapes_and_errors) {
    ag_tensor *x = ramp(false, AG_SHAPE(2, 3));
    ag_tensor *small = ag_from_data((const int64_t[]){2}, AG_INT64, AG_SHAPE(1, 1));
    ASSERT_VALUES(ag_gather(x, 1, small), 0, 0, 0);
    ag_tensor *empty = ag_from_data((const int64_t[]){0}, AG_INT64, AG_SHAPE(3, 0));
    ASSERT_SHAPE(ag_gather(x, 1, empty), 3, 0); /* no element: the sizes are not compared */
    ag_tensor *c = ag_scalar(4, AG_FLOAT64);
    ag_tensor *i00 = ag_from_data((const int64_t[]){0}, AG_INT64, AG_SCALAR_SHAPE);
    ag_tensor *pair = AG_INDEX(0, 0);
    ASSERT_SCALAR_SHAPE(ag_gather(c, 0, i00));
    ASSERT_VALUES(ag_gather(c, 0, pair), 0, 0, 4, 4);
    ag_tensor *vec = AG_INDEX(0, 0);
    ag_tensor *wide = ag_from_data((const int64_t[]){0, 0, 0, 0}, AG_INT64, AG_SHAPE(1, 4));
    ag_tensor *tall = ag_from_data((const int64_t[]){0, 0, 0, 0, 0, 0, 1, 1, 1}, AG_INT64,
                                   AG_SHAPE(3, 3));
    ag_tensor *oob = ag_from_data((const int64_t[]){0, 0, 1, 3}, AG_INT64, AG_SHAPE(2, 2));
    ag_tensor *neg = ag_from_data((const int64_t[]){0, 0, 1, -1}, AG_INT64, AG_SHAPE(2, 2));
    ag_tensor *flt = ag_zeros(AG_FLOAT32, AG_SHAPE(1, 2));
    EXPECT_ERROR(ag_gather(x, 1, vec),
                 "Index tensor must have the same number of dimensions as input tensor");
    EXPECT_ERROR(ag_gather(x, 0, wide),
                 "Size does not match at dimension 1 expected index [1, 4] to be smaller than "
                 "self [2, 3] apart from dimension 0");
    ASSERT_SHAPE(ag_gather(x, 0, tall), 3, 3); /* larger along dim itself is allowed */
    EXPECT_ERROR(ag_gather(x, 0, oob), "index 3 is out of bounds for dimension 0 with size 2");
    EXPECT_ERROR(ag_gather(x, 1, oob), "index 3 is out of bounds for dimension 1 with size 3");
    EXPECT_ERROR(ag_gather(x, 1, neg), "index -1 is out of bounds for dimension 1 with size 3");
    EXPECT_ERROR(ag_gather(x, 1, flt), "gather(): Expected dtype int64 for index");
    EXPECT_ERROR(ag_gather(x, 2, vec),
                 "Dimension out of range (expected to be in range of [-2, 1], but got 2)");
    ag_tensor_free(x), ag_tensor_free(small), ag_tensor_free(empty), ag_tensor_free(c);
    ag_tensor_free(i00), ag_tensor_free(pair), ag_tensor_free(vec), ag_tensor_free(wide);
    ag_tensor_free(tall), ag_tensor_free(oob), ag_tensor_free(neg), ag_tensor_free(flt);
}

Test(shape, index_tensor_changed_in_place_is_noticed_by_backward) {
    ag_tensor *x = ramp(true, AG_SHAPE(3));
    ag_tensor *i = AG_INDEX(0, 2);
    ag_tensor *loss = ag_sum(ag_index_select(x, 0, i));
    ag_fill_(i, 1); /* an int64 tensor: no grad, so allowed; the saved index is now stale */
    EXPECT_ERROR(ag_backward(loss), "modified by an inplace operation");
    ag_tensor_free(x), ag_tensor_free(i);
}

/* ---- cat and stack --------------------------------------------------------------------- */

static ag_tensor *f_cat(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_cat(in, 3, -2);
}
static ag_tensor *f_stack(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_stack(in, 3, 2);
}

Test(shape, cat_of_three_sizes_matches_pytorch) {
    ag_tensor *xs[] = {param(cat_x0, AG_SHAPE(2, 1, 3)), param(cat_x1, AG_SHAPE(2, 2, 3)),
                       param(cat_x2, AG_SHAPE(2, 3, 3))};
    ag_tensor *c = ag_cat(xs, 3, 1);
    ASSERT_SHAPE(c, 2, 6, 3);
    ASSERT_FIXTURE(c, cat_out);
    assert_grad_fn(c, "CatBackward0");
    backward_weighted(c, cat_w);
    ASSERT_FIXTURE(xs[0]->grad, cat_dx0);
    ASSERT_FIXTURE(xs[1]->grad, cat_dx1);
    ASSERT_FIXTURE(xs[2]->grad, cat_dx2);
    assert_gradcheck(f_cat, NULL, xs, 3);
    for (int k = 0; k < 3; k++) ag_tensor_free(xs[k]);
}

Test(shape, cat_promotes_dtypes_and_skips_empty_1d) {
    ag_tensor *a = ag_requires_grad_(AG_TENSOR(1, 2), true);
    ag_tensor *b = ag_requires_grad_(f64_tensor((const double[]){3, 4, 5}, AG_SHAPE(3)), true);
    ag_tensor *i = AG_INDEX(6);
    ag_tensor *c = ag_cat((ag_tensor *[]){a, b, i}, 3, 0);
    cr_assert_eq(c->dtype, AG_FLOAT64);
    ASSERT_VALUES(c, 0, 0, 1, 2, 3, 4, 5, 6);
    backward_weighted(c, (const double[]){1, 2, 3, 4, 5, 6});
    cr_assert_eq(a->grad->dtype, AG_FLOAT32, "a float32 input gets a float32 grad");
    ASSERT_VALUES(a->grad, 0, 0, 1, 2);
    ASSERT_VALUES(b->grad, 0, 0, 3, 4, 5);
    ag_tensor *m = ramp(false, AG_SHAPE(2, 2));
    ag_tensor *e = ag_zeros(AG_FLOAT32, AG_SHAPE(0));
    ag_tensor *withempty = ag_cat((ag_tensor *[]){e, m, e}, 3, 1);
    ASSERT_SHAPE(withempty, 2, 2);
    ASSERT_VALUES(withempty, 0, 0, -1, -0.5, 0, 0.5);
    ASSERT_SHAPE(ag_cat((ag_tensor *[]){e, e}, 2, 3), 0);
    ag_tensor *ints = ag_cat((ag_tensor *[]){i, i}, 2, 0);
    cr_assert_eq(ints->dtype, AG_INT64);
    ASSERT_VALUES(ints, 0, 0, 6, 6);
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(i), ag_tensor_free(m);
    ag_tensor_free(e);
}

Test(shape, cat_errors) {
    ag_tensor *a = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 3));
    ag_tensor *b = ag_zeros(AG_FLOAT32, AG_SHAPE(3, 3));
    ag_tensor *c = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 3, 1));
    ag_tensor *s = ag_scalar(1, AG_FLOAT32);
    EXPECT_ERROR(ag_cat((ag_tensor *[]){a, b}, 2, 1),
                 "Sizes of tensors must match except in dimension 1. Expected size 2 but got "
                 "size 3 for tensor number 1 in the list.");
    EXPECT_ERROR(ag_cat((ag_tensor *[]){a, a, c}, 3, 1),
                 "Tensors must have same number of dimensions: got 2 and 3");
    EXPECT_ERROR(ag_cat(NULL, 0, 0), "torch.cat(): expected a non-empty list of Tensors");
    EXPECT_ERROR(ag_cat((ag_tensor *[]){a, s}, 2, 0),
                 "zero-dimensional tensor (at position 1) cannot be concatenated");
    EXPECT_ERROR(ag_cat((ag_tensor *[]){a, a}, 2, 2),
                 "Dimension out of range (expected to be in range of [-2, 1], but got 2)");
    EXPECT_ERROR(ag_cat((ag_tensor *[]){a, NULL}, 2, 0),
                 "argument 'tensors' must be a tensor, not NULL");
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(c), ag_tensor_free(s);
}

Test(shape, stack_matches_pytorch) {
    ag_tensor *xs[] = {param(stack_x0, AG_SHAPE(2, 3)), param(stack_x1, AG_SHAPE(2, 3)),
                       param(stack_x2, AG_SHAPE(2, 3))};
    ag_tensor *s = ag_stack(xs, 3, 1);
    ASSERT_SHAPE(s, 2, 3, 3);
    ASSERT_FIXTURE(s, stack_out);
    assert_grad_fn(s, "StackBackward0");
    backward_weighted(s, stack_w);
    ASSERT_FIXTURE(xs[0]->grad, stack_dx0);
    ASSERT_FIXTURE(xs[1]->grad, stack_dx1);
    ASSERT_FIXTURE(xs[2]->grad, stack_dx2);
    assert_gradcheck(f_stack, NULL, xs, 3);
    for (int k = 0; k < 3; k++) ag_tensor_free(xs[k]);
}

Test(shape, stack_dims_and_errors) {
    ag_tensor *a = AG_TENSOR(1, 2, 3), *b = AG_TENSOR(4, 5, 6), *d = AG_TENSOR(1, 2, 3, 4);
    ag_tensor *s0 = ag_stack((ag_tensor *[]){a, b}, 2, 0);
    ASSERT_SHAPE(s0, 2, 3);
    ASSERT_VALUES(s0, 0, 0, 1, 2, 3, 4, 5, 6);
    ag_tensor *s1 = ag_stack((ag_tensor *[]){a, b}, 2, -1);
    ASSERT_SHAPE(s1, 3, 2);
    ASSERT_VALUES(s1, 0, 0, 1, 4, 2, 5, 3, 6);
    ag_tensor *c = ag_scalar(7, AG_FLOAT64);
    ag_tensor *sc = ag_stack((ag_tensor *[]){c, c, c}, 3, 0);
    ASSERT_SHAPE(sc, 3);
    ag_tensor *b64 = f64_tensor((const double[]){4, 5, 6}, AG_SHAPE(3));
    ag_tensor *mixed = ag_stack((ag_tensor *[]){a, b64}, 2, 0);
    cr_assert_eq(mixed->dtype, AG_FLOAT64);
    ASSERT_VALUES(mixed, 0, 0, 1, 2, 3, 4, 5, 6);
    EXPECT_ERROR(ag_stack((ag_tensor *[]){a, d}, 2, 0),
                 "stack expects each tensor to be equal size, but got [3] at entry 0 and [4] at "
                 "entry 1");
    EXPECT_ERROR(ag_stack(NULL, 0, 0), "stack expects a non-empty TensorList");
    EXPECT_ERROR(ag_stack((ag_tensor *[]){a, b}, 2, 2),
                 "Dimension out of range (expected to be in range of [-2, 1], but got 2)");
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(d), ag_tensor_free(c);
    ag_tensor_free(b64);
}

/* ---- together -------------------------------------------------------------------------- */

Test(shape, fan_out_through_different_shape_ops_adds_up) {
    /* loss = sum(x[0]) + sum(x[:, 1:2]) + sum(x.index_select(0, [1, 1])):
     * dx = [[1, 2], [0, 1]] + [[0, 0], [2, 2]] */
    ag_tensor *x = param((const double[]){1, 2, 3, 4}, AG_SHAPE(2, 2));
    ag_tensor *i = AG_INDEX(1, 1);
    ag_tensor *loss = ag_add(ag_add(ag_sum(ag_select(x, 0, 0)), ag_sum(ag_slice(x, 1, 1, 2, 1))),
                             ag_sum(ag_index_select(x, 0, i)));
    ASSERT_VALUES(loss, 0, 0, 3 + 6 + 14);
    ag_backward(loss);
    ASSERT_VALUES(x->grad, 0, 0, 1, 2, 2, 3);
    ag_tensor_free(x), ag_tensor_free(i);
}

Test(shape, int64_tensors_move_through_shape_ops) {
    /* Shape ops move numbers and do no arithmetic, so they take index tensors too: a class
     * label vector becomes gather's (N, 1) index. */
    ag_tensor *labels = AG_INDEX(2, 0);
    ag_tensor *logits = ramp(true, AG_SHAPE(2, 3));
    ag_tensor *idx = ag_unsqueeze(labels, 1);
    cr_assert_eq(idx->dtype, AG_INT64);
    ag_tensor *picked = ag_squeeze_dim(ag_gather(logits, 1, idx), 1);
    ASSERT_VALUES(picked, 0, 0, 0, 0.5);
    ag_backward(ag_sum(picked));
    ASSERT_VALUES(logits->grad, 0, 0, 0, 0, 1, 1, 0, 0);
    ag_tensor_free(labels), ag_tensor_free(logits);
}

Test(shape, nothing_recorded_without_grad) {
    ag_tensor *x = ramp(true, AG_SHAPE(2, 3));
    int64_t before = ag_tape_size(NULL);
    AG_NO_GRAD {
        ag_tensor *v = ag_reshape(x, AG_SHAPE(3, 2));
        ag_tensor *t = ag_transpose(x, 0, 1);
        cr_assert(!v->requires_grad && !t->requires_grad);
        cr_assert_null(v->grad_fn);
    }
    cr_assert_eq(ag_tape_size(NULL), before);
    ag_tensor_free(x);
}
