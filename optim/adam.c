/*
 * adam.c - Adam and AdamW, torch.optim.Adam and torch.optim.AdamW (1.13, single-tensor).
 *
 * For each parameter theta with gradient grad, at step t (counted per parameter), in theta's
 * precision:
 *   g = -grad if maximize else grad
 *   Adam:  g = g + weight_decay * theta                  (L2 penalty, if weight_decay != 0)
 *   AdamW: theta = theta * (1 - lr * weight_decay)       (decoupled weight decay)
 *   m = beta1 * m + (1 - beta1) * g
 *   v = beta2 * v + (1 - beta2) * g * g
 *   amsgrad: vmax = max(vmax, v), used below in place of v
 *   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
 *   theta = theta - (lr / (1 - beta1^t)) * m / denom
 * The bias corrections are computed in double (Python floats), as torch does. State: m, v,
 * vmax (amsgrad) and t, which torch keeps in a float32 tensor (so it is rounded to float).
 */
#include "optim/internal.h"

enum { EXP_AVG, EXP_AVG_SQ, MAX_EXP_AVG_SQ };

/*
 * The update of n float32 values in float arithmetic, each operation rounded as the generic
 * loop below rounds it (fmaf is torch's fused add(x, y, alpha) and addcmul). As in sgd.c, the
 * flags are parameters of an always-inlined function, so that the common case (Adam or AdamW
 * without amsgrad or maximize) is a loop without branches, which the compiler vectorises.
 */
typedef struct adam_f32_args {
    float beta1, beta2, one_minus_beta1, one_minus_beta2, decay, eps, bias_correction2_sqrt;
    float neg_step_size; /* -lr / bias_correction1 */
} adam_f32_args;

static inline __attribute__((always_inline)) void
adam_f32_loop(int64_t n, float *restrict p, const float *restrict grad, float *restrict m,
              float *restrict v, float *restrict vmax, adam_f32_args a, bool maximize,
              bool decoupled, bool l2, bool amsgrad) {
    for (int64_t i = 0; i < n; i++) {
        float g = maximize ? -grad[i] : grad[i], theta = p[i];
        if (decoupled) theta = theta * a.decay;
        if (l2) g = fmaf(a.decay, theta, g);
        float mi = fmaf(a.one_minus_beta1, g, m[i] * a.beta1);
        float vi = fmaf(a.one_minus_beta2 * g, g, v[i] * a.beta2);
        m[i] = mi;
        v[i] = vi;
        if (amsgrad) {
            float mx = vmax[i];
            vi = isnan(mx) || mx > vi ? mx : vi;
            vmax[i] = vi;
        }
        float denom = sqrtf(vi) / a.bias_correction2_sqrt + a.eps;
        p[i] = theta + (a.neg_step_size * mi) / denom;
    }
}

/* decay: AdamW's 1 - lr * weight_decay, or Adam's weight_decay (0: none). */
AG_FMA_CLONES
static void adam_f32(const ag_adam_options *o, bool decoupled, adam_f32_args a, ag_tensor *p,
                     ag_tensor *m, ag_tensor *v, ag_tensor *vmax) {
    bool l2 = !decoupled && o->weight_decay != 0;
    float *mx = vmax ? vmax->data : NULL;
    if (!o->maximize && !o->amsgrad)
        adam_f32_loop(p->numel, p->data, p->grad->data, m->data, v->data, mx, a, false,
                      decoupled, l2, false);
    else
        adam_f32_loop(p->numel, p->data, p->grad->data, m->data, v->data, mx, a, o->maximize,
                      decoupled, l2, o->amsgrad);
}

AG_FMA_CLONES
static void adam_common(const ag_param_group *group, ag_tensor *p, ag_param_state *state,
                        bool decoupled) {
    const ag_adam_options *o = group->options;
    bool f32 = p->dtype == AG_FLOAT32;
    ag_tensor *m = ag_state_buffer(state, EXP_AVG, p, 0.0, NULL);
    ag_tensor *v = ag_state_buffer(state, EXP_AVG_SQ, p, 0.0, NULL);
    ag_tensor *vmax = o->amsgrad ? ag_state_buffer(state, MAX_EXP_AVG_SQ, p, 0.0, NULL) : NULL;
    if (!m || !v || (o->amsgrad && !vmax)) return;
    double lr = group->lr, beta1 = o->betas[0], beta2 = o->betas[1];
    state->step = (float)(state->step + 1); /* step_t += 1 */
    double bias_correction1 = 1 - pow(beta1, state->step);
    double bias_correction2 = 1 - pow(beta2, state->step);
    double step_size = lr / bias_correction1;
    double bias_correction2_sqrt = sqrt(bias_correction2);
    if (f32 && p->grad->dtype == AG_FLOAT32) {
        double decay = decoupled ? 1 - lr * o->weight_decay : o->weight_decay;
        adam_f32_args a = {(float)beta1,        (float)beta2,
                           (float)(1 - beta1),  (float)(1 - beta2),
                           (float)decay,        (float)o->eps,
                           (float)bias_correction2_sqrt, (float)-step_size};
        adam_f32(o, decoupled, a, p, m, v, vmax);
        return;
    }
    for (int64_t i = 0; i < p->numel; i++) {
        double g = ag_float_get(p->grad, i), theta = ag_float_get(p, i);
        if (o->maximize) g = -g;
        if (decoupled)
            theta = ag_mul_num(f32, theta, 1 - lr * o->weight_decay); /* param.mul_(...) */
        else if (o->weight_decay != 0)
            g = ag_add_alpha(f32, g, o->weight_decay, theta); /* grad.add(param, alpha=wd) */
        /* exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1) */
        double mi = ag_add_alpha(f32, ag_mul_num(f32, ag_float_get(m, i), beta1), 1 - beta1, g);
        /* exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2) */
        double vi = ag_addcmul(f32, ag_mul_num(f32, ag_float_get(v, i), beta2), 1 - beta2, g, g);
        ag_float_set(m, i, mi);
        ag_float_set(v, i, vi);
        if (o->amsgrad) { /* torch.maximum(max_exp_avg_sq, exp_avg_sq): NaN wins */
            double mx = ag_float_get(vmax, i);
            vi = isnan(mx) || mx > vi ? mx : vi;
            ag_float_set(vmax, i, vi);
        }
        /* denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps) */
        double denom =
            ag_round(f32, ag_round(f32, sqrt(vi)) / ag_round(f32, bias_correction2_sqrt));
        denom = ag_round(f32, denom + ag_round(f32, o->eps));
        ag_float_set(p, i,
                     ag_addcdiv(f32, theta, -step_size, mi, denom)); /* addcdiv_(-step_size) */
    }
}

