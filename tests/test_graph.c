/*
 * test_graph.c - the tape and backward: accumulation, zeroing, no-grad, retain_graph, the
 * second-backward and version-counter errors, fan-out, in-place ops, explicit tapes, and a
 * chain of a million nodes. Expected values are worked by hand in the comments; the error
 * texts are PyTorch 1.13's.
 */
#include "common.h"

#include <pthread.h>

AG_TEST_SUITE(graph);

static ag_tensor *param(double a, double b) {
    return ag_requires_grad_(f64_tensor((const double[]){a, b}, AG_SHAPE(2)), true);
}

Test(graph, fan_out_through_two_different_nodes) {
    /* sum(x*y + x*z): x feeds two different muls, so x.grad = y + z (an `=` where `+=` belongs
     * would give only one of them). */
    ag_tensor *x = param(1, 2), *y = param(3, 4), *z = param(5, 7);
    ag_backward(ag_sum(ag_add(ag_mul(x, y), ag_mul(x, z))));
    ASSERT_VALUES(x->grad, 0, 0, 8, 11);
    ASSERT_VALUES(y->grad, 0, 0, 1, 2);
    ASSERT_VALUES(z->grad, 0, 0, 1, 2);
    ag_tensor_free(x), ag_tensor_free(y), ag_tensor_free(z);
}

Test(graph, shared_weight_used_twice_in_a_chain) {
    /* h = w*x; out = sum(w*h) = sum(w^2 x): d/dw = 2 w x */
    ag_tensor *w = param(2, 3), *x = f64_tensor((const double[]){5, 7}, AG_SHAPE(2));
    ag_backward(ag_sum(ag_mul(w, ag_mul(w, x))));
    ASSERT_VALUES(w->grad, 0, 0, 20, 42);
    ag_tensor_free(w), ag_tensor_free(x);
}

Test(graph, gradients_accumulate_until_zeroed_or_set_to_none) {
    ag_tensor *x = param(1, 2);
    ag_backward(ag_sum(ag_mul_scalar(x, 3)));
    ASSERT_VALUES(x->grad, 0, 0, 3, 3);
    ag_backward(ag_sum(ag_mul_scalar(x, 4))); /* a new graph: grads add up */
    ASSERT_VALUES(x->grad, 0, 0, 7, 7);
    ag_tensor *g = x->grad;
    ag_zero_(x->grad); /* zeroed in place: the same tensor */
    cr_assert_eq(x->grad, g);
    ASSERT_VALUES(x->grad, 0, 0, 0, 0);
    ag_backward(ag_sum(ag_mul_scalar(x, 2)));
    ASSERT_VALUES(x->grad, 0, 0, 2, 2);
    ag_set_grad_none(x);
    cr_assert_null(x->grad);
    ag_backward(ag_sum(x));
    ASSERT_VALUES(x->grad, 0, 0, 1, 1);
    ag_tensor_free(x);
}

/* A first gradient is taken as it is, a later one added: in torch 1.13,
 *     x = torch.tensor([1., 2.], requires_grad=True); (x * -0.0).sum().backward()
 * leaves x.grad = [-0., -0.] (and so does a retained y.grad), while after x.grad.zero_() the
 * same backward gives [0., 0.] (0 + -0 is +0). */
Test(graph, a_first_gradient_keeps_its_negative_zeros_as_torch) {
    ag_tensor *x = param(1, 2);
    ag_backward(ag_sum(ag_mul_scalar(x, -0.0)));
    cr_assert(signbit(AG_F64(x->grad)[0]) && signbit(AG_F64(x->grad)[1]));
    ag_set_grad_none(x);
    ag_tensor *y = ag_mul_scalar(x, 1.0);
    ag_retain_grad(y);
    ag_backward(ag_sum(ag_mul_scalar(y, -0.0)));
    cr_assert(signbit(AG_F64(x->grad)[0]) && signbit(AG_F64(y->grad)[1]));
    ag_zero_(x->grad);
    ag_backward(ag_sum(ag_mul_scalar(x, -0.0)));
    ASSERT_VALUES(x->grad, 0, 0, 0, 0);
    cr_assert(!signbit(AG_F64(x->grad)[0]) && !signbit(AG_F64(x->grad)[1]));
    ag_tensor_free(x);
}

