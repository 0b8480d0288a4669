/*
 * tape.c - the tape: the record of ops in the order they ran, and the arena that owns their
 * results. Also grad mode and the current tape, both per thread as PyTorch's grad mode is.
 *
 * Memory: a tape hands out memory from a list of chunks by bumping an offset. A reset rewinds
 * to the first chunk and keeps them all, so a training loop that makes the same tensors every
 * step reaches a high-water mark in its first step and never calls malloc again. The node
 * list is a growing array of pointers, kept across resets too.
 */
#include "autograd/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct chunk {
    struct chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
} chunk;

#define CHUNK_HEADER 64 /* keeps the data 64-byte aligned */
#define CHUNK_MIN ((size_t)1 << 16)
#define CHUNK_MAX ((size_t)1 << 26)

struct ag_tape {
    chunk *first, *current;
    size_t reserved;
    ag_node **nodes;
    int64_t nnodes, capacity;
    /* Tensors the caller owns that an in-place op made part of this tape's graph; a reset
     * turns them back into leaves. */
    ag_tensor **adopted;
    int64_t nadopted, adopted_capacity;
};

static _Thread_local ag_tape default_tape;
static _Thread_local ag_tape *current_tape;
static _Thread_local bool grad_disabled;
static _Thread_local bool anomaly;
static _Thread_local const char *site_file;
static _Thread_local int site_line;

/* ---- grad mode and call sites ------------------------------------------------------------- */

bool ag_is_grad_enabled(void) { return !grad_disabled; }

bool ag_set_grad_enabled(bool enabled) {
    bool previous = !grad_disabled;
    grad_disabled = !enabled;
    return previous;
}

void ag_set_detect_anomaly(bool enabled) { anomaly = enabled; }

bool ag_is_anomaly_enabled(void) { return anomaly; }

bool ag_anomaly_check(const char *what, const ag_node *node, const ag_tensor *t) {
    for (int64_t i = 0; i < t->numel; i++) {
        double v = t->dtype == AG_FLOAT32 ? AG_F32(t)[i] : AG_F64(t)[i];
        if (isfinite(v)) continue;
        char shapes[4 * AG_SHAPE_STR] = "", one[AG_SHAPE_STR];
        size_t n = 0;
        for (int k = 0; k < node->ninputs && n < sizeof shapes - AG_SHAPE_STR; k++) {
            const ag_tensor *in = node->inputs[k];
            n += (size_t)snprintf(shapes + n, sizeof shapes - n, k ? ", %s" : "%s",
                                  in ? ag_shape_str(one, in->ndim, in->shape) : "None");
        }
        AG_ERROR("anomaly", "Function '%s' (recorded at %s:%d, inputs of shape %s) returned %s "
                            "values in its %s output.",
                 node->op->name, node->file ? node->file : "?", node->line, shapes,
                 isnan(v) ? "nan" : "inf", what);
        return false;
    }
    return true;
}

void ag_here(const char *file, int line) {
    site_file = file;
    site_line = line;
}

void ag_site(const char **file, int *line) {
    *file = site_file;
    *line = site_line;
}

static _Thread_local ag_mode_guard *guards;

void ag_guard_push(ag_mode_guard *guard) {
    guard->grad_enabled = !grad_disabled;
    guard->tape = ag_tape_current();
    guard->outer = guards;
    guards = guard;
}

void ag_guard_pop(ag_mode_guard *guard) {
    grad_disabled = !guard->grad_enabled;
    current_tape = guard->tape;
    guards = guard->outer;
}

void ag_guard_unwind(void) {
    ag_mode_guard *outermost = guards;
    while (outermost && outermost->outer) outermost = outermost->outer;
    if (outermost) ag_guard_pop(outermost);
    guards = NULL;
}

/* ---- tapes -------------------------------------------------------------------------------- */

static void free_default_tape(void) { ag_tape_free(&default_tape); }

ag_tape *ag_tape_current(void) {
    if (!current_tape) {
        static bool registered; /* the main thread's default tape is freed at exit */
        if (!registered) {
            registered = true;
            atexit(free_default_tape);
        }
        current_tape = &default_tape;
    }
    return current_tape;
}

ag_tape *ag_tape_new(void) {
    ag_tape *tape = calloc(1, sizeof *tape);
    if (!tape) AG_ERROR("ag_tape_new", "out of memory");
    return tape;
}

