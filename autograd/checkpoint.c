/*
 * checkpoint.c - the training checkpoint (checkpoint.h): one state dict of five parts, each
 * under its prefix, saved and loaded as one safetensors file.
 *
 * Saving gathers the parts into a dict (the model's tensors borrowed, the rest made by each
 * part's state_dict function) and saves it atomically. Loading is in three steps, so that a
 * failure changes nothing:
 *   1. read and verify the file whole (ag_load_safetensors checks every checksum), and its
 *      metadata and keys;
 *   2. check every part against the object it goes to: the optimizer's load is prepared (its
 *      new buffers made, nothing installed), the scheduler's, the generator's and the loader's
 *      states are judged; then the model's tensors are loaded, which ag_load_state_dict_into
 *      itself does all or nothing: if it fails, the prepared optimizer state is dropped;
 *   3. install the rest, which can no longer fail.
 */
#include "optim/internal.h" /* the optimizer's two-step load */

#include "autograd/checkpoint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const prefixes[] = {"model.", "optim.", "sched.", "rng.", "data."};
#define NPREFIXES ((int)(sizeof prefixes / sizeof prefixes[0]))

/* Re-words the last error as one of ours: "<where>: <what>", where what is the message without
 * the function it came from ("ag_load_safetensors: ") and without the path when it follows
 * (where names it already). Returns -1. */
static int fail(const char *where, const char *path) {
    char what[1024];
    const char *msg = ag_last_error();
    if (strncmp(msg, "ag_", 3) == 0) {
        const char *colon = strstr(msg, ": ");
        if (colon) msg = colon + 2;
        size_t n = strlen(path);
        if (strncmp(msg, path, n) == 0 && strncmp(msg + n, ": ", 2) == 0) msg += n + 2;
    }
    snprintf(what, sizeof what, "%s", msg);
    return ag_status_error("%s: %s", where, what);
}

/* ---- saving ---------------------------------------------------------------------------------- */

/* Fills sd with the checkpoint's parts and metadata; -1 with the error set. */
static int gather(ag_state_dict *sd, const ag_state_dict *model, const ag_optimizer *opt,
                  const ag_scheduler *sched, const ag_generator *gen, const ag_data_loader *loader,
                  int64_t epoch, int64_t step) {
    if (ag_state_dict_merge(sd, model, "model.") < 0 ||
        ag_optimizer_state_dict(opt, sd, "optim.") < 0 ||
        (sched && ag_scheduler_state_dict(sched, sd, "sched.") < 0))
        return -1;
    ag_tensor *state = ag_generator_get_state(gen);
    if (!state || ag_state_dict_add_owned(sd, "rng.state", state) < 0) {
        ag_tensor_free(state);
        return ag_status_error("ag_checkpoint_save: out of memory");
    }
    if (loader && ag_data_loader_state_dict(loader, sd, "data.") < 0) return -1;
    char number[32];
    snprintf(number, sizeof number, "%d", AG_CHECKPOINT_FORMAT_VERSION);
    if (ag_state_dict_set_metadata(sd, "format_version", number) < 0)
        return ag_status_error("ag_checkpoint_save: out of memory");
    snprintf(number, sizeof number, "%lld", (long long)epoch);
    if (ag_state_dict_set_metadata(sd, "epoch", number) < 0)
        return ag_status_error("ag_checkpoint_save: out of memory");
    snprintf(number, sizeof number, "%lld", (long long)step);
    if (ag_state_dict_set_metadata(sd, "step", number) < 0)
        return ag_status_error("ag_checkpoint_save: out of memory");
    return 0;
}

int ag_checkpoint_save(const char *path, const ag_state_dict *model, const ag_optimizer *opt,
                       const ag_scheduler *sched, const ag_generator *gen,
                       const ag_data_loader *loader, int64_t epoch, int64_t step) {
    if (!path) return ag_status_error("ag_checkpoint_save: argument 'path' must not be NULL");
    char where[320];
    snprintf(where, sizeof where, "ag_checkpoint_save: %s", path);
    if (!model || !opt)
        return ag_status_error("%s: argument '%s' must not be NULL", where,
                               model ? "opt" : "model");
    ag_state_dict *sd = ag_state_dict_new();
    if (!sd) return ag_status_error("%s: out of memory", where);
    int rc = gather(sd, model, opt, sched, gen, loader, epoch, step);
    if (rc == 0) rc = ag_save_safetensors(sd, path);
    ag_state_dict_free(sd);
    return rc < 0 ? fail(where, path) : 0;
}

/* ---- loading --------------------------------------------------------------------------------- */

/* A decimal int64 metadata value (an optional '-', digits, nothing else). */
static bool parse_int64(const char *s, int64_t *out) {
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || !((*s >= '0' && *s <= '9') || (s[0] == '-' && s[1] >= '0' && s[1] <= '9')))
        return false;
    *out = v;
    return true;
}

/* Whether sd has a tensor or a metadata key under prefix. */
static bool has_part(const ag_state_dict *sd, const char *prefix) {
    size_t n = strlen(prefix);
    for (int64_t i = 0; i < ag_state_dict_count(sd); i++)
        if (strncmp(ag_state_dict_name_at(sd, i), prefix, n) == 0) return true;
    for (int64_t i = 0; i < ag_state_dict_metadata_count(sd); i++)
        if (strncmp(ag_state_dict_metadata_key_at(sd, i), prefix, n) == 0) return true;
    return false;
}

