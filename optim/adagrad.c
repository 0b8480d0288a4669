/*
 * adagrad.c - Adagrad, torch.optim.Adagrad (1.13, single-tensor, dense gradients).
 *
 * For each parameter theta with gradient grad, at step t (counted per parameter), in theta's
 * precision:
 *   g = -grad if maximize else grad
 *   g = g + weight_decay * theta                         if weight_decay != 0
 *   clr = lr / (1 + (t - 1) * lr_decay)                  (in double, as Python computes it)
 *   s = s + g * g                                        (s starts at initial_accumulator_value)
 *   theta = theta - clr * g / (sqrt(s) + eps)
 * State: s (sum) and t, which torch keeps in a float32 tensor.
 */
#include "optim/internal.h"

enum { SUM };

AG_FMA_CLONES
static void adagrad_update(const ag_param_group *group, ag_tensor *p, ag_param_state *state) {
    const ag_adagrad_options *o = group->options;
    bool f32 = p->dtype == AG_FLOAT32;
    ag_tensor *s = ag_state_buffer(state, SUM, p, o->initial_accumulator_value, NULL);
    if (!s) return;
    state->step = (float)(state->step + 1); /* step_t += 1 */
    double clr = group->lr / (1 + (state->step - 1) * o->lr_decay);
    for (int64_t i = 0; i < p->numel; i++) {
        double g = ag_float_get(p->grad, i);
        if (o->maximize) g = -g;
        if (o->weight_decay != 0) g = ag_add_alpha(f32, g, o->weight_decay, ag_float_get(p, i));
        double si =
            ag_addcmul(f32, ag_float_get(s, i), 1, g, g); /* state_sum.addcmul_(grad, grad) */
        ag_float_set(s, i, si);
        /* std = state_sum.sqrt().add_(eps); param.addcdiv_(grad, std, value=-clr) */
        double std = ag_round(f32, ag_round(f32, sqrt(si)) + ag_round(f32, o->eps));
        ag_float_set(p, i, ag_addcdiv(f32, ag_float_get(p, i), -clr, g, std));
    }
}

static bool adagrad_resolve(void *options, const void *defaults) {
    ag_adagrad_options *o = options;
    const ag_adagrad_options *d = defaults;
    if (!ag_resolve_lr("Adagrad", &o->lr, d->lr)) return false;
    o->lr_decay = ag_option(o->lr_decay, d->lr_decay);
    o->weight_decay = ag_option(o->weight_decay, d->weight_decay);
    o->initial_accumulator_value =
        ag_option(o->initial_accumulator_value, d->initial_accumulator_value);
    o->eps = ag_option(o->eps, d->eps);
    o->maximize = o->maximize || d->maximize;
    return ag_check_option("Adagrad", o->lr_decay >= 0.0, "lr_decay value", o->lr_decay) &&
           ag_check_option("Adagrad", o->weight_decay >= 0.0, "weight_decay value",
                           o->weight_decay) &&
           ag_check_option("Adagrad", o->initial_accumulator_value >= 0.0,
                           "initial_accumulator_value value", o->initial_accumulator_value) &&
           ag_check_option("Adagrad", o->eps >= 0.0, "epsilon value", o->eps);
}

/* The param_group keys of torch.optim.Adagrad, after lr. */
static const ag_option_field adagrad_fields[] = {
    {"lr_decay", offsetof(ag_adagrad_options, lr_decay), AG_OPTION_DOUBLE},
    {"weight_decay", offsetof(ag_adagrad_options, weight_decay), AG_OPTION_DOUBLE},
    {"initial_accumulator_value", offsetof(ag_adagrad_options, initial_accumulator_value),
     AG_OPTION_DOUBLE},
    {"eps", offsetof(ag_adagrad_options, eps), AG_OPTION_DOUBLE},
    {"maximize", offsetof(ag_adagrad_options, maximize), AG_OPTION_FLAG},
    {NULL, 0, 0},
};

static const ag_optim_algorithm adagrad_algorithm = {
    .name = "Adagrad",
    .options_type = "ag_adagrad_options",
    .options_size = sizeof(ag_adagrad_options),
    .resolve = adagrad_resolve,
    .update = adagrad_update,
    .momentum = NULL,
    .fields = adagrad_fields,
    .buffers = {[SUM] = "sum"},
    .step_dtype = AG_FLOAT32, /* torch keeps it in a float32 tensor */
};

ag_optimizer *ag_adagrad(ag_tensor *const *params, int n, ag_adagrad_options options) {
    static const ag_adagrad_options torch_defaults = {.lr = 1e-2, .eps = 1e-10};
    return ag_optimizer_new(&adagrad_algorithm, params, n, &options, &torch_defaults);
}
