/*
 * test_binary.c - the binary elementwise ops: add, sub, mul, div, pow, maximum, minimum and
 * neg; their forms with a number (x + s, s - x, s / x, x ^ s, s ^ x, ...); the in-place forms;
 * broadcasting and type promotion.
 *
 * Every op runs on six shape pairs ((2,3) with (2,3), (3), (), and (2,1) with (1,3), (4,1,3)
 * with (2,3), () with (2,3)) against torch's values and gradients (tests/fixtures/
 * elementwise.h, float32 and float64), each with a float64 gradcheck: a broadcast input gets
 * its gradient summed back to its own shape.
 */
#include "common.h"
#include "fixtures/elementwise.h"

AG_TEST_SUITE(binary);

#define COUNT(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

/* A tensor you own of dtype filled from doubles (rounded to float for float32, as torch.tensor
 * rounds), requiring grad when asked. */
static ag_tensor *make(const double *v, int ndim, const int64_t *shape, ag_dtype dtype,
                       bool requires_grad) {
    ag_tensor *t = ag_empty(dtype, ndim, shape);
    cr_assert_not_null(t);
    for (int64_t i = 0; i < t->numel; i++) {
        if (dtype == AG_FLOAT32)
            AG_F32(t)[i] = (float)v[i];
        else
            AG_F64(t)[i] = v[i];
    }
    return requires_grad ? ag_requires_grad_(t, true) : t;
}

/* ---- the ops as gradcheck sees them ------------------------------------------------------- */

/* f_add, f_sub, ...: ag_<op>(in[0], in[1]) as an ag_function */
#define BINARY_FN(op)                                                                              \
    static ag_tensor *f_##op(ag_tensor *const *in, void *ctx) {                                    \
        (void)ctx;                                                                                 \
        return ag_##op(in[0], in[1]);                                                              \
    }
BINARY_FN(add)
BINARY_FN(sub)
BINARY_FN(mul)
BINARY_FN(div)
BINARY_FN(pow)
BINARY_FN(maximum)
BINARY_FN(minimum)

/* ---- the six shape pairs of the fixtures -------------------------------------------------- */

typedef struct shape_case {
    const char *name;
    int andim, bndim, outndim;
    int64_t ashape[3], bshape[3], outshape[3];
    const double *a, *b;
} shape_case;

static const shape_case cases[6] = {
    {"same", 2, 2, 2, {2, 3}, {2, 3}, {2, 3}, same_a, same_b},
    {"row", 2, 1, 2, {2, 3}, {3}, {2, 3}, row_a, row_b},
    {"outer", 2, 2, 2, {2, 1}, {1, 3}, {2, 3}, outer_a, outer_b},
    {"three", 3, 2, 3, {4, 1, 3}, {2, 3}, {4, 2, 3}, three_a, three_b},
    {"scalar_a", 0, 2, 2, {0}, {2, 3}, {2, 3}, scalar_a_a, scalar_a_b},
    {"scalar_b", 2, 0, 2, {2, 3}, {0}, {2, 3}, scalar_b_a, scalar_b_b},
};

/* torch's results for one op on one shape pair */
typedef struct expected {
    const double *out32, *da32, *db32, *out64, *da64, *db64;
} expected;

#define RESULTS(op, c)                                                                             \
    {                                                                                              \
        op##_##c##_out32, op##_##c##_da32, op##_##c##_db32, op##_##c##_out64, op##_##c##_da64,     \
            op##_##c##_db64                                                                        \
    }
#define ALL_CASES(op)                                                                              \
    {                                                                                              \
        RESULTS(op, same), RESULTS(op, row), RESULTS(op, outer), RESULTS(op, three),               \
            RESULTS(op, scalar_a), RESULTS(op, scalar_b)                                           \
    }

/* f(a, b) in dtype against torch: the value (1e-6 relative in float32, where pow may differ by
 * an ulp), then a backward with the upstream gradient: each input's gradient, summed back to
 * its shape, within 1e-6. */
