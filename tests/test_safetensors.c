/*
 * test_safetensors.c - state dicts, safetensors files, load_state_dict, fingerprints.
 *
 * Every file a test writes lives in a fresh mkdtemp directory that the test removes. The
 * loading and saving functions must never call the error handler (the suite's handler fails
 * the test if they do) and must leave nothing alive after a failure (the leak check).
 * tests/fixtures/from_python.safetensors was written by tests/fixtures/gen_safetensors.py with
 * json + struct only; tests/fixtures/check_read_by_numpy.py reads our files with numpy.
 */
#define _POSIX_C_SOURCE 200809L

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

AG_TEST_SUITE(safetensors);

/* ---- helpers -------------------------------------------------------------------------------- */

static void write_file(const char *path, const void *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* The whole file, malloc'd (free it); *n its size. */
static unsigned char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size + 1);
    cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return buf;
}

/* A file of the 8-byte length, the header text padded to 8, then n data bytes. */
static size_t build(unsigned char *out, const char *header, const void *data, size_t n) {
    size_t h = strlen(header), padded = (h + 7) / 8 * 8;
    for (int k = 0; k < 8; k++)
        out[k] = (unsigned char)((uint64_t)padded >> (8 * k));
    memcpy(out + 8, header, h);
    memset(out + 8 + h, ' ', padded - h);
    if (n) memcpy(out + 8 + padded, data, n);
    return 8 + padded + n;
}

/* Loading these bytes must fail with a message containing text, creating nothing. */
static void expect_bad_bytes(const void *bytes, size_t n, const char *text) {
    ag_state_dict *sd = (ag_state_dict *)&sd; /* must be reset to NULL */
    ag_load_report report;
    ag_clear_error();
    int rc = ag_load_safetensors_buffer(bytes, n, &sd, &report);
    cr_assert_eq(rc, -1, "expected a failure containing \"%s\"", text);
    cr_assert_null(sd);
    cr_assert_eq(ag_live_tensors(), 0);
    cr_assert(strstr(ag_last_error(), text), "error \"%s\" does not contain \"%s\"",
              ag_last_error(), text);
}

/* The same with a header and data. */
static void expect_bad(const char *header, const void *data, size_t n, const char *text) {
    unsigned char buf[4096];
    cr_assert(strlen(header) + n + 16 < sizeof buf);
    expect_bad_bytes(buf, build(buf, header, data, n), text);
}

/* Loading the file at path must fail so, through the file loader too. */
static void expect_bad_file(const char *path, const char *text) {
    ag_state_dict *sd = (ag_state_dict *)&sd;
    ag_clear_error();
    cr_assert_eq(ag_load_safetensors(path, &sd, NULL), -1, "expected \"%s\"", text);
    cr_assert_null(sd);
    cr_assert(strstr(ag_last_error(), text), "error \"%s\" does not contain \"%s\"",
              ag_last_error(), text);
}

static bool same_bytes(const ag_tensor *a, const ag_tensor *b) {
    return a->dtype == b->dtype && ag_same_shape(a, b) &&
           memcmp(a->data, b->data, (size_t)a->numel * ag_dtype_size(a->dtype)) == 0;
}

/* A model-like dict of six tensors you own: every dtype, a 0-d and two empty ones. */
typedef struct six {
    ag_tensor *t[6];
    ag_state_dict *sd;
} six;
static const char *six_names[6] = {"layer.weight", "layer.bias", "steps",
                                   "scale",        "empty",      "no_ids"};

static six make_six(void) {
    six s;
    s.t[0] = ag_from_data((const float[]){1.5f, -2, 0.25f, 1e-3f, 3e38f, -0.0f}, AG_FLOAT32,
                          AG_SHAPE(2, 3));
    s.t[1] = ag_from_data((const double[]){0.5, -1.25, 0.1, 1e-300}, AG_FLOAT64, AG_SHAPE(4));
    s.t[2] = ag_from_data((const int64_t[]){7, -1, INT64_MAX}, AG_INT64, AG_SHAPE(3));
    s.t[3] = ag_scalar(2.5, AG_FLOAT32);
    s.t[4] = ag_zeros(AG_FLOAT32, AG_SHAPE(0, 3));
    s.t[5] = ag_zeros(AG_INT64, AG_SHAPE(0));
    ag_requires_grad_(s.t[0], true);
    s.sd = ag_state_dict_new();
    for (int i = 0; i < 6; i++)
        cr_assert_eq(ag_state_dict_add(s.sd, six_names[i], s.t[i]), 0);
    return s;
}

static void free_six(six *s) {
    ag_state_dict_free(s->sd);
    for (int i = 0; i < 6; i++)
        ag_tensor_free(s->t[i]);
}

/* ---- state dicts ---------------------------------------------------------------------------- */

Test(safetensors, state_dict_basics) {
    ag_tensor *w = ag_zeros(AG_FLOAT32, AG_SHAPE(2)), *b = ag_ones(AG_FLOAT64, AG_SHAPE(1));
    ag_state_dict *sd = ag_state_dict_new();
    cr_assert_eq(ag_state_dict_count(sd), 0);
    cr_assert_eq(ag_state_dict_count(NULL), 0);
    cr_assert_eq(ag_state_dict_add(sd, "w", w), 0);
    cr_assert_eq(ag_state_dict_add(sd, "b", b), 0);
    cr_assert_eq(ag_state_dict_count(sd), 2);
    cr_assert_str_eq(ag_state_dict_name_at(sd, 1), "b");
    cr_assert_eq(ag_state_dict_tensor_at(sd, 0), w);
    cr_assert_eq(ag_state_dict_get(sd, "b"), b);
    cr_assert_null(ag_state_dict_get(sd, "c"));
    EXPECT_ERROR(ag_state_dict_add(sd, "w", b), "the state dict already holds a tensor named 'w'");
    EXPECT_ERROR(ag_state_dict_add(sd, "x", NULL), "argument 'tensor' must be a tensor, not NULL");
    EXPECT_ERROR(ag_state_dict_name_at(sd, 2), "index 2 is out of range for a state dict of 2");
    EXPECT_ERROR(ag_state_dict_tensor_at(sd, -1), "index -1 is out of range");
    cr_assert_eq(ag_state_dict_count(sd), 2);
    ag_state_dict_free(sd); /* borrowed tensors stay ours */
    ag_state_dict_free(NULL);
    cr_assert_eq(ag_live_tensors(), 2);
    ag_tensor_free(w), ag_tensor_free(b);
}

/* ---- round trips ---------------------------------------------------------------------------- */

