/*
 * tape.c - the tape: the record of ops in the order they ran, and the arena that owns their
 * results. Also grad mode and the current tape, both per thread as PyTorch's grad mode is.
 *
 * Memory: a tape hands out memory from a list of chunks by bumping a pointer. A reset rewinds
 * to the first chunk and keeps them all, so a training loop that makes the same tensors every
 * step reaches a high-water mark in its first step and never calls malloc again. The node
 * list is a growing array of pointers, kept across resets too.
 *
 * Speed: every op passes through here two or three times (ag_result, ag_record), so their
 * common paths are short and call nothing: an allocation is a bump inside the current chunk
 * (moving to the next chunk, and every error, are out of line); a tensor and its data are one
 * block, and so are a node and its edge arrays; tensors and nodes are set field by field,
 * rather than cleared and then written. An op with a number (x * 2.0) is one call and one
 * block in the common case (ag_scalar_op): its result, its node and the number's 0-d tensor.
 */
#define _POSIX_C_SOURCE 200809L /* pthread_once, pthread keys */
#include "autograd/internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct chunk {
    struct chunk *next;
    size_t size; /* usable bytes after the header */
} chunk;

#define CHUNK_HEADER 64 /* keeps the data 64-byte aligned */
#define CHUNK_MIN ((size_t)1 << 16)
#define CHUNK_MAX ((size_t)1 << 26)

struct ag_tape {
    /* The free part of the current chunk: the next block starts at bump (once aligned) and
     * must end by limit. Both are 0 before the tape has a chunk. */
    uintptr_t bump, limit;
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
static AG_THREAD_LOCAL ag_tape *current_tape;
AG_THREAD_LOCAL bool ag_grad_off;   /* grad mode is off (internal.h reads it inline) */
AG_THREAD_LOCAL bool ag_anomaly_on; /* anomaly mode is on */
static AG_THREAD_LOCAL const char *site_file;
static AG_THREAD_LOCAL int site_line;

static ag_tape *default_current(void);

/* The current tape: one thread-local load in the common case. */
static inline ag_tape *current(void) { return current_tape ? current_tape : default_current(); }

/* ---- grad mode and call sites ------------------------------------------------------------- */

bool ag_is_grad_enabled(void) { return !ag_grad_off; }

bool ag_set_grad_enabled(bool enabled) {
    bool previous = !ag_grad_off;
    ag_grad_off = !enabled;
    return previous;
}

void ag_set_detect_anomaly(bool enabled) { ag_anomaly_on = enabled; }

bool ag_is_anomaly_enabled(void) { return ag_anomaly_on; }

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
    guard->grad_enabled = !ag_grad_off;
    guard->tape = current();
    guard->outer = guards;
    guards = guard;
}

void ag_guard_pop(ag_mode_guard *guard) {
    ag_grad_off = !guard->grad_enabled;
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

/* Each thread's default tape is freed when the thread ends: by a key's destructor when a thread
 * other than the main one exits, by atexit for the main thread (exit runs no key destructors).
 * ag_tape_free clears the default tape rather than freeing it (it is thread-local storage). */
static pthread_key_t default_tape_key;

static void free_default_tape(void) { ag_tape_free(&default_tape); }
static void free_thread_tape(void *tape) { ag_tape_free(tape); }
static void register_frees(void) {
    if (pthread_key_create(&default_tape_key, free_thread_tape) == 0) atexit(free_default_tape);
}

static ag_tape *default_current(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    static _Thread_local bool registered;
    if (!registered) {
        registered = true;
        pthread_once(&once, register_frees);
        pthread_setspecific(default_tape_key, &default_tape);
    }
    current_tape = &default_tape;
    return current_tape;
}

ag_tape *ag_tape_current(void) { return current(); }

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
    ag_tape *previous = current();
    current_tape = tape ? tape : &default_tape;
    return previous;
}

