/*
 * ops.h - every differentiable op of libautograd, one line each, grouped as torch groups them.
 *
 * Each op lives in its own file, ops/<op>.c, with its math, forward, backward and descriptor
 * together. Every op returns a new tensor owned by the current tape (released by
 * ag_tape_reset), or NULL after reporting bad input. Binary elementwise ops broadcast by
 * NumPy/PyTorch rules and promote float32 with float64 to float64 (a 0-d tensor or a scalar
 * takes the other operand's dtype, as a Python number does in torch). In-place forms end in
 * `_`, change their first argument, and return it.
 *
 * The comment beside each op is its math: forward, then the gradient each input receives
 * (g is the gradient arriving at the output).
 */
#ifndef AG_OPS_H
#define AG_OPS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ag_reduction { AG_REDUCTION_MEAN, AG_REDUCTION_SUM, AG_REDUCTION_NONE } ag_reduction;

/* ---- elementwise, binary (ops/add.c, ops/sub.c, ...) -------------------------------------- */
ag_tensor *ag_add(ag_tensor *a, ag_tensor *b);        /* a + b        da = g, db = g */
ag_tensor *ag_sub(ag_tensor *a, ag_tensor *b);        /* a - b        da = g, db = -g */
ag_tensor *ag_mul(ag_tensor *a, ag_tensor *b);        /* a * b        da = g b, db = g a */
ag_tensor *ag_div(ag_tensor *a, ag_tensor *b);        /* a / b        da = g / b, db = -g a / b^2 */
ag_tensor *ag_pow(ag_tensor *a, ag_tensor *b);        /* a ^ b        da = g b a^(b-1), db = g a^b ln a */
ag_tensor *ag_maximum(ag_tensor *a, ag_tensor *b);    /* max(a, b)    g to the larger; ties split */
ag_tensor *ag_minimum(ag_tensor *a, ag_tensor *b);    /* min(a, b)    g to the smaller; ties split */
/* with a number: x + s, x - s, s - x, x * s, x / s, s / x, x ^ s, s ^ x */
ag_tensor *ag_add_scalar(ag_tensor *x, double s);
ag_tensor *ag_sub_scalar(ag_tensor *x, double s);
ag_tensor *ag_rsub_scalar(double s, ag_tensor *x);
ag_tensor *ag_mul_scalar(ag_tensor *x, double s);
ag_tensor *ag_div_scalar(ag_tensor *x, double s);
ag_tensor *ag_rdiv_scalar(double s, ag_tensor *x);
ag_tensor *ag_pow_scalar(ag_tensor *x, double s);
ag_tensor *ag_rpow_scalar(double s, ag_tensor *x);

/* ---- in place (ops/add.c, ...; ops/fill.c, ops/copy.c) ------------------------------------- */
/* t op= other; other broadcasts to t's shape. On a leaf that requires grad only in no-grad. */
ag_tensor *ag_add_(ag_tensor *t, ag_tensor *other);
ag_tensor *ag_sub_(ag_tensor *t, ag_tensor *other);
ag_tensor *ag_mul_(ag_tensor *t, ag_tensor *other);
ag_tensor *ag_div_(ag_tensor *t, ag_tensor *other);
ag_tensor *ag_add_scalar_(ag_tensor *t, double s);
ag_tensor *ag_sub_scalar_(ag_tensor *t, double s);
ag_tensor *ag_mul_scalar_(ag_tensor *t, double s);
ag_tensor *ag_div_scalar_(ag_tensor *t, double s);
ag_tensor *ag_zero_(ag_tensor *t);                    /* t = 0 */
ag_tensor *ag_fill_(ag_tensor *t, double value);      /* t = value */
ag_tensor *ag_copy_(ag_tensor *t, ag_tensor *src);    /* t = src (broadcast)   dsrc = g */

