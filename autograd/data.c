/*
 * data.c - feeding a training loop: the mini-batch loader (DataLoader over a TensorDataset)
 * and the IDX reader of the MNIST family. See data.h for the API and what it matches in torch.
 *
 * The loader keeps the epoch's order of sample indices (0..N-1, or a randperm drawn as torch's
 * RandomSampler draws it) and a position in it; a batch is one index_select per tensor at the
 * next B indices, made on the current tape (each batch has its tensor's dtype: uint8 images
 * give uint8 batches). An epoch allocates nothing on the heap: the permutation is drawn
 * straight into the order, the seeds without a tensor, and RandomSampler's own generator is
 * made once, with the loader, and re-seeded each epoch. The IDX reader goes through zlib's
 * gzread, which reads gzipped and plain files alike, a chunk at a time straight into the tensor.
 */
#define _POSIX_C_SOURCE 200809L /* stat, access */

#include "autograd/internal.h" /* first: it turns off the call-site macros of data.h */
#include "autograd/data.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---------------------------------------------------------------------------------------- */
/* The mini-batch loader                                                                      */
/* ---------------------------------------------------------------------------------------- */

struct ag_data_loader {
    ag_tensor **tensors; /* n borrowed tensors, each (N, ...) */
    int n;
    int64_t num_samples; /* N */
    int64_t batch_size;  /* B */
    bool shuffle, drop_last;
    ag_generator *generator; /* borrowed; NULL: the default generator */
    ag_generator *sampler;   /* owned, shuffle without a generator: RandomSampler's own one */
    int64_t *order;          /* the epoch's N sample indices */
    int64_t pos;             /* the next index into order; -1 when no epoch is in progress */
    bool past_end;           /* the epoch's sampler was read past its last index */
};

ag_data_loader *ag_data_loader_new(ag_tensor *const *tensors, int n, ag_data_loader_options opts) {
    const char *op = "ag_data_loader_new";
    if (!tensors || n < 1) {
        AG_ERROR(op, "expected at least one tensor, got %d", tensors ? n : 0);
        return NULL;
    }
    for (int k = 0; k < n; k++) {
        if (!ag_check_tensor(op, tensors[k], "tensors")) return NULL;
        if (tensors[k]->ndim == 0) { /* TensorDataset asks every tensor for its size(0) */
            AG_ERROR(op, "Dimension specified as 0 but tensor has no dimensions (tensor %d)", k);
            return NULL;
        }
        if (tensors[k]->shape[0] != tensors[0]->shape[0]) {
            char a[AG_SHAPE_STR], b[AG_SHAPE_STR];
            AG_ERROR(op, "Size mismatch between tensors: tensor 0 is %s, tensor %d is %s",
                     ag_shape_str(a, tensors[0]->ndim, tensors[0]->shape), k,
                     ag_shape_str(b, tensors[k]->ndim, tensors[k]->shape));
            return NULL;
        }
    }
    if (opts.batch_size < 0) {
        AG_ERROR(op, "batch_size should be a positive integer value, but got batch_size=%lld",
                 (long long)opts.batch_size);
        return NULL;
    }
    int64_t num_samples = tensors[0]->shape[0];
    if (opts.shuffle && num_samples == 0) {
        AG_ERROR(op, "num_samples should be a positive integer value, but got num_samples=0");
        return NULL;
    }
    ag_data_loader *loader = calloc(1, sizeof *loader);
    if (loader) {
        loader->tensors = malloc((size_t)n * sizeof *loader->tensors);
        /* zeroed: a state dict saved before the first epoch holds no stray bytes */
        loader->order = calloc((size_t)(num_samples ? num_samples : 1), sizeof(int64_t));
        /* seeded afresh at each epoch: its first seed does not matter */
        if (opts.shuffle && !opts.generator) loader->sampler = ag_generator_new(0);
    }
    if (!loader || !loader->tensors || !loader->order ||
        (opts.shuffle && !opts.generator && !loader->sampler)) {
        ag_data_loader_free(loader);
        AG_ERROR(op, "out of memory");
        return NULL;
    }
    memcpy(loader->tensors, tensors, (size_t)n * sizeof *tensors);
    loader->n = n;
    loader->num_samples = num_samples;
    loader->batch_size = opts.batch_size ? opts.batch_size : 1;
    loader->shuffle = opts.shuffle;
    loader->drop_last = opts.drop_last;
    loader->generator = opts.generator;
    loader->pos = -1;
    return loader;
}

