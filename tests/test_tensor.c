/*
 * test_tensor.c - creating tensors, their flags and values, and bad input to creation.
 */
#include "common.h"

#include "fixtures/tensor.h"

#define N(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

AG_TEST_SUITE(tensor);

Test(tensor, creation_shapes_and_values) {
    ag_tensor *z = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 3));
    ASSERT_SHAPE(z, 2, 3);
    cr_assert_eq(z->numel, 6);
    cr_assert_eq(z->dtype, AG_FLOAT32);
    ASSERT_VALUES(z, 0, 0, 0, 0, 0, 0, 0, 0);
    ag_tensor *o = ag_ones(AG_FLOAT64, AG_SHAPE(3));
    ASSERT_VALUES(o, 0, 0, 1, 1, 1);
    ag_tensor *f = ag_full(AG_FLOAT32, AG_SHAPE(2), 2.5);
    ASSERT_VALUES(f, 0, 0, 2.5, 2.5);
    ag_tensor *s = ag_scalar(1.5, AG_FLOAT64);
    ASSERT_SCALAR_SHAPE(s);
    cr_assert_eq(s->numel, 1);
    cr_assert_eq(ag_item(s), 1.5);
    ag_tensor *e = ag_eye(3, AG_FLOAT32);
    ASSERT_VALUES(e, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1);
    ag_tensor *empty = ag_zeros(AG_FLOAT32, AG_SHAPE(0, 3));
    cr_assert_eq(empty->numel, 0);
    ag_tensor *t = AG_TENSOR(1, 2, 3);
    ASSERT_SHAPE(t, 3);
    ASSERT_VALUES(t, 0, 0, 1, 2, 3);
    ag_tensor *i = AG_INDEX(4, -1);
    cr_assert_eq(i->dtype, AG_INT64);
    cr_assert_eq(AG_I64(i)[1], -1);
    ag_tensor *zl = ag_zeros_like(f), *ol = ag_ones_like(f), *fl = ag_full_like(i, 7);
    cr_assert_eq(zl->dtype, AG_FLOAT32);
    ASSERT_VALUES(zl, 0, 0, 0, 0);
    ASSERT_VALUES(ol, 0, 0, 1, 1);
    ASSERT_VALUES(fl, 0, 0, 7, 7);
    ag_tensor *el = ag_empty_like(e);
    ASSERT_SHAPE(el, 3, 3);
    ag_tensor *all[] = {z, o, f, s, e, empty, t, i, zl, ol, fl, el};
    for (size_t k = 0; k < sizeof all / sizeof *all; k++) ag_tensor_free(all[k]);
}

Test(tensor, arange_and_linspace_match_pytorch) {
    ag_tensor *a = ag_arange(0, 1, 0.1, AG_FLOAT32);
    assert_values(a, arange_0_1_01_f32, N(arange_0_1_01_f32), 0, 0);
    ag_tensor *b = ag_arange(0, 1, 0.1, AG_FLOAT64);
    assert_values(b, arange_0_1_01_f64, N(arange_0_1_01_f64), 0, 0);
    ag_tensor *c = ag_arange(5, -1, -1.5, AG_FLOAT32);
    assert_values(c, arange_5_m1_m15_f32, N(arange_5_m1_m15_f32), 0, 0);
    ag_tensor *d = ag_linspace(0, 1, 7, AG_FLOAT32);
    assert_values(d, linspace_0_1_7_f32, N(linspace_0_1_7_f32), 0, 0);
    ag_tensor *e = ag_linspace(0, 1, 7, AG_FLOAT64);
    assert_values(e, linspace_0_1_7_f64, N(linspace_0_1_7_f64), 0, 0);
    ag_tensor *f = ag_linspace(-3, 10, 10, AG_FLOAT32);
    assert_values(f, linspace_m3_10_10_f32, N(linspace_m3_10_10_f32), 0, 0);
    ag_tensor *g = ag_linspace(1, 0, 5, AG_FLOAT32);
    assert_values(g, linspace_1_0_5_f32, N(linspace_1_0_5_f32), 0, 0);
    ag_tensor *h = ag_arange(0, 5, 1, AG_INT64);
    ASSERT_VALUES(h, 0, 0, 0, 1, 2, 3, 4);
    ag_tensor *all[] = {a, b, c, d, e, f, g, h};
    for (size_t k = 0; k < sizeof all / sizeof *all; k++) ag_tensor_free(all[k]);
}