/* Makes c the chunk that blocks are bumped from, from its start. */
static void enter_chunk(ag_tape *tape, chunk *c) {
    tape->current = c;
    tape->bump = c ? (uintptr_t)c + CHUNK_HEADER : 0;
    tape->limit = c ? tape->bump + c->size : 0;
}

void ag_tape_reset(ag_tape *tape) {
    if (!tape) tape = current();
    for (int64_t i = 0; i < tape->nadopted; i++) {
        ag_tensor *t = tape->adopted[i];
        if (t->grad_fn && t->grad_fn->tape == tape) {
            t->grad_fn = NULL;
            t->requires_grad = false;
        }
    }
    tape->nadopted = 0;
    tape->nnodes = 0;
    enter_chunk(tape, tape->first);
}

int64_t ag_tape_size(const ag_tape *tape) { return (tape ? tape : current())->nnodes; }

size_t ag_tape_reserved_bytes(const ag_tape *tape) {
    return (tape ? tape : current())->reserved;
}

/* ---- the arena ---------------------------------------------------------------------------- */

/* A block is a multiple of 16 bytes. Blocks of 64 bytes or more start on a 64-byte boundary
 * (a cache line, and room for any SIMD load); smaller ones on 16, so the million small
 * tensors of a scalar graph stay small. */
static inline size_t block_size(size_t size) { return size ? (size + 15) & ~(size_t)15 : 16; }
static inline size_t block_align(size_t size) { return size >= 64 ? 64 : 16; }

/* The rare path of tape_alloc: the current chunk has no room. Moves on to the first chunk
 * kept from earlier steps that has room, else appends a new one, twice the last one's size. */
AG_COLD static void *tape_alloc_slow(ag_tape *tape, size_t size) {
    chunk *last = tape->current;
    for (chunk *c = last ? last->next : tape->first; c; last = c, c = c->next) {
        if (c->size >= size) {
            enter_chunk(tape, c);
            tape->bump += size;
            return (char *)c + CHUNK_HEADER;
        }
    }
    size_t grown = last ? last->size * 2 : 0;
    size_t want = grown < CHUNK_MIN ? CHUNK_MIN : grown > CHUNK_MAX ? CHUNK_MAX : grown;
    if (want < size) want = size;
    chunk *c = want <= SIZE_MAX - CHUNK_HEADER ? aligned_alloc(64, CHUNK_HEADER + want) : NULL;
    if (!c) {
        AG_ERROR("ag_tape", "out of memory: cannot allocate %zu bytes", want);
        return NULL;
    }
    c->next = NULL;
    c->size = want;
    if (last)
        last->next = c;
    else
        tape->first = c;
    tape->reserved += want;
    enter_chunk(tape, c);
    tape->bump += size;
    return (char *)c + CHUNK_HEADER;
}

/* size bytes (a multiple of 16) aligned to align (16 or 64) from the current chunk, or NULL
 * when it has no room: the common case of an allocation, a bump of a pointer. */
static inline void *tape_bump(ag_tape *tape, size_t size, size_t align) {
    uintptr_t start = (tape->bump + (align - 1)) & ~(uintptr_t)(align - 1);
    if (start > tape->limit || tape->limit - start < size) return NULL;
    tape->bump = start + size;
    return (void *)start;
}

/* The same, moving on to another chunk when the current one has no room. */
static inline void *tape_alloc(ag_tape *tape, size_t size, size_t align) {
    void *p = tape_bump(tape, size, align);
    return p ? p : tape_alloc_slow(tape, size);
}

void *ag_tape_alloc(size_t size) {
    if (size > PTRDIFF_MAX) {
        AG_ERROR("ag_tape", "out of memory: cannot allocate %zu bytes", size);
        return NULL;
    }
    return tape_alloc(current(), block_size(size), block_align(size));
}

/* A tape-owned tensor is one block: the struct, then its data. When the data has 64 bytes or
 * more, the block is 64-byte aligned and the struct padded to a multiple of 64, so the data is
 * aligned too; else both are 16 (the struct padded to 16), and a scalar's block stays small. */
