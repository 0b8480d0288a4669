/*
 * test_checkpoint.c - training checkpoints: a run resumed from a checkpoint ends bit for bit
 * where the uninterrupted run ends; a load that fails changes nothing; and the pieces under
 * them: state dict metadata, merge/select/take, optimizer and scheduler state dicts, generator
 * states, data loader states.
 *
 * The resume tests train a 3-4-1 MLP (matmul, relu, mse_loss) on 12 samples in shuffled
 * batches of 5 (three batches an epoch: 5, 5, 2), with noise drawn from the generator at every
 * step (randn of 10 or 15 elements: the cached-normal path). Run A trains K steps, saves, and
 * trains K more; run B is built afresh from other seeds (other initial weights, another
 * generator state), loads the checkpoint and trains K steps: every parameter and every
 * optimizer state tensor of B must equal A's to the bit (fingerprint and memcmp). K = 2, 3
 * and 4 stop before the epoch's short batch, after the epoch's last batch, and mid-epoch.
 *
 * Files live in a fresh mkdtemp directory that each test removes. The suite's error handler
 * fails a test on any error it did not expect: the checkpoint functions must never call it.
 */
#define _POSIX_C_SOURCE 200809L

#include "common.h"

#include "autograd/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>

AG_TEST_SUITE(checkpoint);

/* ---- a small training run ---------------------------------------------------------------------
 */

enum { N = 12, IN = 3, BATCH = 5 };

typedef enum opt_kind { SGD, ADAM, ADAM_AMSGRAD, ADAMW, RMSPROP, ADAGRAD } opt_kind;
typedef enum sched_kind {
    STEP_LR,
    MULTI_STEP_LR,
    COSINE_LR,
    ONE_CYCLE_LR,
    PLATEAU_LR,
    LINEAR_LR,
    EXPONENTIAL_LR,
} sched_kind;

typedef struct spec {
    opt_kind opt;
    sched_kind sched;
    ag_dtype dtype;
    bool default_generator; /* draw everything from the default generator (gen = NULL) */
} spec;

typedef struct run {
    spec s;
    int hidden;
    ag_generator *gen; /* NULL: the default generator */
    ag_tensor *x, *y;  /* the dataset: the same numbers in every run */
    ag_tensor *params[4];
    ag_state_dict *model;
    ag_optimizer *opt;
    ag_scheduler *sched;
    ag_data_loader *loader;
    int64_t epoch, step;
} run;

static ag_optimizer *make_optimizer(opt_kind kind, ag_tensor **p) {
    switch (kind) {
    case SGD:
        return ag_sgd(
            p, 4,
            (ag_sgd_options){.lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 1e-3});
    case ADAM: return ag_adam(p, 4, (ag_adam_options){.lr = 0.01, .weight_decay = 1e-3});
    case ADAM_AMSGRAD: return ag_adam(p, 4, (ag_adam_options){.lr = 0.01, .amsgrad = true});
    case ADAMW: return ag_adamw(p, 4, (ag_adamw_options){.lr = 0.01});
    case RMSPROP:
        return ag_rmsprop(p, 4,
                          (ag_rmsprop_options){
                              .lr = 0.01, .momentum = 0.5, .centered = true, .weight_decay = 1e-4});
    case ADAGRAD:
        return ag_adagrad(
            p, 4,
            (ag_adagrad_options){.lr = 0.1, .lr_decay = 0.01, .initial_accumulator_value = 0.1});
    }
    return NULL;
}

static ag_scheduler *make_scheduler(sched_kind kind, ag_optimizer *opt) {
    static const int milestones[] = {2, 5, 5};
    switch (kind) {
    case STEP_LR: return ag_step_lr(opt, (ag_step_lr_options){.step_size = 3, .gamma = 0.5});
    case MULTI_STEP_LR:
        return ag_multi_step_lr(
            opt, (ag_multi_step_lr_options){.milestones = milestones, .nmilestones = 3});
    case COSINE_LR:
        return ag_cosine_annealing_lr(opt, (ag_cosine_annealing_lr_options){.T_max = 5});
    case ONE_CYCLE_LR:
        return ag_one_cycle_lr(opt, (ag_one_cycle_lr_options){.max_lr = 0.02, .total_steps = 30});
    case PLATEAU_LR:
        return ag_reduce_lr_on_plateau(
            opt, (ag_reduce_lr_on_plateau_options){.factor = 0.5, .patience = 1, .cooldown = 1});
    case LINEAR_LR: return ag_linear_lr(opt, (ag_linear_lr_options){.total_iters = 4});
    case EXPONENTIAL_LR: return ag_exponential_lr(opt, (ag_exponential_lr_options){.gamma = 0.9});
    }
    return NULL;
}

/* The dataset: y = x w + noise, from its own generator, so that every run has the same. */
static void make_data(ag_dtype dtype, ag_tensor **x, ag_tensor **y) {
    ag_generator *g = ag_generator_new(1234);
    *x = ag_randn(g, dtype, AG_SHAPE(N, IN));
    *y = ag_randn(g, dtype, AG_SHAPE(N, 1));
    ag_generator_free(g);
}

/* Everything a run needs, built from seed: another seed gives other initial weights and
 * another generator state, which a load must overwrite. */
static void build(run *r, spec s, int hidden, uint64_t seed) {
    memset(r, 0, sizeof *r);
    r->s = s;
    r->hidden = hidden;
    if (s.default_generator)
        ag_manual_seed(seed);
    else
        r->gen = ag_generator_new(seed);
    make_data(s.dtype, &r->x, &r->y);
    const int64_t shapes[4][2] = {{IN, hidden}, {hidden, 0}, {hidden, 1}, {1, 0}};
    static const char *const names[4] = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"};
    r->model = ag_state_dict_new();
    for (int k = 0; k < 4; k++) {
        int ndim = shapes[k][1] ? 2 : 1;
        r->params[k] = ag_randn(r->gen, s.dtype, ndim, shapes[k]);
        ag_requires_grad_(r->params[k], true);
        ag_state_dict_add(r->model, names[k], r->params[k]);
    }
    r->opt = make_optimizer(s.opt, r->params);
    r->sched = make_scheduler(s.sched, r->opt);
    ag_tensor *data[] = {r->x, r->y};
    r->loader = ag_data_loader_new(
        data, 2,
        (ag_data_loader_options){.batch_size = BATCH, .shuffle = true, .generator = r->gen});
    cr_assert(r->opt && r->sched && r->loader);
}

static void destroy(run *r) {
    ag_data_loader_free(r->loader);
    ag_scheduler_free(r->sched);
    ag_optimizer_free(r->opt);
    ag_state_dict_free(r->model);
    for (int k = 0; k < 4; k++)
        ag_tensor_free(r->params[k]);
    ag_tensor_free(r->x);
    ag_tensor_free(r->y);
    ag_generator_free(r->gen);
}