void ag_data_loader_free(ag_data_loader *loader) {
    if (!loader) return;
    free(loader->tensors);
    free(loader->order);
    ag_generator_free(loader->sampler);
    free(loader);
}

/* _BaseDataLoaderIter.__init__ and RandomSampler.__iter__, in the order torch runs them. */
void ag_data_loader_reset(ag_data_loader *loader) {
    if (!loader) {
        AG_ERROR("ag_data_loader_reset", "loader is NULL");
        return;
    }
    loader->pos = -1;
    loader->past_end = false;
    /* _base_seed = torch.empty((), dtype=torch.int64).random_(generator=loader.generator):
     * the workers' seed, drawn even with no workers and no shuffle. */
    (void)ag_random_int64(loader->generator);
    int64_t n = loader->num_samples;
    if (!loader->shuffle) {
        for (int64_t i = 0; i < n; i++)
            loader->order[i] = i;
        loader->pos = 0;
        return;
    }
    /* RandomSampler: with no generator, a fresh one (torch.Generator().manual_seed(seed),
     * here the loader's, re-seeded) seeded by a random_() of the default generator. */
    ag_generator *g = loader->generator;
    if (!g) {
        g = loader->sampler;
        ag_generator_manual_seed(g, (uint64_t)ag_random_int64(NULL));
    }
    ag_randperm_into(g, n, loader->order);
    loader->pos = 0;
}

bool ag_data_loader_next(ag_data_loader *loader, ag_tensor **batch) {
    const char *op = "ag_data_loader_next";
    if (!loader || !batch) {
        AG_ERROR(op, "%s is NULL", loader ? "batch" : "loader");
        return false;
    }
    if (loader->pos < 0) ag_data_loader_reset(loader); /* cannot fail */
    int64_t left = loader->num_samples - loader->pos;
    int64_t b = left < loader->batch_size ? left : loader->batch_size;
    if (left < loader->batch_size && !loader->past_end) {
        /* BatchSampler asks RandomSampler for more indices than are left, and RandomSampler
         * runs its last line, `yield from torch.randperm(n, generator=generator).tolist()
         * [:self.num_samples % n]`: a whole randperm(N), of which it yields nothing. From a
         * generator of its own that changes nothing; from the loader's, we draw it too. */
        loader->past_end = true;
        if (loader->shuffle && loader->generator)
            ag_randperm_into(loader->generator, loader->num_samples, NULL);
    }
    if (b == 0 || (loader->drop_last && b < loader->batch_size)) {
        loader->pos = -1; /* the epoch is over: the next call begins another */
        return false;
    }
    /* The batch's indices as a tape-owned int64 tensor, and one index_select per tensor. */
    ag_tensor *index = ag_result(AG_INT64, 1, (const int64_t[]){b});
    if (!index) return false;
    memcpy(index->data, loader->order + loader->pos, (size_t)b * sizeof(int64_t));
    loader->pos += b;
    for (int k = 0; k < loader->n; k++) {
        ag_tensor *rows = ag_index_select(loader->tensors[k], 0, index);
        if (!rows) return false;
        batch[k] = rows;
    }
    return true;
}

int64_t ag_data_loader_len(const ag_data_loader *loader) {
    if (!loader) {
        AG_ERROR("ag_data_loader_len", "loader is NULL");
        return 0;
    }
    int64_t n = loader->num_samples, b = loader->batch_size;
    return loader->drop_last ? n / b : (n + b - 1) / b;
}

int64_t ag_data_loader_num_samples(const ag_data_loader *loader) {
    if (!loader) {
        AG_ERROR("ag_data_loader_num_samples", "loader is NULL");
        return 0;
    }
    return loader->num_samples;
}

/* ---------------------------------------------------------------------------------------- */
/* The loader's state, for checkpoints                                                        */
/* ---------------------------------------------------------------------------------------- */

/* The state's keys, after the prefix. */
static const char *const state_keys[] = {"num_samples", "batch_size", "shuffle",  "drop_last",
                                         "order",       "pos",        "past_end", "generator"};
#define NSTATE_KEYS ((int)(sizeof state_keys / sizeof state_keys[0]))

