/*
 * backward.c - reverse-mode differentiation: one reverse loop over the tape.
 *
 * The tape lists nodes in the order their ops ran, so every node comes after the nodes that
 * made its inputs. Walking it backwards from the loss's node therefore reaches a node only
 * after every node that uses its output has added its share into node->grad: the chain rule,
 * in topological order, with no recursion and no visited flags. Nodes that the loss does not
 * depend on never receive a gradient and are skipped.
 *
 * Leaves are not on the tape. What reaches a leaf is summed in leaf->pending_grad while the
 * walk goes on, and added into leaf->grad once at the end (after the leaf's hooks), as
 * PyTorch's AccumulateGrad does: a failed backward therefore leaves every .grad untouched.
 *
 * A run can also go one node at a time (ag_backward_begin / _step / _end), which is how
 * ag_backward_with runs it, and how a teacher or a debugger can watch it.
 */
#include "autograd/internal.h"

#include <math.h>
#include <stdlib.h>

/* A leaf that received gradient in this run (a list in tape memory). While write is set, the
 * leaf's gradient so far is one contribution not yet computed (ag_accumulate_write): the flush
 * writes it straight into .grad, and leaf->pending_grad is NULL. */
typedef struct pending_leaf {
    ag_tensor *leaf;
    struct pending_leaf *next;
    ag_grad_write write;
    const void *args;
} pending_leaf;

struct ag_backward_run {
    ag_tensor *root;
    ag_tape *tape;          /* where the graph lives and temporaries go */
    int64_t next;           /* the next tape index to visit, counting down */
    bool retain_graph;
    bool heap;              /* made by ag_backward_begin, freed by ag_backward_end */
    bool done;
    uint64_t errors;        /* ag_error_count() at the start */
    pending_leaf *leaves;
    int64_t written_later;  /* leaves whose pending_leaf has a write */
    FILE *trace;
};

static AG_THREAD_LOCAL ag_backward_run *running; /* the run whose step is executing */
static AG_THREAD_LOCAL FILE *trace_out;

void ag_set_backward_trace(FILE *out) { trace_out = out; }

/* ---- saved tensors ------------------------------------------------------------------------ */

static const char *tensor_type_name(ag_dtype dtype) {
    return dtype == AG_FLOAT32 ? "torch.FloatTensor"
           : dtype == AG_FLOAT64 ? "torch.DoubleTensor"
                                 : "torch.LongTensor";
}

/* ag_save and ag_saved are inline (internal.h); here are their rare paths. */
AG_COLD void ag_save_overflow(ag_node *node) {
    AG_ERROR(node->op->name, "internal error: more than %d saved tensors", AG_MAX_SAVED);
}

/* Why ag_saved() cannot give saved tensor k: reports it. */
AG_COLD void ag_saved_error(ag_node *node, int k) {
    if (node->released) {
        AG_ERROR(node->op->name,
                 "Trying to backward through the graph a second time (or directly access saved "
                 "tensors after they have already been freed). Saved intermediate values of the "
                 "graph are freed when you call .backward() or autograd.grad(). Specify "
                 "retain_graph=True if you need to backward through the graph a second time or "
                 "if you need to access saved tensors after calling backward.");
        return;
    }
    ag_tensor *t = node->saved[k];
    uint64_t now = ag_version_inline(t);
    if (now != node->saved_version[k]) {
        char shape[AG_SHAPE_STR], maker[64] = "";
        if (t->grad_fn)
            snprintf(maker, sizeof maker, ", which is output 0 of %s,", t->grad_fn->op->name);
        AG_ERROR(node->op->name,
                 "one of the variables needed for gradient computation has been modified by an "
                 "inplace operation: [%s %s]%s is at version %llu; expected version %llu "
                 "instead. (It was saved by the %s node recorded at %s:%d.)",
                 tensor_type_name(t->dtype), ag_shape_str(shape, t->ndim, t->shape), maker,
                 (unsigned long long)now, (unsigned long long)node->saved_version[k],
                 node->op->name, node->file ? node->file : "?", node->line);
    }
}

