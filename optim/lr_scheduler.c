/*
 * lr_scheduler.c - learning-rate schedulers, as torch.optim.lr_scheduler (1.13).
 *
 * A scheduler is a descriptor (its name and its get_lr) plus its numbers. All but
 * ReduceLROnPlateau follow torch's _LRScheduler: the constructor records each group's
 * initial_lr (kept if an earlier scheduler set it) as base_lrs and takes step 0; each step
 * then asks get_lr for every group's lr at the next epoch, advances last_epoch, and writes them.
 * get_lr is torch's recursive ("chainable") form: it reads the group's current lr, so that
 * two schedulers on one optimizer compose, and so that the numbers are torch's to the last
 * bit (every formula below is evaluated in the order Python evaluates it).
 * ReduceLROnPlateau is torch's separate class: it steps on a metric and has no step 0.
 */
#include "optim/internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct ag_scheduler_kind {
    const char *name;
    /* Group g's lr for epoch (s->last_epoch + 1, the step being taken); *ok = false after
     * reporting. NULL for ReduceLROnPlateau, which steps on a metric. */
    double (*get_lr)(ag_scheduler *s, int g, int64_t epoch, bool *ok);
} ag_scheduler_kind;

struct ag_scheduler {
    const ag_scheduler_kind *kind;
    ag_optimizer *opt;
    int ngroups;      /* the groups it schedules: those the optimizer had */
    double *base_lrs; /* each group's initial_lr */
    double *last_lr;  /* get_last_lr() */
    double *next_lr;  /* scratch: the lrs of the step being taken */
    int64_t last_epoch;
    union {
        ag_step_lr_options step;
        struct {
            int *milestones;
            int n;
            double gamma;
        } multi_step;
        ag_exponential_lr_options exponential;
        ag_cosine_annealing_lr_options cosine;
        ag_linear_lr_options linear;
        struct {
            ag_one_cycle_lr_options o;
            double initial_lr, max_lr, min_lr;
            double end_step[3]; /* where each phase ends */
            int nphases;
        } one_cycle;
        struct {
            ag_reduce_lr_on_plateau_options o;
            double best;
            int64_t num_bad_epochs;
            int cooldown_counter;
        } plateau;
    } u;
};

static const double pi = 3.141592653589793; /* math.pi */

static double group_lr(const ag_scheduler *s, int g) { return s->opt->groups[g].lr; }

/* ---- the machinery of _LRScheduler ------------------------------------------------------- */

static ag_scheduler *scheduler_new(const ag_scheduler_kind *kind, ag_optimizer *opt) {
    ag_scheduler *s = calloc(1, sizeof *s);
    int n = opt->ngroups;
    if (s) {
        s->base_lrs = calloc((size_t)n, sizeof(double));
        s->last_lr = calloc((size_t)n, sizeof(double));
        s->next_lr = calloc((size_t)n, sizeof(double));
    }
    if (!s || !s->base_lrs || !s->last_lr || !s->next_lr) {
        ag_scheduler_free(s);
        AG_ERROR(kind->name, "out of memory");
        return NULL;
    }
    s->kind = kind;
    s->opt = opt;
    s->ngroups = n;
    s->last_epoch = -1;
    for (int g = 0; g < n; g++)
        s->last_lr[g] = opt->groups[g].lr;
    return s;
}

/* _LRScheduler.step(): false (and nothing changed) after get_lr reported an error. The
 * epoch advances only once every lr is known, since an error handler may longjmp. */
static bool lr_step(ag_scheduler *s) {
    for (int g = 0; g < s->ngroups; g++) {
        bool ok = true;
        s->next_lr[g] = s->kind->get_lr(s, g, s->last_epoch + 1, &ok);
        if (!ok) return false;
    }
    s->last_epoch++;
    for (int g = 0; g < s->ngroups; g++) {
        s->opt->groups[g].lr = s->next_lr[g];
        s->last_lr[g] = s->next_lr[g];
    }
    return true;
}

