/*
 * seed_gd.c - tutorial step 4: the seed's first loop with an optimizer doing the update.
 *
 * The same regression as seed_loop.c, but the two hand-written update lines and the two
 * zeroing lines become an optimizer's step() and zero_grad(), as a PyTorch user writes
 * them with torch.optim. GD is the seed's own rule, theta <- theta - eta * grad, so the
 * printed lines are the seed's, digit for digit.
 */
#include "autograd/autograd.h"

#include <stdio.h>

int main(void) {
    ag_tensor *x = AG_TENSOR(1.0, 2.0, 3.0, 4.0);
    ag_tensor *y = AG_TENSOR(2.0, 4.0, 6.0, 8.0);
    ag_tensor *w = ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true);
    ag_tensor *b = ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true);
    ag_tensor *params[] = {w, b};
    ag_optimizer *opt = ag_gd(params, 2, (ag_gd_options){.lr = 0.01}); /* eta = 0.01 */

    for (int epoch = 0; epoch < 100; epoch++) {
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
    ag_optimizer_free(opt);
    ag_tensor_free(x), ag_tensor_free(y), ag_tensor_free(w), ag_tensor_free(b);
    return 0;
}
