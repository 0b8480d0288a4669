/*
 * autograd.h - libautograd: reverse-mode, tape-based automatic differentiation in C11.
 *
 * A complete training loop (the linear regression of gradient-descent.md, as
 * examples/seed_loop.c runs it), next to the PyTorch line it stands for:
 *
 *     ag_tensor *x = AG_TENSOR(1.0, 2.0, 3.0, 4.0);          // x = torch.tensor([1., 2., 3., 4.])
 *     ag_tensor *y = AG_TENSOR(2.0, 4.0, 6.0, 8.0);          // y = torch.tensor([2., 4., 6., 8.])
 *     ag_tensor *w = ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true);
 *     ag_tensor *b = ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true);
 *     for (int epoch = 0; epoch < 100; epoch++) {
 *         ag_tensor *y_pred = ag_add(ag_mul(w, x), b);       // y_pred = w * x + b
 *         ag_tensor *loss = ag_mean(ag_pow_scalar(ag_sub(y_pred, y), 2.0));
 *         ag_backward(loss);                                 // loss.backward()
 *         AG_NO_GRAD {                                       // with torch.no_grad():
 *             ag_sub_(w, ag_mul_scalar(w->grad, eta));       //     w -= eta * w.grad
 *             ag_sub_(b, ag_mul_scalar(b->grad, eta));       //     b -= eta * b.grad
 *         }
 *         ag_zero_(w->grad);                                 // w.grad.zero_()
 *         ag_zero_(b->grad);                                 // b.grad.zero_()
 *         printf("%.4f\n", ag_item(loss));                   // loss.item()
 *         ag_tape_reset(NULL);   // release what the ops of this step returned
 *     }
 *     ag_tensor_free(x); ag_tensor_free(y); ag_tensor_free(w); ag_tensor_free(b);
 *
 * How it works, in four sentences. Every op (ops/) computes its result at once and, when grad
 * mode is on and an input requires grad, appends a node to the current tape: the op's
 * descriptor, its inputs and what its backward needs. Because ops append as they run, the tape
 * is already in topological order, and ag_backward() is one reverse loop over it: each node
 * receives the gradient of its output and adds (never assigns) its inputs' shares into them.
 * Leaves (tensors you created with requires_grad) keep their .grad across steps until you zero
 * it; the gradients of intermediate results are dropped unless you asked ag_retain_grad().
 *
 * Ownership, the one rule: tensors you create (ag_zeros, ag_from_data, AG_TENSOR, ...) are
 * yours and you free them with ag_tensor_free(). Tensors that ops return belong to the tape and
 * are released together by ag_tape_reset(); a training loop frees nothing by hand. A tape
 * reuses its memory after a reset, so a steady training loop makes no allocation at all.
 *
 * Errors: every public function checks its inputs and reports misuse in PyTorch's words, with
 * the op and the shapes and the caller's file:line. The default handler prints the message and
 * aborts; ag_set_error_handler() installs your own (to longjmp back, to log). If your handler
 * returns, the failing function returns NULL (or NAN, or does nothing) and changes nothing.
 */
#ifndef AG_AUTOGRAD_H
#define AG_AUTOGRAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* Tensors                                                                                    */
/* ---------------------------------------------------------------------------------------- */

#define AG_MAX_DIMS 8

typedef enum ag_dtype {
    AG_FLOAT32, /* torch.float32, the default */
    AG_FLOAT64, /* torch.float64 */
    AG_INT64,   /* torch.int64: indices and class labels; never requires grad */
    AG_UINT8,   /* torch.uint8: data kept as bytes (images); never requires grad. Creation,
                 * ag_to, ag_item/ag_get, printing, copies, shape ops and index_select (so
                 * batches) take it; arithmetic does not: ag_to(x, AG_FLOAT32) first */
} ag_dtype;

typedef struct ag_tensor ag_tensor;
typedef struct ag_node ag_node; /* one recorded op; opaque (autograd/internal.h) */
typedef struct ag_tape ag_tape; /* the record of ops and the owner of their results; opaque */

/*
 * A tensor: a contiguous, row-major block of numel elements of one dtype. The fields above
 * the line are public to read; change them only through the functions below.
 */
