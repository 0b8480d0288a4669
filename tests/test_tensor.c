/*
 * test_tensor.c - creating tensors, their flags and values, and bad input to creation.
 */
#include "common.h"

#include "fixtures/tensor.h"
#include "ops/nn_ops.h"

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

/* ---- uint8 (torch.uint8): bytes, e.g. images kept as torchvision keeps them ------------------ */

Test(tensor, uint8_creation_matches_pytorch) {
    cr_assert_str_eq(ag_dtype_name(AG_UINT8), "torch.uint8");
    cr_assert_eq(ag_dtype_size(AG_UINT8), 1);
    ag_tensor *z = ag_zeros(AG_UINT8, AG_SHAPE(2, 3));
    cr_assert_eq(z->dtype, AG_UINT8);
    ASSERT_VALUES(z, 0, 0, 0, 0, 0, 0, 0, 0);
    ag_tensor *o = ag_ones_like(z);
    cr_assert_eq(o->dtype, AG_UINT8);
    ASSERT_VALUES(o, 0, 0, 1, 1, 1, 1, 1, 1);
    /* torch.full((3,), v, dtype=torch.uint8): an int wraps from -255 up, a float truncates */
    ag_tensor *m1 = ag_full(AG_UINT8, AG_SHAPE(2), -1);
    ag_tensor *m255 = ag_full(AG_UINT8, AG_SHAPE(1), -255);
    ag_tensor *f37 = ag_full(AG_UINT8, AG_SHAPE(1), 3.7), *top = ag_scalar(255, AG_UINT8);
    ASSERT_VALUES(m1, 0, 0, 255, 255);
    ASSERT_VALUES(m255, 0, 0, 1);
    ASSERT_VALUES(f37, 0, 0, 3);
    cr_assert_eq(ag_item(top), 255.0);
    const uint8_t bytes[] = {0, 7, 128, 255};
    ag_tensor *d = ag_from_data(bytes, AG_UINT8, AG_SHAPE(2, 2));
    cr_assert(memcmp(d->data, bytes, 4) == 0);
    cr_assert_eq(ag_get(d, 3), 255.0);
    ag_tensor *e = ag_eye(2, AG_UINT8);
    ASSERT_VALUES(e, 0, 0, 1, 0, 0, 1);
    /* torch.arange and torch.linspace with dtype=torch.uint8 (values printed by torch 1.13):
     * arange truncates start and step first and wraps; linspace converts start and end first */
    ag_tensor *a1 = ag_arange(250, 256, 1.5, AG_UINT8), *a2 = ag_arange(-3, 3, 1, AG_UINT8);
    ag_tensor *a3 = ag_arange(2.7, 0, -1, AG_UINT8);
    ASSERT_VALUES(a1, 0, 0, 250, 251, 252, 253);
    ASSERT_VALUES(a2, 0, 0, 253, 254, 255, 0, 1, 2);
    ASSERT_VALUES(a3, 0, 0, 2, 1, 0);
    ag_tensor *l1 = ag_linspace(0, 255, 7, AG_UINT8), *l2 = ag_linspace(-1, 10, 7, AG_UINT8);
    ag_tensor *l3 = ag_linspace(10, 0, 7, AG_UINT8);
    ASSERT_VALUES(l1, 0, 0, 0, 42, 85, 127, 170, 212, 255);
    ASSERT_VALUES(l2, 0, 0, 255, 214, 173, 132, 91, 50, 10);
    ASSERT_VALUES(l3, 0, 0, 10, 8, 6, 5, 3, 1, 0);
    ag_tensor *all[] = {z, o, m1, m255, f37, top, d, e, a1, a2, a3, l1, l2, l3};
    for (size_t k = 0; k < sizeof all / sizeof *all; k++) ag_tensor_free(all[k]);
}