/* One training step: the next batch (a new epoch when one ends), noise from the generator,
 * forward, backward, the optimizer's and the scheduler's steps. */
static void train_step(run *r) {
    ag_tensor *batch[2];
    if (!ag_data_loader_next(r->loader, batch)) {
        r->epoch++;
        cr_assert(ag_data_loader_next(r->loader, batch));
    }
    ag_tensor *noise = ag_randn(r->gen, r->s.dtype, AG_SHAPE(batch[0]->shape[0], IN));
    ag_tensor *x = ag_add(batch[0], ag_mul_scalar(noise, 0.01));
    ag_tensor *h = ag_relu(ag_add(ag_matmul(x, r->params[0]), r->params[1]));
    ag_tensor *pred = ag_add(ag_matmul(h, r->params[2]), r->params[3]);
    ag_tensor *loss = ag_mse_loss(pred, batch[1], AG_REDUCTION_MEAN);
    ag_backward(loss);
    ag_optimizer_step(r->opt);
    if (r->s.sched == PLATEAU_LR)
        ag_scheduler_step_metric(r->sched, ag_item(loss));
    else
        ag_scheduler_step(r->sched);
    ag_optimizer_zero_grad(r->opt, true);
    ag_tape_reset(NULL);
    ag_tensor_free(noise);
    r->step++;
}

static int save(run *r, const char *path) {
    return ag_checkpoint_save(path, r->model, r->opt, r->sched, r->gen, r->loader, r->epoch,
                              r->step);
}

static int load(run *r, const char *path) {
    return ag_checkpoint_load(path, r->model, r->opt, r->sched, r->gen, r->loader, &r->epoch,
                              &r->step);
}

/* a and b hold the same tensors, bit for bit, under the same names. */
static void assert_same_dicts(const ag_state_dict *a, const ag_state_dict *b, const char *what) {
    cr_assert_eq(ag_state_dict_count(a), ag_state_dict_count(b), "%s: %lld vs %lld entries", what,
                 (long long)ag_state_dict_count(a), (long long)ag_state_dict_count(b));
    for (int64_t i = 0; i < ag_state_dict_count(a); i++) {
        const char *name = ag_state_dict_name_at(a, i);
        const ag_tensor *ta = ag_state_dict_tensor_at(a, i);
        const ag_tensor *tb = ag_state_dict_get(b, name);
        cr_assert_not_null(tb, "%s: '%s' is missing", what, name);
        cr_assert_eq(ag_fingerprint(ta), ag_fingerprint(tb), "%s: '%s' differs", what, name);
        cr_assert(ta->dtype == tb->dtype && ta->numel == tb->numel);
        cr_assert_eq(memcmp(ta->data, tb->data, (size_t)ta->numel * ag_dtype_size(ta->dtype)), 0,
                     "%s: '%s' differs", what, name);
    }
    for (int64_t i = 0; i < ag_state_dict_metadata_count(a); i++) {
        const char *key = ag_state_dict_metadata_key_at(a, i);
        const char *vb = ag_state_dict_get_metadata(b, key);
        cr_assert(vb && strcmp(ag_state_dict_get_metadata(a, key), vb) == 0, "%s: metadata %s",
                  what, key);
    }
}

/* Everything a run's future depends on, as one state dict (free it): the parameters, the
 * optimizer's and the scheduler's state, the generator's, the loader's. */
static ag_state_dict *snapshot(const run *r) {
    ag_state_dict *sd = ag_state_dict_new();
    cr_assert_eq(ag_state_dict_merge(sd, r->model, "model."), 0);
    cr_assert_eq(ag_optimizer_state_dict(r->opt, sd, "optim."), 0, "%s", ag_last_error());
    cr_assert_eq(ag_scheduler_state_dict(r->sched, sd, "sched."), 0, "%s", ag_last_error());
    cr_assert_eq(ag_state_dict_add_owned(sd, "rng", ag_generator_get_state(r->gen)), 0);
    cr_assert_eq(ag_data_loader_state_dict(r->loader, sd, "data."), 0, "%s", ag_last_error());
    return sd;
}

/* Snapshots copied into owned tensors (a snapshot borrows the live ones). */
static ag_state_dict *frozen(const run *r) {
    ag_state_dict *live = snapshot(r), *copy = ag_state_dict_new();
    for (int64_t i = 0; i < ag_state_dict_count(live); i++) {
        const ag_tensor *t = ag_state_dict_tensor_at(live, i);
        ag_tensor *c = ag_from_data(t->data, t->dtype, t->ndim, t->shape);
        cr_assert_eq(ag_state_dict_add_owned(copy, ag_state_dict_name_at(live, i), c), 0);
    }
    for (int64_t i = 0; i < ag_state_dict_metadata_count(live); i++) { /* "optim.type", ... */
        const char *key = ag_state_dict_metadata_key_at(live, i);
        ag_state_dict_set_metadata(copy, key, ag_state_dict_get_metadata(live, key));
    }
    ag_state_dict_free(live);
    return copy;
}

/* Trains K steps, saves, trains K more; a fresh run loads and trains K: the same end. */
static void resume_case(spec s, int K) {
    make_test_dir("checkpoint");
    const char *path = in_test_dir("ckpt.safetensors");
    run a, b;
    build(&a, s, 4, 7);
    for (int i = 0; i < K; i++)
        train_step(&a);
    int64_t epoch_at_save = a.epoch;
    cr_assert_eq(save(&a, path), 0, "%s", ag_last_error());
    for (int i = 0; i < K; i++)
        train_step(&a);
    ag_state_dict *end_a = frozen(&a);
    destroy(&a);

    build(&b, s, 4, 99);
    ag_state_dict *start_b = frozen(&b);
    cr_assert_eq(load(&b, path), 0, "%s", ag_last_error());
    cr_assert_eq(b.step, K);
    cr_assert_eq(b.epoch, epoch_at_save);
    ag_state_dict *loaded_b = frozen(&b);
    cr_assert_neq(ag_fingerprint(ag_state_dict_get(start_b, "model.fc1.weight")),
                  ag_fingerprint(ag_state_dict_get(loaded_b, "model.fc1.weight")),
                  "the fresh run must start elsewhere");
    for (int i = 0; i < K; i++)
        train_step(&b);
    ag_state_dict *end_b = frozen(&b);
    assert_same_dicts(end_a, end_b, "resumed run");
    cr_assert_eq(b.step, 2 * K);
    ag_state_dict_free(end_a);
    ag_state_dict_free(end_b);
    ag_state_dict_free(start_b);
    ag_state_dict_free(loaded_b);
    destroy(&b);
    remove_test_dir();
}

/* ---- resuming, per optimizer ------------------------------------------------------------------
 */