/* _LRScheduler.__init__: initial_lr, base_lrs, and the step to epoch 0 (which the
 * constructors have made sure cannot fail: nothing may be held when an error is reported). */
static ag_scheduler *lr_start(ag_scheduler *s) {
    for (int g = 0; g < s->ngroups; g++) {
        ag_param_group *group = &s->opt->groups[g];
        if (isnan(group->initial_lr)) group->initial_lr = group->lr; /* setdefault */
        s->base_lrs[g] = group->initial_lr;
    }
    if (!lr_step(s)) {
        ag_scheduler_free(s);
        return NULL;
    }
    return s;
}

static bool check_optimizer(const char *op, const ag_optimizer *opt) {
    if (opt) return true;
    AG_ERROR(op, "NoneType is not an Optimizer");
    return false;
}

static bool require(const char *op, bool given, const char *name) {
    if (!given) AG_ERROR(op, "missing 1 required positional argument: '%s'", name);
    return given;
}

/* ---- StepLR ------------------------------------------------------------------------------ */

/* lr * gamma when last_epoch is a positive multiple of step_size, else lr. */
static double step_lr_get(ag_scheduler *s, int g, int64_t epoch, bool *ok) {
    (void)ok;
    if (epoch == 0 || epoch % s->u.step.step_size != 0) return group_lr(s, g);
    return group_lr(s, g) * s->u.step.gamma;
}

static const ag_scheduler_kind step_lr_kind = {.name = "StepLR", .get_lr = step_lr_get};

ag_scheduler *ag_step_lr(ag_optimizer *opt, ag_step_lr_options o) {
    const char *op = "StepLR";
    if (!check_optimizer(op, opt) || !require(op, o.step_size != 0, "step_size")) return NULL;
    if (o.step_size < 0) {
        AG_ERROR(op, "step_size must be a positive integer, but got %d", o.step_size);
        return NULL;
    }
    ag_scheduler *s = scheduler_new(&step_lr_kind, opt);
    if (!s) return NULL;
    s->u.step = o;
    s->u.step.gamma = ag_option(o.gamma, 0.1);
    return lr_start(s);
}

/* ---- MultiStepLR ------------------------------------------------------------------------- */

/* lr * gamma^k when last_epoch is listed k times among the milestones, else lr. */
static double multi_step_lr_get(ag_scheduler *s, int g, int64_t epoch, bool *ok) {
    (void)ok;
    int k = 0;
    for (int i = 0; i < s->u.multi_step.n; i++)
        k += s->u.multi_step.milestones[i] == epoch;
    if (k == 0) return group_lr(s, g);
    return group_lr(s, g) * pow(s->u.multi_step.gamma, k);
}

static const ag_scheduler_kind multi_step_lr_kind = {.name = "MultiStepLR",
                                                     .get_lr = multi_step_lr_get};

ag_scheduler *ag_multi_step_lr(ag_optimizer *opt, ag_multi_step_lr_options o) {
    const char *op = "MultiStepLR";
    if (!check_optimizer(op, opt)) return NULL;
    if (o.nmilestones < 0 || (o.nmilestones > 0 && !o.milestones)) {
        AG_ERROR(op, "milestones must be a list of nmilestones integers (got %d, %s)",
                 o.nmilestones, o.milestones ? "a list" : "NULL");
        return NULL;
    }
    ag_scheduler *s = scheduler_new(&multi_step_lr_kind, opt);
    if (!s) return NULL;
    s->u.multi_step.milestones = malloc((size_t)(o.nmilestones ? o.nmilestones : 1) * sizeof(int));
    if (!s->u.multi_step.milestones) {
        ag_scheduler_free(s);
        AG_ERROR(op, "out of memory");
        return NULL;
    }
    if (o.nmilestones)
        memcpy(s->u.multi_step.milestones, o.milestones, (size_t)o.nmilestones * sizeof(int));
    s->u.multi_step.n = o.nmilestones;
    s->u.multi_step.gamma = ag_option(o.gamma, 0.1);
    return lr_start(s);
}