Test(tensor, uint8_bad_values_in_torch_words) {
    const char *overflow = "value cannot be converted to type uint8_t without overflow";
    EXPECT_ERROR(ag_full(AG_UINT8, AG_SHAPE(2), 256), overflow);
    EXPECT_ERROR(ag_full(AG_UINT8, AG_SHAPE(2), -256), overflow);
    EXPECT_ERROR(ag_full(AG_UINT8, AG_SHAPE(2), -0.5), overflow);
    EXPECT_ERROR(ag_full(AG_UINT8, AG_SHAPE(2), 255.5), overflow);
    EXPECT_ERROR(ag_scalar(NAN, AG_UINT8), overflow);
    EXPECT_ERROR(ag_full(AG_UINT8, AG_SHAPE(2), INFINITY), overflow);
    EXPECT_ERROR(ag_linspace(0, 300, 3, AG_UINT8), overflow);
    EXPECT_ERROR(ag_arange(0, 3, 0.5, AG_UINT8), "step must be nonzero");
    ag_tensor *t = ag_zeros(AG_UINT8, AG_SHAPE(2));
    EXPECT_ERROR(ag_fill_(t, 300), overflow);
    ASSERT_VALUES(t, 0, 0, 0, 0); /* unchanged */
    cr_assert_eq(ag_fill_(t, -2), t);
    ASSERT_VALUES(t, 0, 0, 254, 254);
    EXPECT_ERROR(ag_requires_grad_(t, true),
                 "only Tensors of floating point dtype can require gradients (got torch.uint8)");
    cr_assert(!t->requires_grad);
    EXPECT_ERROR(ag_to(t, (ag_dtype)7), "unknown dtype 7");
    EXPECT_ERROR(ag_zeros((ag_dtype)7, AG_SHAPE(1)), "unknown dtype 7");
    ag_tensor_free(t);
}

Test(tensor, uint8_to_and_from_every_dtype) {
    /* float -> uint8 as torch 1.13 gives it on x86 (printed by torch): truncated toward zero,
     * wrapped modulo 256; NaN, infinities and values beyond int64 are 0 */
    const float f[] = {0.0f, 1.5f, 254.9f, 255.0f, 255.5f, -0.5f, -0.99f, 256.0f, 300.0f,
                       -1.0f, -3.7f, 1000.7f, 65539.5f, 2147483648.0f, -2147484672.0f, 1e10f,
                       -1e10f, 3e38f, NAN, INFINITY, -INFINITY};
    ag_tensor *x = ag_from_data(f, AG_FLOAT32, AG_SHAPE(21));
    ag_tensor *u = ag_to(x, AG_UINT8);
    cr_assert_eq(u->dtype, AG_UINT8);
    ASSERT_VALUES(u, 0, 0, 0, 1, 254, 255, 255, 0, 0, 0, 44, 255, 253, 232, 3, 0, 0, 0, 0, 0, 0,
                  0, 0);
    const double d[] = {1099511627783.0, 2147483653.0, -2147483649.0, 4294967305.0, 1e300};
    ag_tensor *x64 = ag_from_data(d, AG_FLOAT64, AG_SHAPE(5));
    ASSERT_VALUES(ag_to(x64, AG_UINT8), 0, 0, 7, 5, 255, 9, 0);
    ag_tensor *i = ag_from_data((const int64_t[]){0, 255, 256, -1, 1000, 1099511627783, INT64_MAX,
                                                  INT64_MIN},
                                AG_INT64, AG_SHAPE(8));
    ASSERT_VALUES(ag_to(i, AG_UINT8), 0, 0, 0, 255, 0, 255, 232, 7, 255, 0);
    /* and back: exact in every dtype */
    const uint8_t b[] = {0, 1, 127, 128, 200, 255};
    ag_tensor *bytes = ag_from_data(b, AG_UINT8, AG_SHAPE(2, 3));
    ag_dtype to[] = {AG_FLOAT32, AG_FLOAT64, AG_INT64};
    for (int k = 0; k < 3; k++) {
        ag_tensor *y = ag_to(bytes, to[k]);
        cr_assert_eq(y->dtype, to[k]);
        ASSERT_SHAPE(y, 2, 3);
        ASSERT_VALUES(y, 0, 0, 0, 1, 127, 128, 200, 255);
        cr_assert(!y->requires_grad && !y->grad_fn);
    }
    cr_assert_eq(ag_to(bytes, AG_UINT8), bytes); /* the same dtype: x itself */
    /* torchvision's ToTensor(), x.to(torch.float32).div(255), for every byte: one division */
    uint8_t every[256];
    for (int v = 0; v < 256; v++) every[v] = (uint8_t)v;
    ag_tensor *all = ag_from_data(every, AG_UINT8, AG_SHAPE(256));
    ag_tensor *unit = ag_div_scalar(ag_to(all, AG_FLOAT32), 255.0);
    for (int v = 0; v < 256; v++)
        cr_assert_eq(AG_F32(unit)[v], (float)v / 255.0f, "byte %d", v);
    /* a float that requires grad converted to uint8: no gradient, as torch */
    ag_tensor *w = ag_requires_grad_(AG_TENSOR(1.5f, 300.7f), true);
    ag_tensor *wu = ag_to(w, AG_UINT8);
    ASSERT_VALUES(wu, 0, 0, 1, 44);
    cr_assert(!wu->requires_grad);
    cr_assert_null(ag_grad_fn_name(wu));
    ag_tensor_free(x), ag_tensor_free(x64), ag_tensor_free(i), ag_tensor_free(bytes);
    ag_tensor_free(all), ag_tensor_free(w);
}

