/*
 * matmul.c - the matrix product, torch.matmul: dot, mv, mm, and batched products whose batch
 * dims broadcast.
 *
 * Every case is one batched product of matrices. A 1-d operand is made a matrix, a row on the
 * left (a: (K) as (1,K)) and a column on the right (b: (K) as (K,1)), and the dim it gained is
 * dropped from the result again; batch dims (all but the last two) broadcast as in add:
 *
 *   a: (*A, N, K) or (K)      b: (*B, K, M) or (K)      *O = broadcast(*A, *B)
 *   forward:  out[o] = a[o] @ b[o]                        (*O, N, M) minus the 1-d's dims
 *   backward: da += sum over broadcast dims of g[o] @ b[o]^T     (*O, N, K) -> a's shape
 *             db += sum over broadcast dims of a[o]^T @ g[o]     (*O, K, M) -> b's shape
 * So 1-d . 1-d is the dot product (a 0-d result), (N,K) @ (K) is mv, (K) @ (K,M) is a row
 * times a matrix, (N,K) @ (K,M) is mm. backward hands ag_accumulate gradients shaped like
 * *O plus the operand's own last dims, and ag_accumulate sums the broadcast batch dims away.
 *
 * Two kernels compute each product. The reference is the textbook triple loop over contiguous
 * row-major data, summing in the tensors' precision (float32 in float32); ag_matmul_reference
 * (ops/matmul.h) runs it. ag_matmul and its backward call ag_gemm (ops/gemm.c: OpenBLAS's
 * sgemm/dgemm, with bits that do not depend on the thread count), whose transpose flags give
 * b^T and a^T in backward without copying.
 *
 * One node per call, one backward for every case. Its grad_fn name is the one torch 1.13
 * shows for the same shapes, although torch builds some cases from several nodes:
 *   (K) @ (K)                    DotBackward0
 *   (N,K) @ (K)                  MvBackward0
 *   (K) @ (K,M)                  SqueezeBackward3  (torch: unsqueeze, mm, then squeeze)
 *   (N,K) @ (K,M)                MmBackward0
 *   (N,K) @ (*B,K,M), *B not ()  CloneBackward0    (torch: mm of the transposes, contiguous)
 *   any other batched case       UnsafeViewBackward0  (torch: mm, mv or bmm, then a view)
 * Errors follow the same paths: each case reports the message of the torch kernel that case
 * reaches (dot, mv, mm, the folded mm/mv of a batched operand with a plain one, or bmm).
 */
#include "autograd/internal.h"
#include "ops/gemm.h"
#include "ops/matmul.h"

#include <limits.h>
#include <string.h>

/* ---- the kernels: out (n,m) = a (n,k) @ b (k,m) ------------------------------------------- */

/* The reference: contiguous row-major operands, each sum in T, in the order of k. */
#define REFERENCE_GEMM(name, T)                                                                    \
    static void name(int64_t n, int64_t k, int64_t m, const T *a, const T *b, T *out) {            \
        for (int64_t i = 0; i < n; i++) {                                                          \
            for (int64_t j = 0; j < m; j++) {                                                      \
                T sum = 0;                                                                         \
                for (int64_t p = 0; p < k; p++)                                                    \
                    sum += a[i * k + p] * b[p * m + j];                                            \
                out[i * m + j] = sum;                                                              \
            }                                                                                      \
        }                                                                                          \
    }
REFERENCE_GEMM(reference_gemm_f32, float)
REFERENCE_GEMM(reference_gemm_f64, double)

/* ---- the plan: every case as a batch of (n,k) @ (k,m) ------------------------------------- */

typedef struct plan {
    const ag_op *op; /* the node's descriptor: torch's grad_fn for the case */
    int64_t n, k, m; /* each product is (n,k) @ (k,m) */
    int nbatch;      /* *O: the broadcast batch dims */
    int64_t batch[AG_MAX_DIMS];
    int64_t count;              /* products in the batch: the product of *O */
    int64_t astep[AG_MAX_DIMS]; /* along each dim of *O, how many matrices a and b */
    int64_t bstep[AG_MAX_DIMS]; /* advance (0 where that operand is broadcast) */
    int ndim;                   /* the result's shape */
    int64_t shape[AG_MAX_DIMS];
} plan;

