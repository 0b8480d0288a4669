/*
 * stack.c - torch.stack(xs, dim): n tensors of one shape joined along a new dim.
 *
 *   forward:  xs[k]: (A, B)  ->  out: (A, n, B) for dim 1     out[a, k, b] = xs[k][a, b]
 *             dim in [-ndim-1, ndim], as unsqueeze's
 *   backward: dxs[k][a, b] += g[a, k, b]                      g: (A, n, B) -> n of (A, B)
 * The inputs' dtypes promote as torch's (float32 with float64 gives float64, uint8 with
 * float32 float32, uint8 with int64 int64).
 */
#include "autograd/internal.h"

#include <string.h>

/* torch's promotion of two dtypes: floating beats integer; of two floats, float64; of two
 * integers, int64 (uint8 with int64). */
static ag_dtype promote(ag_dtype a, ag_dtype b) {
    if (a == b) return a;
    if (ag_is_floating(a) != ag_is_floating(b)) return ag_is_floating(a) ? a : b;
    return ag_is_floating(a) ? AG_FLOAT64 : AG_INT64;
}

/* out seen as (outer, n, inner) around dim: xs[k] fills the run (o, k, :). */
static bool stack_forward(ag_tensor *const *xs, int n, int dim, ag_tensor *out) {
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < dim; d++) outer *= out->shape[d];
    for (int d = dim + 1; d < out->ndim; d++) inner *= out->shape[d];
    size_t run = (size_t)inner * ag_dtype_size(out->dtype);
    for (int k = 0; k < n; k++) {
        ag_tensor *x = ag_cast(xs[k], out->dtype);
        if (!x) return false;
        for (int64_t o = 0; o < outer; o++)
            memcpy((char *)out->data + (size_t)(o * n + k) * run,
                   (const char *)x->data + (size_t)o * run, run);
    }
    return true;
}

static void stack_backward(ag_node *node) {
    ag_tensor *g = node->grad;
    int dim = (int)node->iarg[0], n = node->ninputs;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < dim; d++) outer *= g->shape[d];
    for (int d = dim + 1; d < g->ndim; d++) inner *= g->shape[d];
    size_t run = (size_t)inner * ag_dtype_size(g->dtype);
    for (int k = 0; k < n; k++) {
        if (!ag_needs_grad(node, k)) continue;
        const ag_tensor *x = node->inputs[k];
        ag_tensor *dx = ag_result_shaped(g->dtype, x); /* g selected at k along dim */
        if (!dx) return;
        for (int64_t o = 0; o < outer && run; o++)
            memcpy((char *)dx->data + (size_t)o * run,
                   (const char *)g->data + (size_t)(o * n + k) * run, run);
        ag_accumulate_temp(node, k, dx);
    }
}

static const ag_op stack_op = {
    .name = "StackBackward0",
    .rule = "dxs[k] = g selected at k along dim",
    .backward = stack_backward,
};

ag_tensor *ag_stack(ag_tensor *const *xs, int n, int dim) {
    const char *op = "stack";
    if (n <= 0 || !xs) {
        AG_ERROR(op, "stack expects a non-empty TensorList");
        return NULL;
    }
    for (int k = 0; k < n; k++)
        if (!ag_check_tensor(op, xs[k], "tensors")) return NULL;
    const ag_tensor *first = xs[0];
    if (!ag_check_dim(op, first->ndim + 1, &dim)) return NULL;
    if (first->ndim == AG_MAX_DIMS) {
        AG_ERROR(op, "a tensor has at most %d dims: cannot stack tensors of %d", AG_MAX_DIMS,
                 first->ndim);
        return NULL;
    }
    ag_dtype dtype = first->dtype;
    for (int k = 1; k < n; k++) {
        if (!ag_same_shape(xs[k], first)) {
            char s1[AG_SHAPE_STR], s2[AG_SHAPE_STR];
            AG_ERROR(op, "stack expects each tensor to be equal size, but got %s at entry 0 and "
                         "%s at entry %d",
                     ag_shape_str(s1, first->ndim, first->shape),
                     ag_shape_str(s2, xs[k]->ndim, xs[k]->shape), k);
            return NULL;
        }
        dtype = promote(dtype, xs[k]->dtype);
    }
    int64_t shape[AG_MAX_DIMS];
    for (int d = 0, m = 0; d <= first->ndim; d++) shape[d] = d == dim ? n : first->shape[m++];
    ag_tensor *out = ag_result(dtype, first->ndim + 1, shape);
    if (!out || !stack_forward(xs, n, dim, out)) return NULL;
    ag_node *node = ag_record(&stack_op, out, n, xs);
    if (node) node->iarg[0] = dim;
    return out;
}