static void check_one(ag_function f, const char *grad_fn, int andim, const int64_t *ashape,
                      const double *av, int bndim, const int64_t *bshape, const double *bv,
                      int outndim, const int64_t *outshape, ag_dtype dtype, const double *out,
                      const double *da, const double *db) {
    ag_tensor *a = make(av, andim, ashape, dtype, true);
    ag_tensor *b = make(bv, bndim, bshape, dtype, true);
    ag_tensor *y = f((ag_tensor *[]){a, b}, NULL);
    cr_assert_not_null(y, "%s: %s", grad_fn, ag_last_error());
    assert_shape(y, outndim, outshape);
    cr_assert_eq(y->dtype, dtype);
    cr_assert_str_eq(ag_grad_fn_name(y), grad_fn);
    bool f32 = dtype == AG_FLOAT32;
    assert_values(y, out, y->numel, f32 ? 0 : 1e-15, f32 ? 1e-6 : 1e-14);
    ag_tensor *g = make(upstream, outndim, outshape, dtype, false);
    ag_backward_with(y, g, false);
    cr_assert_not_null(a->grad, "%s: no gradient reached a", grad_fn);
    cr_assert_not_null(b->grad, "%s: no gradient reached b", grad_fn);
    assert_shape(a->grad, andim, ashape);
    assert_shape(b->grad, bndim, bshape);
    assert_values(a->grad, da, a->numel, 1e-6, 1e-6);
    assert_values(b->grad, db, b->numel, 1e-6, 1e-6);
    ag_tensor_free(a);
    ag_tensor_free(b);
    ag_tensor_free(g);
    ag_tape_reset(NULL);
}

static void check_binary_op(ag_function f, const char *grad_fn, const expected *ex) {
    for (int c = 0; c < 6; c++) {
        const shape_case *k = &cases[c];
        check_one(f, grad_fn, k->andim, k->ashape, k->a, k->bndim, k->bshape, k->b, k->outndim,
                  k->outshape, AG_FLOAT32, ex[c].out32, ex[c].da32, ex[c].db32);
        check_one(f, grad_fn, k->andim, k->ashape, k->a, k->bndim, k->bshape, k->b, k->outndim,
                  k->outshape, AG_FLOAT64, ex[c].out64, ex[c].da64, ex[c].db64);
        /* and the float64 finite-difference check on the same shapes */
        ag_tensor *a = make(k->a, k->andim, k->ashape, AG_FLOAT64, true);
        ag_tensor *b = make(k->b, k->bndim, k->bshape, AG_FLOAT64, true);
        assert_gradcheck(f, NULL, (ag_tensor *[]){a, b}, 2);
        ag_tensor_free(a);
        ag_tensor_free(b);
    }
}

/* Rejects NULL, int64 and shapes that do not broadcast, in the op's name. */
static void check_bad_input(ag_function f, const char *op) {
    ag_tensor *x = AG_TENSOR(1, 2, 3), *y = AG_TENSOR(1, 2), *i = AG_INDEX(1, 2, 3);
    char text[128];
    snprintf(text, sizeof text, "%s: argument 'self' must be a tensor", op);
    EXPECT_ERROR(f((ag_tensor *[]){NULL, x}, NULL), text);
    snprintf(text, sizeof text, "%s: argument 'other' must be a tensor", op);
    EXPECT_ERROR(f((ag_tensor *[]){x, NULL}, NULL), text);
    snprintf(text, sizeof text, "%s: expected a floating point tensor", op);
    EXPECT_ERROR(f((ag_tensor *[]){x, i}, NULL), text);
    snprintf(text, sizeof text,
             "%s: The size of tensor a (3) must match the size of tensor b (2) at "
             "non-singleton dimension 0",
             op);
    EXPECT_ERROR(f((ag_tensor *[]){x, y}, NULL), text);
    ag_tensor_free(x);
    ag_tensor_free(y);
    ag_tensor_free(i);
}

