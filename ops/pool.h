/*
 * pool.h - what avg_pool2d.c and max_pool2d.c share: a pooling's sizes, the output size and
 * the checks torch 1.13 runs on both (pool2d_shape_check), and the output's shape.
 *
 * Both ops see x as (planes, H, W) and slide a (kH, kW) window with stride (sH, sW) over it
 * padded by (pH, pW): OH = floor((H + 2 pH - kH) / sH) + 1, OW likewise. Each op keeps its own
 * kernels, its own first check on x's dims (torch words it differently for each) and its dtype
 * check, its descriptor and its public function.
 */
#ifndef AG_OPS_POOL_H
#define AG_OPS_POOL_H

#include "autograd/internal.h"
#include "ops/nn_ops.h"

/* The sizes of one pooling. */
typedef struct ag_pool {
    int64_t planes, h, w; /* x as (planes, H, W) */
    int64_t kh, kw, sh, sw, ph, pw;
    int64_t oh, ow;
} ag_pool;

/* The pooling of x, (N,C,H,W) or (C,H,W), with a[0..5]: kernel, stride and padding (h, w each),
 * as the ops keep them in their node's iarg. The arguments were checked. */
ag_pool ag_pool_of(const ag_tensor *x, const int64_t *a);

/* torch's checks after x's dims (x is a tensor of 3 dims or more): stride (0, 0) becomes the
 * kernel (stride=None), then the stride, padding, kernel, empty-input and output-size checks in
 * torch's order and words. False after reporting as op. */
bool ag_pool_check(const char *op, const ag_tensor *x, ag_pair k, ag_pair *s, ag_pair pad);

/* The output's shape: x's but (OH, OW) for the last two dims. */
void ag_pool_out_shape(const ag_tensor *x, const ag_pool *p, int64_t shape[4]);

/* Whether p is MaxPool2d(2) / AvgPool2d(2): kernel 2x2, stride 2, no padding, the pooling of
 * nearly every convnet, which both ops compute with a kernel of its own (same numbers, same
 * bits). Its windows tile the image without overlap or clipping: window (i, j) is rows 2i, 2i+1
 * and columns 2j, 2j+1, and the last row and column of an odd size belong to none. (The width
 * bound lets max_pool2d keep a winner's place in its window, 0, 1, W or W + 1, in an int32.) */
static inline bool ag_pool_is_2x2(const ag_pool *p) {
    return p->kh == 2 && p->kw == 2 && p->sh == 2 && p->sw == 2 && p->ph == 0 && p->pw == 0 &&
           p->w < INT32_MAX;
}

#endif
