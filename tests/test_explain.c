/*
 * test_explain.c - looking inside: hooks, backward one node at a time, the narrated trace,
 * anomaly mode, "why is this grad empty?", provenance, the DOT picture, custom ops.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include "common.h"

#include <stdlib.h>

AG_TEST_SUITE(explain);

static ag_tensor *param(double a, double b) {
    return ag_requires_grad_(f64_tensor((const double[]){a, b}, AG_SHAPE(2)), true);
}

/* ---- hooks -------------------------------------------------------------------------------- */

static ag_tensor *double_it(ag_tensor *g, void *userdata) {
    ++*(int *)userdata;
    return ag_mul_scalar(g, 2);
}

static ag_tensor *look(ag_tensor *g, void *userdata) {
    *(double *)userdata = ag_get(g, 0);
    return NULL;
}

static void after(ag_tensor *leaf, void *userdata) { *(double *)userdata = ag_get(leaf->grad, 0); }

Test(explain, a_leaf_hook_sees_the_summed_gradient_once_and_may_replace_it) {
    ag_tensor *x = param(1, 2);
    int calls = 0;
    double seen_after = 0;
    ag_register_hook(x, double_it, &calls);
    ag_register_post_accumulate_grad_hook(x, after, &seen_after);
    /* x reaches the loss by two paths (3x and 4x): the hook runs once, on 7, and doubles it */
    ag_backward(ag_sum(ag_add(ag_mul_scalar(x, 3), ag_mul_scalar(x, 4))));
    cr_assert_eq(calls, 1);
    ASSERT_VALUES(x->grad, 0, 0, 14, 14);
    cr_assert_eq(seen_after, 14);
    ag_tensor_free(x);
}

Test(explain, a_non_leaf_hook_changes_what_flows_on) {
    ag_tensor *x = param(1, 2);
    ag_tensor *h = ag_mul_scalar(x, 3);
    double seen = 0;
    int calls = 0;
    ag_register_hook(h, look, &seen);
    ag_register_hook(h, double_it, &calls);
    ag_backward(ag_sum(ag_mul(h, h))); /* d/dh = 2h = 6x: seen 6; doubled, x gets 3 * 12x */
    cr_assert_eq(seen, 6);
    ASSERT_VALUES(x->grad, 0, 0, 36, 72);
    EXPECT_ERROR(ag_register_hook(ag_detach(x), look, NULL),
                 "cannot register a hook on a tensor that doesn't require gradient");
    ag_tensor_free(x);
}

/* ---- stepping and narration --------------------------------------------------------------- */

Test(explain, backward_one_node_at_a_time) {
    ag_tensor *w = param(2, 3), *x = f64_tensor((const double[]){5, 7}, AG_SHAPE(2));
    ag_tensor *loss = ag_sum(ag_mul(w, x));
    ag_backward_run *run = ag_backward_begin(loss, NULL, false);
    const ag_node *first = ag_backward_step(run);
    cr_assert_str_eq(ag_node_name(first), "SumBackward0");
    cr_assert_null(w->grad, "leaves are updated when the walk is over");
    const ag_node *second = ag_backward_step(run);
    cr_assert_str_eq(ag_node_name(second), "MulBackward0");
    cr_assert_eq(ag_node_ninputs(second), 2);
    cr_assert_eq(ag_node_input(second, 0), w);
    cr_assert(strstr(ag_node_file(second), "test_explain.c") != NULL);
    cr_assert_null(ag_backward_step(run));
    ASSERT_VALUES(w->grad, 0, 0, 5, 7);
    ag_backward_end(run);
    ag_tensor_free(w), ag_tensor_free(x);
}