Test(safetensors, round_trip_every_dtype_scalar_and_empty) {
    make_test_dir("safetensors");
    six s = make_six();
    const char *path = in_test_dir("model.safetensors");
    cr_assert_eq(ag_save_safetensors(s.sd, path), 0, "%s", ag_last_error());
    ag_state_dict *loaded;
    ag_load_report report;
    cr_assert_eq(ag_load_safetensors(path, &loaded, &report), 0, "%s", ag_last_error());
    cr_assert_eq(ag_state_dict_count(loaded), 6);
    for (int i = 0; i < 6; i++) {
        cr_assert_str_eq(ag_state_dict_name_at(loaded, i), six_names[i]); /* the dict's order */
        ag_tensor *t = ag_state_dict_tensor_at(loaded, i);
        cr_assert(same_bytes(t, s.t[i]), "tensor %s differs", six_names[i]);
        cr_assert_eq(ag_fingerprint(t), ag_fingerprint(s.t[i]));
        cr_assert(!t->requires_grad && ag_is_leaf(t) && !t->tape);
    }
    ASSERT_SCALAR_SHAPE(ag_state_dict_get(loaded, "scale"));
    ASSERT_SHAPE(ag_state_dict_get(loaded, "empty"), 0, 3);
    cr_assert_eq(report.tensors, 6);
    cr_assert_eq(report.verified, 6);
    cr_assert_eq(report.unverified, 0);
    cr_assert(report.all_verified);
    cr_assert_str_eq(report.format, "libautograd");
    cr_assert_str_eq(report.summary, "6 tensors, all verified (XXH3-64)");
    cr_assert_eq(ag_live_tensors(), 12);
    ag_state_dict_free(loaded); /* frees the six loaded tensors */
    cr_assert_eq(ag_live_tensors(), 6);
    cr_assert_eq(test_dir_entries(), 1);
    free_six(&s);
    remove_test_dir();
}

Test(safetensors, empty_dict_round_trip) {
    make_test_dir("safetensors");
    ag_state_dict *sd = ag_state_dict_new(), *loaded;
    cr_assert_eq(ag_save_safetensors(sd, in_test_dir("e.safetensors")), 0, "%s", ag_last_error());
    ag_load_report report;
    cr_assert_eq(ag_load_safetensors(in_test_dir("e.safetensors"), &loaded, &report), 0);
    cr_assert_eq(ag_state_dict_count(loaded), 0);
    cr_assert_str_eq(report.summary, "0 tensors: nothing to verify");
    ag_state_dict_free(loaded);
    ag_state_dict_free(sd);
    remove_test_dir();
}

/* The exact bytes, as the format and the reference writer lay them out. */
Test(safetensors, file_layout_is_the_reference_one) {
    make_test_dir("safetensors");
    ag_tensor *w = ag_from_data((const float[]){1, 2, 3, 4, 5, 6}, AG_FLOAT32, AG_SHAPE(2, 3));
    ag_tensor *n = ag_scalar(3, AG_INT64);
    ag_state_dict *sd = ag_state_dict_new();
    ag_state_dict_add(sd, "w", w);
    ag_state_dict_add(sd, "n", n);
    const char *path = in_test_dir("w.safetensors");
    cr_assert_eq(ag_save_safetensors(sd, path), 0);
    char want[512];
    int len = snprintf(want, sizeof want,
                       "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                       "\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[24,32]},"
                       "\"__metadata__\":{\"xxh3:w\":\"%016llx\",\"xxh3:n\":\"%016llx\","
                       "\"format\":\"libautograd\"}}",
                       (unsigned long long)XXH3_64bits(w->data, 24),
                       (unsigned long long)XXH3_64bits(n->data, 8));
    while (len % 8)
        want[len++] = ' ';
    want[len] = '\0';
    size_t size;
    unsigned char *bytes = read_all(path, &size);
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--)
        hlen = hlen << 8 | bytes[k];
    cr_assert_eq(hlen, (uint64_t)len);
    cr_assert_eq(size, 8 + (size_t)len + 32);
    cr_assert(memcmp(bytes + 8, want, (size_t)len) == 0, "header is\n%.*s\nexpected\n%s", (int)hlen,
              bytes + 8, want);
    cr_assert(memcmp(bytes + 8 + len, w->data, 24) == 0);
    cr_assert(memcmp(bytes + 8 + len + 24, n->data, 8) == 0);
    free(bytes);
    ag_state_dict_free(sd);
    ag_tensor_free(w), ag_tensor_free(n);
    remove_test_dir();
}

Test(safetensors, names_with_escapes_and_unicode) {
    make_test_dir("safetensors");
    static const char *names[] = {"a\"b\\c", "tab\there\nnewline", "caf\xc3\xa9.\xe2\x82\xac",
                                  "emoji\xf0\x9f\x98\x80", ""};
    ag_tensor *t = ag_scalar(1, AG_FLOAT64);
    ag_state_dict *sd = ag_state_dict_new(), *loaded;
    for (int i = 0; i < 5; i++)
        ag_state_dict_add(sd, names[i], t);
    cr_assert_eq(ag_save_safetensors(sd, in_test_dir("n.safetensors")), 0, "%s", ag_last_error());
    cr_assert_eq(ag_load_safetensors(in_test_dir("n.safetensors"), &loaded, NULL), 0, "%s",
                 ag_last_error());
    for (int i = 0; i < 5; i++) {
        cr_assert_str_eq(ag_state_dict_name_at(loaded, i), names[i]);
        cr_assert(same_bytes(ag_state_dict_tensor_at(loaded, i), t));
    }
    ag_state_dict_free(loaded);
    ag_state_dict_free(sd);
    ag_tensor_free(t);
    remove_test_dir();
}

Test(safetensors, bad_names_are_refused_before_writing) {
    make_test_dir("safetensors");
    ag_tensor *t = ag_scalar(1, AG_FLOAT32);
    ag_state_dict *meta = ag_state_dict_new(), *utf = ag_state_dict_new();
    ag_state_dict_add(meta, "__metadata__", t);
    ag_state_dict_add(utf, "bad\xff", t);
    cr_assert_eq(ag_save_safetensors(meta, in_test_dir("m")), -1);
    cr_assert(strstr(ag_last_error(), "the tensor name '__metadata__' is reserved"));
    cr_assert_eq(ag_save_safetensors(utf, in_test_dir("m")), -1);
    cr_assert(strstr(ag_last_error(), "is not valid UTF-8"));
    cr_assert_eq(ag_save_safetensors(NULL, in_test_dir("m")), -1);
    cr_assert_eq(ag_save_safetensors(meta, NULL), -1);
    cr_assert_eq(test_dir_entries(), 0);
    ag_state_dict_free(meta), ag_state_dict_free(utf);
    ag_tensor_free(t);
    remove_test_dir();
}

/* ---- files from elsewhere ------------------------------------------------------------------- */