Test(checkpoint, resume_sgd_momentum_step_lr) {
    for (int K = 1; K <= 6; K++) /* before, at and after the epoch's end */
        resume_case((spec){SGD, STEP_LR, AG_FLOAT32, false}, K);
}

Test(checkpoint, resume_adam_multi_step_lr) {
    resume_case((spec){ADAM, MULTI_STEP_LR, AG_FLOAT32, false}, 4);
}

Test(checkpoint, resume_adam_amsgrad_cosine_lr) {
    resume_case((spec){ADAM_AMSGRAD, COSINE_LR, AG_FLOAT32, false}, 4);
    resume_case((spec){ADAM_AMSGRAD, COSINE_LR, AG_FLOAT64, false}, 3);
}

Test(checkpoint, resume_adamw_one_cycle_lr) {
    /* OneCycleLR cycles beta1: the loaded hyper-parameters must carry it */
    resume_case((spec){ADAMW, ONE_CYCLE_LR, AG_FLOAT32, false}, 4);
}

Test(checkpoint, resume_rmsprop_centered_momentum_plateau) {
    resume_case((spec){RMSPROP, PLATEAU_LR, AG_FLOAT32, false}, 5);
}

Test(checkpoint, resume_adagrad_default_generator) {
    resume_case((spec){ADAGRAD, LINEAR_LR, AG_FLOAT64, true}, 4);
    resume_case((spec){ADAGRAD, EXPONENTIAL_LR, AG_FLOAT32, true}, 2);
}

/* ---- loads that fail change nothing -----------------------------------------------------------
 */

/* Saves a checkpoint of spec s after 4 steps at path. */
static void save_after(spec s, int hidden, const char *path) {
    run a;
    build(&a, s, hidden, 7);
    for (int i = 0; i < 4; i++)
        train_step(&a);
    cr_assert_eq(save(&a, path), 0, "%s", ag_last_error());
    destroy(&a);
}

/* r, trained 2 steps, refuses path with an error containing text, and is as it was. */
static void assert_refused(run *r, const char *path, const char *text) {
    for (int i = 0; i < 2; i++)
        train_step(r);
    ag_state_dict *before = frozen(r);
    int64_t epoch = r->epoch, step = r->step;
    ag_clear_error();
    cr_assert_eq(load(r, path), -1, "the load should have failed");
    cr_assert(strstr(ag_last_error(), text), "error \"%s\" does not contain \"%s\"",
              ag_last_error(), text);
    cr_assert_eq(r->epoch, epoch);
    cr_assert_eq(r->step, step);
    ag_state_dict *after = frozen(r);
    assert_same_dicts(before, after, "after a failed load");
    ag_state_dict_free(before);
    ag_state_dict_free(after);
}

Test(checkpoint, refuses_another_optimizer) {
    make_test_dir("checkpoint");
    const char *path = in_test_dir("sgd.safetensors");
    save_after((spec){SGD, STEP_LR, AG_FLOAT32, false}, 4, path);
    run b;
    build(&b, (spec){ADAM, STEP_LR, AG_FLOAT32, false}, 4, 99);
    assert_refused(&b, path, "is that of an optimizer of type SGD, and this one is of type Adam");
    destroy(&b);
    /* Adam and AdamW keep the same names: only the type tells them apart */
    save_after((spec){ADAMW, STEP_LR, AG_FLOAT32, false}, 4, path);
    build(&b, (spec){ADAM, STEP_LR, AG_FLOAT32, false}, 4, 99);
    assert_refused(&b, path, "of type AdamW, and this one is of type Adam");
    destroy(&b);
    remove_test_dir();
}

Test(checkpoint, refuses_other_shapes) {
    make_test_dir("checkpoint");
    const char *path = in_test_dir("h4.safetensors");
    save_after((spec){ADAM, STEP_LR, AG_FLOAT32, false}, 4, path);
    run b;
    build(&b, (spec){ADAM, STEP_LR, AG_FLOAT32, false}, 5, 99); /* hidden 5, not 4 */
    assert_refused(&b, path,
                   "size mismatch for optim.state.0.exp_avg: copying a state of shape "
                   "[3, 4] (torch.float32) for a parameter of shape [3, 5]");
    destroy(&b);
    remove_test_dir();
}

Test(checkpoint, refuses_another_scheduler_or_a_missing_part) {
    make_test_dir("checkpoint");
    const char *path = in_test_dir("ckpt.safetensors");
    save_after((spec){SGD, STEP_LR, AG_FLOAT32, false}, 4, path);
    run b;
    build(&b, (spec){SGD, COSINE_LR, AG_FLOAT32, false}, 4, 99);
    assert_refused(&b, path,
                   "that of a scheduler of type StepLR, and this one is of type "
                   "CosineAnnealingLR");
    destroy(&b);

    /* saved without scheduler and loader: loading them is an error; not loading them is not */
    build(&b, (spec){SGD, STEP_LR, AG_FLOAT32, false}, 4, 7);
    train_step(&b);
    cr_assert_eq(ag_checkpoint_save(path, b.model, b.opt, NULL, b.gen, NULL, 0, 1), 0, "%s",
                 ag_last_error());
    assert_refused(&b, path, "the checkpoint holds no scheduler state");
    int64_t step = -1;
    cr_assert_eq(ag_checkpoint_load(path, b.model, b.opt, NULL, b.gen, NULL, NULL, &step), 0, "%s",
                 ag_last_error());
    cr_assert_eq(step, 1);
    destroy(&b);
    remove_test_dir();
}

Test(checkpoint, refuses_a_model_that_differs) {
    make_test_dir("checkpoint");
    const char *path = in_test_dir("ckpt.safetensors");
    save_after((spec){RMSPROP, PLATEAU_LR, AG_FLOAT32, false}, 4, path);
    run b;
    build(&b, (spec){RMSPROP, PLATEAU_LR, AG_FLOAT32, false}, 4, 99);
    ag_tensor *extra = ag_zeros(AG_FLOAT32, AG_SHAPE(2));
    ag_state_dict_add(b.model, "extra", extra);
    assert_refused(&b, path, "Missing key(s) in state_dict: \"extra\".");
    ag_tensor_free(ag_state_dict_take(b.model, "extra"));
    destroy(&b);
    remove_test_dir();
}

/* The data offsets of one tensor of a file, found with the inspector. */
typedef struct find_entry {
    const char *name;
    uint64_t begin;
    bool found;
} find_entry;

static void visit_find(const ag_safetensors_entry *e, void *userdata) {
    find_entry *f = userdata;
    if (strcmp(e->name, f->name) == 0) f->begin = e->begin, f->found = true;
}

