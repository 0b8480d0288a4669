/*
 * checkpoint.h - a training checkpoint: all a training loop needs to go on after a stop as if
 * it had never stopped, bit for bit, in one safetensors file.
 *
 * A loop that saves every 100 steps and resumes from the last save, next to the PyTorch lines
 * it stands for (torch keeps no loader state: torchdata's StatefulDataLoader does):
 *
 *     #include "autograd/checkpoint.h"               // (autograd.h does not include it)
 *     ag_state_dict *model = ag_state_dict_new();        // model.state_dict()
 *     ag_state_dict_add(model, "w", w);
 *     ag_state_dict_add(model, "b", b);
 *     int64_t epoch = 0, step = 0;
 *     if (resume && ag_checkpoint_load("ckpt.safetensors", model, opt, sched, gen, loader,
 *                                      &epoch, &step) < 0) {
 *         fprintf(stderr, "%s\n", ag_last_error());       // nothing was changed
 *         return 1;
 *     }
 *     for (; epoch < epochs; epoch++) {
 *         ag_tensor *batch[2];
 *         while (ag_data_loader_next(loader, batch)) {    // mid-epoch: the batches go on
 *             ...forward, backward, ag_optimizer_step, ag_scheduler_step...
 *             if (++step % 100 == 0 &&                     // torch.save({'model': ...,
 *                 ag_checkpoint_save("ckpt.safetensors", model, opt, sched, gen, loader,
 *                                    epoch, step) < 0)     //   'optim': ..., ...}, path)
 *                 fprintf(stderr, "%s\n", ag_last_error());
 *             ag_tape_reset(NULL);
 *         }
 *     }
 *
 * To resume, build everything as the first run did (the same model shapes, optimizer and
 * scheduler options, loader over the same data with the same options; the values need not be
 * the same: the load overwrites them), then load. The file holds, each part under its prefix:
 *     model.<name>   the model's tensors (ag_load_state_dict_into, strict)
 *     optim.*        the optimizer's state and hyper-parameters (ag_optimizer_state_dict)
 *     sched.*        the scheduler's, if one is given (ag_scheduler_state_dict)
 *     rng.state      the generator's state (ag_generator_get_state): gen, or the default
 *                    generator when gen is NULL; pass the one the loop draws from
 *     data.*         the loader's place in its epoch and its order (ag_data_loader_state_dict)
 *                    and, if it has a generator of its own, that generator's state
 * and the metadata "epoch", "step" (decimal integers, yours to count as you like) and
 * "format_version" ("1"), with "optim.type" and "sched.type". build/examples/inspect lists it.
 *
 * Errors: both functions touch a file, so they return 0 or -1 with the reason in
 * ag_last_error() and never call the error handler (out of memory in a tensor's allocation
 * aside, as everywhere). The save is atomic (ag_save_safetensors): a failed save leaves the
 * previous checkpoint whole. The load is all or nothing: the file is read and verified whole
 * (every tensor's XXH3-64: a corrupt file is refused naming the tensor), then every part is
 * checked against what you pass, and only then is anything changed; on -1 the model, the
 * optimizer, the scheduler, the generator, the loader, *epoch and *step are as they were.
 */
#ifndef AG_CHECKPOINT_H
#define AG_CHECKPOINT_H

#include "autograd/autograd.h"
#include "autograd/data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The "format_version" this library writes and reads. */
#define AG_CHECKPOINT_FORMAT_VERSION 1

/* Saves model's tensors, opt's state, sched's (NULL: none), gen's (NULL: the default
 * generator's), loader's (NULL: none), epoch and step to path, atomically. model and opt are
 * required. Nothing passed in changes. Returns 0 or -1 (ag_last_error). */
int ag_checkpoint_save(const char *path, const ag_state_dict *model, const ag_optimizer *opt,
                       const ag_scheduler *sched, const ag_generator *gen,
                       const ag_data_loader *loader, int64_t epoch, int64_t step);

/* Restores what ag_checkpoint_save saved into objects built as the saved ones were: model's
 * tensors (every name, same shapes), opt, gen (NULL: the default generator), and sched and
 * loader unless NULL (the file's part is then not used; a part you pass that the file lacks
 * is an error); *epoch and *step receive the saved numbers (either may be NULL). Refused,
 * with nothing changed: an unreadable, truncated or corrupt file, one without checksums or
 * without format_version (not a checkpoint), another format_version, a key under none of the
 * prefixes, and every mismatch the parts' loaders find (a missing or unexpected model key, a
 * shape, an optimizer or scheduler of another type, another number of parameters, ...).
 * Returns 0 or -1 (ag_last_error). */
int ag_checkpoint_load(const char *path, ag_state_dict *model, ag_optimizer *opt,
                       ag_scheduler *sched, ag_generator *gen, ag_data_loader *loader,
                       int64_t *epoch, int64_t *step);

#ifdef __cplusplus
}
#endif

#endif