/* ---- ExponentialLR ----------------------------------------------------------------------- */

static double exponential_lr_get(ag_scheduler *s, int g, int64_t epoch, bool *ok) {
    (void)ok;
    if (epoch == 0) return group_lr(s, g);
    return group_lr(s, g) * s->u.exponential.gamma;
}

static const ag_scheduler_kind exponential_lr_kind = {.name = "ExponentialLR",
                                                      .get_lr = exponential_lr_get};

ag_scheduler *ag_exponential_lr(ag_optimizer *opt, ag_exponential_lr_options o) {
    const char *op = "ExponentialLR";
    if (!check_optimizer(op, opt) || !require(op, o.gamma != 0 || signbit(o.gamma), "gamma"))
        return NULL;
    ag_scheduler *s = scheduler_new(&exponential_lr_kind, opt);
    if (!s) return NULL;
    s->u.exponential.gamma = ag_option(o.gamma, 0.0);
    return lr_start(s);
}

/* ---- CosineAnnealingLR ------------------------------------------------------------------- */

/* The recursive form: at epoch e, lr_e = eta_min + (lr_{e-1} - eta_min) * (1 + cos(pi e / T))
 * / (1 + cos(pi (e - 1) / T)), except where the cosine restarts from its minimum, (e - 1 - T)
 * a multiple of 2T, where lr_e = lr_{e-1} + (base_lr - eta_min) (1 - cos(pi / T)) / 2. */
static double cosine_annealing_lr_get(ag_scheduler *s, int g, int64_t e, bool *ok) {
    (void)ok;
    int64_t T = s->u.cosine.T_max;
    double eta_min = s->u.cosine.eta_min, lr = group_lr(s, g);
    if (e == 0) return lr;
    if ((e - 1 - T) % (2 * T) == 0)
        return lr + (s->base_lrs[g] - eta_min) * (1 - cos(pi / (double)T)) / 2;
    return (1 + cos(pi * (double)e / (double)T)) / (1 + cos(pi * (double)(e - 1) / (double)T)) *
               (lr - eta_min) +
           eta_min;
}

static const ag_scheduler_kind cosine_annealing_lr_kind = {.name = "CosineAnnealingLR",
                                                           .get_lr = cosine_annealing_lr_get};

ag_scheduler *ag_cosine_annealing_lr(ag_optimizer *opt, ag_cosine_annealing_lr_options o) {
    const char *op = "CosineAnnealingLR";
    if (!check_optimizer(op, opt) || !require(op, o.T_max != 0, "T_max")) return NULL;
    if (o.T_max < 0) {
        AG_ERROR(op, "T_max must be a positive integer, but got %d", o.T_max);
        return NULL;
    }
    ag_scheduler *s = scheduler_new(&cosine_annealing_lr_kind, opt);
    if (!s) return NULL;
    s->u.cosine.T_max = o.T_max;
    s->u.cosine.eta_min = ag_option(o.eta_min, 0.0);
    return lr_start(s);
}

/* ---- LinearLR ---------------------------------------------------------------------------- */

/* Epoch 0: lr * start_factor; then, until total_iters, the ratio of consecutive factors. */
static double linear_lr_get(ag_scheduler *s, int g, int64_t epoch, bool *ok) {
    (void)ok;
    const ag_linear_lr_options *o = &s->u.linear;
    double lr = group_lr(s, g);
    if (epoch == 0) return lr * o->start_factor;
    if (epoch > o->total_iters) return lr;
    return lr * (1. + (o->end_factor - o->start_factor) /
                          ((double)o->total_iters * o->start_factor +
                           (double)(epoch - 1) * (o->end_factor - o->start_factor)));
}

static const ag_scheduler_kind linear_lr_kind = {.name = "LinearLR", .get_lr = linear_lr_get};