/* Flips one bit of the data of tensor name in the file at path. */
static void flip_bit(const char *path, const char *name, int byte) {
    find_entry f = {.name = name};
    cr_assert_eq(ag_inspect_safetensors(path, visit_find, &f), 0, "%s", ag_last_error());
    cr_assert(f.found, "no tensor '%s'", name);
    FILE *file = fopen(path, "r+b");
    cr_assert_not_null(file);
    unsigned char len[8];
    cr_assert_eq(fread(len, 1, 8, file), 8u);
    uint64_t header = 0;
    for (int k = 7; k >= 0; k--)
        header = header << 8 | len[k];
    long at = (long)(8 + header + f.begin) + byte;
    cr_assert_eq(fseek(file, at, SEEK_SET), 0);
    int c = fgetc(file);
    cr_assert_neq(c, EOF);
    cr_assert_eq(fseek(file, at, SEEK_SET), 0);
    fputc(c ^ 0x10, file);
    cr_assert_eq(fclose(file), 0);
}

Test(checkpoint, refuses_a_corrupt_file_naming_the_tensor) {
    make_test_dir("checkpoint");
    const char *path = in_test_dir("ckpt.safetensors");
    spec s = {ADAM, STEP_LR, AG_FLOAT32, false};
    const char *victims[] = {"optim.state.0.exp_avg", "model.fc2.bias", "rng.state", "data.order"};
    for (int k = 0; k < 4; k++) {
        save_after(s, 4, path);
        flip_bit(path, victims[k], 1);
        run b;
        build(&b, s, 4, 99);
        char text[128];
        snprintf(text, sizeof text, "checksum mismatch for tensor '%s': the file is corrupt",
                 victims[k]);
        assert_refused(&b, path, text);
        cr_assert(strncmp(ag_last_error(), "ag_checkpoint_load: ", 20) == 0, "%s", ag_last_error());
        destroy(&b);
    }
    remove_test_dir();
}

Test(checkpoint, refuses_files_that_are_not_checkpoints) {
    make_test_dir("checkpoint");
    run b;
    build(&b, (spec){SGD, STEP_LR, AG_FLOAT32, false}, 4, 99);
    /* a plain state dict: no format_version */
    cr_assert_eq(ag_save_safetensors(b.model, in_test_dir("plain.safetensors")), 0);
    assert_refused(&b, in_test_dir("plain.safetensors"), "not a training checkpoint");
    /* another format version, and a stray key */
    ag_state_dict *sd = ag_state_dict_new();
    ag_state_dict_merge(sd, b.model, "model.");
    ag_state_dict_set_metadata(sd, "format_version", "2");
    ag_state_dict_set_metadata(sd, "epoch", "0");
    ag_state_dict_set_metadata(sd, "step", "0");
    cr_assert_eq(ag_save_safetensors(sd, in_test_dir("v2.safetensors")), 0);
    assert_refused(&b, in_test_dir("v2.safetensors"), "format_version '2' is not one this library");
    ag_state_dict_set_metadata(sd, "format_version", "1");
    ag_state_dict_add(sd, "stray", b.params[0]);
    cr_assert_eq(ag_save_safetensors(sd, in_test_dir("stray.safetensors")), 0);
    assert_refused(&b, in_test_dir("stray.safetensors"), "unexpected key 'stray'");
    ag_state_dict_free(sd);
    assert_refused(&b, in_test_dir("missing.safetensors"), "cannot open the file");
    destroy(&b);
    remove_test_dir();
}

/* ---- the optimizer's and the scheduler's state dicts ------------------------------------------
 */

Test(checkpoint, optimizer_state_dict_names_and_round_trip) {
    run a;
    build(&a, (spec){ADAM_AMSGRAD, ONE_CYCLE_LR, AG_FLOAT32, false}, 4, 7);
    train_step(&a);
    train_step(&a);
    ag_state_dict *sd = ag_state_dict_new();
    cr_assert_eq(ag_optimizer_state_dict(a.opt, sd, "optim."), 0, "%s", ag_last_error());
    cr_assert_str_eq(ag_state_dict_get_metadata(sd, "optim.type"), "Adam");
    /* torch's names and kinds */
    ag_tensor *t = ag_state_dict_get(sd, "optim.state.0.step");
    cr_assert(t && t->dtype == AG_FLOAT32 && t->ndim == 0 && AG_F32(t)[0] == 2.0f);
    t = ag_state_dict_get(sd, "optim.param_groups.0.betas");
    cr_assert(t && t->dtype == AG_FLOAT64 && t->ndim == 1 && t->shape[0] == 2);
    cr_assert_eq(AG_F64(t)[0], ag_optimizer_get_momentum(a.opt, 0)); /* cycled by OneCycleLR */
    t = ag_state_dict_get(sd, "optim.param_groups.0.amsgrad");
    cr_assert(t && t->dtype == AG_INT64 && AG_I64(t)[0] == 1);
    ASSERT_VALUES(ag_state_dict_get(sd, "optim.param_groups.0.params"), 0, 0, 0, 1, 2, 3);
    cr_assert_eq(ag_item(ag_state_dict_get(sd, "optim.param_groups.0.lr")),
                 ag_optimizer_get_lr(a.opt, 0));
    const char *buffers[] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++) {
            char name[64];
            snprintf(name, sizeof name, "optim.state.%d.%s", i, buffers[k]);
            t = ag_state_dict_get(sd, name);
            cr_assert(t && ag_same_shape(t, a.params[i]), "%s", name);
        }
    /* a second export into the same dict is refused, leaving it as it was */
    int64_t n = ag_state_dict_count(sd);
    cr_assert_eq(ag_optimizer_state_dict(a.opt, sd, "optim."), -1);
    cr_assert(strstr(ag_last_error(), "already holds a tensor named 'optim.param_groups.0.lr'"));
    cr_assert_eq(ag_state_dict_count(sd), n);

    /* into a fresh optimizer: its next steps are the same */
    run b;
    build(&b, (spec){ADAM_AMSGRAD, ONE_CYCLE_LR, AG_FLOAT32, false}, 4, 99);
    cr_assert_eq(ag_optimizer_load_state_dict(b.opt, sd, "optim."), 0, "%s", ag_last_error());
    ag_state_dict *sb = ag_state_dict_new();
    cr_assert_eq(ag_optimizer_state_dict(b.opt, sb, "optim."), 0);
    assert_same_dicts(sd, sb, "optimizer state");
    ag_state_dict_free(sb);

    /* refused: another prefix, a bad key, a bad flag; nothing changes */
    ag_state_dict *before = frozen(&b);
    cr_assert_eq(ag_optimizer_load_state_dict(b.opt, sd, "x."), -1);
    cr_assert(strstr(ag_last_error(), "holds no state of an optimizer under 'x.'"), "%s",
              ag_last_error());
    ag_state_dict_add(sd, "optim.state.0.bogus", a.params[0]);
    cr_assert_eq(ag_optimizer_load_state_dict(b.opt, sd, "optim."), -1);
    cr_assert(strstr(ag_last_error(), "unexpected key 'optim.state.0.bogus'"), "%s",
              ag_last_error());
    ag_state_dict_take(sd, "optim.state.0.bogus");
    ag_state_dict_add(sd, "optim.state.9.exp_avg", a.params[0]);
    cr_assert_eq(ag_optimizer_load_state_dict(b.opt, sd, "optim."), -1);
    cr_assert(strstr(ag_last_error(), "is the state of parameter 9, but this optimizer has 4"),
              "%s", ag_last_error());
    ag_state_dict_take(sd, "optim.state.9.exp_avg");
    AG_I64(ag_state_dict_get(sd, "optim.param_groups.0.amsgrad"))[0] = 2;
    cr_assert_eq(ag_optimizer_load_state_dict(b.opt, sd, "optim."), -1);
    cr_assert(strstr(ag_last_error(), "'optim.param_groups.0.amsgrad' is 2, not 0 or 1"), "%s",
              ag_last_error());
    ag_tensor_free(ag_state_dict_take(sd, "optim.param_groups.0.eps"));
    cr_assert_eq(ag_optimizer_load_state_dict(b.opt, sd, "optim."), -1);
    ag_state_dict *after = frozen(&b);
    assert_same_dicts(before, after, "after failed optimizer loads");
    ag_state_dict_free(before);
    ag_state_dict_free(after);
    ag_state_dict_free(sd);
    destroy(&a);
    destroy(&b);
}