/* prefix + key into buf; false (with the error set) when it does not fit. */
static bool state_name(char *buf, size_t size, const char *where, const char *prefix,
                       const char *key) {
    if ((size_t)snprintf(buf, size, "%s%s", prefix, key) < size) return true;
    ag_status_error("%s: the prefix '%.40s...' is too long", where, prefix);
    return false;
}

/* Adds prefix + key = t to sd, the dict owning t (a new tensor, freed here on failure). */
static int put_owned(const char *where, ag_state_dict *sd, const char *prefix, const char *key,
                     ag_tensor *t) {
    char name[512];
    if (!t) return ag_status_error("%s: out of memory", where);
    if (!state_name(name, sizeof name, where, prefix, key)) {
        ag_tensor_free(t);
        return -1;
    }
    if (ag_state_dict_get(sd, name)) {
        ag_tensor_free(t);
        return ag_status_error("%s: the state dict already holds a tensor named '%s'", where, name);
    }
    if (ag_state_dict_add_owned(sd, name, t) < 0) {
        ag_tensor_free(t);
        return ag_status_error("%s: out of memory", where);
    }
    return 0;
}

static ag_tensor *int_scalar(int64_t v) {
    ag_tensor *t = ag_empty(AG_INT64, AG_SCALAR_SHAPE);
    if (t) AG_I64(t)[0] = v;
    return t;
}

int ag_data_loader_state_dict(const ag_data_loader *loader, ag_state_dict *sd, const char *prefix) {
    const char *where = "ag_data_loader_state_dict";
    if (!loader || !sd)
        return ag_status_error("%s: argument '%s' must not be NULL", where,
                               loader ? "sd" : "loader");
    if (!prefix) prefix = "";
    /* Every name is checked before the first is added: a failure leaves sd as it was (but
     * for out of memory). */
    for (int k = 0; k < NSTATE_KEYS - !loader->generator; k++) {
        char name[512];
        if (!state_name(name, sizeof name, where, prefix, state_keys[k])) return -1;
        if (ag_state_dict_get(sd, name))
            return ag_status_error("%s: the state dict already holds a tensor named '%s'", where,
                                   name);
    }
    const int64_t values[] = {loader->num_samples, loader->batch_size, loader->shuffle,
                              loader->drop_last};
    for (int k = 0; k < 4; k++)
        if (put_owned(where, sd, prefix, state_keys[k], int_scalar(values[k])) < 0) return -1;
    ag_tensor *order =
        ag_from_data(loader->order, AG_INT64, 1, (const int64_t[]){loader->num_samples});
    if (put_owned(where, sd, prefix, "order", order) < 0 ||
        put_owned(where, sd, prefix, "pos", int_scalar(loader->pos)) < 0 ||
        put_owned(where, sd, prefix, "past_end", int_scalar(loader->past_end)) < 0)
        return -1;
    if (loader->generator &&
        put_owned(where, sd, prefix, "generator", ag_generator_get_state(loader->generator)) < 0)
        return -1;
    return 0;
}

/* The int64 0-d tensor prefix + key of sd, into *out; -1 (error set) if it is not there. */
static int state_int(const char *where, const ag_state_dict *sd, const char *prefix,
                     const char *key, int64_t *out) {
    char name[512];
    if (!state_name(name, sizeof name, where, prefix, key)) return -1;
    const ag_tensor *t = ag_state_dict_get(sd, name);
    if (!t) return ag_status_error("%s: the state dict holds no '%s'", where, name);
    if (t->dtype != AG_INT64 || t->ndim != 0)
        return ag_status_error("%s: '%s' must be a 0-d int64 tensor, not a %s tensor of %d "
                               "dims",
                               where, name, ag_dtype_name(t->dtype), t->ndim);
    *out = AG_I64(t)[0];
    return 0;
}

