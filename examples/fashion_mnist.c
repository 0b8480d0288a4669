/*
 * fashion_mnist.c - a real network trained on Fashion-MNIST, as a PyTorch user would write it.
 *
 *     build/examples/fashion_mnist [--cnn] [--epochs N] [--batch B] [--lr LR] [--seed S]
 *                                  [--limit N] [--csv FILE] [--png FILE]
 *                                  [--checkpoint FILE] [--resume FILE]
 *
 * The default model is the MLP 784-256-10 with a ReLU; --cnn trains a small convnet instead:
 * conv 1->32 3x3, ReLU, max-pool 2, conv 32->64 3x3, ReLU, max-pool 2, flatten, linear -> 10.
 * Both learn with SGD (lr 0.1 or --lr, momentum 0.9) on cross_entropy, in mini-batches of B (64)
 * drawn in a fresh random order each epoch; after each epoch the model is switched to eval
 * mode and scored on the 10000 test images with grad mode off.
 *
 * bench/torch/fashion_mnist.py is the same program in PyTorch, line for line, with the same
 * options. After the same --seed the two start from the same weights (nn.Linear and nn.Conv2d
 * initialise as torch does, draw for draw) and see the batches in the same order (the
 * DataLoader draws torch's shuffle): the curves differ only by the rounding of each side's
 * kernels.
 *
 * Output: on a terminal, a progress bar (epoch, items/s, loss, ETA) redrawn in place; else one
 * line per epoch. --csv writes the metrics (epoch, train_loss, test_loss, test_acc, seconds:
 * the epoch's training time, without the evaluation), --png draws the loss and accuracy curves
 * with gnuplot (Debian's gnuplot-nox) when it is installed. --limit N trains on the first N
 * samples only, for quick runs. The last line reads "time: <median s/epoch> ...", which
 * bench/run.sh picks up.
 *
 * --checkpoint FILE saves, after each epoch, all that training needs to go on (the weights
 * under torch's Sequential names, "1.weight", ...; the momentum buffers; the random stream;
 * the loader's state; the epoch) to FILE, atomically (autograd/checkpoint.h). --resume FILE
 * loads such a file and trains the epochs that are left up to --epochs: the run goes on bit
 * for bit as if it had never stopped (the CSV and PNG then cover the epochs of this run).
 *
 * The data is Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist); when it is
 * missing the program installs it if it runs as root, and otherwise prints the command.
 */
#define _POSIX_C_SOURCE 200809L
#include "autograd/autograd.h"
#include "autograd/checkpoint.h"
#include "autograd/data.h"
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_EPOCHS 1000

typedef struct options {
    bool cnn;
    int epochs;
    int64_t batch, limit;
    double lr;
    uint64_t seed;
    const char *csv, *png, *checkpoint, *resume;
} options;

/* What one epoch measured. */
typedef struct metrics {
    double train_loss, test_loss, test_acc, seconds;
} metrics;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int usage(const char *prog) {
    fprintf(stderr,
            "usage: %s [--cnn] [--epochs N] [--batch B] [--lr LR] [--seed S] [--limit N]"
            " [--csv FILE] [--png FILE] [--checkpoint FILE] [--resume FILE]\n",
            prog);
    return 2;
}

static int parse_options(int argc, char **argv, options *o) {
    *o = (options){.epochs = 5, .batch = 64, .lr = 0.1, .seed = 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--cnn")) {
            o->cnn = true;
            continue;
        }
        if (!v) return -1;
        i++;
        if (!strcmp(a, "--epochs")) o->epochs = atoi(v);
        else if (!strcmp(a, "--batch")) o->batch = atoll(v);
        else if (!strcmp(a, "--lr")) o->lr = atof(v);
        else if (!strcmp(a, "--seed")) o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--limit")) o->limit = atoll(v);
        else if (!strcmp(a, "--csv")) o->csv = v;
        else if (!strcmp(a, "--png")) o->png = v;
        else if (!strcmp(a, "--checkpoint")) o->checkpoint = v;
        else if (!strcmp(a, "--resume")) o->resume = v;
        else return -1;
    }
    if (o->epochs <= 0 || o->epochs > MAX_EPOCHS || o->batch <= 0 || o->limit < 0 || !(o->lr > 0))
        return -1;
    return 0;
}

