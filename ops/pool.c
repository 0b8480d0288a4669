/*
 * pool.c - the pooling sizes and checks that avg_pool2d.c and max_pool2d.c share (see pool.h).
 */
#include "ops/pool.h"

ag_pool ag_pool_of(const ag_tensor *x, const int64_t *a) {
    ag_pool p = {.h = x->shape[x->ndim - 2],
                 .w = x->shape[x->ndim - 1],
                 .kh = a[0],
                 .kw = a[1],
                 .sh = a[2],
                 .sw = a[3],
                 .ph = a[4],
                 .pw = a[5]};
    p.planes = x->shape[x->ndim - 3] * (x->ndim == 4 ? x->shape[0] : 1);
    p.oh = (p.h + 2 * p.ph - p.kh) / p.sh + 1;
    p.ow = (p.w + 2 * p.pw - p.kw) / p.sw + 1;
    return p;
}

/* One output size (pooling_output_shape): floor((in + 2 pad - k) / stride) + 1, after the
 * checks on stride and pad. False after reporting. */
static bool output_size(const char *op, int64_t in, int64_t k, int64_t pad, int64_t stride,
                        int64_t *out) {
    if (stride == 0) {
        AG_ERROR(op, "stride should not be zero");
        return false;
    }
    if (pad < 0) {
        AG_ERROR(op, "pad must be non-negative, but got pad: %lld", (long long)pad);
        return false;
    }
    if (pad > k / 2) {
        AG_ERROR(op,
                 "pad should be at most half of kernel size, but got pad=%lld and "
                 "kernel_size=%lld",
                 (long long)pad, (long long)k);
        return false;
    }
    int64_t a = in + 2 * pad - (k - 1) - 1, q = a / stride;
    if (a % stride != 0 && ((a < 0) != (stride < 0))) q--; /* rounded towards -infinity */
    *out = q + 1;
    return true;
}

bool ag_pool_check(const char *op, const ag_tensor *x, ag_pair k, ag_pair *s, ag_pair pad) {
    char buf[AG_SHAPE_STR];
    if (s->h == 0 && s->w == 0) *s = k; /* stride=None */
    int64_t c = x->shape[x->ndim - 3], h = x->shape[x->ndim - 2], w = x->shape[x->ndim - 1];
    int64_t oh, ow;
    if (!output_size(op, h, k.h, pad.h, s->h, &oh) || !output_size(op, w, k.w, pad.w, s->w, &ow))
        return false;
    if (k.h <= 0 || k.w <= 0) {
        AG_ERROR(op, "kernel size should be greater than zero, but got kH: %lld kW: %lld",
                 (long long)k.h, (long long)k.w);
        return false;
    }
    if (s->h <= 0 || s->w <= 0) {
        AG_ERROR(op, "stride should be greater than zero, but got dH: %lld dW: %lld",
                 (long long)s->h, (long long)s->w);
        return false;
    }
    if (x->ndim > 4 || c == 0 || h == 0 || w == 0) { /* N may be 0 */
        AG_ERROR(op,
                 "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for "
                 "input, but got:%s",
                 ag_shape_str(buf, x->ndim, x->shape));
        return false;
    }
    if (oh < 1 || ow < 1) {
        AG_ERROR(op,
                 "Given input size: (%lldx%lldx%lld). Calculated output size: "
                 "(%lldx%lldx%lld). Output size is too small",
                 (long long)c, (long long)h, (long long)w, (long long)c, (long long)oh,
                 (long long)ow);
        return false;
    }
    return true;
}

void ag_pool_out_shape(const ag_tensor *x, const ag_pool *p, int64_t shape[4]) {
    for (int d = 0; d < x->ndim - 2; d++)
        shape[d] = x->shape[d];
    shape[x->ndim - 2] = p->oh;
    shape[x->ndim - 1] = p->ow;
}
