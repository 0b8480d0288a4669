/*
 * test_matmul.c - ag_matmul against torch.matmul, case by case, and its two kernels against
 * each other.
 *
 * Each shape case of tests/fixtures/matmul.h (dot, mv, mm, a row times a matrix, folded and
 * batched products with broadcast batch dims, empty dims) is checked for: the result's shape
 * and values and its grad_fn name, the reference kernel's values, a.grad and b.grad after a
 * backward from torch's upstream gradient, and (float64 cases) a finite-difference gradcheck.
 * Then OpenBLAS and the reference loops are compared on larger non-square sizes, forward and
 * backward, and every bad input is checked for torch's message.
 */
#include "common.h"
#include "fixtures/matmul.h"
#include "ops/matmul.h"

#include <stdlib.h>

AG_TEST_SUITE(matmul);

static int64_t numel_of(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    return n;
}

/* A tensor you own of dtype, from numel_of(shape) doubles. */
static ag_tensor *make(ag_dtype dtype, const double *values, int ndim, const int64_t *shape) {
    if (dtype == AG_FLOAT64) return ag_from_data(values, dtype, ndim, shape);
    int64_t n = numel_of(ndim, shape);
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)values[i];
    ag_tensor *t = ag_from_data(f, dtype, ndim, shape);
    free(f);
    return t;
}

static ag_tensor *matmul_fn(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_matmul(in[0], in[1]);
}

/* Fills the tape's memory with NaN and releases it, so a result that is not fully written
 * (an empty sum left unzeroed) shows up instead of reading fresh, zeroed pages. */
static void dirty_tape(void) {
    ag_tensor *x = ag_zeros(AG_FLOAT64, AG_SHAPE(1 << 14));
    AG_NO_GRAD {
        for (int i = 0; i < 4; i++)
            ag_add_scalar(x, NAN);
    }
    ag_tape_reset(NULL);
    ag_tensor_free(x);
}

/* Everything one fixture case says about a @ b. */
static void check_case(const matmul_case *c) {
    dirty_tape();
    ag_dtype dtype = c->f64 ? AG_FLOAT64 : AG_FLOAT32;
    /* float64: both sides are dgemm-class sums of a few terms; float32: BLAS and torch may
     * sum in another order (and with FMA), a few ulps apart */
    double atol = c->f64 ? 1e-12 : 1e-6, rtol = c->f64 ? 1e-12 : 1e-5;
    int64_t na = numel_of(c->andim, c->ashape), nb = numel_of(c->bndim, c->bshape);
    int64_t no = numel_of(c->ondim, c->oshape);
    ag_tensor *a = ag_requires_grad_(make(dtype, c->a, c->andim, c->ashape), true);
    ag_tensor *b = ag_requires_grad_(make(dtype, c->b, c->bndim, c->bshape), true);
    ag_tensor *g = make(dtype, c->g, c->ondim, c->oshape);

    ag_tensor *out = ag_matmul(a, b);
    assert_shape(out, c->ondim, c->oshape);
    cr_assert_eq(out->dtype, dtype);
    cr_assert_str_eq(ag_grad_fn_name(out), c->grad_fn, "case %s", c->name);
    assert_values(out, c->out, no, atol, rtol);

    ag_tensor *ref = ag_matmul_reference(a, b);
    assert_shape(ref, c->ondim, c->oshape);
    cr_assert_null(ag_grad_fn_name(ref), "the reference records nothing");
    assert_values(ref, c->out, no, atol, rtol);

    ag_backward_with(out, g, false);
    cr_assert_not_null(a->grad, "case %s: a.grad is None", c->name);
    cr_assert_not_null(b->grad, "case %s: b.grad is None", c->name);
    assert_shape(a->grad, c->andim, c->ashape);
    assert_shape(b->grad, c->bndim, c->bshape);
    assert_values(a->grad, c->da, na, atol, rtol);
    assert_values(b->grad, c->db, nb, atol, rtol);

    if (c->f64) assert_gradcheck(matmul_fn, NULL, (ag_tensor *[]){a, b}, 2);
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(g);
}

/* ---- every shape case against torch ------------------------------------------------------- */

