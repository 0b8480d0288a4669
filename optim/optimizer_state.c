/*
 * optimizer_state.c - an optimizer's state as named tensors: opt.state_dict() and
 * opt.load_state_dict(), flattened into a state dict (autograd/safetensors.h) under a prefix.
 *
 * torch's optimizer.state_dict() is a nested dict,
 *     {'state': {0: {'step': tensor(3.), 'exp_avg': ..., ...}, 1: {...}},
 *      'param_groups': [{'lr': 0.001, 'betas': (0.9, 0.999), ..., 'params': [0, 1]}]}
 * with the parameters numbered in order across the groups. Here each leaf is one tensor,
 * named by its path: "<prefix>state.0.exp_avg", "<prefix>param_groups.0.betas", and the
 * optimizer's class name is the metadata "<prefix>type". Loading reverses it, checking all of
 * it first (the plan), then changing the optimizer at once (the commit).
 *
 * The helpers that write and read named numbers (ag_state_put_*, ag_state_get_*) are shared
 * with the schedulers (optim/lr_scheduler.c). Everything here reports with ag_status_error():
 * a state dict goes to or comes from a file, and a checkpoint must never call the handler.
 */
#include "optim/internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 512

/* ---- naming ---------------------------------------------------------------------------------- */

/* prefix + the formatted key into buf; -1 (error set) when it does not fit. */
static int vname(char *buf, const char *where, const char *prefix, const char *fmt, va_list ap) {
    size_t n = (size_t)snprintf(buf, NAME_MAX_LEN, "%s", prefix ? prefix : "");
    if (n < NAME_MAX_LEN) n += (size_t)vsnprintf(buf + n, NAME_MAX_LEN - n, fmt, ap);
    if (n >= NAME_MAX_LEN)
        return ag_status_error("%s: the name '%.40s...' is longer than %d bytes", where, buf,
                               NAME_MAX_LEN - 1);
    return 0;
}

#define NAME_FROM_ARGS(buf, where, prefix, fmt)                                                    \
    do {                                                                                           \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        int rc_ = vname(buf, where, prefix, fmt, ap);                                              \
        va_end(ap);                                                                                \
        if (rc_ < 0) return -1;                                                                    \
    } while (0)

/* ---- writing --------------------------------------------------------------------------------- */

/* The dry pass checks the name; the other adds t (NULL: it could not be made). */
static int put(ag_state_writer *w, const char *name, ag_tensor *t, bool owned) {
    if (w->dry) {
        if (ag_state_dict_get(w->sd, name))
            return ag_status_error("%s: the state dict already holds a tensor named '%s'", w->where,
                                   name);
        return 0;
    }
    if (!t) return ag_status_error("%s: out of memory", w->where);
    int rc = owned ? ag_state_dict_add_owned(w->sd, name, t) : ag_state_dict_add(w->sd, name, t);
    if (rc < 0) {
        if (owned) ag_tensor_free(t);
        return ag_status_error("%s: cannot add '%s' to the state dict", w->where, name);
    }
    return 0;
}

static ag_tensor *scalar_of(ag_dtype dtype, double v) {
    ag_tensor *t = ag_empty(dtype, AG_SCALAR_SHAPE);
    if (!t) return NULL;
    if (dtype == AG_INT64)
        AG_I64(t)[0] = (int64_t)v;
    else if (dtype == AG_UINT8)
        AG_U8(t)[0] = ag_to_uint8(v);
    else if (dtype == AG_FLOAT32)
        AG_F32(t)[0] = (float)v;
    else
        AG_F64(t)[0] = v;
    return t;
}

int ag_state_put_scalar(ag_state_writer *w, ag_dtype dtype, double v, const char *fmt, ...) {
    char name[NAME_MAX_LEN];
    NAME_FROM_ARGS(name, w->where, w->prefix, fmt);
    return put(w, name, w->dry ? NULL : scalar_of(dtype, v), true);
}

int ag_state_put_double(ag_state_writer *w, double v, const char *fmt, ...) {
    char name[NAME_MAX_LEN];
    NAME_FROM_ARGS(name, w->where, w->prefix, fmt);
    return put(w, name, w->dry ? NULL : scalar_of(AG_FLOAT64, v), true);
}

