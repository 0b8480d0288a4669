/*
 * seed_gd.c - tutorial step 4: the seed's first loop with an optimizer doing the update.
 *
 * The same regression as seed_loop.c, but the two hand-written update lines and the two
 * zeroing lines become an optimizer's step() and zero_grad(), as a PyTorch user writes
 * them with torch.optim. GD is the seed's own rule, theta <- theta - eta * grad, so the
 * printed lines are the seed's, digit for digit.
 *
 *     build/examples/seed_gd                    prints the seed's ten lines
 *     build/examples/seed_gd --save FILE        ... then saves a training checkpoint: the
 *                                               trained w and b and the optimizer's state
 *                                               (autograd/checkpoint.h); build/examples/inspect
 *                                               FILE lists it
 */
#include "autograd/autograd.h"
#include "autograd/checkpoint.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *save = NULL;
    if (argc == 3 && strcmp(argv[1], "--save") == 0) {
        save = argv[2];
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--save FILE]\n", argv[0]);
        return 2;
    }
    ag_tensor *x = AG_TENSOR(1.0, 2.0, 3.0, 4.0);
    ag_tensor *y = AG_TENSOR(2.0, 4.0, 6.0, 8.0);
    ag_tensor *w = ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true);
    ag_tensor *b = ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true);
    ag_tensor *params[] = {w, b};
    ag_optimizer *opt = ag_gd(params, 2, (ag_gd_options){.lr = 0.01}); /* eta = 0.01 */

    int epoch = 0;
    for (; epoch < 100; epoch++) {
        ag_tensor *y_pred = ag_add(ag_mul(w, x), b);                       /* w * x + b */
        ag_tensor *loss = ag_mean(ag_pow_scalar(ag_sub(y_pred, y), 2));    /* MSE */
        ag_backward(loss);                                                 /* loss.backward() */
        ag_optimizer_step(opt);                                            /* opt.step() */
        ag_optimizer_zero_grad(opt, false);                                /* opt.zero_grad() */
        if ((epoch + 1) % 10 == 0)
            printf("Epoch %d: w = %.4f, b = %.4f, Loss = %.4f\n", epoch + 1, ag_item(w),
                   ag_item(b), ag_item(loss));
        ag_tape_reset(NULL);
    }

    int status = 0;
    if (save) { /* torch.save({'model': {'w': w, 'b': b}, 'optim': opt.state_dict(), ...}) */
        ag_state_dict *model = ag_state_dict_new();
        ag_state_dict_add(model, "w", w);
        ag_state_dict_add(model, "b", b);
        if (ag_checkpoint_save(save, model, opt, NULL, NULL, NULL, epoch, epoch) < 0) {
            fprintf(stderr, "seed_gd: %s\n", ag_last_error());
            status = 1;
        } else {
            printf("Saved w, b and the optimizer's state to %s\n", save);
        }
        ag_state_dict_free(model);
    }
    ag_optimizer_free(opt);
    ag_tensor_free(x), ag_tensor_free(y), ag_tensor_free(w), ag_tensor_free(b);
    return status;
}