/* ---- narration ---------------------------------------------------------------------------- */

/* Values of a small tensor ("-30", "[0.25, 0.5]"), or its shape for a large one. */
static const char *values_str(const ag_tensor *t, char *buf, size_t size) {
    char shape[AG_SHAPE_STR];
    if (!t) return "None";
    if (t->numel > 8) {
        snprintf(buf, size, "(shape %s)", ag_shape_str(shape, t->ndim, t->shape));
        return buf;
    }
    size_t n = 0;
    if (t->ndim) n += (size_t)snprintf(buf + n, size - n, "[");
    for (int64_t i = 0; i < t->numel && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ", %.6g" : "%.6g", ag_get(t, i));
    if (t->ndim && n < size) snprintf(buf + n, size - n, "]");
    return buf;
}

/* How a trace names a tensor: its label, else what made it, else its shape. */
static const char *who(const ag_tensor *t, char *buf, size_t size) {
    char shape[AG_SHAPE_STR];
    if (t->name)
        snprintf(buf, size, "%s", t->name);
    else if (t->grad_fn)
        snprintf(buf, size, "output of %s", t->grad_fn->op->name);
    else
        snprintf(buf, size, "leaf %s", ag_shape_str(shape, t->ndim, t->shape));
    return buf;
}

/* ---- accumulating ------------------------------------------------------------------------- */

/* Whether a temporary given up for t's gradient can become it as it is: t's dtype and shape. */
static inline bool can_keep(const ag_tensor *temp, const ag_tensor *t) {
    return temp && temp->dtype == t->dtype && temp->dtype != AG_INT64 &&
           ag_same_shape_inline(temp, t);
}

/* Adds g into *slot, a gradient of t's shape. The first contribution becomes it as it is, as
 * in torch (whose engine stores an input's first gradient, and whose AccumulateGrad steals or
 * clones a leaf's first one: a -0 stays -0): temp is g when the caller gives g up, else NULL,
 * and a temp of t's own dtype and shape becomes the gradient itself, with no copy. Otherwise
 * the gradient is made as a copy of g, or the sum of g over the dims where t was broadcast:
 * user-owned for a user-owned leaf's .grad, on the tape otherwise. */
static inline void add_into(ag_tensor **slot, const ag_tensor *t, bool user_owned,
                            const ag_tensor *g, ag_tensor *temp) {
    if (*slot) {
        ag_add_reduced(*slot, g);
    } else if (!user_owned && can_keep(temp, t)) {
        *slot = temp;
    } else {
        *slot = user_owned ? ag_empty(t->dtype, t->ndim, t->shape)
                           : ag_result_like(t);
        if (*slot) ag_set_reduced(*slot, g);
    }
}

/* A put-off write's gradient, made now in a temporary: it becomes p's leaf's pending sum. */
static void write_into_pending(ag_backward_run *run, pending_leaf *p) {
    ag_tensor *leaf = p->leaf, *g = ag_result_like(leaf);
    if (g) p->write(p->args, g->data, false);
    leaf->pending_grad = g;
    p->write = NULL;
    run->written_later--;
}

/* Every put-off write made now, into its leaf's pending sum: before the user's code runs (a
 * hook, a custom backward), which may change in place what the writes read. */
AG_COLD static void write_all_now(ag_backward_run *run) {
    for (pending_leaf *p = run->leaves; p; p = p->next)
        if (p->write) write_into_pending(run, p);
}

/* When leaf t has a put-off write in this run: writes it into t's pending sum (which another
 * gradient is about to join), and returns true. */
AG_COLD static bool write_now(ag_backward_run *run, ag_tensor *t) {
    for (pending_leaf *p = run->leaves; p; p = p->next)
        if (p->leaf == t && p->write) {
            write_into_pending(run, p);
            return true;
        }
    return false;
}