int ag_state_put_int(ag_state_writer *w, int64_t v, const char *fmt, ...) {
    char name[NAME_MAX_LEN];
    NAME_FROM_ARGS(name, w->where, w->prefix, fmt);
    ag_tensor *t = w->dry ? NULL : ag_empty(AG_INT64, AG_SCALAR_SHAPE);
    if (t) AG_I64(t)[0] = v; /* exact, beyond 2^53 too */
    return put(w, name, t, true);
}

int ag_state_put_doubles(ag_state_writer *w, const double *v, int64_t n, const char *fmt, ...) {
    char name[NAME_MAX_LEN];
    NAME_FROM_ARGS(name, w->where, w->prefix, fmt);
    return put(w, name, w->dry ? NULL : ag_from_data(v, AG_FLOAT64, 1, (const int64_t[]){n}), true);
}

int ag_state_put_ints(ag_state_writer *w, const int64_t *v, int64_t n, const char *fmt, ...) {
    char name[NAME_MAX_LEN];
    NAME_FROM_ARGS(name, w->where, w->prefix, fmt);
    return put(w, name, w->dry ? NULL : ag_from_data(v, AG_INT64, 1, (const int64_t[]){n}), true);
}

int ag_state_put_borrowed(ag_state_writer *w, ag_tensor *t, const char *fmt, ...) {
    char name[NAME_MAX_LEN];
    NAME_FROM_ARGS(name, w->where, w->prefix, fmt);
    return put(w, name, t, false);
}

int ag_state_put_type(ag_state_writer *w, const char *name) {
    char key[NAME_MAX_LEN];
    if (snprintf(key, sizeof key, "%stype", w->prefix ? w->prefix : "") >= (int)sizeof key)
        return ag_status_error("%s: the prefix is too long", w->where);
    if (strcmp(key, "format") == 0 || strncmp(key, "xxh3:", 5) == 0)
        return ag_status_error("%s: the metadata key '%s' is reserved by the file format", w->where,
                               key);
    if (w->dry) return 0;
    if (ag_state_dict_set_metadata(w->sd, key, name) < 0)
        return ag_status_error("%s: cannot set the metadata '%s'", w->where, key);
    return 0;
}

/* ---- reading --------------------------------------------------------------------------------- */

static const ag_tensor *vfind(const ag_state_reader *r, char *name, const char *fmt, va_list ap) {
    if (vname(name, r->where, r->prefix, fmt, ap) < 0) return NULL;
    return ag_state_dict_get(r->sd, name);
}

const ag_tensor *ag_state_find(const ag_state_reader *r, const char *fmt, ...) {
    char name[NAME_MAX_LEN];
    va_list ap;
    va_start(ap, fmt);
    const ag_tensor *t = vfind(r, name, fmt, ap);
    va_end(ap);
    return t;
}

/* The tensor named by fmt, which must be there; NULL with the error set. */
#define FIND_REQUIRED(t, name, r, fmt)                                                             \
    do {                                                                                           \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        t = vfind(r, name, fmt, ap);                                                               \
        va_end(ap);                                                                                \
        if (!t) return ag_status_error("%s: the state dict holds no '%s'", (r)->where, name);      \
    } while (0)

static int wrong_kind(const ag_state_reader *r, const char *name, const char *expected,
                      const ag_tensor *t) {
    char sb[AG_SHAPE_STR];
    return ag_status_error("%s: '%s' must be %s, not a %s tensor of shape %s", r->where, name,
                           expected, ag_dtype_name(t->dtype), ag_shape_str(sb, t->ndim, t->shape));
}

int ag_state_get_double(const ag_state_reader *r, double *v, const char *fmt, ...) {
    char name[NAME_MAX_LEN];
    const ag_tensor *t;
    FIND_REQUIRED(t, name, r, fmt);
    if (t->ndim != 0) return wrong_kind(r, name, "a 0-d tensor", t);
    *v = ag_get(t, 0); /* any dtype, as a double */
    return 0;
}

int ag_state_get_int(const ag_state_reader *r, int64_t *v, const char *fmt, ...) {
    char name[NAME_MAX_LEN];
    const ag_tensor *t;
    FIND_REQUIRED(t, name, r, fmt);
    if (t->ndim != 0 || t->dtype != AG_INT64) return wrong_kind(r, name, "a 0-d int64 tensor", t);
    *v = AG_I64(t)[0];
    return 0;
}

