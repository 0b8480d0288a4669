/*
 * error.c - reporting misuse: the handler, the message format, and the shared input checks.
 *
 * A message reads "<file>:<line>: <op>: <what, in PyTorch's words>", where file:line is the
 * user's call when the public macros recorded it (ag_here) and the library's otherwise.
 */
#include "autograd/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void default_handler(const char *message, void *userdata) {
    (void)userdata;
    fprintf(stderr, "libautograd: %s\n", message);
    fflush(stderr);
    abort();
}

static _Thread_local ag_error_handler handler = default_handler;
static _Thread_local void *handler_userdata;
static _Thread_local char last_error[1024];
AG_THREAD_LOCAL uint64_t ag_errors_reported;

ag_error_handler ag_set_error_handler(ag_error_handler h, void *userdata) {
    ag_error_handler previous = handler;
    handler = h ? h : default_handler;
    handler_userdata = userdata;
    return previous;
}

const char *ag_last_error(void) { return last_error; }

void ag_clear_error(void) { last_error[0] = '\0'; }

void ag_error_at(const char *file, int line, const char *op, const char *fmt, ...) {
    const char *user_file;
    int user_line;
    ag_site(&user_file, &user_line);
    if (user_file) {
        file = user_file;
        line = user_line;
    }
    int n = snprintf(last_error, sizeof last_error, "%s:%d: %s: ", file, line, op);
    if (n < 0 || (size_t)n >= sizeof last_error) n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error + n, sizeof last_error - (size_t)n, fmt, ap);
    va_end(ap);
    ag_errors_reported++;
    ag_guard_unwind(); /* if the handler longjmps, grad mode and the tape are the caller's */
    handler(last_error, handler_userdata);
}

int ag_status_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return -1;
}

const char *ag_shape_str(char *buf, int ndim, const int64_t *shape) {
    size_t n = 0;
    buf[n++] = '[';
    for (int d = 0; d < ndim && n < AG_SHAPE_STR - 24; d++)
        n += (size_t)snprintf(buf + n, AG_SHAPE_STR - n, d ? ", %lld" : "%lld",
                              (long long)shape[d]);
    buf[n++] = ']';
    buf[n] = '\0';
    return buf;
}

bool ag_check_tensor(const char *op, const ag_tensor *t, const char *argname) {
    if (t) return true;
    AG_ERROR(op, "argument '%s' must be a tensor, not NULL", argname);
    return false;
}

bool ag_check_floating(const char *op, const ag_tensor *t) {
    if (ag_is_floating(t->dtype)) return true;
    AG_ERROR(op, "expected a floating point tensor (torch.float32 or torch.float64), but got %s",
             ag_dtype_name(t->dtype));
    return false;
}

/* torch's check of a Python number stored into uint8 (c10::checked_convert): an int may be
 * negative down to -255 and wraps (-1 -> 255), a float must lie in [0, 255] and is truncated.
 * A double cannot tell 3 from 3.0, so an integral value follows the int rule. */
bool ag_check_uint8_value(const char *op, double v, uint8_t *out) {
    bool integral = v == trunc(v);
    if (integral ? v >= -255.0 && v <= 255.0 : v > 0.0 && v < 255.0) {
        *out = ag_to_uint8(v);
        return true;
    }
    AG_ERROR(op, "value cannot be converted to type uint8_t without overflow");
    return false;
}

bool ag_check_dim(const char *op, int ndim, int *dim) {
    int lo = ndim ? -ndim : -1, hi = ndim ? ndim - 1 : 0;
    if (*dim < lo || *dim > hi) {
        AG_ERROR(op, "Dimension out of range (expected to be in range of [%d, %d], but got %d)",
                 lo, hi, *dim);
        return false;
    }
    if (*dim < 0) *dim += ndim ? ndim : 1;
    return true;
}