/* Everything ag_data_loader_load_state_dict checks; the order and generator state found. */
static int check_state(const char *where, const ag_data_loader *loader, const ag_state_dict *sd,
                       const char *prefix, const ag_tensor **order, const ag_tensor **gen,
                       int64_t *pos, bool *past_end) {
    if (!loader || !sd)
        return ag_status_error("%s: argument '%s' must not be NULL", where,
                               loader ? "sd" : "loader");
    if (!prefix) prefix = "";
    size_t len = strlen(prefix);
    /* Nothing under the prefix that the state does not have. */
    for (int64_t i = 0; i < ag_state_dict_count(sd); i++) {
        const char *name = ag_state_dict_name_at(sd, i);
        if (strncmp(name, prefix, len) != 0) continue;
        bool known = false;
        for (int k = 0; k < NSTATE_KEYS; k++)
            known = known || strcmp(name + len, state_keys[k]) == 0;
        if (!known)
            return ag_status_error("%s: unexpected key '%s' in a data loader's state", where, name);
    }
    int64_t v[4];
    for (int k = 0; k < 4; k++)
        if (state_int(where, sd, prefix, state_keys[k], &v[k]) < 0) return -1;
    const int64_t have[] = {loader->num_samples, loader->batch_size, loader->shuffle,
                            loader->drop_last};
    for (int k = 0; k < 4; k++)
        if (v[k] != have[k])
            return ag_status_error("%s: the state is of a loader with %s = %lld, this one has %lld "
                                   "(make the loader with the same dataset and options)",
                                   where, state_keys[k], (long long)v[k], (long long)have[k]);
    int64_t p, end, n = loader->num_samples;
    if (state_int(where, sd, prefix, "pos", &p) < 0 ||
        state_int(where, sd, prefix, "past_end", &end) < 0)
        return -1;
    if (p < -1 || p > n)
        return ag_status_error("%s: the position %lld is outside [-1, %lld]", where, (long long)p,
                               (long long)n);
    if (end != 0 && end != 1)
        return ag_status_error("%s: past_end is %lld, not 0 or 1", where, (long long)end);
    char name[512];
    if (!state_name(name, sizeof name, where, prefix, "order")) return -1;
    const ag_tensor *o = ag_state_dict_get(sd, name);
    if (!o) return ag_status_error("%s: the state dict holds no '%s'", where, name);
    if (o->dtype != AG_INT64 || o->ndim != 1 || o->shape[0] != n) {
        char sb[AG_SHAPE_STR];
        return ag_status_error("%s: '%s' must be an int64 tensor of shape [%lld], not a %s tensor "
                               "of shape %s",
                               where, name, (long long)n, ag_dtype_name(o->dtype),
                               ag_shape_str(sb, o->ndim, o->shape));
    }
    if (p >= 0) { /* an epoch in progress reads its order: it must be a permutation */
        bool *seen = calloc((size_t)(n ? n : 1), sizeof *seen);
        if (!seen) return ag_status_error("%s: out of memory", where);
        for (int64_t i = 0; i < n; i++) {
            int64_t j = AG_I64(o)[i];
            if (j < 0 || j >= n || seen[j]) {
                free(seen);
                return ag_status_error("%s: '%s' is not a permutation of 0..%lld: element %lld "
                                       "is %lld",
                                       where, name, (long long)n - 1, (long long)i, (long long)j);
            }
            seen[j] = true;
        }
        free(seen);
    }
    if (!state_name(name, sizeof name, where, prefix, "generator")) return -1;
    const ag_tensor *g = ag_state_dict_get(sd, name);
    if (!g != !loader->generator)
        return ag_status_error("%s: %s", where,
                               g ? "the state holds the state of the loader's own generator, but "
                                   "this loader draws from the default generator"
                                 : "this loader has a generator of its own, but the state holds "
                                   "none (the saved loader drew from the default generator)");
    if (g && ag_generator_check_state(g) < 0) {
        char why[600];
        const char *colon = strstr(ag_last_error(), ": "); /* drop "ag_generator_set_state: " */
        snprintf(why, sizeof why, "%s", colon ? colon + 2 : ag_last_error());
        return ag_status_error("%s: '%s': %s", where, name, why);
    }
    *order = o, *gen = g, *pos = p, *past_end = end != 0;
    return 0;
}

int ag_data_loader_check_state_dict(const ag_data_loader *loader, const ag_state_dict *sd,
                                    const char *prefix) {
    const ag_tensor *order, *gen;
    int64_t pos;
    bool past_end;
    return check_state("ag_data_loader_load_state_dict", loader, sd, prefix, &order, &gen, &pos,
                       &past_end);
}