/* Adds g into t's gradient for this run: fn's grad where fn made t (when the edge was
 * recorded), else t's pending sum as a leaf. */
static inline void accumulate_into(ag_backward_run *run, ag_tensor *t, ag_node *fn,
                                   const ag_tensor *g, ag_tensor *temp) {
    if (fn) {
        add_into(&fn->grad, t, false, g, temp);
        return;
    }
    if (t->pending_grad || (run->written_later && write_now(run, t))) {
        add_into(&t->pending_grad, t, false, g, temp);
        return;
    }
    /* The leaf's first gradient in this run: it goes on the run's list, and becomes its pending
     * sum as add_into would make it (temp kept, else g copied or summed to t's shape, in one
     * block with the list's entry). */
    pending_leaf *p;
    if (can_keep(temp, t)) {
        if (!(p = ag_tape_alloc(sizeof *p))) return;
        t->pending_grad = temp;
    } else {
        void *extra;
        ag_tensor *sum = ag_result_shaped_with(t->dtype, t, sizeof *p, &extra);
        if (!sum) return;
        ag_set_reduced(sum, g);
        t->pending_grad = sum;
        p = extra;
    }
    *p = (pending_leaf){.leaf = t, .next = run->leaves};
    run->leaves = p;
}

/* accumulate's watched path, in anomaly mode or with a trace: checks g for NaN and infinity
 * (false after reporting one) and narrates what input k receives. */
AG_COLD static bool watch(ag_backward_run *run, ag_node *node, int k, const ag_tensor *g) {
    ag_tensor *in = node->inputs[k];
    if (ag_anomaly_on && !ag_anomaly_check("backward", node, g)) return false;
    if (run->trace) {
        /* Show what the input receives, summed to its own shape. */
        ag_tensor *share = ag_result_zeros(in->dtype, in->ndim, in->shape);
        if (share) {
            ag_add_reduced(share, g);
            char name[96], values[256];
            fprintf(run->trace, "      input %d (%s) += %s\n", k, who(in, name, sizeof name),
                    values_str(share, values, sizeof values));
        }
    }
    return true;
}

/* ag_accumulate and ag_accumulate_temp: temp is g when the caller gives it up, else NULL. */
AG_NOINLINE static void accumulate(ag_node *node, int k, const ag_tensor *g, ag_tensor *temp) {
    ag_backward_run *run = running;
    if (!node->input_needs[k] || !g || !run) return;
    if ((ag_anomaly_on || run->trace) && !watch(run, node, k, g)) return;
    /* (as a check: a temporary is on the run's tape, not a view, not in a graph; and
     * node->grad may be a hook's replacement, which the hook may hold on to) */
    if (temp && (temp->tape != run->tape || temp->base || temp->requires_grad ||
                 (temp == node->grad && node->out->hooks)))
        temp = NULL;
    accumulate_into(run, node->inputs[k], node->input_fns[k], g, temp);
}

void ag_accumulate(ag_node *node, int k, const ag_tensor *g) { accumulate(node, k, g, NULL); }

/* The common case of ag_accumulate_temp, tested before anything else: nothing watches (no
 * anomaly mode, no trace), g may be given up (as accumulate checks), and it is the first
 * gradient of a node's output, with its dtype and shape: then g becomes that gradient, as
 * accumulate would make it, without the full path's calls and register saves. */
void ag_accumulate_temp(ag_node *node, int k, ag_tensor *g) {
    ag_backward_run *run = running;
    ag_node *fn = node->input_fns[k];
    const ag_tensor *in = node->inputs[k];
    if (run && g && fn && !fn->grad && node->input_needs[k] && !ag_anomaly_on && !run->trace &&
        g->tape == run->tape && !g->base && !g->requires_grad &&
        !(g == node->grad && node->out->hooks) && g->dtype == in->dtype &&
        ag_is_floating(g->dtype) && ag_same_shape_inline(g, in)) {
        fn->grad = g;
        return;
    }
    accumulate(node, k, g, g);
}