Test(checkpoint, optimizer_refuses_other_shapes_and_groups) {
    ag_tensor *w = ag_requires_grad_(ag_ones(AG_FLOAT32, AG_SHAPE(2, 3)), true);
    ag_tensor *v = ag_requires_grad_(ag_ones(AG_FLOAT32, AG_SHAPE(3)), true);
    ag_tensor *u = ag_requires_grad_(ag_ones(AG_FLOAT32, AG_SHAPE(2)), true);
    ag_optimizer *a = ag_sgd((ag_tensor *[]){w}, 1, (ag_sgd_options){.lr = 0.1, .momentum = 0.9});
    ag_backward(ag_sum(ag_mul(w, w)));
    ag_optimizer_step(a);
    ag_state_dict *sd = ag_state_dict_new();
    cr_assert_eq(ag_optimizer_state_dict(a, sd, NULL), 0);
    cr_assert_not_null(ag_state_dict_get(sd, "state.0.momentum_buffer"));

    ag_optimizer *b = ag_sgd((ag_tensor *[]){v}, 1, (ag_sgd_options){.lr = 0.5});
    cr_assert_eq(ag_optimizer_load_state_dict(b, sd, NULL), -1);
    cr_assert_str_eq(ag_last_error(),
                     "ag_optimizer_load_state_dict: size mismatch for state.0.momentum_buffer: "
                     "copying a state of shape [2, 3] (torch.float32) for a parameter of shape "
                     "[3] (torch.float32)");
    cr_assert_eq(ag_optimizer_get_lr(b, 0), 0.5, "nothing changed");
    ag_optimizer *c = ag_sgd((ag_tensor *[]){w, v}, 2, (ag_sgd_options){.lr = 0.5});
    cr_assert_eq(ag_optimizer_load_state_dict(c, sd, NULL), -1);
    cr_assert(strstr(ag_last_error(), "loaded state dict contains a parameter group that doesn't "
                                      "match the size of optimizer's group"),
              "%s", ag_last_error());
    cr_assert_eq(ag_optimizer_add_param_group(c, (ag_tensor *[]){u}, 1, NULL), 1);
    cr_assert_eq(ag_optimizer_load_state_dict(c, sd, NULL), -1);
    cr_assert(strstr(ag_last_error(), "loaded state dict has a different number of parameter "
                                      "groups"),
              "%s", ag_last_error());
    cr_assert_eq(ag_optimizer_get_lr(c, 0), 0.5, "nothing changed");

    /* the same shapes: the state, the momentum and the lr come across */
    ag_tensor *w2 = ag_requires_grad_(ag_zeros(AG_FLOAT64, AG_SHAPE(2, 3)), true);
    ag_optimizer *d = ag_sgd((ag_tensor *[]){w2}, 1, (ag_sgd_options){.lr = 0.5});
    cr_assert_eq(ag_optimizer_load_state_dict(d, sd, NULL), 0, "%s", ag_last_error());
    cr_assert_eq(ag_optimizer_get_lr(d, 0), 0.1);
    cr_assert_eq(ag_optimizer_get_momentum(d, 0), 0.9);
    ag_state_dict *sd2 = ag_state_dict_new();
    cr_assert_eq(ag_optimizer_state_dict(d, sd2, NULL), 0);
    ag_tensor *buf = ag_state_dict_get(sd2, "state.0.momentum_buffer");
    cr_assert(buf && buf->dtype == AG_FLOAT64, "cast to the parameter's dtype");
    ASSERT_VALUES(buf, 0, 0, 2, 2, 2, 2, 2, 2);
    ag_state_dict_free(sd2);
    ag_state_dict_free(sd);
    ag_optimizer_free(a), ag_optimizer_free(b), ag_optimizer_free(c), ag_optimizer_free(d);
    ag_tensor_free(w), ag_tensor_free(v), ag_tensor_free(u), ag_tensor_free(w2);
}

