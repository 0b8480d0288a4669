/*
 * nn_ops.h - the ops of neural-network layers, as torch.nn.functional has them: linear,
 * conv2d, pooling, normalisation, dropout and embedding.
 *
 * These are ops like those of ops/ops.h (one file each, ops/<op>.c, with its math, forward,
 * backward and descriptor together): each returns a new tensor owned by the current tape, or
 * NULL after reporting bad input in PyTorch's words, and records a node whose grad_fn name is
 * the one torch 1.13 shows. The layers of nn/nn.h (modules holding parameters) call them.
 * Include "nn/nn.h", which includes this header and autograd/autograd.h.
 *
 * Images are (N, C, H, W), contiguous row-major, float32 or float64; every tensor an op takes
 * has the input's dtype. Sizes that come in pairs (kernel, stride, padding) are an ag_pair,
 * written AG_PAIR(k) for (k, k) or AG_PAIR(h, w), as torch takes an int or a tuple.
 */
#ifndef AG_NN_OPS_H
#define AG_NN_OPS_H

#include "autograd/autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* (height, width): a kernel size, a stride or a padding. */
typedef struct ag_pair {
    int64_t h, w;
} ag_pair;
#define AG_PAIR(...) AG_PAIR_(__VA_ARGS__, __VA_ARGS__, 0)
#define AG_PAIR_(h, w, ...) ((ag_pair){(h), (w)})

/* ---- linear (ops/linear.c) ---------------------------------------------------------------- */
/* F.linear: x @ w^T + b, in one node (torch's addmm, computed with one gemm).
 * x: (*, in)  w: (out, in)  b: (out) or NULL  ->  (*, out)
 *   dx = g w,  dw = g^T x (summed over *),  db = g summed over *                            */
ag_tensor *ag_linear(ag_tensor *input, ag_tensor *weight, ag_tensor *bias);

/* ---- convolution (ops/conv2d.c) ----------------------------------------------------------- */
/* F.conv2d with dilation 1 and groups 1: a cross-correlation of every image with every filter,
 * the input zero-padded by padding on each side. OH = (H + 2 pad.h - kH) / stride.h + 1.
 * x: (N, C, H, W)  w: (O, C, kH, kW)  b: (O) or NULL  ->  (N, O, OH, OW)
 *   dx = g correlated back through w,  dw = g correlated with x,  db = g summed over N,OH,OW */
ag_tensor *ag_conv2d(ag_tensor *input, ag_tensor *weight, ag_tensor *bias, ag_pair stride,
                     ag_pair padding);
/* The same op computed by the readable direct loops (forward and backward) instead of im2col
 * and BLAS gemm: the reference the tests compare the fast path with. */
ag_tensor *ag_conv2d_reference(ag_tensor *input, ag_tensor *weight, ag_tensor *bias, ag_pair stride,
                               ag_pair padding);

/* ---- pooling (ops/max_pool2d.c, ops/avg_pool2d.c) ----------------------------------------- */
/* F.max_pool2d / F.avg_pool2d over kernel windows, moved by stride (AG_PAIR(0): the kernel
 * size, torch's stride=None), on the input padded by padding (at most half the kernel);
 * dilation 1, floor mode. x: (N, C, H, W) or (C, H, W)  ->  (N, C, OH, OW) or (C, OH, OW).
 *   max: dx = g added at each window's first maximum (NaN counts as the maximum)
 *   avg: dx = g / (kH kW) added to each element of the window; the padding counts in the
 *        divisor (count_include_pad=True) but the part of a window past it does not      */
ag_tensor *ag_max_pool2d(ag_tensor *input, ag_pair kernel, ag_pair stride, ag_pair padding);
ag_tensor *ag_avg_pool2d(ag_tensor *input, ag_pair kernel, ag_pair stride, ag_pair padding);

/* ---- normalisation (ops/layer_norm.c, ops/batch_norm.c) ----------------------------------- */
/* F.layer_norm over the last ndim dims of x, which must equal normalized_shape:
 *   y = (x - mean) / sqrt(var + eps) * w + b     mean, var (biased) over those dims, per row
 * w, b: normalized_shape, or NULL (1 and 0). torch's eps is 1e-5. Call it with AG_SHAPE:
 *   ag_layer_norm(x, AG_SHAPE(5, 5), w, b, 1e-5)                                           */
ag_tensor *ag_layer_norm(ag_tensor *input, int ndim, const int64_t *normalized_shape,
                         ag_tensor *weight, ag_tensor *bias, double eps);
/* F.batch_norm over channel dim 1 of x: (N, C) or (N, C, *):
 *   y = (x - mean[c]) / sqrt(var[c] + eps) * w[c] + b[c]
 * training: mean and var (biased) of the batch, over every dim but 1; then running_mean and
 *   running_var (C, or NULL), yours, are updated in place: r = (1 - momentum) r + momentum s,
 *   with the batch's unbiased variance for running_var. torch: momentum 0.1, eps 1e-5.
 * evaluation: mean = running_mean, var = running_var (both required).
 * w, b: (C) or NULL.                                                                        */
ag_tensor *ag_batch_norm(ag_tensor *input, ag_tensor *running_mean, ag_tensor *running_var,
                         ag_tensor *weight, ag_tensor *bias, bool training, double momentum,
                         double eps);

/* ---- dropout (ops/dropout.c) -------------------------------------------------------------- */
/* F.dropout: in training, each element is zeroed with probability p and the others scaled by
 * 1 / (1 - p); the mask is drawn from g (NULL: the default generator) as torch's
 * bernoulli_(1 - p) on a tensor like x draws it, and the result is x * mask, a MulBackward0
 * node as in torch 1.13 on the CPU. p = 1 gives zeros (x * 0). With training false, p = 0 or
 * no element, returns x itself (not a copy), as torch does.                                  */
ag_tensor *ag_dropout(ag_tensor *input, double p, bool training, ag_generator *g);

/* ---- embedding (ops/embedding.c) ---------------------------------------------------------- */
/* F.embedding: the rows of weight at the indices. indices: int64, any shape (*), each in
 * [0, V)  weight: (V, D)  ->  (*, D)      dweight[indices[i]] += g[i] (scatter-add)          */
ag_tensor *ag_embedding(ag_tensor *indices, ag_tensor *weight);

#ifndef AG_BUILDING_LIBRARY
#define ag_linear(...) AG_AT_(ag_linear(__VA_ARGS__))
#define ag_conv2d(...) AG_AT_(ag_conv2d(__VA_ARGS__))
#define ag_conv2d_reference(...) AG_AT_(ag_conv2d_reference(__VA_ARGS__))
#define ag_max_pool2d(...) AG_AT_(ag_max_pool2d(__VA_ARGS__))
#define ag_avg_pool2d(...) AG_AT_(ag_avg_pool2d(__VA_ARGS__))
#define ag_layer_norm(...) AG_AT_(ag_layer_norm(__VA_ARGS__))
#define ag_batch_norm(...) AG_AT_(ag_batch_norm(__VA_ARGS__))
#define ag_dropout(...) AG_AT_(ag_dropout(__VA_ARGS__))
#define ag_embedding(...) AG_AT_(ag_embedding(__VA_ARGS__))
#endif

#ifdef __cplusplus
}
#endif

#endif
