/*
 * optim.h - optimizers over leaf tensors, learning-rate schedulers and gradient clipping, as
 * torch.optim, torch.optim.lr_scheduler and torch.nn.utils.clip_grad_*.
 *
 * A training loop with an optimizer and a scheduler, next to the PyTorch lines it stands for:
 *
 *     ag_tensor *params[] = {w, b};
 *     ag_optimizer *opt = ag_sgd(params, 2, (ag_sgd_options){.lr = 0.01, .momentum = 0.9});
 *                                          // opt = torch.optim.SGD([w, b], lr=0.01, momentum=0.9)
 *     ag_scheduler *sched = ag_step_lr(opt, (ag_step_lr_options){.step_size = 30});
 *                                          // sched = StepLR(opt, step_size=30)
 *     for (int epoch = 0; epoch < 100; epoch++) {
 *         ag_optimizer_zero_grad(opt, true); // opt.zero_grad(set_to_none=True)
 *         ag_tensor *loss = ag_mse_loss(ag_add(ag_mul(w, x), b), y, AG_REDUCTION_MEAN);
 *         ag_backward(loss);                 // loss.backward()
 *         ag_optimizer_step(opt);            // opt.step()
 *         ag_scheduler_step(sched);          // sched.step()
 *         ag_tape_reset(NULL);
 *     }
 *     ag_scheduler_free(sched);
 *     ag_optimizer_free(opt);
 *
 * Each step updates the parameters in place exactly as torch.optim 1.13's single-tensor
 * (for-loop) implementation does, operation for operation and in the parameter's precision
 * (a float32 parameter is updated in float32), so that trajectories match PyTorch's. A step
 * works on the data directly, as torch's step runs under no_grad, bumps each changed
 * parameter's version, and skips the parameters whose .grad is NULL (None).
 *
 * Options are structs written with designated initializers. A field left out (zero) takes
 * torch's default: ag_adam(p, 2, (ag_adam_options){0}) is torch.optim.Adam(p). Where torch's
 * default is not zero and you want a real zero, write AG_ZERO: (ag_adamw_options){.weight_decay
 * = AG_ZERO}. Flags (bool) default to false, as in torch.
 *
 * Ownership: an optimizer or scheduler is yours: free it with ag_optimizer_free /
 * ag_scheduler_free (NULL is a no-op). It holds pointers to your parameters (and a scheduler
 * to its optimizer), which must outlive it; free a scheduler before its optimizer. The state an
 * optimizer keeps (momentum buffers, moving averages) is made of tensors it owns: they count
 * in ag_live_tensors() until the optimizer is freed.
 *
 * Errors are reported as everywhere in libautograd, in PyTorch's words ("Invalid learning
 * rate: -1.0"); after a reported error a constructor returns NULL and nothing changes.
 */
#ifndef AG_OPTIM_H
#define AG_OPTIM_H

#include "autograd/autograd.h"
#include "autograd/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An option that is really zero where torch's default is not (a negative zero, which the
 * constructors tell apart from a field left out). */
#define AG_ZERO (-0.0)

typedef struct ag_optimizer ag_optimizer; /* opaque: parameter groups and their state */

/* ---------------------------------------------------------------------------------------- */
/* Optimizers                                                                                 */
/* ---------------------------------------------------------------------------------------- */

/* Each constructor takes n parameters (leaf tensors, float32 or float64, each at most once),
 * which form the first parameter group, and the options of that group; the options are also
 * the defaults of the groups added later. Returns a new optimizer that you own, or NULL after
 * reporting (torch's messages: "optimizer got an empty parameter list", "can't optimize a
 * non-leaf Tensor", "Invalid learning rate: -1.0", ...). */

/* Plain gradient descent, the seed's rule: theta <- theta - lr * grad, computed as the seed's
 * `w -= eta * w.grad` computes it (the product rounded, then the difference). lr is required. */
typedef struct ag_gd_options {
    double lr;
} ag_gd_options;
ag_optimizer *ag_gd(ag_tensor *const *params, int n, ag_gd_options options);

