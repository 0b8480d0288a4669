/*
 * gradcheck.c - checking backward against finite differences, as torch.autograd.gradcheck.
 *
 * The Jacobian J[j][k] = d out_j / d in_k is computed twice: row by row by backward (seeding
 * output j with 1 and reading every input's .grad), and column by column by central
 * differences (nudging input k by +-eps and watching every output). Both run on a private
 * tape, so the caller's graph is untouched.
 */
#include "autograd/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* f's outputs as doubles, with grad mode off, on the current tape. */
static ag_tensor *evaluate(ag_function f, void *ctx, ag_tensor *const *inputs) {
    bool mode = ag_set_grad_enabled(false);
    ag_tensor *y = f(inputs, ctx);
    ag_set_grad_enabled(mode);
    return y;
}


bool ag_gradcheck(ag_function f, void *ctx, ag_tensor *const *inputs, int ninputs, double eps,
                  double atol, double rtol, ag_gradcheck_report *report) {
    ag_gradcheck_report worst = {.ok = true, .input = -1};
    if (!f || !inputs || ninputs <= 0) {
        AG_ERROR("gradcheck", "needs a function and at least one input");
        return false;
    }
    for (int i = 0; i < ninputs; i++)
        if (!ag_check_tensor("gradcheck", inputs[i], "inputs")) return false;

    ag_tape *tape = ag_tape_new();
    if (!tape) return false;
    ag_tape *previous = ag_tape_use(tape);
    ag_tensor **saved_grads = calloc((size_t)ninputs, sizeof *saved_grads);
    for (int i = 0; i < ninputs; i++) { /* the caller's .grad stays theirs */
        saved_grads[i] = inputs[i]->grad;
        inputs[i]->grad = NULL;
    }

    ag_tensor *y = f(inputs, ctx);
    int64_t m = y ? y->numel : 0;
    for (int i = 0; i < ninputs && y; i++) {
        ag_tensor *x = inputs[i];
        if (!x->requires_grad || !ag_is_floating(x->dtype)) continue;
        /* analytic[j * n + k] = d y_j / d x_k, row j from a backward seeded at j */
        int64_t n = x->numel;
        double *analytic = calloc((size_t)(m * n) + 1, sizeof *analytic);
        ag_tensor *seed = ag_result_like(y);
        for (int64_t j = 0; j < m && y->requires_grad; j++) {
            memset(seed->data, 0, (size_t)m * ag_dtype_size(seed->dtype));
            ag_float_set(seed, j, 1.0);
            ag_set_grad_none(x);
            ag_backward_with(y, seed, true);
            for (int64_t k = 0; k < n && x->grad; k++) analytic[j * n + k] = ag_get(x->grad, k);
        }
        ag_set_grad_none(x);
        double *plus = calloc((size_t)m + 1, sizeof *plus);
        for (int64_t k = 0; k < n; k++) {
            double v = ag_get(x, k);
            /* f(x + eps) is read out before x changes again: f may return a view of x. */
            ag_float_set(x, k, v + eps);
            ag_tensor *y_plus = evaluate(f, ctx, inputs);
            for (int64_t j = 0; j < m && y_plus; j++) plus[j] = ag_get(y_plus, j);
            ag_float_set(x, k, v - eps);
            ag_tensor *y_minus = evaluate(f, ctx, inputs);
            for (int64_t j = 0; j < m && y_plus && y_minus; j++) {
                double numeric = (plus[j] - ag_get(y_minus, j)) / (2 * eps);
                double a = analytic[j * n + k], err = fabs(a - numeric);
                double rel = err / (fabs(numeric) > 0 ? fabs(numeric) : 1.0);
                bool bad = !(err <= atol + rtol * fabs(numeric));
                if ((bad && worst.ok) || (bad == !worst.ok && err > worst.abs_error) ||
                    worst.input < 0) {
                    worst = (ag_gradcheck_report){.ok = !bad, .input = i, .input_index = k,
                                                  .output_index = j, .analytic = a,
                                                  .numeric = numeric, .abs_error = err,
                                                  .rel_error = rel};
                }
            }
            ag_float_set(x, k, v);
        }
        free(plus);
        free(analytic);
    }
    if (!y) worst.ok = false;
    snprintf(worst.message, sizeof worst.message,
             "%s: worst entry d out[%lld] / d input%d[%lld]: analytic %.10g, numeric %.10g, "
             "abs error %.3g, rel error %.3g",
             worst.ok ? "gradcheck passed" : "gradcheck FAILED", (long long)worst.output_index,
             worst.input, (long long)worst.input_index, worst.analytic, worst.numeric,
             worst.abs_error, worst.rel_error);

    for (int i = 0; i < ninputs; i++) {
        ag_set_grad_none(inputs[i]);
        inputs[i]->grad = saved_grads[i];
    }
    free(saved_grads);
    ag_tape_use(previous);
    ag_tape_free(tape);
    if (report) *report = worst;
    return worst.ok;
}
