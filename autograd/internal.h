/*
 * internal.h - the machinery behind the public API, shared by autograd/ and ops/.
 *
 * An op file (ops/<op>.c) uses it in four steps, top to bottom:
 *   1. check its inputs (ag_check_* report PyTorch's messages and return false);
 *   2. make its result with ag_result() (tape-owned, uninitialised) and fill it;
 *   3. ag_record() the node: it returns NULL when nothing needs a gradient (grad mode off, or
 *      no input requires grad), else the node, on which the op saves what its backward needs
 *      (ag_save: tensors, checked against in-place changes; node->iarg / node->farg: numbers);
 *   4. its backward(node) reads node->grad (d loss / d output), computes each input's share,
 *      and ag_accumulate()s it. Backward runs in no-grad mode, so it may use any op.
 * See ops/mul.c for the pattern in twenty lines.
 */
#ifndef AG_INTERNAL_H
#define AG_INTERNAL_H

#define AG_BUILDING_LIBRARY 1
#include "autograd/autograd.h"

#include <stdarg.h>

/* Marks a function as the rare path of its caller: never inlined into it, laid out apart. */
#if defined(__GNUC__)
#define AG_COLD __attribute__((noinline, cold))
#else
#define AG_COLD
#endif
/* Thread-local state that the hot paths read. The initial-exec model makes a read one load from
 * the thread's block; the default model of -fPIC code is a call (__tls_get_addr), and worse,
 * the compiler then saves registers around it in every function that reads the state. (A
 * library with such variables takes a little of the static TLS space that glibc keeps for
 * dlopen: a few dozen bytes here.) */
#if defined(__GNUC__)
#define AG_THREAD_LOCAL _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define AG_THREAD_LOCAL _Thread_local
#endif
/* Keeps a function out of line: for the full path behind a short inline fast path, so that the
 * fast path does not pay the full path's register saves. */
#if defined(__GNUC__)
#define AG_NOINLINE __attribute__((noinline))
#else
#define AG_NOINLINE
#endif

/* ---- ops and nodes ------------------------------------------------------------------------ */

/* An op's descriptor: one const instance per op (per grad_fn name), built with designated
 * initializers in the op's file. */
typedef struct ag_op {
    const char *name;                 /* PyTorch's grad_fn name, e.g. "MulBackward0" */
    const char *rule;                 /* the local derivative, for traces: "da = g*b, db = g*a" */
    void (*backward)(ag_node *node);  /* adds each input's share of node->grad */
} ag_op;

#define AG_MAX_SAVED 4
#define AG_MAX_IARGS (AG_MAX_DIMS + 4)

struct ag_node {
    const ag_op *op;
    ag_tensor *out;                   /* the tensor this node made */
    int ninputs;
    ag_tensor **inputs;               /* ninputs pointers (tape memory) */
    /* The graph's edges, fixed when the node is recorded (as torch's next_edges): the node
     * that had made input k then, and whether input k wanted a gradient then. An in-place op
     * later gives the tensor a new grad_fn; gradients for this node still go to the old one. */
    ag_node **input_fns;
    bool *input_needs;
    int nsaved;
    ag_tensor *saved[AG_MAX_SAVED];   /* tensors backward needs, read via ag_saved() */
    uint64_t saved_version[AG_MAX_SAVED];
    int64_t iarg[AG_MAX_IARGS];       /* integer parameters: dims, keepdim, sizes */
    double farg[2];                   /* real parameters: exponent, slope, bounds */
    ag_tensor *grad;                  /* d loss / d out, summed while backward runs */
    ag_tape *tape;
    int64_t index;                    /* position on the tape */
    const char *file;                 /* the user's call that recorded it */
    int line;
    bool released;                    /* its saved tensors were freed by a backward */
    struct ag_ctx *ctx;               /* a custom op's context (autograd/custom.c), or NULL */
};