/* ---- elementwise, unary (ops/<name>.c) --------------------------------------------------- */
ag_tensor *ag_neg(ag_tensor *x);                      /* -x           dx = -g */
ag_tensor *ag_exp(ag_tensor *x);                      /* e^x          dx = g e^x */
ag_tensor *ag_log(ag_tensor *x);                      /* ln x         dx = g / x */
ag_tensor *ag_sqrt(ag_tensor *x);                     /* sqrt x       dx = g / (2 sqrt x) */
ag_tensor *ag_abs(ag_tensor *x);                      /* |x|          dx = g sign(x), 0 at 0 */
ag_tensor *ag_tanh(ag_tensor *x);                     /* tanh x       dx = g (1 - y^2) */
ag_tensor *ag_sigmoid(ag_tensor *x);                  /* 1/(1+e^-x)   dx = g y (1 - y) */
ag_tensor *ag_relu(ag_tensor *x);                     /* max(x, 0)    dx = g [x > 0] */
ag_tensor *ag_leaky_relu(ag_tensor *x, double slope); /* x or sx      dx = g or g s (x <= 0) */
ag_tensor *ag_gelu(ag_tensor *x);                     /* x Phi(x)     dx = g (Phi + x phi) */
/* ln(1 + e^(beta x)) / beta, and x itself where beta x > threshold (torch: 1, 20) */
ag_tensor *ag_softplus(ag_tensor *x, double beta, double threshold);
/* min(max(x, lo), hi); -INFINITY / INFINITY for no bound   dx = g [lo <= x <= hi] */
ag_tensor *ag_clamp(ag_tensor *x, double lo, double hi);
ag_tensor *ag_clone(ag_tensor *x);                    /* a copy       dx = g */
ag_tensor *ag_to(ag_tensor *x, ag_dtype dtype);       /* cast         dx = g, cast back */
/* A view sharing x's data that requires no grad and records nothing (x.detach()). */
ag_tensor *ag_detach(ag_tensor *x);

/* ---- linear algebra (ops/matmul.c) -------------------------------------------------------- */
/* torch.matmul: 1-d.1-d dot, 2-d mm, 1-d/2-d mixes, batched with broadcast batch dims.
 * a: (..., N, K)  b: (..., K, M)  ->  (..., N, M)     da = g b^T, db = a^T g */
ag_tensor *ag_matmul(ag_tensor *a, ag_tensor *b);

/* ---- reductions (ops/sum.c, ops/mean.c, ...) ---------------------------------------------- */
/* Over all elements to a 0-d tensor, or over one dim (negative counts from the end), keeping
 * it as size 1 with keepdim. correction is Bessel's: 1 for torch's default unbiased var/std. */
ag_tensor *ag_sum(ag_tensor *x);
ag_tensor *ag_sum_dim(ag_tensor *x, int dim, bool keepdim);
ag_tensor *ag_mean(ag_tensor *x);
ag_tensor *ag_mean_dim(ag_tensor *x, int dim, bool keepdim);
ag_tensor *ag_var(ag_tensor *x, int correction);
ag_tensor *ag_var_dim(ag_tensor *x, int dim, int correction, bool keepdim);
ag_tensor *ag_std(ag_tensor *x, int correction);
ag_tensor *ag_std_dim(ag_tensor *x, int dim, int correction, bool keepdim);
/* max over everything splits g evenly among ties; over a dim, g goes to the index returned.
 * indices (may be NULL) receives a tape-owned int64 tensor of the positions. */
ag_tensor *ag_max(ag_tensor *x);
ag_tensor *ag_max_dim(ag_tensor *x, int dim, bool keepdim, ag_tensor **indices);
ag_tensor *ag_min(ag_tensor *x);
ag_tensor *ag_min_dim(ag_tensor *x, int dim, bool keepdim, ag_tensor **indices);
ag_tensor *ag_argmax(ag_tensor *x);                   /* flat index of the first maximum */
ag_tensor *ag_argmax_dim(ag_tensor *x, int dim, bool keepdim);
ag_tensor *ag_logsumexp(ag_tensor *x, int dim, bool keepdim); /* dx = g softmax(x) */

/* ---- shape (ops/reshape.c, ops/transpose.c, ...) ------------------------------------------ */
/* reshape and view share x's data (one dim may be -1); so do flatten, squeeze and unsqueeze.
 * The others copy (torch would return a strided view: here every tensor is contiguous). */
ag_tensor *ag_reshape(ag_tensor *x, int ndim, const int64_t *shape);
ag_tensor *ag_view(ag_tensor *x, int ndim, const int64_t *shape);
ag_tensor *ag_flatten(ag_tensor *x, int start_dim, int end_dim);
ag_tensor *ag_squeeze(ag_tensor *x);                  /* drops every dim of size 1 */
ag_tensor *ag_squeeze_dim(ag_tensor *x, int dim);
ag_tensor *ag_unsqueeze(ag_tensor *x, int dim);
ag_tensor *ag_transpose(ag_tensor *x, int dim0, int dim1);
ag_tensor *ag_permute(ag_tensor *x, int ndim, const int *dims);
ag_tensor *ag_expand(ag_tensor *x, int ndim, const int64_t *shape); /* -1 keeps a size */
ag_tensor *ag_select(ag_tensor *x, int dim, int64_t index);   /* x[i] is ag_select(x, 0, i) */
/* x[start:end:step] along dim; ends are clamped as Python's, step > 0 */
ag_tensor *ag_slice(ag_tensor *x, int dim, int64_t start, int64_t end, int64_t step);
ag_tensor *ag_index_select(ag_tensor *x, int dim, ag_tensor *index); /* index: 1-d int64 */
ag_tensor *ag_gather(ag_tensor *x, int dim, ag_tensor *index);       /* index: int64, x's ndim */
ag_tensor *ag_cat(ag_tensor *const *xs, int n, int dim);
ag_tensor *ag_stack(ag_tensor *const *xs, int n, int dim);

