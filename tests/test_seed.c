/*
 * test_seed.c - the seed document's numbers, computed by the engine.
 *
 * gradient-descent.md works the first step by hand: at w = b = 0 on x = 1..4, y = 2x,
 * dL/dw = -30 and dL/db = -10, and with eta = 0.01 the update gives w = 0.3, b = 0.1.
 * Its PyTorch loop then prints w, b and the loss every ten epochs.
 */
#include "common.h"

AG_TEST_SUITE(seed);

Test(seed, first_step_by_hand) {
    ag_tensor *x = AG_TENSOR(1, 2, 3, 4), *y = AG_TENSOR(2, 4, 6, 8);
    ag_tensor *w = ag_requires_grad_(ag_scalar(0, AG_FLOAT32), true);
    ag_tensor *b = ag_requires_grad_(ag_scalar(0, AG_FLOAT32), true);
    ag_tensor *loss = ag_mean(ag_pow_scalar(ag_sub(ag_add(ag_mul(w, x), b), y), 2));
    ASSERT_VALUES(loss, 0, 0, 30.0); /* (4 + 16 + 36 + 64) / 4 */
    ag_backward(loss);
    ASSERT_VALUES(w->grad, 0, 0, -30.0);
    ASSERT_VALUES(b->grad, 0, 0, -10.0);
    AG_NO_GRAD {
        ag_sub_(w, ag_mul_scalar(w->grad, 0.01));
        ag_sub_(b, ag_mul_scalar(b->grad, 0.01));
    }
    ASSERT_VALUES(w, 1e-7, 0, 0.3);
    ASSERT_VALUES(b, 1e-7, 0, 0.1);
    ag_tensor_free(x), ag_tensor_free(y), ag_tensor_free(w), ag_tensor_free(b);
}

Test(seed, hundred_epochs_match_pytorch) {
    /* The seed's printed lines, epoch 10 to 100: w, b, loss to four places. */
    static const double printed[10][3] = {
        {1.5104, 0.4936, 1.1751}, {1.7583, 0.5584, 0.0843}, {1.8030, 0.5547, 0.0529},
        {1.8149, 0.5404, 0.0492}, {1.8213, 0.5248, 0.0463}, {1.8267, 0.5093, 0.0436},
        {1.8319, 0.4943, 0.0410}, {1.8369, 0.4797, 0.0387}, {1.8417, 0.4655, 0.0364},
        {1.8463, 0.4518, 0.0343},
    };
    ag_tensor *x = AG_TENSOR(1, 2, 3, 4), *y = AG_TENSOR(2, 4, 6, 8);
    ag_tensor *w = ag_requires_grad_(ag_scalar(0, AG_FLOAT32), true);
    ag_tensor *b = ag_requires_grad_(ag_scalar(0, AG_FLOAT32), true);
    for (int epoch = 0; epoch < 100; epoch++) {
        ag_tensor *loss = ag_mean(ag_pow_scalar(ag_sub(ag_add(ag_mul(w, x), b), y), 2));
        ag_backward(loss);
        AG_NO_GRAD {
            ag_sub_(w, ag_mul_scalar(w->grad, 0.01));
            ag_sub_(b, ag_mul_scalar(b->grad, 0.01));
        }
        ag_zero_(w->grad);
        ag_zero_(b->grad);
        if ((epoch + 1) % 10 == 0) {
            char got[64], want[64];
            const double *p = printed[epoch / 10];
            snprintf(got, sizeof got, "%.4f %.4f %.4f", ag_item(w), ag_item(b), ag_item(loss));
            snprintf(want, sizeof want, "%.4f %.4f %.4f", p[0], p[1], p[2]);
            cr_assert_str_eq(got, want, "epoch %d", epoch + 1);
        }
        ag_tape_reset(NULL);
    }
    ag_tensor_free(x), ag_tensor_free(y), ag_tensor_free(w), ag_tensor_free(b);
}
