/*
 * optim/internal.h - what the files of optim/ share: the optimizer's structure, the
 * descriptor each algorithm provides, and arithmetic in a parameter's precision.
 *
 * An algorithm (optim/sgd.c, optim/adam.c, ...) is one file holding its math, its
 * update(), its resolve() (torch's defaults and checks) and its const descriptor; the common
 * machinery (optim/optimizer.c) keeps the groups, calls update() for every parameter that has
 * a gradient, and bumps the parameter's version.
 */
#ifndef AG_OPTIM_INTERNAL_H
#define AG_OPTIM_INTERNAL_H

#include "autograd/internal.h"

#include <math.h>

/* What an optimizer remembers for one parameter (torch: optimizer.state[p]). */
#define AG_OPTIM_MAX_BUFFERS 3
typedef struct ag_param_state {
    double step;                          /* steps taken with a gradient */
    ag_tensor *buf[AG_OPTIM_MAX_BUFFERS]; /* the parameter's shape and dtype; NULL until made */
} ag_param_state;

/* One parameter group (torch: an entry of optimizer.param_groups). */
typedef struct ag_param_group {
    ag_tensor **params;
    ag_param_state *state; /* one per parameter */
    int n;
    double lr;         /* group['lr']: what update() uses */
    double initial_lr; /* group['initial_lr'], set by a scheduler; NAN */
    void *options;     /* the algorithm's options, resolved; every options
                          struct begins with its double lr */
} ag_param_group;

/* An option of an algorithm as its state dict names it (torch's param_group key): a double, a
 * flag, or a pair of doubles (betas), at offset bytes into the options struct. */
typedef enum ag_option_kind { AG_OPTION_DOUBLE, AG_OPTION_FLAG, AG_OPTION_PAIR } ag_option_kind;
typedef struct ag_option_field {
    const char *name;
    size_t offset;
    ag_option_kind kind;
} ag_option_field;

/* An algorithm's descriptor: one const instance per algorithm, in its file. */
typedef struct ag_optim_algorithm {
    const char *name;         /* torch's class name: "SGD" */
    const char *options_type; /* the C type of its options, checked by add_param_group */
    size_t options_size;
    /* Fills the fields of *options left zero from *defaults (AG_ZERO becomes 0), then checks
     * them as torch's constructor does; false after reporting. */
    bool (*resolve)(void *options, const void *defaults);
    /* One update of p (which has a .grad of its shape and dtype) with the group's options. */
    void (*update)(const ag_param_group *group, ag_tensor *p, ag_param_state *state);
    /* The momentum OneCycleLR cycles: group['momentum'], or group['betas'][0]; NULL: none. */
    double *(*momentum)(ag_param_group *group);
    /* For state dicts (optim/optimizer_state.c): the options after lr, as torch's param_group
     * names them, ended by {NULL}; the state's name of each buf[k] (NULL: unused); and the
     * dtype torch keeps state['step'] in (a float32 tensor for Adam and Adagrad). */
    const ag_option_field *fields;
    const char *buffers[AG_OPTIM_MAX_BUFFERS];
    ag_dtype step_dtype;
} ag_optim_algorithm;

struct ag_optimizer {
    const ag_optim_algorithm *algorithm;
    void *defaults; /* the constructor's options, resolved */
    ag_param_group *groups;
    int ngroups;
};

/* The constructor every algorithm's ag_<name>() calls: torch_defaults are torch's defaults
 * for its options (an lr of NAN: required). */
ag_optimizer *ag_optimizer_new(const ag_optim_algorithm *algorithm, ag_tensor *const *params, int n,
                               const void *options, const void *torch_defaults);

/* An option as given: a field left out (+0) takes the default, AG_ZERO (-0) is 0. */
static inline double ag_option(double given, double fallback) {
    if (given != 0) return given;
    return signbit(given) ? 0.0 : fallback;
}

/* x as Python's repr(float) writes it: "-1.0", "1e-05", "0.001". buf: at least 32 bytes. */
const char *ag_py_float(char *buf, double x);

/* "Invalid <what>: <repr(value)>" if !ok; returns ok. */
bool ag_check_option(const char *op, bool ok, const char *what, double value);

/* Resolves and checks the lr, as every algorithm does: a fallback of NAN means required
 * ("parameter group didn't specify a value of required optimization parameter lr"), and a
 * negative lr is "Invalid learning rate: -1.0". */
bool ag_resolve_lr(const char *op, double *lr, double fallback);

/* A state buffer: buf[k], made on first use as a tensor like p filled with value; *made tells
 * whether it was made now. NULL after reporting out of memory. */
ag_tensor *ag_state_buffer(ag_param_state *state, int k, const ag_tensor *p, double value,
                           bool *made);

/* ---- state dicts (optim/optimizer_state.c) ------------------------------------------------ */

#if defined(__GNUC__)
#define AG_STATE_FORMAT_(f, a) __attribute__((format(printf, f, a)))
#else
#define AG_STATE_FORMAT_(f, a)
#endif

/*
 * Writing a state into a dict, in two passes over the same code: a dry pass (dry = true) only
 * checks that every name is free, so that a name already there fails before anything is added;
 * the second adds. Each put names its tensor prefix + the printf-formatted key; a failure sets
 * ag_last_error() ("<where>: ...") and returns -1.
 */
typedef struct ag_state_writer {
    const char *where; /* the public function, for messages */
    ag_state_dict *sd;
    const char *prefix;
    bool dry;
} ag_state_writer;
int ag_state_put_double(ag_state_writer *w, double v, const char *fmt, ...) AG_STATE_FORMAT_(3, 4);
int ag_state_put_int(ag_state_writer *w, int64_t v, const char *fmt, ...) AG_STATE_FORMAT_(3, 4);
int ag_state_put_scalar(ag_state_writer *w, ag_dtype dtype, double v, const char *fmt, ...)
    AG_STATE_FORMAT_(4, 5);