static inline size_t tensor_bytes(size_t align) {
    return (sizeof(ag_tensor) + align - 1) & ~(align - 1);
}

/* A node's iarg and farg start as copies of blank_node's: a few wide moves, where clearing in
 * place compiles to a slow `rep stos`. */
static const ag_node blank_node;

/* Makes block a tensor of tape, with its data header bytes after it. Every field is written,
 * in order, zeros as wide stores: about half the instructions of copying a blank tensor over
 * it first, and there is one per op result. shape has ndim sizes, or with whole it is a
 * tensor's whole shape array (zeros past ndim, as every tensor's), copied in one move. */
static inline ag_tensor *init_tensor(char *block, size_t header, ag_tape *tape, ag_dtype dtype,
                                     int ndim, const int64_t *shape, int64_t numel, bool whole) {
    ag_tensor *t = (ag_tensor *)block;
    t->dtype = dtype;
    t->ndim = ndim;
    if (whole) {
        memcpy(t->shape, shape, sizeof t->shape);
    } else {
        for (int d = 0; d < AG_MAX_DIMS; d++) t->shape[d] = 0;
        for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    }
    t->numel = numel;
    t->data = block + header;
    t->grad = NULL;
    t->grad_fn = NULL;
    t->name = NULL;
    t->requires_grad = false;
    t->retains_grad = false;
    t->owns_data = false;
    t->origin = ag_grad_off ? AG_MADE_WITHOUT_GRAD : AG_MADE_BY_OP;
    t->line = site_line;
    t->base = NULL;
    t->version = 0;
    t->tape = tape;
    t->file = site_file;
    t->hooks = NULL;
    t->pending_grad = NULL;
    t->spare_grad = NULL;
    return t;
}
/* The fields init_tensor writes fill the struct: a field added to ag_tensor breaks this until
 * init_tensor writes it too. */
_Static_assert(sizeof(ag_tensor) == sizeof(ag_dtype) + sizeof(int) + sizeof(int64_t[AG_MAX_DIMS]) +
                                        sizeof(int64_t) + 4 * sizeof(void *) + 3 * sizeof(bool) +
                                        sizeof(uint8_t) + sizeof(int) + sizeof(void *) +
                                        sizeof(uint64_t) + 5 * sizeof(void *),
               "init_tensor must write every field of ag_tensor");

/* The bytes a tensor's block has for its data, and the block's alignment. */
static inline size_t data_size(ag_dtype dtype, int64_t numel) {
    return block_size((size_t)numel * ag_elem_size(dtype));
}
static inline size_t data_align(ag_dtype dtype, int64_t numel) {
    return block_align((size_t)numel * ag_elem_size(dtype));
}

/* ag_result's full path: the current tape found (or made), the size checked (numel * 16
 * bytes must fit an int64_t), the tape grown if needed. */
AG_COLD static ag_tensor *result_slow(ag_dtype dtype, int ndim, const int64_t *shape) {
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] != 0 && numel > INT64_MAX / 16 / shape[d]) {
            char s[AG_SHAPE_STR];
            AG_ERROR("ag_result", "a tensor of shape %s is too large",
                     ag_shape_str(s, ndim, shape));
            return NULL;
        }
        numel *= shape[d];
    }
    ag_tape *tape = current();
    size_t align = data_align(dtype, numel), header = tensor_bytes(align);
    char *block = tape_alloc(tape, header + data_size(dtype, numel), align);
    return block ? init_tensor(block, header, tape, dtype, ndim, shape, numel, false) : NULL;
}

/* ag_result's common path, which calls nothing: a current tape with room, and dims below 2^28
 * (their products cannot come near the size limit). Anything else takes the full path. */
static inline ag_tensor *result(ag_dtype dtype, int ndim, const int64_t *shape) {
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if ((uint64_t)(numel | shape[d]) >= (uint64_t)1 << 28)
            return result_slow(dtype, ndim, shape);
        numel *= shape[d];
    }
    ag_tape *tape = current_tape;
    size_t align = data_align(dtype, numel), header = tensor_bytes(align);
    char *block = tape ? tape_bump(tape, header + data_size(dtype, numel), align) : NULL;
    if (!block) return result_slow(dtype, ndim, shape);
    return init_tensor(block, header, tape, dtype, ndim, shape, numel, false);
}

