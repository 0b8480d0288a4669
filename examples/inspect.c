/*
 * inspect.c - lists the tensors of a safetensors file and checks its integrity.
 *
 *     build/examples/inspect FILE
 *
 * prints one line per tensor, in the order of their data: name, dtype, shape, size, and the
 * checksum status (verified: its XXH3-64 matches; not present: the file carries none, as files
 * from numpy or torch; MISMATCH: the bytes changed since they were saved). It reads any
 * safetensors file, whatever its dtypes, and exits 0 if the file is sound, 1 with the reason if
 * it is unreadable or corrupt, 2 on bad usage. It is a front end to ag_inspect_safetensors().
 */
#include "autograd/autograd.h"

#include <stdio.h>
#include <string.h>

/* A name as printed: control characters, quotes and backslashes escaped, C-style. */
static void print_name(const char *name) {
    putchar('"');
    for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if (*s < 0x20 || *s == 0x7F)
            printf("\\x%02x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void print_entry(const ag_safetensors_entry *e, void *userdata) {
    int *mismatches = userdata;
    if (e->index == 0)
        printf("%-5s %-32s %-7s %-20s %12s  %s\n", "#", "name", "dtype", "shape", "bytes",
               "checksum (XXH3-64)");
    char shape[256];
    size_t n = (size_t)snprintf(shape, sizeof shape, "[");
    for (int d = 0; d < e->ndim && n < sizeof shape - 24; d++)
        n += (size_t)snprintf(shape + n, sizeof shape - n, d ? ", %lld" : "%lld",
                              (long long)e->shape[d]);
    snprintf(shape + n, sizeof shape - n, "]");
    printf("%-5lld ", (long long)e->index);
    print_name(e->name);
    int pad = 30 - (int)strlen(e->name);
    printf("%*s %-7s %-20s %12llu  ", pad > 0 ? pad : 0, "", e->dtype, shape,
           (unsigned long long)(e->end - e->begin));
    switch (e->checksum) {
    case AG_CHECKSUM_VERIFIED:
        printf("verified %016llx\n", (unsigned long long)e->actual_checksum);
        break;
    case AG_CHECKSUM_ABSENT: printf("not present\n"); break;
    case AG_CHECKSUM_MISMATCH:
        printf("MISMATCH: the file says %016llx, the data gives %016llx\n",
               (unsigned long long)e->stored_checksum, (unsigned long long)e->actual_checksum);
        ++*mismatches;
        break;
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.safetensors\n", argv[0]);
        return 2;
    }
    int mismatches = 0;
    if (ag_inspect_safetensors(argv[1], print_entry, &mismatches) < 0) {
        fprintf(stderr, "inspect: %s\n", ag_last_error());
        if (mismatches)
            fprintf(stderr, "inspect: %d tensor(s) do not match their checksum\n", mismatches);
        return 1;
    }
    ag_state_dict *sd;
    ag_load_report report;
    if (ag_load_safetensors(argv[1], &sd, &report) == 0) {
        printf("%s: %s%s%s\n", argv[1], report.summary, report.format[0] ? ", format " : "",
               report.format);
        ag_state_dict_free(sd);
    } else { /* sound, but holding dtypes libautograd does not load (F16, BF16, U8, ...) */
        printf("%s: sound; libautograd cannot load it: %s\n", argv[1], ag_last_error());
    }
    return 0;
}
