/*
 * print.c - a tensor's repr, byte for byte as PyTorch 1.13 prints it.
 *
 * This is torch/_tensor_str.py with the default print options (precision 4, threshold 1000,
 * edgeitems 3, linewidth 80), translated for the four dtypes we have:
 *
 *   tensor([[ 1.0000, -2.5000],          <- prefix "tensor(", so the indent is 7
 *           [ 3.1416,     nan]], dtype=torch.float64, requires_grad=True)
 *
 * 1. Summarize when numel > 1000: along each dim longer than 2 * edgeitems show only the
 *    first and last three entries, with "..." between (" ..." inside a row).
 * 2. One _Formatter for the whole tensor, looking only at the elements shown:
 *      int64, uint8  every element printed plainly ("%lld"), padded to the widest;
 *      floating   from the nonzero finite values (their |min| and |max|, as doubles):
 *                 int_mode  when all are integers: "%.0f" and a dot ("3.");
 *                 sci_mode  when max / min > 1000 or max > 1e8, or (not int_mode) min < 1e-4:
 *                           "%.4e" ("1.0000e-05");
 *                 otherwise "%.4f".
 *      The width is the longest formatted nonzero finite value (1 when there is none), and
 *      every element (zeros, nan, inf too) is right-aligned to it. nan and inf print as
 *      Python prints them: "nan", "inf", "-inf" (never "-nan").
 * 3. The innermost dim is a row: [a, b, c] with floor((80 - indent) / (width + 2)) elements
 *    per line, continued lines indented by indent + 1. An outer dim joins its slices with
 *    "," and (dims left - 1) newlines and indent + 1 spaces: one newline between the rows of a
 *    matrix, a blank line between the matrices of a 3-d tensor.
 * 4. Suffixes, each after ", " or, when the line would pass 80 columns, on a new line indented
 *    by 7: size=(0, 3) for an empty tensor not 1-d; dtype=... unless float32 (or int64 and not
 *    empty: uint8 always shows it); grad_fn=<MulBackward0> for a non-leaf, else
 *    requires_grad=True if set.
 *
 * Python formats floats with '{:.4f}' / '{:.4e}' / '{:.0f}' on the double value of each
 * element (a float32 is widened first), which C's printf matches digit for digit. The text
 * goes through a sink that either copies into the caller's buffer (snprintf's contract) or
 * writes to a FILE, so nothing is allocated and any tensor can be printed.
 */
#include "autograd/internal.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

enum { PRECISION = 4, THRESHOLD = 1000, EDGEITEMS = 3, LINEWIDTH = 80 };
#define PREFIX "tensor("
#define PREFIX_LEN ((int)sizeof PREFIX - 1) /* the indent of everything inside */

/* ---- the sink: a bounded buffer (snprintf semantics) or a FILE ---------------------------- */

typedef struct sink {
    FILE *file; /* write here when set, else into buf */
    char *buf;
    size_t size;          /* buf holds size bytes, terminator included */
    size_t len;           /* what has been written, or would have been */
    int64_t last_newline; /* index of the last '\n' written, -1 before the first */
} sink;

static void put_mem(sink *s, const char *text, size_t n) {
    for (size_t i = n; i > 0; i--) {
        if (text[i - 1] == '\n') {
            s->last_newline = (int64_t)(s->len + i - 1);
            break;
        }
    }
    if (s->file) {
        fwrite(text, 1, n, s->file);
    } else if (s->size > 0 && s->len < s->size - 1) {
        size_t room = s->size - 1 - s->len;
        memcpy(s->buf + s->len, text, n < room ? n : room);
    }
    s->len += n;
}

static void put(sink *s, const char *text) { put_mem(s, text, strlen(text)); }

static void put_spaces(sink *s, int n) {
    static const char spaces[] = "                                ";
    for (; n > 0; n -= (int)sizeof spaces - 1)
        put_mem(s, spaces, (size_t)(n < (int)sizeof spaces - 1 ? n : (int)sizeof spaces - 1));
}

/* ---- which elements are shown ---------------------------------------------------------------- */

/* How many entries of a dim of length n are shown (a summary shows 2 * EDGEITEMS), and the
 * index of the k-th of them. */
static int64_t shown_count(int64_t n, bool summarize) {
    return summarize && n > 2 * EDGEITEMS ? 2 * EDGEITEMS : n;
}

static int64_t shown_index(int64_t n, bool summarize, int64_t k) {
    return summarize && n > 2 * EDGEITEMS && k >= EDGEITEMS ? n - 2 * EDGEITEMS + k : k;
}