Test(matmul, dot) { check_case(&matmul_dot); }
Test(matmul, mm) { check_case(&matmul_mm); }
Test(matmul, mv) { check_case(&matmul_mv); }
Test(matmul, vector_times_matrix) { check_case(&matmul_vm); }
Test(matmul, batched_times_matrix) { check_case(&matmul_batched_mat); }
Test(matmul, batched_times_vector) { check_case(&matmul_batched_vec); }
Test(matmul, vector_times_batched) { check_case(&matmul_vec_batched); }
Test(matmul, matrix_times_batched) { check_case(&matmul_mat_batched); }
Test(matmul, bmm) { check_case(&matmul_bmm); }
Test(matmul, broadcast_batch_dims) { check_case(&matmul_broadcast); } /* (2,1,3,4)@(5,4,2) */
Test(matmul, broadcast_batch_of_one) { check_case(&matmul_broadcast_one); }
Test(matmul, broadcast_both_sides) { check_case(&matmul_broadcast_both); }
Test(matmul, vector_times_4d) { check_case(&matmul_vec_4d); }
Test(matmul, matrix_4d_times_vector) { check_case(&matmul_4d_vec); }
Test(matmul, empty_inner_mm_gives_zeros) { check_case(&matmul_k0_mm); }
Test(matmul, empty_dot_gives_zero) { check_case(&matmul_k0_dot); }
Test(matmul, empty_inner_batched_gives_zeros) { check_case(&matmul_k0_batched); }
Test(matmul, empty_rows) { check_case(&matmul_n0_mm); }
Test(matmul, empty_batch) { check_case(&matmul_batch0); }
Test(matmul, empty_columns) { check_case(&matmul_m0_mm); }
Test(matmul, empty_columns_batched) { check_case(&matmul_m0_bmm); }
Test(matmul, mm_float32) { check_case(&matmul_mm_f32); }
Test(matmul, broadcast_float32) { check_case(&matmul_broadcast_f32); }

Test(matmul, forward_by_hand) {
    ag_tensor *a = ag_from_data((const float[]){1, 2, 3, 4}, AG_FLOAT32, AG_SHAPE(2, 2));
    ag_tensor *b = ag_from_data((const float[]){5, 6, 7, 8}, AG_FLOAT32, AG_SHAPE(2, 2));
    ag_tensor *v = AG_TENSOR(1, -1);
    ASSERT_VALUES(ag_matmul(a, b), 0, 0, 19, 22, 43, 50);
    ASSERT_VALUES(ag_matmul(a, v), 0, 0, -1, -1); /* mv */
    ASSERT_VALUES(ag_matmul(v, a), 0, 0, -2, -2); /* a row times a */
    ASSERT_VALUES(ag_matmul(v, v), 0, 0, 2);      /* dot */
    ASSERT_SCALAR_SHAPE(ag_matmul(v, v));
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(v);
}

/* The reference sums in the tensors' precision, in order: in float32, (1e8 + 1) - 1e8 is 0
 * (1e8 + 1 rounds to 1e8), where a double sum would give 1. */
Test(matmul, reference_sums_float32_in_float32) {
    ag_tensor *a = AG_TENSOR(1e8, 1, -1e8), *b = AG_TENSOR(1, 1, 1);
    ASSERT_VALUES(ag_matmul_reference(a, b), 0, 0, 0.0);
    ag_tensor *a64 = f64_tensor((const double[]){1e8, 1, -1e8}, AG_SHAPE(3));
    ag_tensor *b64 = f64_tensor((const double[]){1, 1, 1}, AG_SHAPE(3));
    ASSERT_VALUES(ag_matmul_reference(a64, b64), 0, 0, 1.0);
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(a64), ag_tensor_free(b64);
}

/* sum(x @ w1 + x @ w2): x.grad receives a share from two different nodes, which must add:
 * d/dx[i][k] = sum_j (w1 + w2)[k][j]. */
