/*
 * reduce.c - shape bookkeeping shared by the reductions (sum, mean, var, max, ...).
 *
 * A reduction over dim d sees x as (outer, size, inner): outer is the product of the dims
 * before d, inner of those after. Element (o, k, i) sits at (o * size + k) * inner + i, and
 * the result's element (o, i) at o * inner + i, whether or not keepdim keeps d as 1.
 */
#include "autograd/internal.h"

void ag_split_dim(const ag_tensor *x, int dim, int64_t *outer, int64_t *size, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < dim; d++) *outer *= x->shape[d];
    for (int d = dim + 1; d < x->ndim; d++) *inner *= x->shape[d];
    *size = x->ndim ? x->shape[dim] : 1;
}

int ag_reduced_shape(const ag_tensor *x, int dim, bool keepdim, int64_t *shape) {
    int n = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d != dim)
            shape[n++] = x->shape[d];
        else if (keepdim)
            shape[n++] = 1;
    }
    return n;
}

ag_tensor *ag_unreduce(ag_tensor *g, const ag_tensor *x, int dim, bool keepdim) {
    int64_t shape[AG_MAX_DIMS];
    /* g without keepdim lacks dim: view it with dim as 1, then broadcast along it. */
    int n = ag_reduced_shape(x, dim, true, shape);
    ag_tensor *kept = keepdim || x->ndim == 0 ? g : ag_result_view(g, n, shape);
    return kept ? ag_broadcast_to(kept, x->ndim, x->shape) : NULL;
}