static int64_t stride_of(const ag_tensor *t, int dim) {
    int64_t stride = 1;
    for (int d = dim + 1; d < t->ndim; d++)
        stride *= t->shape[d];
    return stride;
}

static double value_at(const ag_tensor *t, int64_t i) {
    return t->dtype == AG_FLOAT32 ? (double)AG_F32(t)[i] : AG_F64(t)[i];
}

/* ---- the formatter ------------------------------------------------------------------------ */

typedef struct formatter {
    bool floating, int_mode, sci_mode;
    int width;
    /* while scanning the shown elements */
    int pass; /* 1: the nonzero finite range; 2: the width */
    int64_t nonzero_finite;
    double min, max;
} formatter;

static int format_float(const formatter *f, double v, char *out, size_t size) {
    if (isnan(v)) return snprintf(out, size, "nan");
    if (isinf(v)) return snprintf(out, size, v > 0 ? "inf" : "-inf");
    if (f->sci_mode) return snprintf(out, size, "%.*e", PRECISION, v);
    if (f->int_mode) return snprintf(out, size, "%.0f.", v);
    return snprintf(out, size, "%.*f", PRECISION, v);
}

/* Element i as the formatter prints it, without padding; returns its length. */
static int format_element(const formatter *f, const ag_tensor *t, int64_t i, char *out,
                          size_t size) {
    if (!f->floating)
        return snprintf(out, size, "%" PRId64,
                        t->dtype == AG_UINT8 ? (int64_t)AG_U8(t)[i] : AG_I64(t)[i]);
    return format_float(f, value_at(t, i), out, size);
}

static void observe(formatter *f, const ag_tensor *t, int64_t i) {
    char text[64];
    if (!f->floating) {
        int n = format_element(f, t, i, text, sizeof text);
        if (n > f->width) f->width = n;
        return;
    }
    double v = value_at(t, i);
    if (!isfinite(v) || v == 0) return;
    if (f->pass == 1) {
        double a = fabs(v);
        if (f->nonzero_finite == 0 || a < f->min) f->min = a;
        if (f->nonzero_finite == 0 || a > f->max) f->max = a;
        if (v != ceil(v)) f->int_mode = false;
        f->nonzero_finite++;
    } else {
        int n = format_float(f, v, text, sizeof text);
        if (n > f->width) f->width = n;
    }
}

/* Calls observe on every element shown, in order. */
static void scan(formatter *f, const ag_tensor *t, int dim, int64_t offset, bool summarize) {
    if (dim == t->ndim) {
        observe(f, t, offset);
        return;
    }
    int64_t n = t->shape[dim], stride = stride_of(t, dim);
    for (int64_t k = 0; k < shown_count(n, summarize); k++)
        scan(f, t, dim + 1, offset + shown_index(n, summarize, k) * stride, summarize);
}

static formatter make_formatter(const ag_tensor *t, bool summarize) {
    formatter f = {.floating = ag_is_floating(t->dtype), .int_mode = true, .width = 1, .pass = 1};
    scan(&f, t, 0, 0, summarize);
    if (!f.floating || f.nonzero_finite == 0) return f;
    double ratio = f.max / f.min;
    f.sci_mode = ratio > 1000.0 || f.max > 1.0e8 || (!f.int_mode && f.min < 1.0e-4);
    f.pass = 2;
    scan(&f, t, 0, 0, summarize);
    return f;
}

/* ---- the body ----------------------------------------------------------------------------- */

static void put_element(sink *s, const formatter *f, const ag_tensor *t, int64_t i) {
    char text[64];
    int n = format_element(f, t, i, text, sizeof text);
    put_spaces(s, f->width - n);
    put_mem(s, text, (size_t)n);
}

/* The innermost dim (_vector_str): elements, or " ..." in a summary, a fixed count a line. */
static void put_row(sink *s, const formatter *f, const ag_tensor *t, int64_t offset, int indent,
                    bool summarize) {
    int64_t n = t->shape[t->ndim - 1];
    bool elided = summarize && n > 2 * EDGEITEMS;
    int64_t items = elided ? 2 * EDGEITEMS + 1 : n;
    int per_line = (LINEWIDTH - indent) / (f->width + 2);
    if (per_line < 1) per_line = 1;
    put(s, "[");
    for (int64_t k = 0; k < items; k++) {
        if (k > 0) {
            if (k % per_line == 0) {
                put(s, ",\n");
                put_spaces(s, indent + 1);
            } else {
                put(s, ", ");
            }
        }
        if (elided && k == EDGEITEMS)
            put(s, " ...");
        else
            put_element(s, f, t, offset + (elided && k > EDGEITEMS ? n - (items - k) : k));
    }
    put(s, "]");
}

