/*
 * data.h - feeding a training loop: a mini-batch loader over tensors, and a reader for the
 * IDX files of the MNIST family (MNIST, Fashion-MNIST).
 *
 * An epoch loop over Fashion-MNIST, next to the PyTorch lines it stands for:
 *
 *     ag_tensor *x, *y;                                   // torchvision's FashionMNIST, as
 *     const char *dir = ag_fashion_mnist_dir();           // tensors: x (N,28,28) in [0,1],
 *     char path[512];                                     //          y (N) int64
 *     snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
 *     if (!dir || ag_idx_load_images(path, &x) < 0) { puts(ag_last_error()); return 1; }
 *     ...  (or ag_idx_load_uint8: x as bytes, as .data is, each batch converted: see below)
 *     ...  (ag_idx_load_labels for y: "train-labels-idx1-ubyte.gz")
 *     ag_tensor *data[] = {x, y};                         // ds = TensorDataset(x, y)
 *     ag_data_loader *loader = ag_data_loader_new(data, 2,
 *         (ag_data_loader_options){.batch_size = 64, .shuffle = true});
 *     for (int epoch = 0; epoch < 10; epoch++) {          // loader = DataLoader(ds, 64,
 *         ag_tensor *batch[2];                            //                     shuffle=True)
 *         while (ag_data_loader_next(loader, batch)) {    // for xb, yb in loader:
 *             ag_tensor *loss = ag_cross_entropy(model(batch[0]), batch[1]);
 *             ...backward, step, zero_grad...
 *             ag_tape_reset(NULL);                        // releases the batch too
 *         }
 *     }
 *     ag_data_loader_free(loader);
 *     ag_tensor_free(x); ag_tensor_free(y);
 *
 * Fashion-MNIST is packaged by Debian: `sudo apt-get install dataset-fashion-mnist` puts the
 * four gzipped IDX files in /usr/share/datasets/fashion-mnist, which ag_fashion_mnist_dir()
 * returns. Nothing here downloads anything.
 *
 * Errors: the loader's functions report misuse (NULL, shapes) through the error handler, as
 * every in-memory function of the library does. The IDX readers touch files: they return 0,
 * or -1 with the reason in ag_last_error() (naming the file and what is wrong with it); they
 * never call the error handler and never abort, whatever the file holds.
 */
#ifndef AG_DATA_H
#define AG_DATA_H

#include "autograd/autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* Mini-batches: torch.utils.data.DataLoader(TensorDataset(*tensors), ...)                   */
/* ---------------------------------------------------------------------------------------- */

typedef struct ag_data_loader ag_data_loader; /* opaque */

/* DataLoader's arguments. A zeroed struct is torch's defaults: batch_size 0 means 1. */
typedef struct ag_data_loader_options {
    int64_t batch_size;      /* samples per batch; 0 means torch's default, 1 */
    bool shuffle;            /* a fresh random order every epoch (RandomSampler) */
    bool drop_last;          /* drop the last batch when it is smaller than batch_size */
    ag_generator *generator; /* the random stream; NULL: the default generator */
} ag_data_loader_options;

/*
 * A loader over n tensors that share their first dim N (the samples): sample i is
 * (tensors[0][i], ..., tensors[n-1][i]), as TensorDataset. The tensors are borrowed, not
 * copied: they must outlive the loader, and a batch reads their values when it is made.
 * Returns a loader owned by the caller (ag_data_loader_free), or NULL after reporting
 * "Size mismatch between tensors" (or a NULL, 0-d or bad batch_size argument).
 */
ag_data_loader *ag_data_loader_new(ag_tensor *const *tensors, int n, ag_data_loader_options opts);
void ag_data_loader_free(ag_data_loader *loader); /* NULL is a no-op; the tensors stay yours */

/*
 * Begins an epoch (as `iter(loader)`), abandoning the one in progress. It draws exactly what
 * torch's iterator draws, so that after the same seed the batches hold the same samples:
 * one int64 random_() (the worker base seed torch always draws, even without shuffle), then,
 * with shuffle, a fresh randperm(N): from opts.generator when given; else, as RandomSampler
 * without a generator, a seed drawn by random_() from the default generator and randperm(N)
 * from a new generator seeded with it. ag_data_loader_next() calls it for you when no epoch
 * is in progress. Torch draws one more thing: when an epoch runs out, RandomSampler's last
 * line evaluates a whole randperm(N) and yields none of it; with opts.generator that
 * advances the generator, and ag_data_loader_next() draws it too, at the end of the epoch.
 * (Torch makes the permutation at the first batch rather than at iter(), and that extra one
 * at the last batch or the end: the same numbers unless you draw from the generator between.)
 */
void ag_data_loader_reset(ag_data_loader *loader);

/*
 * The next batch of the epoch: fills batch[0..n-1] with the rows of each tensor at the
 * epoch's next batch_size indices (the last batch may be smaller unless drop_last), each of
 * shape (B, ...the tensor's other dims) and the tensor's dtype, contiguous, and returns true.
 * The batches are tape-owned results, as an op's: ag_tape_reset() releases them, and the
 * loop frees nothing. A tensor that requires grad gives a batch recorded as index_select
 * (IndexSelectBackward0; torch's collate gives StackBackward0: the same gradient).
 * At the end of the epoch returns false and leaves batch alone; the next call begins a new
 * epoch. So `while (ag_data_loader_next(loader, batch))` is one epoch, and repeating that
 * loop runs epoch after epoch, each reshuffled. False too after reporting an error.
 */
bool ag_data_loader_next(ag_data_loader *loader, ag_tensor **batch);

