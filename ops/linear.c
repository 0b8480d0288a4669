/*
 * linear.c - F.linear, the affine map of a fully connected layer, in one node: x @ w^T + b.
 *
 *   x: (*, K)  w: (M, K)  b: (M) or NULL      X = x seen as (R, K), R the product of *
 *   forward:  out (R, M) = b + X @ w^T             one gemm reading w transposed; out: (*, M)
 *   backward: dX (R, K) += g (R, M) @ w (M, K)
 *             dw (M, K) += g^T (M, R) @ X (R, K)   one gemm reading g transposed
 *             db (M)    += sum over the R rows of g
 * As torch's addmm, the bias is copied into every row of out and the gemm adds X @ w^T to it
 * (beta = 1), so no transposed copy of w is ever made.
 *
 * torch builds F.linear from addmm, mm or matmul depending on x's dims and the bias; the node
 * here is named as the one torch's result shows:
 *                     x: (K)               x: (R, K)         x: (*, K), 3 dims or more
 *   with a bias       AddBackward0         AddmmBackward0    ViewBackward0
 *   without           SqueezeBackward3     MmBackward0       UnsafeViewBackward0
 */
#include "autograd/internal.h"
#include "ops/gemm.h"
#include "ops/nn_ops.h"

#include <limits.h>
#include <string.h>

/* The rows R of x (the product of all its dims but the last). */
static int64_t rows_of(const ag_tensor *x) {
    int64_t r = 1;
    for (int d = 0; d < x->ndim - 1; d++)
        r *= x->shape[d];
    return r;
}

/* sum[j] = the r rows of g (r, m) added in order, in double: row by row, so that the loop
 * over a row's m columns runs on contiguous memory and vectorises. */
static void sum_rows(ag_dtype dtype, int64_t r, int64_t m, const void *g, double *sum) {
    for (int64_t j = 0; j < m; j++)
        sum[j] = 0;
    for (int64_t i = 0; i < r; i++) {
        if (dtype == AG_FLOAT32) {
            const float *row = (const float *)g + i * m;
            for (int64_t j = 0; j < m; j++)
                sum[j] += row[j];
        } else {
            const double *row = (const double *)g + i * m;
            for (int64_t j = 0; j < m; j++)
                sum[j] += row[j];
        }
    }
}

/* dw = g^T @ X as a gradient write (ag_accumulate_write): straight into w's .grad. */
typedef struct {
    ag_dtype dtype;
    int64_t m, k, r;
    const void *g, *x;
} dw_product;

static void write_dw(const void *args, void *data, bool add) {
    const dw_product *p = args;
    ag_gemm(p->dtype, true, false, p->m, p->k, p->r, p->g, p->x, add ? 1.0 : 0.0, data);
}

static void linear_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0), *w = ag_saved(node, 1);
    if (!x || !w) return;
    ag_tensor *g = ag_cast(node->grad, x->dtype);
    if (!g) return;
    ag_dtype dtype = x->dtype;
    int64_t r = rows_of(x), m = w->shape[0], k = w->shape[1];
    if (ag_needs_grad(node, 0)) { /* dX = g @ w */
        ag_tensor *dx = ag_result_shaped(dtype, x);
        if (!dx) return;
        ag_gemm(dtype, false, false, r, k, m, g->data, w->data, 0.0, dx->data);
        ag_accumulate_temp(node, 0, dx);
    }
    if (ag_needs_grad(node, 1)) { /* dw = g^T @ X */
        dw_product *p = ag_tape_alloc(sizeof *p);
        if (!p) return;
        *p = (dw_product){dtype, m, k, r, g->data, x->data};
        /* (no rows: a product over nothing adds nothing, where adding zeros turns a -0 in
         * .grad into +0; and g must stay as it is until the end of the run: not a hook's) */
        bool exact = r > 0 && r <= AG_GEMM_ONE_PASS_INNER && !node->out->hooks;
        ag_accumulate_write(node, 1, write_dw, p, exact);
    }
    if (ag_needs_grad(node, 2)) { /* db = g summed over rows, in double, rounded once */
        ag_tensor *db = ag_result(dtype, 1, &m);
        double *sum = ag_tape_alloc((size_t)m * sizeof *sum);
        if (!db || !sum) return;
        sum_rows(dtype, r, m, g->data, sum);
        for (int64_t j = 0; j < m; j++)
            ag_float_set(db, j, sum[j]);
        ag_accumulate_temp(node, 2, db);
    }
}

/* One descriptor per grad_fn name (see the table at the top); one backward. */
#define LINEAR_OP(var, torch_name)                                                                 \
    static const ag_op var = {                                                                     \
        .name = torch_name,                                                                        \
        .rule = "dx = g w, dw = g^T x, db = sum of g over rows",                                   \
        .backward = linear_backward,                                                               \
    }
