/*
 * transpose.c - x.transpose(dim0, dim1): two dims of x swapped.
 *
 *   forward:  x: (A, B, C), transpose(0, 2)  ->  out: (C, B, A)    out[k, j, i] = x[i, j, k]
 *   backward: dx += g.transpose(dim0, dim1)                        g: (C, B, A) -> (A, B, C)
 * A contiguous copy: torch returns a strided view, but here every tensor is contiguous (so an
 * in-place change of x is not seen by out, unlike torch). The copy is a permute's, with the
 * permutation that swaps dim0 and dim1 (ag_permute_forward, ops/permute.c); the node is
 * transpose's own, as in torch.
 */
#include "ops/permute.h"

static void transpose_backward(ag_node *node) {
    ag_accumulate_temp(node, 0, ag_transpose(node->grad, (int)node->iarg[0], (int)node->iarg[1]));
}

static const ag_op transpose_op = {
    .name = "TransposeBackward0",
    .rule = "dx = g transposed back",
    .backward = transpose_backward,
};

ag_tensor *ag_transpose(ag_tensor *x, int dim0, int dim1) {
    const char *op = "transpose";
    if (!ag_check_tensor(op, x, "self") || !ag_check_dim(op, x->ndim, &dim0) ||
        !ag_check_dim(op, x->ndim, &dim1))
        return NULL;
    /* the permutation that swaps dim0 and dim1, and the shape it gives */
    int perm[AG_MAX_DIMS];
    int64_t shape[AG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) {
        perm[d] = d == dim0 ? dim1 : d == dim1 ? dim0 : d;
        shape[d] = x->shape[perm[d]];
    }
    ag_tensor *out = ag_result(x->dtype, x->ndim, shape);
    if (!out) return NULL;
    ag_permute_forward(x, perm, out);
    ag_node *node = ag_record(&transpose_op, out, 1, &x);
    if (node) {
        node->iarg[0] = dim0;
        node->iarg[1] = dim1;
    }
    return out;
}