/* How a tensor came to be (tensor->origin), for ag_explain_grad. */
enum {
    AG_MADE_BY_USER = 0,     /* a creation function: yours */
    AG_MADE_BY_OP = 1,       /* an op, with grad mode on */
    AG_MADE_WITHOUT_GRAD = 2, /* an op, with grad mode off */
    AG_MADE_BY_DETACH = 3,
    AG_GRAD_CLEARED = 0x80,  /* flag: ag_set_grad_none dropped its grad (at file:line) */
};

/* A hook on a tensor's gradient; a list in registration order. */
typedef struct ag_hook {
    ag_grad_hook grad;                /* one of the two is set */
    ag_post_accumulate_hook post;
    void *userdata;
    struct ag_hook *next;
} ag_hook;
/* Runs t's gradient hooks on g; returns the gradient to use (g or a replacement). */
ag_tensor *ag_run_grad_hooks(ag_tensor *t, ag_tensor *g);
/* Frees the hook list of a tensor the user owns. */
void ag_free_hooks(ag_tensor *t);

/* Anomaly mode: reports an error if t holds a NaN or an infinity (op: what made it). */
bool ag_anomaly_check(const char *what, const ag_node *node, const ag_tensor *t);

/* Appends a node for op to the current tape if grad mode is on and an input requires grad;
 * then out becomes its output (requires_grad, grad_fn). Returns NULL when nothing is
 * recorded. Reports (and returns NULL) if an input's graph lives on another tape. */
ag_node *ag_record(const ag_op *op, ag_tensor *out, int ninputs, ag_tensor *const *inputs);
/* This thread's grad mode (off) and anomaly mode (on), kept in tape.c and read here by the
 * inline fast paths. Change them only with ag_set_grad_enabled and ag_set_detect_anomaly. */
extern AG_THREAD_LOCAL bool ag_grad_off;
extern AG_THREAD_LOCAL bool ag_anomaly_on;
/* Whether an op on a and b (either may be NULL) must pass through ag_record: grad mode is on
 * and one of them requires grad, or anomaly mode checks every result. When it need not, an op
 * may skip what only the record would use (a number wrapped as a 0-d tensor, a copy of the old
 * value for an in-place op) and give the same result. */
static inline bool ag_record_needed(const ag_tensor *a, const ag_tensor *b) {
    return ag_anomaly_on ||
           (!ag_grad_off && ((a && a->requires_grad) || (b && b->requires_grad)));
}
/* The tape's nodes in the order they ran (backward.c walks them in reverse). */
ag_node **ag_tape_nodes(ag_tape *tape, int64_t *n);
/* Makes t the node's output in place of the tensor it made (the last step of an in-place op);
 * a tensor the caller owns is turned back into a leaf when the tape is reset. */
void ag_node_set_output(ag_node *node, ag_tensor *t);
/* Saves t for backward, remembering its version. (Inline: it runs for most ops.) */
static inline void ag_save(ag_node *node, ag_tensor *t);
/* Saved tensor k, after checking it was not freed by a backward nor changed in place. */
static inline ag_tensor *ag_saved(ag_node *node, int k);
/* Whether input k of node will take a gradient (it or its history requires grad). */
static inline bool ag_needs_grad(const ag_node *node, int k) { return node->input_needs[k]; }
/* Adds g into input k's gradient, casting to its dtype. g has the input's own shape, or a
 * shape the input broadcasts to (typically the output's): then the dims where the input was
 * broadcast are summed over. (g may not be smaller than the input: expand it first.) */
void ag_accumulate(ag_node *node, int k, const ag_tensor *g);
/* ag_accumulate for a g the backward gives up: an op's fresh result that nothing else refers
 * to (not a saved tensor, not a view), or node->grad itself at its last use in the backward.
 * When it is the input's first gradient in this run and has the input's dtype and shape, it
 * becomes that gradient as it is, instead of being copied. */
void ag_accumulate_temp(ag_node *node, int k, ag_tensor *g);
/* A gradient an op can write straight into memory of its input's dtype and shape: write(args,
 * data, false) stores it there; write(args, data, true) adds it to what data holds. */
