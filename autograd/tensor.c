/*
 * tensor.c - tensors the caller owns: creation, the autograd flags, reading values.
 *
 * A user tensor is one malloc'd struct and one malloc'd data block (64-byte aligned). Its
 * .grad, once a backward made it, is another user-owned tensor freed with it. Tensors that ops
 * return are made by ag_result() on the tape (tape.c) and never pass through here.
 */
#include "autograd/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *ag_dtype_name(ag_dtype dtype) {
    switch (dtype) {
    case AG_FLOAT32: return "torch.float32";
    case AG_FLOAT64: return "torch.float64";
    case AG_INT64: return "torch.int64";
    case AG_UINT8: return "torch.uint8";
    }
    return "?";
}

size_t ag_dtype_size(ag_dtype dtype) { return ag_elem_size(dtype); }

static bool check_dtype(const char *op, ag_dtype dtype) {
    if (ag_is_floating(dtype) || dtype == AG_INT64 || dtype == AG_UINT8) return true;
    AG_ERROR(op, "unknown dtype %d", (int)dtype);
    return false;
}

static bool check_shape(const char *op, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > AG_MAX_DIMS) {
        AG_ERROR(op, "a tensor has 0 to %d dims, got %d", AG_MAX_DIMS, ndim);
        return false;
    }
    if (ndim > 0 && !shape) {
        AG_ERROR(op, "shape is NULL for a %d-d tensor", ndim);
        return false;
    }
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            char buf[AG_SHAPE_STR];
            AG_ERROR(op, "Trying to create tensor with negative dimension %lld: %s",
                     (long long)shape[d], ag_shape_str(buf, ndim, shape));
            return false;
        }
        if (shape[d] && numel > INT64_MAX / 16 / shape[d]) {
            AG_ERROR(op, "tensor is too large");
            return false;
        }
        numel *= shape[d];
    }
    return true;
}

static _Atomic int64_t live_tensors;

int64_t ag_live_tensors(void) { return live_tensors; }

static ag_tensor *user_tensor(const char *op, ag_dtype dtype, int ndim, const int64_t *shape) {
    if (!check_dtype(op, dtype) || !check_shape(op, ndim, shape)) return NULL;
    ag_tensor *t = calloc(1, sizeof *t);
    if (!t) goto oom;
    t->dtype = dtype;
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < ndim; d++) {
        t->shape[d] = shape[d];
        t->numel *= shape[d];
    }
    size_t bytes = ((size_t)t->numel * ag_dtype_size(dtype) + 63) & ~(size_t)63;
    t->data = aligned_alloc(64, bytes ? bytes : 64);
    if (!t->data) goto oom;
    t->owns_data = true;
    live_tensors++;
    return t;
oom:
    free(t);
    AG_ERROR(op, "out of memory");
    return NULL;
}

/* Writes value into every element. */
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

ag_tensor *ag_empty(ag_dtype dtype, int ndim, const int64_t *shape) {
    return user_tensor("ag_empty", dtype, ndim, shape);
}

ag_tensor *ag_full(ag_dtype dtype, int ndim, const int64_t *shape, double value) {
    uint8_t byte = 0; /* a uint8 value as torch converts a Python number, or an error */
    if (dtype == AG_UINT8 && !ag_check_uint8_value("ag_full", value, &byte)) return NULL;
    ag_tensor *t = user_tensor("ag_full", dtype, ndim, shape);
    if (t) fill(t, dtype == AG_UINT8 ? byte : value);
    return t;
}

ag_tensor *ag_zeros(ag_dtype dtype, int ndim, const int64_t *shape) {
    return ag_full(dtype, ndim, shape, 0.0);
}

ag_tensor *ag_ones(ag_dtype dtype, int ndim, const int64_t *shape) {
    return ag_full(dtype, ndim, shape, 1.0);
}

ag_tensor *ag_from_data(const void *data, ag_dtype dtype, int ndim, const int64_t *shape) {
    if (!data) {
        AG_ERROR("ag_from_data", "data is NULL");
        return NULL;
    }
    ag_tensor *t = user_tensor("ag_from_data", dtype, ndim, shape);
    if (t) memcpy(t->data, data, (size_t)t->numel * ag_dtype_size(dtype));
    return t;
}

ag_tensor *ag_scalar(double value, ag_dtype dtype) { return ag_full(dtype, 0, NULL, value); }

