/*
 * explain.c - looking inside the graph: reading nodes, asking why a tensor has no gradient,
 * and drawing the graph as Graphviz DOT.
 *
 * The part of the tape a loss depends on is found the way backward finds it: walk the tape in
 * reverse from the loss's node, marking the nodes that make the inputs of a marked node. The
 * marks live in a scratch array indexed by tape position, never in the nodes themselves.
 */
#include "autograd/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

/* ---- nodes -------------------------------------------------------------------------------- */

const char *ag_node_name(const ag_node *node) { return node ? node->op->name : NULL; }
const char *ag_node_rule(const ag_node *node) { return node ? node->op->rule : NULL; }
const char *ag_node_file(const ag_node *node) { return node ? node->file : NULL; }
int ag_node_line(const ag_node *node) { return node ? node->line : 0; }
int ag_node_ninputs(const ag_node *node) { return node ? node->ninputs : 0; }
ag_tensor *ag_node_output(const ag_node *node) { return node ? node->out : NULL; }
const ag_tensor *ag_node_grad(const ag_node *node) { return node ? node->grad : NULL; }

ag_tensor *ag_node_input(const ag_node *node, int k) {
    return node && k >= 0 && k < node->ninputs ? node->inputs[k] : NULL;
}

/* Marks (in tape memory) the nodes root's value depends on; NULL if root has no node. */
static bool *mark_ancestors(const ag_tensor *root, ag_node ***nodes_out) {
    if (!root || !root->grad_fn) return NULL;
    ag_tape *tape = root->grad_fn->tape;
    int64_t n;
    ag_node **nodes = ag_tape_nodes(tape, &n);
    ag_tape *previous = ag_tape_use(tape);
    bool *marked = ag_tape_alloc((size_t)n);
    ag_tape_use(previous);
    if (!marked) return NULL;
    memset(marked, 0, (size_t)n);
    marked[root->grad_fn->index] = true;
    for (int64_t i = root->grad_fn->index; i >= 0; i--) {
        if (!marked[i]) continue;
        for (int k = 0; k < nodes[i]->ninputs; k++) {
            const ag_node *fn = nodes[i]->input_fns[k];
            if (fn && fn->tape == tape) marked[fn->index] = true;
        }
    }
    *nodes_out = nodes;
    return marked;
}

/* Whether t is an input of a node root depends on (or root itself). */
static bool used_by(const ag_tensor *root, const ag_tensor *t) {
    if (root == t) return true;
    ag_node **nodes;
    bool *marked = mark_ancestors(root, &nodes);
    if (!marked) return false;
    for (int64_t i = root->grad_fn->index; i >= 0; i--) {
        if (!marked[i]) continue;
        for (int k = 0; k < nodes[i]->ninputs; k++)
            if (nodes[i]->inputs[k] == t || (t->grad_fn && nodes[i] == t->grad_fn)) return true;
    }
    return false;
}

/* ---- why is this grad empty? -------------------------------------------------------------- */

static const char *say(char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return buf;
}

const char *ag_explain_grad(const ag_tensor *loss, const ag_tensor *t, char *buf, size_t size) {
    if (!buf || size == 0) return buf;
    if (!t) return say(buf, size, "the tensor is NULL");
    const char *file = t->file ? t->file : "?";
    int origin = t->origin & ~AG_GRAD_CLEARED;
    if (!t->requires_grad) {
        if (origin == AG_MADE_BY_DETACH)
            return say(buf, size, "it was made by ag_detach (at %s:%d): it shares the data but "
                                  "not the history, so no gradient flows to it", file, t->line);
        if (origin == AG_MADE_WITHOUT_GRAD)
            return say(buf, size, "it was computed while grad mode was off (at %s:%d), so no op "
                                  "recorded how it was made", file, t->line);
        return say(buf, size, "it does not require grad: call ag_requires_grad_(t, true) "
                              "before computing with it");
    }
    bool used = loss && used_by(loss, t);
    if (t->grad_fn && !t->retains_grad)
        return say(buf, size, "it is not a leaf (made by %s at %s:%d): the gradients of "
                              "intermediate results are not kept; call ag_retain_grad on it "
                              "before backward%s", t->grad_fn->op->name,
                   t->grad_fn->file ? t->grad_fn->file : "?", t->grad_fn->line,
                   used ? "" : " (and it is not used by this loss)");
    if (loss && !used)
        return say(buf, size, "it was never used to compute the loss: no op on the path to the "
                              "loss takes it as an input");
    if (t->grad) return say(buf, size, "it has a gradient");
    if (t->origin & AG_GRAD_CLEARED)
        return say(buf, size, "its grad was set to None by ag_set_grad_none (at %s:%d) after "
                              "the last backward", file, t->line);
    return say(buf, size, "backward has not reached it yet: call ag_backward on the loss");
}