int ag_state_get_doubles(const ag_state_reader *r, double *v, int64_t n, const char *fmt, ...) {
    char name[NAME_MAX_LEN];
    const ag_tensor *t;
    FIND_REQUIRED(t, name, r, fmt);
    if (t->ndim != 1 || t->shape[0] != n || !ag_is_floating(t->dtype)) {
        char what[64];
        snprintf(what, sizeof what, "a floating tensor of shape [%lld]", (long long)n);
        return wrong_kind(r, name, what, t);
    }
    for (int64_t i = 0; i < n; i++)
        v[i] = ag_float_get(t, i);
    return 0;
}

int ag_state_check_type(const ag_state_reader *r, const char *kind, const char *name) {
    char key[NAME_MAX_LEN];
    const char *prefix = r->prefix ? r->prefix : "";
    if (snprintf(key, sizeof key, "%stype", prefix) >= (int)sizeof key)
        return ag_status_error("%s: the prefix is too long", r->where);
    const char *type = ag_state_dict_get_metadata(r->sd, key);
    if (!type)
        return ag_status_error("%s: the state dict holds no state of %s under '%s' (it has no "
                               "metadata '%s')",
                               r->where, kind, prefix, key);
    if (strcmp(type, name) != 0)
        return ag_status_error("%s: the state under '%s' is that of %s of type %s, and this one "
                               "is of type %s",
                               r->where, prefix, kind, type, name);
    return 0;
}

/* ---- opt.state_dict() ------------------------------------------------------------------------ */

static bool has_state(const ag_param_state *state) {
    if (state->step != 0) return true;
    for (int k = 0; k < AG_OPTIM_MAX_BUFFERS; k++)
        if (state->buf[k]) return true;
    return false;
}

/* One pass of ag_optimizer_state_dict (see the writer). */
static int write_state(const ag_optimizer *opt, ag_state_writer *w) {
    const ag_optim_algorithm *a = opt->algorithm;
    if (ag_state_put_type(w, a->name) < 0) return -1;
    int64_t index = 0; /* the parameters are numbered across the groups, as in torch */
    for (int g = 0; g < opt->ngroups; g++) {
        const ag_param_group *group = &opt->groups[g];
        const unsigned char *o = group->options;
        if (ag_state_put_double(w, group->lr, "param_groups.%d.lr", g) < 0) return -1;
        if (!isnan(group->initial_lr) &&
            ag_state_put_double(w, group->initial_lr, "param_groups.%d.initial_lr", g) < 0)
            return -1;
        for (const ag_option_field *f = a->fields; f && f->name; f++) {
            int rc;
            if (f->kind == AG_OPTION_DOUBLE) {
                double v;
                memcpy(&v, o + f->offset, sizeof v);
                rc = ag_state_put_double(w, v, "param_groups.%d.%s", g, f->name);
            } else if (f->kind == AG_OPTION_FLAG) {
                bool v;
                memcpy(&v, o + f->offset, sizeof v);
                rc = ag_state_put_int(w, v, "param_groups.%d.%s", g, f->name);
            } else {
                double v[2];
                memcpy(v, o + f->offset, sizeof v);
                rc = ag_state_put_doubles(w, v, 2, "param_groups.%d.%s", g, f->name);
            }
            if (rc < 0) return -1;
        }
        int64_t *ids = w->dry ? NULL : malloc((size_t)group->n * sizeof *ids);
        if (!w->dry && !ids) return ag_status_error("%s: out of memory", w->where);
        for (int i = 0; ids && i < group->n; i++)
            ids[i] = index + i;
        int rc = ag_state_put_ints(w, ids, group->n, "param_groups.%d.params", g);
        free(ids);
        if (rc < 0) return -1;
        for (int i = 0; i < group->n; i++, index++) {
            const ag_param_state *state = &group->state[i];
            if (!has_state(state)) continue;
            if (ag_state_put_scalar(w, a->step_dtype, state->step, "state.%lld.step",
                                    (long long)index) < 0)
                return -1;
            for (int k = 0; k < AG_OPTIM_MAX_BUFFERS; k++)
                if (state->buf[k] && ag_state_put_borrowed(w, state->buf[k], "state.%lld.%s",
                                                           (long long)index, a->buffers[k]) < 0)
                    return -1;
        }
    }
    return 0;
}

int ag_optimizer_state_dict(const ag_optimizer *opt, ag_state_dict *sd, const char *prefix) {
    const char *where = "ag_optimizer_state_dict";
    if (!opt || !sd)
        return ag_status_error("%s: argument '%s' must not be NULL", where, opt ? "sd" : "opt");
    ag_state_writer w = {.where = where, .sd = sd, .prefix = prefix ? prefix : "", .dry = true};
    if (write_state(opt, &w) < 0) return -1;
    w.dry = false;
    return write_state(opt, &w);
}