ag_tensor *ag_arange(double start, double end, double step, ag_dtype dtype) {
    if (step == 0 || !isfinite(start) || !isfinite(end) || !isfinite(step)) {
        AG_ERROR("ag_arange", step == 0 ? "step must be nonzero" : "unsupported range: %g -> %g",
                 start, end);
        return NULL;
    }
    if ((step > 0 && start > end) || (step < 0 && start < end)) {
        AG_ERROR("ag_arange", "upper bound and larger bound inconsistent with step sign");
        return NULL;
    }
    int64_t n = (int64_t)ceil((end - start) / step);
    /* uint8, as torch: start and step truncated to integers first, each value start + i step
     * wrapped modulo 256 (arange(-3, 3) is 253, 254, 255, 0, 1, 2) */
    if (dtype == AG_UINT8 && trunc(step) == 0) {
        AG_ERROR("ag_arange", "step must be nonzero");
        return NULL;
    }
    ag_tensor *t = user_tensor("ag_arange", dtype, 1, (int64_t[]){n});
    if (!t) return NULL;
    for (int64_t i = 0; i < n; i++) {
        double v = start + (double)i * step;
        switch (dtype) {
        case AG_FLOAT32: AG_F32(t)[i] = (float)v; break;
        case AG_FLOAT64: AG_F64(t)[i] = v; break;
        case AG_INT64: AG_I64(t)[i] = (int64_t)v; break;
        case AG_UINT8: AG_U8(t)[i] = ag_to_uint8(trunc(start) + (double)i * trunc(step)); break;
        }
    }
    return t;
}

ag_tensor *ag_linspace(double start, double end, int64_t steps, ag_dtype dtype) {
    if (steps < 0) {
        AG_ERROR("ag_linspace", "number of steps must be non-negative");
        return NULL;
    }
    /* uint8, as torch: start and end are converted first (checked as ag_full's value) */
    uint8_t first, last;
    if (dtype == AG_UINT8) {
        if (!ag_check_uint8_value("ag_linspace", start, &first) ||
            !ag_check_uint8_value("ag_linspace", end, &last))
            return NULL;
        start = first, end = last;
    }
    ag_tensor *t = user_tensor("ag_linspace", dtype, 1, (int64_t[]){steps});
    if (!t) return NULL;
    /* As torch: the first half counts up from start, the second half down from end, in the
     * tensor's own precision, each value one fused multiply-add as torch's vectorised kernel
     * computes it (bit for bit: tests/fixtures/tensor.h). */
    int64_t half = steps / 2;
    if (dtype == AG_FLOAT32) {
        float step = steps > 1 ? ((float)end - (float)start) / (float)(steps - 1) : 0.0f;
        for (int64_t i = 0; i < steps; i++)
            AG_F32(t)[i] = i < half ? fmaf(step, (float)i, (float)start)
                                    : fmaf(-step, (float)(steps - i - 1), (float)end);
        return t;
    }
    double step = steps > 1 ? (end - start) / (double)(steps - 1) : 0.0;
    for (int64_t i = 0; i < steps; i++) {
        double v = i < half ? fma(step, (double)i, start)
                            : fma(-step, (double)(steps - i - 1), end);
        if (dtype == AG_FLOAT64)
            AG_F64(t)[i] = v;
        else if (dtype == AG_UINT8)
            AG_U8(t)[i] = ag_to_uint8(v); /* between start and end: in [0, 255] */
        else
            AG_I64(t)[i] = (int64_t)v;
    }
    return t;
}

ag_tensor *ag_eye(int64_t n, ag_dtype dtype) {
    ag_tensor *t = ag_zeros(dtype, 2, (int64_t[]){n, n});
    if (!t) return NULL;
    for (int64_t i = 0; i < n; i++) {
        switch (dtype) {
        case AG_FLOAT32: AG_F32(t)[i * n + i] = 1; break;
        case AG_FLOAT64: AG_F64(t)[i * n + i] = 1; break;
        case AG_INT64: AG_I64(t)[i * n + i] = 1; break;
        case AG_UINT8: AG_U8(t)[i * n + i] = 1; break;
        }
    }
    return t;
}

ag_tensor *ag_empty_like(const ag_tensor *t) {
    return ag_check_tensor("ag_empty_like", t, "input") ? ag_empty(t->dtype, t->ndim, t->shape)
                                                        : NULL;
}