struct ag_tensor {
    ag_dtype dtype;
    int ndim;                     /* 0 for a scalar, at most AG_MAX_DIMS */
    int64_t shape[AG_MAX_DIMS];   /* shape[0..ndim-1] */
    int64_t numel;                /* product of the shape; 1 for a scalar */
    void *data;                   /* numel elements, row-major: float, double, int64_t or
                                     uint8_t */
    ag_tensor *grad;              /* .grad: NULL until a backward reaches this tensor (None) */
    ag_node *grad_fn;             /* the node that made this tensor; NULL for a leaf */
    const char *name;             /* optional label for printing and pictures (not copied) */
    bool requires_grad;
    bool retains_grad;            /* set by ag_retain_grad() on a non-leaf */
    /* ------------------------------ machinery ------------------------------------------ */
    /* (packed: the small fields share the word of the two flags above; a tape makes a tensor
     * per op result, and every byte of it is written) */
    bool owns_data;               /* data was malloc'd for this tensor (user-owned only) */
    uint8_t origin;               /* how it came to be, for ag_explain_grad (AG_ORIGIN_*) */
    int line;                     /* with file, below */
    ag_tensor *base;              /* for a view (reshape, detach, ...): the tensor it aliases */
    uint64_t version;             /* bumped by every in-place change (of the base, for a view) */
    ag_tape *tape;                /* the tape that owns this tensor; NULL when it is yours */
    const char *file;             /* the call that made it (ops) or last cleared its grad */
    struct ag_hook *hooks;        /* gradient hooks (ag_register_hook) */
    ag_tensor *pending_grad;      /* a leaf's gradient summed while a backward runs */
    ag_tensor *spare_grad;        /* the .grad ag_set_grad_none took away, for the next
                                     backward to fill instead of allocating one */
};

/* Typed access to the data: AG_F32(t)[i], AG_F64(t)[i], AG_I64(t)[i], AG_U8(t)[i]. */
#define AG_F32(t) ((float *)(t)->data)
#define AG_F64(t) ((double *)(t)->data)
#define AG_I64(t) ((int64_t *)(t)->data)
#define AG_U8(t) ((uint8_t *)(t)->data)

/* A shape as two arguments (ndim, dims): ag_zeros(AG_FLOAT32, AG_SHAPE(3, 4)). */
#define AG_SHAPE(...) AG_NARGS(__VA_ARGS__), ((const int64_t[]){__VA_ARGS__})
#define AG_SCALAR_SHAPE 0, ((const int64_t *)NULL)
#define AG_NARGS(...) AG_NARGS_(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define AG_NARGS_(a, b, c, d, e, f, g, h, n, ...) n

/* A 1-d tensor from a list of numbers, as torch.tensor([...]): float32, or int64 for indices.
 * Owned by the caller. */
#define AG_TENSOR(...)                                                                         \
    ag_from_data((const float[]){__VA_ARGS__}, AG_FLOAT32, 1,                                   \
                 (const int64_t[]){(int64_t)(sizeof((const float[]){__VA_ARGS__}) / sizeof(float))})
#define AG_INDEX(...)                                                                          \
    ag_from_data((const int64_t[]){__VA_ARGS__}, AG_INT64, 1,                                   \
                 (const int64_t[]){                                                            \
                     (int64_t)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))})

/*
 * Creation. Every function here returns a new tensor owned by the caller (free it with
 * ag_tensor_free), not requiring grad; NULL after reporting a bad shape or dtype. A value
 * stored into uint8 is checked as torch checks a Python number: an integer in [-255, 255]
 * wraps (-1 is 255), another number must lie in (0, 255) and is truncated; else "value cannot
 * be converted to type uint8_t without overflow".
 */
ag_tensor *ag_empty(ag_dtype dtype, int ndim, const int64_t *shape); /* data uninitialised */
ag_tensor *ag_zeros(ag_dtype dtype, int ndim, const int64_t *shape);
ag_tensor *ag_ones(ag_dtype dtype, int ndim, const int64_t *shape);
ag_tensor *ag_full(ag_dtype dtype, int ndim, const int64_t *shape, double value);
/* Copies numel elements of dtype from data (a float*, double*, int64_t* or uint8_t*). */
ag_tensor *ag_from_data(const void *data, ag_dtype dtype, int ndim, const int64_t *shape);
ag_tensor *ag_scalar(double value, ag_dtype dtype); /* 0-d, as torch.tensor(value) */
/* [start, end) by step, as torch.arange; the length is ceil((end - start) / step). */
ag_tensor *ag_arange(double start, double end, double step, ag_dtype dtype);
ag_tensor *ag_linspace(double start, double end, int64_t steps, ag_dtype dtype);
ag_tensor *ag_eye(int64_t n, ag_dtype dtype);
ag_tensor *ag_empty_like(const ag_tensor *t);
ag_tensor *ag_zeros_like(const ag_tensor *t);
ag_tensor *ag_ones_like(const ag_tensor *t);
ag_tensor *ag_full_like(const ag_tensor *t, double value);

