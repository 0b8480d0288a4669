/*
 * to.c - conversion to another dtype (x.to(dtype)).
 *
 *   forward:  y = x converted to dtype          x's shape
 *   backward: dx += g converted back to x's dtype
 * As torch: when x already has the dtype, the result is x itself (no copy, no node); a
 * conversion to int64 takes no gradient. Each value is converted directly (int64 -> float32
 * rounds once, float -> int64 truncates toward zero, and NaN, infinities and values out of
 * range give INT64_MIN as torch on x86 does, rather than C's undefined behaviour).
 */
#include "autograd/internal.h"

/* v truncated toward zero: [-2^63, 2^63) converts, anything else is x86's "integer
 * indefinite" INT64_MIN (in C the cast itself would be undefined). */
static int64_t to_int64(double v) {
    return v >= -9223372036854775808.0 && v < 9223372036854775808.0 ? (int64_t)v : INT64_MIN;
}

/* x converted to dtype: a new tape-owned tensor. */
static ag_tensor *convert(const ag_tensor *x, ag_dtype dtype) {
    ag_tensor *out = ag_result(dtype, x->ndim, x->shape);
    if (!out) return NULL;
    for (int64_t i = 0; i < x->numel; i++) {
        switch (dtype) {
        case AG_FLOAT32:
            AG_F32(out)[i] = x->dtype == AG_FLOAT64 ? (float)AG_F64(x)[i] : (float)AG_I64(x)[i];
            break;
        case AG_FLOAT64:
            AG_F64(out)[i] = x->dtype == AG_FLOAT32 ? (double)AG_F32(x)[i] : (double)AG_I64(x)[i];
            break;
        case AG_INT64:
            AG_I64(out)[i] = to_int64(x->dtype == AG_FLOAT32 ? AG_F32(x)[i] : AG_F64(x)[i]);
            break;
        }
    }
    return out;
}

static void to_backward(ag_node *node) {
    const ag_tensor *x = node->inputs[0];
    ag_accumulate(node, 0, convert(node->grad, x->dtype));
}

static const ag_op to_op = {
    .name = "ToCopyBackward0",
    .rule = "dx = g (cast back to x's dtype)",
    .backward = to_backward,
};

ag_tensor *ag_to(ag_tensor *x, ag_dtype dtype) {
    if (!ag_check_tensor("to", x, "self")) return NULL;
    if (dtype != AG_FLOAT32 && dtype != AG_FLOAT64 && dtype != AG_INT64) {
        AG_ERROR("to", "unknown dtype %d (expected AG_FLOAT32, AG_FLOAT64 or AG_INT64)",
                 (int)dtype);
        return NULL;
    }
    if (x->dtype == dtype) return x;
    ag_tensor *out = convert(x, dtype);
    if (out && dtype != AG_INT64) ag_record(&to_op, out, 1, &x);
    return out;
}
