/*
 * common.c - the shared test machinery declared in common.h.
 */
#include "common.h"

jmp_buf ag_test_jump;
int ag_test_catching;

static void test_handler(const char *message, void *userdata) {
    (void)userdata;
    if (ag_test_catching) longjmp(ag_test_jump, 1);
    cr_assert_fail("unexpected error: %s", message);
}

void ag_test_init(void) {
    ag_set_error_handler(test_handler, NULL);
    ag_set_grad_enabled(true);
}

void ag_test_check_leaks(void) {
    ag_tape_reset(NULL);
    int64_t live = ag_live_tensors();
    cr_assert_eq(live, 0, "leak: %lld tensor(s) created by the test were not freed",
                 (long long)live);
}

void assert_values(const ag_tensor *t, const double *expected, int64_t n, double atol,
                   double rtol) {
    cr_assert_not_null(t, "tensor is NULL (error: %s)", ag_last_error());
    cr_assert_eq(t->numel, n, "tensor has %lld elements, expected %lld", (long long)t->numel,
                 (long long)n);
    for (int64_t i = 0; i < n; i++) {
        double v = ag_get(t, i), e = expected[i];
        bool ok = (isnan(e) && isnan(v)) || (isinf(e) && v == e) ||
                  fabs(v - e) <= atol + rtol * fabs(e);
        cr_assert(ok, "element %lld is %.10g, expected %.10g", (long long)i, v, e);
    }
}

void assert_shape(const ag_tensor *t, int ndim, const int64_t *shape) {
    cr_assert_not_null(t, "tensor is NULL (error: %s)", ag_last_error());
    cr_assert_eq(t->ndim, ndim, "tensor has %d dims, expected %d", t->ndim, ndim);
    for (int d = 0; d < ndim; d++)
        cr_assert_eq(t->shape[d], shape[d], "dim %d is %lld, expected %lld", d,
                     (long long)t->shape[d], (long long)shape[d]);
}

ag_tensor *f64_tensor(const double *values, int ndim, const int64_t *shape) {
    return ag_from_data(values, AG_FLOAT64, ndim, shape);
}

void assert_gradcheck(ag_function f, void *ctx, ag_tensor *const *inputs, int n) {
    ag_gradcheck_report report;
    bool ok = ag_gradcheck(f, ctx, inputs, n, 1e-6, 1e-5, 1e-3, &report);
    cr_assert(ok, "%s", report.message);
}
