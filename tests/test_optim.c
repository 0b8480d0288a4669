/*
 * test_optim.c - optimizers, learning-rate schedulers and gradient clipping against PyTorch.
 *
 * Trajectories: every optimizer, with every option that changes its math, takes 20 steps on
 * the problem of tests/fixtures/gen_optim.py (a (3,) and a (2,2) parameter whose gradient is a
 * fixed formula of the parameter) and must stay within 1e-6 (float32) or 1e-12 (float64) of
 * torch's trajectory at every step. Schedulers: 30 steps of lrs (and OneCycleLR's momentum)
 * to 1e-12. Clipping: the norm and the clipped gradients. Then the seed's training loop with
 * ag_gd, torch's error messages for bad options, and the None-versus-zero gradient rule.
 */
#include "common.h"
#include "fixtures/optim.h"

AG_TEST_SUITE(optim);

/* ---- the problem ------------------------------------------------------------------------- */

static const double A0[3] = {0.5, -1.2, 2.0}, B0[4] = {1.0, -0.5, 0.25, 1.5};
static const double CA[3] = {1.0, 0.5, 2.0}, TA[3] = {1.0, -1.0, 0.5};
static const double CB[4] = {0.8, 1.5, 0.3, 1.0}, TB[4] = {-0.5, 0.5, 2.0, 1.0};

static double rnd(ag_dtype dtype, double x) { return dtype == AG_FLOAT32 ? (float)x : x; }

/* A user tensor of dtype from doubles. */
static ag_tensor *tensor_of(const double *v, ag_dtype dtype, int ndim, const int64_t *shape) {
    ag_tensor *t = ag_zeros(dtype, ndim, shape);
    for (int64_t i = 0; i < t->numel; i++) {
        if (dtype == AG_FLOAT32)
            AG_F32(t)[i] = (float)v[i];
        else
            AG_F64(t)[i] = v[i];
    }
    return t;
}

/* G = c * (p - t) + 0.1 * p * p, rounded op by op as torch computes it in p's dtype. */
static ag_tensor *grad_formula(const ag_tensor *p, const double *c, const double *t) {
    ag_tensor *g = ag_zeros_like(p);
    ag_dtype d = p->dtype;
    for (int64_t i = 0; i < p->numel; i++) {
        double x = ag_get(p, i);
        double lhs = rnd(d, rnd(d, c[i]) * rnd(d, x - rnd(d, t[i])));
        double rhs = rnd(d, rnd(d, rnd(d, 0.1) * x) * x);
        double v = rnd(d, lhs + rhs);
        if (d == AG_FLOAT32)
            AG_F32(g)[i] = (float)v;
        else
            AG_F64(g)[i] = v;
    }
    return g;
}

/* Every element of t within rtol of expected (and rtol * 1e-3 absolute, for values near 0). */
static void assert_close(const ag_tensor *t, const double *expected, double rtol, const char *what,
                         int step) {
    for (int64_t i = 0; i < t->numel; i++) {
        double v = ag_get(t, i), e = expected[i];
        cr_assert(fabs(v - e) <= rtol * fabs(e) + rtol * 1e-3,
                  "%s, step %d, element %lld: %.17g, torch has %.17g", what, step, (long long)i, v,
                  e);
    }
}

typedef ag_optimizer *(*make_optimizer)(ag_tensor **params);

/* 20 steps: zero_grad, the formula's gradient through backward of sum(p * G), step. */
static void run_trajectory(make_optimizer make, bool set_to_none, bool b_even_only, ag_dtype dtype,
                           const double *expected, const char *what) {
    ag_tensor *a = ag_requires_grad_(tensor_of(A0, dtype, 1, (int64_t[]){3}), true);
    ag_tensor *B = ag_requires_grad_(tensor_of(B0, dtype, 2, (int64_t[]){2, 2}), true);
    ag_tensor *params[2] = {a, B};
    ag_optimizer *opt = make(params);
    cr_assert_not_null(opt, "%s: %s", what, ag_last_error());
    double rtol = dtype == AG_FLOAT32 ? 1e-6 : 1e-12;
    for (int step = 1; step <= OPTIM_STEPS; step++) {
        ag_optimizer_zero_grad(opt, set_to_none);
        ag_tensor *ga = grad_formula(a, CA, TA), *gb = grad_formula(B, CB, TB);
        ag_tensor *loss = ag_sum(ag_mul(a, ga));
        if (!b_even_only || step % 2 == 0) loss = ag_add(loss, ag_sum(ag_mul(B, gb)));
        ag_backward(loss);
        ag_optimizer_step(opt);
        assert_close(a, expected + (step - 1) * 7, rtol, what, step);
        assert_close(B, expected + (step - 1) * 7 + 3, rtol, what, step);
        ag_tape_reset(NULL);
        ag_tensor_free(ga);
        ag_tensor_free(gb);
    }
    ag_optimizer_free(opt);
    ag_tensor_free(a);
    ag_tensor_free(B);
}

