/*
 * sgd.c - stochastic gradient descent with momentum, torch.optim.SGD (1.13, single-tensor).
 *
 * For each parameter theta with gradient grad, in theta's precision:
 *   d = -grad if maximize else grad
 *   d = d + weight_decay * theta                          if weight_decay != 0
 *   if momentum != 0:
 *       b = clone(d) on the first step                     (no dampening on the first step)
 *       b = momentum * b + (1 - dampening) * d             afterwards
 *       d = d + momentum * b if nesterov else b
 *   theta = theta - lr * d
 * State: the momentum buffer b, made at the first step that has a gradient.
 */
#include "optim/internal.h"

enum { MOMENTUM_BUFFER };

/*
 * The update of n float32 values, in float arithmetic: the same roundings as the generic loop
 * below (each fmaf is torch's fused add(x, y, alpha), every Python number rounded to float
 * first). The flags are parameters of an always-inlined function, so that the common case
 * (momentum, no weight decay, past the first step) becomes a loop without branches, which the
 * compiler vectorises.
 */
typedef struct sgd_f32_args {
    float lr, momentum, dampened, weight_decay; /* dampened: 1 - dampening */
} sgd_f32_args;

static inline __attribute__((always_inline)) void
sgd_f32_loop(int64_t n, float *restrict p, const float *restrict grad, float *restrict buf,
             sgd_f32_args a, bool maximize, bool decay, bool momentum, bool first, bool nesterov) {
    for (int64_t i = 0; i < n; i++) {
        float d = maximize ? -grad[i] : grad[i];
        if (decay) d = fmaf(a.weight_decay, p[i], d);
        if (momentum) {
            float b = first ? d : fmaf(a.dampened, d, buf[i] * a.momentum);
            buf[i] = b;
            d = nesterov ? fmaf(a.momentum, b, d) : b;
        }
        p[i] = fmaf(-a.lr, d, p[i]);
    }
}

AG_FMA_CLONES
static void sgd_f32(const ag_sgd_options *o, double lr, ag_tensor *p, ag_tensor *buf, bool first) {
    sgd_f32_args a = {(float)lr, (float)o->momentum, (float)(1 - o->dampening),
                      (float)o->weight_decay};
    bool decay = o->weight_decay != 0, momentum = o->momentum != 0;
    float *b = buf ? buf->data : NULL;
    if (momentum && !decay && !first && !o->maximize && !o->nesterov)
        sgd_f32_loop(p->numel, p->data, p->grad->data, b, a, false, false, true, false, false);
    else
        sgd_f32_loop(p->numel, p->data, p->grad->data, b, a, o->maximize, decay, momentum, first,
                     o->nesterov);
}

AG_FMA_CLONES
static void sgd_update(const ag_param_group *group, ag_tensor *p, ag_param_state *state) {
    const ag_sgd_options *o = group->options;
    bool f32 = p->dtype == AG_FLOAT32, first = false;
    ag_tensor *buf = NULL;
    if (o->momentum != 0) {
        buf = ag_state_buffer(state, MOMENTUM_BUFFER, p, 0.0, &first);
        if (!buf) return;
    }
    state->step++;
    if (f32 && p->grad->dtype == AG_FLOAT32) {
        sgd_f32(o, group->lr, p, buf, first);
        return;
    }
    for (int64_t i = 0; i < p->numel; i++) {
        double d = ag_float_get(p->grad, i);
        if (o->maximize) d = -d;
        if (o->weight_decay != 0) d = ag_add_alpha(f32, d, o->weight_decay, ag_float_get(p, i));
        if (o->momentum != 0) {
            double b = d; /* buf = torch.clone(d_p) */
            if (!first)   /* buf.mul_(momentum).add_(d_p, 1 - tau) */
                b = ag_add_alpha(f32, ag_mul_num(f32, ag_float_get(buf, i), o->momentum),
                                 1 - o->dampening, d);
            ag_float_set(buf, i, b);
            d = o->nesterov ? ag_add_alpha(f32, d, o->momentum, b) : b;
        }
        /* param.add_(d_p, alpha=-lr) */
        ag_float_set(p, i, ag_add_alpha(f32, ag_float_get(p, i), -group->lr, d));
    }
}

static bool sgd_resolve(void *options, const void *defaults) {
    ag_sgd_options *o = options;
    const ag_sgd_options *d = defaults;
    if (!ag_resolve_lr("SGD", &o->lr, d->lr)) return false;
    o->momentum = ag_option(o->momentum, d->momentum);
    o->dampening = ag_option(o->dampening, d->dampening);
    o->weight_decay = ag_option(o->weight_decay, d->weight_decay);
    o->nesterov = o->nesterov || d->nesterov;
    o->maximize = o->maximize || d->maximize;
    if (!ag_check_option("SGD", o->momentum >= 0.0, "momentum value", o->momentum) ||
        !ag_check_option("SGD", o->weight_decay >= 0.0, "weight_decay value", o->weight_decay))
        return false;
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0)) {
        AG_ERROR("SGD", "Nesterov momentum requires a momentum and zero dampening");
        return false;
    }
    return true;
}

static double *sgd_momentum(ag_param_group *group) {
    return &((ag_sgd_options *)group->options)->momentum;
}

/* The param_group keys of torch.optim.SGD, after lr. */
static const ag_option_field sgd_fields[] = {
    {"momentum", offsetof(ag_sgd_options, momentum), AG_OPTION_DOUBLE},
    {"dampening", offsetof(ag_sgd_options, dampening), AG_OPTION_DOUBLE},
    {"weight_decay", offsetof(ag_sgd_options, weight_decay), AG_OPTION_DOUBLE},
    {"nesterov", offsetof(ag_sgd_options, nesterov), AG_OPTION_FLAG},
    {"maximize", offsetof(ag_sgd_options, maximize), AG_OPTION_FLAG},
    {NULL, 0, 0},
};

static const ag_optim_algorithm sgd_algorithm = {
    .name = "SGD",
    .options_type = "ag_sgd_options",
    .options_size = sizeof(ag_sgd_options),
    .resolve = sgd_resolve,
    .update = sgd_update,
    .momentum = sgd_momentum,
    .fields = sgd_fields,
    .buffers = {[MOMENTUM_BUFFER] = "momentum_buffer"},
    .step_dtype = AG_INT64,
};

ag_optimizer *ag_sgd(ag_tensor *const *params, int n, ag_sgd_options options) {
    static const ag_sgd_options torch_defaults = {.lr = NAN}; /* lr=required */
    return ag_optimizer_new(&sgd_algorithm, params, n, &options, &torch_defaults);
}