int ag_state_put_doubles(ag_state_writer *w, const double *v, int64_t n, const char *fmt, ...)
    AG_STATE_FORMAT_(4, 5);
int ag_state_put_ints(ag_state_writer *w, const int64_t *v, int64_t n, const char *fmt, ...)
    AG_STATE_FORMAT_(4, 5);
/* Adds t itself, borrowed (an optimizer's state buffer). */
int ag_state_put_borrowed(ag_state_writer *w, ag_tensor *t, const char *fmt, ...)
    AG_STATE_FORMAT_(3, 4);
/* Sets the metadata prefix + "type" to name (checked in the dry pass too). */
int ag_state_put_type(ag_state_writer *w, const char *name);

/* Reading a state from a dict: each get finds prefix + the formatted key and checks what it
 * holds; -1 with ag_last_error() set ("<where>: ...") when it is missing or of another kind. */
typedef struct ag_state_reader {
    const char *where;
    const ag_state_dict *sd;
    const char *prefix;
} ag_state_reader;
/* The tensor, or NULL (nothing reported) when there is none. */
const ag_tensor *ag_state_find(const ag_state_reader *r, const char *fmt, ...)
    AG_STATE_FORMAT_(2, 3);
/* A 0-d floating or int64 tensor, as a double. */
int ag_state_get_double(const ag_state_reader *r, double *v, const char *fmt, ...)
    AG_STATE_FORMAT_(3, 4);
/* A 0-d int64 tensor. */
int ag_state_get_int(const ag_state_reader *r, int64_t *v, const char *fmt, ...)
    AG_STATE_FORMAT_(3, 4);
/* A 1-d floating tensor of n elements, as doubles. */
int ag_state_get_doubles(const ag_state_reader *r, double *v, int64_t n, const char *fmt, ...)
    AG_STATE_FORMAT_(4, 5);
/* Checks the metadata prefix + "type" against name: the state is that of kind ("an
 * optimizer") of type name. */
int ag_state_check_type(const ag_state_reader *r, const char *kind, const char *name);

/*
 * Loading an optimizer's state in two steps, so that a checkpoint can check all its parts
 * before it changes any: prepare checks everything and makes the new state buffers (nothing
 * in the optimizer changes; -1 with ag_last_error()); commit installs them and cannot fail;
 * free drops a plan that is not committed (commit frees it too). ag_optimizer_load_state_dict
 * is prepare + commit.
 */
typedef struct ag_optimizer_load_plan ag_optimizer_load_plan;
int ag_optimizer_load_prepare(const ag_optimizer *opt, const ag_state_dict *sd, const char *prefix,
                              ag_optimizer_load_plan **plan);
void ag_optimizer_load_commit(ag_optimizer *opt, ag_optimizer_load_plan *plan);
void ag_optimizer_load_plan_free(ag_optimizer_load_plan *plan);

/* ag_scheduler_load_state_dict's checks alone (optim/lr_scheduler.c). */
int ag_scheduler_check_state_dict(const ag_scheduler *sched, const ag_state_dict *sd,
                                  const char *prefix);

/*
 * Arithmetic in a parameter's precision. torch updates a float32 parameter in float32: every
 * op rounds its result to float, and every Python number it takes (lr, beta1, ...) is first
 * rounded to float. Here values travel as doubles and each result is rounded by ag_round();
 * for +, -, *, / and sqrt of floats this gives exactly the float result (a double holds more
 * than twice float's digits, so the double rounding is harmless).
 *
 * torch's CPU kernels compute add(x, y, alpha) as one fused multiply-add, x + alpha * y
 * rounded once, and addcmul(s, a, b, value) as fma(value * a, b, s) (measured on Debian's
 * build of 1.13; the vector and scalar paths agree). ag_add_alpha and ag_addcmul do the same.
 */
/* On x86-64 each update loop is compiled twice, with and without the FMA instructions, and
 * the machine picks at load time: with them, fma()/fmaf() is one instruction instead of a
 * call into libm. Both give the same, correctly rounded, bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define AG_FMA_CLONES __attribute__((target_clones("fma", "default")))
#else
#define AG_FMA_CLONES
#endif

static inline double ag_round(bool f32, double x) { return f32 ? (double)(float)x : x; }

/* torch.add(x, y, alpha=alpha): x + alpha * y, fused. */
static inline double ag_add_alpha(bool f32, double x, double alpha, double y) {
    return f32 ? (double)fmaf((float)alpha, (float)y, (float)x) : fma(alpha, y, x);
}

/* torch.addcmul(s, a, b, value=value): s + (value * a) * b, the last two fused. */
static inline double ag_addcmul(bool f32, double s, double value, double a, double b) {
    double va = ag_round(f32, ag_round(f32, value) * a);
    return f32 ? (double)fmaf((float)va, (float)b, (float)s) : fma(va, b, s);
}

/* torch.addcdiv(s, a, b, value=value): s + (value * a) / b, each op rounded. */
static inline double ag_addcdiv(bool f32, double s, double value, double a, double b) {
    double va = ag_round(f32, ag_round(f32, value) * a);
    return ag_round(f32, s + ag_round(f32, va / b));
}

/* x * s for a Python number s (torch.mul(x, s)). */
static inline double ag_mul_num(bool f32, double x, double s) {
    return ag_round(f32, x * ag_round(f32, s));
}


#endif