/* torch.optim.SGD. lr is required (torch has no default); the rest default to 0 / false.
 *   g = grad (negated if maximize) + weight_decay * theta
 *   b = g on the first step, then momentum * b + (1 - dampening) * g   (if momentum != 0)
 *   g = g + momentum * b if nesterov, else b
 *   theta = theta - lr * g */
typedef struct ag_sgd_options {
    double lr;
    double momentum;
    double dampening;
    double weight_decay;
    bool nesterov; /* needs momentum > 0 and dampening 0 */
    bool maximize;
} ag_sgd_options;
ag_optimizer *ag_sgd(ag_tensor *const *params, int n, ag_sgd_options options);

/* torch.optim.Adam and torch.optim.AdamW: lr 1e-3, betas (0.9, 0.999), eps 1e-8,
 * weight_decay 0 for Adam (L2: added to the gradient) and 1e-2 for AdamW (decoupled:
 * theta *= 1 - lr * weight_decay before the update).
 *   m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g^2   (vmax = max(vmax, v))
 *   theta = theta - lr / (1 - beta1^t) * m / (sqrt(v or vmax) / sqrt(1 - beta2^t) + eps) */
typedef struct ag_adam_options {
    double lr;
    double betas[2];
    double eps;
    double weight_decay;
    bool amsgrad;
    bool maximize;
} ag_adam_options;
typedef ag_adam_options ag_adamw_options;
ag_optimizer *ag_adam(ag_tensor *const *params, int n, ag_adam_options options);
ag_optimizer *ag_adamw(ag_tensor *const *params, int n, ag_adamw_options options);

/* torch.optim.RMSprop: lr 1e-2, alpha 0.99, eps 1e-8, weight_decay 0, momentum 0.
 *   v = alpha v + (1 - alpha) g^2;  centered: a = alpha a + (1 - alpha) g, v - a^2 under sqrt
 *   d = sqrt(v (- a^2)) + eps;  momentum: b = momentum b + g / d, theta -= lr b;
 *   else theta -= lr g / d */
typedef struct ag_rmsprop_options {
    double lr;
    double alpha;
    double eps;
    double weight_decay;
    double momentum;
    bool centered;
    bool maximize;
} ag_rmsprop_options;
ag_optimizer *ag_rmsprop(ag_tensor *const *params, int n, ag_rmsprop_options options);

/* torch.optim.Adagrad: lr 1e-2, lr_decay 0, weight_decay 0, initial_accumulator_value 0,
 * eps 1e-10.
 *   s = s + g^2 (s starts at initial_accumulator_value);
 *   theta = theta - lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps) */
typedef struct ag_adagrad_options {
    double lr;
    double lr_decay;
    double weight_decay;
    double initial_accumulator_value;
    double eps;
    bool maximize;
} ag_adagrad_options;
ag_optimizer *ag_adagrad(ag_tensor *const *params, int n, ag_adagrad_options options);

/* opt.add_param_group({'params': [...], 'lr': ...}): a new group of n parameters with its own
 * options, given as a pointer to the optimizer's options type (&(ag_sgd_options){.lr = 1e-3}
 * for an SGD optimizer; Adam and AdamW share ag_adam_options), or NULL. Fields left zero take
 * the optimizer's defaults (the options it was made with), and a flag set in either is set.
 * Returns the new group's index, or -1 after reporting (a parameter already in a group:
 * "some parameters appear in more than one parameter group"; options of another type). */
#ifndef __cplusplus /* C11 _Generic; from C++ call ag_optimizer_add_param_group_as */
#define ag_optimizer_add_param_group(opt, params, n, ...)                                          \
    ag_optimizer_add_param_group_as(opt, params, n, __VA_ARGS__, AG_OPTIONS_TYPE_(__VA_ARGS__))
