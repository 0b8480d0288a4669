/*
 * common.c - the shared test machinery declared in common.h.
 */
#define _POSIX_C_SOURCE 200809L

#include "common.h"

#include "fixtures/nn.h" /* only fx_tensor: neither section is defined here */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

char test_dir[64];

void make_test_dir(const char *tag) {
    snprintf(test_dir, sizeof test_dir, "/tmp/ag_%s_XXXXXX", tag);
    cr_assert_not_null(mkdtemp(test_dir), "mkdtemp: %s", strerror(errno));
}

const char *in_test_dir(const char *name) {
    static char paths[4][512];
    static int k;
    char *p = paths[k++ % 4];
    snprintf(p, 512, "%s/%s", test_dir, name);
    return p;
}

int test_dir_entries(void) {
    DIR *d = opendir(test_dir);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

void remove_test_dir(void) {
    DIR *d = opendir(test_dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        const char *p = in_test_dir(e->d_name);
        if (unlink(p) != 0) rmdir(p);
    }
    closedir(d);
    cr_assert_eq(rmdir(test_dir), 0, "rmdir %s: %s", test_dir, strerror(errno));
}

ag_tensor *fx_make(const fx_tensor *fx, ag_dtype dtype, bool requires_grad) {
    if (!fx) return NULL;
    ag_tensor *t = ag_zeros(dtype, fx->ndim, fx->shape);
    for (int64_t i = 0; i < t->numel; i++) {
        if (dtype == AG_FLOAT32)
            AG_F32(t)[i] = (float)fx->v[i];
        else if (dtype == AG_FLOAT64)
            AG_F64(t)[i] = fx->v[i];
        else
            AG_I64(t)[i] = (int64_t)fx->v[i];
    }
    return requires_grad ? ag_requires_grad_(t, true) : t;
}

void assert_fx(const ag_tensor *t, const fx_tensor *fx, double atol, double rtol) {
    cr_assert_not_null(t, "tensor is NULL (error: %s)", ag_last_error());
    assert_shape(t, fx->ndim, fx->shape);
    int64_t n = 1;
    for (int d = 0; d < fx->ndim; d++)
        n *= fx->shape[d];
    assert_values(t, fx->v, n, atol, rtol);
}