Test(matmul, gradients_from_two_nodes_add) {
    ag_tensor *x = ag_requires_grad_(ag_ones(AG_FLOAT64, AG_SHAPE(2, 3)), true);
    ag_tensor *w1 = f64_tensor((const double[]){1, 2, 3, 4, 5, 6}, AG_SHAPE(3, 2));
    ag_tensor *w2 = f64_tensor((const double[]){10, 20, 30, 40, 50, 60}, AG_SHAPE(3, 2));
    ag_backward(ag_sum(ag_add(ag_matmul(x, w1), ag_matmul(x, w2))));
    ASSERT_VALUES(x->grad, 0, 0, 33, 77, 121, 33, 77, 121);
    cr_assert_null(w1->grad);
    ag_tensor_free(x), ag_tensor_free(w1), ag_tensor_free(w2);
}

Test(matmul, records_nothing_without_grad) {
    ag_tensor *a = ag_requires_grad_(ag_ones(AG_FLOAT32, AG_SHAPE(2, 3)), true);
    ag_tensor *b = ag_ones(AG_FLOAT32, AG_SHAPE(3, 2)), *c = ag_ones(AG_FLOAT32, AG_SHAPE(2, 3));
    int64_t before = ag_tape_size(NULL);
    AG_NO_GRAD {
        ag_tensor *out = ag_matmul(a, b);
        cr_assert_null(ag_grad_fn_name(out));
        cr_assert(!out->requires_grad);
    }
    cr_assert_null(ag_grad_fn_name(ag_matmul(c, b)), "no input requires grad");
    cr_assert_null(ag_grad_fn_name(ag_matmul_reference(a, b)), "the reference never records");
    cr_assert_eq(ag_tape_size(NULL), before, "nothing was recorded");
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(c);
}

/* ---- in-place changes: only the tensor backward needs is checked, as torch saves ---------- */

Test(matmul, changing_an_unneeded_operand_is_fine) {
    /* a takes no gradient, so b is not saved: b may change before backward (torch agrees) */
    ag_tensor *a = f64_tensor((const double[]){1, 2, 3, 4, 5, 6}, AG_SHAPE(2, 3));
    ag_tensor *b = ag_requires_grad_(ag_ones(AG_FLOAT64, AG_SHAPE(3, 2)), true);
    ag_tensor *out = ag_matmul(a, b);
    AG_NO_GRAD { ag_add_scalar_(b, 1.0); }
    ag_backward(ag_sum(out));
    ASSERT_VALUES(b->grad, 0, 0, 5, 5, 7, 7, 9, 9); /* a^T @ ones */
    ag_tensor_free(a), ag_tensor_free(b);
}

Test(matmul, changing_a_saved_operand_is_an_error) {
    ag_tensor *a = f64_tensor((const double[]){1, 2, 3, 4, 5, 6}, AG_SHAPE(2, 3));
    ag_tensor *b = ag_requires_grad_(ag_ones(AG_FLOAT64, AG_SHAPE(3, 2)), true);
    ag_tensor *loss = ag_sum(ag_matmul(a, b));
    ag_add_scalar_(a, 1.0);
    EXPECT_ERROR(ag_backward(loss), "modified by an inplace operation");
    ag_tensor_free(a), ag_tensor_free(b);
}

/* ---- OpenBLAS against the reference loops ------------------------------------------------- */

/* Random-ish values in [-1, 1) from a fixed LCG, so that sums cancel as real data's do. */
static double *random_values(int64_t n, uint64_t seed) {
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    uint64_t s = seed * 2862933555777941757ull + 3037000493ull;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (double)(s >> 11) / 4503599627370496.0 - 1.0; /* 53 bits / 2^52 - 1 */
    }
    return v;
}

static ag_tensor *random_tensor(ag_dtype dtype, int ndim, const int64_t *shape, uint64_t seed,
                                bool absolute) {
    int64_t n = numel_of(ndim, shape);
    double *v = random_values(n, seed);
    for (int64_t i = 0; i < n && absolute; i++)
        v[i] = fabs(v[i]);
    ag_tensor *t = make(dtype, v, ndim, shape);
    free(v);
    return t;
}

/* |x - y| <= rtol * bound elementwise, bound = |a| @ |b| (the scale of each sum's rounding
 * error: relative error measured where cancellation cannot hide it). */
