/*
 * custom.c - differentiable ops written by the user, as torch.autograd.Function.
 *
 * ag_apply runs the user's forward with grad mode off (what it computes inside is not
 * recorded: the op is one node), then records one node whose descriptor carries the user's
 * name and whose backward calls the user's backward and accumulates what it returns. The
 * context (ctx) carries what forward saved to backward, as torch's ctx does.
 */
#include "autograd/internal.h"

#include <string.h>

#define AG_CTX_VALUES 4

struct ag_ctx {
    const ag_custom_op *def;
    ag_node *node;                    /* set once recorded; NULL inside forward */
    int nsaved;
    ag_tensor *saved[AG_MAX_SAVED];   /* while forward runs; then on the node */
    double values[AG_CTX_VALUES];
    int ninputs;
    ag_tensor *const *inputs;         /* valid during forward */
};

void ag_ctx_save(ag_ctx *ctx, ag_tensor *t) {
    if (!ctx || !t) return;
    if (ctx->node || ctx->nsaved == AG_MAX_SAVED) {
        AG_ERROR(ctx->def->name, ctx->node ? "ag_ctx_save is for forward only"
                                           : "at most 4 tensors can be saved");
        return;
    }
    ctx->saved[ctx->nsaved++] = t;
}

ag_tensor *ag_ctx_saved(ag_ctx *ctx, int k) {
    if (!ctx || k < 0 || k >= ctx->nsaved) {
        AG_ERROR(ctx ? ctx->def->name : "ag_ctx_saved", "no saved tensor %d", k);
        return NULL;
    }
    return ctx->node ? ag_saved(ctx->node, k) : ctx->saved[k];
}

void ag_ctx_set_value(ag_ctx *ctx, int k, double v) {
    if (ctx && k >= 0 && k < AG_CTX_VALUES) ctx->values[k] = v;
}

double ag_ctx_value(const ag_ctx *ctx, int k) {
    return ctx && k >= 0 && k < AG_CTX_VALUES ? ctx->values[k] : 0.0;
}

bool ag_ctx_needs_grad(const ag_ctx *ctx, int k) {
    if (!ctx || k < 0 || k >= ctx->ninputs) return false;
    return ctx->node ? ag_needs_grad(ctx->node, k) : ctx->inputs[k]->requires_grad;
}

static void custom_backward(ag_node *node) {
    ag_ctx *ctx = node->ctx;
    ag_tensor *grads[16] = {0};
    ctx->def->backward(ctx, node->grad, grads, node->ninputs);
    for (int k = 0; k < node->ninputs; k++) {
        if (!grads[k] || !ag_needs_grad(node, k)) continue;
        if (!ag_same_shape(grads[k], node->inputs[k])) {
            char s1[AG_SHAPE_STR], s2[AG_SHAPE_STR];
            AG_ERROR(node->op->name, "Function %s returned an invalid gradient at index %d - "
                                     "got %s but expected shape compatible with %s",
                     node->op->name, k, ag_shape_str(s1, grads[k]->ndim, grads[k]->shape),
                     ag_shape_str(s2, node->inputs[k]->ndim, node->inputs[k]->shape));
            return;
        }
        ag_accumulate(node, k, grads[k]);
    }
}

ag_tensor *ag_apply(const ag_custom_op *def, ag_tensor *const *inputs, int n) {
    const char *name = def && def->name ? def->name : "ag_apply";
    if (!def || !def->forward || !def->backward || n < 1 || n > 16 || !inputs) {
        AG_ERROR(name, "a custom op needs a forward, a backward and 1 to 16 inputs");
        return NULL;
    }
    for (int k = 0; k < n; k++)
        if (!ag_check_tensor(name, inputs[k], "inputs")) return NULL;
    ag_ctx *ctx = ag_tape_alloc(sizeof *ctx);
    ag_op *op = ag_tape_alloc(sizeof *op);
    if (!ctx || !op) return NULL;
    *ctx = (ag_ctx){.def = def, .ninputs = n, .inputs = inputs};
    *op = (ag_op){.name = name, .rule = def->rule, .backward = custom_backward};

    bool mode = ag_set_grad_enabled(false);
    ag_tensor *out = def->forward(ctx, inputs, n);
    ag_set_grad_enabled(mode);
    if (!out) return NULL;
    if (!out->tape) {
        AG_ERROR(name, "forward must return a tensor made by ops (tape-owned), not one you own");
        return NULL;
    }
    bool fresh = !out->base && !out->requires_grad;
    for (int k = 0; k < n; k++) fresh = fresh && out != inputs[k];
    if (!fresh) { /* an input or a view of one: the node needs a tensor of its own */
        ag_tensor *copy = ag_result_like(out);
        if (!copy) return NULL;
        memcpy(copy->data, out->data, (size_t)out->numel * ag_dtype_size(out->dtype));
        out = copy;
    }
    ag_node *node = ag_record(op, out, n, inputs);
    if (node) {
        node->ctx = ctx;
        ctx->node = node;
        for (int k = 0; k < ctx->nsaved; k++) ag_save(node, ctx->saved[k]);
    }
    ctx->inputs = NULL;
    return out;
}
