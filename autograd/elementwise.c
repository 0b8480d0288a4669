/*
 * elementwise.c - broadcasting, type promotion, and the loops that drive elementwise kernels.
 *
 * Broadcasting (NumPy's and PyTorch's rule): align shapes at their last dim; two sizes match
 * when they are equal or one is 1; a missing leading dim counts as 1. A broadcast operand is
 * read with stride 0 along the dims it lacks, so nothing is copied. In backward the gradient
 * flows the other way: ag_add_reduced sums it over those dims to the operand's own shape.
 */
#include "autograd/internal.h"

#include <string.h>

bool ag_broadcast_shape(const char *op, int andim, const int64_t *ashape, int bndim,
                        const int64_t *bshape, int *ndim, int64_t *shape) {
    int n = andim > bndim ? andim : bndim;
    for (int i = 0; i < n; i++) { /* i counts dims from the end */
        int64_t sa = i < andim ? ashape[andim - 1 - i] : 1;
        int64_t sb = i < bndim ? bshape[bndim - 1 - i] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            AG_ERROR(op,
                     "The size of tensor a (%lld) must match the size of tensor b (%lld) at "
                     "non-singleton dimension %d",
                     (long long)sa, (long long)sb, n - 1 - i);
            return false;
        }
        shape[n - 1 - i] = sa == 1 ? sb : sa;
    }
    *ndim = n;
    return true;
}

ag_dtype ag_result_dtype(const ag_tensor *a, const ag_tensor *b) {
    if (a->dtype == b->dtype) return a->dtype;
    bool afloat = a->dtype != AG_INT64, bfloat = b->dtype != AG_INT64;
    if (afloat != bfloat) return afloat ? a->dtype : b->dtype; /* float beats int */
    /* Same category: a 0-d tensor does not promote a dimensioned one (torch's rule). */
    if (a->ndim == 0 && b->ndim > 0) return b->dtype;
    if (b->ndim == 0 && a->ndim > 0) return a->dtype;
    return AG_FLOAT64;
}

/* Reads element i of t as a double. */
static double get(const ag_tensor *t, int64_t i) {
    switch (t->dtype) {
    case AG_FLOAT32: return AG_F32(t)[i];
    case AG_FLOAT64: return AG_F64(t)[i];
    case AG_INT64: return (double)AG_I64(t)[i];
    case AG_UINT8: return AG_U8(t)[i];
    }
    return 0;
}

ag_tensor *ag_cast(ag_tensor *t, ag_dtype dtype) {
    if (t->dtype == dtype) return t;
    ag_tensor *r = ag_result_shaped(dtype, t);
    if (!r) return NULL;
    for (int64_t i = 0; i < t->numel; i++) {
        double v = get(t, i);
        switch (dtype) {
        case AG_FLOAT32: AG_F32(r)[i] = (float)v; break;
        case AG_FLOAT64: AG_F64(r)[i] = v; break;
        case AG_INT64: AG_I64(r)[i] = (int64_t)v; break;
        case AG_UINT8: /* int64 wraps modulo 256 exactly, not through a double */
            AG_U8(r)[i] = t->dtype == AG_INT64 ? (uint8_t)AG_I64(t)[i] : ag_to_uint8(v);
            break;
        }
    }
    return r;
}

/* Element strides of t read as a tensor of shape (ndim, shape) it broadcasts to: 0 along the
 * dims t lacks or has as 1. */
static void broadcast_strides(const ag_tensor *t, int ndim, const int64_t *shape,
                              int64_t *strides) {
    int64_t stride = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        int td = d - (ndim - t->ndim);
        int64_t size = td >= 0 ? t->shape[td] : 1;
        strides[d] = size == 1 && shape[d] != 1 ? 0 : stride;
        stride *= size;
    }
}

/* Advances a multi-index over shape[0..ndim-2] (the last dim is the inner run); adds the
 * change to each offset. Returns false after the last run. */
static bool next_run(int ndim, const int64_t *shape, int64_t *idx, const int64_t *sa,
                     int64_t *oa, const int64_t *sb, int64_t *ob) {
    for (int d = ndim - 2; d >= 0; d--) {
        idx[d]++;
        *oa += sa[d];
        if (sb) *ob += sb[d];
        if (idx[d] < shape[d]) return true;
        *oa -= sa[d] * shape[d];
        if (sb) *ob -= sb[d] * shape[d];
        idx[d] = 0;
    }
    return false;
}