static void assert_close(const char *what, const ag_tensor *x, const ag_tensor *y,
                         const ag_tensor *bound, double rtol) {
    cr_assert_not_null(x, "%s: NULL (%s)", what, ag_last_error());
    cr_assert_not_null(y, "%s: NULL (%s)", what, ag_last_error());
    cr_assert(ag_same_shape(x, y) && ag_same_shape(x, bound), "%s: shapes differ", what);
    for (int64_t i = 0; i < x->numel; i++) {
        double d = fabs(ag_get(x, i) - ag_get(y, i)), s = ag_get(bound, i);
        cr_assert(d <= rtol * s, "%s: element %lld: %.17g vs %.17g (scale %g)", what, (long long)i,
                  ag_get(x, i), ag_get(y, i), s);
    }
}

/* ag_matmul (BLAS) and ag_matmul_reference agree on a @ b for random-ish data. */
static void check_kernels_agree(ag_dtype dtype, int an, const int64_t *as, int bn,
                                const int64_t *bs) {
    double rtol = dtype == AG_FLOAT32 ? 1e-5 : 1e-12;
    ag_tensor *a = random_tensor(dtype, an, as, 1, false),
              *b = random_tensor(dtype, bn, bs, 2, false);
    ag_tensor *aa = random_tensor(dtype, an, as, 1, true),
              *ab = random_tensor(dtype, bn, bs, 2, true);
    ag_tensor *fast = ag_matmul(a, b), *ref = ag_matmul_reference(a, b);
    assert_close("forward", fast, ref, ag_matmul_reference(aa, ab), rtol);
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(aa), ag_tensor_free(ab);
}

Test(matmul, blas_agrees_with_reference_float32) {
    check_kernels_agree(AG_FLOAT32, AG_SHAPE(17, 33), AG_SHAPE(33, 9));
    check_kernels_agree(AG_FLOAT32, AG_SHAPE(33), AG_SHAPE(33, 9));
    check_kernels_agree(AG_FLOAT32, AG_SHAPE(17, 33), AG_SHAPE(33));
    check_kernels_agree(AG_FLOAT32, AG_SHAPE(33), AG_SHAPE(33));
    check_kernels_agree(AG_FLOAT32, AG_SHAPE(3, 1, 17, 33), AG_SHAPE(2, 33, 9));
    check_kernels_agree(AG_FLOAT32, AG_SHAPE(17, 33), AG_SHAPE(4, 33, 9));
    check_kernels_agree(AG_FLOAT32, AG_SHAPE(130, 257), AG_SHAPE(257, 140)); /* threads */
}

Test(matmul, blas_agrees_with_reference_float64) {
    check_kernels_agree(AG_FLOAT64, AG_SHAPE(17, 33), AG_SHAPE(33, 9));
    check_kernels_agree(AG_FLOAT64, AG_SHAPE(33), AG_SHAPE(33, 9));
    check_kernels_agree(AG_FLOAT64, AG_SHAPE(17, 33), AG_SHAPE(33));
    check_kernels_agree(AG_FLOAT64, AG_SHAPE(33), AG_SHAPE(33));
    check_kernels_agree(AG_FLOAT64, AG_SHAPE(3, 1, 17, 33), AG_SHAPE(2, 33, 9));
    check_kernels_agree(AG_FLOAT64, AG_SHAPE(17, 33), AG_SHAPE(4, 33, 9));
    check_kernels_agree(AG_FLOAT64, AG_SHAPE(130, 257), AG_SHAPE(257, 140));
}

/* A (rows, cols) copy of t (cols, rows) transposed, for the reference's view of backward. */
static ag_tensor *transposed(const ag_tensor *t) {
    int64_t r = t->shape[0], c = t->shape[1];
    double *v = malloc((size_t)(r * c) * sizeof *v);
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++)
            v[j * r + i] = ag_get(t, i * c + j);
    ag_tensor *u = make(t->dtype, v, AG_SHAPE(c, r));
    free(v);
    return u;
}