ag_tensor *ag_result(ag_dtype dtype, int ndim, const int64_t *shape) {
    return result(dtype, ndim, shape);
}

/* The common path of a result of t's shape (its numel known, its whole shape array copied at
 * once) with extra bytes (a multiple of 16) after its data in the same block, at *extra_out:
 * for an op's node, a leaf's list entry. NULL when there is no current tape, the tape has no
 * room in its chunk, or t is too large for this path. */
static inline ag_tensor *shaped_block(ag_tape *tape, ag_dtype dtype, const ag_tensor *t,
                                      size_t extra, char **extra_out) {
    int64_t numel = t->numel;
    if (!tape || (uint64_t)numel >= (uint64_t)1 << 28) return NULL;
    size_t align = data_align(dtype, numel), header = tensor_bytes(align);
    size_t outbytes = header + data_size(dtype, numel);
    char *block = tape_bump(tape, outbytes + extra, align);
    if (!block) return NULL;
    *extra_out = block + outbytes;
    return init_tensor(block, header, tape, dtype, t->ndim, t->shape, numel, true);
}

ag_tensor *ag_result_shaped(ag_dtype dtype, const ag_tensor *t) {
    char *unused;
    ag_tensor *r = shaped_block(current_tape, dtype, t, 0, &unused);
    return r ? r : result_slow(dtype, t->ndim, t->shape);
}

ag_tensor *ag_result_like(const ag_tensor *t) { return ag_result_shaped(t->dtype, t); }

ag_tensor *ag_result_shaped_with(ag_dtype dtype, const ag_tensor *t, size_t extra,
                                 void **extra_out) {
    char *more;
    ag_tensor *r = shaped_block(current_tape, dtype, t, block_size(extra), &more);
    if (r) {
        *extra_out = more;
        return r;
    }
    r = result_slow(dtype, t->ndim, t->shape); /* the full path: two blocks */
    *extra_out = r ? ag_tape_alloc(extra) : NULL;
    return *extra_out ? r : NULL;
}

ag_tensor *ag_result_zeros(ag_dtype dtype, int ndim, const int64_t *shape) {
    ag_tensor *t = ag_result(dtype, ndim, shape);
    if (t) memset(t->data, 0, (size_t)t->numel * ag_elem_size(dtype));
    return t;
}

ag_tensor *ag_result_view(ag_tensor *base, int ndim, const int64_t *shape) {
    ag_tape *tape = current();
    char *block = tape_alloc(tape, tensor_bytes(16), 16);
    if (!block) return NULL;
    ag_tensor *t = init_tensor(block, 0, tape, base->dtype, ndim, shape, base->numel, false);
    t->data = base->data;
    t->base = base->base ? base->base : base;
    return t;
}

ag_tensor *ag_wrap_scalar(double value, ag_dtype dtype) {
    ag_tensor *t = result(dtype, 0, NULL);
    if (!t) return NULL;
    switch (dtype) {
    case AG_FLOAT32: AG_F32(t)[0] = (float)value; break;
    case AG_FLOAT64: AG_F64(t)[0] = value; break;
    case AG_INT64: AG_I64(t)[0] = (int64_t)value; break;
    case AG_UINT8: AG_U8(t)[0] = ag_to_uint8(value); break;
    }
    return t;
}

/* ---- recording ---------------------------------------------------------------------------- */

/* The rare path of push: grows the array (kept across resets) and appends item. */
AG_COLD static bool push_slow(void ***array, int64_t *n, int64_t *capacity, void *item) {
    int64_t cap = *capacity ? *capacity * 2 : 256;
    void **grown = realloc(*array, (size_t)cap * sizeof **array);
    if (!grown) {
        AG_ERROR("ag_tape", "out of memory recording node %lld", (long long)*n);
        return false;
    }
    *array = grown;
    *capacity = cap;
    (*array)[(*n)++] = item;
    return true;
}