Test(safetensors, file_written_by_plain_python) {
    ag_state_dict *sd;
    ag_load_report report;
    cr_assert_eq(ag_load_safetensors("tests/fixtures/from_python.safetensors", &sd, &report), 0,
                 "%s (run the suite from the repository's root)", ag_last_error());
    /* In the order of the data, not of the header (which is alphabetical). */
    static const char *order[] = {"weight", "bias", "ids", "step", "empty"};
    cr_assert_eq(ag_state_dict_count(sd), 5);
    for (int i = 0; i < 5; i++)
        cr_assert_str_eq(ag_state_dict_name_at(sd, i), order[i]);
    ag_tensor *w = ag_state_dict_get(sd, "weight"), *b = ag_state_dict_get(sd, "bias");
    ag_tensor *ids = ag_state_dict_get(sd, "ids"), *step = ag_state_dict_get(sd, "step");
    cr_assert_eq(w->dtype, AG_FLOAT32);
    ASSERT_SHAPE(w, 2, 3);
    static const float wv[] = {1.5f, -2.0f, 0.25f, 1e-3f, 3.0e38f, -0.0f};
    cr_assert(memcmp(w->data, wv, sizeof wv) == 0);
    cr_assert_eq(b->dtype, AG_FLOAT64);
    ASSERT_VALUES(b, 0, 0, 0.5, -1.25, 0.1);
    cr_assert_eq(ids->dtype, AG_INT64); /* I32, widened */
    cr_assert_eq(AG_I64(ids)[0], 1);
    cr_assert_eq(AG_I64(ids)[1], -2);
    cr_assert_eq(AG_I64(ids)[2], INT32_MAX);
    cr_assert_eq(AG_I64(ids)[3], INT32_MIN);
    ASSERT_SCALAR_SHAPE(step);
    cr_assert_eq(step->dtype, AG_INT64);
    cr_assert_eq(AG_I64(step)[0], 7);
    ASSERT_SHAPE(ag_state_dict_get(sd, "empty"), 0, 2);
    cr_assert_eq(report.tensors, 5);
    cr_assert_eq(report.verified, 0);
    cr_assert_eq(report.unverified, 5);
    cr_assert(!report.all_verified);
    cr_assert_str_eq(report.format, "pt");
    cr_assert_str_eq(report.summary, "5 tensors, not verified: the file carries no checksums");
    ag_state_dict_free(sd);
}

Test(safetensors, partly_verified_file) {
    float a = 1, b = 2;
    unsigned char data[8], buf[512];
    memcpy(data, &a, 4), memcpy(data + 4, &b, 4);
    char header[256];
    snprintf(header, sizeof header,
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
             "\"__metadata__\":{\"xxh3:b\":\"%016llX\"}}",
             (unsigned long long)XXH3_64bits(data + 4, 4));
    ag_state_dict *sd;
    ag_load_report r;
    cr_assert_eq(ag_load_safetensors_buffer(buf, build(buf, header, data, 8), &sd, &r), 0, "%s",
                 ag_last_error());
    cr_assert_eq(r.verified, 1);
    cr_assert_eq(r.unverified, 1);
    cr_assert_str_eq(r.format, "");
    cr_assert(strstr(r.summary, "2 tensors, 1 verified (XXH3-64), 1 not verified"));
    ag_state_dict_free(sd);
}

/* ---- bad files ------------------------------------------------------------------------------ */

Test(safetensors, missing_unreadable_and_short_files) {
    make_test_dir("safetensors");
    expect_bad_file(in_test_dir("nope.safetensors"),
                    "cannot open the file: No such file or directory");
    expect_bad_file(test_dir, "it is a directory");
    write_file(in_test_dir("empty"), "", 0);
    expect_bad_file(in_test_dir("empty"), "the file is 0 bytes, too short for the 8-byte header");
    write_file(in_test_dir("five"), "\x10\0\0\0\0", 5);
    expect_bad_file(in_test_dir("five"), "the file is 5 bytes, too short");
    cr_assert_eq(ag_load_safetensors(NULL, NULL, NULL), -1);
    ag_load_report report;
    cr_assert_eq(ag_load_safetensors(in_test_dir("empty"), NULL, &report), -1);
    cr_assert(strstr(ag_last_error(), "argument 'out' must not be NULL"));
    remove_test_dir();
}

Test(safetensors, header_length_past_the_end_or_absurd) {
    unsigned char buf[64] = {0};
    memcpy(buf + 8, "{}      ", 8);
    buf[0] = 9; /* 9 > 8 bytes of header in the file */
    expect_bad_bytes(buf, 16, "the header length 9 goes past the end of the file (16 bytes)");
    buf[0] = 0, buf[5] = 1; /* 2^40 */
    expect_bad_bytes(buf, 16,
                     "the header length 1099511627776 is larger than the "
                     "100000000-byte limit");
    memset(buf, 0xff, 8);
    expect_bad_bytes(buf, 16, "the header length 18446744073709551615 is larger than");
    memset(buf, 0, 8);
    buf[0] = 0x01, buf[1] = 0xe1, buf[2] = 0xf5, buf[3] = 0x05; /* 100000001 */
    expect_bad_bytes(buf, 16, "larger than the 100000000-byte limit");
}

/* A file cut anywhere (in the length, the header or the data) is refused. */
Test(safetensors, truncated_anywhere) {
    make_test_dir("safetensors");
    six s = make_six();
    const char *path = in_test_dir("m.safetensors");
    cr_assert_eq(ag_save_safetensors(s.sd, path), 0);
    size_t size;
    unsigned char *bytes = read_all(path, &size);
    for (size_t cut = 0; cut < size; cut++) {
        ag_state_dict *sd = (ag_state_dict *)&sd;
        cr_assert_eq(ag_load_safetensors_buffer(bytes, cut, &sd, NULL), -1, "cut at %zu", cut);
        cr_assert_null(sd);
        cr_assert(strstr(ag_last_error(), "truncated"), "cut at %zu: %s", cut, ag_last_error());
    }
    /* Through the file loader, cut in the data. */
    write_file(path, bytes, size - 1);
    expect_bad_file(path, "goes past the end of the data region (83 bytes): the file is "
                          "truncated");
    free(bytes);
    free_six(&s);
    remove_test_dir();
}