/* Backward's transposed BLAS calls against the reference: da = g b^T, db = a^T g. */
static void check_backward_agrees(ag_dtype dtype, int64_t n, int64_t k, int64_t m) {
    double rtol = dtype == AG_FLOAT32 ? 1e-5 : 1e-12;
    ag_tensor *a = ag_requires_grad_(random_tensor(dtype, AG_SHAPE(n, k), 3, false), true);
    ag_tensor *b = ag_requires_grad_(random_tensor(dtype, AG_SHAPE(k, m), 4, false), true);
    ag_tensor *g = random_tensor(dtype, AG_SHAPE(n, m), 5, false);
    ag_tensor *aa = random_tensor(dtype, AG_SHAPE(n, k), 3, true);
    ag_tensor *ab = random_tensor(dtype, AG_SHAPE(k, m), 4, true);
    ag_tensor *ag = random_tensor(dtype, AG_SHAPE(n, m), 5, true);
    ag_backward_with(ag_matmul(a, b), g, false);
    ag_tensor *bt = transposed(b), *at = transposed(a), *abt = transposed(ab),
              *aat = transposed(aa);
    assert_close("da", a->grad, ag_matmul_reference(g, bt), ag_matmul_reference(ag, abt), rtol);
    assert_close("db", b->grad, ag_matmul_reference(at, g), ag_matmul_reference(aat, ag), rtol);
    ag_tensor *all[] = {a, b, g, aa, ab, ag, bt, at, abt, aat};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        ag_tensor_free(all[i]);
}

Test(matmul, blas_backward_agrees_with_reference) {
    check_backward_agrees(AG_FLOAT32, 17, 33, 9);
    check_backward_agrees(AG_FLOAT64, 17, 33, 9);
    check_backward_agrees(AG_FLOAT32, 9, 17, 33);
    check_backward_agrees(AG_FLOAT64, 130, 257, 140);
}

Test(matmul, gradcheck_larger_broadcast) {
    ag_tensor *a =
        ag_requires_grad_(random_tensor(AG_FLOAT64, AG_SHAPE(3, 1, 2, 5), 6, false), true);
    ag_tensor *b = ag_requires_grad_(random_tensor(AG_FLOAT64, AG_SHAPE(4, 5, 3), 7, false), true);
    assert_gradcheck(matmul_fn, NULL, (ag_tensor *[]){a, b}, 2);
    ag_tensor_free(a), ag_tensor_free(b);
}

/* ---- bad inputs, in torch 1.13's words ---------------------------------------------------- */

static ag_tensor *zeros32(int ndim, const int64_t *shape) {
    return ag_zeros(AG_FLOAT32, ndim, shape);
}
static ag_tensor *zeros64(int ndim, const int64_t *shape) {
    return ag_zeros(AG_FLOAT64, ndim, shape);
}

/* EXPECT_ERROR on ag_matmul and on the reference, which checks the same way. */
#define EXPECT_BOTH(a, b, text)                                                                    \
    do {                                                                                           \
        EXPECT_ERROR(ag_matmul(a, b), text);                                                       \
        EXPECT_ERROR(ag_matmul_reference(a, b), text);                                             \
    } while (0)

Test(matmul, bad_shapes) {
    ag_tensor *t[] = {
        zeros32(AG_SHAPE(2, 3)),       zeros32(AG_SHAPE(4, 5)),    ag_scalar(1, AG_FLOAT32),
        zeros32(AG_SHAPE(3)),          zeros32(AG_SHAPE(4)),       zeros32(AG_SHAPE(2, 2, 3)),
        zeros32(AG_SHAPE(3, 3, 4)),    zeros32(AG_SHAPE(2, 4, 4)), zeros32(AG_SHAPE(4, 4)),
        zeros32(AG_SHAPE(2, 3, 2, 3)), zeros32(AG_SHAPE(3, 4, 4)),
    };
    ag_tensor *m23 = t[0], *m45 = t[1], *s = t[2], *v3 = t[3], *v4 = t[4], *b223 = t[5];
    ag_tensor *b334 = t[6], *b244 = t[7], *m44 = t[8], *b2323 = t[9], *b344 = t[10];
    EXPECT_BOTH(m23, m45, "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)");
    EXPECT_BOTH(s, v4, "both arguments to matmul need to be at least 1D, but they are 0D and 1D");
    EXPECT_BOTH(v4, s, "both arguments to matmul need to be at least 1D, but they are 1D and 0D");
    EXPECT_BOTH(v3, v4,
                "inconsistent tensor size, expected tensor [3] and src [4] to have the "
                "same number of elements, but got 3 and 4 elements respectively");
    EXPECT_BOTH(m23, v4, "size mismatch, got 2, 2x3,4");
    EXPECT_BOTH(v3, m45, "mat1 and mat2 shapes cannot be multiplied (1x3 and 4x5)");
    /* batched: the broadcast of the batch dims, then bmm's or the folded mm/mv's words */
    EXPECT_BOTH(b223, b334,
                "The size of tensor a (2) must match the size of tensor b (3) at "
                "non-singleton dimension 0");
    EXPECT_BOTH(b223, b244,
                "Expected size for first two dimensions of batch2 tensor to be: "
                "[2, 3] but got: [2, 4].");
    EXPECT_BOTH(b2323, b344,
                "Expected size for first two dimensions of batch2 tensor to be: "
                "[6, 3] but got: [6, 4].");
    EXPECT_BOTH(b223, m44, "mat1 and mat2 shapes cannot be multiplied (4x3 and 4x4)");
    EXPECT_BOTH(b223, v4, "size mismatch, got 4, 4x3,4");
    EXPECT_BOTH(v3, b244, "size mismatch, got 8, 8x4,3");
    EXPECT_BOTH(m23, b244, "mat1 and mat2 shapes cannot be multiplied (8x4 and 3x2)");
    EXPECT_BOTH(NULL, m23, "argument 'self' must be a tensor, not NULL");
    EXPECT_BOTH(m23, NULL, "argument 'other' must be a tensor, not NULL");
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        ag_tensor_free(t[i]);
}