/*
 * The loader's place, for a checkpoint that resumes mid-epoch with the same batches (torch's
 * DataLoader keeps none; torchdata's StatefulDataLoader does): adds to sd, each name after
 * prefix (NULL: ""), new int64 tensors that sd owns:
 *     order       [N]   the epoch's sample order (the permutation the batches are cut from)
 *     pos         0-d   the next index into order; -1 when no epoch is in progress
 *     past_end    0-d   1 once the epoch reached its end (and drew torch's extra randperm)
 *     num_samples, batch_size, shuffle, drop_last   0-d, to check the loader it goes back to
 *     generator   [629] the state of opts.generator, when the loader has one of its own
 *                       (ag_generator_get_state); a loader drawing from the default generator
 *                       has none here: save that one with the checkpoint (checkpoint.h)
 * These three judge data that usually comes from a file, so they report as the file loaders
 * do: 0, or -1 with ag_last_error() (never the error handler). Saving fails on a name sd
 * already holds. Loading checks everything before it changes anything: the same num_samples,
 * batch_size, shuffle and drop_last as this loader (make it over the same tensors with the same
 * options), a position in [-1, N], an order that is a permutation of 0..N-1, a generator state
 * exactly when this loader has a generator of its own (it is then set to it), no unexpected
 * key under the prefix. ag_data_loader_check_state_dict judges without loading.
 */
int ag_data_loader_state_dict(const ag_data_loader *loader, ag_state_dict *sd, const char *prefix);
int ag_data_loader_load_state_dict(ag_data_loader *loader, const ag_state_dict *sd,
                                   const char *prefix);
int ag_data_loader_check_state_dict(const ag_data_loader *loader, const ag_state_dict *sd,
                                    const char *prefix);

/* len(loader): batches in an epoch, ceil(N / B), or floor(N / B) with drop_last. */
int64_t ag_data_loader_len(const ag_data_loader *loader);
/* len(dataset): N, the number of samples. */
int64_t ag_data_loader_num_samples(const ag_data_loader *loader);

/* ---------------------------------------------------------------------------------------- */
/* IDX files (the MNIST family)                                                              */
/* ---------------------------------------------------------------------------------------- */

/*
 * The IDX format, as on yann.lecun.com/exdb/mnist: all integers big-endian.
 *
 *     4 bytes   magic: 0x00, 0x00, the element type, the number of dims D
 *               type 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
 *               0x0E float64
 *     4*D bytes the dims, each an unsigned 32-bit integer
 *     the rest  the elements, row-major, exactly the product of the dims of them
 *
 * MNIST's images are 0x00000803 (uint8, 3 dims: N, rows, cols), its labels 0x00000801 (uint8,
 * 1 dim: N). A file may be gzipped (Debian ships them so): it is decompressed as it is read,
 * in small chunks straight into the tensor, never whole in memory.
 *
 * Each function sets *out to a new tensor owned by the caller and returns 0; or sets *out to
 * NULL and returns -1 with ag_last_error() saying why: the file cannot be opened or is not
 * a regular file, is not IDX (bad magic), has more than AG_MAX_DIMS dims, promises more data
 * than the file can hold, is truncated, has bytes after its data, or is corrupt gzip.
 */

/* Any IDX file, its values unchanged: float32, except int32 and float64 elements, which are
 * read as float64 (the only dtype that holds every one of them exactly). Shape: the dims.
 * (Kept so for compatibility: to keep unsigned bytes as bytes, use ag_idx_load_uint8.) */
int ag_idx_load(const char *path, ag_tensor **out);

/* An IDX file of unsigned bytes (type 0x08: MNIST's images and labels), as a uint8 tensor of
 * its dims holding the file's bytes: torchvision's MNIST(...).data, a quarter of the memory of
 * float32. A batch becomes ToTensor()'s float32 v / 255, bit for bit, with
 *     ag_div_scalar(ag_to(batch, AG_FLOAT32), 255.0)     // xb.to(torch.float32).div(255)
 * (examples/fashion_mnist.c keeps its images so). Another element type is an error. */
int ag_idx_load_uint8(const char *path, ag_tensor **out);

/* Images (magic 0x00000803): float32 (N, rows, cols), each byte v as v / 255 in float32, as
 * torchvision's ToTensor() gives: the numbers ag_idx_load_uint8 and that conversion give,
 * made all at once (four times the memory). */
int ag_idx_load_images(const char *path, ag_tensor **out);

/* Labels (magic 0x00000801): int64 (N), for cross_entropy / nll_loss targets. */
int ag_idx_load_labels(const char *path, ag_tensor **out);

/* "/usr/share/datasets/fashion-mnist" when Debian's dataset-fashion-mnist is installed (its
 * t10k-images-idx3-ubyte.gz is readable there), else NULL. To install it:
 *     sudo apt-get install dataset-fashion-mnist
 * The files: {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (60000 and 10000 samples). */
const char *ag_fashion_mnist_dir(void);

/* Each loader function that can report an error first records the caller's file:line. */
#ifndef AG_BUILDING_LIBRARY
#define ag_data_loader_new(...) AG_AT_(ag_data_loader_new(__VA_ARGS__))
#define ag_data_loader_reset(...) AG_AT_(ag_data_loader_reset(__VA_ARGS__))
#define ag_data_loader_next(...) AG_AT_(ag_data_loader_next(__VA_ARGS__))
#define ag_data_loader_len(...) AG_AT_(ag_data_loader_len(__VA_ARGS__))
#define ag_data_loader_num_samples(...) AG_AT_(ag_data_loader_num_samples(__VA_ARGS__))
#endif

#ifdef __cplusplus
}
#endif

#endif