Test(safetensors, malformed_json) {
    static const struct {
        const char *header, *error;
    } cases[] = {
        {"", "the header is empty"},
        {"        ", "the header is empty"},
        {"[]", "the header must be a JSON object"},
        {"{", "expected a string (a tensor name)"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}",
         "expected '}' after the header's last entry"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},}",
         "expected a string (a tensor name)"},
        {"{'w':{}}", "malformed header at byte 9: expected a string (a tensor name)"},
        {"{\"w\" {}}", "expected ':' after a tensor name"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
         "expected an integer in the shape of tensor 'w', not a fraction or an exponent"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1e3],\"data_offsets\":[0,4]}}",
         "not a fraction or an exponent"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}",
         "number with a leading zero in the shape of tensor 'w'"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":true,\"data_offsets\":[0,4]}}",
         "expected '[' in the shape of tensor 'w'"},
        {"{\"w\":{\"dtype\":null,\"shape\":[],\"data_offsets\":[0,4]}}",
         "expected a string (the dtype of tensor 'w')"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[[[[[[1]]]]]],\"data_offsets\":[0,4]}}",
         "expected a non-negative integer in the shape of tensor 'w'"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1 2],\"data_offsets\":[0,4]}}",
         "expected ']' in the shape of tensor 'w'"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0]}}",
         "expected ',' in the data_offsets of tensor 'w'"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4,8]}}",
         "expected ']' in the data_offsets of tensor 'w'"},
        {"{\"w\":{\"a\":{\"b\":{\"c\":{}}}}}", "unexpected field 'a' in tensor 'w'"},
        {"{\"w\":[]}", "expected '{' to describe tensor 'w'"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}} x",
         "unexpected text after the header's object"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}\n\t ", "unknown"},
        {"{\"w", "unterminated string (a tensor name)"},
        {"{\"w\\x\":{}}", "invalid escape '\\x' in a string"},
        {"{\"w\\u12\":{}}", "invalid \\u escape"},
        {"{\"\\ud800\":{}}", "unpaired surrogate"},
        {"{\"\\udc00\":{}}", "unpaired surrogate"},
        {"{\"\\ud800\\u0041\":{}}", "unpaired surrogate"},
        {"{\"a\tb\":{}}", "unescaped control character in a string"},
        {"{\"a\xff\":{}}", "invalid UTF-8 in a string"},
        {"{\"a\xc0\xaf\":{}}", "invalid UTF-8 in a string"},     /* overlong '/' */
        {"{\"a\xed\xa0\x80\":{}}", "invalid UTF-8 in a string"}, /* a surrogate */
        {"{\"a\\u0000b\":{}}", "a tensor name holds a NUL character"},
        {"{\"w\":{}}", "tensor 'w' has no dtype"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[]}}", "tensor 'w' has no data_offsets"},
        {"{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\"}}",
         "field 'dtype' appears twice in tensor 'w'"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
         "tensor 'w' has more than 8 dims"},
        {"{\"__metadata__\":{\"a\":1}}", "metadata values must be strings; see key 'a'"},
        {"{\"__metadata__\":{\"a\":{\"b\":\"c\"}}}", "metadata values must be strings"},
        {"{\"__metadata__\":[]}", "expected '{' after \"__metadata__\":"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", "'__metadata__' appears twice"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
         "\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}",
         "metadata key 'a' appears twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(cases[i].error, "unknown") == 0) { /* trailing blanks are fine */
            unsigned char buf[256];
            ag_state_dict *sd;
            float v = 1;
            size_t n = build(buf, cases[i].header, &v, 4);
            cr_assert_eq(ag_load_safetensors_buffer(buf, n, &sd, NULL), 0, "%s", ag_last_error());
            ag_state_dict_free(sd);
            continue;
        }
        expect_bad(cases[i].header, "\0\0\0\0", 4, cases[i].error);
    }
    /* Padding with NUL bytes instead of spaces (the reference refuses it too). */
    unsigned char buf[64] = {16};
    memcpy(buf + 8, "{}", 2);
    expect_bad_bytes(buf, 24, "malformed header at byte 10: unexpected text after");
}

/* A header nested a million deep is refused at the first unexpected bracket, in constant
 * stack: the parser follows the schema and never recurses. */
Test(safetensors, deep_nesting_does_not_recurse) {
    size_t depth = 1000000;
    unsigned char *buf = malloc(8 + 2 * depth);
    uint64_t n = 2 * depth;
    for (int k = 0; k < 8; k++)
        buf[k] = (unsigned char)(n >> (8 * k));
    memset(buf + 8, '[', depth);
    memset(buf + 8 + depth, ']', depth);
    expect_bad_bytes(buf, 8 + 2 * depth, "the header must be a JSON object");
    buf[8] = '{', buf[9] = '"', buf[10] = 'w', buf[11] = '"', buf[12] = ':', buf[13] = '{';
    buf[14] = '"', buf[15] = 's', buf[16] = 'h', buf[17] = 'a', buf[18] = 'p', buf[19] = 'e';
    buf[20] = '"', buf[21] = ':';
    expect_bad_bytes(buf, 8 + 2 * depth,
                     "malformed header at byte 23: expected a non-negative "
                     "integer in the shape of tensor 'w'");
    free(buf);
}

Test(safetensors, bad_layouts) {
    unsigned char d[64] = {0};
    /* Duplicate names. */
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
               "\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}}",
               d, 8, "tensor 'w' appears twice in the header");
    /* Unknown and unloadable dtypes. */
    expect_bad("{\"w\":{\"dtype\":\"F12\",\"shape\":[],\"data_offsets\":[0,4]}}", d, 4,
               "tensor 'w' has unknown dtype 'F12'");
    expect_bad("{\"w\":{\"dtype\":\"f32\",\"shape\":[],\"data_offsets\":[0,4]}}", d, 4,
               "tensor 'w' has unknown dtype 'f32'");
    expect_bad("{\"w\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", d, 4,
               "tensor 'w' has dtype BF16, which libautograd does not load");
    /* Shape and size disagree. */
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", d, 20,
               "tensor 'w' of dtype F32 and shape [2, 3] needs 24 bytes, but its data_offsets "
               "[0, 20] hold 20");
    expect_bad("{\"w\":{\"dtype\":\"F64\",\"shape\":[0],\"data_offsets\":[0,8]}}", d, 8,
               "needs 0 bytes");
    /* Offsets out of range, reversed, overlapping, leaving gaps, not covering the data. */
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", d, 8,
               "the data of tensor 'w' (bytes 0 to 16) goes past the end of the data region "
               "(8 bytes): the file is truncated");
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[8,4]}}", d, 8,
               "the data_offsets [8, 4] of tensor 'w' end before they begin");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               d, 12, "the data of tensors 'a' and 'b' overlap (bytes 0 to 8 and 4 to 12)");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[8,12]}}",
               d, 12, "bytes 4 to 8 of the data region, before tensor 'b', belong to no tensor");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}}", d, 8,
               "bytes 0 to 4 of the data region, before tensor 'a', belong to no tensor");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", d, 12,
               "the last 8 bytes of the data region belong to no tensor (the tensors' data "
               "ends at byte 4 of 12)");
    expect_bad("{}", d, 1, "the last 1 bytes of the data region belong to no tensor");
    /* Negative and overflowing numbers. */
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", d, 4,
               "negative number in the shape of tensor 'w'");
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[-0,4]}}", d, 4,
               "negative number in the data_offsets of tensor 'w'");
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],"
               "\"data_offsets\":[0,4]}}",
               d, 4, "number too large in the shape of tensor 'w' (more than 2^63 - 1)");
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[9223372036854775808],"
               "\"data_offsets\":[0,4]}}",
               d, 4, "number too large");
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[],"
               "\"data_offsets\":[0,18446744073709551620]}}",
               d, 4, "number too large");
    expect_bad("{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,0],"
               "\"data_offsets\":[0,0]}}",
               d, 0, "the shape [4294967296, 4294967296, 0] of tensor 'w' is too large");
    expect_bad("{\"w\":{\"dtype\":\"F64\",\"shape\":[9223372036854775807],"
               "\"data_offsets\":[0,0]}}",
               d, 0, "is too large");
    /* A 0-d tensor of one element is fine; so is a shape of zeros at any offset. */
    unsigned char buf[256];
    ag_state_dict *sd;
    cr_assert_eq(ag_load_safetensors_buffer(
                     buf,
                     build(buf,
                           "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,9223372036854775807],"
                           "\"data_offsets\":[0,0]}}",
                           d, 0),
                     &sd, NULL),
                 0, "%s", ag_last_error());
    ag_state_dict_free(sd);
}