/* A leaf's first gradient in a run of ag_backward (not one watched: no anomaly mode, no trace,
 * no hooks, not run step by step) is put off until the flush, which writes it into .grad; any
 * other is written into a temporary now and accumulated as such. */
void ag_accumulate_write(ag_node *node, int k, ag_grad_write write, const void *args,
                         bool exact_add) {
    ag_backward_run *run = running;
    ag_tensor *in = node->inputs[k];
    if (!run || !node->input_needs[k]) return;
    if (exact_add && !node->input_fns[k] && !in->tape && !in->hooks && !run->heap &&
        !run->trace && !ag_anomaly_on && !in->pending_grad &&
        !(run->written_later && write_now(run, in))) {
        pending_leaf *p = ag_tape_alloc(sizeof *p);
        if (!p) return;
        *p = (pending_leaf){.leaf = in, .next = run->leaves, .write = write, .args = args};
        run->leaves = p;
        run->written_later++;
        return;
    }
    ag_tensor *g = ag_result_like(in);
    if (!g) return;
    write(args, g->data, false);
    ag_accumulate_temp(node, k, g);
}

/* (The same conditions as accumulate's for giving node->grad up: it is this node's alone, as
 * add_into hands each temporary to one gradient only.) */
ag_tensor *ag_grad_scratch(ag_node *node) {
    ag_tensor *g = node->grad;
    ag_backward_run *run = running;
    if (!g || !run || ag_anomaly_on || node->out->hooks || g->tape != run->tape || g->base ||
        g->requires_grad)
        return NULL;
    return g;
}

/* ---- a run -------------------------------------------------------------------------------- */

static bool run_begin(ag_backward_run *run, ag_tensor *t, const ag_tensor *gradient,
                      bool retain_graph) {
    const char *op = "backward";
    if (!ag_check_tensor(op, t, "tensors")) return false;
    if (!t->requires_grad) {
        AG_ERROR(op, "element 0 of tensors does not require grad and does not have a grad_fn");
        return false;
    }
    char s1[AG_SHAPE_STR], s2[AG_SHAPE_STR];
    if (!gradient && t->numel != 1) {
        AG_ERROR(op, "grad can be implicitly created only for scalar outputs (the output has "
                     "shape %s)", ag_shape_str(s1, t->ndim, t->shape));
        return false;
    }
    if (gradient && (!ag_same_shape(gradient, t) || gradient->dtype == AG_INT64)) {
        AG_ERROR(op, "Mismatch in shape: grad_output[0] has a shape of torch.Size(%s) and "
                     "output[0] has a shape of torch.Size(%s).",
                 ag_shape_str(s1, gradient->ndim, gradient->shape),
                 ag_shape_str(s2, t->ndim, t->shape));
        return false;
    }
    *run = (ag_backward_run){.root = t, .retain_graph = retain_graph, .trace = trace_out,
                             .tape = t->grad_fn ? t->grad_fn->tape : ag_tape_current(),
                             .next = t->grad_fn ? t->grad_fn->index : -1,
                             .errors = ag_error_count()};
    /* The seed: d t / d t = 1 for one element, else the given gradient (cast to t's dtype). */
    ag_tape *previous = ag_tape_use(run->tape);
    ag_tensor *seed = ag_result_like(t);
    if (seed && !gradient && t->dtype == AG_FLOAT32) { /* a float32 loss: one 1 */
        AG_F32(seed)[0] = 1.0f;
    } else if (seed) {
        for (int64_t i = 0; i < t->numel; i++) {
            double v = gradient ? ag_get(gradient, i) : 1.0;
            if (t->dtype == AG_FLOAT32)
                AG_F32(seed)[i] = (float)v;
            else
                AG_F64(seed)[i] = v;
        }
    }
    if (seed) accumulate_into(run, t, t->grad_fn, seed, seed);
    ag_tape_use(previous);
    if (run->trace) {
        char name[96];
        fprintf(run->trace, "backward from %s: %lld node(s) on the tape to walk\n",
                who(t, name, sizeof name), (long long)(run->next + 1));
    }
    return seed != NULL;
}