/* ---- add, sub, mul, div, pow -------------------------------------------------------------- */

/* One test per op, named after it: torch's values and gradients on the six shape pairs (and
 * the gradchecks), then the bad inputs, reported in the op's name. */
#define BINARY_OP_TEST(op, grad_fn)                                                                \
    Test(binary, op) {                                                                             \
        static const expected ex[6] = ALL_CASES(op);                                               \
        check_binary_op(f_##op, grad_fn, ex);                                                      \
        check_bad_input(f_##op, #op);                                                              \
    }

BINARY_OP_TEST(add, "AddBackward0")
BINARY_OP_TEST(sub, "SubBackward0")
BINARY_OP_TEST(mul, "MulBackward0")
BINARY_OP_TEST(div, "DivBackward0")
BINARY_OP_TEST(pow, "PowBackward1")

Test(binary, pow_zero_conventions) {
    /* 0^0 = 1 with both gradients 0; 0^2: db = 0 (not 0 * ln 0 = NaN); 0^-1 = inf;
     * 0^0.5: da = inf; (-2)^3: db = NaN (ln -2), as torch */
    const int64_t n[] = {COUNT(powz_a)};
    check_one(f_pow, "PowBackward1", 1, n, powz_a, 1, n, powz_b, 1, n, AG_FLOAT32, powz_out32,
              powz_da32, powz_db32);
    check_one(f_pow, "PowBackward1", 1, n, powz_a, 1, n, powz_b, 1, n, AG_FLOAT64, powz_out64,
              powz_da64, powz_db64);
}

/* ---- maximum, minimum --------------------------------------------------------------------- */

BINARY_OP_TEST(maximum, "MaximumBackward0")
BINARY_OP_TEST(minimum, "MinimumBackward0")

Test(binary, maximum_minimum_ties_split_the_gradient) {
    /* torch 1.13: g / 2 to each side of a tie; where either is NaN the result is NaN and both
     * receive g */
    const int64_t n[] = {COUNT(ties_a)};
    check_one(f_maximum, "MaximumBackward0", 1, n, ties_a, 1, n, ties_b, 1, n, AG_FLOAT32,
              maximum_ties_out32, maximum_ties_da32, maximum_ties_db32);
    check_one(f_maximum, "MaximumBackward0", 1, n, ties_a, 1, n, ties_b, 1, n, AG_FLOAT64,
              maximum_ties_out64, maximum_ties_da64, maximum_ties_db64);
    check_one(f_minimum, "MinimumBackward0", 1, n, ties_a, 1, n, ties_b, 1, n, AG_FLOAT32,
              minimum_ties_out32, minimum_ties_da32, minimum_ties_db32);
    check_one(f_minimum, "MinimumBackward0", 1, n, ties_a, 1, n, ties_b, 1, n, AG_FLOAT64,
              minimum_ties_out64, minimum_ties_da64, minimum_ties_db64);
}

Test(binary, maximum_of_x_with_itself) {
    /* every element ties: g / 2 through each side, g in total */
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(1, -2), true);
    ag_backward(ag_sum(ag_maximum(x, x)));
    ASSERT_VALUES(x->grad, 0, 0, 1, 1);
    ag_tensor_free(x);
}

/* ---- neg ---------------------------------------------------------------------------------- */

static ag_tensor *f_neg(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_neg(in[0]);
}

Test(binary, neg) {
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(1.5f, -2, 0), true);
    ag_tensor *y = ag_neg(x);
    ASSERT_VALUES(y, 0, 0, -1.5, 2, 0);
    cr_assert_str_eq(ag_grad_fn_name(y), "NegBackward0");
    ag_tensor *g = AG_TENSOR(0.5f, 1, -3);
    ag_backward_with(y, g, false);
    ASSERT_VALUES(x->grad, 0, 0, -0.5, -1, 3);
    ag_tensor *x64 = make((const double[]){0.3, -1.7, 2.2}, AG_SHAPE(3), AG_FLOAT64, true);
    assert_gradcheck(f_neg, NULL, &x64, 1);
    ag_tensor *i = AG_INDEX(1);
    EXPECT_ERROR(ag_neg(i), "neg: expected a floating point tensor");
    EXPECT_ERROR(ag_neg(NULL), "neg: argument 'self' must be a tensor");
    ag_tensor_free(x);
    ag_tensor_free(g);
    ag_tensor_free(x64);
    ag_tensor_free(i);
}