/* ---- Graphviz ----------------------------------------------------------------------------- */

static void dot_values(FILE *out, const char *label, const ag_tensor *t) {
    fprintf(out, "\\n%s", label);
    if (t->ndim) fputc('[', out);
    for (int64_t i = 0; i < t->numel; i++) fprintf(out, i ? ", %.4g" : "%.4g", ag_get(t, i));
    if (t->ndim) fputc(']', out);
}

static void dot_tensor(FILE *out, const ag_tensor *t, bool root) {
    char shape[AG_SHAPE_STR];
    fprintf(out, "  t%p [shape=%s, label=\"%s%s", (const void *)t, root ? "doubleoctagon" : "box",
            t->name ? t->name : "", t->name ? " " : "");
    fprintf(out, "%s %s", ag_shape_str(shape, t->ndim, t->shape),
            t->dtype == AG_FLOAT64 ? "f64" : t->dtype == AG_INT64 ? "i64"
                                   : t->dtype == AG_UINT8 ? "u8" : "f32");
    if (t->numel <= 8) {
        dot_values(out, "data ", t);
        if (t->grad) dot_values(out, "grad ", t->grad);
    }
    fprintf(out, "\", style=filled, fillcolor=\"%s\"];\n",
            !t->grad_fn && t->requires_grad ? "#cfe8ff" : root ? "#ffe6b3" : "#f2f2f2");
}

int ag_graph_dot(const ag_tensor *root, FILE *out) {
    if (!root || !out) return ag_status_error("ag_graph_dot: %s is NULL", root ? "out" : "root");
    fprintf(out, "digraph autograd {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
    dot_tensor(out, root, true);
    ag_node **nodes;
    bool *marked = mark_ancestors(root, &nodes);
    for (int64_t i = marked ? root->grad_fn->index : -1; i >= 0; i--) {
        if (!marked[i]) continue;
        const ag_node *node = nodes[i];
        fprintf(out, "  n%p [shape=ellipse, label=\"%s\\n%s:%d\"];\n", (const void *)node,
                node->op->name, node->file ? node->file : "?", node->line);
        fprintf(out, "  n%p -> t%p;\n", (const void *)node, (const void *)node->out);
        if (node->out != root) dot_tensor(out, node->out, false);
        for (int k = 0; k < node->ninputs; k++) {
            const ag_tensor *in = node->inputs[k];
            if (!in) continue;
            /* Inputs made by a marked node are drawn as that node's output. */
            if (!node->input_fns[k]) dot_tensor(out, in, false);
            fprintf(out, "  t%p -> n%p;\n", (const void *)in, (const void *)node);
        }
    }
    fprintf(out, "}\n");
    return ferror(out) ? ag_status_error("ag_graph_dot: write failed") : 0;
}

int ag_graph_dot_file(const ag_tensor *root, const char *path) {
    if (!path) return ag_status_error("ag_graph_dot_file: path is NULL");
    FILE *out = fopen(path, "w");
    if (!out) return ag_status_error("ag_graph_dot_file: cannot open %s: %s", path,
                                     strerror(errno));
    int status = ag_graph_dot(root, out);
    if (fclose(out) != 0 && status == 0)
        status = ag_status_error("ag_graph_dot_file: cannot write %s: %s", path, strerror(errno));
    return status;
}