/* The common case of ag_binary_map, without its bookkeeping: a and b are floating tensors of
 * one dtype, and of one shape or one of them 0-d. Returns false (having done nothing) for
 * any other case. */
static bool binary_map_simple(const ag_binary_kernel *k, ag_tensor *a, ag_tensor *b,
                              ag_tensor **result) {
    if (!a || !b || a->dtype != b->dtype || !ag_is_floating(a->dtype)) return false;
    const ag_tensor *shaped =
        b->ndim == 0 ? a : a->ndim == 0 || ag_same_shape_inline(a, b) ? b : NULL;
    if (!shaped) return false;
    ag_tensor *out = ag_result_shaped(a->dtype, shaped);
    *result = out;
    if (!out || out->numel == 0) return true;
    int64_t sa = a->numel == 1 ? 0 : 1, sb = b->numel == 1 ? 0 : 1;
    if (out->dtype == AG_FLOAT32)
        k->f32(out->numel, a->data, sa, b->data, sb, out->data);
    else
        k->f64(out->numel, a->data, sa, b->data, sb, out->data);
    return true;
}

ag_tensor *ag_binary_map(const char *op, const ag_binary_kernel *k, ag_tensor *a, ag_tensor *b) {
    ag_tensor *out;
    if (binary_map_simple(k, a, b, &out)) return out;
    /* The general case: checks, broadcasting, type promotion. */
    if (!ag_check_tensor(op, a, "self") || !ag_check_tensor(op, b, "other")) return NULL;
    if (!ag_check_floating(op, a) || !ag_check_floating(op, b)) return NULL;
    int ndim;
    int64_t shape[AG_MAX_DIMS];
    if (!ag_broadcast_shape(op, a->ndim, a->shape, b->ndim, b->shape, &ndim, shape))
        return NULL;
    ag_dtype dtype = ag_result_dtype(a, b);
    a = ag_cast(a, dtype);
    b = ag_cast(b, dtype);
    out = ag_result(dtype, ndim, shape);
    if (!a || !b || !out || out->numel == 0) return out;

    /* One run over everything when neither operand is broadcast, or one is a single value. */
    if ((a->numel == out->numel || a->numel == 1) && (b->numel == out->numel || b->numel == 1)) {
        int64_t sa = a->numel == 1 ? 0 : 1, sb = b->numel == 1 ? 0 : 1;
        if (dtype == AG_FLOAT32)
            k->f32(out->numel, a->data, sa, b->data, sb, out->data);
        else
            k->f64(out->numel, a->data, sa, b->data, sb, out->data);
        return out;
    }
    int64_t stra[AG_MAX_DIMS], strb[AG_MAX_DIMS], idx[AG_MAX_DIMS] = {0};
    broadcast_strides(a, ndim, shape, stra);
    broadcast_strides(b, ndim, shape, strb);
    int64_t inner = shape[ndim - 1], oa = 0, ob = 0, oo = 0;
    do {
        if (dtype == AG_FLOAT32)
            k->f32(inner, AG_F32(a) + oa, stra[ndim - 1], AG_F32(b) + ob, strb[ndim - 1],
                   AG_F32(out) + oo);
        else
            k->f64(inner, AG_F64(a) + oa, stra[ndim - 1], AG_F64(b) + ob, strb[ndim - 1],
                   AG_F64(out) + oo);
        oo += inner;
    } while (next_run(ndim, shape, idx, stra, &oa, strb, &ob));
    return out;
}

ag_tensor *ag_binary_map_scalar(const char *op, const ag_binary_kernel *k, ag_tensor *x,
                                double s) {
    if (!ag_is_floating(x->dtype)) return ag_binary_map(op, k, x, ag_wrap_scalar(s, x->dtype));
    ag_tensor *out = ag_result_like(x);
    if (out) ag_map_number(k, x, s, out);
    return out;
}

ag_tensor *ag_broadcast_to(ag_tensor *t, int ndim, const int64_t *shape) {
    ag_tensor *out = ag_result(t->dtype, ndim, shape);
    if (!out || out->numel == 0) return out;
    size_t esize = ag_dtype_size(t->dtype);
    if (t->numel == out->numel) { /* only size-1 dims were added: the same elements */
        memcpy(out->data, t->data, (size_t)t->numel * esize);
        return out;
    }
    int64_t strides[AG_MAX_DIMS], idx[AG_MAX_DIMS] = {0};
    broadcast_strides(t, ndim, shape, strides);
    int64_t inner = shape[ndim - 1], step = strides[ndim - 1], ot = 0, oo = 0, unused = 0;
    const char *src = t->data;
    char *dst = out->data;
    do {
        for (int64_t i = 0; i < inner; i++, oo++)
            memcpy(dst + (size_t)oo * esize, src + (size_t)(ot + i * step) * esize, esize);
    } while (next_run(ndim, shape, idx, strides, &ot, NULL, &unused));
    return out;
}