/* ---- a tensor and a number ---------------------------------------------------------------- */

static ag_tensor *s_add(ag_tensor *x, double s) { return ag_add_scalar(x, s); }
static ag_tensor *s_sub(ag_tensor *x, double s) { return ag_sub_scalar(x, s); }
static ag_tensor *s_rsub(ag_tensor *x, double s) { return ag_rsub_scalar(s, x); }
static ag_tensor *s_mul(ag_tensor *x, double s) { return ag_mul_scalar(x, s); }
static ag_tensor *s_div(ag_tensor *x, double s) { return ag_div_scalar(x, s); }
static ag_tensor *s_rdiv(ag_tensor *x, double s) { return ag_rdiv_scalar(s, x); }
static ag_tensor *s_pow(ag_tensor *x, double s) { return ag_pow_scalar(x, s); }
static ag_tensor *s_rpow(ag_tensor *x, double s) { return ag_rpow_scalar(s, x); }

typedef struct scalar_op {
    ag_tensor *(*fn)(ag_tensor *x, double s);
    double s;
    const char *grad_fn; /* as torch names x + s, s - x, s / x (a Mul of a reciprocal), ... */
    const double *y32, *dx32, *y64, *dx64;
} scalar_op;

#define SCALAR_EXPECTED(k) scalar##k##_y32, scalar##k##_dx32, scalar##k##_y64, scalar##k##_dx64

/* In the fixture's order (gen_elementwise.py's SCALAR; scalar_s checks it). */
static const scalar_op scalar_ops[] = {
    {s_add, 2.5, "AddBackward0", SCALAR_EXPECTED(0)},
    {s_sub, 2.5, "SubBackward0", SCALAR_EXPECTED(1)},
    {s_rsub, 2.5, "RsubBackward1", SCALAR_EXPECTED(2)},
    {s_mul, -1.5, "MulBackward0", SCALAR_EXPECTED(3)},
    {s_div, 3.0, "DivBackward0", SCALAR_EXPECTED(4)},
    {s_rdiv, 3.0, "MulBackward0", SCALAR_EXPECTED(5)},
    {s_pow, 2.5, "PowBackward0", SCALAR_EXPECTED(6)},
    {s_pow, 3.0, "PowBackward0", SCALAR_EXPECTED(7)},
    {s_pow, 0.5, "PowBackward0", SCALAR_EXPECTED(8)},
    {s_pow, -1.0, "PowBackward0", SCALAR_EXPECTED(9)},
    {s_pow, 0.0, "PowBackward0", SCALAR_EXPECTED(10)},
    {s_pow, 2.0, "PowBackward0", SCALAR_EXPECTED(11)},
    {s_rpow, 2.0, "PowBackward1", SCALAR_EXPECTED(12)},
    {s_rpow, 0.5, "PowBackward1", SCALAR_EXPECTED(13)},
    {s_rpow, 0.0, "PowBackward1", SCALAR_EXPECTED(14)},
};

static ag_tensor *f_scalar(ag_tensor *const *in, void *ctx) {
    const scalar_op *op = ctx;
    return op->fn(in[0], op->s);
}