typedef void (*ag_grad_write)(const void *args, void *data, bool add);
/* Input k's gradient, given as its write (args must live until the run ends: tape memory).
 * For a leaf's first gradient in the run, the write is put off: the end of the run writes it
 * into .grad directly, with no temporary and no pass adding one in. That needs exact_add: the
 * write's adding gives the same bits as writing into zeros and adding the result. What the
 * write reads must stay as it is until then: the writes are made, into temporaries, before any
 * user code (a hook, a custom backward) runs in the rest of the run. Otherwise,
 * and whenever something must see the gradient on its own (hooks, anomaly mode, a trace, a
 * step-by-step run, a second gradient for the leaf), it is written into a temporary and
 * accumulated as ag_accumulate_temp would. */
void ag_accumulate_write(ag_node *node, int k, ag_grad_write write, const void *args,
                         bool exact_add);
/* node->grad when the node's backward may overwrite it, at its last use, with a result of the
 * same dtype and shape to give up (ag_accumulate_temp), sparing a new tensor: a temporary of
 * this run that nothing else holds (no hook, not a view). NULL when it may not, and always in
 * anomaly mode (where an op computed by the backward is checked as it is made). */
ag_tensor *ag_grad_scratch(ag_node *node);

/* ---- memory ------------------------------------------------------------------------------- */

/* ag_dtype_size() for the hot paths, where a call would cost more than the answer. */
static inline size_t ag_elem_size(ag_dtype dtype) {
    return dtype == AG_FLOAT32 ? sizeof(float) : dtype == AG_FLOAT64 ? sizeof(double)
                                 : dtype == AG_UINT8 ? sizeof(uint8_t) : sizeof(int64_t);
}

/* torch's ScalarType name of dtype, as its messages write it: "Float", "Double", "Long", "Byte". */
static inline const char *ag_scalar_type_name(ag_dtype dtype) {
    return dtype == AG_FLOAT32   ? "Float"
           : dtype == AG_FLOAT64 ? "Double"
           : dtype == AG_UINT8   ? "Byte"
                                 : "Long";
}

/* Whether dtype is float32 or float64: what arithmetic and gradients take (not int64, uint8). */
static inline bool ag_is_floating(ag_dtype dtype) {
    return dtype == AG_FLOAT32 || dtype == AG_FLOAT64;
}

/* v as torch converts a floating value to uint8 on x86: truncated toward zero, then wrapped
 * modulo 256 (300 -> 44, -1 -> 255); NaN, infinities and values beyond int64 give 0 (where C's
 * cast would be undefined). */
static inline uint8_t ag_to_uint8(double v) {
    return v >= -9223372036854775808.0 && v < 9223372036854775808.0 ? (uint8_t)(int64_t)v : 0;
}

/* A new tape-owned tensor, data uninitialised (64-byte aligned from 64 bytes up). */
ag_tensor *ag_result(ag_dtype dtype, int ndim, const int64_t *shape);
ag_tensor *ag_result_like(const ag_tensor *t);
/* ag_result(dtype, t->ndim, t->shape), with less work: t's numel and its whole shape array
 * (zeros past ndim) taken as they are. */
ag_tensor *ag_result_shaped(ag_dtype dtype, const ag_tensor *t);
/* ag_result_shaped with extra bytes of tape memory (16-byte aligned) at *extra_out, made in
 * the same block. */
ag_tensor *ag_result_shaped_with(ag_dtype dtype, const ag_tensor *t, size_t extra,
                                 void **extra_out);
/* The same, filled with zeros: where a backward scatters into a gradient. */
ag_tensor *ag_result_zeros(ag_dtype dtype, int ndim, const int64_t *shape);
/* A tape-owned tensor that aliases base's data with another shape (reshape, detach). */
ag_tensor *ag_result_view(ag_tensor *base, int ndim, const int64_t *shape);
/* size bytes of tape memory (aligned as ag_result's data), valid until the next reset of the
 * current tape. */
