/*
 * mlp.c - tutorial step 6: a small neural network learns a pattern no line can separate.
 *
 * 200 random points in the plane; a point is class 1 when x0 * x1 > 0 (the quadrants of
 * XOR), else class 0. A linear model cannot do better than guessing here; a two-layer
 * network (2 -> 16 -> 2 with a ReLU between) can, because the hidden layer bends the plane.
 * The program trains it with SGD and momentum on cross-entropy, printing the loss and the
 * accuracy every 50 epochs: what PyTorch prints for the same network, seed and data
 * (examples/mlp.py is the twin; tests/expected/mlp.txt is its output).
 */
#include "nn/nn.h"

#include <stdio.h>

enum { POINTS = 200, EPOCHS = 300 };

int main(void) {
    ag_manual_seed(0);
    ag_tensor *x = ag_randn(NULL, AG_FLOAT32, AG_SHAPE(POINTS, 2)); /* torch.randn(200, 2) */
    ag_tensor *labels = ag_empty(AG_INT64, AG_SHAPE(POINTS));
    for (int i = 0; i < POINTS; i++) /* labels = (x[:, 0] * x[:, 1] > 0) */
        AG_I64(labels)[i] = AG_F32(x)[2 * i] * AG_F32(x)[2 * i + 1] > 0;

    /* One statement per layer: C does not fix the order in which the expressions of a brace
     * initializer run, and each layer draws its initial weights from the generator. */
    ag_module *hidden = ag_linear_module(2, 16, true, NULL);
    ag_module *relu = ag_relu_module();
    ag_module *out = ag_linear_module(16, 2, true, NULL);
    ag_sequential *model = ag_sequential_new(3, (ag_module *[]){hidden, relu, out});
    int n;
    ag_tensor *const *params = ag_sequential_parameters(model, &n);
    ag_optimizer *opt = ag_sgd(params, n, (ag_sgd_options){.lr = 0.1, .momentum = 0.9});

    for (int epoch = 1; epoch <= EPOCHS; epoch++) {
        ag_optimizer_zero_grad(opt, true);
        ag_tensor *logits = ag_sequential_forward(model, x);
        ag_tensor *loss = ag_cross_entropy(logits, labels, AG_REDUCTION_MEAN);
        ag_backward(loss);
        ag_optimizer_step(opt);
        if (epoch % 50 == 0) {
            ag_tensor *predicted = ag_argmax_dim(logits, 1, false);
            int correct = 0;
            for (int i = 0; i < POINTS; i++)
                correct += AG_I64(predicted)[i] == AG_I64(labels)[i];
            printf("epoch %3d  loss %.4f  accuracy %.1f%%\n", epoch, ag_item(loss),
                   100.0 * correct / POINTS);
        }
        ag_tape_reset(NULL);
    }
    ag_optimizer_free(opt);
    ag_sequential_free(model);
    ag_tensor_free(x), ag_tensor_free(labels);
    return 0;
}