ag_scheduler *ag_linear_lr(ag_optimizer *opt, ag_linear_lr_options o) {
    const char *op = "LinearLR";
    if (!check_optimizer(op, opt)) return NULL;
    o.start_factor = ag_option(o.start_factor, 1.0 / 3);
    o.end_factor = ag_option(o.end_factor, 1.0);
    if (o.total_iters == 0) o.total_iters = 5;
    if (o.start_factor > 1.0 || o.start_factor < 0) {
        AG_ERROR(op, "Starting multiplicative factor expected to be between 0 and 1.");
        return NULL;
    }
    if (o.end_factor > 1.0 || o.end_factor < 0) {
        AG_ERROR(op, "Ending multiplicative factor expected to be between 0 and 1.");
        return NULL;
    }
    if (o.start_factor == 0 || o.total_iters < 0) {
        /* torch would divide by zero at the first step (ZeroDivisionError), or never end */
        AG_ERROR(op,
                 o.total_iters < 0 ? "total_iters must be positive, but got %d"
                                   : "float division by zero (start_factor 0, total_iters %d)",
                 o.total_iters);
        return NULL;
    }
    ag_scheduler *s = scheduler_new(&linear_lr_kind, opt);
    if (!s) return NULL;
    s->u.linear = o;
    return lr_start(s);
}

/* ---- OneCycleLR -------------------------------------------------------------------------- */

/* Anneals from start to end as pct goes from 0 to 1. */
static double anneal(ag_anneal_strategy strategy, double start, double end, double pct) {
    if (strategy == AG_ANNEAL_LINEAR) return (end - start) * pct + start;
    double cos_out = cos(pi * pct) + 1;
    return end + (start - end) / 2.0 * cos_out;
}

/* The phases, each from one (lr, momentum) pair to another: the lrs are 0 initial_lr,
 * 1 max_lr, 2 min_lr; the momenta 0 max_momentum, 1 base_momentum. */
static const struct {
    int start_lr, end_lr, start_momentum, end_momentum;
} two_phases[2] = {{0, 1, 0, 1}, {1, 2, 1, 0}},
  three_phases[3] = {{0, 1, 0, 1}, {1, 0, 1, 0}, {0, 2, 0, 0}};

static double one_cycle_lr_get(ag_scheduler *s, int g, int64_t step_num, bool *ok) {
    const ag_one_cycle_lr_options *o = &s->u.one_cycle.o;
    if (step_num > o->total_steps) {
        AG_ERROR("OneCycleLR",
                 "Tried to step %lld times. The specified number of total steps is %d",
                 (long long)step_num + 1, o->total_steps);
        *ok = false;
        return NAN;
    }
    double lrs[3] = {s->u.one_cycle.initial_lr, s->u.one_cycle.max_lr, s->u.one_cycle.min_lr};
    double momenta[2] = {o->max_momentum, o->base_momentum};
    int n = s->u.one_cycle.nphases;
    double start_step = 0;
    for (int i = 0; i < n; i++) {
        double end_step = s->u.one_cycle.end_step[i];
        if ((double)step_num <= end_step || i == n - 1) {
            if (end_step - start_step == 0) {
                AG_ERROR("OneCycleLR", "float division by zero (a phase of no steps)");
                *ok = false;
                return NAN;
            }
            double pct = ((double)step_num - start_step) / (end_step - start_step);
            int sl = o->three_phase ? three_phases[i].start_lr : two_phases[i].start_lr;
            int el = o->three_phase ? three_phases[i].end_lr : two_phases[i].end_lr;
            int sm = o->three_phase ? three_phases[i].start_momentum : two_phases[i].start_momentum;
            int em = o->three_phase ? three_phases[i].end_momentum : two_phases[i].end_momentum;
            if (!o->keep_momentum) {
                ag_param_group *group = &s->opt->groups[g];
                *s->opt->algorithm->momentum(group) =
                    anneal(o->anneal_strategy, momenta[sm], momenta[em], pct);
            }
            return anneal(o->anneal_strategy, lrs[sl], lrs[el], pct);
        }
        start_step = end_step;
    }
    return NAN; /* not reached: the last phase always matches */
}

