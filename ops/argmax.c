/*
 * argmax.c - where the largest element is: its flat row-major index over everything, or its
 * position along one dim.
 *
 *   argmax(x)        out = the first k with x[k] == max(x)            0-d int64, numel > 0
 *   argmax(x, dim)   out[o,i] = the first k with x[o,k,i] == max along dim    int64
 * No gradient: an index is not differentiable, so nothing is recorded and the result never
 * requires grad (as torch's). A NaN is the largest (the first NaN is returned), as max.c.
 * float32, float64 and, as in torch, int64 and uint8 inputs (compared exactly, not through a
 * double).
 * Along dim, x is seen as (outer, size, inner) (ag_split_dim); out is (outer, inner).
 */
#include "autograd/internal.h"

#include <math.h>

/* Whether element a beats element b, the best so far: larger, or the first NaN. */
static bool beats(const ag_tensor *x, int64_t a, int64_t b) {
    switch (x->dtype) {
    case AG_FLOAT32: {
        float va = AG_F32(x)[a], vb = AG_F32(x)[b];
        return va > vb || (isnan(va) && !isnan(vb));
    }
    case AG_FLOAT64: {
        double va = AG_F64(x)[a], vb = AG_F64(x)[b];
        return va > vb || (isnan(va) && !isnan(vb));
    }
    case AG_INT64: return AG_I64(x)[a] > AG_I64(x)[b];
    case AG_UINT8: return AG_U8(x)[a] > AG_U8(x)[b];
    }
    return false;
}

/* The position k of the first maximum of the size >= 1 elements x[at + k * inner]. */
static int64_t first_max(const ag_tensor *x, int64_t at, int64_t size, int64_t inner) {
    int64_t best = 0;
    for (int64_t k = 1; k < size; k++)
        if (beats(x, at + k * inner, at + best * inner)) best = k;
    return best;
}

ag_tensor *ag_argmax(ag_tensor *x) {
    const char *op = "argmax";
    if (!ag_check_tensor(op, x, "input")) return NULL;
    if (x->numel == 0) {
        AG_ERROR(op, "argmax(): Expected reduction dim to be specified for input.numel() == 0.");
        return NULL;
    }
    ag_tensor *out = ag_result(AG_INT64, 0, NULL);
    if (!out) return NULL;
    AG_I64(out)[0] = first_max(x, 0, x->numel, 1);
    return out;
}

ag_tensor *ag_argmax_dim(ag_tensor *x, int dim, bool keepdim) {
    const char *op = "argmax";
    if (!ag_check_tensor(op, x, "input") || !ag_check_dim(op, x->ndim, &dim)) return NULL;
    if (x->ndim && x->shape[dim] == 0) {
        AG_ERROR(op, "argmax(): Expected reduction dim %d to have non-zero size.", dim);
        return NULL;
    }
    int64_t shape[AG_MAX_DIMS], outer, size, inner;
    ag_tensor *out = ag_result(AG_INT64, ag_reduced_shape(x, dim, keepdim, shape), shape);
    if (!out) return NULL;
    ag_split_dim(x, dim, &outer, &size, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            AG_I64(out)[o * inner + i] = first_max(x, o * size * inner + i, size, inner);
    return out;
}