Test(binary, scalar_forms) {
    cr_assert_eq(COUNT(scalar_ops), COUNT(scalar_s));
    const int64_t n = COUNT(scalar_x);
    for (int k = 0; k < COUNT(scalar_ops); k++) {
        const scalar_op *op = &scalar_ops[k];
        cr_assert_eq(op->s, scalar_s[k], "scalar op %d is out of the fixture's order", k);
        for (int d = 0; d < 2; d++) {
            ag_dtype dtype = d == 0 ? AG_FLOAT32 : AG_FLOAT64;
            ag_tensor *x = make(scalar_x, AG_SHAPE(n), dtype, true);
            ag_tensor *g = make(upstream, AG_SHAPE(n), dtype, false);
            ag_tensor *y = op->fn(x, op->s);
            cr_assert_not_null(y, "scalar op %d: %s", k, ag_last_error());
            cr_assert_eq(y->dtype, dtype, "a number takes the tensor's dtype");
            cr_assert_str_eq(ag_grad_fn_name(y), op->grad_fn, "scalar op %d", k);
            assert_values(y, d == 0 ? op->y32 : op->y64, n, d == 0 ? 0 : 1e-15,
                          d == 0 ? 1e-6 : 1e-14);
            ag_backward_with(y, g, false);
            cr_assert_not_null(x->grad, "scalar op %d (s = %g): x.grad is None; torch gives %s", k,
                               op->s, "a gradient (zeros for x ^ 0)");
            assert_values(x->grad, d == 0 ? op->dx32 : op->dx64, n, 1e-6, 1e-6);
            ag_tensor_free(x);
            ag_tensor_free(g);
            ag_tape_reset(NULL);
        }
        /* float64 gradcheck away from 0 (s / x, x ^ s) */
        ag_tensor *x = make((const double[]){0.4, 1.3, 2.9}, AG_SHAPE(3), AG_FLOAT64, true);
        assert_gradcheck(f_scalar, (void *)op, &x, 1);
        ag_tensor_free(x);
    }
}

Test(binary, scalar_forms_reject_bad_input) {
    ag_tensor *i = AG_INDEX(1, 2);
    EXPECT_ERROR(ag_add_scalar(NULL, 1), "add: argument 'self' must be a tensor");
    EXPECT_ERROR(ag_sub_scalar(NULL, 1), "sub: argument 'self' must be a tensor");
    EXPECT_ERROR(ag_rsub_scalar(1, NULL), "rsub: argument 'self' must be a tensor");
    EXPECT_ERROR(ag_mul_scalar(NULL, 1), "mul: argument 'self' must be a tensor");
    EXPECT_ERROR(ag_div_scalar(NULL, 1), "div: argument 'self' must be a tensor");
    EXPECT_ERROR(ag_rdiv_scalar(1, NULL), "div: argument 'self' must be a tensor");
    EXPECT_ERROR(ag_pow_scalar(NULL, 1), "pow: argument 'self' must be a tensor");
    EXPECT_ERROR(ag_rpow_scalar(1, NULL), "pow: argument 'exponent' must be a tensor");
    EXPECT_ERROR(ag_add_scalar(i, 1), "add: expected a floating point tensor");
    EXPECT_ERROR(ag_mul_scalar(i, 1), "mul: expected a floating point tensor");
    EXPECT_ERROR(ag_pow_scalar(i, 2), "pow: expected a floating point tensor");
    EXPECT_ERROR(ag_rpow_scalar(2, i), "pow: expected a floating point tensor");
    ag_tensor_free(i);
}

/* ---- type promotion ----------------------------------------------------------------------- */

Test(binary, float32_with_float64_promotes) {
    ag_tensor *a = ag_requires_grad_(AG_TENSOR(1, 2, 3), true);
    ag_tensor *b = make((const double[]){0.1, 0.2, 0.3}, AG_SHAPE(3), AG_FLOAT64, true);
    ag_tensor *y = ag_mul(a, b);
    cr_assert_eq(y->dtype, AG_FLOAT64);
    ASSERT_VALUES(y, 0, 0, 0.1, 0.4, 0.3 * 3);
    ag_backward(ag_sum(y));
    /* each gradient in its own input's dtype */
    cr_assert_eq(a->grad->dtype, AG_FLOAT32);
    cr_assert_eq(b->grad->dtype, AG_FLOAT64);
    ASSERT_VALUES(a->grad, 0, 0, (float)0.1, (float)0.2, (float)0.3);
    ASSERT_VALUES(b->grad, 0, 0, 1, 2, 3);
    ag_tensor_free(a);
    ag_tensor_free(b);
}