static const ag_scheduler_kind one_cycle_lr_kind = {.name = "OneCycleLR",
                                                    .get_lr = one_cycle_lr_get};

ag_scheduler *ag_one_cycle_lr(ag_optimizer *opt, ag_one_cycle_lr_options o) {
    const char *op = "OneCycleLR";
    if (!check_optimizer(op, opt) || !require(op, o.max_lr != 0 || signbit(o.max_lr), "max_lr"))
        return NULL;
    if (o.total_steps == 0 && o.epochs == 0 && o.steps_per_epoch == 0) {
        AG_ERROR(op, "You must define either total_steps OR (epochs AND steps_per_epoch)");
        return NULL;
    }
    if (o.total_steps != 0) {
        if (o.total_steps < 0) {
            AG_ERROR(op, "Expected positive integer total_steps, but got %d", o.total_steps);
            return NULL;
        }
    } else {
        if (o.epochs <= 0) {
            AG_ERROR(op, "Expected positive integer epochs, but got %d", o.epochs);
            return NULL;
        }
        if (o.steps_per_epoch <= 0) {
            AG_ERROR(op, "Expected positive integer steps_per_epoch, but got %d",
                     o.steps_per_epoch);
            return NULL;
        }
        if (o.epochs > INT32_MAX / o.steps_per_epoch) {
            AG_ERROR(op, "epochs * steps_per_epoch is too large");
            return NULL;
        }
        o.total_steps = o.epochs * o.steps_per_epoch;
    }
    o.pct_start = ag_option(o.pct_start, 0.3);
    if (o.pct_start < 0 || o.pct_start > 1 || isnan(o.pct_start)) {
        char buf[32];
        AG_ERROR(op, "Expected float between 0 and 1 pct_start, but got %s",
                 ag_py_float(buf, o.pct_start));
        return NULL;
    }
    if (o.anneal_strategy != AG_ANNEAL_COS && o.anneal_strategy != AG_ANNEAL_LINEAR) {
        AG_ERROR(op, "anneal_strategy must by one of 'cos' or 'linear', instead got %d",
                 (int)o.anneal_strategy);
        return NULL;
    }
    if (!o.keep_momentum && !opt->algorithm->momentum) {
        AG_ERROR(op, "optimizer must support momentum with `cycle_momentum` option enabled");
        return NULL;
    }
    o.base_momentum = ag_option(o.base_momentum, 0.85);
    o.max_momentum = ag_option(o.max_momentum, 0.95);
    o.div_factor = ag_option(o.div_factor, 25.);
    o.final_div_factor = ag_option(o.final_div_factor, 1e4);
    double total = (double)o.total_steps, end_step[3];
    int nphases = o.three_phase ? 3 : 2;
    end_step[0] = (o.pct_start * total) - 1;
    end_step[1] = o.three_phase ? (2 * o.pct_start * total) - 2 : total - 1;
    end_step[2] = total - 1;
    if (end_step[0] == 0) { /* step 0 would be a phase of no steps */
        AG_ERROR(op, "float division by zero (pct_start * total_steps is 1)");
        return NULL;
    }
    ag_scheduler *s = scheduler_new(&one_cycle_lr_kind, opt);
    if (!s) return NULL;
    s->u.one_cycle.o = o;
    s->u.one_cycle.nphases = nphases;
    memcpy(s->u.one_cycle.end_step, end_step, sizeof end_step);
    s->u.one_cycle.max_lr = o.max_lr;
    s->u.one_cycle.initial_lr = o.max_lr / o.div_factor;
    s->u.one_cycle.min_lr = s->u.one_cycle.initial_lr / o.final_div_factor;
    for (int g = 0; g < s->ngroups; g++) {
        ag_param_group *group = &opt->groups[g];
        group->initial_lr = s->u.one_cycle.initial_lr;
        if (!o.keep_momentum) *opt->algorithm->momentum(group) = o.max_momentum;
    }
    return lr_start(s);
}

