/*
 * test_data.c - the mini-batch loader against torch's DataLoader, and the IDX reader on
 * files written here (valid, truncated, malformed, gzipped) and on Debian's Fashion-MNIST.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include "common.h"

#include "autograd/data.h"
#include "fixtures/data.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

AG_TEST_SUITE(data);

/* ---------------------------------------------------------------------------------------- */
/* The loader                                                                                 */
/* ---------------------------------------------------------------------------------------- */

/* x: (10, 2) float32 with x[i] = (i, 10 i); y: (10) int64 with y[i] = 100 + i. */
static void make_xy(ag_tensor **x, ag_tensor **y) {
    float xs[20];
    int64_t ys[10];
    for (int i = 0; i < 10; i++)
        xs[2 * i] = (float)i, xs[2 * i + 1] = 10.0f * i, ys[i] = 100 + i;
    *x = ag_from_data(xs, AG_FLOAT32, AG_SHAPE(10, 2));
    *y = ag_from_data(ys, AG_INT64, AG_SHAPE(10));
}

Test(data, loader_batches_in_order) {
    ag_tensor *x, *y;
    make_xy(&x, &y);
    ag_data_loader *loader =
        ag_data_loader_new((ag_tensor *[]){x, y}, 2, (ag_data_loader_options){.batch_size = 3});
    cr_assert_not_null(loader);
    cr_assert_eq(ag_data_loader_len(loader), 4);
    cr_assert_eq(ag_data_loader_num_samples(loader), 10);
    for (int epoch = 0; epoch < 2; epoch++) {
        ag_tensor *batch[2];
        int64_t sizes[4] = {3, 3, 3, 1}, seen = 0;
        int nb = 0;
        while (ag_data_loader_next(loader, batch)) {
            cr_assert_lt(nb, 4);
            ASSERT_SHAPE(batch[0], sizes[nb], 2);
            ASSERT_SHAPE(batch[1], sizes[nb]);
            cr_assert_eq(batch[0]->dtype, AG_FLOAT32);
            cr_assert_eq(batch[1]->dtype, AG_INT64);
            cr_assert_not_null(batch[0]->tape, "a batch belongs to the tape");
            cr_assert(!batch[0]->requires_grad);
            for (int64_t r = 0; r < sizes[nb]; r++) {
                cr_assert_eq(AG_F32(batch[0])[2 * r], (float)(seen + r));
                cr_assert_eq(AG_F32(batch[0])[2 * r + 1], 10.0f * (float)(seen + r));
                cr_assert_eq(AG_I64(batch[1])[r], 100 + seen + r);
            }
            seen += sizes[nb++];
            ag_tape_reset(NULL); /* as a training step does: the batch is released */
        }
        cr_assert_eq(nb, 4, "epoch %d", epoch);
        cr_assert_eq(seen, 10);
    }
    ag_data_loader_free(loader);
    ag_tensor_free(x), ag_tensor_free(y);
}

