/*
 * rmsprop.c - RMSprop, torch.optim.RMSprop (1.13, single-tensor).
 *
 * For each parameter theta with gradient grad, in theta's precision:
 *   g = -grad if maximize else grad
 *   g = g + weight_decay * theta                         if weight_decay != 0
 *   v = alpha * v + (1 - alpha) * g * g
 *   centered: a = alpha * a + (1 - alpha) * g;  avg = sqrt(v - a * a)
 *   else:     avg = sqrt(v)
 *   avg = avg + eps
 *   momentum > 0: b = momentum * b + g / avg;  theta = theta - lr * b
 *   else:         theta = theta - lr * g / avg
 * State: v (square_avg), b (momentum_buffer) and a (grad_avg), all starting at zero.
 */
#include "optim/internal.h"

enum { SQUARE_AVG, MOMENTUM_BUFFER, GRAD_AVG };

AG_FMA_CLONES
static void rmsprop_update(const ag_param_group *group, ag_tensor *p, ag_param_state *state) {
    const ag_rmsprop_options *o = group->options;
    bool f32 = p->dtype == AG_FLOAT32;
    double alpha = o->alpha;
    ag_tensor *v = ag_state_buffer(state, SQUARE_AVG, p, 0.0, NULL);
    ag_tensor *b = o->momentum > 0 ? ag_state_buffer(state, MOMENTUM_BUFFER, p, 0.0, NULL) : NULL;
    ag_tensor *a = o->centered ? ag_state_buffer(state, GRAD_AVG, p, 0.0, NULL) : NULL;
    if (!v || (o->momentum > 0 && !b) || (o->centered && !a)) return;
    for (int64_t i = 0; i < p->numel; i++) {
        double g = ag_float_get(p->grad, i);
        if (o->maximize) g = -g;
        if (o->weight_decay != 0) g = ag_add_alpha(f32, g, o->weight_decay, ag_float_get(p, i));
        /* square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha) */
        double vi = ag_addcmul(f32, ag_mul_num(f32, ag_float_get(v, i), alpha), 1 - alpha, g, g);
        ag_float_set(v, i, vi);
        double avg;
        if (o->centered) {
            /* grad_avg.mul_(alpha).add_(grad, alpha=1 - alpha) */
            double ai = ag_add_alpha(f32, ag_mul_num(f32, ag_float_get(a, i), alpha), 1 - alpha, g);
            ag_float_set(a, i, ai);
            /* square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_() */
            avg = ag_round(f32, sqrt(ag_addcmul(f32, vi, -1, ai, ai)));
        } else {
            avg = ag_round(f32, sqrt(vi));
        }
        avg = ag_round(f32, avg + ag_round(f32, o->eps)); /* avg.add_(eps) */
        if (o->momentum > 0) {
            /* buf.mul_(momentum).addcdiv_(grad, avg); param.add_(buf, alpha=-lr) */
            double bi =
                ag_addcdiv(f32, ag_mul_num(f32, ag_float_get(b, i), o->momentum), 1, g, avg);
            ag_float_set(b, i, bi);
            ag_float_set(p, i, ag_add_alpha(f32, ag_float_get(p, i), -group->lr, bi));
        } else {
            /* param.addcdiv_(grad, avg, value=-lr) */
            ag_float_set(p, i, ag_addcdiv(f32, ag_float_get(p, i), -group->lr, g, avg));
        }
    }
    state->step++;
}

static bool rmsprop_resolve(void *options, const void *defaults) {
    ag_rmsprop_options *o = options;
    const ag_rmsprop_options *d = defaults;
    if (!ag_resolve_lr("RMSprop", &o->lr, d->lr)) return false;
    o->alpha = ag_option(o->alpha, d->alpha);
    o->eps = ag_option(o->eps, d->eps);
    o->weight_decay = ag_option(o->weight_decay, d->weight_decay);
    o->momentum = ag_option(o->momentum, d->momentum);
    o->centered = o->centered || d->centered;
    o->maximize = o->maximize || d->maximize;
    return ag_check_option("RMSprop", o->eps >= 0.0, "epsilon value", o->eps) &&
           ag_check_option("RMSprop", o->momentum >= 0.0, "momentum value", o->momentum) &&
           ag_check_option("RMSprop", o->weight_decay >= 0.0, "weight_decay value",
                           o->weight_decay) &&
           ag_check_option("RMSprop", o->alpha >= 0.0, "alpha value", o->alpha);
}

static double *rmsprop_momentum(ag_param_group *group) {
    return &((ag_rmsprop_options *)group->options)->momentum;
}

/* The param_group keys of torch.optim.RMSprop, after lr. */
static const ag_option_field rmsprop_fields[] = {
    {"alpha", offsetof(ag_rmsprop_options, alpha), AG_OPTION_DOUBLE},
    {"eps", offsetof(ag_rmsprop_options, eps), AG_OPTION_DOUBLE},
    {"weight_decay", offsetof(ag_rmsprop_options, weight_decay), AG_OPTION_DOUBLE},
    {"momentum", offsetof(ag_rmsprop_options, momentum), AG_OPTION_DOUBLE},
    {"centered", offsetof(ag_rmsprop_options, centered), AG_OPTION_FLAG},
    {"maximize", offsetof(ag_rmsprop_options, maximize), AG_OPTION_FLAG},
    {NULL, 0, 0},
};

static const ag_optim_algorithm rmsprop_algorithm = {
    .name = "RMSprop",
    .options_type = "ag_rmsprop_options",
    .options_size = sizeof(ag_rmsprop_options),
    .resolve = rmsprop_resolve,
    .update = rmsprop_update,
    .momentum = rmsprop_momentum,
    .fields = rmsprop_fields,
    .buffers = {[SQUARE_AVG] = "square_avg",
                [MOMENTUM_BUFFER] = "momentum_buffer",
                [GRAD_AVG] = "grad_avg"},
    .step_dtype = AG_INT64,
};

ag_optimizer *ag_rmsprop(ag_tensor *const *params, int n, ag_rmsprop_options options) {
    static const ag_rmsprop_options torch_defaults = {.lr = 1e-2, .alpha = 0.99, .eps = 1e-8};
    return ag_optimizer_new(&rmsprop_algorithm, params, n, &options, &torch_defaults);
}