#define AG_OPTIONS_TYPE_(...)                                                                      \
    _Generic((__VA_ARGS__), ag_gd_options *: "ag_gd_options",                                      \
             const ag_gd_options *: "ag_gd_options",                                               \
             ag_sgd_options *: "ag_sgd_options",                                                   \
             const ag_sgd_options *: "ag_sgd_options",                                             \
             ag_adam_options *: "ag_adam_options",                                                 \
             const ag_adam_options *: "ag_adam_options",                                           \
             ag_rmsprop_options *: "ag_rmsprop_options",                                           \
             const ag_rmsprop_options *: "ag_rmsprop_options",                                     \
             ag_adagrad_options *: "ag_adagrad_options",                                           \
             const ag_adagrad_options *: "ag_adagrad_options",                                     \
             default: (const char *)0)
#endif
/* The function behind the macro: options_type names the struct options points to. */
int ag_optimizer_add_param_group_as(ag_optimizer *opt, ag_tensor *const *params, int n,
                                    const void *options, const char *options_type);

/* opt.step(): one update of every parameter that has a .grad. */
void ag_optimizer_step(ag_optimizer *opt);

/* opt.zero_grad(set_to_none): with set_to_none (torch 2's default, and the recommended call)
 * every .grad becomes NULL, so that the next backward gives a fresh one (in the memory of the
 * old one: see ag_set_grad_none) and a parameter that gets no gradient is skipped by the next
 * step; without it every .grad is filled with zeros (torch 1.13's default), and a zero
 * gradient still moves a parameter through momentum or weight decay. */
void ag_optimizer_zero_grad(ag_optimizer *opt, bool set_to_none);

/* The number of parameter groups; and group g's learning rate (param_groups[g]['lr']), read
 * and written by the schedulers. get_lr returns NAN after reporting a bad index. */
int ag_optimizer_num_groups(const ag_optimizer *opt);
double ag_optimizer_get_lr(const ag_optimizer *opt, int group);
void ag_optimizer_set_lr(ag_optimizer *opt, int group, double lr);

/* Group g's momentum as OneCycleLR cycles it: group['momentum'] (SGD, RMSprop) or
 * group['betas'][0] (Adam, AdamW); NAN after reporting that the optimizer has none. */
double ag_optimizer_get_momentum(const ag_optimizer *opt, int group);
void ag_optimizer_set_momentum(ag_optimizer *opt, int group, double momentum);

/* torch's class name: "SGD", "Adam", ...; "GD" for ag_gd. */
const char *ag_optimizer_name(const ag_optimizer *opt);

/* Frees the optimizer and its state (not the parameters). NULL is a no-op. */
void ag_optimizer_free(ag_optimizer *opt);

/*
 * opt.state_dict(), flattened into named tensors (autograd/safetensors.h), each name after
 * prefix (NULL: ""; a checkpoint uses "optim."). The parameters are numbered 0, 1, ... across
 * the groups in order, as torch numbers them, and torch's nested dict becomes:
 *     param_groups.<g>.lr, .initial_lr (set by a scheduler), and the group's options after
 *         lr in torch's names: momentum, dampening, weight_decay, betas ([2]), eps, alpha,
 *         lr_decay, initial_accumulator_value, ...: 0-d float64 tensors; the flags (nesterov,
 *         amsgrad, centered, maximize) 0-d int64 0 or 1
 *     param_groups.<g>.params     int64 [n]: the group's parameters' numbers
 *     state.<i>.step              for each parameter that has state: 0-d, float32 for Adam,
 *                                 AdamW and Adagrad (as torch keeps it), else int64
 *     state.<i>.<buffer>          its buffers by torch's names: momentum_buffer (SGD,
 *                                 RMSprop), exp_avg, exp_avg_sq, max_exp_avg_sq (Adam, AdamW),
 *                                 square_avg, grad_avg (RMSprop), sum (Adagrad)
 * and the metadata "<prefix>type" is the class name ("Adam"). The numbers are new tensors sd
 * owns; the buffers are the optimizer's own, borrowed as torch's state_dict() returns
 * references: save the dict before the next step or free. Returns 0, or -1 with ag_last_error()
 * (never the error handler: a state dict goes to a file) when sd already holds one of the
 * names (sd is then unchanged) or out of memory.
 */
