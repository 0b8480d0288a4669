/*
 * gd.c - plain gradient descent, the rule of the seed document, as an optimizer.
 *
 *   theta <- theta - lr * grad
 *
 * computed exactly as the seed's loop computes it in PyTorch, `w -= eta * w.grad`: the
 * product lr * grad rounded in the parameter's precision, then the difference. (torch.optim.SGD
 * without options computes the same update as one fused multiply-add, so its last bit may
 * differ; ag_sgd() does that.) There is no state. lr is required.
 */
#include "optim/internal.h"

static void gd_update(const ag_param_group *group, ag_tensor *p, ag_param_state *state) {
    (void)state;
    bool f32 = p->dtype == AG_FLOAT32;
    for (int64_t i = 0; i < p->numel; i++) {
        double step = ag_mul_num(f32, ag_float_get(p->grad, i), group->lr); /* eta * w.grad */
        ag_float_set(p, i, ag_round(f32, ag_float_get(p, i) - step));              /* w -= ... */
    }
}

static bool gd_resolve(void *options, const void *defaults) {
    ag_gd_options *o = options;
    const ag_gd_options *d = defaults;
    return ag_resolve_lr("GD", &o->lr, d->lr);
}

static const ag_optim_algorithm gd_algorithm = {
    .name = "GD",
    .options_type = "ag_gd_options",
    .options_size = sizeof(ag_gd_options),
    .resolve = gd_resolve,
    .update = gd_update,
    .momentum = NULL,
    .fields = NULL, /* lr alone */
    .buffers = {NULL},
    .step_dtype = AG_INT64,
};

ag_optimizer *ag_gd(ag_tensor *const *params, int n, ag_gd_options options) {
    static const ag_gd_options torch_defaults = {.lr = NAN};
    return ag_optimizer_new(&gd_algorithm, params, n, &options, &torch_defaults);
}