/* ---- opt.load_state_dict() ------------------------------------------------------------------- */

struct ag_optimizer_load_plan {
    int ngroups, nparams;
    double *lr, *initial_lr; /* per group (initial_lr NAN: none) */
    unsigned char *options;  /* per group, options_size bytes each */
    double *step;            /* per parameter (0: no state) */
    ag_tensor **bufs;        /* per parameter, AG_OPTIM_MAX_BUFFERS each: new tensors or NULL */
};

void ag_optimizer_load_plan_free(ag_optimizer_load_plan *plan) {
    if (!plan) return;
    for (int64_t i = 0; plan->bufs && i < (int64_t)plan->nparams * AG_OPTIM_MAX_BUFFERS; i++)
        ag_tensor_free(plan->bufs[i]);
    free(plan->lr);
    free(plan->initial_lr);
    free(plan->options);
    free(plan->step);
    free(plan->bufs);
    free(plan);
}

/* The number at *s (decimal, no sign, no leading zero), which must be followed by '.'; the
 * position after the dot in *s. -1 when there is none or it is above limit. */
static int64_t parse_index(const char **s, int64_t limit) {
    const char *p = *s;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9')) return -1;
    int64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (v > limit) return -1;
    }
    if (*p != '.') return -1;
    *s = p + 1;
    return v;
}

static const ag_option_field *field_named(const ag_optim_algorithm *a, const char *name) {
    for (const ag_option_field *f = a->fields; f && f->name; f++)
        if (strcmp(f->name, name) == 0) return f;
    return NULL;
}

static int buffer_named(const ag_optim_algorithm *a, const char *name) {
    for (int k = 0; k < AG_OPTIM_MAX_BUFFERS; k++)
        if (a->buffers[k] && strcmp(a->buffers[k], name) == 0) return k;
    return -1;
}

/* Every key under the prefix is one an optimizer of this kind and size writes. */
static int check_keys(const ag_optimizer *opt, const ag_state_reader *r, int nparams) {
    const ag_optim_algorithm *a = opt->algorithm;
    size_t len = strlen(r->prefix);
    for (int64_t j = 0; j < ag_state_dict_count(r->sd); j++) {
        const char *name = ag_state_dict_name_at(r->sd, j);
        if (strncmp(name, r->prefix, len) != 0) continue;
        const char *rest = name + len;
        bool known = false;
        if (strncmp(rest, "param_groups.", 13) == 0) {
            rest += 13;
            int64_t g = parse_index(&rest, INT32_MAX);
            if (g >= opt->ngroups)
                return ag_status_error("%s: loaded state dict has a different number of parameter "
                                       "groups ('%s'; this optimizer has %d)",
                                       r->where, name, opt->ngroups);
            known = g >= 0 && (strcmp(rest, "lr") == 0 || strcmp(rest, "initial_lr") == 0 ||
                               strcmp(rest, "params") == 0 || field_named(a, rest));
        } else if (strncmp(rest, "state.", 6) == 0) {
            rest += 6;
            int64_t i = parse_index(&rest, INT32_MAX);
            if (i >= nparams)
                return ag_status_error("%s: '%s' is the state of parameter %lld, but this "
                                       "optimizer has %d parameters",
                                       r->where, name, (long long)i, nparams);
            known = i >= 0 && (strcmp(rest, "step") == 0 || buffer_named(a, rest) >= 0);
        }
        if (!known)
            return ag_status_error("%s: unexpected key '%s' in the state of a %s optimizer",
                                   r->where, name, a->name);
    }
    return 0;
}