/* Which matrix of a and of b product number o multiplies. */
static void locate(const plan *p, int64_t o, int64_t *ia, int64_t *ib) {
    *ia = *ib = 0;
    for (int d = p->nbatch - 1; d >= 0; d--) {
        int64_t i = o % p->batch[d];
        o /= p->batch[d];
        *ia += i * p->astep[d];
        *ib += i * p->bstep[d];
    }
}

/* Along each dim of *O, the matrices a step of 1 skips in an operand whose batch dims are
 * shape[0..nb-1] (aligned to the right of *O). */
static void batch_steps(const plan *p, int nb, const int64_t *shape, int64_t *step) {
    int64_t matrices = 1;
    for (int d = p->nbatch - 1; d >= 0; d--) {
        int e = d - (p->nbatch - nb); /* the operand's own dim, if it has one */
        step[d] = e >= 0 && shape[e] != 1 ? matrices : 0;
        if (e >= 0) matrices *= shape[e];
    }
}

/* ---- forward ------------------------------------------------------------------------------ */

static ag_tensor *matmul_forward(const plan *p, const ag_tensor *a, const ag_tensor *b,
                                 bool reference) {
    ag_tensor *out = ag_result(a->dtype, p->ndim, p->shape);
    if (!out) return NULL;
    int64_t n = p->n, k = p->k, m = p->m;
    if (out->numel == 0) return out;
    if (k == 0) { /* a sum over nothing, and a, b may have no data to point into */
        memset(out->data, 0, (size_t)out->numel * ag_dtype_size(out->dtype));
        return out;
    }
    for (int64_t o = 0; o < p->count; o++) {
        int64_t ia, ib;
        locate(p, o, &ia, &ib);
        if (a->dtype == AG_FLOAT32) {
            const float *am = AG_F32(a) + ia * n * k, *bm = AG_F32(b) + ib * k * m;
            float *om = AG_F32(out) + o * n * m;
            if (reference)
                reference_gemm_f32(n, k, m, am, bm, om);
            else
                ag_gemm(AG_FLOAT32, false, false, n, m, k, am, bm, 0.0, om);
        } else {
            const double *am = AG_F64(a) + ia * n * k, *bm = AG_F64(b) + ib * k * m;
            double *om = AG_F64(out) + o * n * m;
            if (reference)
                reference_gemm_f64(n, k, m, am, bm, om);
            else
                ag_gemm(AG_FLOAT64, false, false, n, m, k, am, bm, 0.0, om);
        }
    }
    return out;
}

/* ---- backward ----------------------------------------------------------------------------- */

static bool make_plan(ag_tensor *a, ag_tensor *b, plan *p);

/* Where an operand's gradient is made: shaped *O plus the operand's own last dims, (r,c), or
 * (K) for a 1-d operand, for ag_accumulate to sum over the dims where it was broadcast. An
 * empty batch (*O holds a 0) multiplies nothing: its gradient is zeros of the operand's own
 * shape, handed over as such (ag_add_reduced walks at least one element of its source). */
static ag_tensor *grad_buffer(const plan *p, ag_dtype dtype, const ag_tensor *x, int64_t r,
                              int64_t c) {
    if (p->count == 0) return ag_result_zeros(dtype, x->ndim, x->shape);
    int64_t shape[AG_MAX_DIMS];
    int nd = p->nbatch;
    memcpy(shape, p->batch, sizeof shape);
    if (x->ndim >= 2) {
        shape[nd++] = r;
        shape[nd++] = c;
    } else {
        shape[nd++] = x->shape[0];
    }
    return ag_result(dtype, nd, shape);
}

/* iarg[0], iarg[1]: the saved slots of a and b, or -1. As torch, a is saved only when b takes
 * a gradient (db needs a) and b only when a does. */