/* ---- data ----------------------------------------------------------------------------------- */

/* The directory of Debian's dataset-fashion-mnist, installing the package as root if needed. */
static const char *dataset_dir(void) {
    const char *dir = ag_fashion_mnist_dir();
    if (dir) return dir;
    if (geteuid() == 0) {
        fprintf(stderr, "fashion_mnist: installing Debian's dataset-fashion-mnist\n");
        if (system("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist"
                   " >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive"
                   " apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; }") == 0)
            dir = ag_fashion_mnist_dir();
    }
    if (!dir)
        fprintf(stderr, "fashion_mnist: Fashion-MNIST is not installed; install it with\n"
                        "    sudo apt-get install dataset-fashion-mnist\n");
    return dir;
}

/* x (N, 28, 28) uint8 and y (N) int64 from "<dir>/<split>-...-ubyte.gz": the images stay
 * bytes, as torchvision's dataset.data (47 MB for the 60000, not 188 MB as float32); each
 * batch becomes float32 in [0, 1] on its way into the model (to_input). */
static int load_split(const char *dir, const char *split, ag_tensor **x, ag_tensor **y) {
    char path[1024];
    *x = *y = NULL;
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, split);
    if (ag_idx_load_uint8(path, x) == 0) {
        snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, split);
        if (ag_idx_load_labels(path, y) == 0) return 0;
    }
    fprintf(stderr, "fashion_mnist: %s\n", ag_last_error());
    ag_tensor_free(*x);
    return -1;
}