static void adam_update(const ag_param_group *group, ag_tensor *p, ag_param_state *state) {
    adam_common(group, p, state, false);
}

static void adamw_update(const ag_param_group *group, ag_tensor *p, ag_param_state *state) {
    adam_common(group, p, state, true);
}

/* torch's checks, the same for both. */
static bool resolve(const char *op, ag_adam_options *o, const ag_adam_options *d) {
    if (!ag_resolve_lr(op, &o->lr, d->lr)) return false;
    o->betas[0] = ag_option(o->betas[0], d->betas[0]);
    o->betas[1] = ag_option(o->betas[1], d->betas[1]);
    o->eps = ag_option(o->eps, d->eps);
    o->weight_decay = ag_option(o->weight_decay, d->weight_decay);
    o->amsgrad = o->amsgrad || d->amsgrad;
    o->maximize = o->maximize || d->maximize;
    return ag_check_option(op, o->eps >= 0.0, "epsilon value", o->eps) &&
           ag_check_option(op, o->betas[0] >= 0.0 && o->betas[0] < 1.0, "beta parameter at index 0",
                           o->betas[0]) &&
           ag_check_option(op, o->betas[1] >= 0.0 && o->betas[1] < 1.0, "beta parameter at index 1",
                           o->betas[1]) &&
           ag_check_option(op, o->weight_decay >= 0.0, "weight_decay value", o->weight_decay);
}

static bool adam_resolve(void *options, const void *defaults) {
    return resolve("Adam", options, defaults);
}

static bool adamw_resolve(void *options, const void *defaults) {
    return resolve("AdamW", options, defaults);
}

static double *beta1(ag_param_group *group) {
    return &((ag_adam_options *)group->options)->betas[0];
}

/* The param_group keys of torch.optim.Adam and AdamW, after lr. */
static const ag_option_field adam_fields[] = {
    {"betas", offsetof(ag_adam_options, betas), AG_OPTION_PAIR},
    {"eps", offsetof(ag_adam_options, eps), AG_OPTION_DOUBLE},
    {"weight_decay", offsetof(ag_adam_options, weight_decay), AG_OPTION_DOUBLE},
    {"amsgrad", offsetof(ag_adam_options, amsgrad), AG_OPTION_FLAG},
    {"maximize", offsetof(ag_adam_options, maximize), AG_OPTION_FLAG},
    {NULL, 0, 0},
};

static const ag_optim_algorithm adam_algorithm = {
    .name = "Adam",
    .options_type = "ag_adam_options",
    .options_size = sizeof(ag_adam_options),
    .resolve = adam_resolve,
    .update = adam_update,
    .momentum = beta1,
    .fields = adam_fields,
    .buffers =
        {[EXP_AVG] = "exp_avg", [EXP_AVG_SQ] = "exp_avg_sq", [MAX_EXP_AVG_SQ] = "max_exp_avg_sq"},
    .step_dtype = AG_FLOAT32, /* torch keeps it in a float32 tensor */
};

static const ag_optim_algorithm adamw_algorithm = {
    .name = "AdamW",
    .options_type = "ag_adam_options",
    .options_size = sizeof(ag_adam_options),
    .resolve = adamw_resolve,
    .update = adamw_update,
    .momentum = beta1,
    .fields = adam_fields,
    .buffers =
        {[EXP_AVG] = "exp_avg", [EXP_AVG_SQ] = "exp_avg_sq", [MAX_EXP_AVG_SQ] = "max_exp_avg_sq"},
    .step_dtype = AG_FLOAT32, /* torch keeps it in a float32 tensor */
};

ag_optimizer *ag_adam(ag_tensor *const *params, int n, ag_adam_options options) {
    static const ag_adam_options torch_defaults = {
        .lr = 1e-3, .betas = {0.9, 0.999}, .eps = 1e-8, .weight_decay = 0};
    return ag_optimizer_new(&adam_algorithm, params, n, &options, &torch_defaults);
}

ag_optimizer *ag_adamw(ag_tensor *const *params, int n, ag_adamw_options options) {
    static const ag_adam_options torch_defaults = {
        .lr = 1e-3, .betas = {0.9, 0.999}, .eps = 1e-8, .weight_decay = 1e-2};
    return ag_optimizer_new(&adamw_algorithm, params, n, &options, &torch_defaults);
}