void ag_tape_free(ag_tape *tape) {
    if (!tape) return;
    ag_tape_reset(tape);
    for (chunk *c = tape->first, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(tape->nodes);
    free(tape->adopted);
    if (current_tape == tape) current_tape = NULL;
    if (tape == &default_tape)
        memset(tape, 0, sizeof *tape);
    else
        free(tape);
}

ag_tape *ag_tape_use(ag_tape *tape) {
    ag_tape *previous = ag_tape_current();
    current_tape = tape ? tape : &default_tape;
    return previous;
}

void ag_tape_reset(ag_tape *tape) {
    if (!tape) tape = ag_tape_current();
    for (int64_t i = 0; i < tape->nadopted; i++) {
        ag_tensor *t = tape->adopted[i];
        if (t->grad_fn && t->grad_fn->tape == tape) {
            t->grad_fn = NULL;
            t->requires_grad = false;
        }
    }
    tape->nadopted = 0;
    tape->nnodes = 0;
    for (chunk *c = tape->first; c; c = c->next) c->used = 0;
    tape->current = tape->first;
}

int64_t ag_tape_size(const ag_tape *tape) {
    return (tape ? tape : ag_tape_current())->nnodes;
}

size_t ag_tape_reserved_bytes(const ag_tape *tape) {
    return (tape ? tape : ag_tape_current())->reserved;
}

/* ---- the arena ---------------------------------------------------------------------------- */

static chunk *chunk_new(size_t size) {
    chunk *c = aligned_alloc(64, CHUNK_HEADER + size);
    if (!c) return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

/* Blocks of 64 bytes or more start on a 64-byte boundary (a cache line, and room for any
 * SIMD load); smaller ones on 16, so the million small tensors of a scalar graph stay small. */
static void *tape_alloc(ag_tape *tape, size_t size) {
    size_t align = size >= 64 ? 64 : 16;
    size = (size + 15) & ~(size_t)15;
    if (size == 0) size = 16;
    /* Walk the chunks kept from earlier steps; take the first with room. */
    chunk *prev = NULL;
    for (chunk *c = tape->current; c; prev = c, c = c->next) {
        size_t start = (c->used + align - 1) & ~(align - 1);
        if (start <= c->size && c->size - start >= size) {
            tape->current = c;
            c->used = start + size;
            return (char *)c + CHUNK_HEADER + start;
        }
    }
    size_t last = prev ? prev->size : 0;
    size_t want = last * 2 < CHUNK_MIN ? CHUNK_MIN : last * 2 > CHUNK_MAX ? CHUNK_MAX : last * 2;
    if (want < size) want = size;
    chunk *c = chunk_new(want);
    if (!c) {
        AG_ERROR("ag_tape", "out of memory: cannot allocate %zu bytes", want);
        return NULL;
    }
    if (prev)
        prev->next = c;
    else
        tape->first = c;
    tape->reserved += want;
    tape->current = c;
    c->used = size;
    return (char *)c + CHUNK_HEADER;
}

void *ag_tape_alloc(size_t size) { return tape_alloc(ag_tape_current(), size); }

ag_tensor *ag_result(ag_dtype dtype, int ndim, const int64_t *shape) {
    ag_tape *tape = ag_tape_current();
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] != 0 && numel > INT64_MAX / 16 / shape[d]) {
            char s[AG_SHAPE_STR];
            AG_ERROR("ag_result", "a tensor of shape %s is too large", ag_shape_str(s, ndim, shape));
            return NULL;
        }
        numel *= shape[d];
    }
    ag_tensor *t = tape_alloc(tape, sizeof *t);
    void *data = tape_alloc(tape, (size_t)numel * ag_dtype_size(dtype));
    if (!t || !data) return NULL;
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->ndim = ndim;
    if (ndim) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = numel;
    t->data = data;
    t->tape = tape;
    t->origin = grad_disabled ? AG_MADE_WITHOUT_GRAD : AG_MADE_BY_OP;
    t->file = site_file;
    t->line = site_line;
    return t;
}

ag_tensor *ag_result_like(const ag_tensor *t) { return ag_result(t->dtype, t->ndim, t->shape); }

ag_tensor *ag_result_zeros(ag_dtype dtype, int ndim, const int64_t *shape) {
    ag_tensor *t = ag_result(dtype, ndim, shape);
    if (t) memset(t->data, 0, (size_t)t->numel * ag_dtype_size(dtype));
    return t;
}

