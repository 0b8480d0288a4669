/*
 * explain_linreg.c - tutorial step 3: the seed's Step-by-Step Calculation, done by the engine.
 *
 * gradient-descent.md fits y = w x + b to (1,2), (2,4), (3,6), (4,8) and works the first
 * step by hand: at w = b = 0 the gradients are dL/dw = -30 and dL/db = -10, and with
 * eta = 0.01 the update gives w = 0.3 and b = 0.1. This program runs that step with the
 * narrated backward on: every node says what arrives, its local rule, and what it passes on,
 * and the leaves end with the seed's -30 and -10.
 *
 *     build/examples/explain_linreg              narrate the first step
 *     build/examples/explain_linreg --dot FILE   also write the graph (after backward) as DOT
 */
#include "autograd/autograd.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *dot = argc == 3 && strcmp(argv[1], "--dot") == 0 ? argv[2] : NULL;
    if (argc != 1 && !dot) {
        fprintf(stderr, "usage: %s [--dot FILE]\n", argv[0]);
        return 2;
    }
    ag_tensor *x = ag_set_name(AG_TENSOR(1.0, 2.0, 3.0, 4.0), "x");
    ag_tensor *y = ag_set_name(AG_TENSOR(2.0, 4.0, 6.0, 8.0), "y");
    ag_tensor *w = ag_set_name(ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true), "w");
    ag_tensor *b = ag_set_name(ag_requires_grad_(ag_scalar(0.0, AG_FLOAT32), true), "b");
    double eta = 0.01;

    printf("Step 1. predictions  y_pred = w x + b = 0 for every x\n");
    ag_tensor *y_pred = ag_set_name(ag_add(ag_mul(w, x), b), "y_pred");
    ag_tensor *loss = ag_set_name(ag_mean(ag_pow_scalar(ag_sub(y_pred, y), 2)), "loss");
    printf("        loss = mean((y_pred - y)^2) = (4 + 16 + 36 + 64) / 4 = %g\n\n",
           ag_item(loss));

    printf("Steps 2-4. gradients, by the chain rule, node by node from the loss:\n");
    ag_set_backward_trace(stdout);
    ag_backward_with(loss, NULL, dot != NULL); /* keep the graph if it is to be drawn */
    ag_set_backward_trace(NULL);
    printf("\n        dL/dw = %g   (the seed: -1/2 * sum x_i y_i = -30)\n", ag_item(w->grad));
    printf("        dL/db = %g   (the seed: -1/2 * sum y_i = -10)\n\n", ag_item(b->grad));

    if (dot) {
        if (ag_graph_dot_file(loss, dot) != 0) {
            fprintf(stderr, "explain_linreg: %s\n", ag_last_error());
            return 1;
        }
        printf("        (graph written to %s)\n\n", dot);
    }
    printf("Step 5. update  w = w - eta dL/dw,  b = b - eta dL/db  (eta = %g)\n", eta);
    AG_NO_GRAD {
        ag_sub_(w, ag_mul_scalar(w->grad, eta));
        ag_sub_(b, ag_mul_scalar(b->grad, eta));
    }
    printf("        w = %.4g, b = %.4g   (the seed: w = 0.3, b = 0.1)\n", ag_item(w), ag_item(b));

    ag_tape_reset(NULL);
    ag_tensor_free(x), ag_tensor_free(y), ag_tensor_free(w), ag_tensor_free(b);
    return 0;
}