Test(checkpoint, scheduler_state_dict) {
    ag_tensor *w = ag_requires_grad_(ag_ones(AG_FLOAT32, AG_SHAPE(2)), true);
    ag_optimizer *opt = ag_sgd((ag_tensor *[]){w}, 1, (ag_sgd_options){.lr = 1.0});
    ag_scheduler *plateau = ag_reduce_lr_on_plateau(
        opt, (ag_reduce_lr_on_plateau_options){.patience = AG_ZERO, .cooldown = 3});
    ag_scheduler_step_metric(plateau, 5.0);
    ag_scheduler_step_metric(plateau, 6.0); /* bad: lr * 0.1, cooldown 3 */
    ag_scheduler_step_metric(plateau, 7.0);
    ag_state_dict *sd = ag_state_dict_new();
    cr_assert_eq(ag_scheduler_state_dict(plateau, sd, "s."), 0, "%s", ag_last_error());
    cr_assert_str_eq(ag_state_dict_get_metadata(sd, "s.type"), "ReduceLROnPlateau");
    cr_assert_eq(ag_item(ag_state_dict_get(sd, "s.last_epoch")), 3);
    cr_assert_eq(ag_item(ag_state_dict_get(sd, "s.best")), 5.0);
    cr_assert_eq(ag_item(ag_state_dict_get(sd, "s.cooldown_counter")), 2);
    cr_assert_eq(ag_item(ag_state_dict_get(sd, "s.num_bad_epochs")), 0);
    ASSERT_VALUES(ag_state_dict_get(sd, "s.last_lr"), 0, 0, 0.1);

    /* a fresh one takes it and goes on as the first: lr stays in cooldown for two more */
    ag_scheduler *fresh = ag_reduce_lr_on_plateau(
        opt, (ag_reduce_lr_on_plateau_options){.patience = AG_ZERO, .cooldown = 3});
    cr_assert_eq(ag_scheduler_load_state_dict(fresh, sd, "s."), 0, "%s", ag_last_error());
    cr_assert_eq(ag_scheduler_last_epoch(fresh), 3);
    cr_assert_eq(ag_scheduler_get_last_lr(fresh, 0), ag_scheduler_get_last_lr(plateau, 0));
    for (int i = 0; i < 4; i++) {
        ag_scheduler_step_metric(plateau, 9.0);
        double lr = ag_optimizer_get_lr(opt, 0);
        ag_optimizer_set_lr(opt, 0, ag_scheduler_get_last_lr(fresh, 0));
        ag_scheduler_step_metric(fresh, 9.0);
        cr_assert_eq(ag_optimizer_get_lr(opt, 0), lr, "step %d", i);
    }

    /* refused: another type; a missing entry; nothing changes */
    ag_scheduler *step = ag_step_lr(opt, (ag_step_lr_options){.step_size = 2});
    cr_assert_eq(ag_scheduler_load_state_dict(step, sd, "s."), -1);
    cr_assert(strstr(ag_last_error(), "that of a scheduler of type ReduceLROnPlateau, and this one "
                                      "is of type StepLR"),
              "%s", ag_last_error());
    ag_tensor_free(ag_state_dict_take(sd, "s.best"));
    int64_t epoch = ag_scheduler_last_epoch(fresh);
    cr_assert_eq(ag_scheduler_load_state_dict(fresh, sd, "s."), -1);
    cr_assert_str_eq(ag_last_error(), "ag_scheduler_load_state_dict: the state dict holds no "
                                      "'s.best'");
    cr_assert_eq(ag_scheduler_last_epoch(fresh), epoch);
    ag_state_dict_free(sd);
    ag_scheduler_free(step), ag_scheduler_free(fresh), ag_scheduler_free(plateau);
    ag_optimizer_free(opt);
    ag_tensor_free(w);
}

/* ---- generator states --------------------------------------------------------------------------
 */

/* A few draws of every kind from g, as one float64 tensor (yours). */
static ag_tensor *draws(ag_generator *g) {
    ag_tensor *a = ag_randn(g, AG_FLOAT64, AG_SHAPE(3)); /* odd: a normal stays cached */
    ag_tensor *b = ag_rand(g, AG_FLOAT32, AG_SHAPE(20));
    ag_tensor *c = ag_randperm(g, 10);
    ag_tensor *d = ag_randn(g, AG_FLOAT32, AG_SHAPE(33));
    ag_tensor *out = ag_empty(AG_FLOAT64, AG_SHAPE(3 + 20 + 10 + 33));
    int64_t k = 0;
    for (int64_t i = 0; i < 3; i++)
        AG_F64(out)[k++] = AG_F64(a)[i];
    for (int64_t i = 0; i < 20; i++)
        AG_F64(out)[k++] = AG_F32(b)[i];
    for (int64_t i = 0; i < 10; i++)
        AG_F64(out)[k++] = (double)AG_I64(c)[i];
    for (int64_t i = 0; i < 33; i++)
        AG_F64(out)[k++] = AG_F32(d)[i];
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(c), ag_tensor_free(d);
    return out;
}

static void assert_same_tensor(const ag_tensor *a, const ag_tensor *b) {
    cr_assert_eq(ag_fingerprint(a), ag_fingerprint(b));
    cr_assert_eq(memcmp(a->data, b->data, (size_t)a->numel * ag_dtype_size(a->dtype)), 0);
}

Test(checkpoint, generator_state_round_trip) {
    ag_generator *g = ag_generator_new(42);
    ag_tensor *skip = ag_randn(g, AG_FLOAT64, AG_SHAPE(1)); /* leaves a cached normal */
    ag_tensor *state = ag_generator_get_state(g);
    ASSERT_SHAPE(state, 629);
    cr_assert_eq(AG_I64(state)[0], 1);
    cr_assert_eq(AG_I64(state)[1], 42);
    cr_assert_eq(AG_I64(state)[3], 1, "a normal is cached");
    ag_tensor *first = draws(g);
    /* another generator, set to the state, draws the same; and g itself, set back */
    ag_generator *h = ag_generator_new(7);
    cr_assert_eq(ag_generator_set_state(h, state), 0, "%s", ag_last_error());
    cr_assert_eq(ag_generator_initial_seed(h), 42);
    ag_tensor *again = draws(h);
    assert_same_tensor(first, again);
    ag_tensor_free(again);
    cr_assert_eq(ag_generator_set_state(g, state), 0);
    again = draws(g);
    assert_same_tensor(first, again);
    ag_tensor_free(again);

    /* through a file */
    make_test_dir("checkpoint");
    ag_state_dict *sd = ag_state_dict_new();
    ag_state_dict_add(sd, "rng", state);
    cr_assert_eq(ag_save_safetensors(sd, in_test_dir("rng.safetensors")), 0);
    ag_state_dict_free(sd);
    cr_assert_eq(ag_load_safetensors(in_test_dir("rng.safetensors"), &sd, NULL), 0);
    ag_tensor *loaded = ag_state_dict_take(sd, "rng");
    ag_state_dict_free(sd);
    assert_same_tensor(loaded, state);
    cr_assert_eq(ag_generator_set_state(NULL, loaded), 0, "the default generator");
    again = draws(NULL);
    assert_same_tensor(first, again);
    ag_tensor *copy = ag_generator_get_state(NULL), *of_g = ag_generator_get_state(g);
    assert_same_tensor(copy, of_g); /* both after the same draws */
    ag_tensor_free(copy), ag_tensor_free(of_g), ag_tensor_free(again), ag_tensor_free(loaded);
    remove_test_dir();

    ag_tensor_free(skip), ag_tensor_free(first), ag_tensor_free(state);
    ag_generator_free(g), ag_generator_free(h);
}