Test(binary, zero_dim_does_not_promote) {
    /* torch: a 0-d tensor does not promote a dimensioned one of the same category */
    ag_tensor *a = ag_requires_grad_(AG_TENSOR(1, 2, 3), true);
    ag_tensor *s = ag_requires_grad_(ag_scalar(0.1, AG_FLOAT64), true);
    ag_tensor *y = ag_add(a, s);
    cr_assert_eq(y->dtype, AG_FLOAT32);
    ASSERT_VALUES(y, 0, 0, 1 + 0.1f, 2 + 0.1f, 3 + 0.1f);
    cr_assert_eq(ag_add(s, a)->dtype, AG_FLOAT32, "in either order");
    ag_backward(ag_sum(y));
    cr_assert_eq(s->grad->dtype, AG_FLOAT64);
    ASSERT_SCALAR_SHAPE(s->grad);
    ASSERT_VALUES(s->grad, 0, 0, 3);
    /* two 0-d tensors promote as dimensioned ones do */
    ag_tensor *t = ag_scalar(2, AG_FLOAT32);
    cr_assert_eq(ag_add(t, s)->dtype, AG_FLOAT64);
    ag_tensor_free(a);
    ag_tensor_free(s);
    ag_tensor_free(t);
}

/* ---- graphs ------------------------------------------------------------------------------- */

Test(binary, fan_out_through_different_nodes) {
    /* d/dx sum(x*y + x*z) = y + z: an `=` where `+=` belongs would lose one of them */
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(1, 2), true);
    ag_tensor *y = AG_TENSOR(3, 4), *z = AG_TENSOR(10, 20);
    ag_backward(ag_sum(ag_add(ag_mul(x, y), ag_mul(x, z))));
    ASSERT_VALUES(x->grad, 0, 0, 13, 24);
    /* and a second backward adds to .grad */
    ag_backward(ag_sum(ag_div(ag_sub(x, y), z)));
    ASSERT_VALUES(x->grad, 0, 1e-6, 13.1, 24.05);
    ag_tensor_free(x);
    ag_tensor_free(y);
    ag_tensor_free(z);
}

Test(binary, only_inputs_that_require_grad_get_one) {
    ag_tensor *a = ag_requires_grad_(AG_TENSOR(1, 2), true), *b = AG_TENSOR(3, 4);
    ag_backward(ag_sum(ag_pow(a, b)));
    cr_assert_null(b->grad);
    ASSERT_VALUES(a->grad, 0, 0, 3, 4 * 8);
    ag_tensor_free(a);
    ag_tensor_free(b);
}

/* ---- in place ----------------------------------------------------------------------------- */

Test(binary, in_place_no_grad) {
    ag_tensor *t = ag_requires_grad_(
        ag_from_data((const float[]){1, 2, 3, 4, 5, 6}, AG_FLOAT32, AG_SHAPE(2, 3)), true);
    ag_tensor *row = AG_TENSOR(1, 2, 4);
    AG_NO_GRAD {
        cr_assert_eq(ag_add_(t, row), t, "in-place ops return their first argument");
        ASSERT_VALUES(t, 0, 0, 2, 4, 7, 5, 7, 10);
        cr_assert_eq(t->version, 1);
        ag_sub_(t, row);
        ASSERT_VALUES(t, 0, 0, 1, 2, 3, 4, 5, 6);
        cr_assert_eq(t->version, 2);
        ag_mul_(t, row);
        ASSERT_VALUES(t, 0, 0, 1, 4, 12, 4, 10, 24);
        cr_assert_eq(t->version, 3);
        ag_div_(t, row);
        ASSERT_VALUES(t, 0, 0, 1, 2, 3, 4, 5, 6);
        cr_assert_eq(t->version, 4);
        cr_assert_eq(ag_add_scalar_(t, 0.5), t);
        ASSERT_VALUES(t, 0, 0, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5);
        ag_sub_scalar_(t, 1.5);
        ASSERT_VALUES(t, 0, 0, 0, 1, 2, 3, 4, 5);
        ag_mul_scalar_(t, 3);
        ASSERT_VALUES(t, 0, 0, 0, 3, 6, 9, 12, 15);
        ag_div_scalar_(t, 3);
        ASSERT_VALUES(t, 0, 0, 0, 1, 2, 3, 4, 5);
        cr_assert_eq(t->version, 8);
    }
    cr_assert(t->requires_grad && ag_is_leaf(t), "t stays a leaf that requires grad");
    cr_assert_eq(ag_tape_size(NULL), 0, "nothing was recorded");
    ag_tensor_free(t);
    ag_tensor_free(row);
}