static inline bool push(void ***array, int64_t *n, int64_t *capacity, void *item) {
    if (*n == *capacity) return push_slow(array, n, capacity, item);
    (*array)[(*n)++] = item;
    return true;
}

/* A node is one block: the struct, then its three edge arrays (inputs, input_fns,
 * input_needs); for ag_scalar_op, then the 0-d tensor of its number. */
#define NODE_BYTES ((sizeof(ag_node) + 15) & ~(size_t)15)

static inline size_t node_bytes(int ninputs) {
    return block_size(NODE_BYTES + (size_t)ninputs * (2 * sizeof(void *) + 1));
}

/* Makes block (node_bytes(ninputs) of tape memory) the node of op for out and its inputs,
 * takes their edges now, appends it to the tape and makes it out's grad_fn. NULL (reported)
 * if the tape's lists cannot grow. */
static inline ag_node *init_node(char *block, ag_tape *tape, const ag_op *op, ag_tensor *out,
                                 int ninputs, ag_tensor *const *inputs, bool clear_iarg) {
    size_t n = (size_t)ninputs;
    ag_node *node = (ag_node *)block;
    ag_tensor **ins = (ag_tensor **)(block + NODE_BYTES);
    ag_node **fns = (ag_node **)(ins + n);
    bool *needs = (bool *)(fns + n);
    for (int i = 0; i < ninputs; i++) {
        ins[i] = inputs[i];
        fns[i] = inputs[i] ? inputs[i]->grad_fn : NULL;
        needs[i] = inputs[i] && inputs[i]->requires_grad;
    }
    /* Field by field, which costs less than copying a blank node whole; saved[] and
     * saved_version[] are left as they are, as only their first nsaved entries are read. */
    node->op = op;
    node->out = out;
    node->ninputs = ninputs;
    node->inputs = ins;
    node->input_fns = fns;
    node->input_needs = needs;
    node->nsaved = 0;
    if (clear_iarg) memcpy(node->iarg, blank_node.iarg, sizeof node->iarg);
    memcpy(node->farg, blank_node.farg, sizeof node->farg);
    node->grad = NULL;
    node->tape = tape;
    node->index = tape->nnodes;
    node->file = site_file;
    node->line = site_line;
    node->released = false;
    node->ctx = NULL;
    if (!push((void ***)&tape->nodes, &tape->nnodes, &tape->capacity, node)) return NULL;
    if (!out->tape &&
        !push((void ***)&tape->adopted, &tape->nadopted, &tape->adopted_capacity, out))
        return NULL;
    out->grad_fn = node;
    out->requires_grad = true;
    return node;
}

ag_node *ag_record(const ag_op *op, ag_tensor *out, int ninputs, ag_tensor *const *inputs) {
    if (!out) return NULL;
    if (ag_anomaly_on && ag_is_floating(out->dtype)) {
        ag_node probe = {.op = op, .ninputs = ninputs, .inputs = (ag_tensor **)inputs,
                         .file = site_file, .line = site_line};
        if (!ag_anomaly_check("forward", &probe, out)) return NULL;
    }
    if (ag_grad_off) return NULL;
    ag_tape *tape = current();
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
    char *block = tape_alloc(tape, node_bytes(ninputs), 16);
    return block ? init_node(block, tape, op, out, ninputs, inputs, true) : NULL;
}

/* A number node's block: the node with its two edges, then the 0-d tensor of the number. */
static inline size_t number_node_bytes(ag_dtype dtype) {
    return node_bytes(2) + tensor_bytes(16) + data_size(dtype, 1);
}

/* Makes block (number_node_bytes of tape memory) the node of op(x, s) for out, with s as a 0-d
 * tensor of x's dtype (floating) after it; with save, saves x and s. The node's iarg is left
 * as it is: ops recorded with a number read none. */