/* Frees a tensor you own, with its .grad. NULL is a no-op; a tape-owned tensor is an error
 * (the tape frees it). Views of it (ag_reshape, ag_detach) must not be used afterwards. */
void ag_tensor_free(ag_tensor *t);

/* Sets requires_grad on a leaf and returns t (t.requires_grad_()). Only floating tensors can
 * require grad; a non-leaf can only be switched on. */
ag_tensor *ag_requires_grad_(ag_tensor *t, bool requires_grad);
/* Keeps .grad of a non-leaf after backward (t.retain_grad()); a no-op on a leaf. */
void ag_retain_grad(ag_tensor *t);
/* True for a tensor no op made: grad_fn == NULL (t.is_leaf). */
bool ag_is_leaf(const ag_tensor *t);
/* Drops t's gradient: t.grad = None. Zeroing in place is ag_zero_(t->grad). The memory of a
 * gradient that was yours is kept with t (until ag_tensor_free(t)) and filled by the next
 * backward that reaches t, so that a loop dropping its gradients every step allocates nothing
 * (torch's caching allocator keeps such memory too). */
void ag_set_grad_none(ag_tensor *t);
/* Gives t a label for printing and pictures; returns t. The string is not copied. */
ag_tensor *ag_set_name(ag_tensor *t, const char *name);

/* The value of a one-element tensor as a double (t.item()); NAN after an error. */
double ag_item(const ag_tensor *t);
/* The element at a flat row-major index, converted to double; NAN after an error. */
double ag_get(const ag_tensor *t, int64_t flat_index);
/* Whether two tensors have the same shape (and, with same_dtype, the same dtype). */
bool ag_same_shape(const ag_tensor *a, const ag_tensor *b);

/* The tensor's repr in PyTorch's format, e.g. "tensor([1.5104], requires_grad=True)".
 * ag_repr writes at most size bytes (always terminated) and returns the full length, as
 * snprintf; ag_print writes it and a newline to stdout. */
size_t ag_repr(const ag_tensor *t, char *buf, size_t size);
void ag_fprint(FILE *f, const ag_tensor *t);
void ag_print(const ag_tensor *t);
/* "torch.float32", "torch.float64", "torch.int64", "torch.uint8"; and the size in bytes of one
 * element. */
const char *ag_dtype_name(ag_dtype dtype);
size_t ag_dtype_size(ag_dtype dtype);
/* The grad_fn's name ("MulBackward0"), or NULL for a leaf. */
const char *ag_grad_fn_name(const ag_tensor *t);

/* ---------------------------------------------------------------------------------------- */
/* Grad mode                                                                                  */
/* ---------------------------------------------------------------------------------------- */

/* Grad mode is per thread, as PyTorch's. With it off, ops record nothing and their results
 * do not require grad. */
bool ag_is_grad_enabled(void);
bool ag_set_grad_enabled(bool enabled); /* returns the previous mode */

/* A block run with grad mode off, restored after it; nests. (Leave it by falling off its
 * end: a return or break from inside skips the restore, as in any for-loop macro.)
 *     AG_NO_GRAD { ag_sub_(w, ag_mul_scalar(w->grad, eta)); } */
#define AG_NO_GRAD AG_GRAD_MODE_BLOCK_(false, AG_CAT_(ag_grad_prev_, __LINE__))
#define AG_ENABLE_GRAD AG_GRAD_MODE_BLOCK_(true, AG_CAT_(ag_grad_prev_, __LINE__))
#define AG_GRAD_MODE_BLOCK_(mode, prev)                                                        \
    for (int prev = ag_set_grad_enabled(mode) ? 3 : 2; prev > 1;                               \
         ag_set_grad_enabled(prev == 3), prev = 0)
#define AG_CAT_(a, b) AG_CAT2_(a, b)
#define AG_CAT2_(a, b) a##b

/* ---------------------------------------------------------------------------------------- */
/* The tape                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/* Each thread has a default tape, current until you make another current. Ops record on, and
 * allocate their results from, the current tape. */
ag_tape *ag_tape_new(void);           /* owned by the caller: ag_tape_free */
void ag_tape_free(ag_tape *tape);     /* frees all it owns; NULL is a no-op */
ag_tape *ag_tape_current(void);
/* Makes tape current for this thread (NULL: the default tape); returns the previous one. */
ag_tape *ag_tape_use(ag_tape *tape);
/* Releases every tensor and node the tape owns (NULL: the current tape), keeping its memory
 * for reuse. Pointers to tape-owned tensors are invalid afterwards. */
