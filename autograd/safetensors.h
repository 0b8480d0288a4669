/*
 * safetensors.h - saving and loading named tensors: state dicts and the safetensors format.
 *
 * A state dict is an ordered list of (name, tensor) pairs, as torch's model.state_dict().
 * Saving and loading a model, next to the PyTorch lines they stand for:
 *
 *     ag_state_dict *sd = ag_state_dict_new();               // sd = {}
 *     ag_state_dict_add(sd, "w", w);                         // sd["w"] = w  (borrowed)
 *     ag_state_dict_add(sd, "b", b);
 *     if (ag_save_safetensors(sd, "model.safetensors") < 0)  // save_file(sd, "model....")
 *         fprintf(stderr, "%s\n", ag_last_error());
 *
 *     ag_state_dict *loaded;                                 // loaded = load_file("model....")
 *     if (ag_load_safetensors("model.safetensors", &loaded, NULL) < 0
 *         || ag_load_state_dict_into(loaded, sd, true) < 0)  // model.load_state_dict(loaded)
 *         fprintf(stderr, "%s\n", ag_last_error());
 *     ag_state_dict_free(loaded);                            // frees the loaded tensors
 *     ag_state_dict_free(sd);                                // w and b stay yours
 *
 * The file format is Hugging Face's safetensors, readable by its Python package and by plain
 * json + struct + numpy (tests/fixtures/check_read_by_numpy.py):
 *
 *     8 bytes   N, the length of the header, unsigned little-endian
 *     N bytes   a JSON object, padded with spaces so that N is a multiple of 8:
 *               {"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}, ...,
 *                "__metadata__":{"xxh3:w":"9c1e...16 hex digits","format":"libautograd"}}
 *     the rest  the tensors' bytes, little-endian, one after another; data_offsets are
 *               [begin, end) in bytes from the start of this region, which they cover exactly.
 *
 * Integrity: libautograd writes, for each tensor, the XXH3-64 (seed 0) of its raw bytes as the
 * metadata string "xxh3:<name>" (16 lowercase hex digits; metadata values must be strings), and
 * the loader verifies every checksum it finds. Files from numpy or torch have none: they load,
 * and the report says they were not verified.
 *
 * User metadata: a state dict also carries string pairs of your own (the step, the
 * hyper-parameters: ag_state_dict_set_metadata), saved in __metadata__ beside the checksums and
 * read back by the loader; "format" and the "xxh3:" keys are the format's own and reserved.
 *
 * Prefixes: a dict of several parts names each part's tensors with a prefix, as torch names a
 * submodule's ("model.", "optim."): ag_state_dict_merge(all, part, "optim.") adds a part under
 * its prefix, ag_state_dict_select(all, "optim.") gives the part back with the prefix removed.
 * autograd/checkpoint.h builds a whole training checkpoint so.
 *
 * Errors: everything here that reads or writes a file (and ag_load_state_dict_into, which
 * judges a file's contents) returns 0 or a non-negative count on success and -1 on failure,
 * with the reason in ag_last_error(); it never calls the error handler and never aborts. A
 * failed load creates nothing (the whole file is validated before the first tensor is made),
 * and a failed save leaves the file at PATH exactly as it was. The state dict's own functions
 * (new, add, ...) report misuse (NULL, a duplicate name) through the error handler, as every
 * other in-memory function of the library does.
 */
#ifndef AG_SAFETENSORS_H
#define AG_SAFETENSORS_H

#include "autograd/autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* State dicts                                                                                */
/* ---------------------------------------------------------------------------------------- */

typedef struct ag_state_dict ag_state_dict;

/* A new, empty state dict, owned by the caller (ag_state_dict_free); NULL after reporting
 * "out of memory". */
ag_state_dict *ag_state_dict_new(void);

/* Frees the dict and its copies of the names. Tensors added with ag_state_dict_add stay the
 * caller's; tensors a loader put in it (ag_load_safetensors) are freed with it. NULL is a
 * no-op. */
void ag_state_dict_free(ag_state_dict *sd);

/* Appends (name, t). The name is copied; the tensor is borrowed, not owned: it must outlive
 * the dict's use (a tape-owned tensor only until the tape is reset). Returns 0, or -1 after
 * reporting a NULL argument or a name already in the dict. */
int ag_state_dict_add(ag_state_dict *sd, const char *name, ag_tensor *t);

/* The tensor stored under name (owned as described above), or NULL if there is none. */
ag_tensor *ag_state_dict_get(const ag_state_dict *sd, const char *name);

/* How many pairs the dict holds (0 for NULL), and the i-th in order (0 <= i < count; NULL
 * after reporting an index out of range). The name is the dict's: valid until it is freed. */
