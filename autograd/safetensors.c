/*
 * safetensors.c - state dicts, and saving and loading them as safetensors files.
 *
 * Reading is one parser over a buffer (the file loader reads the file whole, then calls it;
 * so does the fuzz target), in three passes, none of which creates a tensor:
 *   1. the 8-byte header length, checked against the 100 MB cap and the buffer's end;
 *   2. the JSON header, by a small strict parser for exactly the subset safetensors uses
 *      (objects, arrays, strings with escapes, non-negative integers) and exactly the schema
 *      {name: {dtype, shape, data_offsets}, "__metadata__": {key: string}}. It is driven by
 *      that schema, so it never nests deeper than three levels and never recurses;
 *   3. the layout: every shape agrees with its bytes, names are unique, the data offsets are
 *      contiguous and cover the data region exactly (as the reference implementation
 *      requires), and every "xxh3:<name>" checksum matches the bytes it names.
 * Only then are tensors made and filled. Every failure is a status (-1) with a message in
 * ag_last_error() that names the tensor and says what is wrong: never the error handler.
 *
 * Writing builds the header in memory, then writes PATH.tmp.<pid>, fsyncs it, renames it over
 * PATH and fsyncs the directory, so PATH holds either the old file or the whole new one.
 */
#define _POSIX_C_SOURCE 200809L

#include "autograd/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack, for ag_fingerprint */
#include <xxhash.h>

/* The reference implementation refuses headers above 100,000,000 bytes; so do we. */
#define MAX_HEADER 100000000u

/* ---- dtypes ---------------------------------------------------------------------------------- */

/* How a file's dtype loads: as one of ours, as int32 widened to int64, or not at all. */
enum { LOAD_F32, LOAD_F64, LOAD_I64, LOAD_I32, LOAD_U8, LOAD_NONE };

typedef struct st_dtype {
    const char *name; /* as safetensors spells it */
    size_t size;      /* bytes per element */
    int load;
} st_dtype;

/* Every dtype of the safetensors format (byte-sized ones; the sub-byte float formats are
 * refused as unknown). The first three and "U8" are what ag_dtype 0, 1, 2, 3 save as. */
static const st_dtype dtypes[] = {
    {"F32", 4, LOAD_F32},   {"F64", 8, LOAD_F64},      {"I64", 8, LOAD_I64},
    {"I32", 4, LOAD_I32},   {"BOOL", 1, LOAD_NONE},    {"U8", 1, LOAD_U8},
    {"I8", 1, LOAD_NONE},   {"F8_E5M2", 1, LOAD_NONE}, {"F8_E4M3", 1, LOAD_NONE},
    {"I16", 2, LOAD_NONE},  {"U16", 2, LOAD_NONE},     {"F16", 2, LOAD_NONE},
    {"BF16", 2, LOAD_NONE}, {"U32", 4, LOAD_NONE},     {"U64", 8, LOAD_NONE},
    {"C64", 8, LOAD_NONE},
};
#define NDTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

/* The file dtype ag_dtype d saves as (index into dtypes). */
static int file_dtype_of(ag_dtype d) {
    return d == AG_FLOAT32 ? 0 : d == AG_FLOAT64 ? 1 : d == AG_UINT8 ? 5 : 2;
}

/* ---- byte order ------------------------------------------------------------------------------ */

static bool host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

static uint64_t read_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = (v << 8) | p[k];
    return v;
}

static void write_le64(unsigned char *p, uint64_t v) {
    for (int k = 0; k < 8; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

/* Copies count elements of size bytes from src to dst, reversing each one's bytes (the step
 * between a big-endian host and the file's little-endian data). */
static void copy_swapped(void *dst, const void *src, size_t count, size_t size) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < size; k++)
            d[i * size + k] = s[i * size + size - 1 - k];
}

/* ---- UTF-8 ----------------------------------------------------------------------------------- */

/* The length of the well-formed UTF-8 sequence at s (n bytes available), or 0 if there is
 * none there: no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

static bool valid_utf8(const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    for (size_t i = 0; i < n;) {
        size_t len = utf8_sequence(s + i, n - i);
        if (!len) return false;
        i += len;
    }
    return true;
}

/* A name as a message shows it: at most 60 bytes, control bytes as '?'. */
static const char *shown(const char *name, char buf[72]) {
    size_t n = 0;
    for (const unsigned char *s = (const unsigned char *)name; *s && n < 64; s++, n++) {
        if (n == 60 && (*s & 0xC0) != 0x80) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        buf[n] = (*s < 0x20 || *s == 0x7F) ? '?' : (char)*s;
    }
    buf[n] = '\0';
    return buf;
}

/* ---- a growing string ------------------------------------------------------------------------ */