void ag_tape_reset(ag_tape *tape);
/* How many nodes the tape holds, and how many bytes it has reserved (NULL: current tape). */
int64_t ag_tape_size(const ag_tape *tape);
size_t ag_tape_reserved_bytes(const ag_tape *tape);

/* ---------------------------------------------------------------------------------------- */
/* Backward                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/* loss.backward(): loss must have one element; adds d(loss)/d(leaf) into every leaf's .grad
 * and then releases the graph's saved tensors. */
void ag_backward(ag_tensor *loss);
/* t.backward(gradient, retain_graph): gradient (t's shape) may be NULL for one element. */
void ag_backward_with(ag_tensor *t, const ag_tensor *gradient, bool retain_graph);

/* ---------------------------------------------------------------------------------------- */
/* Looking inside: nodes, hooks, stepping, narration, anomalies, pictures (autograd/explain.c) */
/* ---------------------------------------------------------------------------------------- */

/* A node is the record of one op: t->grad_fn. Read it with these (all NULL/0-safe). */
const char *ag_node_name(const ag_node *node);  /* PyTorch's grad_fn name: "MulBackward0" */
const char *ag_node_rule(const ag_node *node);  /* its local derivative: "da = g * b, ..." */
const char *ag_node_file(const ag_node *node);  /* the call that recorded it */
int ag_node_line(const ag_node *node);
int ag_node_ninputs(const ag_node *node);
ag_tensor *ag_node_input(const ag_node *node, int k);
ag_tensor *ag_node_output(const ag_node *node);
/* The gradient arriving at the node's output while a backward runs (NULL otherwise). */
const ag_tensor *ag_node_grad(const ag_node *node);

/* A hook on t's gradient (torch's t.register_hook): called once per backward with the total
 * gradient of t, before it is used (non-leaf) or added into .grad (leaf). Return NULL to keep
 * it, or a tensor of the same shape to use instead (e.g. an op's result: it runs in no-grad).
 * A post-accumulate hook (register_post_accumulate_grad_hook) runs on a leaf after its .grad
 * was updated. Hooks run in the order registered and live as long as the tensor. */
typedef ag_tensor *(*ag_grad_hook)(ag_tensor *grad, void *userdata);
typedef void (*ag_post_accumulate_hook)(ag_tensor *leaf, void *userdata);
void ag_register_hook(ag_tensor *t, ag_grad_hook hook, void *userdata);
void ag_register_post_accumulate_grad_hook(ag_tensor *leaf, ag_post_accumulate_hook hook,
                                           void *userdata);

/* Backward one node at a time: begin takes ag_backward_with's arguments (NULL after an
 * error); each step runs the next node that receives a gradient and returns it (NULL when
 * none is left: the leaves' .grad are then final); end finishes what is left and frees the
 * run. Between steps, grad mode and the current tape are yours. */
typedef struct ag_backward_run ag_backward_run;
ag_backward_run *ag_backward_begin(ag_tensor *t, const ag_tensor *gradient, bool retain_graph);
const ag_node *ag_backward_step(ag_backward_run *run);
void ag_backward_end(ag_backward_run *run);

/* Narrated backward: while set (per thread), every backward writes to out, node by node in
 * reverse order, the op, its file:line and local rule, the gradient arriving, and what it adds
 * to each input (values for tensors of up to 8 elements). NULL turns it off. */
void ag_set_backward_trace(FILE *out);

/* Anomaly mode (torch.autograd.set_detect_anomaly, per thread): the first op whose forward
 * or backward produces a NaN or an infinity is reported as an error naming the op, the
 * file:line that recorded it and its inputs' shapes. */
void ag_set_detect_anomaly(bool enabled);
bool ag_is_anomaly_enabled(void);

/* "Why is this grad empty?": writes into buf (as snprintf; returns buf) why t has, or has no,
 * gradient from loss: never used by it, computed in no-grad (at file:line), detached, not
 * requiring grad, a non-leaf without retain_grad, set to None, or backward not yet run. */
const char *ag_explain_grad(const ag_tensor *loss, const ag_tensor *t, char *buf, size_t size);

/* The graph behind root as Graphviz DOT: tensors (name, shape, and data and grad when small)
 * and ops (name, file:line) as their own nodes; `dot -Tsvg` draws it. Returns 0, or -1 with
 * ag_last_error() saying why (the error handler is not called: this touches a file). */
