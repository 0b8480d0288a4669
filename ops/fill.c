/*
 * fill.c - t.fill_(value) and t.zero_(): every element of t set to one number.
 *
 *   forward:  t = value
 *   backward: dt_old += 0            t's old value no longer matters: nothing flows back
 */
#include "autograd/internal.h"

static void fill_backward(ag_node *node) { (void)node; }

static const ag_op fill_op = {
    .name = "FillBackward0",
    .rule = "dt = 0",
    .backward = fill_backward,
};

/* Every element of t set to value, converted to t's dtype. */
static void fill(ag_tensor *t, double value) {
    for (int64_t i = 0; i < t->numel; i++) {
        switch (t->dtype) {
        case AG_FLOAT32: AG_F32(t)[i] = (float)value; break;
        case AG_FLOAT64: AG_F64(t)[i] = value; break;
        case AG_INT64: AG_I64(t)[i] = (int64_t)value; break;
        case AG_UINT8: AG_U8(t)[i] = ag_to_uint8(value); break;
        }
    }
}

/* A tensor shaped as self, full of value's number (the fn given to ag_inplace). */
static ag_tensor *filled(ag_tensor *self, ag_tensor *value) {
    ag_tensor *out = ag_result_like(self);
    if (!out) return NULL;
    fill(out, ag_get(value, 0));
    ag_record(&fill_op, out, 1, &self);
    return out;
}

ag_tensor *ag_fill_(ag_tensor *t, double value) {
    if (!ag_check_tensor("fill_", t, "self")) return NULL;
    uint8_t byte;
    if (t->dtype == AG_UINT8) { /* torch's check of the number: 256 overflows, -1 is 255 */
        if (!ag_check_uint8_value("fill_", value, &byte)) return NULL;
        value = byte;
    }
    if (!ag_record_needed(t, NULL)) { /* no graph (as w.grad.zero_()): straight into t */
        fill(t, value);
        ag_bump_version(t);
        return t;
    }
    return ag_inplace("fill_", t, ag_wrap_scalar(value, t->dtype), filled);
}

ag_tensor *ag_zero_(ag_tensor *t) { return ag_fill_(t, 0.0); }