int ag_optimizer_state_dict(const ag_optimizer *opt, ag_state_dict *sd, const char *prefix);

/*
 * opt.load_state_dict(): the state and the groups' hyper-parameters (lr and every option)
 * from sd's tensors under prefix, replacing the optimizer's (a parameter with no state in sd
 * has none afterwards). Build the optimizer as the saved one was, over parameters of the same
 * shapes in the same order; the hyper-parameters then come from sd. Everything is checked
 * before anything changes: returns 0, or -1 with ag_last_error() and the optimizer untouched
 * when sd holds no optimizer state under prefix, the state of another kind ("the state under
 * 'optim.' is that of an optimizer of type SGD, and this one is of type Adam"), another number
 * of groups or of parameters in a group (torch's words), a buffer whose shape is not its
 * parameter's ("size mismatch for optim.state.0.exp_avg: ..."), a missing or malformed entry,
 * or a key under prefix that this optimizer does not write. Buffers are cast to the
 * parameter's dtype.
 */
int ag_optimizer_load_state_dict(ag_optimizer *opt, const ag_state_dict *sd, const char *prefix);

/* ---------------------------------------------------------------------------------------- */
/* Learning-rate schedulers (torch.optim.lr_scheduler)                                        */
/* ---------------------------------------------------------------------------------------- */

/* A scheduler sets the learning rate of each group its optimizer had when it was made (later
 * groups are left alone). As in torch, making one already takes step 0 (which may change the
 * lr: LinearLR, OneCycleLR), and the loop calls ag_scheduler_step() after
 * ag_optimizer_step(). The schedulers use torch's recursive ("chainable") form: each step
 * updates the optimizer's current lr, so two schedulers on one optimizer compose as in torch.
 * Returns a new scheduler that you own, or NULL after reporting. */
typedef struct ag_scheduler ag_scheduler;

/* StepLR: lr *= gamma every step_size epochs. step_size is required; gamma 0.1. */
typedef struct ag_step_lr_options {
    int step_size;
    double gamma;
} ag_step_lr_options;
ag_scheduler *ag_step_lr(ag_optimizer *opt, ag_step_lr_options options);

/* MultiStepLR: lr *= gamma at each of the nmilestones epochs (copied; a milestone listed k
 * times multiplies by gamma^k). gamma 0.1. */
typedef struct ag_multi_step_lr_options {
    const int *milestones;
    int nmilestones;
    double gamma;
} ag_multi_step_lr_options;
ag_scheduler *ag_multi_step_lr(ag_optimizer *opt, ag_multi_step_lr_options options);

/* ExponentialLR: lr *= gamma every epoch. gamma is required (AG_ZERO for 0). */
typedef struct ag_exponential_lr_options {
    double gamma;
} ag_exponential_lr_options;
ag_scheduler *ag_exponential_lr(ag_optimizer *opt, ag_exponential_lr_options options);

/* CosineAnnealingLR: from the initial lr down to eta_min along half a cosine in T_max
 * epochs, then back up, in torch's recursive form. T_max is required; eta_min 0. */
typedef struct ag_cosine_annealing_lr_options {
    int T_max;
    double eta_min;
} ag_cosine_annealing_lr_options;
ag_scheduler *ag_cosine_annealing_lr(ag_optimizer *opt, ag_cosine_annealing_lr_options options);

/* LinearLR: the lr's factor goes linearly from start_factor (1/3) to end_factor (1.0) over
 * total_iters (5) epochs. */
typedef struct ag_linear_lr_options {
    double start_factor;
    double end_factor;
    int total_iters;
} ag_linear_lr_options;
ag_scheduler *ag_linear_lr(ag_optimizer *opt, ag_linear_lr_options options);

/* OneCycleLR: from max_lr / div_factor up to max_lr in the first pct_start of total_steps,
 * then down to that / final_div_factor (three_phase: back to the start, then down); the
 * momentum (SGD, RMSprop) or beta1 (Adam, AdamW) moves the opposite way between max_momentum
 * and base_momentum, unless keep_momentum (torch's cycle_momentum=False). max_lr is required,
 * and total_steps or else epochs and steps_per_epoch; pct_start 0.3, anneal cos,
 * base_momentum 0.85, max_momentum 0.95, div_factor 25, final_div_factor 1e4. Stepping past
 * total_steps is an error, as in torch. */
