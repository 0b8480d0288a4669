/*
 * fuzz_safetensors.c - a libFuzzer target for the safetensors loader.
 *
 *     make fuzz                    # 60 s; FUZZ_SECONDS=600 make fuzz for longer
 *
 * Each input is handed to ag_load_safetensors_buffer(), the parser the file loader uses. The
 * sanitizers (address, undefined) catch any bad read or write; this file checks the loader's
 * contract on top: it never calls the error handler (which here aborts), a failure sets a
 * message and leaves *out NULL, a success gives tensors whose bytes fit in the input, and
 * nothing leaks (every tensor made is freed with the dict). Seeds: fuzz/corpus/, and the
 * tokens of fuzz/safetensors.dict.
 */
#include "autograd/autograd.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void handler_must_not_run(const char *message, void *userdata) {
    (void)userdata;
    fprintf(stderr, "the loader called the error handler: %s\n", message);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ag_set_error_handler(handler_must_not_run, NULL);
    ag_clear_error();
    ag_state_dict *sd = (ag_state_dict *)&sd; /* the loader must overwrite it */
    ag_load_report report;
    if (ag_load_safetensors_buffer(data, size, &sd, &report) < 0) {
        if (sd != NULL || ag_last_error()[0] == '\0') abort();
        if (ag_live_tensors() != 0) abort();
        return 0;
    }
    int64_t n = ag_state_dict_count(sd);
    uint64_t bytes = 0;
    if (n != report.tensors || report.verified + report.unverified != n) abort();
    for (int64_t i = 0; i < n; i++) {
        const ag_tensor *t = ag_state_dict_tensor_at(sd, i);
        if (!t || ag_state_dict_get(sd, ag_state_dict_name_at(sd, i)) != t) abort();
        /* int32 widens to int64, so a tensor takes at most twice its bytes in the file. */
        bytes += (uint64_t)t->numel * ag_dtype_size(t->dtype) / (t->dtype == AG_INT64 ? 2 : 1);
        (void)ag_fingerprint(t);
    }
    if (bytes > size) abort();
    ag_state_dict_free(sd);
    if (ag_live_tensors() != 0) abort();
    return 0;
}