ag_tensor *ag_result_view(ag_tensor *base, int ndim, const int64_t *shape) {
    ag_tape *tape = ag_tape_current();
    ag_tensor *t = tape_alloc(tape, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    t->dtype = base->dtype;
    t->ndim = ndim;
    if (ndim) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = base->numel;
    t->data = base->data;
    t->base = base->base ? base->base : base;
    t->tape = tape;
    t->origin = grad_disabled ? AG_MADE_WITHOUT_GRAD : AG_MADE_BY_OP;
    t->file = site_file;
    t->line = site_line;
    return t;
}

ag_tensor *ag_wrap_scalar(double value, ag_dtype dtype) {
    ag_tensor *t = ag_result(dtype, 0, NULL);
    if (!t) return NULL;
    switch (dtype) {
    case AG_FLOAT32: AG_F32(t)[0] = (float)value; break;
    case AG_FLOAT64: AG_F64(t)[0] = value; break;
    case AG_INT64: AG_I64(t)[0] = (int64_t)value; break;
    }
    return t;
}

/* ---- recording ---------------------------------------------------------------------------- */

static bool push(void ***array, int64_t *n, int64_t *capacity, void *item) {
    if (*n == *capacity) {
        int64_t cap = *capacity ? *capacity * 2 : 256;
        void **grown = realloc(*array, (size_t)cap * sizeof **array);
        if (!grown) {
            AG_ERROR("ag_tape", "out of memory recording node %lld", (long long)*n);
            return false;
        }
        *array = grown;
        *capacity = cap;
    }
    (*array)[(*n)++] = item;
    return true;
}

ag_node *ag_record(const ag_op *op, ag_tensor *out, int ninputs, ag_tensor *const *inputs) {
    if (!out) return NULL;
    if (anomaly && out->dtype != AG_INT64) {
        ag_node probe = {.op = op, .ninputs = ninputs, .inputs = (ag_tensor **)inputs,
                         .file = site_file, .line = site_line};
        if (!ag_anomaly_check("forward", &probe, out)) return NULL;
    }
    if (grad_disabled) return NULL;
    ag_tape *tape = ag_tape_current();
    bool any = false;
    for (int i = 0; i < ninputs; i++) {
        const ag_tensor *in = inputs[i];
        if (!in || !in->requires_grad) continue;
        any = true;
        if (in->grad_fn && in->grad_fn->tape != tape) {
            AG_ERROR(op->name, "an input was recorded on another tape: make that tape current "
                               "(ag_tape_use) or detach the input");
            return NULL;
        }
    }
    if (!any) return NULL;
    ag_node *node = tape_alloc(tape, sizeof *node);
    ag_tensor **ins = tape_alloc(tape, (size_t)ninputs * sizeof *ins);
    ag_node **fns = tape_alloc(tape, (size_t)ninputs * sizeof *fns);
    bool *needs = tape_alloc(tape, (size_t)ninputs);
    if (!node || !ins || !fns || !needs) return NULL;
    memset(node, 0, sizeof *node);
    for (int i = 0; i < ninputs; i++) {
        ins[i] = inputs[i];
        fns[i] = inputs[i] ? inputs[i]->grad_fn : NULL;
        needs[i] = inputs[i] && inputs[i]->requires_grad;
    }
    node->op = op;
    node->out = out;
    node->ninputs = ninputs;
    node->inputs = ins;
    node->input_fns = fns;
    node->input_needs = needs;
    node->tape = tape;
    node->index = tape->nnodes;
    node->file = site_file;
    node->line = site_line;
    if (!push((void ***)&tape->nodes, &tape->nnodes, &tape->capacity, node)) return NULL;
    if (!out->tape && !push((void ***)&tape->adopted, &tape->nadopted, &tape->adopted_capacity, out))
        return NULL;
    out->grad_fn = node;
    out->requires_grad = true;
    return node;
}

/* The tape's nodes, for backward.c: nodes[0..n-1] in the order they ran. */
ag_node **ag_tape_nodes(ag_tape *tape, int64_t *n) {
    *n = tape->nnodes;
    return tape->nodes;
}

void ag_node_set_output(ag_node *node, ag_tensor *t) {
    ag_tape *tape = node->tape;
    if (!t->tape && !push((void ***)&tape->adopted, &tape->nadopted, &tape->adopted_capacity, t))
        return;
    node->out->grad_fn = NULL;
    node->out->requires_grad = false;
    node->out = t;
    t->grad_fn = node;
    t->requires_grad = true;
}
