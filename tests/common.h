/*
 * common.h - what every test file shares: catching the library's errors, comparing tensors
 * with expected values, gradchecks, and the leak check that fails a test; and the helpers
 * that two or more test files share (temporary directories, nn.h's fixture tensors).
 *
 * Each test file declares its suite with AG_TEST_SUITE(name): before each test the error
 * handler is installed. Test(...) is Criterion's, wrapped so that after the test's body the
 * current tape is released and the test FAILS if any tensor it created is still alive.
 * (Criterion ignores failures in a .fini function, so the check has to run inside the test.)
 */
#ifndef AG_TESTS_COMMON_H
#define AG_TESTS_COMMON_H

#include "autograd/autograd.h"

#include <criterion/criterion.h>
#include <math.h>
#include <setjmp.h>
#include <string.h>

void ag_test_init(void);
void ag_test_check_leaks(void);
#define AG_TEST_SUITE(name) TestSuite(name, .init = ag_test_init)

#undef Test
#define Test(...) CR_EXPAND(AG_TEST_(__VA_ARGS__, .sentinel_ = 0))
#define AG_TEST_(suite, name, ...)                                                             \
    static void ag_test_body_##suite##_##name(void);                                           \
    CR_EXPAND(CR_TEST_BASE(suite, name, __VA_ARGS__)) {                                        \
        ag_test_body_##suite##_##name();                                                       \
        ag_test_check_leaks();                                                                 \
    }                                                                                          \
    static void ag_test_body_##suite##_##name(void)

/* EXPECT_ERROR(statement, "part of the message"): the statement must report an error whose
 * message contains the text. The handler longjmps back here, as a program's own might. */
extern jmp_buf ag_test_jump;
extern int ag_test_catching;
#define EXPECT_ERROR(statement, text)                                                          \
    do {                                                                                       \
        ag_clear_error();                                                                      \
        ag_test_catching = 1;                                                                  \
        if (setjmp(ag_test_jump) == 0) {                                                       \
            statement;                                                                         \
            ag_test_catching = 0;                                                              \
            cr_assert_fail("expected an error containing \"%s\"; none was reported", text);    \
        }                                                                                      \
        ag_test_catching = 0;                                                                  \
        cr_assert(strstr(ag_last_error(), text) != NULL, "error \"%s\" does not contain \"%s\"", \
                  ag_last_error(), text);                                                      \
    } while (0)

/* Every element of t is within atol + rtol * |expected| of expected[i]; shape by numel. */
void assert_values(const ag_tensor *t, const double *expected, int64_t n, double atol,
                   double rtol);
#define ASSERT_VALUES(t, atol, rtol, ...)                                                      \
    assert_values(t, (const double[]){__VA_ARGS__},                                             \
                  (int64_t)(sizeof((const double[]){__VA_ARGS__}) / sizeof(double)), atol, rtol)
/* t's shape is exactly the given dims. */
void assert_shape(const ag_tensor *t, int ndim, const int64_t *shape);
#define ASSERT_SHAPE(t, ...) assert_shape(t, AG_SHAPE(__VA_ARGS__))
#define ASSERT_SCALAR_SHAPE(t) assert_shape(t, AG_SCALAR_SHAPE)

/* A float64 tensor you own, filled from the given numbers (shape given separately). */
ag_tensor *f64_tensor(const double *values, int ndim, const int64_t *shape);
/* gradcheck with eps 1e-6, atol 1e-5, rtol 1e-3 (torch's defaults); fails with the report. */
void assert_gradcheck(ag_function f, void *ctx, ag_tensor *const *inputs, int n);


/* ---- files: one test's fresh temporary directory (test_checkpoint.c, test_safetensors.c) -- */

/* The directory's path, set by make_test_dir. */
extern char test_dir[64];
/* Makes a fresh directory /tmp/ag_<tag>_XXXXXX (mkdtemp) as test_dir; tag is short. */
void make_test_dir(const char *tag);
/* test_dir/name, in one of four static buffers (so up to four can be used at once). */
const char *in_test_dir(const char *name);
/* How many entries test_dir holds, "." and ".." not counted. */
int test_dir_entries(void);
/* Removes test_dir with its files and empty subdirectories; fails the test if it cannot. */
void remove_test_dir(void);

/* ---- fixtures of tests/fixtures/nn.h (test_conv.c, test_nn.c) ------------------------------ */

struct fx_tensor;
/* A tensor you own, of dtype, from a fixture (NULL for NULL). */
ag_tensor *fx_make(const struct fx_tensor *fx, ag_dtype dtype, bool requires_grad);
/* t has the fixture's shape and values, within atol + rtol * |expected|. */
void assert_fx(const ag_tensor *t, const struct fx_tensor *fx, double atol, double rtol);

#endif