static void matmul_backward(ag_node *node) {
    ag_tensor *x = node->inputs[0], *y = node->inputs[1], *g = node->grad;
    bool want_a = ag_needs_grad(node, 0) && node->iarg[1] >= 0;
    bool want_b = ag_needs_grad(node, 1) && node->iarg[0] >= 0;
    ag_tensor *b = want_a ? ag_saved(node, (int)node->iarg[1]) : NULL;
    ag_tensor *a = want_b ? ag_saved(node, (int)node->iarg[0]) : NULL;
    if ((want_a && !b) || (want_b && !a)) return;
    plan p;
    if (!make_plan(x, y, &p)) return;
    int64_t n = p.n, k = p.k, m = p.m;
    size_t size = ag_dtype_size(g->dtype);
    const char *gd = g->data;
    if (want_a) { /* da[o] (n,k) = g[o] (n,m) @ b[o]^T, b[o] stored (k,m) */
        ag_tensor *da = grad_buffer(&p, g->dtype, x, n, k);
        if (!da) return;
        for (int64_t o = 0; o < p.count && da->numel; o++) {
            int64_t ia, ib;
            locate(&p, o, &ia, &ib);
            const char *bm = m ? (const char *)b->data + (size_t)(ib * k * m) * size : NULL;
            char *out = (char *)da->data + (size_t)(o * n * k) * size;
            ag_gemm(g->dtype, false, true, n, k, m, gd + (size_t)(o * n * m) * size, bm, 0.0, out);
        }
        ag_accumulate(node, 0, da);
    }
    if (want_b) { /* db[o] (k,m) = a[o]^T @ g[o] (n,m), a[o] stored (n,k) */
        ag_tensor *db = grad_buffer(&p, g->dtype, y, k, m);
        if (!db) return;
        for (int64_t o = 0; o < p.count && db->numel; o++) {
            int64_t ia, ib;
            locate(&p, o, &ia, &ib);
            const char *am = n ? (const char *)a->data + (size_t)(ia * n * k) * size : NULL;
            char *out = (char *)db->data + (size_t)(o * k * m) * size;
            ag_gemm(g->dtype, true, false, k, m, n, am, gd + (size_t)(o * n * m) * size, 0.0, out);
        }
        ag_accumulate(node, 1, db);
    }
}

/* One descriptor per grad_fn name torch shows (see the top of the file); one backward. */
static const ag_op dot_op = {
    .name = "DotBackward0",
    .rule = "da = g b, db = g a",
    .backward = matmul_backward,
};
static const ag_op mv_op = {
    .name = "MvBackward0",
    .rule = "da = g b^T (outer product), db = a^T g",
    .backward = matmul_backward,
};
static const ag_op vm_op = {
    .name = "SqueezeBackward3",
    .rule = "da = b g, db = a^T g (outer product)",
    .backward = matmul_backward,
};
static const ag_op mm_op = {
    .name = "MmBackward0",
    .rule = "da = g b^T, db = a^T g",
    .backward = matmul_backward,
};
static const ag_op batched_op = {
    .name = "UnsafeViewBackward0",
    .rule = "da = g b^T, db = a^T g, each summed over broadcast batch dims",
    .backward = matmul_backward,
};
static const ag_op batched_transposed_op = {
    .name = "CloneBackward0",
    .rule = "da = g b^T, db = a^T g, da summed over the batch dims",
    .backward = matmul_backward,
};

/* ---- checks ------------------------------------------------------------------------------- */

static int64_t product(int n, const int64_t *shape) {
    int64_t r = 1;
    for (int d = 0; d < n; d++)
        r *= shape[d];
    return r;
}

/* Checks a and b in the order torch 1.13 does on the path each case takes, with its words,
 * and lays the case out as a batch of products. False after reporting. */