/* Dims dim.. of the tensor at offset (_tensor_str_with_formatter). */
static void put_block(sink *s, const formatter *f, const ag_tensor *t, int dim, int64_t offset,
                      int indent, bool summarize) {
    if (t->ndim == 0) {
        put_element(s, f, t, 0);
        return;
    }
    if (dim == t->ndim - 1) {
        put_row(s, f, t, offset, indent, summarize);
        return;
    }
    int64_t n = t->shape[dim], stride = stride_of(t, dim);
    bool elided = summarize && n > 2 * EDGEITEMS;
    int64_t items = elided ? 2 * EDGEITEMS + 1 : n;
    put(s, "[");
    for (int64_t k = 0; k < items; k++) {
        if (k > 0) {
            put(s, ",");
            for (int d = dim + 1; d < t->ndim; d++)
                put(s, "\n");
            put_spaces(s, indent + 1);
        }
        if (elided && k == EDGEITEMS) {
            put(s, "...");
        } else {
            int64_t index = elided && k > EDGEITEMS ? n - (items - k) : k;
            put_block(s, f, t, dim + 1, offset + index * stride, indent + 1, summarize);
        }
    }
    put(s, "]");
}

/* ---- the suffixes (_add_suffixes) ------------------------------------------------------------ */

/* Appends the suffix a b c (pieces, any of them ""), on the same line when it fits. */
static void put_suffix(sink *s, int64_t *last_line_len, const char *a, const char *b,
                       const char *c) {
    int64_t len = (int64_t)(strlen(a) + strlen(b) + strlen(c));
    if (*last_line_len + len + 2 > LINEWIDTH) {
        put(s, ",\n");
        put_spaces(s, PREFIX_LEN);
        *last_line_len = PREFIX_LEN + len;
    } else {
        put(s, ", ");
        *last_line_len += len + 2;
    }
    put(s, a), put(s, b), put(s, c);
}

/* The whole repr into the sink. */
static void put_repr(sink *s, const ag_tensor *t) {
    if (!t) {
        put(s, "None");
        return;
    }
    put(s, PREFIX);
    if (t->numel == 0) {
        put(s, "[]");
    } else {
        bool summarize = t->numel > THRESHOLD;
        formatter f = make_formatter(t, summarize);
        put_block(s, &f, t, 0, 0, PREFIX_LEN, summarize);
    }
    /* torch: len(s) - s.rfind("\n") + 1, which counts 2 more than the line when there is no
     * newline (rfind gives -1) and 1 more otherwise; kept exactly, it decides the wrapping. */
    int64_t last_line_len = (int64_t)s->len - s->last_newline + 1;
    if (t->numel == 0 && t->ndim != 1) {
        char size[AG_MAX_DIMS * 24 + 8];
        int n = snprintf(size, sizeof size, "(");
        for (int d = 0; d < t->ndim; d++)
            n += snprintf(size + n, sizeof size - (size_t)n, "%s%" PRId64, d ? ", " : "",
                          t->shape[d]);
        snprintf(size + n, sizeof size - (size_t)n, t->ndim == 1 ? ",)" : ")");
        put_suffix(s, &last_line_len, "size=", size, "");
    }
    if (t->dtype == AG_FLOAT64 || t->dtype == AG_UINT8 || (t->dtype == AG_INT64 && t->numel == 0))
        put_suffix(s, &last_line_len, "dtype=", ag_dtype_name(t->dtype), "");
    const char *grad_fn = ag_grad_fn_name(t);
    if (grad_fn)
        put_suffix(s, &last_line_len, "grad_fn=<", grad_fn, ">");
    else if (t->requires_grad)
        put_suffix(s, &last_line_len, "requires_grad=True", "", "");
    put(s, ")");
}

/* ---- public ------------------------------------------------------------------------------- */

size_t ag_repr(const ag_tensor *t, char *buf, size_t size) {
    if (!buf && size > 0) {
        AG_ERROR("ag_repr", "buf is NULL but size is %zu", size);
        return 0;
    }
    sink s = {.buf = buf, .size = size, .last_newline = -1};
    put_repr(&s, t);
    if (size > 0) buf[s.len < size - 1 ? s.len : size - 1] = '\0';
    return s.len;
}

void ag_fprint(FILE *f, const ag_tensor *t) {
    if (!f) {
        AG_ERROR("ag_fprint", "file is NULL");
        return;
    }
    sink s = {.file = f, .last_newline = -1};
    put_repr(&s, t);
    fputc('\n', f);
}

void ag_print(const ag_tensor *t) { ag_fprint(stdout, t); }