/* Runs one node: hooks and retain_grad on its output's gradient, then its backward. */
static void run_node(ag_backward_run *run, ag_node *node) {
    if (node->out->hooks) node->grad = ag_run_grad_hooks(node->out, node->grad);
    if (run->trace) {
        char values[256];
        fprintf(run->trace, "[%lld] %s at %s:%d    %s\n", (long long)node->index,
                node->op->name, node->file ? node->file : "?", node->line,
                node->op->rule ? node->op->rule : "");
        fprintf(run->trace, "      g = %s\n", values_str(node->grad, values, sizeof values));
    }
    if (node->out->retains_grad)
        add_into(&node->out->grad, node->out, false, node->grad, NULL);
    node->op->backward(node);
    node->grad = NULL;
    if (!run->retain_graph) node->released = true;
}

/* The .grad ag_set_grad_none took away from a user-owned leaf that has none now, taken back
 * for the next backward to fill: zero_grad(set_to_none=True) then costs no allocation and no
 * clearing. NULL when there is no such spare; one that no longer fits the leaf (its dtype or
 * shape, or a hook on it) is freed. */
static ag_tensor *take_spare(ag_tensor *leaf) {
    ag_tensor *spare = leaf->spare_grad;
    if (leaf->grad || leaf->tape || !spare) return NULL;
    leaf->spare_grad = NULL;
    if (spare->dtype != leaf->dtype || !ag_same_shape_inline(spare, leaf) || spare->hooks) {
        ag_tensor_free(spare);
        return NULL;
    }
    return spare;
}

/* A leaf's spare .grad filled with what a new one would hold (g, or g summed to the leaf's
 * shape). False when there is no such spare (or g is NULL). */
static bool refill_spare(ag_tensor *leaf, const ag_tensor *g) {
    ag_tensor *spare = g ? take_spare(leaf) : NULL;
    if (!spare) return false;
    ag_set_reduced(spare, g);
    leaf->grad = spare;
    return true;
}

/* The end of a leaf's flush: the trace's line, then post-accumulate hooks. */
static void flushed(ag_backward_run *run, ag_tensor *leaf) {
    if (run->trace) {
        char name[96], values[256];
        fprintf(run->trace, "leaf %s: grad = %s\n", who(leaf, name, sizeof name),
                values_str(leaf->grad, values, sizeof values));
    }
    for (ag_hook *h = leaf->hooks; h; h = h->next)
        if (h->post) h->post(leaf, h->userdata);
}

/* A put-off write straight into leaf's .grad, added (as a sum made in a temporary and added
 * in would be: ag_accumulate_write's exact_add), or into the .grad ag_set_grad_none took away.
 * False when the leaf has neither as a plain tensor of its dtype and shape. */
static bool write_into_grad(ag_tensor *leaf, const pending_leaf *p) {
    ag_tensor *grad = leaf->grad, *spare;
    if (grad) {
        if (grad->dtype != leaf->dtype || grad->base || grad->hooks ||
            !ag_same_shape_inline(grad, leaf))
            return false;
        p->write(p->args, grad->data, true);
        return true;
    }
    if (!(spare = take_spare(leaf))) return false;
    p->write(p->args, spare->data, false);
    leaf->grad = spare;
    return true;
}