/* ag_set_grad_none keeps the memory of a user-owned .grad, and the next backward fills it: the
 * same tensor comes back, holding what a fresh one would (g itself, -0s included, as torch's
 * first gradient; a gradient broadcast over rows summed down), and a leaf no backward reaches
 * keeps .grad NULL. */
Test(graph, set_to_none_reuses_the_memory_with_fresh_values) {
    ag_tensor *x = param(1, 2), *unused = param(1, 2);
    ag_backward(ag_sum(ag_mul_scalar(x, 3)));
    ag_tensor *g = x->grad;
    ag_set_grad_none(x), ag_set_grad_none(unused);
    cr_assert_null(x->grad);
    ag_backward(ag_sum(ag_mul_scalar(x, -0.0))); /* each element's gradient is -0 */
    cr_assert_eq(x->grad, g, "the dropped gradient's memory is filled again");
    ASSERT_VALUES(x->grad, 0, 0, 0, 0);
    cr_assert(signbit(AG_F64(x->grad)[0]) && signbit(AG_F64(x->grad)[1]), "-0, as torch's");
    ag_set_grad_none(x);
    ag_tensor *rows = f64_tensor((const double[]){1, 2, 3, 4, 5, 6}, AG_SHAPE(3, 2));
    ag_backward(ag_sum(ag_mul(ag_add(x, rows), rows))); /* x broadcast over 3 rows */
    cr_assert_eq(x->grad, g);
    ASSERT_VALUES(x->grad, 0, 0, 9, 12);
    cr_assert_null(unused->grad, "no backward reached it");
    ag_tensor_free(x), ag_tensor_free(unused), ag_tensor_free(rows);
}

/* A thread that records on its own default tape and exits frees that tape's memory (with the
 * thread: the sanitizers' leak check, in `make test-asan`, fails this test otherwise). */
static void *backward_on_a_thread(void *out) {
    ag_tensor *x = param(1, 2);
    ag_backward(ag_sum(ag_mul(x, x)));
    *(double *)out = AG_F64(x->grad)[1];
    ag_tensor_free(x);
    return NULL;
}

Test(graph, a_threads_default_tape_is_freed_when_it_exits) {
    pthread_t thread;
    double grad = 0;
    cr_assert_eq(pthread_create(&thread, NULL, backward_on_a_thread, &grad), 0);
    cr_assert_eq(pthread_join(thread, NULL), 0);
    cr_assert_eq(grad, 4.0, "d(x.x)/dx = 2x at x = 2");
}

Test(graph, no_grad_records_nothing_and_nests) {
    ag_tensor *x = param(1, 2);
    int64_t before = ag_tape_size(NULL);
    AG_NO_GRAD {
        ag_tensor *y = ag_mul(x, x);
        cr_assert(!y->requires_grad);
        cr_assert_null(y->grad_fn);
        cr_assert(ag_is_leaf(y));
        AG_NO_GRAD { cr_assert(!ag_is_grad_enabled()); }
        cr_assert(!ag_is_grad_enabled(), "the inner block must restore the outer mode");
        AG_ENABLE_GRAD {
            cr_assert(ag_is_grad_enabled());
            cr_assert(ag_mul(x, x)->requires_grad);
        }
        cr_assert(!ag_is_grad_enabled());
    }
    cr_assert(ag_is_grad_enabled());
    cr_assert_eq(ag_tape_size(NULL), before + 1, "only the AG_ENABLE_GRAD op is recorded");
    ag_tensor *y = ag_mul(x, x);
    cr_assert(y->requires_grad);
    cr_assert_str_eq(ag_grad_fn_name(y), "MulBackward0");
    ag_tensor_free(x);
}

Test(graph, retain_graph_allows_a_second_backward) {
    ag_tensor *x = param(1, 2);
    ag_tensor *loss = ag_sum(ag_mul(x, x)); /* d/dx = 2x */
    ag_backward_with(loss, NULL, true);
    ag_backward_with(loss, NULL, false);
    ASSERT_VALUES(x->grad, 0, 0, 4, 8);
    EXPECT_ERROR(ag_backward(loss), "Trying to backward through the graph a second time");
    ag_tensor_free(x);
}

Test(graph, second_backward_without_saved_tensors_is_allowed) {
    /* add and sum save nothing, so torch lets their graph run twice */
    ag_tensor *x = param(1, 2);
    ag_tensor *loss = ag_sum(ag_add(x, x));
    ag_backward(loss);
    ag_backward(loss);
    ASSERT_VALUES(x->grad, 0, 0, 4, 4);
    ag_tensor_free(x);
}

