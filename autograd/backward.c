/*
 * backward.c - reverse-mode differentiation: one reverse loop over the tape.
 *
 * The tape lists nodes in the order their ops ran, so every node comes after the nodes that
 * made its inputs. Walking it backwards from the loss's node therefore reaches a node only
 * after every node that uses its output has added its share into node->grad: the chain rule,
 * in topological order, with no recursion and no visited flags. Nodes that the loss does not
 * depend on never receive a gradient and are skipped.
 */
#include "autograd/internal.h"

#include <stdlib.h>
#include <string.h>

static const char *tensor_type_name(ag_dtype dtype) {
    return dtype == AG_FLOAT32 ? "torch.FloatTensor"
           : dtype == AG_FLOAT64 ? "torch.DoubleTensor"
                                 : "torch.LongTensor";
}

void ag_save(ag_node *node, ag_tensor *t) {
    if (!node || !t) return;
    if (node->nsaved == AG_MAX_SAVED) {
        AG_ERROR(node->op->name, "internal error: more than %d saved tensors", AG_MAX_SAVED);
        return;
    }
    node->saved[node->nsaved] = t;
    node->saved_version[node->nsaved] = ag_version(t);
    node->nsaved++;
}

ag_tensor *ag_saved(ag_node *node, int k) {
    if (node->released) {
        AG_ERROR(node->op->name,
                 "Trying to backward through the graph a second time (or directly access saved "
                 "tensors after they have already been freed). Saved intermediate values of the "
                 "graph are freed when you call .backward() or autograd.grad(). Specify "
                 "retain_graph=True if you need to backward through the graph a second time or "
                 "if you need to access saved tensors after calling backward.");
        return NULL;
    }
    ag_tensor *t = node->saved[k];
    uint64_t now = ag_version(t);
    if (now != node->saved_version[k]) {
        char shape[AG_SHAPE_STR], maker[64] = "";
        if (t->grad_fn) snprintf(maker, sizeof maker, ", which is output 0 of %s",
                                 t->grad_fn->op->name);
        AG_ERROR(node->op->name,
                 "one of the variables needed for gradient computation has been modified by an "
                 "inplace operation: [%s %s]%s, is at version %llu; expected version %llu "
                 "instead. (It was saved by the %s node recorded at %s:%d.)",
                 tensor_type_name(t->dtype), ag_shape_str(shape, t->ndim, t->shape), maker,
                 (unsigned long long)now, (unsigned long long)node->saved_version[k],
                 node->op->name, node->file ? node->file : "?", node->line);
        return NULL;
    }
    return t;
}

bool ag_needs_grad(const ag_node *node, int k) {
    return node->inputs[k] && node->inputs[k]->requires_grad;
}

/* Adds g into *slot, a gradient of t's shape; the first contribution allocates it (zeroed):
 * user-owned for a user-owned leaf's .grad, on the tape otherwise. */
static void add_into(ag_tensor **slot, const ag_tensor *t, bool user_owned, const ag_tensor *g) {
    if (!*slot) {
        ag_tensor *z = user_owned ? ag_empty_like(t) : ag_result_like(t);
        if (!z) return;
        memset(z->data, 0, (size_t)z->numel * ag_dtype_size(z->dtype));
        *slot = z;
    }
    ag_add_reduced(*slot, g);
}

/* Adds g into t's gradient: its node's grad for a non-leaf, its .grad for a leaf. */
static void accumulate_into(ag_tensor *t, const ag_tensor *g) {
    if (t->grad_fn)
        add_into(&t->grad_fn->grad, t, false, g);
    else
        add_into(&t->grad, t, !t->tape, g);
}

void ag_accumulate(ag_node *node, int k, const ag_tensor *g) {
    ag_tensor *in = node->inputs[k];
    if (!in || !in->requires_grad || !g) return;
    accumulate_into(in, g);
}

void ag_backward_with(ag_tensor *t, const ag_tensor *gradient, bool retain_graph) {
    const char *op = "backward";
    if (!ag_check_tensor(op, t, "tensors")) return;
    if (!t->requires_grad) {
        AG_ERROR(op, "element 0 of tensors does not require grad and does not have a grad_fn");
        return;
    }
    char s1[AG_SHAPE_STR], s2[AG_SHAPE_STR];
    if (!gradient && t->numel != 1) {
        AG_ERROR(op, "grad can be implicitly created only for scalar outputs (the output has "
                     "shape %s)", ag_shape_str(s1, t->ndim, t->shape));
        return;
    }
    if (gradient && (!ag_same_shape(gradient, t) || gradient->dtype == AG_INT64)) {
        AG_ERROR(op, "Mismatch in shape: grad_output[0] has a shape of torch.Size(%s) and "
                     "output[0] has a shape of torch.Size(%s).",
                 ag_shape_str(s1, gradient->ndim, gradient->shape),
                 ag_shape_str(s2, t->ndim, t->shape));
        return;
    }
    /* Backward computes with ops, which must record nothing; and it allocates on the tape that
     * holds the graph. */
    ag_mode_guard guard;
    ag_guard_push(&guard);
    ag_set_grad_enabled(false);
    ag_tape_use(t->grad_fn ? t->grad_fn->tape : ag_tape_current());
    uint64_t errors = ag_error_count();

    ag_tensor *seed = ag_result_like(t);
    if (seed) {
        if (gradient)
            for (int64_t i = 0; i < t->numel; i++) {
                if (t->dtype == AG_FLOAT32)
                    AG_F32(seed)[i] = (float)ag_get(gradient, i);
                else
                    AG_F64(seed)[i] = ag_get(gradient, i);
            }
        else if (t->dtype == AG_FLOAT32)
            AG_F32(seed)[0] = 1.0f;
        else
            AG_F64(seed)[0] = 1.0;
    }
    if (!seed) {
        /* out of memory, reported */
    } else if (!t->grad_fn) {
        accumulate_into(t, seed); /* a leaf: d t / d t = 1 */
    } else {
        int64_t n;
        ag_node **nodes = ag_tape_nodes(t->grad_fn->tape, &n);
        accumulate_into(t, seed);
        for (int64_t i = t->grad_fn->index; i >= 0; i--) {
            ag_node *node = nodes[i];
            if (!node->grad) continue;
            if (node->out->retains_grad) add_into(&node->out->grad, node->out, false, node->grad);
            node->op->backward(node);
            node->grad = NULL;
            if (!retain_graph) node->released = true;
            if (ag_error_count() != errors) break; /* a handler returned: stop here */
        }
        if (ag_error_count() != errors) /* leave no half-summed gradient behind */
            for (int64_t i = 0; i < n; i++) nodes[i]->grad = NULL;
    }
    ag_guard_pop(&guard);
}

void ag_backward(ag_tensor *loss) { ag_backward_with(loss, NULL, false); }