typedef enum ag_anneal_strategy { AG_ANNEAL_COS, AG_ANNEAL_LINEAR } ag_anneal_strategy;
typedef struct ag_one_cycle_lr_options {
    double max_lr;
    int total_steps;
    int epochs;
    int steps_per_epoch;
    double pct_start;
    ag_anneal_strategy anneal_strategy;
    bool keep_momentum;
    double base_momentum;
    double max_momentum;
    double div_factor;
    double final_div_factor;
    bool three_phase;
} ag_one_cycle_lr_options;
ag_scheduler *ag_one_cycle_lr(ag_optimizer *opt, ag_one_cycle_lr_options options);

/* ReduceLROnPlateau: lr = max(lr * factor, min_lr) once the metric given to
 * ag_scheduler_step_metric() has not improved for more than patience epochs, then waits
 * cooldown epochs. Improvement in mode min (max): below best * (1 - threshold) (above best *
 * (1 + threshold)) in threshold mode rel, below best - threshold (above best + threshold) in
 * abs. A reduction smaller than eps is skipped. factor 0.1, patience 10, threshold 1e-4,
 * cooldown 0, min_lr 0, eps 1e-8. */
typedef enum ag_plateau_mode { AG_PLATEAU_MIN, AG_PLATEAU_MAX } ag_plateau_mode;
typedef enum ag_threshold_mode { AG_THRESHOLD_REL, AG_THRESHOLD_ABS } ag_threshold_mode;
typedef struct ag_reduce_lr_on_plateau_options {
    ag_plateau_mode mode;
    double factor;
    double patience; /* a count of epochs; AG_ZERO for 0 */
    double threshold;
    ag_threshold_mode threshold_mode;
    int cooldown;
    double min_lr;
    double eps;
} ag_reduce_lr_on_plateau_options;
ag_scheduler *ag_reduce_lr_on_plateau(ag_optimizer *opt, ag_reduce_lr_on_plateau_options options);

/* scheduler.step(), after the optimizer's step; ReduceLROnPlateau takes the metric instead:
 * scheduler.step(val_loss). */
void ag_scheduler_step(ag_scheduler *sched);
void ag_scheduler_step_metric(ag_scheduler *sched, double metric);

/* scheduler.get_last_lr()[group]: the lr the last step set (NAN after reporting). */
double ag_scheduler_get_last_lr(const ag_scheduler *sched, int group);
/* scheduler.last_epoch: 0 after the constructor's step, +1 per step. */
int64_t ag_scheduler_last_epoch(const ag_scheduler *sched);
/* Frees the scheduler (not its optimizer). NULL is a no-op. */
void ag_scheduler_free(ag_scheduler *sched);

/*
 * scheduler.state_dict() and load_state_dict(), as ag_optimizer_state_dict does it: under
 * prefix (a checkpoint uses "sched."), new tensors sd owns:
 *     last_epoch          0-d int64 (OneCycleLR's step count; torch's last_epoch)
 *     base_lrs, last_lr   float64 [groups]: the initial lrs, and get_last_lr()
 *     best                0-d float64 \  ReduceLROnPlateau only: the best metric, the bad
 *     num_bad_epochs      0-d int64    > epochs since, and the cooldown left
 *     cooldown_counter    0-d int64   /
 * and the metadata "<prefix>type", the class name ("StepLR"). The options the scheduler was
 * made with are not saved: make the scheduler again with the same options, then load (its
 * constructor's step 0 is then undone by the load, and the optimizer's lr by the optimizer's).
 * Loading checks everything first: the same class, as many groups, every entry present and
 * of its kind, no unexpected key; 0, or -1 with ag_last_error() and nothing changed.
 */