static bool make_plan(ag_tensor *a, ag_tensor *b, plan *p) {
    const char *op = "matmul";
    if (!ag_check_tensor(op, a, "self") || !ag_check_tensor(op, b, "other")) return false;
    int an = a->ndim, bn = b->ndim;
    if (an == 0 || bn == 0) {
        AG_ERROR(op, "both arguments to matmul need to be at least 1D, but they are %dD and %dD",
                 an, bn);
        return false;
    }
    memset(p, 0, sizeof *p);
    p->n = an >= 2 ? a->shape[an - 2] : 1;
    p->k = a->shape[an - 1];
    p->m = bn >= 2 ? b->shape[bn - 1] : 1;
    int64_t kb = bn >= 2 ? b->shape[bn - 2] : b->shape[0];
    long long n = p->n, k = p->k, m = p->m, k2 = kb;
    int abatch = an > 2 ? an - 2 : 0, bbatch = bn > 2 ? bn - 2 : 0;
    if (!ag_broadcast_shape(op, abatch, a->shape, bbatch, b->shape, &p->nbatch, p->batch))
        return false; /* only both batched can disagree */
    p->count = product(p->nbatch, p->batch);
    bool b_first = false; /* torch's transposed fold names b's dtype first */

    if (an == 1 && bn == 1) { /* dot */
        p->op = &dot_op;
        if (a->dtype != b->dtype) {
            AG_ERROR(op, "dot : expected both vectors to have same dtype, but found %s and %s",
                     ag_scalar_type_name(a->dtype), ag_scalar_type_name(b->dtype));
            return false;
        }
        if (k != k2) {
            AG_ERROR(op,
                     "inconsistent tensor size, expected tensor [%lld] and src [%lld] to have "
                     "the same number of elements, but got %lld and %lld elements "
                     "respectively",
                     k, k2, k, k2);
            return false;
        }
    } else if (an <= 2 && bn <= 2) { /* mv, a row times a matrix, mm */
        p->op = bn == 1 ? &mv_op : an == 1 ? &vm_op : &mm_op;
        if (k != k2 && bn == 1) {
            AG_ERROR(op, "size mismatch, got %lld, %lldx%lld,%lld", n, n, k, k2);
            return false;
        }
        if (k != k2) {
            AG_ERROR(op, "mat1 and mat2 shapes cannot be multiplied (%lldx%lld and %lldx%lld)", n,
                     k, k2, m);
            return false;
        }
    } else if (bn <= 2) { /* torch folds a's batch into its rows: one mm or mv */
        p->op = &batched_op;
        long long rows = product(an - 1, a->shape);
        if (k != k2 && bn == 1) {
            AG_ERROR(op, "size mismatch, got %lld, %lldx%lld,%lld", rows, rows, k, k2);
            return false;
        }
        if (k != k2) {
            AG_ERROR(op, "mat1 and mat2 shapes cannot be multiplied (%lldx%lld and %lldx%lld)",
                     rows, k, k2, m);
            return false;
        }
    } else if (an <= 2) { /* torch folds b^T's batch into rows: b^T @ a^T, or b^T @ a */
        p->op = an == 2 ? &batched_transposed_op : &batched_op;
        b_first = true;
        long long rows = product(bn - 2, b->shape) * m;
        if (k != k2 && an == 1) {
            AG_ERROR(op, "size mismatch, got %lld, %lldx%lld,%lld", rows, rows, k2, k);
            return false;
        }
        if (k != k2) {
            AG_ERROR(op, "mat1 and mat2 shapes cannot be multiplied (%lldx%lld and %lldx%lld)",
                     rows, k2, k, n);
            return false;
        }
    } else { /* both batched: torch expands both to *O and calls bmm */
        p->op = &batched_op;
        long long count = p->count;
        if (k != k2) {
            AG_ERROR(op,
                     "Expected size for first two dimensions of batch2 tensor to be: "
                     "[%lld, %lld] but got: [%lld, %lld].",
                     count, k, count, k2);
            return false;
        }
    }
    if (a->dtype != b->dtype) {
        const ag_tensor *first = b_first ? b : a, *second = b_first ? a : b;
        AG_ERROR(op, "expected scalar type %s but found %s", ag_scalar_type_name(first->dtype),
                 ag_scalar_type_name(second->dtype));
        return false;
    }
    if (!ag_check_floating(op, a)) return false;
    if (p->n > INT_MAX || p->k > INT_MAX || p->m > INT_MAX) {
        AG_ERROR(op, "a matrix of %lldx%lld times %lldx%lld exceeds what BLAS can index", n, k, k2,
                 m);
        return false;
    }

    batch_steps(p, abatch, a->shape, p->astep);
    batch_steps(p, bbatch, b->shape, p->bstep);
    memcpy(p->shape, p->batch, sizeof p->shape);
    p->ndim = p->nbatch;
    if (an >= 2) p->shape[p->ndim++] = p->n;
    if (bn >= 2) p->shape[p->ndim++] = p->m;
    return true;
}

/* ---- the public functions ----------------------------------------------------------------- */

ag_tensor *ag_matmul(ag_tensor *a, ag_tensor *b) {
    plan p;
    if (!make_plan(a, b, &p)) return NULL;
    ag_tensor *out = matmul_forward(&p, a, b, false);
    ag_node *node = ag_record(p.op, out, 2, (ag_tensor *[]){a, b});
    if (node) {
        node->iarg[0] = node->iarg[1] = -1;
        if (b->requires_grad) {
            node->iarg[0] = node->nsaved;
            ag_save(node, a);
        }
        if (a->requires_grad) {
            node->iarg[1] = node->nsaved;
            ag_save(node, b);
        }
    }
    return out;
}

ag_tensor *ag_matmul_reference(ag_tensor *a, ag_tensor *b) {
    plan p;
    return make_plan(a, b, &p) ? matmul_forward(&p, a, b, true) : NULL;
}