Test(graph, in_place_change_of_a_saved_tensor_fails_backward) {
    ag_tensor *x = param(1, 2), *w = param(3, 4);
    ag_tensor *loss = ag_sum(ag_mul(w, x)); /* mul saved w at version 0 */
    AG_NO_GRAD { ag_add_scalar_(w, 1); }
    cr_assert_eq(w->version, 1);
    EXPECT_ERROR(ag_backward(loss), "one of the variables needed for gradient computation has "
                                    "been modified by an inplace operation: "
                                    "[torch.DoubleTensor [2]] is at version 1; expected version 0");
    cr_assert(ag_is_grad_enabled(), "grad mode is restored after an error");
    ag_tensor_free(x), ag_tensor_free(w);
}

Test(graph, in_place_on_a_leaf_that_requires_grad) {
    ag_tensor *w = param(1, 2);
    EXPECT_ERROR(ag_add_scalar_(w, 1),
                 "a leaf Variable that requires grad is being used in an in-place operation.");
    ASSERT_VALUES(w, 0, 0, 1, 2); /* unchanged */
    AG_NO_GRAD { ag_add_scalar_(w, 1); }
    ASSERT_VALUES(w, 0, 0, 2, 3);
    ag_tensor_free(w);
}

Test(graph, in_place_on_a_non_leaf_keeps_its_history) {
    /* a = 2x; a += y; a *= x  ->  a = (2x + y) x; d/dx = 4x + y, d/dy = x (torch agrees) */
    ag_tensor *x = param(1, 2), *y = param(3, 4);
    ag_tensor *a = ag_mul_scalar(x, 2);
    ag_add_(a, y);
    cr_assert_str_eq(ag_grad_fn_name(a), "AddBackward0");
    ag_mul_(a, x);
    cr_assert_str_eq(ag_grad_fn_name(a), "MulBackward0");
    ASSERT_VALUES(a, 0, 0, 5, 16);
    ag_backward(ag_sum(a));
    ASSERT_VALUES(x->grad, 0, 0, 7, 12);
    ASSERT_VALUES(y->grad, 0, 0, 1, 2);
    ag_tensor_free(x), ag_tensor_free(y);
}

Test(graph, in_place_on_a_plain_tensor_with_a_grad_operand) {
    /* t (no grad) += w makes t part of the graph until the tape is reset */
    ag_tensor *t = ag_zeros(AG_FLOAT64, AG_SHAPE(2)), *w = param(1, 2);
    ag_add_(t, w);
    cr_assert(t->requires_grad);
    cr_assert(!ag_is_leaf(t));
    ag_backward(ag_sum(ag_mul(t, t))); /* d/dw = 2w */
    ASSERT_VALUES(w->grad, 0, 0, 2, 4);
    ag_tape_reset(NULL);
    cr_assert(ag_is_leaf(t));
    cr_assert(!t->requires_grad);
    ag_tensor_free(t), ag_tensor_free(w);
}

Test(graph, in_place_after_a_use_keeps_that_use_s_gradient) {
    /* loss = sum(y) was recorded before y += 1 gave y a new grad_fn: the gradient of that
     * sum still reaches x through the node that made y then (torch gives [2, 2]). */
    ag_tensor *x = param(1, 2);
    ag_tensor *y = ag_mul_scalar(x, 2);
    ag_tensor *loss = ag_sum(y);
    ag_add_scalar_(y, 1);
    ag_backward(loss);
    ASSERT_VALUES(x->grad, 0, 0, 2, 2);
    ag_tensor_free(x);
}