/* Hooks, then each leaf's pending sum into its .grad, then post-accumulate hooks. */
static void run_flush(ag_backward_run *run) {
    for (pending_leaf *p = run->leaves; p && run->written_later; p = p->next)
        if (p->leaf->hooks) write_all_now(run); /* the user's code runs in this flush */
    for (pending_leaf *p = run->leaves; p; p = p->next) {
        ag_tensor *leaf = p->leaf;
        if (p->write) {
            if (!leaf->hooks && write_into_grad(leaf, p)) {
                run->written_later--;
                flushed(run, leaf);
                continue;
            }
            write_into_pending(run, p);
        }
        ag_tensor *g = leaf->pending_grad;
        leaf->pending_grad = NULL;
        if (leaf->hooks) g = ag_run_grad_hooks(leaf, g);
        if (!refill_spare(leaf, g)) add_into(&leaf->grad, leaf, !leaf->tape, g, NULL);
        flushed(run, leaf);
    }
    run->leaves = NULL;
}

/* After an error: drop every gradient this run summed, so nothing half-done remains. */
static void run_abandon(ag_backward_run *run) {
    int64_t n;
    ag_node **nodes = ag_tape_nodes(run->tape, &n);
    for (int64_t i = 0; i < n; i++) nodes[i]->grad = NULL;
    for (pending_leaf *p = run->leaves; p; p = p->next) p->leaf->pending_grad = NULL;
    run->leaves = NULL;
    run->done = true;
}

/* Runs the nodes that have a gradient, from run->next down: all of them (and then the
 * leaves), or only the next one when one_step. Returns the last node run; NULL when none was
 * left (the walk is then over) or after an error. Grad mode and the current tape are set for
 * the whole call and put back at its end. */
static ag_node *run_steps(ag_backward_run *run, bool one_step) {
    if (run->done) return NULL;
    ag_mode_guard guard;
    ag_guard_push(&guard);
    ag_set_grad_enabled(false);
    ag_tape_use(run->tape);
    ag_backward_run *outer = running;
    running = run;
    int64_t n;
    ag_node **nodes = ag_tape_nodes(run->tape, &n);
    ag_node *ran = NULL;
    while (run->next >= 0 && !(one_step && ran)) {
        ag_node *node = nodes[run->next--];
        if (!node->grad) continue;
        if (run->written_later && (node->ctx || node->out->hooks)) write_all_now(run);
        run_node(run, node);
        ran = node;
        if (ag_error_count() != run->errors) break;
        if (node->ctx || node->out->hooks) {
            /* The user's code ran (a custom backward, a hook): it may have changed the mode,
             * or recorded on the tape. Set the mode again, and re-read the node list. */
            ag_set_grad_enabled(false);
            ag_tape_use(run->tape);
            nodes = ag_tape_nodes(run->tape, &n);
        }
    }
    if (ag_error_count() != run->errors) {
        run_abandon(run);
        ran = NULL;
    } else if (!(one_step && ran)) {
        run_flush(run);
        run->done = true;
    }
    running = outer;
    ag_guard_pop(&guard);
    return ran;
}

/* ---- the public API ----------------------------------------------------------------------- */

void ag_backward_with(ag_tensor *t, const ag_tensor *gradient, bool retain_graph) {
    ag_backward_run run;
    if (run_begin(&run, t, gradient, retain_graph)) run_steps(&run, false);
}

void ag_backward(ag_tensor *loss) { ag_backward_with(loss, NULL, false); }

ag_backward_run *ag_backward_begin(ag_tensor *t, const ag_tensor *gradient, bool retain_graph) {
    ag_backward_run *run = malloc(sizeof *run);
    if (!run) {
        AG_ERROR("backward", "out of memory");
        return NULL;
    }
    if (!run_begin(run, t, gradient, retain_graph)) {
        free(run);
        return NULL;
    }
    run->heap = true;
    return run;
}

const ag_node *ag_backward_step(ag_backward_run *run) {
    return run ? run_steps(run, true) : NULL;
}

void ag_backward_end(ag_backward_run *run) {
    if (!run) return;
    run_steps(run, false);
    if (run->heap) free(run);
}