void *ag_tape_alloc(size_t size);
/* A scalar as a tape-owned 0-d tensor of dtype (torch's "wrapped number"). */
ag_tensor *ag_wrap_scalar(double value, ag_dtype dtype);

/* One element of a float32 or float64 tensor, read or written as a double: reading widens
 * exactly, writing rounds once to the tensor's dtype. No checks (the callers have checked
 * dtype and bounds): ag_get is the checked form. Used by loops that compute in double
 * whatever the dtype: reductions, optimizers, gradcheck. */
static inline double ag_float_get(const ag_tensor *t, int64_t i) {
    return t->dtype == AG_FLOAT32 ? (double)AG_F32(t)[i] : AG_F64(t)[i];
}
static inline void ag_float_set(ag_tensor *t, int64_t i, double v) {
    if (t->dtype == AG_FLOAT32)
        AG_F32(t)[i] = (float)v;
    else
        AG_F64(t)[i] = v;
}

/* ---- checks and errors -------------------------------------------------------------------- */

/* Reports an error: "<file>:<line>: <op>: <message>" where file:line is the user's call site
 * (ag_here), else the library's. Calls the handler; returns if the handler returns. */
void ag_error_at(const char *file, int line, const char *op, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
#define AG_ERROR(op, ...) ag_error_at(__FILE__, __LINE__, op, __VA_ARGS__)

/* State a library call changes for its duration (backward turns grad mode off and makes the
 * graph's tape current). Pushed before the change and popped after; if an error handler
 * longjmps out of the call, ag_error_at has already put the outermost pushed state back. */
typedef struct ag_mode_guard {
    bool grad_enabled;
    ag_tape *tape;
    struct ag_mode_guard *outer;
} ag_mode_guard;
void ag_guard_push(ag_mode_guard *guard);
void ag_guard_pop(ag_mode_guard *guard);
void ag_guard_unwind(void);

/* Records an error message for ag_last_error() without calling the handler: for functions
 * that touch files and return a status instead. Always returns -1. */
int ag_status_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* How many errors this thread has reported: lets a loop notice that a handler returned.
 * (Kept in error.c; inline, as backward reads it after every node.) */
extern AG_THREAD_LOCAL uint64_t ag_errors_reported;
static inline uint64_t ag_error_count(void) { return ag_errors_reported; }

/* Each check reports in PyTorch's words and returns false on bad input. */
bool ag_check_tensor(const char *op, const ag_tensor *t, const char *argname); /* not NULL */
bool ag_check_floating(const char *op, const ag_tensor *t);     /* float32 or float64 */
/* A number stored into uint8 (ag_full, fill_): into *out as torch converts it, or false after
 * torch's "value cannot be converted to type uint8_t without overflow". */
bool ag_check_uint8_value(const char *op, double v, uint8_t *out);
/* Normalises dim (negative counts from the end) for a tensor of ndim dims; a 0-d tensor
 * takes dims 0 and -1, as torch. Returns false on "Dimension out of range". */
bool ag_check_dim(const char *op, int ndim, int *dim);

/* "[3, 4]" into buf (at least AG_SHAPE_STR bytes). */
#define AG_SHAPE_STR 200
const char *ag_shape_str(char *buf, int ndim, const int64_t *shape);

/* The call site set by the public macros, consumed by records and errors. */
void ag_site(const char **file, int *line);

/* ---- broadcasting and elementwise kernels (autograd/elementwise.c) ------------------------ */

/* The broadcast shape of a and b, or false after "The size of tensor a (3) must match ...". */
bool ag_broadcast_shape(const char *op, int andim, const int64_t *ashape, int bndim,
                        const int64_t *bshape, int *ndim, int64_t *shape);
/* The dtype torch gives a binary op on a and b (0-d tensors do not promote others). */
ag_dtype ag_result_dtype(const ag_tensor *a, const ag_tensor *b);
/* t as dtype: t itself when it already is, else a tape-owned copy. */
ag_tensor *ag_cast(ag_tensor *t, ag_dtype dtype);

/* Typed inner loops of an elementwise op, generated by the macros below from one expression.
 * A binary loop reads a and b with strides sa, sb (0 or 1: broadcasting) and writes n outputs. */
typedef struct ag_binary_kernel {
    void (*f32)(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb, float *out);
    void (*f64)(int64_t n, const double *a, int64_t sa, const double *b, int64_t sb,
                double *out);
} ag_binary_kernel;
typedef struct ag_unary_kernel {
    void (*f32)(int64_t n, const float *x, float *out, const double *p);
    void (*f64)(int64_t n, const double *x, double *out, const double *p);
} ag_unary_kernel;

/* out = kernel(a, b) with broadcasting and promotion; a new tape-owned tensor (no node). */
ag_tensor *ag_binary_map(const char *op, const ag_binary_kernel *k, ag_tensor *a, ag_tensor *b);
/* x op s, where s is a number taken in x's dtype: what ag_binary_map does with
 * ag_wrap_scalar(s, x->dtype) as b, without making that 0-d tensor (for an op that will not
 * record it: see ag_record_needed). x must not be NULL. */
ag_tensor *ag_binary_map_scalar(const char *op, const ag_binary_kernel *k, ag_tensor *x,
                                double s);
/* out = x op s, elementwise, with s taken in x's dtype: x floating, out of its dtype and shape. */
static inline void ag_map_number(const ag_binary_kernel *k, const ag_tensor *x, double s,
                                 ag_tensor *out) {
    if (x->dtype == AG_FLOAT32) {
        const float b = (float)s;
        k->f32(out->numel, x->data, 1, &b, 0, out->data);
    } else {
        const double b = s;
        k->f64(out->numel, x->data, 1, &b, 0, out->data);
    }
}
/* The whole forward of an elementwise op with a number, out = x op s: what
 * ag_binary_map_scalar(name, k, x, s) computes, recorded (when ag_record_needed(x, NULL)) as
 * op with the inputs x and s, s as a tape-owned 0-d tensor of x's dtype (torch's "wrapped
 * number", made only for the record); with save, both are saved. In the common case (grad
 * mode on, x requires grad) the result, the node and the number are one block of tape memory,
 * made in one call; the node's iarg is then not cleared (such an op reads none). x must not
 * be NULL. Returns out (its node is out->grad_fn); NULL after an error. */
ag_tensor *ag_scalar_op(const char *name, const ag_binary_kernel *k, const ag_op *op,
                        ag_tensor *x, double s, bool save);
/* The whole forward of a binary elementwise op, out = a op b: what ag_binary_map(name, k, a,
 * b) computes, recorded (when ag_record_needed(a, b)) as op with the inputs a and b, both
 * saved with save. In the common case (floating a and b of one dtype, of one shape or one of
 * them 0-d, grad mode on and one of them requiring grad) the result and its node are one block
 * of tape memory, made in one call; the node's iarg is then not cleared (such an op reads
 * none). Returns out (its node is out->grad_fn); NULL after an error. */
ag_tensor *ag_binary_op(const char *name, const ag_binary_kernel *k, const ag_op *op,
                        ag_tensor *a, ag_tensor *b, bool save);
/* What an op of one tensor saves for its backward: nothing, its input, or its output. */
typedef enum { AG_SAVE_NOTHING, AG_SAVE_INPUT, AG_SAVE_OUTPUT } ag_unary_save;
/* The whole forward of an elementwise op of one tensor, out = kernel(x, p) (ag_unary_map),
 * recorded as op with the input x, its first nfarg parameters p[] in the node's farg, and x
 * or out saved as save says. In the common case (grad mode on, x requires grad) the result
 * and its node are one block of tape memory; the node's iarg is then not cleared (such an op
 * reads none). x must be a floating tensor (the op has checked it). */
ag_tensor *ag_unary_op(const ag_unary_kernel *k, const ag_op *op, ag_tensor *x, const double *p,
                       int nfarg, ag_unary_save save);
/* A 0-d result of x's dtype holding value (already rounded to it: a reduction's result),
 * recorded as op with the input x; in the common case the result and its node are one block
 * of tape memory. x must be a floating tensor. */
ag_tensor *ag_scalar_result_op(const ag_op *op, ag_tensor *x, double value);
/* out = kernel(x); p: up to 4 parameters the expression may read as p[0..3]. */
ag_tensor *ag_unary_map(const ag_unary_kernel *k, ag_tensor *x, const double *p);

/* Defines `static const ag_binary_kernel name` computing EXPR of a and b (each a float or a
 * double; <tgmath.h> makes exp, log, ... pick the right precision). */
#define AG_BINARY_KERNEL(name, EXPR)                                                           \
    static void name##_f32(int64_t n, const float *a_, int64_t sa, const float *b_,             \
                           int64_t sb, float *out) {                                           \
        if (n == 1) { /* a scalar: spares the vectorised loop's set-up */                      \
            const float a = a_[0], b = b_[0];                                                  \
            out[0] = (float)(EXPR);                                                            \
            return;                                                                            \
        }                                                                                      \
        for (int64_t i = 0; i < n; i++) {                                                      \
            const float a = a_[i * sa], b = b_[i * sb];                                        \
            out[i] = (float)(EXPR);                                                            \
        }                                                                                      \
    }                                                                                          \
    static void name##_f64(int64_t n, const double *a_, int64_t sa, const double *b_,           \
                           int64_t sb, double *out) {                                          \
        if (n == 1) {                                                                          \
            const double a = a_[0], b = b_[0];                                                 \
            out[0] = (EXPR);                                                                   \
            return;                                                                            \
        }                                                                                      \
        for (int64_t i = 0; i < n; i++) {                                                      \
            const double a = a_[i * sa], b = b_[i * sb];                                       \
            out[i] = (EXPR);                                                                   \
        }                                                                                      \
    }                                                                                          \
    static const ag_binary_kernel name = {name##_f32, name##_f64}

/* Defines `static const ag_unary_kernel name` computing EXPR of x (and parameters p[k]). */
#define AG_UNARY_KERNEL(name, EXPR)                                                            \
    static void name##_f32(int64_t n, const float *x_, float *out, const double *p) {          \
        (void)p;                                                                               \
        for (int64_t i = 0; i < n; i++) {                                                      \
            const float x = x_[i];                                                             \
            out[i] = (float)(EXPR);                                                            \
        }                                                                                      \
    }                                                                                          \
    static void name##_f64(int64_t n, const double *x_, double *out, const double *p) {        \
        (void)p;                                                                               \
        for (int64_t i = 0; i < n; i++) {                                                      \
            const double x = x_[i];                                                            \
            out[i] = (EXPR);                                                                   \
        }                                                                                      \
    }                                                                                          \
    static const ag_unary_kernel name = {name##_f32, name##_f64}

/* dst += src summed down to dst's shape: dst's shape must broadcast to src's, and src's extra
 * leading dims and the dims where dst has size 1 are summed over. dtypes may differ. This is
 * how a broadcast input receives its gradient. */
void ag_add_reduced(ag_tensor *dst, const ag_tensor *src);

/* dst = src summed down to dst's shape, without clearing dst first (its data may be
 * uninitialised): a copy of src when nothing is summed (a -0 stays -0, as torch's first
 * gradient is the tensor itself), else what ag_add_reduced adds into zeros. */
void ag_set_reduced(ag_tensor *dst, const ag_tensor *src);

/* t materialised at a shape it broadcasts to (a tape-owned copy; no node). */
ag_tensor *ag_broadcast_to(ag_tensor *t, int ndim, const int64_t *shape);

/* ---- reductions (autograd/reduce.c) ------------------------------------------------------- */

/* x seen as (outer, size, inner) around dim (already normalised; a 0-d x is (1, 1, 1)). */
void ag_split_dim(const ag_tensor *x, int dim, int64_t *outer, int64_t *size, int64_t *inner);
/* The shape of a reduction of x over dim; returns its ndim. */
int ag_reduced_shape(const ag_tensor *x, int dim, bool keepdim, int64_t *shape);
/* A reduction's gradient g spread back over x's shape (copied along dim). */
ag_tensor *ag_unreduce(ag_tensor *g, const ag_tensor *x, int dim, bool keepdim);

/* Sums shared by sum.c and mean.c: of all elements (in double), and along dim, each result
 * divided by divisor in the tensor's precision (ops/sum.c). */
double ag_sum_all(const ag_tensor *x);
ag_tensor *ag_sum_dim_divided(const char *op, ag_tensor *x, int dim, bool keepdim,
                              double divisor);

/* nll_loss's argument checks (ops/nll_loss.c), shared with cross_entropy so that it reports
 * bad input before recording anything. */
bool ag_nll_loss_check(const char *op, const ag_tensor *input, const ag_tensor *target,
                       ag_reduction reduction);

/* ---- in place ----------------------------------------------------------------------------- */

/* The shared path of every in-place op t op= other: checks that t may be changed (the leaf
 * rule), computes r = fn(t, other) with t's history, writes r into t (which must keep its
 * shape), bumps t's version, and moves r's node (if any) onto t. Returns t. */
typedef ag_tensor *(*ag_binary_fn)(ag_tensor *, ag_tensor *);
ag_tensor *ag_inplace(const char *op, ag_tensor *t, ag_tensor *other, ag_binary_fn fn);
/* ag_inplace for an elementwise op whose kernel is k: when no graph is involved and other has
 * t's dtype and shape (or is 0-d), computes straight into t's memory; otherwise ag_inplace. */
ag_tensor *ag_inplace_elementwise(const char *op, ag_tensor *t, ag_tensor *other,
                                  const ag_binary_kernel *k, ag_binary_fn fn);
/* Whether t may be written in place now; reports PyTorch's leaf/view messages if not. */
bool ag_check_writable(const char *op, const ag_tensor *t);
/* Marks t as changed in place: bumps the version of its storage. */
void ag_bump_version(ag_tensor *t);
uint64_t ag_version(const ag_tensor *t);
/* ag_same_shape() for the hot paths (both non-NULL). */
static inline bool ag_same_shape_inline(const ag_tensor *a, const ag_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}
/* ag_version() for the hot paths (ag_save, ag_saved). */
static inline uint64_t ag_version_inline(const ag_tensor *t) {
    return t->base ? t->base->version : t->version;
}

/* ---- saved tensors (the rare paths are in backward.c) ------------------------------------- */

/* Reports that a node saves more than AG_MAX_SAVED tensors. */
void ag_save_overflow(ag_node *node);
/* Reports why saved tensor k cannot be given (freed by a backward, or changed in place). */
void ag_saved_error(ag_node *node, int k);

static inline void ag_save(ag_node *node, ag_tensor *t) {
    if (!node || !t) return;
    if (node->nsaved == AG_MAX_SAVED) {
        ag_save_overflow(node);
        return;
    }
    node->saved[node->nsaved] = t;
    node->saved_version[node->nsaved] = ag_version_inline(t);
    node->nsaved++;
}

static inline ag_tensor *ag_saved(ag_node *node, int k) {
    ag_tensor *t = node->saved[k];
    if (!node->released && ag_version_inline(t) == node->saved_version[k]) return t;
    ag_saved_error(node, k);
    return NULL;
}

/* ---- random draws without a tensor (autograd/random.c; g NULL: the default generator) ---- */

/* ag_randperm(g, n)'s draws and permutation written into out[0..n-1] (n >= 0, unchecked);
 * out NULL: the same draws, nothing kept. No allocation: the data loader's epoch. */
void ag_randperm_into(ag_generator *g, int64_t n, int64_t *out);
/* What ag_random_ draws into one int64 element (in [0, 2^63)), with no tensor. */
int64_t ag_random_int64(ag_generator *g);

#endif
