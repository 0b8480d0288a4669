/*
 * logsumexp.c - log(sum(exp(x))) along one dim, computed without overflow.
 *
 *   forward:  out = m + log(sum_k e^(x[k] - m))     m = max_k x[k] along dim (0 if infinite)
 *   backward: dx[k] += g * e^(x[k] - out)           = g * softmax(x)[k]; g, out kept along dim
 * Subtracting the max changes nothing mathematically but keeps every e^(...) <= 1, so x of
 * 1000 gives 1000.69, not inf. An infinite max is not subtracted (inf - inf would be NaN), as
 * in torch: a slice of all -inf gives -inf (log 0), one holding +inf gives +inf, and a NaN
 * gives NaN. An empty slice gives -inf. The backward is torch's formula as it stands, so
 * where x and out are both infinite it gives NaN, as torch does.
 *
 * Along dim, x is seen as (outer, size, inner) (ag_split_dim). The exponentials, the log and
 * the final add are computed in the tensor's own precision, as torch does; the sum is
 * accumulated in double.
 */
#include "autograd/internal.h"

#include <tgmath.h>

/* One kernel per precision, written once: T is float or double. */
#define LOGSUMEXP_FORWARD(T)                                                                   \
    static void logsumexp_forward_##T(const T *x, T *out, int64_t outer, int64_t size,        \
                                      int64_t inner) {                                         \
        for (int64_t o = 0; o < outer; o++) {                                                  \
            for (int64_t i = 0; i < inner; i++) {                                              \
                const T *xs = x + o * size * inner + i;                                        \
                T m = -INFINITY;                                                               \
                for (int64_t k = 0; k < size; k++)                                             \
                    if (xs[k * inner] > m || isnan(xs[k * inner])) m = xs[k * inner];          \
                if (isinf(m)) m = 0;                                                           \
                double s = 0;                                                                  \
                for (int64_t k = 0; k < size; k++) s += exp(xs[k * inner] - m);               \
                out[o * inner + i] = log((T)s) + m;                                            \
            }                                                                                  \
        }                                                                                      \
    }
LOGSUMEXP_FORWARD(float)
LOGSUMEXP_FORWARD(double)

/* t: (reduced shape) seen with dim kept as 1, so that it broadcasts against x. */
static ag_tensor *kept(ag_tensor *t, const ag_tensor *x, int dim, bool keepdim) {
    int64_t shape[AG_MAX_DIMS];
    if (keepdim || x->ndim == 0) return t;
    return ag_result_view(t, ag_reduced_shape(x, dim, true, shape), shape);
}

static void logsumexp_backward(ag_node *node) {
    ag_tensor *x = ag_saved(node, 0), *out = ag_saved(node, 1);
    if (!x || !out) return;
    int dim = (int)node->iarg[0];
    bool keepdim = node->iarg[1];
    ag_tensor *e = ag_exp(ag_sub(x, kept(out, x, dim, keepdim)));
    ag_accumulate_temp(node, 0, ag_mul(kept(node->grad, x, dim, keepdim), e));
}

static const ag_op logsumexp_op = {
    .name = "LogsumexpBackward0",
    .rule = "dx = g * exp(x - out) (softmax along dim)",
    .backward = logsumexp_backward,
};

ag_tensor *ag_logsumexp(ag_tensor *x, int dim, bool keepdim) {
    const char *op = "logsumexp";
    if (!ag_check_tensor(op, x, "input") || !ag_check_floating(op, x) ||
        !ag_check_dim(op, x->ndim, &dim))
        return NULL;
    int64_t shape[AG_MAX_DIMS], outer, size, inner;
    ag_tensor *out = ag_result(x->dtype, ag_reduced_shape(x, dim, keepdim, shape), shape);
    if (!out) return NULL;
    ag_split_dim(x, dim, &outer, &size, &inner);
    if (x->dtype == AG_FLOAT32)
        logsumexp_forward_float(x->data, out->data, outer, size, inner);
    else
        logsumexp_forward_double(x->data, out->data, outer, size, inner);
    ag_node *node = ag_record(&logsumexp_op, out, 1, &x);
    if (node) {
        ag_save(node, x);
        ag_save(node, out);
        node->iarg[0] = dim;
        node->iarg[1] = keepdim;
    }
    return out;
}
