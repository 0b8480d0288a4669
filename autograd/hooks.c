/*
 * hooks.c - gradient hooks on tensors, as torch's register_hook and
 * register_post_accumulate_grad_hook.
 *
 * A tensor keeps its hooks in a list. Hooks of a tensor you own are malloc'd and freed with it
 * (ag_tensor_free); hooks of a tape-owned tensor live in tape memory and go with the tape.
 * backward.c calls them: a gradient hook once per backward with the tensor's total gradient,
 * a post-accumulate hook on a leaf after its .grad was updated.
 */
#include "autograd/internal.h"

#include <stdlib.h>

static void add_hook(ag_tensor *t, ag_grad_hook grad, ag_post_accumulate_hook post,
                     void *userdata) {
    ag_hook *h = t->tape ? ag_tape_alloc(sizeof *h) : malloc(sizeof *h);
    if (!h) {
        AG_ERROR("register_hook", "out of memory");
        return;
    }
    *h = (ag_hook){.grad = grad, .post = post, .userdata = userdata};
    ag_hook **end = &t->hooks;
    while (*end) end = &(*end)->next;
    *end = h;
}

void ag_register_hook(ag_tensor *t, ag_grad_hook hook, void *userdata) {
    if (!ag_check_tensor("register_hook", t, "self")) return;
    if (!t->requires_grad) {
        AG_ERROR("register_hook",
                 "cannot register a hook on a tensor that doesn't require gradient");
        return;
    }
    if (hook) add_hook(t, hook, NULL, userdata);
}

void ag_register_post_accumulate_grad_hook(ag_tensor *leaf, ag_post_accumulate_hook hook,
                                           void *userdata) {
    if (!ag_check_tensor("register_post_accumulate_grad_hook", leaf, "self")) return;
    if (leaf->grad_fn || !leaf->requires_grad) {
        AG_ERROR("register_post_accumulate_grad_hook",
                 "post accumulate grad hooks can only be registered on leaf tensors that "
                 "require grad");
        return;
    }
    if (hook) add_hook(leaf, NULL, hook, userdata);
}

ag_tensor *ag_run_grad_hooks(ag_tensor *t, ag_tensor *g) {
    for (ag_hook *h = t->hooks; h && g; h = h->next) {
        if (!h->grad) continue;
        ag_tensor *replacement = h->grad(g, h->userdata);
        if (!replacement) continue;
        if (!ag_same_shape(replacement, g)) {
            char s1[AG_SHAPE_STR], s2[AG_SHAPE_STR];
            AG_ERROR("hook", "hook returned a gradient of shape %s for a tensor of shape %s",
                     ag_shape_str(s1, replacement->ndim, replacement->shape),
                     ag_shape_str(s2, g->ndim, g->shape));
            return g;
        }
        g = replacement;
    }
    return g;
}

void ag_free_hooks(ag_tensor *t) {
    if (t->tape) return;
    for (ag_hook *h = t->hooks, *next; h; h = next) {
        next = h->next;
        free(h);
    }
    t->hooks = NULL;
}