ag_tensor *ag_full_like(const ag_tensor *t, double value) {
    return ag_check_tensor("ag_full_like", t, "input")
               ? ag_full(t->dtype, t->ndim, t->shape, value)
               : NULL;
}

ag_tensor *ag_zeros_like(const ag_tensor *t) { return ag_full_like(t, 0.0); }

ag_tensor *ag_ones_like(const ag_tensor *t) { return ag_full_like(t, 1.0); }

void ag_tensor_free(ag_tensor *t) {
    if (!t) return;
    if (t->tape) {
        AG_ERROR("ag_tensor_free", "this tensor belongs to a tape (an op returned it): "
                                   "ag_tape_reset releases it");
        return;
    }
    ag_tensor_free(t->grad);
    ag_tensor_free(t->spare_grad);
    ag_free_hooks(t);
    if (t->owns_data) free(t->data);
    free(t);
    live_tensors--;
}

/* ---- autograd flags ----------------------------------------------------------------------- */

bool ag_is_leaf(const ag_tensor *t) { return t && !t->grad_fn; }

ag_tensor *ag_requires_grad_(ag_tensor *t, bool requires_grad) {
    if (!ag_check_tensor("requires_grad_", t, "self")) return NULL;
    if (t->grad_fn && !requires_grad) {
        AG_ERROR("requires_grad_", "you can only change requires_grad flags of leaf variables. "
                                   "If you want to use a computed variable in a subgraph that "
                                   "doesn't require differentiation use "
                                   "var_no_grad = var.detach().");
        return NULL;
    }
    if (requires_grad && !ag_is_floating(t->dtype)) {
        AG_ERROR("requires_grad_",
                 "only Tensors of floating point dtype can require gradients (got %s)",
                 ag_dtype_name(t->dtype));
        return NULL;
    }
    t->requires_grad = requires_grad;
    return t;
}

void ag_retain_grad(ag_tensor *t) {
    if (!ag_check_tensor("retain_grad", t, "self")) return;
    if (!t->requires_grad) {
        AG_ERROR("retain_grad", "can't retain_grad on Tensor that has requires_grad=False");
        return;
    }
    if (t->grad_fn) t->retains_grad = true;
}

void ag_set_grad_none(ag_tensor *t) {
    if (!ag_check_tensor("ag_set_grad_none", t, "self") || !t->grad) return;
    if (!t->grad->tape) { /* kept for the next backward, which fills it instead of a new one */
        ag_tensor_free(t->spare_grad);
        t->spare_grad = t->grad;
    }
    t->grad = NULL;
    t->origin |= AG_GRAD_CLEARED; /* remembered for ag_explain_grad, with where */
    if (!t->tape) ag_site(&t->file, &t->line);
}

ag_tensor *ag_set_name(ag_tensor *t, const char *name) {
    if (t) t->name = name;
    return t;
}

const char *ag_grad_fn_name(const ag_tensor *t) {
    return t && t->grad_fn ? t->grad_fn->op->name : NULL;
}

/* ---- values ------------------------------------------------------------------------------- */

double ag_get(const ag_tensor *t, int64_t i) {
    if (!ag_check_tensor("ag_get", t, "self")) return NAN;
    if (i < 0 || i >= t->numel) {
        AG_ERROR("ag_get", "index %lld is out of bounds for a tensor with %lld elements",
                 (long long)i, (long long)t->numel);
        return NAN;
    }
    switch (t->dtype) {
    case AG_FLOAT32: return AG_F32(t)[i];
    case AG_FLOAT64: return AG_F64(t)[i];
    case AG_INT64: return (double)AG_I64(t)[i];
    case AG_UINT8: return AG_U8(t)[i];
    }
    return NAN;
}

double ag_item(const ag_tensor *t) {
    if (!ag_check_tensor("item", t, "self")) return NAN;
    if (t->numel != 1) {
        AG_ERROR("item", "a Tensor with %lld elements cannot be converted to Scalar",
                 (long long)t->numel);
        return NAN;
    }
    return ag_get(t, 0);
}

bool ag_same_shape(const ag_tensor *a, const ag_tensor *b) {
    if (!a || !b || a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

uint64_t ag_version(const ag_tensor *t) { return t->base ? t->base->version : t->version; }

void ag_bump_version(ag_tensor *t) {
    if (t->base)
        t->base->version++;
    else
        t->version++;
}
