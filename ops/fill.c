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

/* A tensor shaped as self, full of value's number (the fn given to ag_inplace). */
static ag_tensor *filled(ag_tensor *self, ag_tensor *value) {
    ag_tensor *out = ag_result_like(self);
    if (!out) return NULL;
    double v = ag_get(value, 0);
    for (int64_t i = 0; i < out->numel; i++) {
        switch (out->dtype) {
        case AG_FLOAT32: AG_F32(out)[i] = (float)v; break;
        case AG_FLOAT64: AG_F64(out)[i] = v; break;
        case AG_INT64: AG_I64(out)[i] = (int64_t)v; break;
        }
    }
    ag_record(&fill_op, out, 1, &self);
    return out;
}

ag_tensor *ag_fill_(ag_tensor *t, double value) {
    if (!ag_check_tensor("fill_", t, "self")) return NULL;
    return ag_inplace("fill_", t, ag_wrap_scalar(value, t->dtype), filled);
}

ag_tensor *ag_zero_(ag_tensor *t) { return ag_fill_(t, 0.0); }