Test(tensor, uint8_moves_through_shape_ops_and_copies) {
    const uint8_t b[] = {1, 200, 3, 4, 5, 255};
    ag_tensor *x = ag_from_data(b, AG_UINT8, AG_SHAPE(2, 3));
    ag_tensor *same[] = {ag_reshape(x, AG_SHAPE(3, 2)), ag_clone(x), ag_flatten(x, 0, -1)};
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(same[k]->dtype, AG_UINT8);
        ASSERT_VALUES(same[k], 0, 0, 1, 200, 3, 4, 5, 255);
    }
    ASSERT_VALUES(ag_transpose(x, 0, 1), 0, 0, 1, 4, 200, 5, 3, 255);
    ASSERT_VALUES(ag_permute(x, 2, (const int[]){1, 0}), 0, 0, 1, 4, 200, 5, 3, 255);
    ASSERT_VALUES(ag_select(x, 0, 1), 0, 0, 4, 5, 255);
    ASSERT_VALUES(ag_slice(x, 1, 1, 3, 1), 0, 0, 200, 3, 5, 255);
    ag_tensor *rows = AG_INDEX(1, 0, 1), *cols = ag_from_data((const int64_t[]){2, 0}, AG_INT64,
                                                               AG_SHAPE(2, 1));
    ASSERT_VALUES(ag_index_select(x, 0, rows), 0, 0, 4, 5, 255, 1, 200, 3, 4, 5, 255);
    ASSERT_VALUES(ag_gather(x, 1, cols), 0, 0, 3, 4);
    ASSERT_VALUES(ag_expand(ag_select(x, 0, 0), AG_SHAPE(2, 3)), 0, 0, 1, 200, 3, 1, 200, 3);
    ag_tensor *u = ag_unsqueeze(x, 0);
    ASSERT_SHAPE(u, 1, 2, 3);
    cr_assert_eq(u->dtype, AG_UINT8);
    ag_tensor *s = ag_stack((ag_tensor *[]){x, x}, 2, 0);
    cr_assert_eq(s->dtype, AG_UINT8);
    ASSERT_VALUES(s, 0, 0, 1, 200, 3, 4, 5, 255, 1, 200, 3, 4, 5, 255);
    /* argmax, as torch's on bytes; no gradient involved */
    cr_assert_eq(ag_item(ag_argmax(x)), 5.0);
    ASSERT_VALUES(ag_argmax_dim(x, 1, false), 0, 0, 1, 2);
    /* cat promotes as torch: uint8 with float32 is float32, with int64 int64 */
    ag_tensor *f = AG_TENSOR(0.5f, 1.5f, 2.5f), *l = AG_INDEX(-1, 1000, 7);
    ag_tensor *cf = ag_cat((ag_tensor *[]){ag_select(x, 0, 0), f}, 2, 0);
    cr_assert_eq(cf->dtype, AG_FLOAT32);
    ASSERT_VALUES(cf, 0, 0, 1, 200, 3, 0.5, 1.5, 2.5);
    ag_tensor *cl = ag_cat((ag_tensor *[]){ag_select(x, 0, 1), l}, 2, 0);
    cr_assert_eq(cl->dtype, AG_INT64);
    ASSERT_VALUES(cl, 0, 0, 4, 5, 255, -1, 1000, 7);
    cr_assert_eq(ag_cat((ag_tensor *[]){x, x}, 2, 1)->dtype, AG_UINT8);
    /* copy_ converts as ag_to (torch: t.copy_(src) casts), both ways; zero_ and fill_ */
    ag_tensor *t = ag_zeros(AG_UINT8, AG_SHAPE(3));
    ag_tensor *src = ag_requires_grad_(AG_TENSOR(1.5f, 300.7f, -1.0f), true);
    cr_assert_eq(ag_copy_(t, src), t);
    ASSERT_VALUES(t, 0, 0, 1, 44, 255);
    cr_assert(!t->requires_grad && !t->grad_fn);
    ag_tensor *back = ag_zeros(AG_FLOAT32, AG_SHAPE(3));
    ag_copy_(back, t);
    ASSERT_VALUES(back, 0, 0, 1, 44, 255);
    ag_fill_(t, 7.9);
    ASSERT_VALUES(t, 0, 0, 7, 7, 7);
    ag_zero_(t);
    ASSERT_VALUES(t, 0, 0, 0, 0, 0);
    /* random_: draw mod 256, the numbers torch.manual_seed(0); x.random_() gives */
    ag_tensor *r = ag_zeros(AG_UINT8, AG_SHAPE(2, 3));
    ag_manual_seed(0);
    ag_random_(r, NULL);
    ASSERT_VALUES(r, 0, 0, 172, 47, 117, 192, 67, 251);
    /* anomaly mode checks floating results only: bytes pass through it */
    ag_set_detect_anomaly(true);
    ASSERT_VALUES(ag_reshape(x, AG_SHAPE(6)), 0, 0, 1, 200, 3, 4, 5, 255);
    ag_set_detect_anomaly(false);
    ag_tensor *frees[] = {x, rows, cols, f, l, t, src, back, r};
    for (size_t k = 0; k < sizeof frees / sizeof *frees; k++) ag_tensor_free(frees[k]);
}