int ag_data_loader_load_state_dict(ag_data_loader *loader, const ag_state_dict *sd,
                                   const char *prefix) {
    const ag_tensor *order, *gen;
    int64_t pos;
    bool past_end;
    if (check_state("ag_data_loader_load_state_dict", loader, sd, prefix, &order, &gen, &pos,
                    &past_end) < 0)
        return -1;
    /* All is checked: nothing below can fail. */
    if (gen) ag_generator_set_state(loader->generator, gen);
    if (loader->num_samples)
        memcpy(loader->order, order->data, (size_t)loader->num_samples * sizeof(int64_t));
    loader->pos = pos;
    loader->past_end = past_end;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* IDX files                                                                                  */
/* ---------------------------------------------------------------------------------------- */

/* What a reader makes of the elements. */
typedef enum idx_mode {
    IDX_RAW,    /* the values unchanged (ag_idx_load) */
    IDX_IMAGES, /* uint8 / 255 as float32 (ag_idx_load_images) */
    IDX_LABELS, /* uint8 as int64 (ag_idx_load_labels) */
    IDX_UINT8,  /* uint8 kept as bytes (ag_idx_load_uint8) */
} idx_mode;

/* The element types of IDX, by their type byte. */
typedef struct idx_type {
    unsigned code;
    const char *name;
    size_t size;    /* bytes per element in the file */
    ag_dtype dtype; /* what ag_idx_load makes of it */
} idx_type;

static const idx_type idx_types[] = {
    {0x08, "uint8", 1, AG_FLOAT32},   {0x09, "int8", 1, AG_FLOAT32},
    {0x0B, "int16", 2, AG_FLOAT32},   {0x0C, "int32", 4, AG_FLOAT64},
    {0x0D, "float32", 4, AG_FLOAT32}, {0x0E, "float64", 8, AG_FLOAT64},
};

/* A deflate stream inflates to at most 1032 times its size (zlib's technical notes): a gzip
 * file whose header promises more than this is lying, and is refused before any allocation. */
#define IDX_MAX_GZIP_RATIO 1032
#define IDX_CHUNK 65536 /* bytes read at a time: a multiple of every element size */

static uint32_t read_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t read_be64(const unsigned char *p) {
    return (uint64_t)read_be32(p) << 32 | read_be32(p + 4);
}

/* Converts n elements of type code (big-endian bytes at p) into out at element offset at. */
static void idx_convert(unsigned code, idx_mode mode, const unsigned char *p, int64_t n,
                        ag_tensor *out, int64_t at) {
    if (mode == IDX_UINT8) { /* the file's bytes are the tensor's */
        memcpy(AG_U8(out) + at, p, (size_t)n);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        switch (code) {
        case 0x08:
            if (mode == IDX_LABELS)
                AG_I64(out)[at + i] = p[i];
            else if (mode == IDX_IMAGES)
                AG_F32(out)[at + i] = (float)p[i] / 255.0f; /* torchvision: byte.float() / 255 */
            else
                AG_F32(out)[at + i] = (float)p[i];
            break;
        case 0x09: AG_F32(out)[at + i] = (float)(int8_t)p[i]; break;
        case 0x0B:
            AG_F32(out)[at + i] = (float)(int16_t)(uint16_t)(p[2 * i] << 8 | p[2 * i + 1]);
            break;
        case 0x0C: AG_F64(out)[at + i] = (double)(int32_t)read_be32(p + 4 * i); break;
        case 0x0D: {
            uint32_t bits = read_be32(p + 4 * i);
            float v;
            memcpy(&v, &bits, sizeof v);
            AG_F32(out)[at + i] = v;
            break;
        }
        case 0x0E: {
            uint64_t bits = read_be64(p + 8 * i);
            double v;
            memcpy(&v, &bits, sizeof v);
            AG_F64(out)[at + i] = v;
            break;
        }
        }
    }
}

/* Reads up to n bytes; returns how many (short only at the end of the data or on an error,
 * which gz_error then tells). */
static int64_t gz_read_full(gzFile gz, unsigned char *buf, int64_t n) {
    int64_t got = 0;
    while (got < n) {
        unsigned want = (unsigned)(n - got < IDX_CHUNK ? n - got : IDX_CHUNK);
        int r = gzread(gz, buf + got, want);
        if (r <= 0) break;
        got += r;
    }
    return got;
}

/* zlib's account of a failure of the stream (a bad CRC, an unexpected end), without the
 * "path: " zlib puts in front; "" when there is none. */
static const char *gz_error(gzFile gz, const char *path) {
    int errnum = Z_OK;
    const char *msg = gzerror(gz, &errnum);
    if (errnum == Z_OK || errnum == Z_STREAM_END || !msg) return "";
    size_t n = strlen(path);
    return strncmp(msg, path, n) == 0 && strncmp(msg + n, ": ", 2) == 0 ? msg + n + 2 : msg;
}

/* The reader behind the three public functions: checks everything about the file that can be
 * checked before reading the data, makes the tensor, and streams the data into it. */
static int idx_read(const char *where, const char *path, idx_mode mode, ag_tensor **out) {
    if (!out) return ag_status_error("%s: argument 'out' must not be NULL", where);
    *out = NULL;
    if (!path) return ag_status_error("%s: argument 'path' must not be NULL", where);

    struct stat st;
    if (stat(path, &st) != 0)
        return ag_status_error("%s: %s: cannot open the file: %s", where, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ag_status_error("%s: %s: %s", where, path,
                               S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return ag_status_error("%s: %s: cannot open the file: %s", where, path,
                               errno ? strerror(errno) : "out of memory");

    int status = -1;
    ag_tensor *t = NULL;
    unsigned char *chunk = NULL;
    unsigned char head[4 + 4 * AG_MAX_DIMS];
    char shape_buf[AG_SHAPE_STR];

    /* The magic: two zero bytes, the type, the number of dims. */
    int64_t got = gz_read_full(gz, head, 4);
    if (*gz_error(gz, path)) goto bad_gzip;
    if (got < 4) {
        status = ag_status_error("%s: %s: not an IDX file: truncated: the file ends inside the "
                                 "magic number",
                                 where, path);
        goto done;
    }
    uint32_t magic = read_be32(head);
    unsigned code = head[2], ndim = head[3];
    const idx_type *type = NULL;
    for (size_t k = 0; k < sizeof idx_types / sizeof idx_types[0]; k++)
        if (idx_types[k].code == code) type = &idx_types[k];
    if (head[0] != 0 || head[1] != 0 || !type || ndim == 0) {
        status = ag_status_error("%s: %s: not an IDX file: bad magic number 0x%08x (expected "
                                 "0x0000TTDD: two zero bytes, a type 08, 09, 0B, 0C, 0D or 0E, "
                                 "and 1 or more dims)",
                                 where, path, (unsigned)magic);
        goto done;
    }
    if (mode == IDX_IMAGES && magic != 0x00000803) {
        status = ag_status_error("%s: %s: bad magic number 0x%08x for IDX images (expected "
                                 "0x00000803: unsigned bytes, 3 dims N, rows, cols)",
                                 where, path, (unsigned)magic);
        goto done;
    }
    if (mode == IDX_LABELS && magic != 0x00000801) {
        status = ag_status_error("%s: %s: bad magic number 0x%08x for IDX labels (expected "
                                 "0x00000801: unsigned bytes, 1 dim N)",
                                 where, path, (unsigned)magic);
        goto done;
    }
    if (mode == IDX_UINT8 && code != 0x08) {
        status = ag_status_error("%s: %s: the elements are %s (magic 0x%08x), not unsigned bytes "
                                 "(type 08): ag_idx_load reads any type",
                                 where, path, type->name, (unsigned)magic);
        goto done;
    }
    if (ndim > AG_MAX_DIMS) {
        status = ag_status_error("%s: %s: the file has %u dims; a tensor has at most %d", where,
                                 path, ndim, AG_MAX_DIMS);
        goto done;
    }

    /* The dims, and what they promise. */
    got = gz_read_full(gz, head + 4, 4 * (int64_t)ndim);
    if (*gz_error(gz, path)) goto bad_gzip;
    if (got < 4 * (int64_t)ndim) {
        status = ag_status_error("%s: %s: truncated: the file ends inside its dims", where, path);
        goto done;
    }
    int64_t shape[AG_MAX_DIMS], numel = 1;
    bool absurd = false;
    for (unsigned d = 0; d < ndim; d++) {
        shape[d] = read_be32(head + 4 + 4 * d);
        /* The size rule of ag_empty (numel * 16 fits in int64), so that making the tensor
         * cannot fail on it. */
        if (shape[d] && numel > INT64_MAX / 16 / shape[d])
            absurd = true;
        else
            numel *= shape[d];
    }
    if (absurd) {
        status = ag_status_error("%s: %s: absurd dims %s: too many elements for a tensor", where,
                                 path, ag_shape_str(shape_buf, (int)ndim, shape));
        goto done;
    }
    int64_t header = 4 + 4 * (int64_t)ndim, need = numel * (int64_t)type->size;
    bool gzipped = !gzdirect(gz);
    if (!gzipped && st.st_size - header < need) {
        status = ag_status_error("%s: %s: truncated: dims %s of %s need %lld bytes of data, the "
                                 "file holds %lld",
                                 where, path, ag_shape_str(shape_buf, (int)ndim, shape), type->name,
                                 (long long)need, (long long)(st.st_size - header));
        goto done;
    }
    if (!gzipped && st.st_size - header > need) {
        status = ag_status_error("%s: %s: %lld bytes of trailing garbage after the data of dims "
                                 "%s of %s",
                                 where, path, (long long)(st.st_size - header - need),
                                 ag_shape_str(shape_buf, (int)ndim, shape), type->name);
        goto done;
    }
    if (gzipped && (double)need > (double)st.st_size * IDX_MAX_GZIP_RATIO) {
        status = ag_status_error("%s: %s: absurd dims %s of %s: they need %lld bytes of data, "
                                 "more than a gzip file of %lld bytes can hold",
                                 where, path, ag_shape_str(shape_buf, (int)ndim, shape), type->name,
                                 (long long)need, (long long)st.st_size);
        goto done;
    }

    /* The tensor, filled a chunk at a time. */
    ag_dtype dtype = mode == IDX_LABELS   ? AG_INT64
                     : mode == IDX_IMAGES ? AG_FLOAT32
                     : mode == IDX_UINT8  ? AG_UINT8
                                          : type->dtype;
    chunk = malloc(IDX_CHUNK);
    t = chunk ? ag_empty(dtype, (int)ndim, shape) : NULL;
    if (!t) {
        status = ag_status_error("%s: %s: out of memory for dims %s", where, path,
                                 ag_shape_str(shape_buf, (int)ndim, shape));
        goto done;
    }
    int64_t done_elems = 0, per_chunk = IDX_CHUNK / (int64_t)type->size;
    while (done_elems < numel) {
        int64_t n = numel - done_elems < per_chunk ? numel - done_elems : per_chunk;
        int64_t bytes = n * (int64_t)type->size;
        got = gz_read_full(gz, chunk, bytes);
        if (*gz_error(gz, path)) goto bad_gzip;
        if (got < bytes) {
            int64_t total = done_elems * (int64_t)type->size + got;
            status = ag_status_error("%s: %s: truncated: dims %s of %s need %lld bytes of data, "
                                     "the file holds %lld",
                                     where, path, ag_shape_str(shape_buf, (int)ndim, shape),
                                     type->name, (long long)need, (long long)total);
            goto done;
        }
        idx_convert(code, mode, chunk, n, t, done_elems);
        done_elems += n;
    }
    /* Nothing may follow the data (and reading past it makes zlib check the gzip CRC). */
    unsigned char extra[64];
    int r = gzread(gz, extra, sizeof extra);
    if (r < 0 || *gz_error(gz, path)) goto bad_gzip;
    if (r > 0) {
        status = ag_status_error("%s: %s: trailing garbage after the data of dims %s of %s", where,
                                 path, ag_shape_str(shape_buf, (int)ndim, shape), type->name);
        goto done;
    }
    *out = t;
    t = NULL;
    status = 0;
    goto done;
bad_gzip:
    status = ag_status_error("%s: %s: corrupt or truncated gzip data: %s", where, path,
                             gz_error(gz, path));
done:
    if (t) ag_tensor_free(t);
    free(chunk);
    gzclose(gz);
    return status;
}

int ag_idx_load(const char *path, ag_tensor **out) {
    return idx_read("ag_idx_load", path, IDX_RAW, out);
}

int ag_idx_load_images(const char *path, ag_tensor **out) {
    return idx_read("ag_idx_load_images", path, IDX_IMAGES, out);
}

int ag_idx_load_labels(const char *path, ag_tensor **out) {
    return idx_read("ag_idx_load_labels", path, IDX_LABELS, out);
}

int ag_idx_load_uint8(const char *path, ag_tensor **out) {
    return idx_read("ag_idx_load_uint8", path, IDX_UINT8, out);
}

const char *ag_fashion_mnist_dir(void) {
    static const char dir[] = "/usr/share/datasets/fashion-mnist";
    return access("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", R_OK) == 0 ? dir
                                                                                            : NULL;
}