int ag_graph_dot(const ag_tensor *root, FILE *out);
int ag_graph_dot_file(const ag_tensor *root, const char *path);

/* ---------------------------------------------------------------------------------------- */
/* Custom differentiable ops (torch.autograd.Function; autograd/custom.c)                    */
/* ---------------------------------------------------------------------------------------- */

/* forward computes the output from the inputs (grad mode is off inside it) and may save
 * tensors and numbers on ctx; backward receives the output's gradient and sets
 * grad_inputs[k] (each NULL on entry) to the gradient for input k, or leaves it NULL. */
typedef struct ag_ctx ag_ctx;
typedef struct ag_custom_op {
    const char *name; /* shown as grad_fn, e.g. "SwishBackward" */
    const char *rule; /* one line of math, for traces */
    ag_tensor *(*forward)(ag_ctx *ctx, ag_tensor *const *inputs, int n);
    void (*backward)(ag_ctx *ctx, ag_tensor *grad_output, ag_tensor **grad_inputs, int n);
} ag_custom_op;
/* Runs op on the inputs and records it; returns a tape-owned tensor, or NULL. */
ag_tensor *ag_apply(const ag_custom_op *op, ag_tensor *const *inputs, int n);
void ag_ctx_save(ag_ctx *ctx, ag_tensor *t);          /* up to 4, read back in order */
ag_tensor *ag_ctx_saved(ag_ctx *ctx, int k);          /* checked for in-place changes */
void ag_ctx_set_value(ag_ctx *ctx, int k, double v);  /* k in 0..3 */
double ag_ctx_value(const ag_ctx *ctx, int k);
bool ag_ctx_needs_grad(const ag_ctx *ctx, int k);     /* whether input k wants a gradient */

/* ---------------------------------------------------------------------------------------- */
/* Checking gradients                                                                         */
/* ---------------------------------------------------------------------------------------- */

/* A function of several tensors, as gradcheck calls it: returns a tensor made by ops. */
typedef ag_tensor *(*ag_function)(ag_tensor *const *inputs, void *ctx);

typedef struct ag_gradcheck_report {
    bool ok;
    int input;              /* the input holding the worst Jacobian entry */
    int64_t input_index;    /* its flat index in that input */
    int64_t output_index;   /* and the output element */
    double analytic, numeric, abs_error, rel_error;
    char message[256];      /* one line saying all of the above */
} ag_gradcheck_report;

/* torch.autograd.gradcheck: compares every entry of the Jacobian of f that backward computes
 * with central differences (f(x + eps) - f(x - eps)) / 2 eps, and passes when each
 * |analytic - numeric| <= atol + rtol |numeric|. Use float64 inputs; those that do not
 * require grad are held fixed. The inputs and their .grad are left as they were. f runs on a
 * private tape. report (may be NULL) receives the worst entry. */
bool ag_gradcheck(ag_function f, void *ctx, ag_tensor *const *inputs, int ninputs, double eps,
                  double atol, double rtol, ag_gradcheck_report *report);

/* How many tensors you own are alive (each .grad counts as one): a leak check for tests. */
int64_t ag_live_tensors(void);

/* ---------------------------------------------------------------------------------------- */
/* Errors                                                                                     */
/* ---------------------------------------------------------------------------------------- */

/* A handler gets the full message ("file:line: op: what went wrong") and your pointer. The
 * default prints it to stderr and aborts. Per thread; returns the previous handler. */
typedef void (*ag_error_handler)(const char *message, void *userdata);
ag_error_handler ag_set_error_handler(ag_error_handler handler, void *userdata);
/* The last error reported on this thread ("" if none), and a way to clear it. */
const char *ag_last_error(void);
void ag_clear_error(void);

/* Where the next public call comes from: set by the wrapping macros of ops.h so that errors
 * and graph nodes name your file:line. */
void ag_here(const char *file, int line);
#define AG_AT_(call) (ag_here(__FILE__, __LINE__), call)
#ifndef AG_BUILDING_LIBRARY
#define ag_backward(...) AG_AT_(ag_backward(__VA_ARGS__))
#define ag_backward_with(...) AG_AT_(ag_backward_with(__VA_ARGS__))
#define ag_item(...) AG_AT_(ag_item(__VA_ARGS__))
#endif

#ifdef __cplusplus
}
#endif

#include "autograd/random.h"
#include "autograd/safetensors.h"
#include "ops/ops.h"
#include "optim/optim.h"

#endif