Test(safetensors, bad_checksum_metadata) {
    unsigned char d[4] = {0};
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
               "\"__metadata__\":{\"xxh3:w\":\"12345\"}}",
               d, 4, "malformed checksum for tensor 'w': expected 16 hex digits, got '12345'");
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
               "\"__metadata__\":{\"xxh3:w\":\"0123456789abcdefg\"}}",
               d, 4, "malformed checksum");
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
               "\"__metadata__\":{\"xxh3:v\":\"0123456789abcdef\"}}",
               d, 4, "metadata 'xxh3:v' is the checksum of a tensor the file does not hold");
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
               "\"__metadata__\":{\"xxh3:w\":\"0123456789abcdef\"}}",
               d, 4, "checksum mismatch for tensor 'w': the file is corrupt");
}

/* Every single bit flipped in the data is caught by the checksums; flips in the header either
 * are caught or leave a file that still loads (e.g. in the "format" string), never a crash. */
Test(safetensors, bit_flips) {
    make_test_dir("safetensors");
    six s = make_six();
    const char *path = in_test_dir("m.safetensors");
    cr_assert_eq(ag_save_safetensors(s.sd, path), 0);
    size_t size;
    unsigned char *bytes = read_all(path, &size);
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--)
        hlen = hlen << 8 | bytes[k];
    for (size_t i = 8 + (size_t)hlen; i < size; i++) {
        for (int bit = 0; bit < 8; bit++) {
            bytes[i] ^= (unsigned char)(1u << bit);
            ag_state_dict *sd = (ag_state_dict *)&sd;
            cr_assert_eq(ag_load_safetensors_buffer(bytes, size, &sd, NULL), -1, "byte %zu", i);
            cr_assert_null(sd);
            cr_assert(strstr(ag_last_error(), "checksum mismatch for tensor '"));
            cr_assert(strstr(ag_last_error(), "': the file is corrupt"));
            bytes[i] ^= (unsigned char)(1u << bit);
        }
    }
    /* One flip through the file loader, naming the tensor. */
    bytes[size - 24 - 1] ^= 4; /* in "steps", the last nonempty tensor (3 x int64) */
    write_file(path, bytes, size);
    expect_bad_file(path, "checksum mismatch for tensor 'steps': the file is corrupt");
    bytes[size - 24 - 1] ^= 4;
    /* A header flip that still loads (in the "format" string, a hex digit's case, "xxh3:"
     * turned into another key) never changes a name, a dtype or a value; only the shape of an
     * empty tensor ([0, 3] into [0, 2]) escapes the checksums, which cover the data. */
    int loaded = 0;
    for (size_t i = 0; i < 8 + (size_t)hlen; i++) {
        for (int bit = 0; bit < 8; bit++) {
            bytes[i] ^= (unsigned char)(1u << bit);
            ag_state_dict *sd;
            if (ag_load_safetensors_buffer(bytes, size, &sd, NULL) == 0) {
                loaded++;
                cr_assert_eq(ag_state_dict_count(sd), 6);
                for (int k = 0; k < 6; k++) {
                    cr_assert_str_eq(ag_state_dict_name_at(sd, k), six_names[k]);
                    ag_tensor *t = ag_state_dict_tensor_at(sd, k);
                    cr_assert(t->dtype == s.t[k]->dtype && t->numel == s.t[k]->numel);
                    cr_assert(t->numel == 0 || same_bytes(t, s.t[k]), "flip at byte %zu", i);
                }
                ag_state_dict_free(sd);
            } else {
                cr_assert_null(sd);
            }
            cr_assert_eq(ag_live_tensors(), 6);
            bytes[i] ^= (unsigned char)(1u << bit);
        }
    }
    cr_log_info("%d of %d header bit flips still load, unchanged", loaded, (int)(8 + hlen) * 8);
    free(bytes);
    free_six(&s);
    remove_test_dir();
}

/* ---- inspecting ----------------------------------------------------------------------------- */

typedef struct seen {
    int n;
    char names[8][32];
    ag_checksum_status status[8];
} seen;

static void collect(const ag_safetensors_entry *e, void *userdata) {
    seen *s = userdata;
    cr_assert_eq(e->index, s->n);
    snprintf(s->names[s->n], 32, "%s:%s:%d", e->name, e->dtype, e->ndim);
    s->status[s->n++] = e->checksum;
}

Test(safetensors, inspect_lists_and_checks) {
    make_test_dir("safetensors");
    six s = make_six();
    const char *path = in_test_dir("m.safetensors");
    cr_assert_eq(ag_save_safetensors(s.sd, path), 0);
    seen got = {0};
    cr_assert_eq(ag_inspect_safetensors(path, collect, &got), 0, "%s", ag_last_error());
    cr_assert_eq(got.n, 6);
    cr_assert_str_eq(got.names[0], "layer.weight:F32:2");
    cr_assert_str_eq(got.names[3], "scale:F32:0");
    for (int i = 0; i < 6; i++)
        cr_assert_eq(got.status[i], AG_CHECKSUM_VERIFIED);
    /* Not present in a plain Python file. */
    memset(&got, 0, sizeof got);
    cr_assert_eq(ag_inspect_safetensors("tests/fixtures/from_python.safetensors", collect, &got),
                 0);
    cr_assert_eq(got.n, 5);
    cr_assert_str_eq(got.names[2], "ids:I32:1");
    for (int i = 0; i < 5; i++)
        cr_assert_eq(got.status[i], AG_CHECKSUM_ABSENT);
    /* A mismatch: every tensor is still listed, then the file is reported corrupt. */
    size_t size;
    unsigned char *bytes = read_all(path, &size);
    bytes[size - 24 - 1] ^= 1;
    write_file(path, bytes, size);
    memset(&got, 0, sizeof got);
    cr_assert_eq(ag_inspect_safetensors(path, collect, &got), -1);
    cr_assert_eq(got.n, 6);
    cr_assert_eq(got.status[2], AG_CHECKSUM_MISMATCH);
    cr_assert_eq(got.status[1], AG_CHECKSUM_VERIFIED);
    cr_assert(strstr(ag_last_error(), "checksum mismatch for tensor 'steps'"));
    /* A broken structure: nothing is listed. */
    write_file(path, bytes, 20);
    memset(&got, 0, sizeof got);
    cr_assert_eq(ag_inspect_safetensors(path, collect, &got), -1);
    cr_assert_eq(got.n, 0);
    cr_assert(strstr(ag_last_error(), "truncated"));
    free(bytes);
    free_six(&s);
    remove_test_dir();
}

/* ---- atomic saves --------------------------------------------------------------------------- */