static inline void number_node(char *block, ag_tape *tape, const ag_op *op, ag_tensor *out,
                               ag_tensor *x, double s, bool save) {
    ag_tensor *number =
        init_tensor(block + node_bytes(2), tensor_bytes(16), tape, x->dtype, 0, NULL, 1, false);
    if (x->dtype == AG_FLOAT32)
        AG_F32(number)[0] = (float)s;
    else
        AG_F64(number)[0] = s;
    ag_node *node = init_node(block, tape, op, out, 2, (ag_tensor *[]){x, number}, false);
    if (node && save) {
        ag_save(node, x);
        ag_save(node, number);
    }
}

/* Whether x's history (if it has one) was recorded on tape. */
static inline bool history_on(const ag_tensor *x, const ag_tape *tape) {
    return !x->grad_fn || x->grad_fn->tape == tape;
}

/* The common case of an op of one tensor that is recorded (ag_unary_op, ag_scalar_result_op):
 * a current tape, grad mode on, no anomaly mode, and a floating x that requires grad, with its
 * history on that tape. */
static inline bool recorded_fast(const ag_tape *tape, const ag_tensor *x) {
    return tape && !ag_anomaly_on && !ag_grad_off && x->requires_grad &&
           ag_is_floating(x->dtype) && history_on(x, tape);
}

/* Whether the common case of a number op holds: a current tape, no anomaly mode, a floating
 * x, and when the op is recorded (*record: grad mode on and x requires grad), x's history on
 * that tape. */
static inline bool number_fast(const ag_tape *tape, const ag_tensor *x, bool *record) {
    *record = !ag_grad_off && x->requires_grad;
    return tape && !ag_anomaly_on && ag_is_floating(x->dtype) &&
           (!*record || history_on(x, tape));
}

/* ag_scalar_op's record on its full path: the number made by ag_wrap_scalar, the node by
 * ag_record (which reports an input from another tape). NULL if the number cannot be made. */
static ag_tensor *record_number(const ag_op *op, ag_tensor *out, ag_tensor *x, double s,
                                bool save) {
    if (!out || !ag_record_needed(x, NULL)) return out;
    ag_tensor *number = ag_wrap_scalar(s, x->dtype);
    if (!number) return NULL;
    ag_node *node = ag_record(op, out, 2, (ag_tensor *[]){x, number});
    if (save) {
        ag_save(node, x);
        ag_save(node, number);
    }
    return out;
}

/* The common case (number_fast, and a tape with room): the result, and when recorded the
 * node and the number, are one block, made and filled here with one look at the tape and the
 * thread's modes. */
ag_tensor *ag_scalar_op(const char *name, const ag_binary_kernel *k, const ag_op *op,
                        ag_tensor *x, double s, bool save) {
    ag_tape *tape = current_tape;
    bool record;
    char *more;
    ag_tensor *out;
    if (number_fast(tape, x, &record) &&
        (out = shaped_block(tape, x->dtype, x, record ? number_node_bytes(x->dtype) : 0, &more))) {
        ag_map_number(k, x, s, out);
        if (record) number_node(more, tape, op, out, x, s, save);
        return out;
    }
    out = ag_binary_map_scalar(name, k, x, s);
    if (!out || !ag_record_needed(x, NULL)) return out;
    return record_number(op, out, x, s, save);
}

/* The common case of ag_binary_op: grad mode on, no anomaly mode, a and b floating tensors
 * of one dtype, at least one requiring grad, their histories on tape, and of one shape or one
 * of them 0-d. Returns the tensor whose shape the result takes, or NULL. */
static inline const ag_tensor *binary_fast(const ag_tape *tape, const ag_tensor *a,
                                           const ag_tensor *b) {
    if (!tape || ag_anomaly_on || ag_grad_off || !a || !b || a->dtype != b->dtype ||
        !ag_is_floating(a->dtype) || !(a->requires_grad || b->requires_grad) ||
        !history_on(a, tape) || !history_on(b, tape))
        return NULL;
    return b->ndim == 0 ? a : a->ndim == 0 || ag_same_shape_inline(a, b) ? b : NULL;
}