Test(binary, in_place_keeps_dtype) {
    /* float32 t with a float64 other: computed, then stored as float32 (torch's result) */
    ag_tensor *t = AG_TENSOR(1, 2);
    ag_tensor *o = make((const double[]){0.1, 0.2}, AG_SHAPE(2), AG_FLOAT64, false);
    ag_add_(t, o);
    cr_assert_eq(t->dtype, AG_FLOAT32);
    ASSERT_VALUES(t, 0, 0, (float)1.1, (float)2.2);
    ag_tensor_free(t);
    ag_tensor_free(o);
}

Test(binary, in_place_errors) {
    ag_tensor *t = AG_TENSOR(1, 2, 3), *big = ag_ones(AG_FLOAT32, AG_SHAPE(2, 3));
    AG_NO_GRAD {
        EXPECT_ERROR(ag_add_(t, big),
                     "add_: output with shape [3] doesn't match the broadcast shape [2, 3]");
        EXPECT_ERROR(ag_sub_(t, big),
                     "sub_: output with shape [3] doesn't match the broadcast shape [2, 3]");
        EXPECT_ERROR(ag_mul_(t, big),
                     "mul_: output with shape [3] doesn't match the broadcast shape [2, 3]");
        EXPECT_ERROR(ag_div_(t, big),
                     "div_: output with shape [3] doesn't match the broadcast shape [2, 3]");
    }
    /* nothing changed */
    ASSERT_VALUES(t, 0, 0, 1, 2, 3);
    cr_assert_eq(t->version, 0);
    /* a leaf that requires grad, in grad mode */
    ag_requires_grad_(t, true);
    EXPECT_ERROR(ag_add_scalar_(t, 1), "add_: a leaf Variable that requires grad is being used "
                                       "in an in-place operation.");
    EXPECT_ERROR(ag_mul_(t, t), "mul_: a leaf Variable that requires grad is being used in an "
                                "in-place operation.");
    ASSERT_VALUES(t, 0, 0, 1, 2, 3);
    EXPECT_ERROR(ag_add_(NULL, t), "add_: argument 'self' must be a tensor");
    EXPECT_ERROR(ag_div_scalar_(NULL, 1), "div_: argument 'self' must be a tensor");
    ag_tensor_free(t);
    ag_tensor_free(big);
}

Test(binary, in_place_on_intermediate_keeps_history) {
    /* y = 2x; y *= z; d sum(y) / dx = 2z, d / dz = 2x */
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(1, 2), true);
    ag_tensor *z = ag_requires_grad_(AG_TENSOR(5, 7), true);
    ag_tensor *y = ag_mul_scalar(x, 2);
    ag_mul_(y, z);
    cr_assert_str_eq(ag_grad_fn_name(y), "MulBackward0");
    ASSERT_VALUES(y, 0, 0, 10, 28);
    ag_backward(ag_sum(y));
    ASSERT_VALUES(x->grad, 0, 0, 10, 14);
    ASSERT_VALUES(z->grad, 0, 0, 2, 4);
    ag_tensor_free(x);
    ag_tensor_free(z);
}