int ag_scheduler_state_dict(const ag_scheduler *sched, ag_state_dict *sd, const char *prefix);
int ag_scheduler_load_state_dict(ag_scheduler *sched, const ag_state_dict *sd, const char *prefix);

/* ---------------------------------------------------------------------------------------- */
/* Gradient clipping (torch.nn.utils)                                                         */
/* ---------------------------------------------------------------------------------------- */

/* clip_grad_norm_(params, max_norm, norm_type): the norm_type-norm of all the gradients
 * together (the norm of the per-parameter norms; INFINITY for the largest |g|; torch's
 * default is 2.0), and every .grad scaled in place by min(max_norm / (total + 1e-6), 1).
 * Parameters without a .grad are skipped. Returns the total norm before clipping (0 if no
 * parameter has a .grad; NAN after reporting). */
double ag_clip_grad_norm_(ag_tensor *const *params, int n, double max_norm, double norm_type);
/* clip_grad_value_(params, clip_value): every .grad clamped to [-clip_value, clip_value]. */
void ag_clip_grad_value_(ag_tensor *const *params, int n, double clip_value);

/* Each function above also records the caller's file:line for its error messages. */
#ifndef AG_BUILDING_LIBRARY
#define ag_gd(...) AG_AT_(ag_gd(__VA_ARGS__))
#define ag_sgd(...) AG_AT_(ag_sgd(__VA_ARGS__))
#define ag_adam(...) AG_AT_(ag_adam(__VA_ARGS__))
#define ag_adamw(...) AG_AT_(ag_adamw(__VA_ARGS__))
#define ag_rmsprop(...) AG_AT_(ag_rmsprop(__VA_ARGS__))
#define ag_adagrad(...) AG_AT_(ag_adagrad(__VA_ARGS__))
#define ag_optimizer_add_param_group_as(...) AG_AT_(ag_optimizer_add_param_group_as(__VA_ARGS__))
#define ag_optimizer_step(...) AG_AT_(ag_optimizer_step(__VA_ARGS__))
#define ag_optimizer_zero_grad(...) AG_AT_(ag_optimizer_zero_grad(__VA_ARGS__))
#define ag_optimizer_get_lr(...) AG_AT_(ag_optimizer_get_lr(__VA_ARGS__))
#define ag_optimizer_set_lr(...) AG_AT_(ag_optimizer_set_lr(__VA_ARGS__))
#define ag_optimizer_get_momentum(...) AG_AT_(ag_optimizer_get_momentum(__VA_ARGS__))
#define ag_optimizer_set_momentum(...) AG_AT_(ag_optimizer_set_momentum(__VA_ARGS__))
#define ag_step_lr(...) AG_AT_(ag_step_lr(__VA_ARGS__))
#define ag_multi_step_lr(...) AG_AT_(ag_multi_step_lr(__VA_ARGS__))
#define ag_exponential_lr(...) AG_AT_(ag_exponential_lr(__VA_ARGS__))
#define ag_cosine_annealing_lr(...) AG_AT_(ag_cosine_annealing_lr(__VA_ARGS__))
#define ag_linear_lr(...) AG_AT_(ag_linear_lr(__VA_ARGS__))
#define ag_one_cycle_lr(...) AG_AT_(ag_one_cycle_lr(__VA_ARGS__))
#define ag_reduce_lr_on_plateau(...) AG_AT_(ag_reduce_lr_on_plateau(__VA_ARGS__))
#define ag_scheduler_step(...) AG_AT_(ag_scheduler_step(__VA_ARGS__))
#define ag_scheduler_step_metric(...) AG_AT_(ag_scheduler_step_metric(__VA_ARGS__))
#define ag_scheduler_get_last_lr(...) AG_AT_(ag_scheduler_get_last_lr(__VA_ARGS__))
#define ag_clip_grad_norm_(...) AG_AT_(ag_clip_grad_norm_(__VA_ARGS__))
#define ag_clip_grad_value_(...) AG_AT_(ag_clip_grad_value_(__VA_ARGS__))
#endif

#ifdef __cplusplus
}
#endif

#endif