Test(data, loader_drop_last_and_batch_sizes) {
    ag_tensor *x, *y;
    make_xy(&x, &y);
    /* {batch_size, drop_last, number of batches, size of the last one} */
    static const int64_t cases[][4] = {
        {3, 1, 3, 3},   {5, 0, 2, 5},  {5, 1, 2, 5},  {10, 1, 1, 10},
        {11, 0, 1, 10}, {11, 1, 0, 0}, {0, 0, 10, 1}, {4, 0, 3, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ag_data_loader *loader = ag_data_loader_new(
            (ag_tensor *[]){x, y}, 2,
            (ag_data_loader_options){.batch_size = cases[c][0], .drop_last = cases[c][1]});
        cr_assert_eq(ag_data_loader_len(loader), cases[c][2], "case %zu", c);
        ag_tensor *batch[2] = {NULL, NULL};
        int64_t nb = 0, last = 0;
        while (ag_data_loader_next(loader, batch))
            last = batch[0]->shape[0], nb++;
        cr_assert_eq(nb, cases[c][2], "case %zu", c);
        cr_assert_eq(last, cases[c][3], "case %zu", c);
        ag_data_loader_free(loader);
        ag_tape_reset(NULL);
    }
    ag_tensor_free(x), ag_tensor_free(y);
}

/* One run of DATA_EPOCHS epochs over arange(n) against torch's order. */
static void check_against_torch(const double *expected, int64_t n, int64_t b, uint64_t seed,
                                bool own_generator, bool drop_last) {
    ag_tensor *x = ag_arange(0, (double)n, 1, AG_INT64);
    ag_generator *g = NULL;
    if (own_generator) {
        g = ag_generator_new(seed);
        ag_manual_seed(12345); /* the default generator must not matter */
    } else {
        ag_manual_seed(seed);
    }
    ag_data_loader *loader = ag_data_loader_new(
        &x, 1,
        (ag_data_loader_options){
            .batch_size = b, .shuffle = true, .drop_last = drop_last, .generator = g});
    int64_t per_epoch = drop_last ? n - n % b : n, k = 0;
    for (int epoch = 0; epoch < DATA_EPOCHS; epoch++) {
        bool seen[128] = {false};
        ag_tensor *batch;
        while (ag_data_loader_next(loader, &batch)) {
            cr_assert_leq(batch->shape[0], b);
            for (int64_t r = 0; r < batch->shape[0]; r++, k++) {
                int64_t v = AG_I64(batch)[r];
                cr_assert_eq((double)v, expected[k],
                             "seed %llu n %lld b %lld epoch %d sample %lld: %lld, torch %g",
                             (unsigned long long)seed, (long long)n, (long long)b, epoch,
                             (long long)(k % per_epoch), (long long)v, expected[k]);
                cr_assert(!seen[v], "sample %lld twice in an epoch", (long long)v);
                seen[v] = true;
            }
        }
        cr_assert_eq(k, per_epoch * (epoch + 1));
        ag_tape_reset(NULL);
    }
    ag_data_loader_free(loader);
    ag_generator_free(g);
    ag_tensor_free(x);
}

Test(data, loader_shuffle_matches_torch) {
    check_against_torch(data_default_seed0_n10_b3, 10, 3, 0, false, false);
    check_against_torch(data_default_seed7_n10_b3, 10, 3, 7, false, false);
    check_against_torch(data_default_seed0_n100_b16, 100, 16, 0, false, false);
    check_against_torch(data_default_seed7_n100_b16, 100, 16, 7, false, false);
    check_against_torch(data_default_seed0_n10_b3_drop_last, 10, 3, 0, false, true);
}

Test(data, loader_shuffle_with_a_generator_matches_torch) {
    check_against_torch(data_generator_seed0_n10_b3, 10, 3, 0, true, false);
    check_against_torch(data_generator_seed7_n10_b3, 10, 3, 7, true, false);
    check_against_torch(data_generator_seed0_n100_b16, 100, 16, 0, true, false);
    check_against_torch(data_generator_seed7_n100_b16, 100, 16, 7, true, false);
    check_against_torch(data_generator_seed0_n12_b3, 12, 3, 0, true, false);
    check_against_torch(data_generator_seed0_n10_b3_drop_last, 10, 3, 0, true, true);
    check_against_torch(data_generator_seed7_n12_b3_drop_last, 12, 3, 7, true, true);
}

Test(data, loader_every_epoch_reshuffles) {
    ag_tensor *x = ag_arange(0, 100, 1, AG_FLOAT64);
    ag_manual_seed(1);
    ag_data_loader *loader =
        ag_data_loader_new(&x, 1, (ag_data_loader_options){.batch_size = 100, .shuffle = true});
    double first[100];
    for (int epoch = 0; epoch < 5; epoch++) {
        ag_tensor *batch;
        if (epoch % 2) ag_data_loader_reset(loader); /* explicit or implicit: one draw each */
        cr_assert(ag_data_loader_next(loader, &batch));
        double sum = 0;
        int same = 0;
        for (int i = 0; i < 100; i++) {
            sum += AG_F64(batch)[i];
            if (epoch == 0) first[i] = AG_F64(batch)[i];
            same += AG_F64(batch)[i] == first[i];
        }
        cr_assert_eq(sum, 4950.0, "a permutation of 0..99");
        if (epoch > 0) cr_assert_lt(same, 20, "epoch %d repeats epoch 0's order", epoch);
        cr_assert(!ag_data_loader_next(loader, &batch));
        ag_tape_reset(NULL);
    }
    /* A reset in the middle of an epoch abandons it: the next batch opens a new order. */
    ag_tensor *batch;
    cr_assert(ag_data_loader_next(loader, &batch));
    ag_data_loader_reset(loader);
    cr_assert(ag_data_loader_next(loader, &batch));
    cr_assert_eq(batch->shape[0], 100);
    ag_data_loader_free(loader);
    ag_tensor_free(x);
}

Test(data, loader_draws_a_base_seed_without_shuffle) {
    /* torch's iterator draws one random_() per epoch even without shuffle: the stream after
     * an epoch is torch's. */
    ag_tensor *x = ag_arange(0, 10, 1, AG_FLOAT32);
    ag_manual_seed(3);
    ag_data_loader *loader = ag_data_loader_new(&x, 1, (ag_data_loader_options){.batch_size = 3});
    ag_tensor *batch;
    while (ag_data_loader_next(loader, &batch))
        continue;
    ag_tensor *r = ag_rand(NULL, AG_FLOAT32, AG_SHAPE(1));
    cr_assert_eq(AG_F32(r)[0], (float)data_rand_after_sequential_epoch);
    ag_data_loader_free(loader);
    ag_tensor_free(r), ag_tensor_free(x);
}

/* One random_() of a 0-d int64 tensor, as torch's DataLoader and RandomSampler draw a seed. */
static int64_t random_int64_of_a_tensor(ag_generator *g) {
    ag_tensor *t = ag_empty(AG_INT64, AG_SCALAR_SHAPE);
    ag_random_(t, g);
    int64_t v = AG_I64(t)[0];
    ag_tensor_free(t);
    return v;
}

/* What one shuffled epoch draws, spelt with tensors and a new generator as torch spells it:
 * the base seed; the permutation, from g or (g NULL) from torch.Generator() seeded by a
 * random_() of the default generator; with g, the unused randperm at the end. */
static void torch_epoch(ag_generator *g, int64_t n, int64_t *order) {
    (void)random_int64_of_a_tensor(g);
    ag_generator *own = g ? NULL : ag_generator_new((uint64_t)random_int64_of_a_tensor(NULL));
    ag_tensor *perm = ag_randperm(g ? g : own, n);
    memcpy(order, perm->data, (size_t)n * sizeof(int64_t));
    ag_tensor_free(perm);
    if (g) ag_tensor_free(ag_randperm(g, n));
    ag_generator_free(own);
}

/* One epoch of the loader: the samples in the order it gave them. */
static void loader_epoch(ag_data_loader *loader, int64_t *order) {
    ag_tensor *batch;
    int64_t k = 0;
    while (ag_data_loader_next(loader, &batch)) {
        memcpy(order + k, batch->data, (size_t)batch->shape[0] * sizeof(int64_t));
        k += batch->shape[0];
        ag_tape_reset(NULL);
    }
    cr_assert_eq(k, ag_data_loader_num_samples(loader));
}

Test(data, loader_epochs_draw_what_tensors_and_new_generators_draw) {
    /* The loader draws its seeds without a tensor, its permutation straight into its order,
     * and re-seeds one generator of its own each epoch instead of making a new one: the same
     * numbers as the tensors and the new generator torch makes, over epochs of three loaders
     * interleaved, two on the default generator (one of 700 samples: more than mt19937's 624
     * words, so that the re-seeded generator had been twisted) and one on a generator. */
    enum { EPOCHS = 4 };
    static const int64_t sizes[3] = {700, 30, 50}, batch_sizes[3] = {64, 7, 8};
    static int64_t got[3][EPOCHS][700], want[3][EPOCHS][700];
    ag_tensor *x[3];
    ag_data_loader *loaders[3];
    ag_generator *g = ag_generator_new(5);
    for (int l = 0; l < 3; l++) {
        x[l] = ag_arange(0, (double)sizes[l], 1, AG_INT64);
        loaders[l] = ag_data_loader_new(&x[l], 1,
                                        (ag_data_loader_options){.batch_size = batch_sizes[l],
                                                                 .shuffle = true,
                                                                 .generator = l == 2 ? g : NULL});
    }
    ag_manual_seed(11);
    for (int e = 0; e < EPOCHS; e++)
        for (int l = 0; l < 3; l++)
            loader_epoch(loaders[l], got[l][e]);
    /* where the loaders leave both streams: the next draw of each */
    int64_t next_default = random_int64_of_a_tensor(NULL), next_g = random_int64_of_a_tensor(g);
    ag_manual_seed(11);
    ag_generator_manual_seed(g, 5);
    for (int e = 0; e < EPOCHS; e++)
        for (int l = 0; l < 3; l++)
            torch_epoch(l == 2 ? g : NULL, sizes[l], want[l][e]);
    for (int l = 0; l < 3; l++)
        for (int e = 0; e < EPOCHS; e++)
            for (int64_t i = 0; i < sizes[l]; i++)
                cr_assert_eq(got[l][e][i], want[l][e][i], "loader %d epoch %d sample %lld", l, e,
                             (long long)i);
    cr_assert_eq(random_int64_of_a_tensor(NULL), next_default);
    cr_assert_eq(random_int64_of_a_tensor(g), next_g);
    for (int l = 0; l < 3; l++) {
        ag_data_loader_free(loaders[l]);
        ag_tensor_free(x[l]);
    }
    ag_generator_free(g);
}

Test(data, loader_batch_of_a_parameter_takes_its_gradient) {
    /* Rows of a tensor that requires grad: index_select's node routes the gradient back. */
    ag_tensor *w = ag_requires_grad_(ag_arange(0, 4, 1, AG_FLOAT64), true);
    ag_data_loader *loader = ag_data_loader_new(&w, 1, (ag_data_loader_options){.batch_size = 2});
    ag_tensor *batch;
    cr_assert(ag_data_loader_next(loader, &batch));
    cr_assert(ag_data_loader_next(loader, &batch)); /* rows 2 and 3 */
    cr_assert_str_eq(ag_grad_fn_name(batch), "IndexSelectBackward0");
    ag_backward(ag_sum(ag_mul(batch, batch)));
    ASSERT_VALUES(w->grad, 0, 0, 0, 0, 4, 6);
    ag_data_loader_free(loader);
    ag_tensor_free(w);
}

Test(data, loader_bad_input) {
    ag_tensor *x, *y;
    make_xy(&x, &y);
    ag_tensor *z = ag_zeros(AG_FLOAT32, AG_SHAPE(9, 3)), *s = ag_scalar(1, AG_FLOAT32);
    ag_tensor *empty = ag_zeros(AG_FLOAT32, AG_SHAPE(0, 3));
    ag_data_loader_options opts = {.batch_size = 2};
    EXPECT_ERROR(ag_data_loader_new((ag_tensor *[]){x, z}, 2, opts),
                 "Size mismatch between tensors: tensor 0 is [10, 2], tensor 1 is [9, 3]");
    EXPECT_ERROR(ag_data_loader_new((ag_tensor *[]){x, y, z}, 3, opts),
                 "Size mismatch between tensors");
    EXPECT_ERROR(ag_data_loader_new(&s, 1, opts),
                 "Dimension specified as 0 but tensor has no dimensions");
    EXPECT_ERROR(ag_data_loader_new((ag_tensor *[]){x, NULL}, 2, opts), "ag_data_loader_new");
    EXPECT_ERROR(ag_data_loader_new(NULL, 0, opts), "expected at least one tensor");
    EXPECT_ERROR(ag_data_loader_new(&x, 1, (ag_data_loader_options){.batch_size = -1}),
                 "batch_size should be a positive integer value, but got batch_size=-1");
    EXPECT_ERROR(ag_data_loader_new(&empty, 1, (ag_data_loader_options){.shuffle = true}),
                 "num_samples should be a positive integer value, but got num_samples=0");
    EXPECT_ERROR(ag_data_loader_next(NULL, (ag_tensor *[1]){NULL}), "loader is NULL");
    /* An empty dataset without shuffle has no batches; freeing NULL is a no-op. */
    ag_data_loader *loader = ag_data_loader_new(&empty, 1, opts);
    ag_tensor *batch;
    cr_assert_eq(ag_data_loader_len(loader), 0);
    cr_assert(!ag_data_loader_next(loader, &batch));
    ag_data_loader_free(loader);
    ag_data_loader_free(NULL);
    ag_tensor_free(x), ag_tensor_free(y), ag_tensor_free(z), ag_tensor_free(s);
    ag_tensor_free(empty);
}

/* ---------------------------------------------------------------------------------------- */
/* IDX                                                                                        */
/* ---------------------------------------------------------------------------------------- */

/* Each IDX test writes its files into a fresh mkdtemp directory, removed by the fini (which
 * runs even when an assertion failed). */
static char tmp_dir[64];
static char tmp_files[16][128];
static int tmp_nfiles;

static void tmp_cleanup(void) {
    for (int k = 0; k < tmp_nfiles; k++)
        remove(tmp_files[k]);
    if (tmp_dir[0]) rmdir(tmp_dir);
    tmp_dir[0] = 0;
    tmp_nfiles = 0;
}

/* A new file path in the test's directory (made on first use). */
static const char *tmp_path(const char *name) {
    if (!tmp_dir[0]) {
        strcpy(tmp_dir, "/tmp/ag_idx_XXXXXX");
        cr_assert_not_null(mkdtemp(tmp_dir), "mkdtemp: %s", strerror(errno));
    }
    cr_assert_lt(tmp_nfiles, 16);
    char *p = tmp_files[tmp_nfiles++];
    snprintf(p, 128, "%s/%s", tmp_dir, name);
    return p;
}

/* An IDX image in memory: the magic, the dims (big-endian), then data. Returns its length. */
static size_t idx_image(unsigned char *buf, uint32_t magic, const uint32_t *dims, int ndim,
                        const void *data, size_t data_len) {
    size_t n = 0;
    uint32_t words[1 + AG_MAX_DIMS + 1];
    words[0] = magic;
    for (int d = 0; d < ndim; d++)
        words[1 + d] = dims[d];
    for (int w = 0; w < 1 + ndim; w++) {
        buf[n++] = (unsigned char)(words[w] >> 24);
        buf[n++] = (unsigned char)(words[w] >> 16);
        buf[n++] = (unsigned char)(words[w] >> 8);
        buf[n++] = (unsigned char)words[w];
    }
    if (data_len) memcpy(buf + n, data, data_len);
    return n + data_len;
}

static const char *write_file(const char *name, const void *bytes, size_t n) {
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    fclose(f);
    return path;
}

static const char *write_gz(const char *name, const void *bytes, size_t n) {
    const char *path = tmp_path(name);
    gzFile gz = gzopen(path, "wb");
    cr_assert_not_null(gz);
    cr_assert_eq(gzwrite(gz, bytes, (unsigned)n), (int)n);
    cr_assert_eq(gzclose(gz), Z_OK);
    return path;
}

/* The bytes of a file, read whole (small test files only); *n its length. */
static unsigned char *read_whole(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    static unsigned char buf[1 << 16];
    *n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

/* The load must fail with text in the message, set *out to NULL and create nothing. */
#define EXPECT_LOAD_FAILS(call, text)                                                              \
    do {                                                                                           \
        ag_tensor *out_ = (ag_tensor *)&out_;                                                      \
        int64_t live_ = ag_live_tensors();                                                         \
        ag_clear_error();                                                                          \
        cr_assert_eq(call, -1, "expected a failure with \"%s\"", text);                            \
        cr_assert_null(out_);                                                                      \
        cr_assert(strstr(ag_last_error(), text) != NULL, "error \"%s\" does not contain \"%s\"",   \
                  ag_last_error(), text);                                                          \
        cr_assert_eq(ag_live_tensors(), live_);                                                    \
    } while (0)

/* Two 2x3 images and what ToTensor makes of them (byte / 255 in float32). */
static const unsigned char pixels[12] = {0, 255, 1, 128, 254, 3, 10, 20, 30, 40, 50, 60};

Test(data, idx_images_and_labels, .fini = tmp_cleanup) {
    unsigned char buf[256];
    size_t n = idx_image(buf, 0x00000803, (const uint32_t[]){2, 2, 3}, 3, pixels, 12);
    const char *images = write_file("images-idx3-ubyte", buf, n);
    ag_tensor *x;
    cr_assert_eq(ag_idx_load_images(images, &x), 0, "%s", ag_last_error());
    ASSERT_SHAPE(x, 2, 2, 3);
    cr_assert_eq(x->dtype, AG_FLOAT32);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(AG_F32(x)[i], (float)pixels[i] / 255.0f, "pixel %d", i);
    cr_assert_eq(AG_F32(x)[1], 1.0f);
    ag_tensor *raw;
    cr_assert_eq(ag_idx_load(images, &raw), 0, "%s", ag_last_error());
    ASSERT_SHAPE(raw, 2, 2, 3);
    ASSERT_VALUES(raw, 0, 0, 0, 255, 1, 128, 254, 3, 10, 20, 30, 40, 50, 60);

    n = idx_image(buf, 0x00000801, (const uint32_t[]){5}, 1,
                  (const unsigned char[]){9, 0, 3, 255, 7}, 5);
    const char *labels = write_file("labels-idx1-ubyte", buf, n);
    ag_tensor *y;
    cr_assert_eq(ag_idx_load_labels(labels, &y), 0, "%s", ag_last_error());
    ASSERT_SHAPE(y, 5);
    cr_assert_eq(y->dtype, AG_INT64);
    ASSERT_VALUES(y, 0, 0, 9, 0, 3, 255, 7);

    /* Each reader wants its own magic. */
    EXPECT_LOAD_FAILS(ag_idx_load_images(labels, &out_),
                      "bad magic number 0x00000801 for IDX images (expected 0x00000803");
    EXPECT_LOAD_FAILS(ag_idx_load_labels(images, &out_),
                      "bad magic number 0x00000803 for IDX labels (expected 0x00000801");
    ag_tensor_free(x), ag_tensor_free(raw), ag_tensor_free(y);
}

Test(data, idx_every_element_type, .fini = tmp_cleanup) {
    unsigned char buf[256];
    /* int8 (0x09): signed bytes. */
    size_t n = idx_image(buf, 0x00000901, (const uint32_t[]){3}, 1,
                         (const unsigned char[]){0xFF, 0x80, 0x7F}, 3);
    ag_tensor *t;
    cr_assert_eq(ag_idx_load(write_file("i8", buf, n), &t), 0, "%s", ag_last_error());
    cr_assert_eq(t->dtype, AG_FLOAT32);
    ASSERT_VALUES(t, 0, 0, -1, -128, 127);
    ag_tensor_free(t);
    /* int16 (0x0B), big-endian: 0x0102 = 258, 0xFFFE = -2, as a 2x1 matrix. */
    n = idx_image(buf, 0x00000B02, (const uint32_t[]){2, 1}, 2,
                  (const unsigned char[]){0x01, 0x02, 0xFF, 0xFE}, 4);
    cr_assert_eq(ag_idx_load(write_file("i16", buf, n), &t), 0, "%s", ag_last_error());
    ASSERT_SHAPE(t, 2, 1);
    ASSERT_VALUES(t, 0, 0, 258, -2);
    ag_tensor_free(t);
    /* int32 (0x0C) read as float64, exact beyond float32's 2^24. */
    n = idx_image(buf, 0x00000C01, (const uint32_t[]){2}, 1,
                  (const unsigned char[]){0x01, 0x00, 0x00, 0x01, 0x80, 0x00, 0x00, 0x00}, 8);
    cr_assert_eq(ag_idx_load(write_file("i32", buf, n), &t), 0, "%s", ag_last_error());
    cr_assert_eq(t->dtype, AG_FLOAT64);
    ASSERT_VALUES(t, 0, 0, 16777217.0, -2147483648.0);
    ag_tensor_free(t);
    /* float32 (0x0D): 1.5 = 0x3FC00000, -0.1f = 0xBDCCCCCD. */
    n = idx_image(buf, 0x00000D01, (const uint32_t[]){2}, 1,
                  (const unsigned char[]){0x3F, 0xC0, 0, 0, 0xBD, 0xCC, 0xCC, 0xCD}, 8);
    cr_assert_eq(ag_idx_load(write_file("f32", buf, n), &t), 0, "%s", ag_last_error());
    cr_assert_eq(t->dtype, AG_FLOAT32);
    cr_assert_eq(AG_F32(t)[0], 1.5f);
    cr_assert_eq(AG_F32(t)[1], -0.1f);
    ag_tensor_free(t);
    /* float64 (0x0E): 0.1 = 0x3FB999999999999A. */
    n = idx_image(buf, 0x00000E01, (const uint32_t[]){1}, 1,
                  (const unsigned char[]){0x3F, 0xB9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A}, 8);
    cr_assert_eq(ag_idx_load(write_file("f64", buf, n), &t), 0, "%s", ag_last_error());
    cr_assert_eq(t->dtype, AG_FLOAT64);
    cr_assert_eq(AG_F64(t)[0], 0.1);
    ag_tensor_free(t);
    /* No samples at all is a valid, empty file. */
    n = idx_image(buf, 0x00000803, (const uint32_t[]){0, 28, 28}, 3, NULL, 0);
    cr_assert_eq(ag_idx_load_images(write_file("empty", buf, n), &t), 0, "%s", ag_last_error());
    ASSERT_SHAPE(t, 0, 28, 28);
    ag_tensor_free(t);
}

Test(data, idx_malformed_files_fail_cleanly, .fini = tmp_cleanup) {
    unsigned char buf[256];
    size_t n = idx_image(buf, 0x00000803, (const uint32_t[]){2, 2, 3}, 3, pixels, 12);
    /* Truncated in the data, in the dims, in the magic. */
    EXPECT_LOAD_FAILS(
        ag_idx_load_images(write_file("short", buf, n - 2), &out_),
        "truncated: dims [2, 2, 3] of uint8 need 12 bytes of data, the file holds 10");
    EXPECT_LOAD_FAILS(ag_idx_load_images(write_file("short_dims", buf, 10), &out_),
                      "truncated: the file ends inside its dims");
    EXPECT_LOAD_FAILS(ag_idx_load(write_file("short_magic", buf, 3), &out_),
                      "truncated: the file ends inside the magic number");
    EXPECT_LOAD_FAILS(ag_idx_load(write_file("nothing", buf, 0), &out_), "truncated");
    /* Trailing garbage. */
    unsigned char longer[256];
    memcpy(longer, buf, n);
    longer[n] = 42;
    EXPECT_LOAD_FAILS(ag_idx_load_images(write_file("long", longer, n + 1), &out_),
                      "1 bytes of trailing garbage after the data of dims [2, 2, 3] of uint8");
    /* Bad magic: not starting with two zeros (a PNG), an unknown type, zero dims. */
    EXPECT_LOAD_FAILS(ag_idx_load(write_file("png", "\x89PNG\r\n\x1a\n", 8), &out_),
                      "not an IDX file: bad magic number 0x89504e47");
    buf[2] = 0x0A;
    EXPECT_LOAD_FAILS(ag_idx_load(write_file("type", buf, n), &out_),
                      "bad magic number 0x00000a03");
    n = idx_image(buf, 0x00000800, NULL, 0, NULL, 0);
    EXPECT_LOAD_FAILS(ag_idx_load(write_file("zero_dims", buf, n), &out_),
                      "bad magic number 0x00000800");
    /* More dims than a tensor holds. */
    n = idx_image(buf, 0x00000809, (const uint32_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, 9, "x", 1);
    EXPECT_LOAD_FAILS(ag_idx_load(write_file("nine_dims", buf, n), &out_),
                      "the file has 9 dims; a tensor has at most 8");
}

Test(data, idx_huge_dims_fail_before_allocating, .fini = tmp_cleanup) {
    unsigned char buf[256];
    /* More elements than int64 counts. */
    size_t n = idx_image(buf, 0x00000803, (const uint32_t[]){0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, 3,
                         pixels, 12);
    EXPECT_LOAD_FAILS(ag_idx_load_images(write_file("absurd", buf, n), &out_),
                      "absurd dims [4294967295, 4294967295, 4294967295]");
    /* 60000 MNIST images promised by a 28-byte file: refused from the file's size. */
    n = idx_image(buf, 0x00000803, (const uint32_t[]){60000, 28, 28}, 3, pixels, 12);
    EXPECT_LOAD_FAILS(ag_idx_load_images(write_file("promise", buf, n), &out_),
                      "need 47040000 bytes of data, the file holds 12");
    /* ... and by a gzip file: more than deflate can inflate to. */
    n = idx_image(buf, 0x00000803, (const uint32_t[]){4000000, 1000, 1000}, 3, pixels, 12);
    EXPECT_LOAD_FAILS(ag_idx_load_images(write_gz("promise.gz", buf, n), &out_),
                      "more than a gzip file of");
}

Test(data, idx_gzip, .fini = tmp_cleanup) {
    unsigned char buf[256];
    size_t n = idx_image(buf, 0x00000803, (const uint32_t[]){2, 2, 3}, 3, pixels, 12);
    const char *gz = write_gz("images-idx3-ubyte.gz", buf, n);
    ag_tensor *x;
    cr_assert_eq(ag_idx_load_images(gz, &x), 0, "%s", ag_last_error());
    ASSERT_SHAPE(x, 2, 2, 3);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(AG_F32(x)[i], (float)pixels[i] / 255.0f);
    ag_tensor_free(x);

    /* Compressed, then cut short: in the middle of the stream, and before the CRC. */
    size_t len;
    unsigned char *whole = read_whole(gz, &len);
    unsigned char copy[1 << 16];
    memcpy(copy, whole, len);
    EXPECT_LOAD_FAILS(ag_idx_load_images(write_file("half.gz", copy, len / 2), &out_), "");
    cr_assert_neq(ag_last_error()[0], 0);
    EXPECT_LOAD_FAILS(ag_idx_load_images(write_file("no_crc.gz", copy, len - 8), &out_), "");
    cr_assert_neq(ag_last_error()[0], 0);
    /* A wrong CRC (the trailer's first byte flipped). */
    copy[len - 8] ^= 0xFF;
    EXPECT_LOAD_FAILS(ag_idx_load_images(write_file("bad_crc.gz", copy, len), &out_),
                      "corrupt or truncated gzip data: incorrect data check");
    /* Decompressed data too short or too long. */
    EXPECT_LOAD_FAILS(
        ag_idx_load_images(write_gz("short.gz", buf, n - 1), &out_),
        "truncated: dims [2, 2, 3] of uint8 need 12 bytes of data, the file holds 11");
    unsigned char longer[256];
    memcpy(longer, buf, n);
    longer[n] = 0;
    EXPECT_LOAD_FAILS(ag_idx_load_images(write_gz("long.gz", longer, n + 1), &out_),
                      "trailing garbage after the data of dims [2, 2, 3] of uint8");
}

Test(data, idx_file_problems_never_call_the_handler, .fini = tmp_cleanup) {
    /* The suite's handler fails any test it is called in: these only return -1. */
    EXPECT_LOAD_FAILS(ag_idx_load("/nonexistent/t10k-images-idx3-ubyte", &out_),
                      "ag_idx_load: /nonexistent/t10k-images-idx3-ubyte: cannot open the file: "
                      "No such file or directory");
    EXPECT_LOAD_FAILS(ag_idx_load_labels("/tmp", &out_), "/tmp: it is a directory");
    EXPECT_LOAD_FAILS(ag_idx_load(NULL, &out_), "argument 'path' must not be NULL");
    cr_assert_eq(ag_idx_load_images("/tmp", NULL), -1);
    cr_assert(strstr(ag_last_error(), "argument 'out' must not be NULL"));
}

/* The first label of a labels file, read here independently: byte 8 of the decompressed
 * stream (after the magic and the one dim). */
static int first_label(const char *path) {
    gzFile gz = gzopen(path, "rb");
    cr_assert_not_null(gz);
    unsigned char head[9];
    cr_assert_eq(gzread(gz, head, 9), 9);
    gzclose(gz);
    return head[8];
}

Test(data, fashion_mnist_test_set) {
    const char *dir = ag_fashion_mnist_dir();
    if (!dir)
        cr_skip_test("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    char images[512], labels[512];
    snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte.gz", dir);
    ag_tensor *x, *y;
    cr_assert_eq(ag_idx_load_images(images, &x), 0, "%s", ag_last_error());
    cr_assert_eq(ag_idx_load_labels(labels, &y), 0, "%s", ag_last_error());
    ASSERT_SHAPE(x, 10000, 28, 28);
    ASSERT_SHAPE(y, 10000);
    cr_assert_eq(AG_I64(y)[0], first_label(labels));
    cr_assert_eq(AG_I64(y)[0], 9); /* the first test image is an ankle boot */
    /* Ten classes, a thousand each; pixels in [0, 1] with both ends reached. */
    int64_t count[10] = {0};
    for (int64_t i = 0; i < 10000; i++) {
        cr_assert(AG_I64(y)[i] >= 0 && AG_I64(y)[i] < 10);
        count[AG_I64(y)[i]]++;
    }
    for (int c = 0; c < 10; c++)
        cr_assert_eq(count[c], 1000, "class %d", c);
    float lo = 1, hi = 0;
    for (int64_t i = 0; i < x->numel; i++) {
        lo = fminf(lo, AG_F32(x)[i]);
        hi = fmaxf(hi, AG_F32(x)[i]);
    }
    cr_assert_eq(lo, 0.0f);
    cr_assert_eq(hi, 1.0f);
    ag_tensor_free(x), ag_tensor_free(y);
}

/* ---------------------------------------------------------------------------------------- */
/* uint8: images kept as bytes (torchvision's dataset.data), converted batch by batch         */
/* ---------------------------------------------------------------------------------------- */

Test(data, idx_uint8_keeps_the_bytes, .fini = tmp_cleanup) {
    /* Every byte value once, as 4 images of 8 x 8, plain and gzipped. */
    unsigned char every[256], buf[512];
    for (int v = 0; v < 256; v++)
        every[v] = (unsigned char)(255 - v);
    size_t n = idx_image(buf, 0x00000803, (const uint32_t[]){4, 8, 8}, 3, every, 256);
    const char *paths[] = {write_file("bytes-idx3-ubyte", buf, n),
                           write_gz("bytes-idx3-ubyte.gz", buf, n)};
    for (int k = 0; k < 2; k++) {
        ag_tensor *x, *f;
        cr_assert_eq(ag_idx_load_uint8(paths[k], &x), 0, "%s", ag_last_error());
        cr_assert_eq(x->dtype, AG_UINT8);
        ASSERT_SHAPE(x, 4, 8, 8);
        cr_assert(memcmp(x->data, every, 256) == 0);
        /* ToTensor() on the bytes, x.to(torch.float32).div(255), is what ag_idx_load_images
         * gives, bit for bit */
        cr_assert_eq(ag_idx_load_images(paths[k], &f), 0, "%s", ag_last_error());
        ag_tensor *g = ag_div_scalar(ag_to(x, AG_FLOAT32), 255.0);
        cr_assert_eq(g->dtype, AG_FLOAT32);
        ASSERT_SHAPE(g, 4, 8, 8);
        cr_assert(memcmp(g->data, f->data, 256 * sizeof(float)) == 0);
        ag_tensor_free(x), ag_tensor_free(f);
        ag_tape_reset(NULL);
    }
    /* Any file of unsigned bytes (labels too); any other element type is refused. */
    n = idx_image(buf, 0x00000801, (const uint32_t[]){5}, 1,
                  (const unsigned char[]){9, 0, 3, 255, 7}, 5);
    ag_tensor *y;
    cr_assert_eq(ag_idx_load_uint8(write_file("labels", buf, n), &y), 0, "%s", ag_last_error());
    cr_assert_eq(y->dtype, AG_UINT8);
    ASSERT_VALUES(y, 0, 0, 9, 0, 3, 255, 7);
    ag_tensor_free(y);
    n = idx_image(buf, 0x00000D01, (const uint32_t[]){1}, 1,
                  (const unsigned char[]){0x3F, 0xC0, 0, 0}, 4);
    EXPECT_LOAD_FAILS(ag_idx_load_uint8(write_file("f32", buf, n), &out_),
                      "ag_idx_load_uint8: ");
    cr_assert(strstr(ag_last_error(), "the elements are float32 (magic 0x00000d01), not unsigned "
                                      "bytes (type 08)"),
              "%s", ag_last_error());
    n = idx_image(buf, 0x00000803, (const uint32_t[]){2, 2, 3}, 3, pixels, 12);
    EXPECT_LOAD_FAILS(
        ag_idx_load_uint8(write_file("short", buf, n - 2), &out_),
        "truncated: dims [2, 2, 3] of uint8 need 12 bytes of data, the file holds 10");
    EXPECT_LOAD_FAILS(ag_idx_load_uint8(NULL, &out_), "argument 'path' must not be NULL");
}

Test(data, loader_batches_bytes_as_bytes) {
    /* x: (10, 3) uint8 with x[i] = (i, 100 + i, 250 + i mod 256), shuffled */
    uint8_t xs[30];
    for (int i = 0; i < 10; i++) {
        xs[3 * i] = (uint8_t)i;
        xs[3 * i + 1] = (uint8_t)(100 + i);
        xs[3 * i + 2] = (uint8_t)(250 + i);
    }
    ag_tensor *x = ag_from_data(xs, AG_UINT8, AG_SHAPE(10, 3));
    ag_manual_seed(0);
    ag_data_loader *loader = ag_data_loader_new(
        &x, 1, (ag_data_loader_options){.batch_size = 4, .shuffle = true});
    ag_tensor *batch;
    int64_t seen = 0;
    bool hit[10] = {false};
    while (ag_data_loader_next(loader, &batch)) {
        cr_assert_eq(batch->dtype, AG_UINT8);
        cr_assert_eq(batch->ndim, 2);
        cr_assert_eq(batch->shape[1], 3);
        for (int64_t r = 0; r < batch->shape[0]; r++) {
            int i = AG_U8(batch)[3 * r];
            cr_assert(i < 10 && !hit[i], "sample %d", i);
            hit[i] = true;
            cr_assert_eq(AG_U8(batch)[3 * r + 1], (uint8_t)(100 + i));
            cr_assert_eq(AG_U8(batch)[3 * r + 2], (uint8_t)(250 + i));
        }
        seen += batch->shape[0];
        ag_tape_reset(NULL);
    }
    cr_assert_eq(seen, 10);
    ag_data_loader_free(loader);
    ag_tensor_free(x);
}

Test(data, fashion_mnist_as_bytes) {
    const char *dir = ag_fashion_mnist_dir();
    if (!dir)
        cr_skip_test("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    char images[512];
    snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte.gz", dir);
    ag_tensor *x, *f;
    cr_assert_eq(ag_idx_load_uint8(images, &x), 0, "%s", ag_last_error());
    cr_assert_eq(ag_idx_load_images(images, &f), 0, "%s", ag_last_error());
    cr_assert_eq(x->dtype, AG_UINT8);
    ASSERT_SHAPE(x, 10000, 28, 28);
    /* the 10000 images through ToTensor, 1000 at a time, are ag_idx_load_images' floats */
    for (int64_t b = 0; b < 10; b++) {
        ag_tensor *g = ag_div_scalar(ag_to(ag_slice(x, 0, 1000 * b, 1000 * (b + 1), 1),
                                           AG_FLOAT32), 255.0);
        cr_assert(memcmp(g->data, AG_F32(f) + b * 1000 * 784, 1000 * 784 * sizeof(float)) == 0,
                  "batch %lld", (long long)b);
        ag_tape_reset(NULL);
    }
    ag_tensor_free(x), ag_tensor_free(f);
}