/* The group's hyper-parameters into the plan. */
static int read_group(const ag_optimizer *opt, const ag_state_reader *r, int g, int64_t first,
                      ag_optimizer_load_plan *plan) {
    const ag_optim_algorithm *a = opt->algorithm;
    const ag_param_group *group = &opt->groups[g];
    unsigned char *o = plan->options + (size_t)g * a->options_size;
    memcpy(o, group->options, a->options_size);
    if (ag_state_get_double(r, &plan->lr[g], "param_groups.%d.lr", g) < 0) return -1;
    plan->initial_lr[g] = NAN;
    if (ag_state_find(r, "param_groups.%d.initial_lr", g) &&
        ag_state_get_double(r, &plan->initial_lr[g], "param_groups.%d.initial_lr", g) < 0)
        return -1;
    for (const ag_option_field *f = a->fields; f && f->name; f++) {
        if (f->kind == AG_OPTION_DOUBLE) {
            double v;
            if (ag_state_get_double(r, &v, "param_groups.%d.%s", g, f->name) < 0) return -1;
            memcpy(o + f->offset, &v, sizeof v);
        } else if (f->kind == AG_OPTION_FLAG) {
            int64_t v;
            if (ag_state_get_int(r, &v, "param_groups.%d.%s", g, f->name) < 0) return -1;
            if (v != 0 && v != 1)
                return ag_status_error("%s: '%sparam_groups.%d.%s' is %lld, not 0 or 1", r->where,
                                       r->prefix, g, f->name, (long long)v);
            bool flag = v != 0;
            memcpy(o + f->offset, &flag, sizeof flag);
        } else {
            double v[2];
            if (ag_state_get_doubles(r, v, 2, "param_groups.%d.%s", g, f->name) < 0) return -1;
            memcpy(o + f->offset, v, sizeof v);
        }
    }
    /* 'params': the group's parameters, numbered as this optimizer numbers them. */
    const ag_tensor *ids = ag_state_find(r, "param_groups.%d.params", g);
    if (!ids)
        return ag_status_error("%s: the state dict holds no '%sparam_groups.%d.params'", r->where,
                               r->prefix, g);
    if (ids->dtype != AG_INT64 || ids->ndim != 1 || ids->shape[0] != group->n)
        return ag_status_error("%s: loaded state dict contains a parameter group that doesn't "
                               "match the size of optimizer's group (group %d: %lld parameters "
                               "saved, %d here)",
                               r->where, g, ids->ndim == 1 ? (long long)ids->shape[0] : -1LL,
                               group->n);
    for (int i = 0; i < group->n; i++)
        if (AG_I64(ids)[i] != first + i)
            return ag_status_error("%s: '%sparam_groups.%d.params' numbers its parameters %lld, "
                                   "..., not %lld, ... as this optimizer does",
                                   r->where, r->prefix, g, (long long)AG_I64(ids)[0],
                                   (long long)first);
    return 0;
}

/* dst = src, both floating and of one shape, cast to dst's dtype. */
static void copy_floating(ag_tensor *dst, const ag_tensor *src) {
    if (dst->dtype == src->dtype) {
        if (dst->numel)
            memcpy(dst->data, src->data, (size_t)dst->numel * ag_dtype_size(dst->dtype));
        return;
    }
    for (int64_t i = 0; i < dst->numel; i++)
        ag_float_set(dst, i, ag_float_get(src, i));
}

/* Parameter index's state (of parameter p) into the plan: its step and new buffers. */
static int read_param_state(const ag_optimizer *opt, const ag_state_reader *r, int64_t index,
                            const ag_tensor *p, ag_optimizer_load_plan *plan) {
    const ag_optim_algorithm *a = opt->algorithm;
    ag_tensor **bufs = plan->bufs + index * AG_OPTIM_MAX_BUFFERS;
    bool any = ag_state_find(r, "state.%lld.step", (long long)index) != NULL;
    for (int k = 0; k < AG_OPTIM_MAX_BUFFERS; k++)
        any = any ||
              (a->buffers[k] && ag_state_find(r, "state.%lld.%s", (long long)index, a->buffers[k]));
    plan->step[index] = 0;
    if (!any) return 0; /* no state: as a parameter that never had a gradient */
    if (ag_state_get_double(r, &plan->step[index], "state.%lld.step", (long long)index) < 0)
        return -1;
    for (int k = 0; k < AG_OPTIM_MAX_BUFFERS; k++) {
        if (!a->buffers[k]) continue;
        const ag_tensor *src = ag_state_find(r, "state.%lld.%s", (long long)index, a->buffers[k]);
        if (!src) continue;
        if (!ag_is_floating(src->dtype) || !ag_same_shape(src, p)) {
            char s1[AG_SHAPE_STR], s2[AG_SHAPE_STR];
            return ag_status_error("%s: size mismatch for %sstate.%lld.%s: copying a state of "
                                   "shape %s (%s) for a parameter of shape %s (%s)",
                                   r->where, r->prefix, (long long)index, a->buffers[k],
                                   ag_shape_str(s1, src->ndim, src->shape),
                                   ag_dtype_name(src->dtype), ag_shape_str(s2, p->ndim, p->shape),
                                   ag_dtype_name(p->dtype));
        }
        bufs[k] = ag_empty_like(p); /* state is cast to the parameter's dtype, as in torch */
        if (!bufs[k]) return ag_status_error("%s: out of memory", r->where);
        copy_floating(bufs[k], src);
    }
    return 0;
}