/* Shapes are checked before dtypes (except by dot); the dtype named first is the first operand
 * of the kernel torch reaches, which is b for (N,K) or (K) @ (*B,K,M): torch computes
 * b^T @ a^T there. */
Test(matmul, bad_dtypes) {
    ag_tensor *t[] = {
        zeros32(AG_SHAPE(3)),
        zeros64(AG_SHAPE(3)),
        zeros32(AG_SHAPE(2, 3)),
        zeros64(AG_SHAPE(3, 4)),
        zeros32(AG_SHAPE(4, 5)),
        zeros32(AG_SHAPE(3, 4)),
        zeros64(AG_SHAPE(2, 4, 5)),
        zeros32(AG_SHAPE(4)),
        zeros64(AG_SHAPE(2, 3, 4)),
        zeros32(AG_SHAPE(2, 4, 5)),
        ag_zeros(AG_INT64, AG_SHAPE(2, 3)),
        ag_zeros(AG_INT64, AG_SHAPE(3, 4)),
    };
    ag_tensor *v3_32 = t[0], *v3_64 = t[1], *m23_32 = t[2], *m34_64 = t[3], *m45_32 = t[4];
    ag_tensor *m34_32 = t[5], *b245_64 = t[6], *v4_32 = t[7], *b234_64 = t[8], *b245_32 = t[9];
    ag_tensor *l23 = t[10], *l34 = t[11];
    EXPECT_BOTH(v3_32, v3_64,
                "dot : expected both vectors to have same dtype, but found Float and Double");
    EXPECT_BOTH(m23_32, m34_64, "expected scalar type Float but found Double");   /* mm */
    EXPECT_BOTH(m34_64, m45_32, "expected scalar type Double but found Float");   /* mm */
    EXPECT_BOTH(m23_32, v3_64, "expected scalar type Float but found Double");    /* mv */
    EXPECT_BOTH(v3_32, m34_64, "expected scalar type Float but found Double");    /* row @ mat */
    EXPECT_BOTH(b234_64, m45_32, "expected scalar type Double but found Float");  /* folded */
    EXPECT_BOTH(b234_64, b245_32, "expected scalar type Double but found Float"); /* bmm */
    EXPECT_BOTH(m34_32, b245_64, "expected scalar type Double but found Float");  /* b first */
    EXPECT_BOTH(v4_32, b245_64, "expected scalar type Double but found Float");   /* b first */
    EXPECT_BOTH(m23_32, m45_32, "shapes cannot be multiplied"); /* shape before dtype */
    EXPECT_BOTH(m23_32, l34, "expected scalar type Float but found Long");
    EXPECT_BOTH(l23, l34,
                "expected a floating point tensor (torch.float32 or torch.float64), "
                "but got torch.int64");
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        ag_tensor_free(t[i]);
}
