/*
 * seed_sgd.c - tutorial step 5: the seed's second loop, stochastic gradient descent.
 *
 *     build/examples/seed_sgd [SEED]
 *
 * The regression of seed_loop.c, but w and b start random and each epoch visits the four
 * points one at a time in a random order (torch.randperm), updating after every point. Given
 * SEED, the program prints exactly what examples/seed_sgd.py (the seed's PyTorch snippet
 * after torch.manual_seed(SEED)) prints: the random numbers are PyTorch's, bit for bit.
 * Without SEED it seeds from the clock, as the seed's snippet does.
 */
#include "autograd/autograd.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc > 2) {
        fprintf(stderr, "usage: %s [SEED]\n", argv[0]);
        return 2;
    }
    ag_manual_seed(argc == 2 ? strtoull(argv[1], NULL, 10) : (uint64_t)time(NULL));

    /* Data: x = torch.tensor([[1.0], [2.0], [3.0], [4.0]]), y likewise */
    ag_tensor *x = ag_from_data((const float[]){1, 2, 3, 4}, AG_FLOAT32, AG_SHAPE(4, 1));
    ag_tensor *y = ag_from_data((const float[]){2, 4, 6, 8}, AG_FLOAT32, AG_SHAPE(4, 1));
    /* Parameters: w = torch.randn(1, 1, requires_grad=True); b = torch.randn(1, ...) */
    ag_tensor *w = ag_requires_grad_(ag_randn(NULL, AG_FLOAT32, AG_SHAPE(1, 1)), true);
    ag_tensor *b = ag_requires_grad_(ag_randn(NULL, AG_FLOAT32, AG_SHAPE(1)), true);
    double eta = 0.01;
    int epochs = 100;

    for (int epoch = 0; epoch < epochs; epoch++) {
        ag_tensor *permutation = ag_randperm(NULL, x->shape[0]); /* torch.randperm(4) */
        for (int64_t k = 0; k < permutation->numel; k++) {       /* for i in permutation: */
            int64_t i = AG_I64(permutation)[k];
            ag_tensor *xi = ag_select(x, 0, i), *yi = ag_select(y, 0, i); /* x[i], y[i] */
            ag_tensor *y_pred = ag_add(ag_matmul(xi, w), b);     /* xi @ w + b */
            ag_tensor *loss = ag_mean(ag_pow_scalar(ag_sub(y_pred, yi), 2));
            ag_backward(loss);
            AG_NO_GRAD {
                ag_sub_(w, ag_mul_scalar(w->grad, eta));
                ag_sub_(b, ag_mul_scalar(b->grad, eta));
            }
            ag_zero_(w->grad);
            ag_zero_(b->grad);
            ag_tape_reset(NULL);
        }
        ag_tensor_free(permutation);
        if ((epoch + 1) % 10 == 0) { /* the loss over all four points */
            ag_tensor *y_pred = ag_add(ag_matmul(x, w), b);
            ag_tensor *loss = ag_mean(ag_pow_scalar(ag_sub(y_pred, y), 2));
            printf("Epoch %d: w = %.4f, b = %.4f, Loss = %.4f\n", epoch + 1, ag_item(w),
                   ag_item(b), ag_item(loss));
            ag_tape_reset(NULL);
        }
    }
    ag_tensor_free(x), ag_tensor_free(y), ag_tensor_free(w), ag_tensor_free(b);
    return 0;
}