/* ---- ReduceLROnPlateau ------------------------------------------------------------------- */

static const ag_scheduler_kind plateau_kind = {.name = "ReduceLROnPlateau", .get_lr = NULL};

ag_scheduler *ag_reduce_lr_on_plateau(ag_optimizer *opt, ag_reduce_lr_on_plateau_options o) {
    const char *op = "ReduceLROnPlateau";
    o.factor = ag_option(o.factor, 0.1);
    if (o.factor >= 1.0) {
        AG_ERROR(op, "Factor should be < 1.0.");
        return NULL;
    }
    if (!check_optimizer(op, opt)) return NULL;
    o.patience = ag_option(o.patience, 10);
    o.threshold = ag_option(o.threshold, 1e-4);
    o.min_lr = ag_option(o.min_lr, 0.0);
    o.eps = ag_option(o.eps, 1e-8);
    if (o.mode != AG_PLATEAU_MIN && o.mode != AG_PLATEAU_MAX) {
        AG_ERROR(op, "mode %d is unknown!", (int)o.mode);
        return NULL;
    }
    if (o.threshold_mode != AG_THRESHOLD_REL && o.threshold_mode != AG_THRESHOLD_ABS) {
        AG_ERROR(op, "threshold mode %d is unknown!", (int)o.threshold_mode);
        return NULL;
    }
    ag_scheduler *s = scheduler_new(&plateau_kind, opt);
    if (!s) return NULL;
    s->u.plateau.o = o;
    s->u.plateau.best = o.mode == AG_PLATEAU_MIN ? INFINITY : -INFINITY; /* mode_worse */
    s->last_epoch = 0;
    return s;
}

static bool is_better(const ag_reduce_lr_on_plateau_options *o, double a, double best) {
    if (o->mode == AG_PLATEAU_MIN && o->threshold_mode == AG_THRESHOLD_REL)
        return a < best * (1. - o->threshold);
    if (o->mode == AG_PLATEAU_MIN) return a < best - o->threshold;
    if (o->threshold_mode == AG_THRESHOLD_REL) return a > best * (o->threshold + 1.);
    return a > best + o->threshold;
}

static void plateau_step(ag_scheduler *s, double current) {
    const ag_reduce_lr_on_plateau_options *o = &s->u.plateau.o;
    s->last_epoch++;
    if (is_better(o, current, s->u.plateau.best)) {
        s->u.plateau.best = current;
        s->u.plateau.num_bad_epochs = 0;
    } else {
        s->u.plateau.num_bad_epochs++;
    }
    if (s->u.plateau.cooldown_counter > 0) { /* in cooldown: bad epochs do not count */
        s->u.plateau.cooldown_counter--;
        s->u.plateau.num_bad_epochs = 0;
    }
    if ((double)s->u.plateau.num_bad_epochs > o->patience) {
        for (int g = 0; g < s->ngroups; g++) { /* _reduce_lr */
            double old_lr = s->opt->groups[g].lr;
            double new_lr = old_lr * o->factor;
            if (o->min_lr > new_lr) new_lr = o->min_lr; /* max(old_lr * factor, min_lr) */
            if (old_lr - new_lr > o->eps) s->opt->groups[g].lr = new_lr;
        }
        s->u.plateau.cooldown_counter = o->cooldown;
        s->u.plateau.num_bad_epochs = 0;
    }
    for (int g = 0; g < s->ngroups; g++)
        s->last_lr[g] = s->opt->groups[g].lr;
}

/* ---- stepping, reading, freeing ---------------------------------------------------------- */