Test(safetensors, save_into_missing_directory_fails_cleanly) {
    make_test_dir("safetensors");
    six s = make_six();
    cr_assert_eq(ag_save_safetensors(s.sd, in_test_dir("no/such/dir/m.safetensors")), -1);
    cr_assert(strstr(ag_last_error(), "cannot create the temporary file: No such file or "
                                      "directory"),
              "%s", ag_last_error());
    cr_assert_eq(test_dir_entries(), 0);
    free_six(&s);
    remove_test_dir();
}

/* A save that fails at any point of writing leaves the previous file byte for byte. */
Test(safetensors, failed_save_leaves_the_previous_file) {
    make_test_dir("safetensors");
    six s = make_six();
    const char *path = in_test_dir("m.safetensors");
    cr_assert_eq(ag_save_safetensors(s.sd, path), 0);
    size_t size;
    unsigned char *before = read_all(path, &size);
    AG_F32(s.t[0])[0] = 42; /* what a later save would write */
    for (int64_t after = 0; after < (int64_t)size; after += 7) {
        ag_safetensors_fail_writes_after(after);
        cr_assert_eq(ag_save_safetensors(s.sd, path), -1, "fault after %lld bytes",
                     (long long)after);
        cr_assert(strstr(ag_last_error(), "writing the temporary file failed: No space left on "
                                          "device (the file was left as it was)"));
        size_t n;
        unsigned char *now = read_all(path, &n);
        cr_assert(n == size && memcmp(now, before, n) == 0, "fault after %lld", (long long)after);
        free(now);
        cr_assert_eq(test_dir_entries(), 1, "a temporary file was left behind");
    }
    ag_safetensors_fail_writes_after(-1);
    cr_assert_eq(ag_save_safetensors(s.sd, path), 0); /* and a good save replaces it */
    ag_state_dict *loaded;
    cr_assert_eq(ag_load_safetensors(path, &loaded, NULL), 0);
    cr_assert_eq(AG_F32(ag_state_dict_get(loaded, "layer.weight"))[0], 42);
    ag_state_dict_free(loaded);
    cr_assert_eq(test_dir_entries(), 1);
    free(before);
    free_six(&s);
    remove_test_dir();
}

Test(safetensors, save_over_a_directory_fails_cleanly) {
    make_test_dir("safetensors");
    six s = make_six();
    const char *sub = in_test_dir("sub");
    cr_assert_eq(mkdir(sub, 0755), 0);
    cr_assert_eq(ag_save_safetensors(s.sd, sub), -1);
    cr_assert(strstr(ag_last_error(), "cannot replace the file"), "%s", ag_last_error());
    cr_assert(strstr(ag_last_error(), "(it was left as it was)"));
    cr_assert_eq(test_dir_entries(), 1); /* the directory, and no temporary file */
    struct stat st;
    cr_assert(stat(sub, &st) == 0 && S_ISDIR(st.st_mode));
    free_six(&s);
    remove_test_dir();
}

/* ---- load_state_dict ------------------------------------------------------------------------ */

Test(safetensors, strict_errors_in_torch_words) {
    ag_tensor *w = ag_zeros(AG_FLOAT32, AG_SHAPE(3)), *b = ag_zeros(AG_FLOAT32, AG_SHAPE(2));
    ag_tensor *a = ag_zeros(AG_FLOAT32, AG_SHAPE(1));
    ag_tensor *w2 = ag_ones(AG_FLOAT32, AG_SHAPE(2, 3)), *c = ag_ones(AG_FLOAT32, AG_SHAPE(1));
    ag_state_dict *model = ag_state_dict_new(), *ckpt = ag_state_dict_new();
    ag_state_dict_add(model, "w", w), ag_state_dict_add(model, "b", b);
    ag_state_dict_add(model, "a", a);
    ag_state_dict_add(ckpt, "w", w2), ag_state_dict_add(ckpt, "c", c);
    ag_state_dict_add(ckpt, "d", c);
    cr_assert_eq(ag_load_state_dict_into(ckpt, model, true), -1);
    /* torch 1.13, less " for M" (we know no module's name). */
    cr_assert_str_eq(ag_last_error(),
                     "Error(s) in loading state_dict:\n"
                     "\tMissing key(s) in state_dict: \"b\", \"a\". \n"
                     "\tUnexpected key(s) in state_dict: \"c\", \"d\". \n"
                     "\tsize mismatch for w: copying a param with shape torch.Size([2, 3]) from "
                     "checkpoint, the shape in current model is torch.Size([3]).");
    cr_assert_eq(ag_load_state_dict_into(ckpt, model, false), -1);
    cr_assert_str_eq(ag_last_error(),
                     "Error(s) in loading state_dict:\n"
                     "\tsize mismatch for w: copying a param with shape torch.Size([2, 3]) from "
                     "checkpoint, the shape in current model is torch.Size([3]).");
    /* A 0-d checkpoint tensor for a (3) parameter. */
    ag_state_dict *scalar = ag_state_dict_new();
    ag_tensor *z = ag_scalar(1, AG_FLOAT32);
    ag_state_dict_add(scalar, "w", z), ag_state_dict_add(scalar, "b", b);
    ag_state_dict_add(scalar, "a", a);
    cr_assert_eq(ag_load_state_dict_into(scalar, model, true), -1);
    cr_assert(strstr(ag_last_error(), "size mismatch for w: copying a param with shape "
                                      "torch.Size([]) from checkpoint, the shape in current "
                                      "model is torch.Size([3])."));
    /* Nothing was copied by the failures. */
    ASSERT_VALUES(w, 0, 0, 0, 0, 0);
    cr_assert_eq(w->version, 0);
    cr_assert_eq(ag_load_state_dict_into(NULL, model, true), -1);
    ag_state_dict_free(model), ag_state_dict_free(ckpt), ag_state_dict_free(scalar);
    ag_tensor_free(w), ag_tensor_free(b), ag_tensor_free(a), ag_tensor_free(w2);
    ag_tensor_free(c), ag_tensor_free(z);
}

