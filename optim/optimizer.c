/*
 * optimizer.c - what every optimizer shares (torch.optim.Optimizer): parameter groups, the
 * step loop, zero_grad, the learning rate of a group, and freeing.
 *
 * An optimizer is an algorithm's descriptor (optim/internal.h) plus groups. Each group holds
 * its parameters, one state per parameter (the tensors the algorithm keeps between steps) and
 * its resolved options. ag_optimizer_step() walks the groups in order and, for each parameter
 * whose .grad is not NULL, calls the algorithm's update() and bumps the parameter's version:
 * the update is an in-place change, made on the data directly (torch's step runs in no_grad).
 */
#include "optim/internal.h"

#include <stdlib.h>
#include <string.h>

const char *ag_py_float(char *buf, double x) {
    if (isnan(x)) return strcpy(buf, "nan");
    if (isinf(x)) return strcpy(buf, x < 0 ? "-inf" : "inf");
    /* The shortest digits that read back as x, as Python's repr finds them. */
    char digits[40];
    int precision = 1;
    for (; precision < 17; precision++) {
        snprintf(digits, sizeof digits, "%.*e", precision - 1, x);
        if (strtod(digits, NULL) == x) break;
    }
    snprintf(digits, sizeof digits, "%.*e", precision - 1, x);
    int exponent = atoi(strchr(digits, 'e') + 1);
    /* Python writes 1e-05 and 1e+16 in scientific notation, 0.0001 and 1234.5 in fixed. */
    if (exponent < -4 || exponent >= 16) {
        int len = (int)(strchr(digits, 'e') - digits); /* at most 18: -d.dddddddddddddddd */
        snprintf(buf, 32, "%.*se%c%02d", len, digits, exponent < 0 ? '-' : '+', abs(exponent));
    } else {
        int decimals = precision - 1 - exponent;
        snprintf(buf, 32, "%.*f", decimals > 0 ? decimals : 0, x);
        if (decimals <= 0) strcat(buf, ".0");
    }
    return buf;
}

bool ag_check_option(const char *op, bool ok, const char *what, double value) {
    if (ok) return true;
    char buf[32];
    AG_ERROR(op, "Invalid %s: %s", what, ag_py_float(buf, value));
    return false;
}

bool ag_resolve_lr(const char *op, double *lr, double fallback) {
    if (*lr == 0 && !signbit(*lr) && isnan(fallback)) {
        AG_ERROR(op, "parameter group didn't specify a value of required optimization "
                     "parameter lr");
        return false;
    }
    *lr = ag_option(*lr, fallback);
    return ag_check_option(op, *lr >= 0.0, "learning rate", *lr);
}

ag_tensor *ag_state_buffer(ag_param_state *state, int k, const ag_tensor *p, double value,
                           bool *made) {
    if (made) *made = false;
    if (state->buf[k]) return state->buf[k];
    state->buf[k] = ag_full_like(p, value);
    if (made) *made = state->buf[k] != NULL;
    return state->buf[k];
}

/* ---- groups ------------------------------------------------------------------------------ */

static bool in_group(const ag_param_group *g, const ag_tensor *t) {
    for (int i = 0; i < g->n; i++)
        if (g->params[i] == t) return true;
    return false;
}

/* The checks of torch's add_param_group, and ours: a parameter is a user-owned leaf. */
static bool check_params(const ag_optimizer *opt, ag_tensor *const *params, int n) {
    const char *op = opt->algorithm->name;
    if (n <= 0 || !params) {
        AG_ERROR(op, "optimizer got an empty parameter list");
        return false;
    }
    for (int i = 0; i < n; i++) {
        ag_tensor *p = params[i];
        if (!p) {
            AG_ERROR(op, "optimizer can only optimize Tensors, but one of the params is NULL");
            return false;
        }
        if (!ag_is_leaf(p) || p->tape) {
            AG_ERROR(op, "can't optimize a non-leaf Tensor");
            return false;
        }
        if (p->dtype != AG_FLOAT32 && p->dtype != AG_FLOAT64) {
            AG_ERROR(op,
                     "optimizer can only optimize floating point Tensors, but one of the "
                     "params is %s",
                     ag_dtype_name(p->dtype));
            return false;
        }
        for (int j = 0; j < i; j++) {
            if (params[j] == p) {
                AG_ERROR(op, "optimizer contains a parameter group with duplicate parameters");
                return false;
            }
        }
        for (int g = 0; g < opt->ngroups; g++) {
            if (in_group(&opt->groups[g], p)) {
                AG_ERROR(op, "some parameters appear in more than one parameter group");
                return false;
            }
        }
    }
    return true;
}