void ag_scheduler_step(ag_scheduler *s) {
    if (!s) {
        AG_ERROR("step", "scheduler is NULL");
        return;
    }
    if (!s->kind->get_lr) {
        AG_ERROR(s->kind->name, "step() missing 1 required positional argument: 'metrics' "
                                "(use ag_scheduler_step_metric)");
        return;
    }
    lr_step(s);
}

void ag_scheduler_step_metric(ag_scheduler *s, double metric) {
    if (!s) {
        AG_ERROR("step", "scheduler is NULL");
        return;
    }
    if (s->kind->get_lr) {
        AG_ERROR(s->kind->name, "step() takes no metric: use ag_scheduler_step");
        return;
    }
    plateau_step(s, metric);
}

double ag_scheduler_get_last_lr(const ag_scheduler *s, int group) {
    if (!s) {
        AG_ERROR("get_last_lr", "scheduler is NULL");
        return NAN;
    }
    if (group < 0 || group >= s->ngroups) {
        AG_ERROR(s->kind->name, "list index out of range: group %d of %d", group, s->ngroups);
        return NAN;
    }
    return s->last_lr[group];
}

int64_t ag_scheduler_last_epoch(const ag_scheduler *s) { return s ? s->last_epoch : -1; }

/* ---- state dicts ------------------------------------------------------------------------- */

static bool is_plateau(const ag_scheduler *s) { return s->kind == &plateau_kind; }

/* One pass of ag_scheduler_state_dict (see ag_state_writer). */
static int write_state(const ag_scheduler *s, ag_state_writer *w) {
    if (ag_state_put_type(w, s->kind->name) < 0 ||
        ag_state_put_int(w, s->last_epoch, "last_epoch") < 0 ||
        ag_state_put_doubles(w, s->base_lrs, s->ngroups, "base_lrs") < 0 ||
        ag_state_put_doubles(w, s->last_lr, s->ngroups, "last_lr") < 0)
        return -1;
    if (is_plateau(s) &&
        (ag_state_put_double(w, s->u.plateau.best, "best") < 0 ||
         ag_state_put_int(w, s->u.plateau.num_bad_epochs, "num_bad_epochs") < 0 ||
         ag_state_put_int(w, s->u.plateau.cooldown_counter, "cooldown_counter") < 0))
        return -1;
    return 0;
}

int ag_scheduler_state_dict(const ag_scheduler *s, ag_state_dict *sd, const char *prefix) {
    const char *where = "ag_scheduler_state_dict";
    if (!s || !sd)
        return ag_status_error("%s: argument '%s' must not be NULL", where, s ? "sd" : "sched");
    ag_state_writer w = {.where = where, .sd = sd, .prefix = prefix ? prefix : "", .dry = true};
    if (write_state(s, &w) < 0) return -1;
    w.dry = false;
    return write_state(s, &w);
}

/* A scheduler's state as read from a dict, before it is applied. */
typedef struct loaded_state {
    int64_t last_epoch;
    double *base_lrs, *last_lr; /* ngroups each */
    double best;
    int64_t num_bad_epochs, cooldown_counter;
} loaded_state;

static void loaded_free(loaded_state *l) {
    free(l->base_lrs);
    free(l->last_lr);
}

