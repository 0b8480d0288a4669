/*
 * element.h - one element of a float32 or float64 tensor, read or written as a double.
 *
 * For the reductions that loop in double whatever the tensor's dtype: max and min
 * (ops/extremum.c) and var and std (ops/variance.c). Reading widens float32 exactly; writing
 * rounds once to the tensor's dtype. No checks (the callers have checked dtype and bounds):
 * ag_get (autograd/autograd.h) is the checked form for everyone else.
 */
#ifndef AG_OPS_ELEMENT_H
#define AG_OPS_ELEMENT_H

#include "autograd/internal.h"

/* t[i] as a double (t is float32 or float64). */
static inline double ag_float_get(const ag_tensor *t, int64_t i) {
    return t->dtype == AG_FLOAT32 ? (double)AG_F32(t)[i] : AG_F64(t)[i];
}

/* t[i] = v, rounded to t's dtype (float32 or float64). */
static inline void ag_float_set(ag_tensor *t, int64_t i, double v) {
    if (t->dtype == AG_FLOAT32)
        AG_F32(t)[i] = (float)v;
    else
        AG_F64(t)[i] = v;
}

#endif
