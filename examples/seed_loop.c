/*
 * seed_loop.c - the first training loop of gradient-descent.md, line for line in C.
 *
 * Fits y = w x + b to four points by full-batch gradient descent and prints, every ten
 * epochs, exactly what the PyTorch original prints. Each C line carries the Python line it
 * stands for.
 */
#include "autograd/autograd.h"

#include <stdio.h>

int main(void) {
    /* Data */
    ag_tensor *x = AG_TENSOR(1.0, 2.0, 3.0, 4.0);  /* x = torch.tensor([1.0, 2.0, 3.0, 4.0]) */
    ag_tensor *y = AG_TENSOR(2.0, 4.0, 6.0, 8.0);  /* y = torch.tensor([2.0, 4.0, 6.0, 8.0]) */

    /* Parameters: w = torch.tensor(0.0, requires_grad=True), and b likewise */
    ag_tensor *w = ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true);
    ag_tensor *b = ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true);

    double eta = 0.01; /* Learning rate */
    int epochs = 100;  /* Number of epochs */

    for (int epoch = 0; epoch < epochs; epoch++) {
        /* Forward pass: compute predicted y */
        ag_tensor *y_pred = ag_add(ag_mul(w, x), b);                /* y_pred = w * x + b */
        /* Compute and print loss */
        ag_tensor *loss = ag_mean(ag_pow_scalar(ag_sub(y_pred, y), 2)); /* ((y_pred-y)**2).mean() */
        /* Backward pass */
        ag_backward(loss);                                          /* loss.backward() */
        /* Update parameters */
        AG_NO_GRAD {                                                /* with torch.no_grad(): */
            ag_sub_(w, ag_mul_scalar(w->grad, eta));                /*   w -= eta * w.grad */
            ag_sub_(b, ag_mul_scalar(b->grad, eta));                /*   b -= eta * b.grad */
        }
        /* Zero gradients */
        ag_zero_(w->grad);                                          /* w.grad.zero_() */
        ag_zero_(b->grad);                                          /* b.grad.zero_() */
        /* Print progress */
        if ((epoch + 1) % 10 == 0)
            printf("Epoch %d: w = %.4f, b = %.4f, Loss = %.4f\n", epoch + 1, ag_item(w),
                   ag_item(b), ag_item(loss));
        /* What the ops of this step returned belongs to the tape: release it all at once. */
        ag_tape_reset(NULL);
    }
    ag_tensor_free(x);
    ag_tensor_free(y);
    ag_tensor_free(w);
    ag_tensor_free(b);
    return 0;
}