ag_tensor *ag_unary_map(const ag_unary_kernel *k, ag_tensor *x, const double *p) {
    ag_tensor *out = ag_result_like(x);
    if (!out) return NULL;
    if (x->dtype == AG_FLOAT32)
        k->f32(x->numel, x->data, out->data, p);
    else
        k->f64(x->numel, x->data, out->data, p);
    return out;
}

/* (In the loops below the count is a local, n: read through dst at each step, it would keep
 * the loop from vectorising.) */
void ag_set_reduced(ag_tensor *dst, const ag_tensor *src) {
    int64_t n = dst->numel;
    if (n == src->numel && dst->dtype == src->dtype && ag_is_floating(dst->dtype)) {
        memcpy(dst->data, src->data, (size_t)n * ag_elem_size(dst->dtype)); /* -0 stays -0 */
        return;
    }
    if (n == 1 && dst->dtype == src->dtype && ag_is_floating(dst->dtype)) { /* all into one */
        if (dst->dtype == AG_FLOAT32) {
            float sum = 0.0f;
            for (int64_t i = 0; i < src->numel; i++) sum += AG_F32(src)[i];
            AG_F32(dst)[0] = sum;
        } else {
            double sum = 0.0;
            for (int64_t i = 0; i < src->numel; i++) sum += AG_F64(src)[i];
            AG_F64(dst)[0] = sum;
        }
        return;
    }
    memset(dst->data, 0, (size_t)dst->numel * ag_elem_size(dst->dtype));
    ag_add_reduced(dst, src);
}

void ag_add_reduced(ag_tensor *dst, const ag_tensor *src) {
    if (src->numel == 0) return; /* an empty broadcast adds nothing */
    int64_t n = dst->numel;
    if (n == src->numel) { /* the same shape: no dim to sum over */
        if (dst->dtype == AG_FLOAT32 && src->dtype == AG_FLOAT32) {
            float *d = dst->data;
            const float *s = src->data;
            for (int64_t i = 0; i < n; i++) d[i] += s[i];
        } else if (dst->dtype == AG_FLOAT64 && src->dtype == AG_FLOAT64) {
            double *d = dst->data;
            const double *s = src->data;
            for (int64_t i = 0; i < n; i++) d[i] += s[i];
        } else {
            for (int64_t i = 0; i < dst->numel; i++) {
                if (dst->dtype == AG_FLOAT32)
                    AG_F32(dst)[i] += (float)get(src, i);
                else
                    AG_F64(dst)[i] += get(src, i);
            }
        }
        return;
    }
    if (dst->numel == 1 && dst->dtype == src->dtype) { /* everything into one number */
        if (dst->dtype == AG_FLOAT32) {
            float sum = AG_F32(dst)[0];
            for (int64_t i = 0; i < src->numel; i++) sum += AG_F32(src)[i];
            AG_F32(dst)[0] = sum;
            return;
        }
        if (dst->dtype == AG_FLOAT64) {
            double sum = AG_F64(dst)[0];
            for (int64_t i = 0; i < src->numel; i++) sum += AG_F64(src)[i];
            AG_F64(dst)[0] = sum;
            return;
        }
    }
    /* Walk src; each element lands on the dst element it was broadcast from. Sums are made in
     * src's order in the dtype of dst. */
    int ndim = src->ndim;
    int64_t strd[AG_MAX_DIMS], idx[AG_MAX_DIMS] = {0};
    broadcast_strides(dst, ndim, src->shape, strd);
    int64_t inner = ndim ? src->shape[ndim - 1] : 1, step = ndim ? strd[ndim - 1] : 0;
    int64_t od = 0, os = 0, unused = 0;
    do {
        for (int64_t i = 0; i < inner; i++) {
            if (dst->dtype == AG_FLOAT32)
                AG_F32(dst)[od + i * step] += (float)get(src, os + i);
            else
                AG_F64(dst)[od + i * step] += get(src, os + i);
        }
        os += inner;
    } while (ndim > 1 && next_run(ndim, src->shape, idx, strd, &od, NULL, &unused));
}