/* ---- softmax and losses (ops/softmax.c, ops/mse_loss.c, ...) ------------------------------ */
ag_tensor *ag_softmax(ag_tensor *x, int dim);         /* e^x / sum e^x, stable */
ag_tensor *ag_log_softmax(ag_tensor *x, int dim);     /* x - logsumexp(x) */
ag_tensor *ag_mse_loss(ag_tensor *input, ag_tensor *target, ag_reduction reduction);
ag_tensor *ag_l1_loss(ag_tensor *input, ag_tensor *target, ag_reduction reduction);
/* input: (N, C) logits or (C); target: (N) or () class indices, int64 or uint8 */
ag_tensor *ag_cross_entropy(ag_tensor *input, ag_tensor *target, ag_reduction reduction);
ag_tensor *ag_nll_loss(ag_tensor *input, ag_tensor *target, ag_reduction reduction);
ag_tensor *ag_binary_cross_entropy_with_logits(ag_tensor *input, ag_tensor *target,
                                               ag_reduction reduction);

/*
 * Every op above is also a macro that first records the caller's file:line (ag_here), so that
 * an error or a graph node can name the line of your program that made it. Taking an op's
 * address, or calling it as (ag_add)(a, b), bypasses the macro and works the same.
 */
#ifndef AG_BUILDING_LIBRARY
#define ag_add(...) AG_AT_(ag_add(__VA_ARGS__))
#define ag_sub(...) AG_AT_(ag_sub(__VA_ARGS__))
#define ag_mul(...) AG_AT_(ag_mul(__VA_ARGS__))
#define ag_div(...) AG_AT_(ag_div(__VA_ARGS__))
#define ag_pow(...) AG_AT_(ag_pow(__VA_ARGS__))
#define ag_maximum(...) AG_AT_(ag_maximum(__VA_ARGS__))
#define ag_minimum(...) AG_AT_(ag_minimum(__VA_ARGS__))
#define ag_add_scalar(...) AG_AT_(ag_add_scalar(__VA_ARGS__))
#define ag_sub_scalar(...) AG_AT_(ag_sub_scalar(__VA_ARGS__))
#define ag_rsub_scalar(...) AG_AT_(ag_rsub_scalar(__VA_ARGS__))
#define ag_mul_scalar(...) AG_AT_(ag_mul_scalar(__VA_ARGS__))
#define ag_div_scalar(...) AG_AT_(ag_div_scalar(__VA_ARGS__))
#define ag_rdiv_scalar(...) AG_AT_(ag_rdiv_scalar(__VA_ARGS__))
#define ag_pow_scalar(...) AG_AT_(ag_pow_scalar(__VA_ARGS__))
#define ag_rpow_scalar(...) AG_AT_(ag_rpow_scalar(__VA_ARGS__))
#define ag_add_(...) AG_AT_(ag_add_(__VA_ARGS__))
#define ag_sub_(...) AG_AT_(ag_sub_(__VA_ARGS__))
#define ag_mul_(...) AG_AT_(ag_mul_(__VA_ARGS__))
#define ag_div_(...) AG_AT_(ag_div_(__VA_ARGS__))
#define ag_add_scalar_(...) AG_AT_(ag_add_scalar_(__VA_ARGS__))
#define ag_sub_scalar_(...) AG_AT_(ag_sub_scalar_(__VA_ARGS__))
#define ag_mul_scalar_(...) AG_AT_(ag_mul_scalar_(__VA_ARGS__))
#define ag_div_scalar_(...) AG_AT_(ag_div_scalar_(__VA_ARGS__))
#define ag_zero_(...) AG_AT_(ag_zero_(__VA_ARGS__))
#define ag_fill_(...) AG_AT_(ag_fill_(__VA_ARGS__))
#define ag_copy_(...) AG_AT_(ag_copy_(__VA_ARGS__))
#define ag_neg(...) AG_AT_(ag_neg(__VA_ARGS__))
#define ag_exp(...) AG_AT_(ag_exp(__VA_ARGS__))
#define ag_log(...) AG_AT_(ag_log(__VA_ARGS__))
#define ag_sqrt(...) AG_AT_(ag_sqrt(__VA_ARGS__))
#define ag_abs(...) AG_AT_(ag_abs(__VA_ARGS__))
#define ag_tanh(...) AG_AT_(ag_tanh(__VA_ARGS__))
#define ag_sigmoid(...) AG_AT_(ag_sigmoid(__VA_ARGS__))
#define ag_relu(...) AG_AT_(ag_relu(__VA_ARGS__))
#define ag_leaky_relu(...) AG_AT_(ag_leaky_relu(__VA_ARGS__))
#define ag_gelu(...) AG_AT_(ag_gelu(__VA_ARGS__))
#define ag_softplus(...) AG_AT_(ag_softplus(__VA_ARGS__))
#define ag_clamp(...) AG_AT_(ag_clamp(__VA_ARGS__))
#define ag_clone(...) AG_AT_(ag_clone(__VA_ARGS__))
#define ag_to(...) AG_AT_(ag_to(__VA_ARGS__))
#define ag_detach(...) AG_AT_(ag_detach(__VA_ARGS__))
#define ag_matmul(...) AG_AT_(ag_matmul(__VA_ARGS__))
#define ag_sum(...) AG_AT_(ag_sum(__VA_ARGS__))
#define ag_sum_dim(...) AG_AT_(ag_sum_dim(__VA_ARGS__))
#define ag_mean(...) AG_AT_(ag_mean(__VA_ARGS__))
#define ag_mean_dim(...) AG_AT_(ag_mean_dim(__VA_ARGS__))
#define ag_var(...) AG_AT_(ag_var(__VA_ARGS__))
#define ag_var_dim(...) AG_AT_(ag_var_dim(__VA_ARGS__))
#define ag_std(...) AG_AT_(ag_std(__VA_ARGS__))
#define ag_std_dim(...) AG_AT_(ag_std_dim(__VA_ARGS__))
#define ag_max(...) AG_AT_(ag_max(__VA_ARGS__))
#define ag_max_dim(...) AG_AT_(ag_max_dim(__VA_ARGS__))
#define ag_min(...) AG_AT_(ag_min(__VA_ARGS__))
#define ag_min_dim(...) AG_AT_(ag_min_dim(__VA_ARGS__))
#define ag_argmax(...) AG_AT_(ag_argmax(__VA_ARGS__))
#define ag_argmax_dim(...) AG_AT_(ag_argmax_dim(__VA_ARGS__))
#define ag_logsumexp(...) AG_AT_(ag_logsumexp(__VA_ARGS__))
#define ag_reshape(...) AG_AT_(ag_reshape(__VA_ARGS__))
#define ag_view(...) AG_AT_(ag_view(__VA_ARGS__))
#define ag_flatten(...) AG_AT_(ag_flatten(__VA_ARGS__))
#define ag_squeeze(...) AG_AT_(ag_squeeze(__VA_ARGS__))
#define ag_squeeze_dim(...) AG_AT_(ag_squeeze_dim(__VA_ARGS__))
#define ag_unsqueeze(...) AG_AT_(ag_unsqueeze(__VA_ARGS__))
#define ag_transpose(...) AG_AT_(ag_transpose(__VA_ARGS__))
#define ag_permute(...) AG_AT_(ag_permute(__VA_ARGS__))
#define ag_expand(...) AG_AT_(ag_expand(__VA_ARGS__))
#define ag_select(...) AG_AT_(ag_select(__VA_ARGS__))
#define ag_slice(...) AG_AT_(ag_slice(__VA_ARGS__))
#define ag_index_select(...) AG_AT_(ag_index_select(__VA_ARGS__))
#define ag_gather(...) AG_AT_(ag_gather(__VA_ARGS__))
#define ag_cat(...) AG_AT_(ag_cat(__VA_ARGS__))
#define ag_stack(...) AG_AT_(ag_stack(__VA_ARGS__))
#define ag_softmax(...) AG_AT_(ag_softmax(__VA_ARGS__))
#define ag_log_softmax(...) AG_AT_(ag_log_softmax(__VA_ARGS__))
#define ag_mse_loss(...) AG_AT_(ag_mse_loss(__VA_ARGS__))
#define ag_l1_loss(...) AG_AT_(ag_l1_loss(__VA_ARGS__))
#define ag_cross_entropy(...) AG_AT_(ag_cross_entropy(__VA_ARGS__))
#define ag_nll_loss(...) AG_AT_(ag_nll_loss(__VA_ARGS__))
#define ag_binary_cross_entropy_with_logits(...)                                               \
    AG_AT_(ag_binary_cross_entropy_with_logits(__VA_ARGS__))
#endif

#ifdef __cplusplus
}
#endif

#endif
