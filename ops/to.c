/*
 * to.c - conversion to another dtype (x.to(dtype)).
 *
 *   forward:  y = x converted to dtype          x's shape
 *   backward: dx += g converted back to x's dtype
 * As torch: when x already has the dtype, the result is x itself (no copy, no node); a
 * conversion to int64 or uint8 takes no gradient. Each value is converted directly, as torch
 * on x86 converts it, with no undefined behaviour of C's casts left in:
 *   int64, uint8 -> float      rounds once (uint8 -> float is exact)
 *   float -> int64             truncates toward zero; NaN, infinities and values out of range
 *                              give INT64_MIN (x86's "integer indefinite")
 *   float -> uint8             truncates toward zero, then wraps modulo 256 (300.7 -> 44,
 *                              -1 -> 255); NaN, infinities and values beyond int64 give 0
 *   int64 -> uint8             wraps modulo 256 (256 -> 0, -1 -> 255); uint8 -> int64 exact
 * So x.to(AG_UINT8) of floats in [0, 256) is the byte torch gives, and ag_to(bytes,
 * AG_FLOAT32) followed by ag_div_scalar(..., 255) is torchvision's ToTensor() bit for bit.
 */
#include "autograd/internal.h"

/* v truncated toward zero: [-2^63, 2^63) converts, anything else is x86's "integer
 * indefinite" INT64_MIN (in C the cast itself would be undefined). */
static int64_t to_int64(double v) {
    return v >= -9223372036854775808.0 && v < 9223372036854775808.0 ? (int64_t)v : INT64_MIN;
}

/* Element i of x, of any dtype, as a float: one rounding from its own type. */
static float as_float(const ag_tensor *x, int64_t i) {
    switch (x->dtype) {
    case AG_FLOAT32: return AG_F32(x)[i];
    case AG_FLOAT64: return (float)AG_F64(x)[i];
    case AG_INT64: return (float)AG_I64(x)[i];
    case AG_UINT8: return AG_U8(x)[i];
    }
    return 0;
}

/* Element i of x as a double: exact but for int64 beyond 2^53 (rounded once). */
static double as_double(const ag_tensor *x, int64_t i) {
    switch (x->dtype) {
    case AG_FLOAT32: return AG_F32(x)[i];
    case AG_FLOAT64: return AG_F64(x)[i];
    case AG_INT64: return (double)AG_I64(x)[i];
    case AG_UINT8: return AG_U8(x)[i];
    }
    return 0;
}

/* x converted to dtype (x has another dtype): a new tape-owned tensor. */
static ag_tensor *convert(const ag_tensor *x, ag_dtype dtype) {
    ag_tensor *out = ag_result_shaped(dtype, x);
    if (!out) return NULL;
    for (int64_t i = 0; i < x->numel; i++) {
        switch (dtype) {
        case AG_FLOAT32: AG_F32(out)[i] = as_float(x, i); break;
        case AG_FLOAT64: AG_F64(out)[i] = as_double(x, i); break;
        case AG_INT64:
            AG_I64(out)[i] = x->dtype == AG_UINT8 ? AG_U8(x)[i] : to_int64(as_double(x, i));
            break;
        case AG_UINT8:
            AG_U8(out)[i] = x->dtype == AG_INT64 ? (uint8_t)AG_I64(x)[i]
                                                 : ag_to_uint8(as_double(x, i));
            break;
        }
    }
    return out;
}

static void to_backward(ag_node *node) {
    const ag_tensor *x = node->inputs[0];
    ag_accumulate_temp(node, 0, convert(node->grad, x->dtype));
}

static const ag_op to_op = {
    .name = "ToCopyBackward0",
    .rule = "dx = g (cast back to x's dtype)",
    .backward = to_backward,
};

ag_tensor *ag_to(ag_tensor *x, ag_dtype dtype) {
    if (!ag_check_tensor("to", x, "self")) return NULL;
    if (!ag_is_floating(dtype) && dtype != AG_INT64 && dtype != AG_UINT8) {
        AG_ERROR("to",
                 "unknown dtype %d (expected AG_FLOAT32, AG_FLOAT64, AG_INT64 or AG_UINT8)",
                 (int)dtype);
        return NULL;
    }
    if (x->dtype == dtype) return x;
    ag_tensor *out = convert(x, dtype);
    if (out && ag_is_floating(dtype)) ag_record(&to_op, out, 1, &x);
    return out;
}