/* A test per configuration: the optimizer is made by the expression after the flags. */
#define TRAJECTORY(name, set_to_none, b_even_only, ...)                                            \
    static ag_optimizer *make_##name(ag_tensor **p) { return __VA_ARGS__; }                        \
    Test(optim, trajectory_##name) {                                                               \
        run_trajectory(make_##name, set_to_none, b_even_only, AG_FLOAT32, traj_##name##_f32,       \
                       #name " float32");                                                          \
        run_trajectory(make_##name, set_to_none, b_even_only, AG_FLOAT64, traj_##name##_f64,       \
                       #name " float64");                                                          \
    }

/* ---- trajectories ------------------------------------------------------------------------ */

TRAJECTORY(gd, true, false, ag_gd(p, 2, (ag_gd_options){.lr = 0.1}))
TRAJECTORY(sgd_plain, true, false, ag_sgd(p, 2, (ag_sgd_options){.lr = 0.1}))
TRAJECTORY(sgd_momentum, true, false, ag_sgd(p, 2, (ag_sgd_options){.lr = 0.1, .momentum = 0.9}))
TRAJECTORY(sgd_dampening, true, false,
           ag_sgd(p, 2, (ag_sgd_options){.lr = 0.1, .momentum = 0.9, .dampening = 0.3}))
TRAJECTORY(sgd_nesterov, true, false,
           ag_sgd(p, 2, (ag_sgd_options){.lr = 0.1, .momentum = 0.9, .nesterov = true}))
TRAJECTORY(sgd_weight_decay, true, false,
           ag_sgd(p, 2, (ag_sgd_options){.lr = 0.1, .weight_decay = 0.05}))
TRAJECTORY(sgd_maximize, true, false, ag_sgd(p, 2, (ag_sgd_options){.lr = 0.01, .maximize = true}))
TRAJECTORY(sgd_all, true, false,
           ag_sgd(p, 2,
                  (ag_sgd_options){.lr = 0.01,
                                   .momentum = 0.5,
                                   .weight_decay = 0.01,
                                   .nesterov = true,
                                   .maximize = true}))
TRAJECTORY(sgd_none, true, true,
           ag_sgd(p, 2, (ag_sgd_options){.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1}))
TRAJECTORY(sgd_zeros, false, true,
           ag_sgd(p, 2, (ag_sgd_options){.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1}))

TRAJECTORY(adam_default, true, false, ag_adam(p, 2, (ag_adam_options){0}))
TRAJECTORY(adam, true, false, ag_adam(p, 2, (ag_adam_options){.lr = 0.05}))
TRAJECTORY(adam_weight_decay, true, false,
           ag_adam(p, 2, (ag_adam_options){.lr = 0.05, .weight_decay = 0.1}))
TRAJECTORY(adam_amsgrad, true, false, ag_adam(p, 2, (ag_adam_options){.lr = 0.05, .amsgrad = true}))
TRAJECTORY(adam_maximize, true, false,
           ag_adam(p, 2, (ag_adam_options){.lr = 0.05, .maximize = true}))
TRAJECTORY(adam_betas, true, false,
           ag_adam(p, 2, (ag_adam_options){.lr = 0.05, .betas = {0.8, 0.9}, .eps = 1e-3}))
TRAJECTORY(adam_none, true, true, ag_adam(p, 2, (ag_adam_options){.lr = 0.05, .weight_decay = 0.1}))
TRAJECTORY(adam_zeros, false, true,
           ag_adam(p, 2, (ag_adam_options){.lr = 0.05, .weight_decay = 0.1}))

TRAJECTORY(adamw, true, false, ag_adamw(p, 2, (ag_adamw_options){.lr = 0.05}))
TRAJECTORY(adamw_amsgrad, true, false,
           ag_adamw(p, 2, (ag_adamw_options){.lr = 0.05, .weight_decay = 0.1, .amsgrad = true}))
TRAJECTORY(adamw_no_decay, true, false,
           ag_adamw(p, 2, (ag_adamw_options){.lr = 0.05, .weight_decay = AG_ZERO}))

TRAJECTORY(rmsprop, true, false, ag_rmsprop(p, 2, (ag_rmsprop_options){0}))
TRAJECTORY(rmsprop_momentum, true, false,
           ag_rmsprop(p, 2, (ag_rmsprop_options){.lr = 0.01, .momentum = 0.9}))
TRAJECTORY(rmsprop_centered, true, false,
           ag_rmsprop(p, 2, (ag_rmsprop_options){.lr = 0.01, .centered = true}))
TRAJECTORY(rmsprop_weight_decay, true, false,
           ag_rmsprop(p, 2, (ag_rmsprop_options){.lr = 0.01, .weight_decay = 0.1}))
TRAJECTORY(rmsprop_all, true, false,
           ag_rmsprop(p, 2,
                      (ag_rmsprop_options){.lr = 0.01,
                                           .alpha = 0.9,
                                           .momentum = 0.5,
                                           .centered = true,
                                           .weight_decay = 0.1,
                                           .maximize = true}))

TRAJECTORY(adagrad, true, false, ag_adagrad(p, 2, (ag_adagrad_options){.lr = 0.1}))
TRAJECTORY(adagrad_lr_decay, true, false,
           ag_adagrad(p, 2, (ag_adagrad_options){.lr = 0.1, .lr_decay = 0.05}))
TRAJECTORY(adagrad_weight_decay, true, false,
           ag_adagrad(p, 2, (ag_adagrad_options){.lr = 0.1, .weight_decay = 0.1}))
TRAJECTORY(adagrad_initial_accumulator, true, false,
           ag_adagrad(p, 2, (ag_adagrad_options){.lr = 0.1, .initial_accumulator_value = 0.5}))
TRAJECTORY(adagrad_maximize, true, false,
           ag_adagrad(p, 2, (ag_adagrad_options){.lr = 0.1, .eps = 1e-3, .maximize = true}))

/* Parameter groups: the second group's options fall back to the optimizer's. */
static ag_optimizer *sgd_two_groups(ag_tensor **p) {
    ag_optimizer *opt = ag_sgd(p, 1, (ag_sgd_options){.lr = 0.1, .momentum = 0.9});
    cr_assert_eq(ag_optimizer_add_param_group(opt, p + 1, 1, &(ag_sgd_options){.lr = 0.02}), 1);
    return opt;
}
TRAJECTORY(sgd_groups, true, false, sgd_two_groups(p))

static ag_optimizer *adam_two_groups(ag_tensor **p) {
    ag_optimizer *opt = ag_adam(p, 1, (ag_adam_options){.lr = 0.05});
    cr_assert_eq(
        ag_optimizer_add_param_group(opt, p + 1, 1, &(ag_adam_options){.betas = {0.5, 0.9}}), 1);
    return opt;
}
TRAJECTORY(adam_groups, true, false, adam_two_groups(p))

/* ---- None is skipped, zeros are not ------------------------------------------------------ */

/* As torch: after zero_grad(set_to_none=True) a parameter that got no gradient is left alone
 * by the step; after zero_grad(set_to_none=False) its zero gradient still moves it through
 * weight decay (and starts its momentum). */
Test(optim, none_grad_is_skipped_zero_grad_is_not) {
    for (int set_to_none = 0; set_to_none < 2; set_to_none++) {
        ag_tensor *a = ag_requires_grad_(AG_TENSOR(1, 2), true);
        ag_tensor *b = ag_requires_grad_(AG_TENSOR(3, 4), true);
        ag_optimizer *opt =
            ag_sgd((ag_tensor *[]){a, b}, 2,
                   (ag_sgd_options){.lr = 0.1, .momentum = 0.9, .weight_decay = 0.5});
        ag_backward(ag_sum(ag_add(a, b))); /* both get a gradient of ones */
        ag_optimizer_step(opt);
        ag_optimizer_zero_grad(opt, set_to_none);
        cr_assert_eq(b->grad == NULL, set_to_none);
        uint64_t version = b->version;
        ag_backward(ag_sum(ag_mul_scalar(a, 2))); /* only a gets one */
        ag_optimizer_step(opt);
        /* after step 1: b = [3, 4] - 0.1 * ([1, 1] + 0.5 * [3, 4]) = [2.75, 3.7] */
        if (set_to_none) {
            ASSERT_VALUES(b, 1e-6, 0, 2.75, 3.7);
            cr_assert_eq(b->version, version, "a skipped parameter is not changed");
        } else {
            /* d = 0 + 0.5 b; buf = 0.9 [2.5, 3] + d; b -= 0.1 buf */
            ASSERT_VALUES(b, 1e-6, 0, 2.75 - 0.1 * (0.9 * 2.5 + 0.5 * 2.75),
                          3.7 - 0.1 * (0.9 * 3.0 + 0.5 * 3.7));
            cr_assert_gt(b->version, version);
        }
        ag_tape_reset(NULL);
        ag_optimizer_free(opt);
        ag_tensor_free(a);
        ag_tensor_free(b);
    }
    /* torch's trajectories (both matched above) show the same: B gets a gradient on even
     * steps only. At step 1 it has never had one (None either way: skipped); at step 3 it is
     * None after set_to_none, and zeros otherwise. */
    const int b0 = 3, step1 = 0 * 7, step2 = 1 * 7, step3 = 2 * 7;
    cr_assert_eq(traj_sgd_none_f64[step1 + b0], B0[0]);
    cr_assert_eq(traj_sgd_zeros_f64[step1 + b0], B0[0]);
    cr_assert_eq(traj_sgd_none_f64[step3 + b0], traj_sgd_none_f64[step2 + b0]);
    cr_assert_neq(traj_sgd_zeros_f64[step3 + b0], traj_sgd_zeros_f64[step2 + b0]);
    cr_assert_eq(traj_adam_none_f64[step3 + b0], traj_adam_none_f64[step2 + b0]);
    cr_assert_neq(traj_adam_zeros_f64[step3 + b0], traj_adam_zeros_f64[step2 + b0]);
}

Test(optim, step_bumps_versions_so_saved_tensors_notice) {
    ag_tensor *w = ag_requires_grad_(AG_TENSOR(1, 2), true);
    ag_optimizer *opt = ag_sgd(&w, 1, (ag_sgd_options){.lr = 0.1});
    ag_tensor *loss = ag_sum(ag_mul(w, w));
    ag_backward_with(loss, NULL, true);
    uint64_t version = w->version;
    ag_optimizer_step(opt);
    cr_assert_gt(w->version, version);
    ASSERT_VALUES(w, 1e-7, 0, 0.8, 1.6);
    /* the graph saved w before the step: a second backward through it must fail, as torch */
    EXPECT_ERROR(ag_backward(loss), "modified by an inplace operation");
    ag_tape_reset(NULL);
    ag_optimizer_free(opt);
    ag_tensor_free(w);
}

Test(optim, zero_grad_zeros_or_drops) {
    ag_tensor *w = ag_requires_grad_(AG_TENSOR(1, 2), true);
    ag_optimizer *opt = ag_adam(&w, 1, (ag_adam_options){0});
    ag_backward(ag_sum(ag_mul_scalar(w, 3)));
    ag_optimizer_zero_grad(opt, false);
    ASSERT_VALUES(w->grad, 0, 0, 0.0, 0.0);
    ag_optimizer_zero_grad(opt, true);
    cr_assert_null(w->grad);
    ag_optimizer_step(opt); /* nothing to do: no gradient */
    ASSERT_VALUES(w, 0, 0, 1.0, 2.0);
    ag_tape_reset(NULL);
    ag_optimizer_free(opt);
    ag_tensor_free(w);
}

Test(optim, lr_of_groups) {
    ag_tensor *w = ag_requires_grad_(AG_TENSOR(1), true),
              *v = ag_requires_grad_(AG_TENSOR(2), true);
    ag_optimizer *opt = ag_rmsprop(&w, 1, (ag_rmsprop_options){0});
    cr_assert_str_eq(ag_optimizer_name(opt), "RMSprop");
    cr_assert_eq(ag_optimizer_get_lr(opt, 0), 1e-2);
    cr_assert_eq(ag_optimizer_add_param_group(opt, &v, 1, NULL), 1);
    cr_assert_eq(ag_optimizer_num_groups(opt), 2);
    ag_optimizer_set_lr(opt, 1, 0.5);
    cr_assert_eq(ag_optimizer_get_lr(opt, 1), 0.5);
    cr_assert_eq(ag_optimizer_get_lr(opt, 0), 1e-2);
    EXPECT_ERROR(ag_optimizer_get_lr(opt, 2), "list index out of range");
    ag_optimizer_free(opt);
    ag_optimizer_free(NULL);
    ag_tensor_free(w);
    ag_tensor_free(v);
}

/* ---- the seed's loop with ag_gd ---------------------------------------------------------- */

Test(optim, seed_loop_with_gd) {
    static const double printed[10][3] = {
        {1.5104, 0.4936, 1.1751}, {1.7583, 0.5584, 0.0843}, {1.8030, 0.5547, 0.0529},
        {1.8149, 0.5404, 0.0492}, {1.8213, 0.5248, 0.0463}, {1.8267, 0.5093, 0.0436},
        {1.8319, 0.4943, 0.0410}, {1.8369, 0.4797, 0.0387}, {1.8417, 0.4655, 0.0364},
        {1.8463, 0.4518, 0.0343},
    };
    ag_tensor *x = AG_TENSOR(1, 2, 3, 4), *y = AG_TENSOR(2, 4, 6, 8);
    ag_tensor *w = ag_requires_grad_(ag_scalar(0, AG_FLOAT32), true);
    ag_tensor *b = ag_requires_grad_(ag_scalar(0, AG_FLOAT32), true);
    ag_optimizer *opt = ag_gd((ag_tensor *[]){w, b}, 2, (ag_gd_options){.lr = 0.01});
    for (int epoch = 0; epoch < 100; epoch++) {
        ag_tensor *loss = ag_mean(ag_pow_scalar(ag_sub(ag_add(ag_mul(w, x), b), y), 2));
        ag_backward(loss);
        ag_optimizer_step(opt);             /* w -= eta * w.grad; b -= eta * b.grad */
        ag_optimizer_zero_grad(opt, false); /* w.grad.zero_(); b.grad.zero_() */
        if ((epoch + 1) % 10 == 0) {
            char got[64], want[64];
            const double *p = printed[epoch / 10];
            snprintf(got, sizeof got, "%.4f %.4f %.4f", ag_item(w), ag_item(b), ag_item(loss));
            snprintf(want, sizeof want, "%.4f %.4f %.4f", p[0], p[1], p[2]);
            cr_assert_str_eq(got, want, "epoch %d", epoch + 1);
        }
        ag_tape_reset(NULL);
    }
    ag_optimizer_free(opt);
    ag_tensor_free(x), ag_tensor_free(y), ag_tensor_free(w), ag_tensor_free(b);
}

/* Adam on the seed's regression, through the engine's own loss and backward. */
Test(optim, seed_regression_with_adam) {
    ag_tensor *x = AG_TENSOR(1, 2, 3, 4), *y = AG_TENSOR(2, 4, 6, 8);
    ag_tensor *w = ag_requires_grad_(ag_scalar(0, AG_FLOAT32), true);
    ag_tensor *b = ag_requires_grad_(ag_scalar(0, AG_FLOAT32), true);
    ag_optimizer *opt = ag_adam((ag_tensor *[]){w, b}, 2, (ag_adam_options){.lr = 0.1});
    for (int step = 0; step < OPTIM_STEPS; step++) {
        ag_optimizer_zero_grad(opt, true);
        ag_tensor *loss = ag_mean(ag_pow_scalar(ag_sub(ag_add(ag_mul(w, x), b), y), 2));
        ag_backward(loss);
        ag_optimizer_step(opt);
        const double *e = seed_adam + 3 * step;
        cr_assert(fabs(ag_item(w) - e[0]) <= 1e-6 * fabs(e[0]), "step %d: w %.9g, torch %.9g",
                  step + 1, ag_item(w), e[0]);
        cr_assert(fabs(ag_item(b) - e[1]) <= 1e-6 * fabs(e[1]), "step %d: b %.9g, torch %.9g",
                  step + 1, ag_item(b), e[1]);
        cr_assert(fabs(ag_item(loss) - e[2]) <= 1e-6 * fabs(e[2]), "step %d: loss %.9g, torch %.9g",
                  step + 1, ag_item(loss), e[2]);
        ag_tape_reset(NULL);
    }
    ag_optimizer_free(opt);
    ag_tensor_free(x), ag_tensor_free(y), ag_tensor_free(w), ag_tensor_free(b);
}

/* ---- schedulers -------------------------------------------------------------------------- */

static void assert_lr(double got, double expected, const char *what, int step) {
    cr_assert(fabs(got - expected) <= 1e-12 * fabs(expected), "%s, step %d: %.17g, torch %.17g",
              what, step, got, expected);
}

/* Opt's lrs after the constructor, then after each of SCHED_STEPS steps. */
static void run_schedule(ag_optimizer *opt, ag_scheduler *const *scheds, int nscheds,
                         const double *expected, const char *what) {
    int ngroups = ag_optimizer_num_groups(opt);
    for (int step = 0; step <= SCHED_STEPS; step++) {
        if (step > 0) {
            ag_optimizer_step(opt);
            for (int k = 0; k < nscheds; k++)
                ag_scheduler_step(scheds[k]);
        }
        const double *e = expected + step * ngroups;
        for (int g = 0; g < ngroups; g++) {
            assert_lr(ag_optimizer_get_lr(opt, g), e[g], what, step);
            assert_lr(ag_scheduler_get_last_lr(scheds[nscheds - 1], g), e[g], what, step);
        }
    }
}

/* An SGD optimizer over one parameter, for a scheduler to drive. */
typedef struct {
    ag_tensor *w;
    ag_optimizer *opt;
} sched_fixture;

static sched_fixture sched_sgd(double lr, double momentum) {
    sched_fixture f = {.w = ag_requires_grad_(ag_zeros(AG_FLOAT32, AG_SHAPE(1)), true)};
    f.opt = ag_sgd(&f.w, 1, (ag_sgd_options){.lr = lr, .momentum = momentum});
    return f;
}

static void sched_done(sched_fixture f, ag_scheduler *s) {
    ag_scheduler_free(s);
    ag_optimizer_free(f.opt);
    ag_tensor_free(f.w);
}

#define SCHED_TEST(name, lr, make)                                                                 \
    Test(optim, scheduler_##name) {                                                                \
        sched_fixture f = sched_sgd(lr, 0);                                                        \
        ag_scheduler *s = make;                                                                    \
        cr_assert_not_null(s, "%s", ag_last_error());                                              \
        run_schedule(f.opt, &s, 1, sched_##name, #name);                                           \
        sched_done(f, s);                                                                          \
    }

SCHED_TEST(step_lr, 0.1, ag_step_lr(f.opt, (ag_step_lr_options){.step_size = 7, .gamma = 0.5}))
SCHED_TEST(step_lr_default, 0.1, ag_step_lr(f.opt, (ag_step_lr_options){.step_size = 4}))
SCHED_TEST(multi_step_lr, 0.1,
           ag_multi_step_lr(f.opt, (ag_multi_step_lr_options){.milestones = (int[]){5, 12, 12, 20},
                                                              .nmilestones = 4,
                                                              .gamma = 0.3}))
SCHED_TEST(exponential_lr, 0.1, ag_exponential_lr(f.opt, (ag_exponential_lr_options){.gamma = 0.9}))
SCHED_TEST(cosine_annealing_lr, 0.1,
           ag_cosine_annealing_lr(f.opt,
                                  (ag_cosine_annealing_lr_options){.T_max = 10, .eta_min = 0.001}))
SCHED_TEST(linear_lr, 0.1,
           ag_linear_lr(f.opt, (ag_linear_lr_options){
                                   .start_factor = 0.25, .end_factor = 0.9, .total_iters = 8}))
SCHED_TEST(linear_lr_default, 0.1, ag_linear_lr(f.opt, (ag_linear_lr_options){0}))

Test(optim, scheduler_cosine_annealing_lr_groups) {
    ag_tensor *w = ag_requires_grad_(ag_zeros(AG_FLOAT32, AG_SHAPE(1)), true);
    ag_tensor *v = ag_requires_grad_(ag_zeros(AG_FLOAT32, AG_SHAPE(1)), true);
    ag_optimizer *opt = ag_sgd(&w, 1, (ag_sgd_options){.lr = 0.1});
    ag_optimizer_add_param_group(opt, &v, 1, &(ag_sgd_options){.lr = 0.01});
    ag_scheduler *s = ag_cosine_annealing_lr(opt, (ag_cosine_annealing_lr_options){.T_max = 7});
    run_schedule(opt, &s, 1, sched_cosine_annealing_lr_groups, "groups");
    ag_scheduler_free(s);
    ag_optimizer_free(opt);
    ag_tensor_free(w);
    ag_tensor_free(v);
}

Test(optim, scheduler_chained) {
    sched_fixture f = sched_sgd(0.1, 0);
    ag_scheduler *s[2] = {
        ag_step_lr(f.opt, (ag_step_lr_options){.step_size = 5, .gamma = 0.5}),
        ag_exponential_lr(f.opt, (ag_exponential_lr_options){.gamma = 0.9}),
    };
    run_schedule(f.opt, s, 2, sched_chained, "chained");
    ag_scheduler_free(s[0]);
    sched_done(f, s[1]);
}

/* OneCycleLR: the lr and the momentum it cycles (SGD's momentum, Adam's beta1). */
static void run_one_cycle(ag_optimizer *opt, ag_scheduler *s, const double *expected,
                          const char *what) {
    cr_assert_not_null(s, "%s: %s", what, ag_last_error());
    for (int step = 0; step <= SCHED_STEPS; step++) {
        if (step > 0) {
            ag_optimizer_step(opt);
            ag_scheduler_step(s);
        }
        assert_lr(ag_optimizer_get_lr(opt, 0), expected[2 * step], what, step);
        assert_lr(ag_optimizer_get_momentum(opt, 0), expected[2 * step + 1], what, step);
    }
    /* torch: one step too many is an error, and changes nothing */
    EXPECT_ERROR(ag_scheduler_step(s), "Tried to step 32 times. The specified number of total "
                                       "steps is 30");
    cr_assert_eq(ag_scheduler_last_epoch(s), 30);
}

Test(optim, scheduler_one_cycle_lr) {
    sched_fixture f = sched_sgd(0.1, 0.9);
    ag_scheduler *s =
        ag_one_cycle_lr(f.opt, (ag_one_cycle_lr_options){.max_lr = 0.5, .total_steps = 30});
    run_one_cycle(f.opt, s, sched_one_cycle_lr, "one_cycle_lr");
    sched_done(f, s);
}

Test(optim, scheduler_one_cycle_lr_three_phase) {
    sched_fixture f = sched_sgd(0.1, 0.9);
    ag_scheduler *s = ag_one_cycle_lr(f.opt, (ag_one_cycle_lr_options){.max_lr = 0.5,
                                                                       .total_steps = 30,
                                                                       .three_phase = true,
                                                                       .pct_start = 0.25,
                                                                       .div_factor = 10.0,
                                                                       .final_div_factor = 100.0});
    run_one_cycle(f.opt, s, sched_one_cycle_lr_three_phase, "three_phase");
    sched_done(f, s);
}

Test(optim, scheduler_one_cycle_lr_fixed_momentum) {
    sched_fixture f = sched_sgd(0.1, 0.9);
    ag_scheduler *s = ag_one_cycle_lr(
        f.opt, (ag_one_cycle_lr_options){.max_lr = 0.5, .total_steps = 30, .keep_momentum = true});
    run_one_cycle(f.opt, s, sched_one_cycle_lr_fixed_momentum, "fixed");
    sched_done(f, s);
}

Test(optim, scheduler_one_cycle_lr_linear_adam) {
    ag_tensor *w = ag_requires_grad_(ag_zeros(AG_FLOAT32, AG_SHAPE(1)), true);
    ag_optimizer *opt = ag_adam(&w, 1, (ag_adam_options){.lr = 0.01});
    ag_scheduler *s =
        ag_one_cycle_lr(opt, (ag_one_cycle_lr_options){.max_lr = 0.02,
                                                       .epochs = 6,
                                                       .steps_per_epoch = 5,
                                                       .anneal_strategy = AG_ANNEAL_LINEAR,
                                                       .base_momentum = 0.8,
                                                       .max_momentum = 0.9});
    run_one_cycle(opt, s, sched_one_cycle_lr_linear_adam, "linear_adam");
    ag_scheduler_free(s);
    ag_optimizer_free(opt);
    ag_tensor_free(w);
}

/* ---- ReduceLROnPlateau ------------------------------------------------------------------- */

static void run_plateau(ag_reduce_lr_on_plateau_options o, const double *expected,
                        const char *what) {
    sched_fixture f = sched_sgd(0.1, 0);
    ag_scheduler *s = ag_reduce_lr_on_plateau(f.opt, o);
    cr_assert_not_null(s, "%s", ag_last_error());
    for (int step = 0; step < SCHED_STEPS; step++) {
        ag_optimizer_step(f.opt);
        ag_scheduler_step_metric(s, plateau_metrics[step]);
        assert_lr(ag_optimizer_get_lr(f.opt, 0), expected[step], what, step + 1);
        assert_lr(ag_scheduler_get_last_lr(s, 0), expected[step], what, step + 1);
    }
    EXPECT_ERROR(ag_scheduler_step(s), "missing 1 required positional argument: 'metrics'");
    sched_done(f, s);
}

Test(optim, scheduler_plateau) {
    run_plateau((ag_reduce_lr_on_plateau_options){.patience = 2}, sched_plateau_min_rel, "min rel");
    run_plateau(
        (ag_reduce_lr_on_plateau_options){
            .patience = 1, .threshold = 0.05, .threshold_mode = AG_THRESHOLD_ABS, .cooldown = 2},
        sched_plateau_min_abs, "min abs");
    run_plateau((ag_reduce_lr_on_plateau_options){.mode = AG_PLATEAU_MAX,
                                                  .patience = AG_ZERO,
                                                  .factor = 0.5},
                sched_plateau_max_rel, "max rel");
    run_plateau((ag_reduce_lr_on_plateau_options){.mode = AG_PLATEAU_MAX,
                                                  .patience = 1,
                                                  .threshold = 0.01,
                                                  .threshold_mode = AG_THRESHOLD_ABS},
                sched_plateau_max_abs, "max abs");
    run_plateau(
        (ag_reduce_lr_on_plateau_options){.patience = AG_ZERO, .factor = 0.5, .min_lr = 0.002},
        sched_plateau_min_lr, "min_lr");
    run_plateau((ag_reduce_lr_on_plateau_options){.patience = AG_ZERO, .factor = 0.5, .eps = 0.02},
                sched_plateau_eps, "eps");
}

/* ---- clipping ---------------------------------------------------------------------------- */

static const double GA[3] = {3.0, -4.0, 1.5}, GB[4] = {0.5, -2.0, 1.0, 0.25};

/* Parameters with the fixed gradients, made by backward of sum(p * G). */
static void clip_setup(ag_tensor **a, ag_tensor **B, ag_dtype da, ag_dtype db, bool b_grad) {
    *a = ag_requires_grad_(ag_zeros(da, AG_SHAPE(3)), true);
    *B = ag_requires_grad_(ag_zeros(db, AG_SHAPE(2, 2)), true);
    ag_tensor *ga = tensor_of(GA, da, 1, (int64_t[]){3}),
              *gb = tensor_of(GB, db, 2, (int64_t[]){2, 2});
    ag_tensor *loss = ag_sum(ag_mul(*a, ga));
    if (b_grad) loss = ag_add(loss, ag_sum(ag_mul(*B, gb)));
    ag_backward(loss);
    ag_tape_reset(NULL);
    ag_tensor_free(ga);
    ag_tensor_free(gb);
}

static void check_clip_norm(double max_norm, double norm_type, ag_dtype da, ag_dtype db,
                            bool b_grad, const double *expected, const char *what) {
    ag_tensor *a, *B;
    clip_setup(&a, &B, da, db, b_grad);
    double rtol = da == AG_FLOAT32 || db == AG_FLOAT32 ? 1e-6 : 1e-12;
    uint64_t version = a->grad->version;
    double total = ag_clip_grad_norm_((ag_tensor *[]){a, B}, 2, max_norm, norm_type);
    cr_assert(fabs(total - expected[0]) <= rtol * expected[0], "%s: total norm %.17g, torch %.17g",
              what, total, expected[0]);
    assert_close(a->grad, expected + 1, rtol, what, 0);
    if (b_grad)
        assert_close(B->grad, expected + 4, rtol, what, 0);
    else
        cr_assert_null(B->grad);
    cr_assert_gt(a->grad->version, version);
    ag_tensor_free(a);
    ag_tensor_free(B);
}

Test(optim, clip_grad_norm) {
    check_clip_norm(1.0, 2.0, AG_FLOAT32, AG_FLOAT32, true, clip_norm2_f32, "norm2 f32");
    check_clip_norm(1.0, 2.0, AG_FLOAT64, AG_FLOAT64, true, clip_norm2_f64, "norm2 f64");
    check_clip_norm(100.0, 2.0, AG_FLOAT32, AG_FLOAT32, true, clip_norm2_unclipped_f32, "big f32");
    check_clip_norm(100.0, 2.0, AG_FLOAT64, AG_FLOAT64, true, clip_norm2_unclipped_f64, "big f64");
    check_clip_norm(0.5, 1.0, AG_FLOAT32, AG_FLOAT32, true, clip_norm1_f32, "norm1 f32");
    check_clip_norm(0.5, 1.0, AG_FLOAT64, AG_FLOAT64, true, clip_norm1_f64, "norm1 f64");
    check_clip_norm(2.0, INFINITY, AG_FLOAT32, AG_FLOAT32, true, clip_norm_inf_f32, "inf f32");
    check_clip_norm(2.0, INFINITY, AG_FLOAT64, AG_FLOAT64, true, clip_norm_inf_f64, "inf f64");
    check_clip_norm(1.5, 3.0, AG_FLOAT32, AG_FLOAT32, true, clip_norm3_f32, "norm3 f32");
    check_clip_norm(1.5, 3.0, AG_FLOAT64, AG_FLOAT64, true, clip_norm3_f64, "norm3 f64");
    check_clip_norm(1.0, 2.0, AG_FLOAT32, AG_FLOAT64, true, clip_norm2_mixed, "mixed");
    check_clip_norm(1.0, 2.0, AG_FLOAT32, AG_FLOAT32, false, clip_norm2_one_none, "one None");
    /* no gradient at all: torch returns tensor(0.) */
    ag_tensor *w = ag_requires_grad_(AG_TENSOR(1), true);
    cr_assert_eq(ag_clip_grad_norm_(&w, 1, 1.0, 2.0), 0.0);
    EXPECT_ERROR(ag_clip_grad_norm_((ag_tensor *[]){w, NULL}, 2, 1.0, 2.0), "NULL");
    ag_tensor_free(w);
}

Test(optim, clip_grad_value) {
    ag_tensor *a, *B;
    clip_setup(&a, &B, AG_FLOAT32, AG_FLOAT32, true);
    ag_clip_grad_value_((ag_tensor *[]){a, B}, 2, 1.0);
    assert_close(a->grad, clip_value_f32, 1e-6, "value f32", 0);
    assert_close(B->grad, clip_value_f32 + 3, 1e-6, "value f32", 0);
    ag_tensor_free(a);
    ag_tensor_free(B);
    clip_setup(&a, &B, AG_FLOAT64, AG_FLOAT64, true);
    ag_clip_grad_value_((ag_tensor *[]){a, B}, 2, 0.3);
    assert_close(a->grad, clip_value_f64, 1e-12, "value f64", 0);
    assert_close(B->grad, clip_value_f64 + 3, 1e-12, "value f64", 0);
    ag_tensor_free(a);
    ag_tensor_free(B);
}

/* ---- bad options: torch's messages ------------------------------------------------------- */

Test(optim, bad_options) {
    ag_tensor *w = ag_requires_grad_(AG_TENSOR(1, 2), true);
    ag_tensor *p[1] = {w};
    EXPECT_ERROR(ag_sgd(p, 1, (ag_sgd_options){.lr = -1.0}), "Invalid learning rate: -1.0");
    EXPECT_ERROR(ag_sgd(p, 1, (ag_sgd_options){0}),
                 "parameter group didn't specify a value of required optimization parameter lr");
    EXPECT_ERROR(ag_sgd(p, 1, (ag_sgd_options){.lr = 0.1, .nesterov = true}),
                 "Nesterov momentum requires a momentum and zero dampening");
    EXPECT_ERROR(
        ag_sgd(p, 1,
               (ag_sgd_options){.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}),
        "Nesterov momentum requires a momentum and zero dampening");
    EXPECT_ERROR(ag_sgd(p, 1, (ag_sgd_options){.lr = 0.1, .momentum = -0.5}),
                 "Invalid momentum value: -0.5");
    EXPECT_ERROR(ag_sgd(p, 1, (ag_sgd_options){.lr = 0.1, .weight_decay = -1e-5}),
                 "Invalid weight_decay value: -1e-05");
    EXPECT_ERROR(ag_gd(p, 1, (ag_gd_options){.lr = NAN}), "Invalid learning rate: nan");
    EXPECT_ERROR(ag_adam(p, 1, (ag_adam_options){.betas = {1.0, 0.9}}),
                 "Invalid beta parameter at index 0: 1.0");
    EXPECT_ERROR(ag_adam(p, 1, (ag_adam_options){.betas = {0.9, -0.1}}),
                 "Invalid beta parameter at index 1: -0.1");
    EXPECT_ERROR(ag_adamw(p, 1, (ag_adamw_options){.eps = -1e-8}), "Invalid epsilon value: -1e-08");
    EXPECT_ERROR(ag_adam(p, 1, (ag_adam_options){.lr = -0.001}), "Invalid learning rate: -0.001");
    EXPECT_ERROR(ag_rmsprop(p, 1, (ag_rmsprop_options){.alpha = -0.5}),
                 "Invalid alpha value: -0.5");
    EXPECT_ERROR(ag_rmsprop(p, 1, (ag_rmsprop_options){.momentum = -1}),
                 "Invalid momentum value: -1.0");
    EXPECT_ERROR(ag_adagrad(p, 1, (ag_adagrad_options){.lr_decay = -1}),
                 "Invalid lr_decay value: -1.0");
    EXPECT_ERROR(ag_adagrad(p, 1, (ag_adagrad_options){.initial_accumulator_value = -0.1}),
                 "Invalid initial_accumulator_value value: -0.1");
    EXPECT_ERROR(ag_adam(p, 0, (ag_adam_options){0}), "optimizer got an empty parameter list");
    EXPECT_ERROR(ag_adam((ag_tensor *[]){NULL}, 1, (ag_adam_options){0}),
                 "optimizer can only optimize Tensors");
    EXPECT_ERROR(ag_adam((ag_tensor *[]){w, w}, 2, (ag_adam_options){0}),
                 "optimizer contains a parameter group with duplicate parameters");
    ag_tensor *nonleaf = ag_mul_scalar(w, 2);
    EXPECT_ERROR(ag_adam(&nonleaf, 1, (ag_adam_options){0}), "can't optimize a non-leaf Tensor");
    ag_tensor *idx = AG_INDEX(1, 2);
    EXPECT_ERROR(ag_adam(&idx, 1, (ag_adam_options){0}), "floating point");
    ag_tensor_free(idx);

    ag_optimizer *opt = ag_sgd(p, 1, (ag_sgd_options){.lr = 0.1});
    EXPECT_ERROR(ag_optimizer_add_param_group(opt, p, 1, NULL),
                 "some parameters appear in more than one parameter group");
    ag_tensor *v = ag_requires_grad_(AG_TENSOR(3), true);
    EXPECT_ERROR(ag_optimizer_add_param_group(opt, &v, 1, &(ag_adam_options){.lr = 0.1}),
                 "the options of a SGD optimizer are ag_sgd_options, not ag_adam_options");
    EXPECT_ERROR(ag_optimizer_add_param_group(opt, &v, 1, &(ag_sgd_options){.lr = -2}),
                 "Invalid learning rate: -2.0");
    cr_assert_eq(ag_optimizer_num_groups(opt), 1, "a failed add changes nothing");

    /* schedulers */
    EXPECT_ERROR(ag_linear_lr(opt, (ag_linear_lr_options){.start_factor = 1.5}),
                 "Starting multiplicative factor expected to be between 0 and 1.");
    EXPECT_ERROR(ag_linear_lr(opt, (ag_linear_lr_options){.end_factor = -1}),
                 "Ending multiplicative factor expected to be between 0 and 1.");
    EXPECT_ERROR(ag_reduce_lr_on_plateau(opt, (ag_reduce_lr_on_plateau_options){.factor = 1.0}),
                 "Factor should be < 1.0.");
    EXPECT_ERROR(ag_one_cycle_lr(opt, (ag_one_cycle_lr_options){.max_lr = 1.0}),
                 "You must define either total_steps OR (epochs AND steps_per_epoch)");
    EXPECT_ERROR(ag_one_cycle_lr(opt, (ag_one_cycle_lr_options){.max_lr = 1, .total_steps = -3}),
                 "Expected positive integer total_steps, but got -3");
    EXPECT_ERROR(
        ag_one_cycle_lr(
            opt, (ag_one_cycle_lr_options){.max_lr = 1, .total_steps = 10, .pct_start = 1.5}),
        "Expected float between 0 and 1 pct_start, but got 1.5");
    EXPECT_ERROR(ag_step_lr(opt, (ag_step_lr_options){.gamma = 0.5}),
                 "missing 1 required positional argument: 'step_size'");
    EXPECT_ERROR(ag_exponential_lr(opt, (ag_exponential_lr_options){0}),
                 "missing 1 required positional argument: 'gamma'");
    EXPECT_ERROR(ag_cosine_annealing_lr(NULL, (ag_cosine_annealing_lr_options){.T_max = 3}),
                 "is not an Optimizer");
    ag_optimizer *adagrad = ag_adagrad(&v, 1, (ag_adagrad_options){0});
    EXPECT_ERROR(ag_one_cycle_lr(adagrad, (ag_one_cycle_lr_options){.max_lr = 1, .total_steps = 5}),
                 "optimizer must support momentum with `cycle_momentum` option enabled");
    ag_scheduler *step = ag_step_lr(opt, (ag_step_lr_options){.step_size = 2});
    EXPECT_ERROR(ag_scheduler_step_metric(step, 1.0), "takes no metric");
    ag_scheduler_free(step);
    ag_scheduler_free(NULL);

    ag_tape_reset(NULL);
    ag_optimizer_free(adagrad);
    ag_optimizer_free(opt);
    ag_tensor_free(v);
    ag_tensor_free(w);
}

/* Optimizer state is made of tensors: they count as live until the optimizer is freed. */
Test(optim, state_is_freed_with_the_optimizer) {
    ag_tensor *w = ag_requires_grad_(AG_TENSOR(1, 2), true);
    int64_t before = ag_live_tensors();
    ag_optimizer *opt = ag_adam(&w, 1, (ag_adam_options){.amsgrad = true});
    ag_backward(ag_sum(w));
    int64_t with_grad = ag_live_tensors();
    ag_optimizer_step(opt);
    cr_assert_eq(ag_live_tensors(), with_grad + 3, "exp_avg, exp_avg_sq, max_exp_avg_sq");
    ag_optimizer_free(opt);
    cr_assert_eq(ag_live_tensors(), before + 1, "only w.grad is left");
    ag_tape_reset(NULL);
    ag_tensor_free(w);
}