Test(safetensors, non_strict_and_no_partial_copy) {
    ag_tensor *w = ag_zeros(AG_FLOAT32, AG_SHAPE(2)), *b = ag_zeros(AG_FLOAT64, AG_SHAPE(2));
    ag_tensor *lw = AG_TENSOR(1, 2),
              *lb = ag_from_data((const double[]){3, 4}, AG_FLOAT64, AG_SHAPE(2));
    ag_tensor *bad = ag_zeros(AG_FLOAT64, AG_SHAPE(3)), *extra = AG_TENSOR(9);
    ag_state_dict *model = ag_state_dict_new(), *ckpt = ag_state_dict_new();
    ag_state_dict_add(model, "w", w), ag_state_dict_add(model, "b", b);
    /* w is fine but b's shape is wrong: neither is copied. */
    ag_state_dict_add(ckpt, "w", lw), ag_state_dict_add(ckpt, "b", bad);
    cr_assert_eq(ag_load_state_dict_into(ckpt, model, false), -1);
    ASSERT_VALUES(w, 0, 0, 0, 0);
    ag_state_dict_free(ckpt);
    /* Missing b and unexpected "extra" are fine when not strict; w is copied. */
    ckpt = ag_state_dict_new();
    ag_state_dict_add(ckpt, "extra", extra), ag_state_dict_add(ckpt, "w", lw);
    cr_assert_eq(ag_load_state_dict_into(ckpt, model, true), -1);
    cr_assert(strstr(ag_last_error(), "Missing key(s) in state_dict: \"b\". \n"
                                      "\tUnexpected key(s) in state_dict: \"extra\". "));
    cr_assert_eq(ag_load_state_dict_into(ckpt, model, false), 1); /* one tensor copied */
    ASSERT_VALUES(w, 0, 0, 1, 2);
    ASSERT_VALUES(b, 0, 0, 0, 0);
    cr_assert_eq(w->version, 1);
    cr_assert_eq(b->version, 0);
    ag_state_dict_add(ckpt, "b", lb);
    cr_assert_eq(ag_load_state_dict_into(ckpt, model, false), 2);
    ASSERT_VALUES(b, 0, 0, 3, 4);
    ag_state_dict_free(model), ag_state_dict_free(ckpt);
    ag_tensor_free(w), ag_tensor_free(b), ag_tensor_free(lw), ag_tensor_free(lb);
    ag_tensor_free(bad), ag_tensor_free(extra);
}

/* Into parameters that require grad, with grad mode on: nothing is recorded, versions bump,
 * dtypes are cast as copy_ casts them (float64 -> float32, int64 -> float), never float ->
 * int64. */
Test(safetensors, load_into_parameters_casts_and_records_nothing) {
    make_test_dir("safetensors");
    ag_tensor *w = ag_requires_grad_(ag_zeros(AG_FLOAT32, AG_SHAPE(2)), true);
    ag_tensor *n = ag_zeros(AG_FLOAT64, AG_SHAPE(1)), *steps = ag_zeros(AG_INT64, AG_SHAPE(1));
    ag_tensor *w64 = ag_from_data((const double[]){0.1, -3}, AG_FLOAT64, AG_SHAPE(2));
    ag_tensor *i64 = AG_INDEX(5), *f = AG_TENSOR(1.5);
    ag_state_dict *ckpt = ag_state_dict_new(), *model = ag_state_dict_new(), *loaded;
    ag_state_dict_add(ckpt, "w", w64), ag_state_dict_add(ckpt, "n", i64);
    ag_state_dict_add(model, "w", w), ag_state_dict_add(model, "n", n);
    cr_assert_eq(ag_save_safetensors(ckpt, in_test_dir("c.safetensors")), 0);
    cr_assert_eq(ag_load_safetensors(in_test_dir("c.safetensors"), &loaded, NULL), 0);
    uint64_t v = w->version;
    cr_assert_eq(ag_load_state_dict_into(loaded, model, true), 2, "%s", ag_last_error());
    cr_assert_eq(AG_F32(w)[0], (float)0.1);
    cr_assert_eq(AG_F32(w)[1], -3.0f);
    cr_assert_eq(AG_F64(n)[0], 5.0);
    cr_assert(w->requires_grad && ag_is_leaf(w));
    cr_assert_eq(w->version, v + 1);
    cr_assert_eq(ag_tape_size(NULL), 0);
    /* float into int64: refused, nothing copied. */
    ag_state_dict *into_int = ag_state_dict_new(), *from_float = ag_state_dict_new();
    ag_state_dict_add(into_int, "steps", steps), ag_state_dict_add(from_float, "steps", f);
    cr_assert_eq(ag_load_state_dict_into(from_float, into_int, true), -1);
    cr_assert(strstr(ag_last_error(), "dtype mismatch for steps: copying a param of dtype "
                                      "torch.float32 from checkpoint into a tensor of dtype "
                                      "torch.int64 in current model."));
    cr_assert_eq(AG_I64(steps)[0], 0);
    ag_state_dict_free(into_int), ag_state_dict_free(from_float);
    ag_state_dict_free(ckpt), ag_state_dict_free(model), ag_state_dict_free(loaded);
    ag_tensor_free(w), ag_tensor_free(n), ag_tensor_free(steps), ag_tensor_free(w64);
    ag_tensor_free(i64), ag_tensor_free(f);
    remove_test_dir();
}

/* ---- fingerprints --------------------------------------------------------------------------- */

Test(safetensors, fingerprints) {
    ag_tensor *a = ag_from_data((const float[]){1, 2, 3, 4, 5, 6}, AG_FLOAT32, AG_SHAPE(2, 3));
    ag_tensor *b = ag_from_data((const float[]){1, 2, 3, 4, 5, 6}, AG_FLOAT32, AG_SHAPE(2, 3));
    ag_tensor *c = ag_from_data((const float[]){1, 2, 3, 4, 5, 6}, AG_FLOAT32, AG_SHAPE(3, 2));
    ag_tensor *d = ag_from_data((const double[]){1, 2, 3, 4, 5, 6}, AG_FLOAT64, AG_SHAPE(2, 3));
    ag_tensor *pz = ag_scalar(0.0, AG_FLOAT32), *nz = ag_scalar(-0.0, AG_FLOAT32);
    ag_requires_grad_(b, true);
    uint64_t fa = ag_fingerprint(a);
    cr_assert_eq(fa, ag_fingerprint(b)); /* requires_grad does not count */
    cr_assert_neq(fa, ag_fingerprint(c));
    cr_assert_neq(fa, ag_fingerprint(d));
    cr_assert_neq(ag_fingerprint(pz), ag_fingerprint(nz));
    /* Any one bit changed changes it. */
    unsigned char *bytes = a->data;
    for (int i = 0; i < 24 * 8; i++) {
        bytes[i / 8] ^= (unsigned char)(1u << (i % 8));
        cr_assert_neq(ag_fingerprint(a), fa, "bit %d", i);
        bytes[i / 8] ^= (unsigned char)(1u << (i % 8));
    }
    cr_assert_eq(ag_fingerprint(a), fa);
    /* Exactly as documented: XXH3-64 of dtype, ndim, dims (int64 LE), then the data. */
    unsigned char doc[2 + 16 + 24] = {AG_FLOAT32, 2, 2, 0, 0, 0, 0, 0, 0, 0, 3};
    memcpy(doc + 18, a->data, 24);
    cr_assert_eq(fa, XXH3_64bits(doc, sizeof doc));
    unsigned char scalar[2 + 4] = {AG_FLOAT32, 0};
    memcpy(scalar + 2, pz->data, 4);
    cr_assert_eq(ag_fingerprint(pz), XXH3_64bits(scalar, sizeof scalar));
    EXPECT_ERROR(ag_fingerprint(NULL), "argument 'input' must be a tensor, not NULL");
    /* A saved and loaded tensor keeps its fingerprint (see round_trip too). */
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(c), ag_tensor_free(d);
    ag_tensor_free(pz), ag_tensor_free(nz);
}

/* ---- read by plain Python ------------------------------------------------------------------- */

