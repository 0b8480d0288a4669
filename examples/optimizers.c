/*
 * optimizers.c - GD, SGD, SGD with momentum, Adam and AdamW on the seed's regression.
 *
 * Each optimizer fits y = w x + b to the seed's four points from w = b = 0 for 100 epochs
 * with the learning rate PyTorch users would start with; the table shows the loss every ten
 * epochs, one column per optimizer. (Full-batch data, so GD and SGD coincide; momentum and
 * Adam take different paths to the same line.)
 */
#include "autograd/autograd.h"

#include <stdio.h>

enum { OPTIMIZERS = 5, EPOCHS = 100 };

static ag_optimizer *make(int k, ag_tensor *const *params) {
    switch (k) {
    case 0: return ag_gd(params, 2, (ag_gd_options){.lr = 0.01});
    case 1: return ag_sgd(params, 2, (ag_sgd_options){.lr = 0.01});
    case 2: return ag_sgd(params, 2, (ag_sgd_options){.lr = 0.01, .momentum = 0.9});
    case 3: return ag_adam(params, 2, (ag_adam_options){.lr = 0.1});
    default: return ag_adamw(params, 2, (ag_adamw_options){.lr = 0.1});
    }
}

int main(void) {
    static const char *names[OPTIMIZERS] = {"GD", "SGD", "SGD+momentum", "Adam", "AdamW"};
    double loss_at[OPTIMIZERS][EPOCHS / 10];
    ag_tensor *x = AG_TENSOR(1.0, 2.0, 3.0, 4.0), *y = AG_TENSOR(2.0, 4.0, 6.0, 8.0);
    for (int k = 0; k < OPTIMIZERS; k++) {
        ag_tensor *w = ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true);
        ag_tensor *b = ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true);
        ag_optimizer *opt = make(k, (ag_tensor *[]){w, b});
        for (int epoch = 0; epoch < EPOCHS; epoch++) {
            ag_optimizer_zero_grad(opt, true);
            ag_tensor *loss = ag_mse_loss(ag_add(ag_mul(w, x), b), y, AG_REDUCTION_MEAN);
            ag_backward(loss);
            ag_optimizer_step(opt);
            if ((epoch + 1) % 10 == 0) loss_at[k][epoch / 10] = ag_item(loss);
            ag_tape_reset(NULL);
        }
        printf("%-13s w = %.4f, b = %.4f\n", names[k], ag_item(w), ag_item(b));
        ag_optimizer_free(opt);
        ag_tensor_free(w), ag_tensor_free(b);
    }
    printf("\n| epoch |");
    for (int k = 0; k < OPTIMIZERS; k++) printf(" %s |", names[k]);
    printf("\n|---|");
    for (int k = 0; k < OPTIMIZERS; k++) printf("---|");
    printf("\n");
    for (int e = 0; e < EPOCHS / 10; e++) {
        printf("| %d |", (e + 1) * 10);
        for (int k = 0; k < OPTIMIZERS; k++) printf(" %.4f |", loss_at[k][e]);
        printf("\n");
    }
    ag_tensor_free(x), ag_tensor_free(y);
    return 0;
}