/* Options resolved on the stack, before anything is allocated: an error handler may longjmp
 * out of AG_ERROR, so nothing may be held when a check fails. */
#define MAX_OPTIONS_SIZE 256
typedef union options_buffer {
    max_align_t align;
    unsigned char bytes[MAX_OPTIONS_SIZE];
} options_buffer;

static bool resolve_into(options_buffer *buf, const ag_optim_algorithm *a, const void *given,
                         const void *defaults) {
    memset(buf, 0, sizeof *buf);
    if (given) memcpy(buf->bytes, given, a->options_size);
    return a->resolve(buf->bytes, defaults);
}

/* Appends a group of n parameters with a copy of the resolved options; -1 after reporting. */
static int append_group(ag_optimizer *opt, ag_tensor *const *params, int n,
                        const options_buffer *options) {
    size_t size = opt->algorithm->options_size;
    ag_param_group g = {.n = n, .initial_lr = NAN};
    g.params = malloc((size_t)n * sizeof *g.params);
    g.state = calloc((size_t)n, sizeof *g.state);
    g.options = malloc(size);
    ag_param_group *groups = realloc(opt->groups, (size_t)(opt->ngroups + 1) * sizeof *groups);
    if (groups) opt->groups = groups;
    if (!g.params || !g.state || !g.options || !groups) {
        free(g.params);
        free(g.state);
        free(g.options);
        AG_ERROR(opt->algorithm->name, "out of memory");
        return -1;
    }
    memcpy(g.params, params, (size_t)n * sizeof *g.params);
    memcpy(g.options, options->bytes, size);
    g.lr = *(const double *)g.options; /* every options struct begins with its lr */
    groups[opt->ngroups] = g;
    return opt->ngroups++;
}

ag_optimizer *ag_optimizer_new(const ag_optim_algorithm *algorithm, ag_tensor *const *params, int n,
                               const void *options, const void *torch_defaults) {
    ag_optimizer probe = {.algorithm = algorithm}; /* no groups yet, for the checks */
    options_buffer resolved;
    if (algorithm->options_size > sizeof resolved.bytes) {
        AG_ERROR(algorithm->name, "options struct too large");
        return NULL;
    }
    if (!check_params(&probe, params, n) ||
        !resolve_into(&resolved, algorithm, options, torch_defaults))
        return NULL;
    ag_optimizer *opt = calloc(1, sizeof *opt);
    if (opt) {
        opt->algorithm = algorithm;
        opt->defaults = malloc(algorithm->options_size);
    }
    if (!opt || !opt->defaults) {
        free(opt);
        AG_ERROR(algorithm->name, "out of memory");
        return NULL;
    }
    memcpy(opt->defaults, resolved.bytes, algorithm->options_size);
    if (append_group(opt, params, n, &resolved) < 0) {
        /* append_group reported after freeing its own memory; if the handler returned, free
         * the rest (if it longjmp'd, this optimizer is lost: out of memory only) */
        ag_optimizer_free(opt);
        return NULL;
    }
    return opt;
}

int ag_optimizer_add_param_group_as(ag_optimizer *opt, ag_tensor *const *params, int n,
                                    const void *options, const char *options_type) {
    if (!opt) {
        AG_ERROR("add_param_group", "optimizer is NULL");
        return -1;
    }
    const ag_optim_algorithm *a = opt->algorithm;
    if (options && (!options_type || strcmp(options_type, a->options_type) != 0)) {
        AG_ERROR(a->name, "add_param_group: the options of a %s optimizer are %s, not %s", a->name,
                 a->options_type, options_type ? options_type : "of an unknown type");
        return -1;
    }
    options_buffer resolved;
    if (!check_params(opt, params, n) || !resolve_into(&resolved, a, options, opt->defaults))
        return -1;
    return append_group(opt, params, n, &resolved);
}

/* ---- stepping ---------------------------------------------------------------------------- */