Test(checkpoint, generator_refuses_bad_states) {
    ag_generator *g = ag_generator_new(5);
    ag_tensor *good = ag_generator_get_state(g);
    ag_tensor *f = ag_zeros(AG_FLOAT32, AG_SHAPE(629)), *short_ = ag_zeros(AG_INT64, AG_SHAPE(5));
    struct {
        ag_tensor *t;
        int64_t index, value;
        const char *text;
    } cases[] = {
        {f, -1, 0,
         "a generator state is an int64 tensor of shape [629] (from "
         "ag_generator_get_state), not a torch.float32 tensor of shape [629]"},
        {short_, -1, 0, "not a torch.int64 tensor of shape [5]"},
        {good, 0, 2, "unknown generator state version 2"},
        {good, 2, 625, "the state's position 625 is outside [0, 624]"},
        {good, 3, 3, "cached-normal flag is 3"},
        {good, 100, (int64_t)1 << 32, "word 95 of the state, 4294967296, is not a 32-bit"},
        {good, 100, -1, "word 95 of the state, -1"},
    };
    ag_tensor *before = ag_generator_get_state(g);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ag_tensor *t = cases[k].t;
        int64_t saved = cases[k].index >= 0 ? AG_I64(t)[cases[k].index] : 0;
        if (cases[k].index >= 0) AG_I64(t)[cases[k].index] = cases[k].value;
        cr_assert_eq(ag_generator_set_state(g, t), -1, "case %zu", k);
        cr_assert(strstr(ag_last_error(), cases[k].text), "case %zu: %s", k, ag_last_error());
        cr_assert(strncmp(ag_last_error(), "ag_generator_set_state: ", 24) == 0);
        cr_assert_eq(ag_generator_check_state(t), -1);
        if (cases[k].index >= 0) AG_I64(t)[cases[k].index] = saved;
    }
    cr_assert_eq(ag_generator_set_state(g, NULL), -1);
    ag_tensor *after = ag_generator_get_state(g);
    assert_same_tensor(before, after);
    ag_tensor_free(before), ag_tensor_free(after), ag_tensor_free(good);
    ag_tensor_free(f), ag_tensor_free(short_);
    ag_generator_free(g);
}

/* ---- data loader states ------------------------------------------------------------------------
 */

Test(checkpoint, data_loader_resumes_mid_epoch) {
    ag_tensor *x = ag_arange(0, 10, 1, AG_FLOAT32);
    ag_generator *g = ag_generator_new(3), *h = ag_generator_new(4);
    ag_data_loader_options o = {.batch_size = 3, .shuffle = true, .generator = g};
    ag_data_loader *a = ag_data_loader_new(&x, 1, o);
    ag_tensor *batch;
    ag_data_loader_next(a, &batch);
    ag_data_loader_next(a, &batch);
    ag_state_dict *sd = ag_state_dict_new();
    cr_assert_eq(ag_data_loader_state_dict(a, sd, "data."), 0, "%s", ag_last_error());
    cr_assert_eq(ag_item(ag_state_dict_get(sd, "data.pos")), 6);
    cr_assert_not_null(ag_state_dict_get(sd, "data.generator"));
    o.generator = h;
    ag_data_loader *b = ag_data_loader_new(&x, 1, o);
    cr_assert_eq(ag_data_loader_load_state_dict(b, sd, "data."), 0, "%s", ag_last_error());
    /* the rest of this epoch and the next two are the same batches */
    for (int i = 0; i < 14; i++) {
        ag_tensor *ba = NULL, *bb = NULL;
        bool more_a = ag_data_loader_next(a, &ba), more_b = ag_data_loader_next(b, &bb);
        cr_assert_eq(more_a, more_b, "call %d", i);
        if (more_a) assert_same_tensor(ba, bb);
    }
    ag_tape_reset(NULL);

    /* refused: other options, a broken order, a generator where there is none */
    ag_data_loader *c = ag_data_loader_new(
        &x, 1, (ag_data_loader_options){.batch_size = 2, .shuffle = true, .generator = h});
    cr_assert_eq(ag_data_loader_load_state_dict(c, sd, "data."), -1);
    cr_assert(strstr(ag_last_error(), "batch_size = 3, this one has 2"), "%s", ag_last_error());
    ag_data_loader *d =
        ag_data_loader_new(&x, 1, (ag_data_loader_options){.batch_size = 3, .shuffle = true});
    cr_assert_eq(ag_data_loader_load_state_dict(d, sd, "data."), -1);
    cr_assert(strstr(ag_last_error(), "but this loader draws from the default generator"), "%s",
              ag_last_error());
    ag_tensor *order = ag_state_dict_get(sd, "data.order");
    int64_t saved = AG_I64(order)[4];
    AG_I64(order)[4] = AG_I64(order)[5];
    cr_assert_eq(ag_data_loader_check_state_dict(b, sd, "data."), -1);
    cr_assert(strstr(ag_last_error(), "'data.order' is not a permutation of 0..9: element 5"), "%s",
              ag_last_error());
    AG_I64(order)[4] = saved;
    cr_assert_eq(ag_data_loader_check_state_dict(b, sd, "data."), 0, "%s", ag_last_error());
    ag_state_dict_add_owned(sd, "data.extra", ag_zeros(AG_INT64, AG_SCALAR_SHAPE));
    cr_assert_eq(ag_data_loader_check_state_dict(b, sd, "data."), -1);
    cr_assert(strstr(ag_last_error(), "unexpected key 'data.extra'"), "%s", ag_last_error());

    ag_state_dict_free(sd);
    ag_data_loader_free(a), ag_data_loader_free(b), ag_data_loader_free(c), ag_data_loader_free(d);
    ag_generator_free(g), ag_generator_free(h);
    ag_tensor_free(x);
}

/* ---- state dicts: metadata, merge, select, take ------------------------------------------------
 */

Test(checkpoint, state_dict_metadata_round_trip) {
    make_test_dir("checkpoint");
    ag_tensor *w = ag_ones(AG_FLOAT32, AG_SHAPE(2));
    ag_state_dict *sd = ag_state_dict_new();
    ag_state_dict_add(sd, "w", w);
    cr_assert_eq(ag_state_dict_set_metadata(sd, "step", "12"), 0);
    cr_assert_eq(ag_state_dict_set_metadata(sd, "note", "quote \" backslash \\ tab \t é"), 0);
    cr_assert_eq(ag_state_dict_set_metadata(sd, "step", "13"), 0, "replaces");
    cr_assert_eq(ag_state_dict_metadata_count(sd), 2);
    EXPECT_ERROR(ag_state_dict_set_metadata(sd, "format", "x"), "the metadata key 'format' is "
                                                                "reserved");
    EXPECT_ERROR(ag_state_dict_set_metadata(sd, "xxh3:w", "x"), "is reserved (the checksums)");
    EXPECT_ERROR(ag_state_dict_set_metadata(sd, "bad", "\xff"), "not valid UTF-8");
    cr_assert_eq(ag_save_safetensors(sd, in_test_dir("m.safetensors")), 0);
    ag_state_dict *loaded;
    ag_load_report report;
    cr_assert_eq(ag_load_safetensors(in_test_dir("m.safetensors"), &loaded, &report), 0);
    cr_assert(report.all_verified);
    cr_assert_eq(ag_state_dict_metadata_count(loaded), 2,
                 "the checksums and format are not "
                 "user metadata");
    cr_assert_str_eq(ag_state_dict_get_metadata(loaded, "step"), "13");
    cr_assert_str_eq(ag_state_dict_get_metadata(loaded, "note"), "quote \" backslash \\ tab \t é");
    cr_assert_null(ag_state_dict_get_metadata(loaded, "format"));
    cr_assert_null(ag_state_dict_get_metadata(loaded, "xxh3:w"));
    /* take hands over a loaded tensor: it outlives the dict */
    ag_tensor *t = ag_state_dict_take(loaded, "w");
    cr_assert_not_null(t);
    cr_assert_null(ag_state_dict_take(loaded, "w"));
    cr_assert_eq(ag_state_dict_count(loaded), 0);
    ag_state_dict_free(loaded);
    ASSERT_VALUES(t, 0, 0, 1, 1);
    ag_tensor_free(t);
    ag_state_dict_free(sd);
    ag_tensor_free(w);
    remove_test_dir();
}