/* Everything ag_scheduler_load_state_dict checks, into *l (free it with loaded_free). */
static int read_state(const ag_scheduler *s, const ag_state_dict *sd, const char *prefix,
                      loaded_state *l) {
    static const char *const keys[] = {"last_epoch", "base_lrs",       "last_lr",
                                       "best",       "num_bad_epochs", "cooldown_counter"};
    const char *where = "ag_scheduler_load_state_dict";
    memset(l, 0, sizeof *l);
    if (!s || !sd)
        return ag_status_error("%s: argument '%s' must not be NULL", where, s ? "sd" : "sched");
    ag_state_reader r = {.where = where, .sd = sd, .prefix = prefix ? prefix : ""};
    if (ag_state_check_type(&r, "a scheduler", s->kind->name) < 0) return -1;
    size_t len = strlen(r.prefix);
    int nkeys = is_plateau(s) ? 6 : 3;
    for (int64_t j = 0; j < ag_state_dict_count(sd); j++) {
        const char *name = ag_state_dict_name_at(sd, j);
        if (strncmp(name, r.prefix, len) != 0) continue;
        bool known = false;
        for (int k = 0; k < nkeys; k++)
            known = known || strcmp(name + len, keys[k]) == 0;
        if (!known)
            return ag_status_error("%s: unexpected key '%s' in the state of a %s scheduler", where,
                                   name, s->kind->name);
    }
    const ag_tensor *base = ag_state_find(&r, "base_lrs");
    if (base && base->ndim == 1 && base->shape[0] != s->ngroups)
        return ag_status_error("%s: the state is that of a scheduler of %lld parameter groups, "
                               "and this one has %d",
                               where, (long long)base->shape[0], s->ngroups);
    l->base_lrs = malloc((size_t)(s->ngroups ? s->ngroups : 1) * sizeof(double));
    l->last_lr = malloc((size_t)(s->ngroups ? s->ngroups : 1) * sizeof(double));
    if (!l->base_lrs || !l->last_lr) {
        loaded_free(l);
        return ag_status_error("%s: out of memory", where);
    }
    int rc = ag_state_get_int(&r, &l->last_epoch, "last_epoch") < 0 ||
                     ag_state_get_doubles(&r, l->base_lrs, s->ngroups, "base_lrs") < 0 ||
                     ag_state_get_doubles(&r, l->last_lr, s->ngroups, "last_lr") < 0
                 ? -1
                 : 0;
    if (rc == 0 && l->last_epoch < -1)
        rc = ag_status_error("%s: last_epoch is %lld, below -1", where, (long long)l->last_epoch);
    if (rc == 0 && is_plateau(s)) {
        if (ag_state_get_double(&r, &l->best, "best") < 0 ||
            ag_state_get_int(&r, &l->num_bad_epochs, "num_bad_epochs") < 0 ||
            ag_state_get_int(&r, &l->cooldown_counter, "cooldown_counter") < 0)
            rc = -1;
        else if (l->num_bad_epochs < 0 || l->cooldown_counter < 0 ||
                 l->cooldown_counter > INT32_MAX)
            rc = ag_status_error("%s: num_bad_epochs %lld or cooldown_counter %lld is out of "
                                 "range",
                                 where, (long long)l->num_bad_epochs,
                                 (long long)l->cooldown_counter);
    }
    if (rc < 0) loaded_free(l);
    return rc;
}

int ag_scheduler_check_state_dict(const ag_scheduler *s, const ag_state_dict *sd,
                                  const char *prefix) {
    loaded_state l;
    if (read_state(s, sd, prefix, &l) < 0) return -1;
    loaded_free(&l);
    return 0;
}

int ag_scheduler_load_state_dict(ag_scheduler *s, const ag_state_dict *sd, const char *prefix) {
    loaded_state l;
    if (read_state(s, sd, prefix, &l) < 0) return -1;
    s->last_epoch = l.last_epoch;
    memcpy(s->base_lrs, l.base_lrs, (size_t)s->ngroups * sizeof(double));
    memcpy(s->last_lr, l.last_lr, (size_t)s->ngroups * sizeof(double));
    if (is_plateau(s)) {
        s->u.plateau.best = l.best;
        s->u.plateau.num_bad_epochs = l.num_bad_epochs;
        s->u.plateau.cooldown_counter = (int)l.cooldown_counter;
    }
    loaded_free(&l);
    return 0;
}

void ag_scheduler_free(ag_scheduler *s) {
    if (!s) return;
    if (s->kind == &multi_step_lr_kind) free(s->u.multi_step.milestones);
    free(s->base_lrs);
    free(s->last_lr);
    free(s->next_lr);
    free(s);
}