int64_t ag_state_dict_count(const ag_state_dict *sd);
const char *ag_state_dict_name_at(const ag_state_dict *sd, int64_t i);
ag_tensor *ag_state_dict_tensor_at(const ag_state_dict *sd, int64_t i);

/* Appends (name, t) and takes t: the dict owns it from now on and frees it with itself (as a
 * loaded tensor). For tensors made only to be saved (a step count, a hyper-parameter). Returns
 * 0, or -1 after reporting a NULL argument, a tape-owned tensor or a name already in the dict;
 * then t is still yours. */
int ag_state_dict_add_owned(ag_state_dict *sd, const char *name, ag_tensor *t);

/* dict.pop(name): removes the entry and hands its tensor over: a tensor the dict owned (a
 * loaded one) is yours from now on (ag_tensor_free), as is one you had added. NULL if the dict
 * holds no such name (nothing is reported). */
ag_tensor *ag_state_dict_take(ag_state_dict *sd, const char *name);

/* ---------------------------------------------------------------------------------------- */
/* Metadata, and dicts of several parts                                                       */
/* ---------------------------------------------------------------------------------------- */

/* Sets the string key = value (both copied; a value already there is replaced). Saved in the
 * file's __metadata__; a loaded dict holds the file's metadata, less the reserved keys.
 * Returns 0, or -1 after reporting a NULL argument, a reserved key ("format", "xxh3:...") or
 * a key or value that is not valid UTF-8. */
int ag_state_dict_set_metadata(ag_state_dict *sd, const char *key, const char *value);
/* The value stored under key (the dict's string: valid until it changes or the dict is
 * freed), or NULL if there is none. */
const char *ag_state_dict_get_metadata(const ag_state_dict *sd, const char *key);
/* How many metadata pairs the dict holds (0 for NULL), and the i-th key (NULL after reporting
 * an index out of range). */
int64_t ag_state_dict_metadata_count(const ag_state_dict *sd);
const char *ag_state_dict_metadata_key_at(const ag_state_dict *sd, int64_t i);

/* Adds every tensor of src to dst as prefix + name, and every metadata pair as prefix + key
 * (prefix NULL: ""). The tensors are borrowed by dst, whoever owns them in src: src must
 * outlive dst's use. Every name is checked first: returns 0, or -1 after reporting a name
 * dst already holds (dst is then unchanged). */
int ag_state_dict_merge(ag_state_dict *dst, const ag_state_dict *src, const char *prefix);

/* A new dict (yours: ag_state_dict_free) of the entries of sd whose names begin with prefix,
 * named without it, in sd's order; metadata likewise. The tensors are borrowed from sd, which
 * must outlive the result. NULL after reporting a NULL sd or out of memory. */
ag_state_dict *ag_state_dict_select(const ag_state_dict *sd, const char *prefix);

/* ---------------------------------------------------------------------------------------- */
/* Saving and loading safetensors files                                                       */
/* ---------------------------------------------------------------------------------------- */

/* Writes sd to path in the dict's order (dtypes F32, F64 and I64), with a checksum per tensor
 * and the dict's metadata. Atomic: the file is written as PATH.tmp.<pid>, flushed and
 * fsync'ed, renamed over PATH, and the directory is fsync'ed; on any failure the temporary
 * file is removed and PATH is left as it was. Names must be valid UTF-8 and not
 * "__metadata__". Returns 0 or -1 (ag_last_error). */
int ag_save_safetensors(const ag_state_dict *sd, const char *path);

/* What a load found out about the file's integrity. */
typedef struct ag_load_report {
    int64_t tensors;    /* how many tensors the file holds */
    int64_t verified;   /* how many carried an XXH3-64 checksum, and it matched */
    int64_t unverified; /* how many carried none (files from numpy, torch, ...) */
    bool all_verified;  /* unverified == 0 */
    char format[32];    /* __metadata__'s "format": "libautograd", "pt", ... or "" */
    char summary[128];  /* e.g. "3 tensors, all verified (XXH3-64)", or "2 tensors, not
                           verified: the file carries no checksums" */
} ag_load_report;

/* Reads the safetensors file at path into *out, a new state dict that OWNS its tensors (new
 * user tensors, not requiring grad, in the order of their data in the file; freed by
 * ag_state_dict_free; ag_state_dict_take hands one over) and holds the file's metadata (less
 * "format" and the checksums; a key or value with a NUL character is refused). dtypes F32,
 * F64, I64 and U8 load as they are; I32 loads converted to int64 (the integer dtypes here are
 * int64 and uint8); others (F16, BF16, I8, ...) are refused.
 * Every checksum present is verified. report (may be NULL) receives the integrity summary.
 * Returns 0, or -1 with *out = NULL and nothing created: a missing or unreadable file, a
 * truncated one, a malformed or oversized header, duplicate names, an unknown dtype, a shape
 * that disagrees with its data's size, data offsets out of range, overlapping or not covering
 * the data exactly, negative or overflowing numbers, a checksum mismatch ("checksum mismatch
 * for tensor 'w': the file is corrupt"). The file is read whole into memory first. */