LINEAR_OP(add_op, "AddBackward0");
LINEAR_OP(addmm_op, "AddmmBackward0");
LINEAR_OP(view_op, "ViewBackward0");
LINEAR_OP(squeeze_op, "SqueezeBackward3");
LINEAR_OP(mm_op, "MmBackward0");
LINEAR_OP(unsafe_view_op, "UnsafeViewBackward0");

/* torch's checks, in its words, on the path F.linear takes. */
static bool check_linear(const char *op, const ag_tensor *x, const ag_tensor *w,
                         const ag_tensor *b) {
    char s1[AG_SHAPE_STR], s2[AG_SHAPE_STR];
    if (!ag_check_tensor(op, x, "input") || !ag_check_tensor(op, w, "weight") ||
        !ag_check_floating(op, x) || !ag_check_floating(op, w) || (b && !ag_check_floating(op, b)))
        return false;
    if (w->ndim > 2) {
        AG_ERROR(op, "t() expects a tensor with <= 2 dimensions, but self is %dD", w->ndim);
        return false;
    }
    if (x->ndim == 0 || w->ndim == 0) {
        AG_ERROR(op, "both arguments to matmul need to be at least 1D, but they are %dD and %dD",
                 x->ndim, w->ndim);
        return false;
    }
    if (w->ndim != 2) { /* torch would take a 1-d weight as a vector: a layer's is a matrix */
        AG_ERROR(op,
                 "expected weight to be 2-dimensional (out_features, in_features), but got "
                 "weight of size %s",
                 ag_shape_str(s1, w->ndim, w->shape));
        return false;
    }
    long long r = rows_of(x), k = x->shape[x->ndim - 1], m = w->shape[0], k2 = w->shape[1];
    if (k != k2) {
        AG_ERROR(op, "mat1 and mat2 shapes cannot be multiplied (%lldx%lld and %lldx%lld)", r, k,
                 k2, m);
        return false;
    }
    if (x->dtype != w->dtype) {
        AG_ERROR(op, "expected scalar type %s but found %s", ag_scalar_type_name(x->dtype),
                 ag_scalar_type_name(w->dtype));
        return false;
    }
    if (b && (b->ndim != 1 || b->shape[0] != m)) {
        if (x->ndim == 1)
            AG_ERROR(op,
                     "The size of tensor a (%lld) must match the size of tensor b (%lld) at "
                     "non-singleton dimension 0",
                     m, (long long)(b->ndim ? b->shape[b->ndim - 1] : 1));
        else
            AG_ERROR(op,
                     "The expanded size of the tensor (%lld) must match the existing size "
                     "(%lld) at non-singleton dimension 1.  Target sizes: [%lld, %lld].  "
                     "Tensor sizes: %s",
                     m, (long long)(b->ndim ? b->shape[b->ndim - 1] : 1), r, m,
                     ag_shape_str(s2, b->ndim, b->shape));
        return false;
    }
    if (b && b->dtype != x->dtype) {
        AG_ERROR(op, "self and mat2 must have the same dtype");
        return false;
    }
    if (r > INT_MAX || k > INT_MAX || m > INT_MAX) {
        AG_ERROR(op, "a linear map of %lldx%lld by %lldx%lld exceeds what BLAS can index", r, k, m,
                 k2);
        return false;
    }
    return true;
}

ag_tensor *ag_linear(ag_tensor *input, ag_tensor *weight, ag_tensor *bias) {
    ag_tensor *x = input, *w = weight, *b = bias;
    if (!check_linear("linear", x, w, b)) return NULL;
    int64_t r = rows_of(x), k = w->shape[1], m = w->shape[0], shape[AG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = m;
    ag_tensor *out = ag_result(x->dtype, x->ndim, shape);
    if (!out) return NULL;
    for (int64_t i = 0; b && i < r; i++) /* every row starts as the bias */
        memcpy((char *)out->data + (size_t)(i * m) * ag_dtype_size(x->dtype), b->data,
               (size_t)m * ag_dtype_size(x->dtype));
    ag_gemm(x->dtype, false, true, r, m, k, x->data, w->data, b ? 1.0 : 0.0, out->data);

    const ag_op *op = x->ndim == 1   ? (b ? &add_op : &squeeze_op)
                      : x->ndim == 2 ? (b ? &addmm_op : &mm_op)
                                     : (b ? &view_op : &unsafe_view_op);
    ag_node *node = ag_record(op, out, 3, (ag_tensor *[]){x, w, b});
    ag_save(node, x);
    ag_save(node, w);
    return out;
}