void ag_optimizer_step(ag_optimizer *opt) {
    if (!opt) {
        AG_ERROR("step", "optimizer is NULL");
        return;
    }
    const ag_optim_algorithm *a = opt->algorithm;
    /* Check every gradient first, so that an error changes nothing. */
    for (int g = 0; g < opt->ngroups; g++) {
        for (int i = 0; i < opt->groups[g].n; i++) {
            const ag_tensor *p = opt->groups[g].params[i];
            if (p->grad && (p->grad->dtype != p->dtype || !ag_same_shape(p, p->grad))) {
                char s1[AG_SHAPE_STR], s2[AG_SHAPE_STR];
                AG_ERROR(a->name, "the gradient (%s, %s) of a parameter does not match it (%s, %s)",
                         ag_shape_str(s1, p->grad->ndim, p->grad->shape),
                         ag_dtype_name(p->grad->dtype), ag_shape_str(s2, p->ndim, p->shape),
                         ag_dtype_name(p->dtype));
                return;
            }
        }
    }
    for (int g = 0; g < opt->ngroups; g++) {
        ag_param_group *group = &opt->groups[g];
        for (int i = 0; i < group->n; i++) {
            ag_tensor *p = group->params[i];
            if (!p->grad) continue; /* None: skipped, its state untouched */
            a->update(group, p, &group->state[i]);
            ag_bump_version(p);
        }
    }
}

void ag_optimizer_zero_grad(ag_optimizer *opt, bool set_to_none) {
    if (!opt) {
        AG_ERROR("zero_grad", "optimizer is NULL");
        return;
    }
    for (int g = 0; g < opt->ngroups; g++) {
        for (int i = 0; i < opt->groups[g].n; i++) {
            ag_tensor *p = opt->groups[g].params[i];
            if (!p->grad) continue;
            if (set_to_none) {
                ag_set_grad_none(p);
            } else {
                memset(p->grad->data, 0, (size_t)p->grad->numel * ag_dtype_size(p->grad->dtype));
                ag_bump_version(p->grad);
            }
        }
    }
}

/* ---- groups' learning rates -------------------------------------------------------------- */

int ag_optimizer_num_groups(const ag_optimizer *opt) { return opt ? opt->ngroups : 0; }

static bool check_group(const char *op, const ag_optimizer *opt, int group) {
    if (!opt) {
        AG_ERROR(op, "optimizer is NULL");
        return false;
    }
    if (group < 0 || group >= opt->ngroups) {
        AG_ERROR(op, "list index out of range: group %d of %d", group, opt->ngroups);
        return false;
    }
    return true;
}

double ag_optimizer_get_lr(const ag_optimizer *opt, int group) {
    return check_group("get_lr", opt, group) ? opt->groups[group].lr : NAN;
}

void ag_optimizer_set_lr(ag_optimizer *opt, int group, double lr) {
    if (check_group("set_lr", opt, group)) opt->groups[group].lr = lr;
}

static double *momentum_of(const char *op, const ag_optimizer *opt, int group) {
    if (!check_group(op, opt, group)) return NULL;
    if (!opt->algorithm->momentum) {
        AG_ERROR(op, "%s has no momentum", opt->algorithm->name);
        return NULL;
    }
    return opt->algorithm->momentum(&opt->groups[group]);
}

double ag_optimizer_get_momentum(const ag_optimizer *opt, int group) {
    double *m = momentum_of("get_momentum", opt, group);
    return m ? *m : NAN;
}

void ag_optimizer_set_momentum(ag_optimizer *opt, int group, double momentum) {
    double *m = momentum_of("set_momentum", opt, group);
    if (m) *m = momentum;
}

const char *ag_optimizer_name(const ag_optimizer *opt) { return opt ? opt->algorithm->name : NULL; }

void ag_optimizer_free(ag_optimizer *opt) {
    if (!opt) return;
    for (int g = 0; g < opt->ngroups; g++) {
        ag_param_group *group = &opt->groups[g];
        for (int i = 0; i < group->n; i++)
            for (int k = 0; k < AG_OPTIM_MAX_BUFFERS; k++)
                ag_tensor_free(group->state[i].buf[k]);
        free(group->params);
        free(group->state);
        free(group->options);
    }
    free(opt->groups);
    free(opt->defaults);
    free(opt);
}