Test(checkpoint, state_dict_merge_and_select) {
    ag_tensor *a = ag_ones(AG_FLOAT32, AG_SHAPE(1)), *b = ag_zeros(AG_FLOAT64, AG_SHAPE(2));
    ag_state_dict *part = ag_state_dict_new(), *all = ag_state_dict_new();
    ag_state_dict_add(part, "a", a);
    ag_state_dict_add_owned(part, "b", b); /* part owns b; all borrows it */
    ag_state_dict_set_metadata(part, "type", "Thing");
    cr_assert_eq(ag_state_dict_merge(all, part, "p."), 0);
    cr_assert_eq(ag_state_dict_merge(all, part, "q."), 0);
    cr_assert_eq(ag_state_dict_count(all), 4);
    cr_assert_eq(ag_state_dict_get(all, "q.b"), b);
    cr_assert_str_eq(ag_state_dict_get_metadata(all, "p.type"), "Thing");
    EXPECT_ERROR(ag_state_dict_merge(all, part, "p."), "already holds a tensor named 'p.a'");
    cr_assert_eq(ag_state_dict_count(all), 4, "unchanged");
    ag_state_dict *q = ag_state_dict_select(all, "q.");
    cr_assert_eq(ag_state_dict_count(q), 2);
    cr_assert_str_eq(ag_state_dict_name_at(q, 0), "a");
    cr_assert_eq(ag_state_dict_get(q, "b"), b);
    cr_assert_str_eq(ag_state_dict_get_metadata(q, "type"), "Thing");
    ag_state_dict *none = ag_state_dict_select(all, "z.");
    cr_assert_eq(ag_state_dict_count(none), 0);
    EXPECT_ERROR(ag_state_dict_add_owned(all, "p.a", a), "already holds a tensor named 'p.a'");
    ag_state_dict_free(none);
    ag_state_dict_free(q);
    ag_state_dict_free(all); /* borrowed b: still alive */
    cr_assert_eq(ag_live_tensors(), 2);
    ag_state_dict_free(part); /* frees b */
    ag_tensor_free(a);
}

/* ---- examples/seed_gd --save -------------------------------------------------------------------
 */

typedef struct listing {
    char names[8][64];
    int n;
    bool all_verified;
} listing;

static void visit_list(const ag_safetensors_entry *e, void *userdata) {
    listing *l = userdata;
    if (l->n < 8) snprintf(l->names[l->n++], 64, "%s", e->name);
    l->all_verified = l->all_verified && e->checksum == AG_CHECKSUM_VERIFIED;
}

/* What examples/seed_gd --save FILE does, by the library: the seed's loop with GD, then the
 * checkpoint; what build/examples/inspect lists (ag_inspect_safetensors), and its numbers. */
Test(checkpoint, seed_gd_save_is_listed_by_inspect) {
    make_test_dir("checkpoint");
    const char *path = in_test_dir("seed_gd.safetensors");
    ag_tensor *x = AG_TENSOR(1.0, 2.0, 3.0, 4.0);
    ag_tensor *y = AG_TENSOR(2.0, 4.0, 6.0, 8.0);
    ag_tensor *w = ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true);
    ag_tensor *b = ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true);
    ag_optimizer *opt = ag_gd((ag_tensor *[]){w, b}, 2, (ag_gd_options){.lr = 0.01});
    int epoch = 0;
    for (; epoch < 100; epoch++) {
        ag_tensor *loss = ag_mean(ag_pow_scalar(ag_sub(ag_add(ag_mul(w, x), b), y), 2));
        ag_backward(loss);
        ag_optimizer_step(opt);
        ag_optimizer_zero_grad(opt, false);
        ag_tape_reset(NULL);
    }
    ag_state_dict *model = ag_state_dict_new();
    ag_state_dict_add(model, "w", w);
    ag_state_dict_add(model, "b", b);
    cr_assert_eq(ag_checkpoint_save(path, model, opt, NULL, NULL, NULL, epoch, epoch), 0, "%s",
                 ag_last_error());

    listing l = {.all_verified = true};
    cr_assert_eq(ag_inspect_safetensors(path, visit_list, &l), 0, "%s", ag_last_error());
    const char *expected[] = {"model.w", "model.b", "optim.param_groups.0.lr",
                              "optim.param_groups.0.params", "rng.state"};
    cr_assert_eq(l.n, 5);
    for (int k = 0; k < 5; k++)
        cr_assert_str_eq(l.names[k], expected[k]);
    cr_assert(l.all_verified);

    ag_state_dict *sd;
    cr_assert_eq(ag_load_safetensors(path, &sd, NULL), 0);
    ASSERT_VALUES(ag_state_dict_get(sd, "model.w"), 5e-5, 0, 1.8463); /* tests/expected/ */
    ASSERT_VALUES(ag_state_dict_get(sd, "model.b"), 5e-5, 0, 0.4518);
    cr_assert_str_eq(ag_state_dict_get_metadata(sd, "epoch"), "100");
    cr_assert_str_eq(ag_state_dict_get_metadata(sd, "optim.type"), "GD");
    cr_assert_str_eq(ag_state_dict_get_metadata(sd, "format_version"), "1");
    ag_state_dict_free(sd);

    /* and it loads back into the loop's objects */
    ag_tensor *w0 = ag_from_data(w->data, AG_FLOAT32, AG_SCALAR_SHAPE);
    AG_F32(w)[0] = 0;
    int64_t e = 0;
    cr_assert_eq(ag_checkpoint_load(path, model, opt, NULL, NULL, NULL, &e, NULL), 0, "%s",
                 ag_last_error());
    cr_assert_eq(e, 100);
    assert_same_tensor(w, w0);
    ag_tensor_free(w0);
    ag_state_dict_free(model);
    ag_optimizer_free(opt);
    ag_tensor_free(x), ag_tensor_free(y), ag_tensor_free(w), ag_tensor_free(b);
    remove_test_dir();
}