/* The first n rows of t, as a new tensor of your own (t is freed). */
static ag_tensor *first_rows(ag_tensor *t, int64_t n) {
    if (n <= 0 || n >= t->shape[0]) return t;
    int64_t shape[AG_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = n;
    ag_tensor *head = ag_from_data(t->data, t->dtype, t->ndim, shape);
    ag_tensor_free(t);
    return head;
}

/* ---- the models ------------------------------------------------------------------------------ */

/* The modules are made one statement at a time: the order in which they draw their initial
 * weights is torch's order (an initializer list would leave it to the compiler). */
static ag_sequential *make_mlp(void) {
    ag_module *m[4];
    m[0] = ag_flatten_module(1, -1);        /* nn.Flatten() */
    m[1] = ag_linear_module(784, 256, true, NULL); /* nn.Linear(784, 256) */
    m[2] = ag_relu_module();                /* nn.ReLU() */
    m[3] = ag_linear_module(256, 10, true, NULL);  /* nn.Linear(256, 10) */
    return ag_sequential_new(4, m);
}

static ag_sequential *make_cnn(void) {
    ag_module *m[8];
    m[0] = ag_conv2d_module(1, 32, AG_PAIR(3), AG_PAIR(1), AG_PAIR(0), true, NULL);
    m[1] = ag_relu_module();
    m[2] = ag_max_pool2d_module(AG_PAIR(2), AG_PAIR(0), AG_PAIR(0)); /* nn.MaxPool2d(2) */
    m[3] = ag_conv2d_module(32, 64, AG_PAIR(3), AG_PAIR(1), AG_PAIR(0), true, NULL);
    m[4] = ag_relu_module();
    m[5] = ag_max_pool2d_module(AG_PAIR(2), AG_PAIR(0), AG_PAIR(0));
    m[6] = ag_flatten_module(1, -1);
    m[7] = ag_linear_module(64 * 5 * 5, 10, true, NULL); /* 28 -> 26 -> 13 -> 11 -> 5 */
    return ag_sequential_new(8, m);
}

/* A batch of bytes as the model's input, torchvision's ToTensor(): float32 v / 255, the same
 * numbers as ag_idx_load_images gives (one division, rounded once). */
static ag_tensor *to_input(ag_tensor *bytes) {
    return ag_div_scalar(ag_to(bytes, AG_FLOAT32), 255.0); /* x.to(torch.float32).div(255) */
}

/* model(x) for a batch x (B, 28, 28) of bytes: the convnet sees it as (B, 1, 28, 28). */
static ag_tensor *forward(ag_sequential *model, bool cnn, ag_tensor *x) {
    x = to_input(x);
    return ag_sequential_forward(model, cnn ? ag_unsqueeze(x, 1) : x);
}

/* The model's parameters under torch's names: "<module index>.weight" and ".bias", as
 * model.state_dict() names them in an nn.Sequential. The tensors are borrowed. */
static ag_state_dict *model_state_dict(ag_sequential *model) {
    ag_state_dict *sd = ag_state_dict_new();
    for (int i = 0; sd && i < model->n; i++) {
        ag_tensor *p[2];
        int n = ag_module_parameters(model->modules[i], NULL);
        if (n == 0) continue;
        ag_module_parameters(model->modules[i], p); /* weight, then bias: layers hold two */
        for (int k = 0; k < n && k < 2; k++) {
            char name[32];
            snprintf(name, sizeof name, "%d.%s", i, k ? "bias" : "weight");
            ag_state_dict_add(sd, name, p[k]);
        }
    }
    return sd;
}

/* ---- progress -------------------------------------------------------------------------------- */

typedef struct progress {
    bool tty;
    int epoch, epochs;
    int64_t total, done;
    double start, last_draw;
} progress;

static void progress_draw(progress *p, double loss, bool final) {
    double t = now();
    if (!p->tty || (!final && t - p->last_draw < 0.1)) return;
    p->last_draw = t;
    double elapsed = t - p->start, rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    double eta = rate > 0 ? (double)(p->total - p->done) / rate : 0;
    enum { WIDTH = 30 };
    char bar[WIDTH + 1];
    int filled = p->total ? (int)(WIDTH * p->done / p->total) : WIDTH;
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    printf("\repoch %d/%d [%s] %3d%% %7.0f items/s  loss %.4f  ETA %3.0fs ", p->epoch,
           p->epochs, bar, p->total ? (int)(100 * p->done / p->total) : 100, rate, loss, eta);
    fflush(stdout);
}

/* ---- train and evaluate ---------------------------------------------------------------------- */

/* One epoch of SGD over the loader; returns the mean training loss. */
static double train_epoch(ag_sequential *model, bool cnn, ag_optimizer *opt,
                          ag_data_loader *loader, progress *p) {
    double loss_sum = 0;
    int64_t seen = 0;
    ag_tensor *batch[2];
    ag_sequential_train(model, true);                      /* model.train() */
    while (ag_data_loader_next(loader, batch)) {           /* for x, y in train_loader: */
        ag_optimizer_zero_grad(opt, false);                /*     opt.zero_grad() */
        ag_tensor *logits = forward(model, cnn, batch[0]); /*     logits = model(x) */
        ag_tensor *loss = ag_cross_entropy(logits, batch[1], AG_REDUCTION_MEAN);
        ag_backward(loss);                                 /*     loss.backward() */
        ag_optimizer_step(opt);                            /*     opt.step() */
        int64_t b = batch[0]->shape[0];
        loss_sum += ag_item(loss) * (double)b;
        seen += b;
        p->done = seen;
        progress_draw(p, loss_sum / (double)seen, false);
        ag_tape_reset(NULL);
    }
    progress_draw(p, seen ? loss_sum / (double)seen : 0, true);
    return seen ? loss_sum / (double)seen : NAN;
}

/* The mean loss and the accuracy (in %) on the loader's samples, in eval mode with no grad. */
static void evaluate(ag_sequential *model, bool cnn, ag_data_loader *loader, double *loss,
                     double *acc) {
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    ag_tensor *batch[2];
    ag_sequential_train(model, false); /* model.eval() */
    bool prev = ag_set_grad_enabled(false); /* with torch.no_grad(): */
    while (ag_data_loader_next(loader, batch)) {
        ag_tensor *logits = forward(model, cnn, batch[0]);
        loss_sum += ag_item(ag_cross_entropy(logits, batch[1], AG_REDUCTION_SUM));
        ag_tensor *pred = ag_argmax_dim(logits, 1, false); /* logits.argmax(1) */
        for (int64_t i = 0; i < pred->numel; i++)
            correct += AG_I64(pred)[i] == AG_I64(batch[1])[i];
        seen += pred->numel;
        ag_tape_reset(NULL);
    }
    ag_set_grad_enabled(prev);
    *loss = seen ? loss_sum / (double)seen : NAN;
    *acc = seen ? 100.0 * (double)correct / (double)seen : NAN;
}

/* ---- reports --------------------------------------------------------------------------------- */

/* m[0..n-1] are the metrics of epochs first+1 .. first+n. */
static int write_csv(const char *path, const metrics *m, int first, int n) {
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    fprintf(f, "epoch,train_loss,test_loss,test_acc,seconds\n");
    for (int e = 0; e < n; e++)
        fprintf(f, "%d,%.6f,%.6f,%.2f,%.3f\n", first + e + 1, m[e].train_loss, m[e].test_loss,
                m[e].test_acc, m[e].seconds);
    return fclose(f);
}

/* The loss curves (left) and the test accuracy (right), drawn by gnuplot into a PNG. */
static int write_png(const char *path, const char *title, const metrics *m, int first, int n) {
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fprintf(stderr, "fashion_mnist: gnuplot is not installed (apt-get install gnuplot-nox):"
                        " no %s\n", path);
        return 0;
    }
    FILE *g = popen("gnuplot", "w");
    if (!g) {
        perror("gnuplot");
        return -1;
    }
    fprintf(g, "set terminal pngcairo size 1000,420 font ',10'\nset output '%s'\n", path);
    fprintf(g, "$m << EOD\n");
    for (int e = 0; e < n; e++)
        fprintf(g, "%d %.6f %.6f %.2f\n", first + e + 1, m[e].train_loss, m[e].test_loss,
                m[e].test_acc);
    fprintf(g, "EOD\nset multiplot layout 1,2 title '%s'\nset grid\nset xlabel 'epoch'\n"
               "set xtics 1\nset key top right\nset title 'cross-entropy loss'\n"
               "plot $m using 1:2 with linespoints title 'train', "
               "$m using 1:3 with linespoints title 'test'\n"
               "set title 'test accuracy (%%)'\nset key bottom right\n"
               "plot $m using 1:4 with linespoints title 'test accuracy'\nunset multiplot\n",
            title);
    return pclose(g) == 0 ? 0 : -1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Everything a run trains and reports with. */
typedef struct session {
    const options *o;
    ag_sequential *model;
    ag_optimizer *opt;
    ag_data_loader *train, *test;
    ag_state_dict *state; /* the model's tensors under torch's names, for checkpoints */
} session;

/* Trains epochs first+1 .. o->epochs (step: the steps already taken), then writes the
 * reports. Returns the exit status. */
static int train_and_report(const session *s, int64_t first, int64_t step) {
    const options *o = s->o;
    const char *name = o->cnn ? "CNN" : "MLP 784-256-10";
    int64_t n = ag_data_loader_num_samples(s->train);
    static metrics m[MAX_EPOCHS];
    progress p = {.tty = isatty(STDOUT_FILENO), .epochs = o->epochs, .total = n};
    int status = 0, ran = 0;
    for (int e = (int)first; e < o->epochs; e++, ran++) {
        p.epoch = e + 1, p.done = 0, p.start = p.last_draw = now();
        m[e].train_loss = train_epoch(s->model, o->cnn, s->opt, s->train, &p);
        m[e].seconds = now() - p.start;
        step += ag_data_loader_len(s->train);
        evaluate(s->model, o->cnn, s->test, &m[e].test_loss, &m[e].test_acc);
        printf("%sepoch %d/%d: train loss %.4f, test loss %.4f, test accuracy %.2f%%, %.2f s"
               " (%.0f items/s)\n",
               p.tty ? "\r\033[K" : "", e + 1, o->epochs, m[e].train_loss, m[e].test_loss,
               m[e].test_acc, m[e].seconds, (double)n / m[e].seconds);
        fflush(stdout);
        if (o->checkpoint && ag_checkpoint_save(o->checkpoint, s->state, s->opt, NULL, NULL,
                                                s->train, e + 1, step) < 0) {
            fprintf(stderr, "fashion_mnist: %s\n", ag_last_error());
            status = 1;
        }
    }
    if (o->csv && write_csv(o->csv, m + first, (int)first, ran) < 0) status = 1;
    if (o->png && write_png(o->png, name, m + first, (int)first, ran) < 0) status = 1;
    double secs[MAX_EPOCHS];
    for (int e = 0; e < ran; e++)
        secs[e] = m[first + e].seconds;
    qsort(secs, (size_t)ran, sizeof *secs, cmp_double);
    double median = ran % 2 ? secs[ran / 2] : 0.5 * (secs[ran / 2 - 1] + secs[ran / 2]);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("time: %.3f s/epoch (median of %d), final test accuracy %.2f%%, peak RSS %.1f MiB\n",
           median, ran, m[o->epochs - 1].test_acc, (double)ru.ru_maxrss / 1024.0);
    return status;
}

int main(int argc, char **argv) {
    options o;
    if (parse_options(argc, argv, &o) < 0) return usage(argv[0]);
    const char *dir = dataset_dir();
    if (!dir) return 1;
    ag_tensor *x, *y, *xt, *yt;
    if (load_split(dir, "train", &x, &y) < 0) return 1;
    if (load_split(dir, "t10k", &xt, &yt) < 0) {
        ag_tensor_free(x), ag_tensor_free(y);
        return 1;
    }
    x = first_rows(x, o.limit), y = first_rows(y, o.limit);

    ag_manual_seed(o.seed);                              /* torch.manual_seed(seed) */
    session s = {.o = &o, .model = o.cnn ? make_cnn() : make_mlp()};
    int nparams;
    ag_tensor *const *params = ag_sequential_parameters(s.model, &nparams);
    s.opt = ag_sgd(params, nparams, (ag_sgd_options){.lr = o.lr, .momentum = 0.9});
    s.train = ag_data_loader_new((ag_tensor *[]){x, y}, 2,
        (ag_data_loader_options){.batch_size = o.batch, .shuffle = true});
    s.test = ag_data_loader_new((ag_tensor *[]){xt, yt}, 2,
        (ag_data_loader_options){.batch_size = 1000});
    s.state = model_state_dict(s.model);
    printf("fashion_mnist: %s, %lld training and %lld test images, batch %lld, lr %g, seed %llu\n",
           o.cnn ? "CNN" : "MLP 784-256-10", (long long)x->shape[0], (long long)xt->shape[0],
           (long long)o.batch, o.lr, (unsigned long long)o.seed);

    int64_t first = 0, step = 0; /* the epochs done and steps taken before this run */
    int status = 0;
    if (o.resume &&
        ag_checkpoint_load(o.resume, s.state, s.opt, NULL, NULL, s.train, &first, &step) < 0) {
        fprintf(stderr, "fashion_mnist: %s\n", ag_last_error());
        status = 1;
    } else if (o.resume) {
        printf("fashion_mnist: resumed from %s after epoch %lld\n", o.resume, (long long)first);
    }
    if (status == 0 && first >= o.epochs)
        printf("fashion_mnist: %lld epochs done already: nothing to train (--epochs %d)\n",
               (long long)first, o.epochs);
    else if (status == 0)
        status = train_and_report(&s, first, step);

    ag_state_dict_free(s.state);
    ag_data_loader_free(s.train), ag_data_loader_free(s.test);
    ag_optimizer_free(s.opt);
    ag_sequential_free(s.model);
    ag_tensor_free(x), ag_tensor_free(y), ag_tensor_free(xt), ag_tensor_free(yt);
    return status;
}