Test(tensor, flags) {
    ag_tensor *w = ag_requires_grad_(ag_zeros(AG_FLOAT32, AG_SHAPE(2)), true);
    cr_assert(w->requires_grad);
    cr_assert(ag_is_leaf(w));
    cr_assert_null(w->grad);
    cr_assert_null(ag_grad_fn_name(w));
    cr_assert_eq(ag_set_name(w, "w"), w);
    cr_assert_str_eq(w->name, "w");
    cr_assert_str_eq(ag_dtype_name(AG_FLOAT64), "torch.float64");
    cr_assert_eq(ag_dtype_size(AG_INT64), 8);
    ag_tensor_free(w);
}

Test(tensor, bad_input) {
    EXPECT_ERROR(ag_zeros(AG_FLOAT32, AG_SHAPE(2, -1)),
                 "Trying to create tensor with negative dimension -1: [2, -1]");
    EXPECT_ERROR(ag_zeros(AG_FLOAT32, 9, (const int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}),
                 "a tensor has 0 to 8 dims, got 9");
    EXPECT_ERROR(ag_from_data(NULL, AG_FLOAT32, AG_SHAPE(2)), "data is NULL");
    EXPECT_ERROR(ag_arange(0, 1, 0, AG_FLOAT32), "step must be nonzero");
    EXPECT_ERROR(ag_arange(0, 1, -1, AG_FLOAT32),
                 "upper bound and larger bound inconsistent with step sign");
    EXPECT_ERROR(ag_linspace(0, 1, -1, AG_FLOAT32), "number of steps must be non-negative");
    ag_tensor *t = AG_TENSOR(1, 2);
    EXPECT_ERROR(ag_item(t), "a Tensor with 2 elements cannot be converted to Scalar");
    EXPECT_ERROR(ag_get(t, 2), "index 2 is out of bounds for a tensor with 2 elements");
    EXPECT_ERROR(ag_zeros_like(NULL), "must be a tensor, not NULL");
    ag_tensor_free(t);
}

Test(tensor, item_and_get) {
    ag_tensor *t = ag_from_data((const double[]){1.25, -2}, AG_FLOAT64, AG_SHAPE(2, 1));
    cr_assert_eq(ag_get(t, 1), -2);
    ag_tensor *one = ag_from_data((const float[]){3.5f}, AG_FLOAT32, AG_SHAPE(1, 1));
    cr_assert_eq(ag_item(one), 3.5);
    ag_tensor_free(t), ag_tensor_free(one);
}

Test(tensor, the_leak_check_counts_live_tensors) {
    /* Each test ends with ag_test_check_leaks(), which fails the test unless this count is
     * back to zero: here is the count it relies on, tensor by tensor and grad by grad. */
    int64_t before = ag_live_tensors();
    ag_tensor *w = ag_requires_grad_(ag_ones(AG_FLOAT32, AG_SHAPE(2)), true);
    cr_assert_eq(ag_live_tensors(), before + 1);
    ag_backward(ag_sum(w)); /* a leaf's .grad is one more tensor of yours */
    cr_assert_eq(ag_live_tensors(), before + 2);
    ag_tensor *kept = ag_mul_scalar(w, 2); /* tape-owned: not counted */
    cr_assert_not_null(kept);
    cr_assert_eq(ag_live_tensors(), before + 2);
    ag_tensor_free(w); /* frees its .grad too */
    cr_assert_eq(ag_live_tensors(), before);
}