int ag_optimizer_load_prepare(const ag_optimizer *opt, const ag_state_dict *sd, const char *prefix,
                              ag_optimizer_load_plan **out) {
    const char *where = "ag_optimizer_load_state_dict";
    *out = NULL;
    if (!opt || !sd)
        return ag_status_error("%s: argument '%s' must not be NULL", where, opt ? "sd" : "opt");
    ag_state_reader r = {.where = where, .sd = sd, .prefix = prefix ? prefix : ""};
    if (ag_state_check_type(&r, "an optimizer", opt->algorithm->name) < 0) return -1;
    int nparams = 0;
    for (int g = 0; g < opt->ngroups; g++)
        nparams += opt->groups[g].n;
    if (check_keys(opt, &r, nparams) < 0) return -1;
    for (int g = 0; g < opt->ngroups; g++) /* as many groups: none above (check_keys), all here */
        if (!ag_state_find(&r, "param_groups.%d.lr", g) &&
            !ag_state_find(&r, "param_groups.%d.params", g))
            return ag_status_error("%s: loaded state dict has a different number of parameter "
                                   "groups (it has no group %d; this optimizer has %d)",
                                   where, g, opt->ngroups);
    ag_optimizer_load_plan *plan = calloc(1, sizeof *plan);
    if (plan) {
        size_t ng = (size_t)opt->ngroups, np = (size_t)(nparams ? nparams : 1);
        plan->ngroups = opt->ngroups;
        plan->nparams = nparams;
        plan->lr = malloc(ng * sizeof *plan->lr);
        plan->initial_lr = malloc(ng * sizeof *plan->initial_lr);
        plan->options = malloc(ng * opt->algorithm->options_size);
        plan->step = malloc(np * sizeof *plan->step);
        plan->bufs = calloc(np * AG_OPTIM_MAX_BUFFERS, sizeof *plan->bufs);
    }
    if (!plan || !plan->lr || !plan->initial_lr || !plan->options || !plan->step || !plan->bufs) {
        ag_optimizer_load_plan_free(plan);
        return ag_status_error("%s: out of memory", where);
    }
    int64_t index = 0;
    for (int g = 0; g < opt->ngroups; g++) {
        const ag_param_group *group = &opt->groups[g];
        if (read_group(opt, &r, g, index, plan) < 0) goto fail;
        for (int i = 0; i < group->n; i++, index++)
            if (read_param_state(opt, &r, index, group->params[i], plan) < 0) goto fail;
    }
    *out = plan;
    return 0;
fail:
    ag_optimizer_load_plan_free(plan);
    return -1;
}

void ag_optimizer_load_commit(ag_optimizer *opt, ag_optimizer_load_plan *plan) {
    const ag_optim_algorithm *a = opt->algorithm;
    int64_t index = 0;
    for (int g = 0; g < opt->ngroups; g++) {
        ag_param_group *group = &opt->groups[g];
        /* In place: OneCycleLR's momentum pointer into the options stays valid. */
        memcpy(group->options, plan->options + (size_t)g * a->options_size, a->options_size);
        group->lr = plan->lr[g];
        group->initial_lr = plan->initial_lr[g];
        for (int i = 0; i < group->n; i++, index++) {
            ag_param_state *state = &group->state[i];
            state->step = plan->step[index];
            for (int k = 0; k < AG_OPTIM_MAX_BUFFERS; k++) {
                ag_tensor_free(state->buf[k]);
                state->buf[k] = plan->bufs[index * AG_OPTIM_MAX_BUFFERS + k];
                plan->bufs[index * AG_OPTIM_MAX_BUFFERS + k] = NULL; /* the optimizer's now */
            }
        }
    }
    ag_optimizer_load_plan_free(plan);
}

int ag_optimizer_load_state_dict(ag_optimizer *opt, const ag_state_dict *sd, const char *prefix) {
    ag_optimizer_load_plan *plan;
    if (ag_optimizer_load_prepare(opt, sd, prefix, &plan) < 0) return -1;
    ag_optimizer_load_commit(opt, plan);
    return 0;
}