Test(safetensors, a_saved_file_is_read_by_plain_python) {
    /* tests/fixtures/check_read_by_numpy.py reads the file with json + struct (and numpy when
     * it is there): nothing of this library. Skipped where there is no Python. */
    const char *python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : NULL;
    if (!python) cr_skip_test("no /usr/bin/python3 on this machine");
    make_test_dir("python");
    ag_tensor *w = ag_from_data((const float[]){1.5f, -2.0f, 0.25f}, AG_FLOAT32, AG_SHAPE(3));
    ag_tensor *d = ag_from_data((const double[]){1e-300, 3.0}, AG_FLOAT64, AG_SHAPE(2, 1));
    ag_tensor *n = AG_INDEX(7, -9);
    ag_state_dict *sd = ag_state_dict_new();
    ag_state_dict_add(sd, "w", w);
    ag_state_dict_add(sd, "d", d);
    ag_state_dict_add(sd, "n", n);
    const char *path = in_test_dir("model.safetensors");
    cr_assert_eq(ag_save_safetensors(sd, path), 0, "%s", ag_last_error());
    char command[1024], out[4096] = "";
    snprintf(command, sizeof command,
             "%s tests/fixtures/check_read_by_numpy.py '%s' w=1.5,-2,0.25 d=1e-300,3 n=7,-9 2>&1",
             python, path);
    FILE *p = popen(command, "r");
    cr_assert_not_null(p);
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = '\0';
    int status = pclose(p);
    cr_assert_eq(status, 0, "the Python reader failed:\n%s", out);
    cr_assert(strstr(out, "OK: 3 tensors") != NULL, "%s", out);
    ag_state_dict_free(sd);
    ag_tensor_free(w), ag_tensor_free(d), ag_tensor_free(n);
    remove_test_dir();
}

/* ---- uint8: "U8" --------------------------------------------------------------------------- */

Test(safetensors, uint8_saves_and_loads_as_U8) {
    make_test_dir("safetensors");
    ag_tensor *img = ag_from_data((const uint8_t[]){0, 1, 127, 128, 254, 255}, AG_UINT8,
                                  AG_SHAPE(2, 3));
    ag_tensor *w = AG_TENSOR(0.5f);
    ag_state_dict *sd = ag_state_dict_new(), *loaded;
    ag_state_dict_add(sd, "img", img), ag_state_dict_add(sd, "w", w);
    const char *path = in_test_dir("u8.safetensors");
    cr_assert_eq(ag_save_safetensors(sd, path), 0, "%s", ag_last_error());
    /* The header names it U8, one byte an element; the six bytes come first, unpadded. */
    size_t size;
    unsigned char *bytes = read_all(path, &size);
    const char *want = "{\"img\":{\"dtype\":\"U8\",\"shape\":[2,3],\"data_offsets\":[0,6]},"
                       "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[6,10]},";
    cr_assert(memcmp(bytes + 8, want, strlen(want)) == 0, "header: %.120s", bytes + 8);
    cr_assert(memcmp(bytes + size - 10, img->data, 6) == 0);
    free(bytes);
    ag_load_report report;
    cr_assert_eq(ag_load_safetensors(path, &loaded, &report), 0, "%s", ag_last_error());
    ag_tensor *back = ag_state_dict_get(loaded, "img");
    cr_assert_eq(back->dtype, AG_UINT8);
    cr_assert(same_bytes(back, img));
    cr_assert_eq(ag_fingerprint(back), ag_fingerprint(img));
    cr_assert_eq(report.verified, 2);
    /* A U8 tensor as another writer lays it out (no checksum). */
    unsigned char buf[256];
    size_t n = build(buf, "{\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}",
                     (const unsigned char[]){0, 9, 200, 255}, 4);
    ag_state_dict *other;
    cr_assert_eq(ag_load_safetensors_buffer(buf, n, &other, NULL), 0, "%s", ag_last_error());
    ag_tensor *b = ag_state_dict_get(other, "b");
    cr_assert_eq(b->dtype, AG_UINT8);
    ASSERT_VALUES(b, 0, 0, 0, 9, 200, 255);
    ag_state_dict_free(other);
    ag_state_dict_free(loaded), ag_state_dict_free(sd);
    ag_tensor_free(img), ag_tensor_free(w);
    expect_bad("{\"b\":{\"dtype\":\"U8\",\"shape\":[5],\"data_offsets\":[0,4]}}", "abcd", 4,
               "tensor 'b' of dtype U8 and shape [5] needs 5 bytes");
    remove_test_dir();
}

Test(safetensors, uint8_load_state_dict_into_converts_bytes_to_floats_only) {
    ag_tensor *bytes = ag_from_data((const uint8_t[]){3, 250}, AG_UINT8, AG_SHAPE(2));
    ag_tensor *floats = ag_zeros(AG_FLOAT32, AG_SHAPE(2));
    ag_tensor *into_bytes = ag_zeros(AG_UINT8, AG_SHAPE(2));
    ag_tensor *f = AG_TENSOR(1.5f, 300.0f), *l = AG_INDEX(1, 2);
    ag_state_dict *ckpt = ag_state_dict_new(), *model = ag_state_dict_new();
    /* uint8 into float32: converted, as torch's copy_; uint8 into uint8: the bytes */
    ag_state_dict_add(ckpt, "x", bytes), ag_state_dict_add(model, "x", floats);
    cr_assert_eq(ag_load_state_dict_into(ckpt, model, true), 1, "%s", ag_last_error());
    ASSERT_VALUES(floats, 0, 0, 3, 250);
    ag_state_dict *model8 = ag_state_dict_new();
    ag_state_dict_add(model8, "x", into_bytes);
    cr_assert_eq(ag_load_state_dict_into(ckpt, model8, true), 1, "%s", ag_last_error());
    ASSERT_VALUES(into_bytes, 0, 0, 3, 250);
    /* float or int64 into uint8: refused (a float would be truncated and wrapped) */
    ag_tensor *sources[] = {f, l};
    const char *names[] = {"torch.float32", "torch.int64"};
    for (int k = 0; k < 2; k++) {
        ag_state_dict *from = ag_state_dict_new();
        ag_state_dict_add(from, "x", sources[k]);
        cr_assert_eq(ag_load_state_dict_into(from, model8, true), -1);
        char want[256];
        snprintf(want, sizeof want, "dtype mismatch for x: copying a param of dtype %s from "
                                    "checkpoint into a tensor of dtype torch.uint8 in current "
                                    "model.", names[k]);
        cr_assert(strstr(ag_last_error(), want), "%s", ag_last_error());
        ag_state_dict_free(from);
    }
    ASSERT_VALUES(into_bytes, 0, 0, 3, 250); /* nothing copied */
    ag_state_dict_free(ckpt), ag_state_dict_free(model), ag_state_dict_free(model8);
    ag_tensor_free(bytes), ag_tensor_free(floats), ag_tensor_free(into_bytes);
    ag_tensor_free(f), ag_tensor_free(l);
}
