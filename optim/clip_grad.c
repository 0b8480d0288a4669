/*
 * clip_grad.c - gradient clipping, torch.nn.utils.clip_grad_norm_ and clip_grad_value_.
 *
 * clip_grad_norm_ (1.13):
 *   norms = [norm(g, p) for each .grad g that is not None]     (each in g's dtype)
 *   total = norm(stack(norms), p)        (p = inf: max(norms))  (float64 if any g is)
 *   coef  = min(max_norm / (total + 1e-6), 1.0)                (in total's dtype)
 *   g *= coef for each g
 * The coefficient is computed as torch's Python computes it: (total + 1e-6).reciprocal() *
 * max_norm, then clamped. Each norm is summed in double and rounded to its dtype (torch sums
 * float32 in float32, so the last bit of a float32 norm may differ).
 */
#include "optim/internal.h"

/* A p-norm as torch.norm(x, p) defines it, fed one value at a time: inf is the largest |x|,
 * -inf the smallest, 0 the count of nonzeros; NaN propagates. */
static double norm_start(double p) { return p == -INFINITY ? INFINITY : 0.0; }

static double norm_add(double acc, double x, double p) {
    double a = fabs(x);
    if (p == INFINITY) return isnan(acc) || acc >= a ? acc : a;
    if (p == -INFINITY) return isnan(acc) || acc <= a ? acc : a;
    if (p == 0) return acc + (a != 0);
    if (p == 1) return acc + a;
    if (p == 2) return acc + a * a;
    return acc + pow(a, p);
}

static double norm_end(double acc, double p) {
    if (p == 2) return sqrt(acc);
    if (isinf(p) || p == 0 || p == 1) return acc;
    return pow(acc, 1.0 / p);
}

static bool check_params(const char *op, ag_tensor *const *params, int n) {
    if (n > 0 && !params) {
        AG_ERROR(op, "parameters is NULL");
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!params[i]) {
            AG_ERROR(op, "'NoneType' object has no attribute 'grad' (parameter %d is NULL)", i);
            return false;
        }
    }
    return true;
}

double ag_clip_grad_norm_(ag_tensor *const *params, int n, double max_norm, double norm_type) {
    const char *op = "clip_grad_norm_";
    if (!check_params(op, params, n)) return NAN;
    if (isnan(norm_type)) {
        AG_ERROR(op, "norm_type is nan");
        return NAN;
    }
    /* The norm of each gradient in its dtype, and their norm in float64 if any is. */
    int count = 0;
    bool f32 = true;
    double total = norm_start(norm_type), first = 0;
    for (int i = 0; i < n; i++) {
        const ag_tensor *g = params[i]->grad;
        if (!g) continue;
        double norm = norm_start(norm_type);
        for (int64_t k = 0; k < g->numel; k++)
            norm = norm_add(norm, ag_float_get(g, k), norm_type);
        norm = ag_round(g->dtype == AG_FLOAT32, norm_end(norm, norm_type));
        total = norm_add(total, norm, norm_type);
        first = count++ ? first : norm;
        f32 = f32 && g->dtype == AG_FLOAT32;
    }
    if (count == 0) return 0.0; /* torch.tensor(0.) */
    /* (with p = inf and one gradient, torch takes its norm as it is, in its dtype) */
    total = norm_type == INFINITY && count == 1 ? first : ag_round(f32, norm_end(total, norm_type));
    /* clip_coef = max_norm / (total_norm + 1e-6); clamp(clip_coef, max=1.0) */
    double denom = ag_round(f32, total + ag_round(f32, 1e-6));
    double coef = ag_mul_num(f32, ag_round(f32, 1.0 / denom), max_norm);
    if (coef > 1.0) coef = 1.0;
    for (int i = 0; i < n; i++) {
        ag_tensor *g = params[i]->grad;
        if (!g) continue;
        bool g32 = g->dtype == AG_FLOAT32;
        for (int64_t k = 0; k < g->numel; k++)
            ag_float_set(g, k, ag_mul_num(g32, ag_float_get(g, k), coef));
        ag_bump_version(g);
    }
    return total;
}

void ag_clip_grad_value_(ag_tensor *const *params, int n, double clip_value) {
    const char *op = "clip_grad_value_";
    if (!check_params(op, params, n)) return;
    for (int i = 0; i < n; i++) {
        ag_tensor *g = params[i]->grad;
        if (!g) continue;
        bool g32 = g->dtype == AG_FLOAT32;
        double lo = ag_round(g32, -clip_value), hi = ag_round(g32, clip_value);
        for (int64_t k = 0; k < g->numel; k++) {
            double x = ag_float_get(g, k); /* clamp_(min=-clip_value, max=clip_value), */
            x = x < lo ? lo : x;    /* as std::min(std::max(x, lo), hi): NaN stays */
            x = hi < x ? hi : x;
            ag_float_set(g, k, x);
        }
        ag_bump_version(g);
    }
}