Test(tensor, uint8_arithmetic_is_refused_in_torch_words) {
    /* Arithmetic, reductions and kernels take float32 and float64 only, as for int64: convert
     * first, ag_to(x, AG_FLOAT32). Where torch has its own words for Byte, they are used. */
    ag_tensor *x = ag_from_data((const uint8_t[]){1, 2, 3, 4}, AG_UINT8, AG_SHAPE(1, 1, 2, 2));
    ag_tensor *f = ag_ones(AG_FLOAT32, AG_SHAPE(1, 1, 2, 2));
    const char *floating = "expected a floating point tensor (torch.float32 or torch.float64), "
                           "but got torch.uint8";
    EXPECT_ERROR(ag_add(x, x), floating);
    EXPECT_ERROR(ag_mul(f, x), floating);
    EXPECT_ERROR(ag_mul_scalar(x, 2), floating);
    EXPECT_ERROR(ag_div_scalar(x, 255), floating); /* the ToTensor mistake: ag_to first */
    EXPECT_ERROR(ag_relu(x), floating);
    EXPECT_ERROR(ag_exp(x), floating);
    EXPECT_ERROR(ag_sum(x), floating);
    EXPECT_ERROR(ag_mean(x), floating);
    EXPECT_ERROR(ag_max(x), floating);
    EXPECT_ERROR(ag_softmax(x, 1), floating);
    EXPECT_ERROR(ag_matmul(x, x), floating);
    EXPECT_ERROR(ag_var(x, 1), "std and var only support floating point and complex dtypes");
    EXPECT_ERROR(ag_layer_norm(x, 1, (const int64_t[]){2}, NULL, NULL, 1e-5),
                 "\"LayerNormKernelImpl\" not implemented for 'Byte'");
    EXPECT_ERROR(ag_max_pool2d(x, AG_PAIR(1), AG_PAIR(1), AG_PAIR(0)),
                 "\"max_pool2d\" not implemented for 'Byte'");
    EXPECT_ERROR(ag_avg_pool2d(x, AG_PAIR(1), AG_PAIR(1), AG_PAIR(0)),
                 "\"avg_pool2d\" not implemented for 'Byte'");
    EXPECT_ERROR(ag_randn(NULL, AG_UINT8, AG_SHAPE(2)),
                 "\"normal_kernel_cpu\" not implemented for 'Byte'");
    EXPECT_ERROR(ag_rand(NULL, AG_UINT8, AG_SHAPE(2)),
                 "\"check_uniform_bounds\" not implemented for 'Byte'");
    /* in place: a float result cannot go into bytes */
    EXPECT_ERROR(ag_add_(x, f), "result type Float can't be cast to the desired output type Byte");
    EXPECT_ERROR(ag_mul_scalar_(x, 2), floating);
    ASSERT_VALUES(x, 0, 0, 1, 2, 3, 4); /* unchanged */
    /* indices stay int64, as torch's index ops want them; class targets may be bytes (torch
     * 1.13's nll_loss takes Byte targets: a dataset's labels) */
    ag_tensor *w = ag_ones(AG_FLOAT32, AG_SHAPE(5, 2));
    ag_tensor *logits = ag_zeros(AG_FLOAT32, AG_SHAPE(2, 5));
    ag_tensor *idx = ag_from_data((const uint8_t[]){0, 1}, AG_UINT8, AG_SHAPE(2));
    EXPECT_ERROR(ag_index_select(w, 0, idx),
                 "index_select(): Expected dtype int32 or int64 for index");
    EXPECT_ERROR(ag_gather(logits, 1, ag_reshape(idx, AG_SHAPE(2, 1))),
                 "gather(): Expected dtype int64 for index");
    EXPECT_ERROR(ag_embedding(idx, w), "but got torch.ByteTensor instead");
    ASSERT_VALUES(ag_nll_loss(logits, idx, AG_REDUCTION_MEAN), 0, 0, 0);
    ASSERT_VALUES(ag_cross_entropy(logits, idx, AG_REDUCTION_MEAN), 1e-6, 0, log(5.0));
    ag_tensor_free(x), ag_tensor_free(f), ag_tensor_free(w), ag_tensor_free(logits);
    ag_tensor_free(idx);
}

Test(tensor, uint8_gradient_seed_is_converted) {
    /* y.backward(gradient) with a uint8 gradient: torch converts it, as we do */
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(1, 2), true);
    ag_tensor *g = ag_from_data((const uint8_t[]){1, 255}, AG_UINT8, AG_SHAPE(2));
    ag_backward_with(ag_mul_scalar(x, 2), g, false);
    ASSERT_VALUES(x->grad, 0, 0, 2, 510);
    ag_tensor_free(x), ag_tensor_free(g);
}