Test(explain, the_trace_narrates_the_seed_step) {
    ag_tensor *x = AG_TENSOR(1, 2, 3, 4), *y = AG_TENSOR(2, 4, 6, 8);
    ag_tensor *w = ag_set_name(ag_requires_grad_(ag_scalar(0, AG_FLOAT32), true), "w");
    ag_tensor *b = ag_set_name(ag_requires_grad_(ag_scalar(0, AG_FLOAT32), true), "b");
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    ag_set_backward_trace(out);
    ag_backward(ag_mean(ag_pow_scalar(ag_sub(ag_add(ag_mul(w, x), b), y), 2)));
    ag_set_backward_trace(NULL);
    fclose(out);
    cr_assert(strstr(text, "MeanBackward0") && strstr(text, "PowBackward0") &&
                  strstr(text, "MulBackward0"),
              "%s", text);
    cr_assert(strstr(text, "input 0 (w) += -30") != NULL, "%s", text);
    cr_assert(strstr(text, "input 1 (b) += -10") != NULL, "%s", text);
    cr_assert(strstr(text, "leaf w: grad = -30") != NULL, "%s", text);
    free(text);
    ag_tensor_free(x), ag_tensor_free(y), ag_tensor_free(w), ag_tensor_free(b);
}

/* ---- anomaly mode ------------------------------------------------------------------------- */

Test(explain, anomaly_mode_names_the_op_that_made_a_nan) {
    ag_tensor *x = param(-1, 2);
    ag_tensor *quiet = ag_log(x); /* off: nan passes silently, as in torch */
    cr_assert(isnan(ag_get(quiet, 0)));
    ag_set_detect_anomaly(true);
    EXPECT_ERROR(ag_log(x), "Function 'LogBackward0' (recorded at");
    cr_assert(strstr(ag_last_error(), "returned nan values in its forward output") != NULL);
    /* backward: sqrt'(0) = inf */
    ag_tensor *z = param(0, 4);
    ag_tensor *loss = ag_sum(ag_sqrt(z));
    EXPECT_ERROR(ag_backward(loss), "Function 'SqrtBackward0'");
    cr_assert(strstr(ag_last_error(), "returned inf values in its backward output") != NULL);
    cr_assert_null(z->grad, "a failed backward leaves .grad untouched");
    ag_set_detect_anomaly(false);
    ag_tensor_free(x), ag_tensor_free(z);
}

/* ---- why is this grad empty? -------------------------------------------------------------- */

Test(explain, why_is_this_grad_empty) {
    char why[400];
    ag_tensor *w = param(1, 2), *unused = param(3, 4), *plain = ag_ones(AG_FLOAT64, AG_SHAPE(2));
    ag_tensor *h = ag_mul(w, w);
    ag_tensor *d = ag_detach(w);
    ag_tensor *nograd;
    AG_NO_GRAD { nograd = ag_mul(w, w); }
    ag_tensor *loss = ag_sum(ag_add(ag_add(h, d), nograd));
    cr_assert(strstr(ag_explain_grad(loss, w, why, sizeof why), "backward has not reached it"),
              "%s", why);
    ag_backward(loss);
    cr_assert(strstr(ag_explain_grad(loss, w, why, sizeof why), "it has a gradient"), "%s", why);
    cr_assert(strstr(ag_explain_grad(loss, unused, why, sizeof why), "never used"), "%s", why);
    cr_assert(strstr(ag_explain_grad(loss, plain, why, sizeof why), "does not require grad"),
              "%s", why);
    cr_assert(strstr(ag_explain_grad(loss, h, why, sizeof why), "not a leaf (made by "
                                                                 "MulBackward0 at"),
              "%s", why);
    cr_assert(strstr(ag_explain_grad(loss, d, why, sizeof why), "made by ag_detach"), "%s", why);
    cr_assert(strstr(ag_explain_grad(loss, nograd, why, sizeof why),
                     "computed while grad mode was off (at"),
              "%s", why);
    cr_assert(strstr(why, "test_explain.c:") != NULL, "%s", why);
    ag_set_grad_none(w);
    cr_assert(strstr(ag_explain_grad(loss, w, why, sizeof why), "set to None by "
                                                                 "ag_set_grad_none (at"),
              "%s", why);
    ag_tensor_free(w), ag_tensor_free(unused), ag_tensor_free(plain);
}

/* ---- provenance and pictures -------------------------------------------------------------- */