Test(graph, an_empty_broadcast_adds_nothing) {
    /* x (3,4) + e (0,3,4) is empty: x's gradient is zeros (torch agrees) */
    ag_tensor *x = ag_requires_grad_(ag_ones(AG_FLOAT64, AG_SHAPE(3, 4)), true);
    ag_tensor *e = ag_zeros(AG_FLOAT64, AG_SHAPE(0, 3, 4));
    ag_backward(ag_sum(ag_add(x, e)));
    ASSERT_VALUES(x->grad, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    ag_tensor_free(x), ag_tensor_free(e);
}

Test(graph, saved_output_changed_in_place) {
    /* pow saves its input: changing that input in place must be caught */
    ag_tensor *x = param(1, 2);
    ag_tensor *y = ag_mul_scalar(x, 1);
    ag_tensor *loss = ag_sum(ag_pow_scalar(y, 2));
    AG_NO_GRAD { ag_mul_scalar_(y, 2); }
    EXPECT_ERROR(ag_backward(loss), "which is output 0 of MulBackward0, is at version 1");
    ag_tensor_free(x);
}

Test(graph, backward_errors_in_pytorch_words) {
    ag_tensor *x = param(1, 2), *c = ag_ones(AG_FLOAT32, AG_SHAPE(3));
    EXPECT_ERROR(ag_backward(ag_mul_scalar(x, 2)),
                 "grad can be implicitly created only for scalar outputs");
    EXPECT_ERROR(ag_backward(ag_sum(c)),
                 "element 0 of tensors does not require grad and does not have a grad_fn");
    EXPECT_ERROR(ag_backward(NULL), "must be a tensor, not NULL");
    ag_tensor *g = ag_ones(AG_FLOAT64, AG_SHAPE(3));
    EXPECT_ERROR(ag_backward_with(ag_mul_scalar(x, 2), g, false),
                 "Mismatch in shape: grad_output[0] has a shape of torch.Size([3]) and "
                 "output[0] has a shape of torch.Size([2]).");
    cr_assert_null(x->grad, "a failed backward adds nothing");
    ag_tensor_free(x), ag_tensor_free(c), ag_tensor_free(g);
}

Test(graph, backward_with_an_explicit_gradient) {
    ag_tensor *x = param(1, 2);
    ag_tensor *g = f64_tensor((const double[]){10, 100}, AG_SHAPE(2));
    ag_backward_with(ag_mul(x, x), g, false); /* vector-Jacobian product: g * 2x */
    ASSERT_VALUES(x->grad, 0, 0, 20, 400);
    ag_tensor_free(x), ag_tensor_free(g);
}

Test(graph, backward_on_a_leaf) {
    ag_tensor *x = ag_requires_grad_(ag_scalar(3, AG_FLOAT32), true);
    ag_backward(x);
    ASSERT_VALUES(x->grad, 0, 0, 1);
    ag_tensor_free(x);
}

Test(graph, retain_grad_keeps_a_non_leaf_gradient) {
    ag_tensor *x = param(1, 2);
    ag_tensor *h = ag_mul_scalar(x, 3), *k = ag_mul_scalar(x, 5);
    ag_retain_grad(h);
    ag_tensor *loss = ag_sum(ag_mul(h, h)); /* d/dh = 2h = 6x */
    ag_backward_with(loss, NULL, true);
    ASSERT_VALUES(h->grad, 0, 0, 6, 12);
    cr_assert_null(k->grad, "a non-leaf without retain_grad keeps no grad");
    ag_backward(loss);
    ASSERT_VALUES(h->grad, 0, 0, 12, 24); /* retained grads accumulate too */
    ASSERT_VALUES(x->grad, 0, 0, 36, 72);
    ag_tensor_free(x);
}

Test(graph, requires_grad_rules) {
    ag_tensor *i = AG_INDEX(1, 2), *x = param(1, 2);
    EXPECT_ERROR(ag_requires_grad_(i, true), "only Tensors of floating point dtype can require "
                                             "gradients");
    ag_tensor *y = ag_mul(x, x);
    EXPECT_ERROR(ag_requires_grad_(y, false), "you can only change requires_grad flags of leaf "
                                              "variables.");
    ag_tensor *c = ag_ones(AG_FLOAT32, AG_SHAPE(2));
    EXPECT_ERROR(ag_retain_grad(c), "can't retain_grad on Tensor that has requires_grad=False");
    ag_tensor_free(i), ag_tensor_free(x), ag_tensor_free(c);
}

Test(graph, detach_shares_memory_and_records_nothing) {
    ag_tensor *x = param(1, 2);
    ag_tensor *d = ag_detach(ag_mul_scalar(x, 2));
    cr_assert(!d->requires_grad);
    cr_assert(ag_is_leaf(d));
    ag_tensor *e = ag_detach(x);
    AG_NO_GRAD { ag_add_scalar_(e, 10); } /* writes through to x, bumping x's version */
    ASSERT_VALUES(x, 0, 0, 11, 12);
    cr_assert_eq(x->version, 1);
    ag_tensor_free(x);
}

Test(graph, a_tape_owned_tensor_is_not_freed_by_hand) {
    ag_tensor *x = param(1, 2);
    ag_tensor *y = ag_mul(x, x);
    EXPECT_ERROR(ag_tensor_free(y), "belongs to a tape");
    ag_tensor_free(NULL); /* a no-op */
    ag_tensor_free(x);
}

Test(graph, explicit_tapes) {
    ag_tensor *x = param(1, 2);
    ag_tape *tape = ag_tape_new();
    ag_tape *previous = ag_tape_use(tape);
    ag_tensor *y = ag_mul(x, x);
    cr_assert_eq(ag_tape_size(tape), 1);
    ag_tensor *loss = ag_sum(y);
    ag_tape_use(previous);
    EXPECT_ERROR(ag_mul(y, x), "an input was recorded on another tape");
    ag_backward(loss); /* backward runs on the tape that holds the graph */
    ASSERT_VALUES(x->grad, 0, 0, 2, 4);
    ag_tape_reset(tape);
    cr_assert_eq(ag_tape_size(tape), 0);
    ag_tape_free(tape);
    ag_tape_free(NULL);
    ag_tensor_free(x);
}

Test(graph, a_chain_of_a_million_nodes) {
    /* y = x + x + ... + x (a million adds, each node using the previous one): backward walks
     * the whole chain without recursion and x.grad counts every use: 1,000,001. */
    ag_tensor *x = ag_requires_grad_(ag_scalar(0.5, AG_FLOAT64), true);
    ag_tensor *y = x;
    for (int i = 0; i < 1000000; i++) y = ag_add(y, x);
    cr_assert_eq(ag_tape_size(NULL), 1000000);
    ag_backward(y);
    ASSERT_VALUES(x->grad, 0, 0, 1000001);
    ASSERT_VALUES(y, 0, 0, 500000.5);
    ag_tensor_free(x);
}

Test(graph, a_million_steps_keep_memory_flat) {
    /* After the first step the tape's memory is reused: no growth over a million steps. */
    ag_tensor *x = AG_TENSOR(1, 2, 3, 4), *y = AG_TENSOR(2, 4, 6, 8);
    ag_tensor *w = ag_requires_grad_(ag_scalar(0, AG_FLOAT32), true);
    ag_tensor *b = ag_requires_grad_(ag_scalar(0, AG_FLOAT32), true);
    size_t reserved = 0;
    int64_t live = 0;
    for (int step = 0; step < 1000000; step++) {
        ag_tensor *loss = ag_mean(ag_pow_scalar(ag_sub(ag_add(ag_mul(w, x), b), y), 2));
        ag_backward(loss);
        AG_NO_GRAD {
            ag_sub_(w, ag_mul_scalar(w->grad, 1e-3));
            ag_sub_(b, ag_mul_scalar(b->grad, 1e-3));
        }
        ag_zero_(w->grad);
        ag_zero_(b->grad);
        ag_tape_reset(NULL);
        if (step == 0) {
            reserved = ag_tape_reserved_bytes(NULL);
            live = ag_live_tensors();
        }
    }
    cr_assert_eq(ag_tape_reserved_bytes(NULL), reserved);
    cr_assert_eq(ag_live_tensors(), live);
    ag_tensor_free(x), ag_tensor_free(y), ag_tensor_free(w), ag_tensor_free(b);
}

static void count_handler(const char *message, void *userdata) {
    (void)message;
    ++*(int *)userdata;
}

Test(graph, a_handler_that_returns_gets_null_and_nothing_changes) {
    int errors = 0;
    ag_error_handler previous = ag_set_error_handler(count_handler, &errors);
    ag_tensor *a = ag_ones(AG_FLOAT32, AG_SHAPE(3)), *b = ag_ones(AG_FLOAT32, AG_SHAPE(4));
    cr_assert_null(ag_add(a, b));
    cr_assert_eq(errors, 1);
    cr_assert(strstr(ag_last_error(), "test_graph.c:") != NULL,
                 "the message names the caller's file: %s", ag_last_error());
    cr_assert(strstr(ag_last_error(), "The size of tensor a (3) must match the size of tensor b "
                                      "(4) at non-singleton dimension 0") != NULL);
    cr_assert_null(ag_add_(a, b));
    ASSERT_VALUES(a, 0, 0, 1, 1, 1);
    cr_assert_eq(a->version, 0);
    ag_set_error_handler(previous, NULL);
    ag_tensor_free(a), ag_tensor_free(b);
}