int ag_load_safetensors(const char *path, ag_state_dict **out, ag_load_report *report);

/* The same from size bytes in memory (the file loader's parser; the fuzz target's entry). The
 * buffer is only read, and may be freed as soon as this returns. */
int ag_load_safetensors_buffer(const void *data, size_t size, ag_state_dict **out,
                               ag_load_report *report);

/* model.load_state_dict(loaded, strict): copies each loaded tensor into the model's tensor of
 * the same name, casting the dtype (float64 <-> float32, int64 -> float; a floating value is
 * never copied into an int64 tensor), recording nothing on the tape (as under no_grad) and
 * bumping each changed tensor's version. Everything is checked before anything is copied:
 * on -1 no tensor has changed, and ag_last_error() says why in torch's words:
 *   Error(s) in loading state_dict:
 *   	Missing key(s) in state_dict: "b".
 *   	Unexpected key(s) in state_dict: "c".
 *   	size mismatch for w: copying a param with shape torch.Size([2, 3]) from checkpoint,
 *   the shape in current model is torch.Size([3]).
 * Missing and unexpected keys are errors only when strict; a size mismatch always is. Returns
 * the number of model tensors that received a value (so count(model) - result were missing
 * when not strict), or -1. The model's tensors are the caller's, as ever. */
int ag_load_state_dict_into(const ag_state_dict *loaded, ag_state_dict *model, bool strict);

/* ---------------------------------------------------------------------------------------- */
/* Inspecting a file                                                                          */
/* ---------------------------------------------------------------------------------------- */

typedef enum ag_checksum_status {
    AG_CHECKSUM_ABSENT,   /* the file carries no checksum for this tensor */
    AG_CHECKSUM_VERIFIED, /* the XXH3-64 of its bytes matches the file's */
    AG_CHECKSUM_MISMATCH, /* it does not: the file is corrupt */
} ag_checksum_status;

/* One tensor of a file as ag_inspect_safetensors sees it; the pointers are valid during the
 * visitor's call only. */
typedef struct ag_safetensors_entry {
    int64_t index, count; /* its position in the file's data order, of count */
    const char *name;
    const char *dtype; /* the file's dtype: "F32", "F64", "I64", "BF16", ... */
    int ndim;
    const int64_t *shape; /* ndim dims */
    uint64_t begin, end;  /* data_offsets: [begin, end) bytes into the data region */
    ag_checksum_status checksum;
    uint64_t stored_checksum; /* the file's XXH3-64 (0 when absent) */
    uint64_t actual_checksum; /* the XXH3-64 of the bytes found */
} ag_safetensors_entry;
typedef void (*ag_safetensors_visitor)(const ag_safetensors_entry *entry, void *userdata);

/* Validates the file at path as the loader does, without making tensors, and calls visit for
 * every tensor in data order (any safetensors dtype). Returns 0 if the file is sound; -1 with
 * ag_last_error() if it cannot be read or its structure is invalid (then visit is never
 * called), or if a checksum does not match (then every tensor was visited first, each with
 * its status). The build's examples/inspect.c is a command-line front end to it. */
int ag_inspect_safetensors(const char *path, ag_safetensors_visitor visit, void *userdata);

/* ---------------------------------------------------------------------------------------- */
/* Fingerprints                                                                               */
/* ---------------------------------------------------------------------------------------- */

/* A 64-bit digest of a tensor's dtype, shape and values, for determinism tests: the XXH3-64
 * (seed 0) of the byte string
 *     [dtype: 1 byte, the ag_dtype value: 0 float32, 1 float64, 2 int64]
 *     [ndim: 1 byte] [each dim: 8 bytes, signed little-endian]
 *     [the numel elements, row-major, each little-endian]
 * It is bit-exact (0.0 and -0.0 differ, as do NaNs of different payloads) and ignores
 * requires_grad, .grad and the name. Returns 0 after reporting a NULL tensor. */
uint64_t ag_fingerprint(const ag_tensor *t);

/* ---------------------------------------------------------------------------------------- */
/* Testing seam                                                                               */
/* ---------------------------------------------------------------------------------------- */

/* For tests of the atomic save only: while bytes >= 0, every save on this thread fails as a
 * full disk would (ENOSPC) once its temporary file holds that many bytes; -1 (the default)
 * turns the fault off. */
void ag_safetensors_fail_writes_after(int64_t bytes);

#ifdef __cplusplus
}
#endif

#endif