Test(explain, nodes_and_errors_name_the_callers_line) {
    ag_tensor *w = param(1, 2);
    int line = __LINE__ + 1;
    ag_tensor *y = ag_mul(w, w);
    cr_assert_eq(ag_node_line(y->grad_fn), line);
    cr_assert(strstr(ag_node_file(y->grad_fn), "test_explain.c") != NULL);
    cr_assert_str_eq(ag_node_rule(y->grad_fn), "da = g * b, db = g * a");
    ag_tensor *bad = ag_ones(AG_FLOAT64, AG_SHAPE(3));
    char expected[64];
    snprintf(expected, sizeof expected, "test_explain.c:%d: add:", __LINE__ + 1);
    EXPECT_ERROR(ag_add(w, bad), expected);
    ag_tensor_free(w), ag_tensor_free(bad);
}

Test(explain, the_graph_as_dot) {
    ag_tensor *w = ag_set_name(param(1, 2), "w");
    ag_tensor *x = ag_set_name(f64_tensor((const double[]){3, 4}, AG_SHAPE(2)), "x");
    ag_tensor *loss = ag_set_name(ag_sum(ag_mul(w, x)), "loss");
    ag_backward_with(loss, NULL, true);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    cr_assert_eq(ag_graph_dot(loss, out), 0);
    fclose(out);
    cr_assert(strstr(text, "digraph autograd") && strstr(text, "MulBackward0") &&
                  strstr(text, "SumBackward0"),
              "%s", text);
    cr_assert(strstr(text, "w [2] f64\\ndata [1, 2]\\ngrad [3, 4]") != NULL, "%s", text);
    cr_assert(strstr(text, "x [2] f64") != NULL, "%s", text);
    free(text);
    cr_assert_eq(ag_graph_dot_file(loss, "/nonexistent-dir/g.dot"), -1);
    cr_assert(strstr(ag_last_error(), "cannot open /nonexistent-dir/g.dot") != NULL);
    ag_tensor_free(w), ag_tensor_free(x);
}

/* ---- custom ops: swish(x) = x sigmoid(x) -------------------------------------------------- */

static ag_tensor *swish_forward(ag_ctx *ctx, ag_tensor *const *in, int n) {
    (void)n;
    ag_ctx_save(ctx, in[0]);
    return ag_mul(in[0], ag_sigmoid(in[0]));
}

/* d/dx x s(x) = s(x) + x s(x) (1 - s(x)) */
static void swish_backward(ag_ctx *ctx, ag_tensor *g, ag_tensor **grads, int n) {
    (void)n;
    ag_tensor *x = ag_ctx_saved(ctx, 0);
    ag_tensor *s = ag_sigmoid(x);
    ag_tensor *local = ag_add(s, ag_mul(x, ag_mul(s, ag_rsub_scalar(1, s))));
    if (ag_ctx_needs_grad(ctx, 0)) grads[0] = ag_mul(g, local);
}

static const ag_custom_op swish = {
    .name = "SwishBackward",
    .rule = "dx = g (s + x s (1 - s))",
    .forward = swish_forward,
    .backward = swish_backward,
};

static ag_tensor *apply_swish(ag_tensor *const *in, void *ctx) {
    (void)ctx;
    return ag_apply(&swish, in, 1);
}

Test(explain, a_custom_op_is_one_node_and_passes_gradcheck) {
    ag_tensor *x = ag_requires_grad_(
        f64_tensor((const double[]){-2, -0.5, 0, 1.5, 3}, AG_SHAPE(5)), true);
    ag_tensor *y = ag_apply(&swish, &x, 1);
    cr_assert_str_eq(ag_grad_fn_name(y), "SwishBackward");
    cr_assert_eq(ag_node_input(y->grad_fn, 0), x, "one node, straight from x");
    ASSERT_VALUES(y, 1e-12, 0, -2 / (1 + exp(2)), -0.5 / (1 + exp(0.5)), 0, 1.5 / (1 + exp(-1.5)),
                  3 / (1 + exp(-3)));
    assert_gradcheck(apply_swish, NULL, &x, 1);
    ag_tensor_free(x);
}
