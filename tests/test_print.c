/*
 * test_print.c - ag_repr, ag_fprint and ag_print against PyTorch's repr(tensor), byte for byte.
 *
 * fixtures/print.h holds 70-odd tensors (dtype, shape, values, requires_grad, and an op to
 * apply) with the text torch 1.13 prints for each: 0-d, 1-d to 4-d, int/fixed/scientific
 * modes and their boundaries, nan/inf, int64, uint8, float64, rows and suffixes wrapping at 80
 * columns, summaries of more than 1000 elements, empty tensors and grad_fn suffixes.
 */
#include "common.h"

#include "fixtures/print.h"

#include <criterion/redirect.h>

#define N(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

AG_TEST_SUITE(print);

/* The case's tensor, yours to free. */
static ag_tensor *build(const print_case *c) {
    ag_tensor *t = ag_empty(c->dtype, c->ndim, c->shape);
    cr_assert_not_null(t, "%s: %s", c->name, ag_last_error());
    for (int64_t i = 0; i < t->numel; i++) {
        switch (c->dtype) {
        case AG_FLOAT32: AG_F32(t)[i] = (float)c->values[i]; break;
        case AG_FLOAT64: AG_F64(t)[i] = c->values[i]; break;
        case AG_INT64: AG_I64(t)[i] = c->ints[i]; break;
        case AG_UINT8: AG_U8(t)[i] = (uint8_t)c->ints[i]; break;
        }
    }
    if (c->requires_grad) ag_requires_grad_(t, true);
    return t;
}

/* The case's op applied to x, as the generator applied it in torch. */
static ag_tensor *apply(const print_case *c, ag_tensor *x) {
    if (!strcmp(c->op, "")) return x;
    if (!strcmp(c->op, "mul")) return ag_mul(x, x);
    if (!strcmp(c->op, "add")) return ag_add(x, x);
    if (!strcmp(c->op, "sum")) return ag_sum(x);
    if (!strcmp(c->op, "mean")) return ag_mean(x);
    if (!strcmp(c->op, "neg")) return ag_neg(x);
    cr_assert_fail("%s: unknown op \"%s\"", c->name, c->op);
    return NULL;
}

/* ag_repr of t equals want exactly, through a buffer sized by a first call. */
static void assert_repr(const ag_tensor *t, const char *want, const char *name) {
    static char got[1 << 15];
    size_t n = ag_repr(t, NULL, 0);
    cr_assert_eq(n, strlen(want), "%s: length %zu, torch prints %zu characters:\n%s", name, n,
                 strlen(want), want);
    cr_assert_lt(n, sizeof got);
    cr_assert_eq(ag_repr(t, got, n + 1), n, "%s", name);
    cr_assert_str_eq(got, want, "%s:\n--- ag_repr\n%s\n--- torch\n%s", name, got, want);
}

/* A fixture's lines joined into one string. */
static const char *joined(const char *const *lines) {
    static char text[1 << 15];
    size_t len = 0;
    for (; *lines; lines++) {
        size_t n = strlen(*lines);
        cr_assert_lt(len + n, sizeof text);
        memcpy(text + len, *lines, n + 1);
        len += n;
    }
    return text;
}

Test(print, matches_torch_repr) {
    for (int64_t k = 0; k < N(print_cases); k++) {
        const print_case *c = &print_cases[k];
        ag_tensor *x = build(c);
        ag_tensor *y = apply(c, x);
        cr_assert_not_null(y, "%s: %s", c->name, ag_last_error());
        assert_repr(y, joined(c->repr), c->name);
        ag_tensor_free(x);
        ag_tape_reset(NULL);
    }
}

Test(print, seed_parameter) {
    /* The seed's w after ten epochs, as its PyTorch loop printed it. */
    ag_tensor *w = ag_requires_grad_(AG_TENSOR(1.5104f), true);
    assert_repr(w, "tensor([1.5104], requires_grad=True)", "w");
    ag_tensor *x = AG_TENSOR(1, 2, 3, 4);
    ag_tensor *loss = ag_mean(ag_mul(w, x));
    assert_repr(loss, "tensor(3.7760, grad_fn=<MeanBackward0>)", "loss");
    ag_backward(loss);
    assert_repr(w->grad, "tensor([2.5000])", "w.grad"); /* a plain leaf: no suffix */
    ag_tensor_free(w), ag_tensor_free(x);
}

Test(print, no_grad_results_have_no_suffix) {
    ag_tensor *x = ag_requires_grad_(AG_TENSOR(1, 2, 3), true);
    ag_tensor *y = NULL;
    AG_NO_GRAD { y = ag_mul(x, x); }
    assert_repr(y, "tensor([1., 4., 9.])", "no_grad");
    ag_tensor_free(x);
}

Test(print, null_is_none) {
    char buf[16];
    cr_assert_eq(ag_repr(NULL, buf, sizeof buf), 4);
    cr_assert_str_eq(buf, "None");
    cr_assert_eq(ag_repr(NULL, NULL, 0), 4);
}

Test(print, repr_truncates_like_snprintf) {
    const char *want = "tensor([[1., 2.],\n        [3., 4.]])";
    size_t len = strlen(want);
    ag_tensor *t = ag_from_data((const float[]){1, 2, 3, 4}, AG_FLOAT32, AG_SHAPE(2, 2));
    cr_assert_eq(ag_repr(t, NULL, 0), len);
    char buf[64];
    for (size_t size = 1; size <= len + 2; size++) {
        memset(buf, '#', sizeof buf);
        size_t n = ag_repr(t, buf, size);
        cr_assert_eq(n, len, "size %zu: returned %zu, the full length is %zu", size, n, len);
        size_t kept = size - 1 < len ? size - 1 : len;
        cr_assert_eq(buf[kept], '\0', "size %zu: not terminated at %zu", size, kept);
        cr_assert(strncmp(buf, want, kept) == 0, "size %zu: \"%s\" is not a prefix", size, buf);
        for (size_t i = size; i < sizeof buf; i++)
            cr_assert_eq(buf[i], '#', "size %zu: byte %zu written past the end", size, i);
    }
    buf[0] = '#';
    cr_assert_eq(ag_repr(t, buf, 0), len); /* size 0: nothing written, not even '\0' */
    cr_assert_eq(buf[0], '#');
    ag_tensor_free(t);
}

Test(print, fprint_writes_repr_and_newline) {
    ag_tensor *t = ag_from_data((const double[]){0.5, -2}, AG_FLOAT64, AG_SHAPE(2));
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    ag_fprint(f, t);
    ag_fprint(f, NULL);
    rewind(f);
    char text[128] = {0};
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    cr_assert_eq(n, strlen(text));
    cr_assert_str_eq(text, "tensor([ 0.5000, -2.0000], dtype=torch.float64)\nNone\n");
    ag_tensor_free(t);
}

Test(print, print_writes_to_stdout) {
    cr_redirect_stdout();
    ag_tensor *t = AG_INDEX(3, -14, 159);
    ag_print(t);
    ag_print(NULL);
    fflush(stdout);
    cr_assert_stdout_eq_str("tensor([  3, -14, 159])\nNone\n");
    ag_tensor_free(t);
}

Test(print, bad_input) {
    ag_tensor *t = AG_TENSOR(1);
    EXPECT_ERROR(ag_repr(t, NULL, 8), "buf is NULL");
    EXPECT_ERROR(ag_fprint(NULL, t), "file is NULL");
    ag_tensor_free(t);
}