typedef struct strbuf {
    char *p;
    size_t len, cap;
    bool oom;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(strbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_printf(strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void sb_printf(strbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* prefix + name as a JSON string: quotes, backslashes and control characters escaped. */
static void sb_json_string(strbuf *b, const char *prefix, const char *name) {
    sb_add(b, "\"", 1);
    sb_puts(b, prefix);
    for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
        if (*s == '"' || *s == '\\') {
            char esc[2] = {'\\', (char)*s};
            sb_add(b, esc, 2);
        } else if (*s < 0x20) {
            sb_printf(b, "\\u%04x", *s);
        } else {
            sb_add(b, (const char *)s, 1);
        }
    }
    sb_add(b, "\"", 1);
}

/* ---- state dicts ----------------------------------------------------------------------------- */

typedef struct sd_entry {
    char *name; /* the dict's copy */
    ag_tensor *t;
    bool owned; /* made by a loader: freed with the dict */
} sd_entry;

/* A user metadata entry: key and value, both the dict's copies. */
typedef struct sd_meta {
    char *key, *value;
} sd_meta;

struct ag_state_dict {
    sd_entry *entries;
    int64_t n, cap;
    sd_meta *meta; /* the file's __metadata__, less "format" and the checksums */
    int64_t nmeta, capmeta;
};

ag_state_dict *ag_state_dict_new(void) {
    ag_state_dict *sd = calloc(1, sizeof *sd);
    if (!sd) AG_ERROR("ag_state_dict_new", "out of memory");
    return sd;
}

void ag_state_dict_free(ag_state_dict *sd) {
    if (!sd) return;
    for (int64_t i = 0; i < sd->n; i++) {
        if (sd->entries[i].owned) ag_tensor_free(sd->entries[i].t);
        free(sd->entries[i].name);
    }
    free(sd->entries);
    for (int64_t i = 0; i < sd->nmeta; i++) {
        free(sd->meta[i].key);
        free(sd->meta[i].value);
    }
    free(sd->meta);
    free(sd);
}

/* Appends without checks; false when out of memory (nothing appended). */
static bool sd_push(ag_state_dict *sd, const char *name, ag_tensor *t, bool owned) {
    if (sd->n == sd->cap) {
        int64_t cap = sd->cap ? 2 * sd->cap : 8;
        sd_entry *e = realloc(sd->entries, (size_t)cap * sizeof *e);
        if (!e) return false;
        sd->entries = e, sd->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) return false;
    sd->entries[sd->n++] = (sd_entry){copy, t, owned};
    return true;
}

static int64_t sd_find(const ag_state_dict *sd, const char *name) {
    for (int64_t i = 0; i < sd->n; i++)
        if (strcmp(sd->entries[i].name, name) == 0) return i;
    return -1;
}

int ag_state_dict_add(ag_state_dict *sd, const char *name, ag_tensor *t) {
    const char *op = "ag_state_dict_add";
    if (!sd || !name) {
        AG_ERROR(op, "argument '%s' must not be NULL", sd ? "name" : "sd");
        return -1;
    }
    if (!ag_check_tensor(op, t, "tensor")) return -1;
    if (sd_find(sd, name) >= 0) {
        char buf[72];
        AG_ERROR(op, "the state dict already holds a tensor named '%s'", shown(name, buf));
        return -1;
    }
    if (!sd_push(sd, name, t, false)) {
        AG_ERROR(op, "out of memory");
        return -1;
    }
    return 0;
}

ag_tensor *ag_state_dict_get(const ag_state_dict *sd, const char *name) {
    if (!sd || !name) return NULL;
    int64_t i = sd_find(sd, name);
    return i < 0 ? NULL : sd->entries[i].t;
}

int64_t ag_state_dict_count(const ag_state_dict *sd) { return sd ? sd->n : 0; }

static bool check_index(const char *op, const ag_state_dict *sd, int64_t i) {
    if (sd && i >= 0 && i < sd->n) return true;
    AG_ERROR(op, "index %lld is out of range for a state dict of %lld entries", (long long)i,
             (long long)ag_state_dict_count(sd));
    return false;
}

const char *ag_state_dict_name_at(const ag_state_dict *sd, int64_t i) {
    return check_index("ag_state_dict_name_at", sd, i) ? sd->entries[i].name : NULL;
}

ag_tensor *ag_state_dict_tensor_at(const ag_state_dict *sd, int64_t i) {
    return check_index("ag_state_dict_tensor_at", sd, i) ? sd->entries[i].t : NULL;
}

int ag_state_dict_add_owned(ag_state_dict *sd, const char *name, ag_tensor *t) {
    const char *op = "ag_state_dict_add_owned";
    if (!sd || !name) {
        AG_ERROR(op, "argument '%s' must not be NULL", sd ? "name" : "sd");
        return -1;
    }
    if (!ag_check_tensor(op, t, "tensor")) return -1;
    if (t->tape) {
        AG_ERROR(op, "the tensor belongs to a tape, which frees it: a state dict can only own a "
                     "tensor you own");
        return -1;
    }
    if (sd_find(sd, name) >= 0) {
        char buf[72];
        AG_ERROR(op, "the state dict already holds a tensor named '%s'", shown(name, buf));
        return -1;
    }
    if (!sd_push(sd, name, t, true)) {
        AG_ERROR(op, "out of memory");
        return -1;
    }
    return 0;
}

ag_tensor *ag_state_dict_take(ag_state_dict *sd, const char *name) {
    if (!sd || !name) return NULL;
    int64_t i = sd_find(sd, name);
    if (i < 0) return NULL;
    ag_tensor *t = sd->entries[i].t;
    free(sd->entries[i].name);
    memmove(sd->entries + i, sd->entries + i + 1, (size_t)(sd->n - i - 1) * sizeof *sd->entries);
    sd->n--;
    return t;
}

/* ---- metadata -------------------------------------------------------------------------------- */

static int64_t meta_find(const ag_state_dict *sd, const char *key) {
    for (int64_t i = 0; i < sd->nmeta; i++)
        if (strcmp(sd->meta[i].key, key) == 0) return i;
    return -1;
}

/* Why key cannot be user metadata, or NULL if it can: the format's own keys are reserved. */
static const char *reserved_key(const char *key) {
    if (strcmp(key, "format") == 0) return "is reserved (the writer's name)";
    if (strncmp(key, "xxh3:", 5) == 0) return "is reserved (the checksums)";
    return NULL;
}

/* Appends key = value without checks (both copied; the key must not be there yet); false
 * when out of memory (nothing appended). */
static bool meta_push(ag_state_dict *sd, const char *key, const char *value) {
    if (sd->nmeta == sd->capmeta) {
        int64_t cap = sd->capmeta ? 2 * sd->capmeta : 8;
        sd_meta *m = realloc(sd->meta, (size_t)cap * sizeof *m);
        if (!m) return false;
        sd->meta = m, sd->capmeta = cap;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k), free(v);
        return false;
    }
    sd->meta[sd->nmeta++] = (sd_meta){k, v};
    return true;
}

/* Sets key = value, replacing a value already there; false when out of memory (nothing
 * changed). */
static bool meta_put(ag_state_dict *sd, const char *key, const char *value) {
    int64_t i = meta_find(sd, key);
    if (i < 0) return meta_push(sd, key, value);
    char *v = strdup(value);
    if (!v) return false;
    free(sd->meta[i].value);
    sd->meta[i].value = v;
    return true;
}

int ag_state_dict_set_metadata(ag_state_dict *sd, const char *key, const char *value) {
    const char *op = "ag_state_dict_set_metadata";
    if (!sd || !key || !value) {
        AG_ERROR(op, "argument '%s' must not be NULL", !sd ? "sd" : !key ? "key" : "value");
        return -1;
    }
    char kb[72];
    const char *problem = reserved_key(key);
    if (!problem && !valid_utf8(key)) problem = "is not valid UTF-8";
    if (!problem && !valid_utf8(value)) problem = "has a value that is not valid UTF-8";
    if (problem) {
        AG_ERROR(op, "the metadata key '%s' %s", shown(key, kb), problem);
        return -1;
    }
    if (!meta_put(sd, key, value)) {
        AG_ERROR(op, "out of memory");
        return -1;
    }
    return 0;
}

const char *ag_state_dict_get_metadata(const ag_state_dict *sd, const char *key) {
    if (!sd || !key) return NULL;
    int64_t i = meta_find(sd, key);
    return i < 0 ? NULL : sd->meta[i].value;
}

int64_t ag_state_dict_metadata_count(const ag_state_dict *sd) { return sd ? sd->nmeta : 0; }

const char *ag_state_dict_metadata_key_at(const ag_state_dict *sd, int64_t i) {
    if (sd && i >= 0 && i < sd->nmeta) return sd->meta[i].key;
    AG_ERROR("ag_state_dict_metadata_key_at",
             "index %lld is out of range for a state dict of %lld metadata entries", (long long)i,
             (long long)ag_state_dict_metadata_count(sd));
    return NULL;
}

/* ---- merging and selecting by prefix --------------------------------------------------------- */

/* prefix + name in a new string (NULL when out of memory). */
static char *joined(const char *prefix, const char *name) {
    size_t a = strlen(prefix), b = strlen(name);
    char *s = malloc(a + b + 1);
    if (s) {
        memcpy(s, prefix, a);
        memcpy(s + a, name, b + 1);
    }
    return s;
}

int ag_state_dict_merge(ag_state_dict *dst, const ag_state_dict *src, const char *prefix) {
    const char *op = "ag_state_dict_merge";
    if (!dst || !src) {
        AG_ERROR(op, "argument '%s' must not be NULL", dst ? "src" : "dst");
        return -1;
    }
    if (dst == src) {
        AG_ERROR(op, "cannot merge a state dict into itself");
        return -1;
    }
    if (!prefix) prefix = "";
    /* Every name is checked before the first is added. */
    for (int64_t i = 0; i < src->n + src->nmeta; i++) {
        bool tensor = i < src->n;
        const char *name = tensor ? src->entries[i].name : src->meta[i - src->n].key;
        char *full = joined(prefix, name);
        if (!full) {
            AG_ERROR(op, "out of memory");
            return -1;
        }
        char nb[72];
        const char *problem = tensor ? (sd_find(dst, full) >= 0 ? "a tensor" : NULL)
                              : meta_find(dst, full) >= 0 ? "a metadata entry"
                              : reserved_key(full)        ? "a reserved metadata key"
                                                          : NULL;
        shown(full, nb);
        free(full); /* before reporting: an error handler may longjmp */
        if (problem) {
            AG_ERROR(op, "the state dict already holds %s named '%s'", problem, nb);
            return -1;
        }
    }
    int64_t n0 = dst->n, nmeta0 = dst->nmeta;
    bool ok = true;
    for (int64_t i = 0; ok && i < src->n; i++) {
        char *full = joined(prefix, src->entries[i].name);
        ok = full && sd_push(dst, full, src->entries[i].t, false);
        free(full);
    }
    for (int64_t i = 0; ok && i < src->nmeta; i++) {
        char *full = joined(prefix, src->meta[i].key);
        ok = full && meta_push(dst, full, src->meta[i].value);
        free(full);
    }
    if (!ok) { /* take back what was added, so that dst is as it was */
        while (dst->n > n0)
            free(dst->entries[--dst->n].name);
        while (dst->nmeta > nmeta0) {
            dst->nmeta--;
            free(dst->meta[dst->nmeta].key);
            free(dst->meta[dst->nmeta].value);
        }
        AG_ERROR(op, "out of memory");
        return -1;
    }
    return 0;
}

ag_state_dict *ag_state_dict_select(const ag_state_dict *sd, const char *prefix) {
    const char *op = "ag_state_dict_select";
    if (!sd) {
        AG_ERROR(op, "argument 'sd' must not be NULL");
        return NULL;
    }
    if (!prefix) prefix = "";
    size_t len = strlen(prefix);
    ag_state_dict *out = calloc(1, sizeof *out);
    bool ok = out != NULL;
    for (int64_t i = 0; ok && i < sd->n; i++)
        if (strncmp(sd->entries[i].name, prefix, len) == 0)
            ok = sd_push(out, sd->entries[i].name + len, sd->entries[i].t, false);
    for (int64_t i = 0; ok && i < sd->nmeta; i++)
        if (strncmp(sd->meta[i].key, prefix, len) == 0)
            ok = meta_push(out, sd->meta[i].key + len, sd->meta[i].value);
    if (!ok) {
        ag_state_dict_free(out);
        AG_ERROR(op, "out of memory");
        return NULL;
    }
    return out;
}

/* ---- the parsed file ------------------------------------------------------------------------- */

typedef struct st_tensor {
    const char *name; /* in the arena */
    int dtype;        /* index into dtypes */
    int ndim;
    int64_t shape[AG_MAX_DIMS];
    uint64_t begin, end;
    int64_t numel;
    bool has_checksum;
    uint64_t checksum, actual;
    ag_checksum_status status;
} st_tensor;

typedef struct st_meta {
    const char *key, *value; /* in the arena */
} st_meta;

typedef struct st_file {
    const char *where;         /* the message prefix: "ag_load_safetensors: PATH" */
    const unsigned char *head; /* the JSON header */
    size_t head_len, pos;      /* and the parser's position in it */
    char *arena;               /* the decoded strings (head_len + 1 bytes suffice) */
    size_t arena_used;
    st_tensor *t; /* in header order */
    size_t n, cap;
    st_meta *meta;
    size_t nmeta, capmeta;
    bool seen_metadata;
    st_tensor **by_name;       /* t sorted by name */
    st_tensor **by_offset;     /* t sorted by data offsets: the file's data order */
    const unsigned char *data; /* the data region */
    uint64_t data_size;
    const char *format; /* __metadata__'s "format", or "" */
} st_file;

static void st_free(st_file *f) {
    free(f->arena);
    free(f->t);
    free(f->meta);
    free(f->by_name);
    free(f->by_offset);
}

/* Records "<where>: <what>" for ag_last_error(); returns -1. */
static int st_fail(const st_file *f, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int st_fail(const st_file *f, const char *fmt, ...) {
    char what[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return ag_status_error("%s: %s", f->where, what);
}

/* ---- the JSON header: a strict parser for the safetensors schema ----------------------------- */

static int syntax(st_file *f, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int syntax(st_file *f, const char *fmt, ...) {
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    /* Positions count from the start of the file: the header begins at byte 8. */
    return st_fail(f, "malformed header at byte %zu: %s", 8 + f->pos, what);
}

static void skip_ws(st_file *f) {
    while (f->pos < f->head_len) {
        unsigned char c = f->head[f->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        f->pos++;
    }
}

/* Whether the next non-blank character is c (then consumed). */
static bool accept(st_file *f, char c) {
    skip_ws(f);
    if (f->pos < f->head_len && f->head[f->pos] == (unsigned char)c) {
        f->pos++;
        return true;
    }
    return false;
}

static int expect(st_file *f, char c, const char *context) {
    if (accept(f, c)) return 0;
    return syntax(f, "expected '%c' %s", c, context);
}

static bool at(st_file *f, char c) {
    skip_ws(f);
    return f->pos < f->head_len && f->head[f->pos] == (unsigned char)c;
}

static int hex_digit(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits at the position (after "\u"); -1 if they are not there. */
static long hex4(st_file *f) {
    if (f->head_len - f->pos < 4) return -1;
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int d = hex_digit(f->head[f->pos + (size_t)k]);
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    f->pos += 4;
    return v;
}

static size_t utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A JSON string, decoded into the arena (NUL-terminated; *len excludes the NUL, and a string
 * may hold a NUL of its own from "\u0000"). Decoding never lengthens a string, and each string
 * brings two quotes for its terminator, so the arena of head_len + 1 bytes cannot overflow. */
static int parse_string(st_file *f, const char **out, size_t *len, const char *context) {
    skip_ws(f);
    if (f->pos >= f->head_len || f->head[f->pos] != '"')
        return syntax(f, "expected a string %s", context);
    f->pos++;
    char *dst = f->arena + f->arena_used;
    size_t k = 0;
    for (;;) {
        if (f->pos >= f->head_len) return syntax(f, "unterminated string %s", context);
        unsigned char c = f->head[f->pos];
        if (c == '"') {
            f->pos++;
            break;
        }
        if (c < 0x20) return syntax(f, "unescaped control character in a string");
        if (c >= 0x80) {
            size_t n = utf8_sequence(f->head + f->pos, f->head_len - f->pos);
            if (!n) return syntax(f, "invalid UTF-8 in a string");
            memcpy(dst + k, f->head + f->pos, n);
            k += n, f->pos += n;
            continue;
        }
        f->pos++;
        if (c != '\\') {
            dst[k++] = (char)c;
            continue;
        }
        if (f->pos >= f->head_len) return syntax(f, "unterminated string %s", context);
        unsigned char e = f->head[f->pos++];
        switch (e) {
        case '"':
        case '\\':
        case '/': dst[k++] = (char)e; break;
        case 'b': dst[k++] = '\b'; break;
        case 'f': dst[k++] = '\f'; break;
        case 'n': dst[k++] = '\n'; break;
        case 'r': dst[k++] = '\r'; break;
        case 't': dst[k++] = '\t'; break;
        case 'u': {
            long cp = hex4(f);
            if (cp < 0) return syntax(f, "invalid \\u escape (four hex digits expected)");
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return syntax(f, "unpaired surrogate in a \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                long lo = -1;
                if (f->head_len - f->pos >= 2 && f->head[f->pos] == '\\' &&
                    f->head[f->pos + 1] == 'u') {
                    f->pos += 2;
                    lo = hex4(f);
                }
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return syntax(f, "unpaired surrogate in a \\u escape");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            k += utf8_encode((uint32_t)cp, dst + k);
            break;
        }
        default:
            return syntax(f, "invalid escape '\\%c' in a string", e >= 0x20 && e < 0x7F ? e : '?');
        }
    }
    dst[k] = '\0';
    f->arena_used += k + 1;
    *out = dst;
    if (len) *len = k;
    return 0;
}

/* A non-negative JSON integer no larger than INT64_MAX; context names what it is. */
static int parse_uint(st_file *f, uint64_t *out, const char *context) {
    skip_ws(f);
    if (f->pos < f->head_len && f->head[f->pos] == '-')
        return st_fail(f, "negative number in %s", context);
    if (f->pos >= f->head_len || f->head[f->pos] < '0' || f->head[f->pos] > '9')
        return syntax(f, "expected a non-negative integer in %s", context);
    if (f->head[f->pos] == '0' && f->pos + 1 < f->head_len && f->head[f->pos + 1] >= '0' &&
        f->head[f->pos + 1] <= '9')
        return syntax(f, "number with a leading zero in %s", context);
    uint64_t v = 0;
    while (f->pos < f->head_len && f->head[f->pos] >= '0' && f->head[f->pos] <= '9') {
        unsigned d = f->head[f->pos] - '0';
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return st_fail(f, "number too large in %s (more than 2^63 - 1)", context);
        v = v * 10 + d;
        f->pos++;
    }
    if (f->pos < f->head_len &&
        (f->head[f->pos] == '.' || f->head[f->pos] == 'e' || f->head[f->pos] == 'E'))
        return syntax(f, "expected an integer in %s, not a fraction or an exponent", context);
    *out = v;
    return 0;
}

static st_tensor *new_tensor(st_file *f) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        st_tensor *t = realloc(f->t, cap * sizeof *t);
        if (!t) return NULL;
        f->t = t, f->cap = cap;
    }
    st_tensor *t = &f->t[f->n++];
    memset(t, 0, sizeof *t);
    return t;
}

/* {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, each field exactly once. */
static int parse_tensor(st_file *f, const char *name) {
    char nb[72], ctx[160];
    shown(name, nb);
    snprintf(ctx, sizeof ctx, "to describe tensor '%s'", nb);
    if (expect(f, '{', ctx) < 0) return -1;
    st_tensor *t = new_tensor(f);
    if (!t) return st_fail(f, "out of memory");
    t->name = name;
    bool seen_dtype = false, seen_shape = false, seen_offsets = false;
    if (!at(f, '}')) {
        do {
            const char *key, *dtype;
            snprintf(ctx, sizeof ctx, "(a field of tensor '%s')", nb);
            if (parse_string(f, &key, NULL, ctx) < 0 || expect(f, ':', ctx) < 0) return -1;
            bool *seen = strcmp(key, "dtype") == 0          ? &seen_dtype
                         : strcmp(key, "shape") == 0        ? &seen_shape
                         : strcmp(key, "data_offsets") == 0 ? &seen_offsets
                                                            : NULL;
            char kb[72];
            if (!seen)
                return st_fail(f,
                               "unexpected field '%s' in tensor '%s' (a tensor has dtype, "
                               "shape and data_offsets)",
                               shown(key, kb), nb);
            if (*seen) return st_fail(f, "field '%s' appears twice in tensor '%s'", key, nb);
            *seen = true;
            if (seen == &seen_dtype) {
                snprintf(ctx, sizeof ctx, "(the dtype of tensor '%s')", nb);
                if (parse_string(f, &dtype, NULL, ctx) < 0) return -1;
                t->dtype = -1;
                for (int d = 0; d < NDTYPES; d++)
                    if (strcmp(dtype, dtypes[d].name) == 0) t->dtype = d;
                if (t->dtype < 0)
                    return st_fail(f, "tensor '%s' has unknown dtype '%s'", nb, shown(dtype, kb));
            } else if (seen == &seen_shape) {
                snprintf(ctx, sizeof ctx, "in the shape of tensor '%s'", nb);
                const char *what = ctx + 3; /* "the shape of ..." */
                if (expect(f, '[', ctx) < 0) return -1;
                if (!accept(f, ']')) {
                    do {
                        uint64_t dim;
                        if (t->ndim == AG_MAX_DIMS)
                            return st_fail(f,
                                           "tensor '%s' has more than %d dims, the most "
                                           "libautograd supports",
                                           nb, AG_MAX_DIMS);
                        if (parse_uint(f, &dim, what) < 0) return -1;
                        t->shape[t->ndim++] = (int64_t)dim;
                    } while (accept(f, ','));
                    if (expect(f, ']', ctx) < 0) return -1;
                }
            } else {
                snprintf(ctx, sizeof ctx, "in the data_offsets of tensor '%s'", nb);
                const char *what = ctx + 3;
                if (expect(f, '[', ctx) < 0 || parse_uint(f, &t->begin, what) < 0 ||
                    expect(f, ',', ctx) < 0 || parse_uint(f, &t->end, what) < 0 ||
                    expect(f, ']', ctx) < 0)
                    return -1;
            }
        } while (accept(f, ','));
    }
    snprintf(ctx, sizeof ctx, "to end tensor '%s'", nb);
    if (expect(f, '}', ctx) < 0) return -1;
    if (!seen_dtype || !seen_shape || !seen_offsets)
        return st_fail(f, "tensor '%s' has no %s", nb,
                       !seen_dtype   ? "dtype"
                       : !seen_shape ? "shape"
                                     : "data_offsets");
    return 0;
}

/* "__metadata__": {"key": "value", ...}: values must be strings, as in the reference. */
static int parse_metadata(st_file *f) {
    if (f->seen_metadata) return st_fail(f, "'__metadata__' appears twice in the header");
    f->seen_metadata = true;
    if (expect(f, '{', "after \"__metadata__\":") < 0) return -1;
    if (accept(f, '}')) return 0;
    do {
        st_meta m;
        char kb[72], ctx[120];
        size_t klen, vlen;
        if (parse_string(f, &m.key, &klen, "(a key of __metadata__)") < 0 ||
            expect(f, ':', "after a key of __metadata__") < 0)
            return -1;
        snprintf(ctx, sizeof ctx, "(metadata values must be strings; see key '%s')",
                 shown(m.key, kb));
        if (parse_string(f, &m.value, &vlen, ctx) < 0) return -1;
        /* C strings end at a NUL: a "\u0000" would cut the key or value short unseen. */
        if (klen != strlen(m.key) || vlen != strlen(m.value))
            return st_fail(f, "metadata '%s' holds a NUL character", kb);
        if (f->nmeta == f->capmeta) {
            size_t cap = f->capmeta ? 2 * f->capmeta : 16;
            st_meta *p = realloc(f->meta, cap * sizeof *p);
            if (!p) return st_fail(f, "out of memory");
            f->meta = p, f->capmeta = cap;
        }
        f->meta[f->nmeta++] = m;
    } while (accept(f, ','));
    return expect(f, '}', "to end __metadata__");
}

static int parse_header(st_file *f) {
    skip_ws(f);
    if (f->pos >= f->head_len) return syntax(f, "the header is empty (a JSON object was expected)");
    if (f->head[f->pos] != '{') return syntax(f, "the header must be a JSON object");
    f->pos++;
    if (!at(f, '}')) {
        do {
            const char *key;
            size_t len;
            if (parse_string(f, &key, &len, "(a tensor name)") < 0 ||
                expect(f, ':', "after a tensor name") < 0)
                return -1;
            if (len != strlen(key)) return st_fail(f, "a tensor name holds a NUL character");
            int rc = strcmp(key, "__metadata__") == 0 ? parse_metadata(f) : parse_tensor(f, key);
            if (rc < 0) return -1;
        } while (accept(f, ','));
    }
    if (expect(f, '}', "after the header's last entry") < 0) return -1;
    skip_ws(f);
    if (f->pos != f->head_len) return syntax(f, "unexpected text after the header's object");
    return 0;
}

/* ---- the layout ------------------------------------------------------------------------------ */

static int by_name(const void *a, const void *b) {
    return strcmp((*(st_tensor *const *)a)->name, (*(st_tensor *const *)b)->name);
}

static int by_offset(const void *a, const void *b) {
    const st_tensor *x = *(st_tensor *const *)a, *y = *(st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int meta_by_key(const void *a, const void *b) {
    return strcmp(((const st_meta *)a)->key, ((const st_meta *)b)->key);
}

static st_tensor *find_tensor(const st_file *f, const char *name) {
    st_tensor key = {.name = name}, *pkey = &key;
    st_tensor **hit = bsearch(&pkey, f->by_name, f->n, sizeof *f->by_name, by_name);
    return hit ? *hit : NULL;
}

static int check_layout(st_file *f) {
    char nb[72], nb2[72];
    for (size_t i = 0; i < f->n; i++) {
        st_tensor *t = &f->t[i];
        shown(t->name, nb);
        /* The size rule of ag_empty, so that making the tensor later cannot fail on it. */
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] && numel > INT64_MAX / 16 / t->shape[d]) {
                char sb[AG_SHAPE_STR];
                return st_fail(f, "the shape %s of tensor '%s' is too large",
                               ag_shape_str(sb, t->ndim, t->shape), nb);
            }
            numel *= t->shape[d];
        }
        t->numel = numel;
        if (t->end < t->begin)
            return st_fail(f,
                           "the data_offsets [%llu, %llu] of tensor '%s' end before they "
                           "begin",
                           (unsigned long long)t->begin, (unsigned long long)t->end, nb);
        if (t->end > f->data_size)
            return st_fail(f,
                           "the data of tensor '%s' (bytes %llu to %llu) goes past the end "
                           "of the data region (%llu bytes): the file is truncated",
                           nb, (unsigned long long)t->begin, (unsigned long long)t->end,
                           (unsigned long long)f->data_size);
        uint64_t bytes = (uint64_t)numel * dtypes[t->dtype].size;
        if (t->end - t->begin != bytes) {
            char sb[AG_SHAPE_STR];
            return st_fail(f,
                           "tensor '%s' of dtype %s and shape %s needs %llu bytes, but its "
                           "data_offsets [%llu, %llu] hold %llu",
                           nb, dtypes[t->dtype].name, ag_shape_str(sb, t->ndim, t->shape),
                           (unsigned long long)bytes, (unsigned long long)t->begin,
                           (unsigned long long)t->end, (unsigned long long)(t->end - t->begin));
        }
    }
    f->by_name = malloc((f->n ? f->n : 1) * sizeof *f->by_name);
    f->by_offset = malloc((f->n ? f->n : 1) * sizeof *f->by_offset);
    if (!f->by_name || !f->by_offset) return st_fail(f, "out of memory");
    for (size_t i = 0; i < f->n; i++)
        f->by_name[i] = f->by_offset[i] = &f->t[i];
    qsort(f->by_name, f->n, sizeof *f->by_name, by_name);
    for (size_t i = 1; i < f->n; i++)
        if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0)
            return st_fail(f, "tensor '%s' appears twice in the header",
                           shown(f->by_name[i]->name, nb));
    /* As the reference: sorted by offsets, each tensor begins where the previous one ends. */
    qsort(f->by_offset, f->n, sizeof *f->by_offset, by_offset);
    uint64_t expected = 0;
    for (size_t i = 0; i < f->n; i++) {
        const st_tensor *t = f->by_offset[i];
        if (t->begin < expected)
            return st_fail(f,
                           "the data of tensors '%s' and '%s' overlap (bytes %llu to %llu "
                           "and %llu to %llu)",
                           shown(f->by_offset[i - 1]->name, nb2), shown(t->name, nb),
                           (unsigned long long)f->by_offset[i - 1]->begin,
                           (unsigned long long)expected, (unsigned long long)t->begin,
                           (unsigned long long)t->end);
        if (t->begin > expected)
            return st_fail(f,
                           "bytes %llu to %llu of the data region, before tensor '%s', "
                           "belong to no tensor",
                           (unsigned long long)expected, (unsigned long long)t->begin,
                           shown(t->name, nb));
        expected = t->end;
    }
    if (expected != f->data_size)
        return st_fail(f,
                       "the last %llu bytes of the data region belong to no tensor (the "
                       "tensors' data ends at byte %llu of %llu)",
                       (unsigned long long)(f->data_size - expected), (unsigned long long)expected,
                       (unsigned long long)f->data_size);
    /* The metadata: unique keys; "xxh3:<name>" checksums of tensors the file holds. */
    if (f->nmeta) qsort(f->meta, f->nmeta, sizeof *f->meta, meta_by_key); /* NULL when none */
    f->format = "";
    for (size_t i = 0; i < f->nmeta; i++) {
        const st_meta *m = &f->meta[i];
        if (i > 0 && strcmp(f->meta[i - 1].key, m->key) == 0)
            return st_fail(f, "metadata key '%s' appears twice", shown(m->key, nb));
        if (strcmp(m->key, "format") == 0) f->format = m->value;
        if (strncmp(m->key, "xxh3:", 5) != 0) continue;
        st_tensor *t = find_tensor(f, m->key + 5);
        if (!t)
            return st_fail(f,
                           "metadata '%s' is the checksum of a tensor the file does not "
                           "hold",
                           shown(m->key, nb));
        uint64_t v = 0;
        size_t k = 0;
        for (; m->value[k] && k < 16 && hex_digit((unsigned char)m->value[k]) >= 0; k++)
            v = (v << 4) | (uint64_t)hex_digit((unsigned char)m->value[k]);
        if (k != 16 || m->value[k])
            return st_fail(f,
                           "malformed checksum for tensor '%s': expected 16 hex digits, "
                           "got '%s'",
                           shown(t->name, nb), shown(m->value, nb2));
        t->has_checksum = true;
        t->checksum = v;
    }
    return 0;
}

/* Parses and validates size bytes as a safetensors file, checksums aside. */
static int st_open(st_file *f, const char *where, const unsigned char *bytes, size_t size) {
    memset(f, 0, sizeof *f);
    f->where = where;
    if (size < 8)
        return st_fail(f,
                       "the file is %zu bytes, too short for the 8-byte header length: it "
                       "is truncated or not a safetensors file",
                       size);
    uint64_t n = read_le64(bytes);
    if (n > MAX_HEADER)
        return st_fail(f,
                       "the header length %llu is larger than the %u-byte limit: this is "
                       "not a safetensors file, or it is corrupt",
                       (unsigned long long)n, MAX_HEADER);
    if (n > size - 8)
        return st_fail(f,
                       "the header length %llu goes past the end of the file (%zu bytes): "
                       "the file is truncated",
                       (unsigned long long)n, size);
    f->head = bytes + 8;
    f->head_len = (size_t)n;
    f->data = bytes + 8 + n;
    f->data_size = size - 8 - n;
    f->arena = malloc(f->head_len + 1);
    if (!f->arena) return st_fail(f, "out of memory");
    if (parse_header(f) < 0) return -1;
    return check_layout(f);
}

/* Hashes every tensor; returns the first (in data order) whose checksum does not match. */
static const st_tensor *st_verify(st_file *f) {
    const st_tensor *first = NULL;
    for (size_t i = 0; i < f->n; i++) {
        st_tensor *t = f->by_offset[i];
        t->actual = XXH3_64bits(f->data + t->begin, (size_t)(t->end - t->begin));
        t->status = !t->has_checksum           ? AG_CHECKSUM_ABSENT
                    : t->actual == t->checksum ? AG_CHECKSUM_VERIFIED
                                               : AG_CHECKSUM_MISMATCH;
        if (t->status == AG_CHECKSUM_MISMATCH && !first) first = t;
    }
    return first;
}

static int checksum_mismatch(const st_file *f, const st_tensor *t) {
    char nb[72];
    return st_fail(f, "checksum mismatch for tensor '%s': the file is corrupt", shown(t->name, nb));
}

/* ---- loading --------------------------------------------------------------------------------- */

/* Fills t (shape and dtype already right) from the file's little-endian bytes. */
static void fill_from_file(ag_tensor *t, const st_tensor *s, const unsigned char *src) {
    size_t n = (size_t)t->numel;
    bool le = host_is_little_endian();
    if (dtypes[s->dtype].load == LOAD_I32) {
        for (size_t i = 0; i < n; i++) {
            unsigned char b[4];
            if (le)
                memcpy(b, src + 4 * i, 4);
            else
                copy_swapped(b, src + 4 * i, 1, 4);
            int32_t v;
            memcpy(&v, b, 4);
            AG_I64(t)[i] = v;
        }
    } else if (le) {
        if (n) memcpy(t->data, src, n * ag_dtype_size(t->dtype));
    } else {
        copy_swapped(t->data, src, n, ag_dtype_size(t->dtype));
    }
}

static void fill_report(ag_load_report *r, const st_file *f) {
    memset(r, 0, sizeof *r);
    r->tensors = (int64_t)f->n;
    for (size_t i = 0; i < f->n; i++) {
        if (f->t[i].status == AG_CHECKSUM_VERIFIED)
            r->verified++;
        else
            r->unverified++;
    }
    r->all_verified = r->unverified == 0;
    snprintf(r->format, sizeof r->format, "%s", f->format ? f->format : "");
    const char *s = r->tensors == 1 ? "" : "s";
    if (r->tensors == 0)
        snprintf(r->summary, sizeof r->summary, "0 tensors: nothing to verify");
    else if (r->unverified == 0)
        snprintf(r->summary, sizeof r->summary, "%lld tensor%s, all verified (XXH3-64)",
                 (long long)r->tensors, s);
    else if (r->verified == 0)
        snprintf(r->summary, sizeof r->summary,
                 "%lld tensor%s, not verified: the file carries no checksums",
                 (long long)r->tensors, s);
    else
        snprintf(r->summary, sizeof r->summary,
                 "%lld tensors, %lld verified (XXH3-64), %lld not verified: the file carries "
                 "no checksum for them",
                 (long long)r->tensors, (long long)r->verified, (long long)r->unverified);
}

static int load_buffer(const char *where, const void *data, size_t size, ag_state_dict **out,
                       ag_load_report *report) {
    st_file f;
    if (report) memset(report, 0, sizeof *report);
    if (out) *out = NULL;
    if (!out) return ag_status_error("%s: argument 'out' must not be NULL", where);
    if (!data && size) return ag_status_error("%s: data is NULL", where);
    if (st_open(&f, where, data ? data : "", size) < 0) goto fail;
    const st_tensor *bad = st_verify(&f);
    if (bad) {
        checksum_mismatch(&f, bad);
        goto fail;
    }
    for (size_t i = 0; i < f.n; i++) {
        const st_tensor *t = f.by_offset[i];
        char nb[72];
        if (dtypes[t->dtype].load == LOAD_NONE) {
            st_fail(&f,
                    "tensor '%s' has dtype %s, which libautograd does not load (it loads "
                    "F32, F64, I64, U8, and I32 as int64)",
                    shown(t->name, nb), dtypes[t->dtype].name);
            goto fail;
        }
    }
    /* The whole file is sound: make the tensors. */
    ag_state_dict *sd = calloc(1, sizeof *sd);
    if (!sd) {
        st_fail(&f, "out of memory");
        goto fail;
    }
    static const ag_dtype as_ag[] = {AG_FLOAT32, AG_FLOAT64, AG_INT64, AG_INT64, AG_UINT8};
    for (size_t i = 0; i < f.n; i++) {
        const st_tensor *s = f.by_offset[i];
        ag_tensor *t = ag_empty(as_ag[dtypes[s->dtype].load], s->ndim, s->shape);
        if (t) fill_from_file(t, s, f.data + s->begin);
        if (!t || !sd_push(sd, s->name, t, true)) {
            if (t) ag_tensor_free(t);
            ag_state_dict_free(sd);
            st_fail(&f, "out of memory");
            goto fail;
        }
    }
    /* The metadata, less what the format itself uses: the dict's own strings. */
    for (size_t i = 0; i < f.nmeta; i++) {
        const st_meta *m = &f.meta[i];
        if (reserved_key(m->key)) continue;
        if (!meta_push(sd, m->key, m->value)) {
            ag_state_dict_free(sd);
            st_fail(&f, "out of memory");
            goto fail;
        }
    }
    if (report) fill_report(report, &f);
    st_free(&f);
    *out = sd;
    return 0;
fail:
    st_free(&f);
    return -1;
}

int ag_load_safetensors_buffer(const void *data, size_t size, ag_state_dict **out,
                               ag_load_report *report) {
    return load_buffer("ag_load_safetensors_buffer", data, size, out, report);
}

/* Reads the whole file at path into *bytes (malloc'd) and *size. */
static int read_file(const char *where, const char *path, unsigned char **bytes, size_t *size) {
    *bytes = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ag_status_error("%s: cannot open the file: %s", where, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int err = errno;
        close(fd);
        return ag_status_error("%s: %s", where, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ag_status_error("%s: %s", where,
                               S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
    }
    if ((uintmax_t)st.st_size > SIZE_MAX - 1) {
        close(fd);
        return ag_status_error("%s: the file is too large to read", where);
    }
    size_t n = (size_t)st.st_size, got = 0;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) {
        close(fd);
        return ag_status_error("%s: out of memory reading %zu bytes", where, n);
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int err = errno;
            free(buf);
            close(fd);
            return ag_status_error("%s: %s", where,
                                   r == 0 ? "the file shrank while it was read" : strerror(err));
        }
        got += (size_t)r;
    }
    close(fd);
    *bytes = buf;
    *size = n;
    return 0;
}

int ag_load_safetensors(const char *path, ag_state_dict **out, ag_load_report *report) {
    if (out) *out = NULL;
    if (report) memset(report, 0, sizeof *report);
    if (!path) return ag_status_error("ag_load_safetensors: argument 'path' must not be NULL");
    char where[320];
    snprintf(where, sizeof where, "ag_load_safetensors: %s", path);
    if (!out) return ag_status_error("%s: argument 'out' must not be NULL", where);
    unsigned char *bytes;
    size_t size;
    if (read_file(where, path, &bytes, &size) < 0) return -1;
    int rc = load_buffer(where, bytes, size, out, report);
    free(bytes);
    return rc;
}

/* ---- inspecting ------------------------------------------------------------------------------ */

int ag_inspect_safetensors(const char *path, ag_safetensors_visitor visit, void *userdata) {
    if (!path) return ag_status_error("ag_inspect_safetensors: argument 'path' must not be NULL");
    char where[320];
    snprintf(where, sizeof where, "ag_inspect_safetensors: %s", path);
    unsigned char *bytes;
    size_t size;
    if (read_file(where, path, &bytes, &size) < 0) return -1;
    st_file f;
    int rc = st_open(&f, where, bytes, size);
    if (rc == 0) {
        const st_tensor *bad = st_verify(&f);
        for (size_t i = 0; visit && i < f.n; i++) {
            const st_tensor *t = f.by_offset[i];
            ag_safetensors_entry e = {
                .index = (int64_t)i,
                .count = (int64_t)f.n,
                .name = t->name,
                .dtype = dtypes[t->dtype].name,
                .ndim = t->ndim,
                .shape = t->shape,
                .begin = t->begin,
                .end = t->end,
                .checksum = t->status,
                .stored_checksum = t->has_checksum ? t->checksum : 0,
                .actual_checksum = t->actual,
            };
            visit(&e, userdata);
        }
        if (bad) rc = checksum_mismatch(&f, bad);
    }
    st_free(&f);
    free(bytes);
    return rc;
}

/* ---- saving ---------------------------------------------------------------------------------- */

static _Thread_local int64_t fail_writes_after = -1;

void ag_safetensors_fail_writes_after(int64_t bytes) { fail_writes_after = bytes < 0 ? -1 : bytes; }

/* Writes to the temporary file, counting bytes for the testing seam. */
typedef struct writer {
    FILE *file;
    uint64_t written;
    int err; /* errno of the first failure, 0 while all is well */
} writer;

static bool put(writer *w, const void *p, size_t n) {
    if (w->err || n == 0) return !w->err;
    if (fail_writes_after >= 0 && w->written + n > (uint64_t)fail_writes_after) {
        size_t part = (size_t)((uint64_t)fail_writes_after - w->written);
        if (part) fwrite(p, 1, part, w->file);
        w->err = ENOSPC;
        return false;
    }
    if (fwrite(p, 1, n, w->file) != n) {
        w->err = errno ? errno : EIO;
        return false;
    }
    w->written += n;
    return true;
}

/* t's bytes as the file stores them (little-endian): t->data itself on a little-endian host,
 * else a copy in *tmp (NULL when out of memory). */
static const void *le_bytes(const ag_tensor *t, void **tmp) {
    *tmp = NULL;
    size_t size = ag_dtype_size(t->dtype), n = (size_t)t->numel;
    if (host_is_little_endian() || n == 0) return t->data;
    *tmp = malloc(n * size);
    if (*tmp) copy_swapped(*tmp, t->data, n, size);
    return *tmp;
}

/* Fsyncs the directory holding path, so the rename is durable. Filesystems that cannot sync
 * a directory (EINVAL) and directories we may not open are passed over: the file is there. */
static int sync_directory(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return 0;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return 0;
    int rc = fsync(fd) < 0 && errno != EINVAL && errno != EBADF ? -1 : 0;
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}

int ag_save_safetensors(const ag_state_dict *sd, const char *path) {
    if (!path) return ag_status_error("ag_save_safetensors: argument 'path' must not be NULL");
    char where[320];
    snprintf(where, sizeof where, "ag_save_safetensors: %s", path);
    if (!sd) return ag_status_error("%s: argument 'sd' must not be NULL", where);
    char nb[72];
    /* The header, checksums included. */
    strbuf h = {0};
    sb_puts(&h, "{");
    uint64_t offset = 0;
    uint64_t *sums = malloc((size_t)(sd->n ? sd->n : 1) * sizeof *sums);
    if (!sums) return ag_status_error("%s: out of memory", where);
    for (int64_t i = 0; i < sd->n; i++) {
        const char *name = sd->entries[i].name;
        const ag_tensor *t = sd->entries[i].t;
        const char *problem = !valid_utf8(name)                   ? "is not valid UTF-8"
                              : strcmp(name, "__metadata__") == 0 ? "is reserved by the format"
                                                                  : NULL;
        if (problem) {
            free(sums), free(h.p);
            return ag_status_error("%s: the tensor name '%s' %s", where, shown(name, nb), problem);
        }
        void *tmp;
        const void *bytes = le_bytes(t, &tmp);
        size_t nbytes = (size_t)t->numel * ag_dtype_size(t->dtype);
        if (!bytes) {
            free(sums), free(h.p);
            return ag_status_error("%s: out of memory", where);
        }
        sums[i] = XXH3_64bits(bytes, nbytes);
        free(tmp);
        sb_puts(&h, i ? "," : "");
        sb_json_string(&h, "", name);
        sb_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", dtypes[file_dtype_of(t->dtype)].name);
        for (int d = 0; d < t->ndim; d++)
            sb_printf(&h, d ? ",%lld" : "%lld", (long long)t->shape[d]);
        sb_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                  (unsigned long long)(offset + nbytes));
        offset += nbytes;
    }
    sb_puts(&h, sd->n ? ",\"__metadata__\":{" : "\"__metadata__\":{");
    for (int64_t i = 0; i < sd->n; i++) {
        sb_json_string(&h, "xxh3:", sd->entries[i].name);
        sb_printf(&h, ":\"%016llx\",", (unsigned long long)sums[i]);
    }
    free(sums);
    /* The user's metadata (ag_state_dict_set_metadata), between the checksums and "format". */
    for (int64_t i = 0; i < sd->nmeta; i++) {
        const char *key = sd->meta[i].key, *value = sd->meta[i].value;
        const char *problem = reserved_key(key)    ? reserved_key(key)
                              : !valid_utf8(key)   ? "is not valid UTF-8"
                              : !valid_utf8(value) ? "has a value that is not valid UTF-8"
                                                   : NULL;
        if (problem) {
            free(h.p);
            return ag_status_error("%s: the metadata key '%s' %s", where, shown(key, nb), problem);
        }
        sb_json_string(&h, "", key);
        sb_add(&h, ":", 1);
        sb_json_string(&h, "", value);
        sb_add(&h, ",", 1);
    }
    sb_puts(&h, "\"format\":\"libautograd\"}}");
    while (!h.oom && h.len % 8)
        sb_add(&h, " ", 1); /* as the reference: data 8-byte aligned */
    if (h.oom) {
        free(h.p);
        return ag_status_error("%s: out of memory", where);
    }
    if (h.len > MAX_HEADER) {
        free(h.p);
        return ag_status_error("%s: the header would be %zu bytes, more than the %u-byte limit "
                               "of the format (too many tensors, or names too long)",
                               where, h.len, MAX_HEADER);
    }

    /* The temporary file, then the rename. */
    size_t tmplen = strlen(path) + 32;
    char *tmp = malloc(tmplen);
    if (!tmp) {
        free(h.p);
        return ag_status_error("%s: out of memory", where);
    }
    snprintf(tmp, tmplen, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        int err = errno;
        free(h.p), free(tmp);
        return ag_status_error("%s: cannot create the temporary file: %s", where, strerror(err));
    }
    writer w = {.file = fdopen(fd, "wb")};
    if (!w.file) {
        w.err = errno;
        close(fd);
    } else {
        unsigned char len[8];
        write_le64(len, h.len);
        put(&w, len, 8);
        put(&w, h.p, h.len);
        for (int64_t i = 0; i < sd->n && !w.err; i++) {
            const ag_tensor *t = sd->entries[i].t;
            void *copy;
            const void *bytes = le_bytes(t, &copy);
            if (!bytes)
                w.err = ENOMEM;
            else
                put(&w, bytes, (size_t)t->numel * ag_dtype_size(t->dtype));
            free(copy);
        }
        if (!w.err && fflush(w.file) != 0) w.err = errno;
        if (!w.err && fsync(fileno(w.file)) != 0) w.err = errno;
        if (fclose(w.file) != 0 && !w.err) w.err = errno;
    }
    free(h.p);
    if (w.err) {
        unlink(tmp);
        free(tmp);
        return ag_status_error("%s: writing the temporary file failed: %s (the file was left "
                               "as it was)",
                               where, strerror(w.err));
    }
    if (rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        free(tmp);
        return ag_status_error("%s: cannot replace the file: %s (it was left as it was)", where,
                               strerror(err));
    }
    free(tmp);
    if (sync_directory(path) < 0)
        return ag_status_error("%s: the file was written, but syncing its directory failed: %s",
                               where, strerror(errno));
    return 0;
}

/* ---- load_state_dict ------------------------------------------------------------------------- */

static int entry_by_name(const void *a, const void *b) {
    return strcmp((*(const sd_entry *const *)a)->name, (*(const sd_entry *const *)b)->name);
}

/* dst = src, cast to dst's dtype (dst is floating unless both have one dtype: checked by the
 * caller). */
static void copy_cast(ag_tensor *dst, const ag_tensor *src) {
    size_t n = (size_t)dst->numel;
    if (dst->dtype == src->dtype) {
        if (n && dst->data != src->data)
            memmove(dst->data, src->data, n * ag_dtype_size(dst->dtype));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double v = src->dtype == AG_FLOAT32   ? (double)AG_F32(src)[i]
                   : src->dtype == AG_FLOAT64 ? AG_F64(src)[i]
                   : src->dtype == AG_UINT8   ? (double)AG_U8(src)[i]
                                              : (double)AG_I64(src)[i];
        if (dst->dtype == AG_FLOAT32)
            AG_F32(dst)[i] = src->dtype == AG_INT64 ? (float)AG_I64(src)[i] : (float)v;
        else
            AG_F64(dst)[i] = v;
    }
}

static void append_key(strbuf *b, const char *name, bool first) {
    sb_puts(b, first ? "\"" : ", \"");
    sb_puts(b, name);
    sb_puts(b, "\"");
}

int ag_load_state_dict_into(const ag_state_dict *loaded, ag_state_dict *model, bool strict) {
    const char *op = "ag_load_state_dict_into";
    if (!loaded || !model)
        return ag_status_error("%s: argument '%s' must not be NULL", op,
                               loaded ? "model" : "loaded");
    int64_t n = loaded->n, m = model->n;
    const sd_entry **sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
    int64_t *source = malloc((size_t)(m ? m : 1) * sizeof *source);
    bool *used = calloc((size_t)(n ? n : 1), 1);
    if (!sorted || !source || !used) {
        free(sorted), free(source), free(used);
        return ag_status_error("%s: out of memory", op);
    }
    for (int64_t j = 0; j < n; j++)
        sorted[j] = &loaded->entries[j];
    qsort(sorted, (size_t)n, sizeof *sorted, entry_by_name);
    int64_t missing = 0, unexpected = 0;
    for (int64_t i = 0; i < m; i++) {
        sd_entry key = {.name = model->entries[i].name};
        const sd_entry *pkey = &key;
        const sd_entry **hit = bsearch(&pkey, sorted, (size_t)n, sizeof *sorted, entry_by_name);
        source[i] = hit ? *hit - loaded->entries : -1;
        if (hit)
            used[source[i]] = true;
        else
            missing++;
    }
    for (int64_t j = 0; j < n; j++)
        unexpected += !used[j];

    /* Every error, in torch's order: missing, unexpected (when strict), then mismatches. */
    strbuf msg = {0};
    sb_puts(&msg, "Error(s) in loading state_dict:");
    bool failed = false;
    if (strict && missing) {
        sb_puts(&msg, "\n\tMissing key(s) in state_dict: ");
        for (int64_t i = 0, k = 0; i < m; i++)
            if (source[i] < 0) append_key(&msg, model->entries[i].name, k++ == 0);
        sb_puts(&msg, ". ");
        failed = true;
    }
    if (strict && unexpected) {
        sb_puts(&msg, "\n\tUnexpected key(s) in state_dict: ");
        for (int64_t j = 0, k = 0; j < n; j++)
            if (!used[j]) append_key(&msg, loaded->entries[j].name, k++ == 0);
        sb_puts(&msg, ". ");
        failed = true;
    }
    for (int64_t i = 0; i < m; i++) {
        if (source[i] < 0) continue;
        const ag_tensor *src = loaded->entries[source[i]].t, *dst = model->entries[i].t;
        char a[AG_SHAPE_STR], b[AG_SHAPE_STR];
        if (!ag_same_shape(src, dst)) {
            sb_printf(&msg,
                      "\n\tsize mismatch for %s: copying a param with shape "
                      "torch.Size(%s) from checkpoint, the shape in current model is "
                      "torch.Size(%s).",
                      model->entries[i].name, ag_shape_str(a, src->ndim, src->shape),
                      ag_shape_str(b, dst->ndim, dst->shape));
            failed = true;
        } else if (!ag_is_floating(dst->dtype) && src->dtype != dst->dtype) {
            sb_printf(&msg,
                      "\n\tdtype mismatch for %s: copying a param of dtype %s from "
                      "checkpoint into a tensor of dtype %s in current model.",
                      model->entries[i].name, ag_dtype_name(src->dtype), ag_dtype_name(dst->dtype));
            failed = true;
        }
    }
    int rc = 0;
    if (msg.oom) {
        rc = ag_status_error("%s: out of memory", op);
    } else if (failed) {
        if (msg.len > 1000) memcpy(msg.p + 996, "...", 4); /* ag_last_error holds 1023 */
        rc = ag_status_error("%s", msg.p);
    } else {
        /* All is checked: copy, as torch does under no_grad (nothing is recorded). */
        for (int64_t i = 0; i < m; i++) {
            if (source[i] < 0) continue;
            ag_tensor *dst = model->entries[i].t;
            copy_cast(dst, loaded->entries[source[i]].t);
            ag_bump_version(dst);
            rc++;
        }
    }
    free(msg.p), free(sorted), free(source), free(used);
    return rc;
}

/* ---- fingerprints ---------------------------------------------------------------------------- */

uint64_t ag_fingerprint(const ag_tensor *t) {
    if (!ag_check_tensor("ag_fingerprint", t, "input")) return 0;
    unsigned char head[2 + 8 * AG_MAX_DIMS];
    head[0] = (unsigned char)t->dtype;
    head[1] = (unsigned char)t->ndim;
    for (int d = 0; d < t->ndim; d++)
        write_le64(head + 2 + 8 * d, (uint64_t)t->shape[d]);
    XXH3_state_t state;
    XXH3_64bits_reset(&state);
    XXH3_64bits_update(&state, head, 2 + 8 * (size_t)t->ndim);
    size_t size = ag_dtype_size(t->dtype), n = (size_t)t->numel;
    if (host_is_little_endian()) {
        XXH3_64bits_update(&state, t->data, n * size);
    } else {
        unsigned char chunk[4096];
        size_t per = sizeof chunk / size;
        for (size_t i = 0; i < n; i += per) {
            size_t k = n - i < per ? n - i : per;
            copy_swapped(chunk, (const unsigned char *)t->data + i * size, k, size);
            XXH3_64bits_update(&state, chunk, k * size);
        }
    }
    return XXH3_64bits_digest(&state);
}