/* In the common case (binary_fast, and a tape with room) the result and its node are one
 * block, made and filled with one look at the tape and the thread's modes. */
ag_tensor *ag_binary_op(const char *name, const ag_binary_kernel *k, const ag_op *op,
                        ag_tensor *a, ag_tensor *b, bool save) {
    ag_tape *tape = current_tape;
    const ag_tensor *shaped = binary_fast(tape, a, b);
    char *more;
    ag_tensor *out;
    if (shaped && (out = shaped_block(tape, a->dtype, shaped, node_bytes(2), &more))) {
        int64_t numel = out->numel, sa = a->numel == 1 ? 0 : 1, sb = b->numel == 1 ? 0 : 1;
        if (numel == 0)
            ;
        else if (out->dtype == AG_FLOAT32)
            k->f32(numel, a->data, sa, b->data, sb, out->data);
        else
            k->f64(numel, a->data, sa, b->data, sb, out->data);
        ag_node *node = init_node(more, tape, op, out, 2, (ag_tensor *[]){a, b}, false);
        if (node && save) {
            ag_save(node, a);
            ag_save(node, b);
        }
        return out;
    }
    out = ag_binary_map(name, k, a, b);
    if (!out || !ag_record_needed(a, b)) return out;
    ag_node *node = ag_record(op, out, 2, (ag_tensor *[]){a, b});
    if (node && save) {
        ag_save(node, a);
        ag_save(node, b);
    }
    return out;
}

/* ag_unary_op's record: farg and the saved tensor. */
static inline void unary_record(ag_node *node, ag_tensor *x, ag_tensor *out, const double *p,
                                int nfarg, ag_unary_save save) {
    if (!node) return;
    for (int i = 0; i < nfarg; i++)
        node->farg[i] = p[i];
    if (save != AG_SAVE_NOTHING) ag_save(node, save == AG_SAVE_INPUT ? x : out);
}

/* In the common case (recorded_fast, and a tape with room) the result and its node are one
 * block. */
ag_tensor *ag_unary_op(const ag_unary_kernel *k, const ag_op *op, ag_tensor *x, const double *p,
                       int nfarg, ag_unary_save save) {
    ag_tape *tape = current_tape;
    char *more;
    ag_tensor *out;
    if (recorded_fast(tape, x) && (out = shaped_block(tape, x->dtype, x, node_bytes(1), &more))) {
        if (out->dtype == AG_FLOAT32)
            k->f32(out->numel, x->data, out->data, p);
        else
            k->f64(out->numel, x->data, out->data, p);
        unary_record(init_node(more, tape, op, out, 1, &x, false), x, out, p, nfarg, save);
        return out;
    }
    out = ag_unary_map(k, x, p);
    unary_record(ag_record(op, out, 1, &x), x, out, p, nfarg, save);
    return out;
}

/* In the common case (recorded_fast, and a tape with room) the 0-d result and its node are
 * one block. */
ag_tensor *ag_scalar_result_op(const ag_op *op, ag_tensor *x, double value) {
    ag_tape *tape = current_tape;
    if (recorded_fast(tape, x)) {
        ag_dtype dtype = x->dtype;
        size_t header = tensor_bytes(16), outbytes = header + data_size(dtype, 1);
        char *block = tape_bump(tape, outbytes + node_bytes(1), 16);
        if (block) {
            ag_tensor *out = init_tensor(block, header, tape, dtype, 0, NULL, 1, false);
            if (dtype == AG_FLOAT32)
                AG_F32(out)[0] = (float)value;
            else
                AG_F64(out)[0] = value;
            init_node(block + outbytes, tape, op, out, 1, &x, true);
            return out;
        }
    }
    ag_tensor *out = ag_wrap_scalar(value, x->dtype);
    ag_record(op, out, 1, &x);
    return out;
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