/* Step 1 beyond the loader's checks: a checkpoint of our format, and its numbers. */
static int check_file(const char *where, const ag_state_dict *sd, const ag_load_report *report,
                      int64_t *epoch, int64_t *step) {
    if (!report->all_verified)
        return ag_status_error("%s: %lld of its %lld tensors carry no checksum: this is not a "
                               "checkpoint libautograd wrote",
                               where, (long long)report->unverified, (long long)report->tensors);
    const char *version = ag_state_dict_get_metadata(sd, "format_version");
    if (!version)
        return ag_status_error("%s: not a training checkpoint: it has no metadata "
                               "'format_version' (a plain state dict loads with "
                               "ag_load_safetensors)",
                               where);
    int64_t v;
    if (!parse_int64(version, &v) || v != AG_CHECKPOINT_FORMAT_VERSION)
        return ag_status_error("%s: format_version '%.40s' is not one this library reads (%d)",
                               where, version, AG_CHECKPOINT_FORMAT_VERSION);
    const char *names[2] = {"epoch", "step"};
    int64_t *values[2] = {epoch, step};
    for (int k = 0; k < 2; k++) {
        const char *s = ag_state_dict_get_metadata(sd, names[k]);
        if (!parse_int64(s, values[k]))
            return ag_status_error("%s: the metadata '%s' is %s%.40s%s, not an integer", where,
                                   names[k], s ? "'" : "", s ? s : "missing", s ? "'" : "");
    }
    for (int64_t i = 0; i < ag_state_dict_count(sd); i++) {
        const char *name = ag_state_dict_name_at(sd, i);
        bool known = false;
        for (int k = 0; k < NPREFIXES; k++)
            known = known || strncmp(name, prefixes[k], strlen(prefixes[k])) == 0;
        if (!known)
            return ag_status_error("%s: unexpected key '%s' (a checkpoint's keys begin with "
                                   "model., optim., sched., rng. or data.)",
                                   where, name);
    }
    return 0;
}

/* Steps 2 and 3 on the verified dict. */
static int restore(const char *where, const char *path, const ag_state_dict *sd,
                   ag_state_dict *model, ag_optimizer *opt, ag_scheduler *sched, ag_generator *gen,
                   ag_data_loader *loader) {
    if (sched && !has_part(sd, "sched."))
        return ag_status_error("%s: the checkpoint holds no scheduler state (it was saved "
                               "without a scheduler)",
                               where);
    if (loader && !has_part(sd, "data."))
        return ag_status_error("%s: the checkpoint holds no data loader state (it was saved "
                               "without a loader)",
                               where);
    const ag_tensor *rng = ag_state_dict_get(sd, "rng.state");
    if (!rng) return ag_status_error("%s: the checkpoint holds no 'rng.state'", where);
    if (ag_generator_check_state(rng) < 0) return fail(where, path);
    if ((sched && ag_scheduler_check_state_dict(sched, sd, "sched.") < 0) ||
        (loader && ag_data_loader_check_state_dict(loader, sd, "data.") < 0))
        return fail(where, path);
    ag_optimizer_load_plan *plan;
    if (ag_optimizer_load_prepare(opt, sd, "optim.", &plan) < 0) return fail(where, path);
    /* The model last of the checks, since its load checks and copies in one call. */
    ag_state_dict *tensors = ag_state_dict_select(sd, "model.");
    if (!tensors || ag_load_state_dict_into(tensors, model, true) < 0) {
        int rc = tensors ? fail(where, path) : ag_status_error("%s: out of memory", where);
        ag_state_dict_free(tensors);
        ag_optimizer_load_plan_free(plan);
        return rc;
    }
    ag_state_dict_free(tensors);
    /* All checked: nothing below can fail. */
    ag_optimizer_load_commit(opt, plan);
    if (sched) ag_scheduler_load_state_dict(sched, sd, "sched.");
    ag_generator_set_state(gen, rng);
    if (loader) ag_data_loader_load_state_dict(loader, sd, "data.");
    return 0;
}

int ag_checkpoint_load(const char *path, ag_state_dict *model, ag_optimizer *opt,
                       ag_scheduler *sched, ag_generator *gen, ag_data_loader *loader,
                       int64_t *epoch, int64_t *step) {
    if (!path) return ag_status_error("ag_checkpoint_load: argument 'path' must not be NULL");
    char where[320];
    snprintf(where, sizeof where, "ag_checkpoint_load: %s", path);
    if (!model || !opt)
        return ag_status_error("%s: argument '%s' must not be NULL", where,
                               model ? "opt" : "model");
    ag_state_dict *sd;
    ag_load_report report;
    if (ag_load_safetensors(path, &sd, &report) < 0) return fail(where, path);
    int64_t e, s;
    int rc = check_file(where, sd, &report, &e, &s);
    if (rc == 0) rc = restore(where, path, sd, model, opt, sched, gen, loader);
    ag_state_dict_free(sd);
    if (rc < 0) return -1;
    if (epoch) *epoch = e;
    if (step) *step = s;
    return 0;
}
