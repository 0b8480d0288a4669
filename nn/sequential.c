/*
 * sequential.c - nn.Sequential: modules applied one after the other, with their parameters
 * gathered in order (model.parameters()) and one switch for train/eval.
 */
#include "autograd/internal.h"
#include "nn/nn.h"

#include <stdlib.h>

/* Frees the n modules given (the sequential took them) and what seq holds so far. */
static void free_all(ag_sequential *seq, int n, ag_module *const *modules) {
    for (int i = 0; i < n; i++)
        ag_module_free(modules[i]);
    if (seq) {
        free(seq->modules);
        free(seq->params);
        free(seq);
    }
}

ag_sequential *ag_sequential_new(int n, ag_module *const *modules) {
    const char *op = "Sequential";
    if (n < 0 || (n > 0 && !modules)) {
        AG_ERROR(op, "expected n >= 0 modules, got %d%s", n, modules ? "" : " and no array");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (!modules[i]) {
            free_all(NULL, n, modules);
            AG_ERROR(op, "module %d is NULL (its constructor reported an error)", i);
            return NULL;
        }
    }
    ag_sequential *seq = calloc(1, sizeof *seq);
    int nparams = 0;
    for (int i = 0; i < n; i++)
        nparams += ag_module_parameters(modules[i], NULL);
    if (seq) {
        seq->modules = malloc((size_t)(n ? n : 1) * sizeof *seq->modules);
        seq->params = malloc((size_t)(nparams ? nparams : 1) * sizeof *seq->params);
    }
    if (!seq || !seq->modules || !seq->params) {
        free_all(seq, n, modules);
        AG_ERROR(op, "out of memory");
        return NULL;
    }
    seq->n = n;
    seq->training = true;
    for (int i = 0; i < n; i++) {
        seq->modules[i] = modules[i];
        seq->nparams += ag_module_parameters(modules[i], seq->params + seq->nparams);
    }
    return seq;
}

ag_tensor *ag_sequential_forward(ag_sequential *seq, ag_tensor *x) {
    if (!seq) {
        AG_ERROR("Sequential", "the sequential is NULL");
        return NULL;
    }
    for (int i = 0; i < seq->n && x; i++)
        x = ag_module_forward(seq->modules[i], x);
    return x;
}

ag_tensor *const *ag_sequential_parameters(ag_sequential *seq, int *n) {
    if (n) *n = seq ? seq->nparams : 0;
    return seq ? seq->params : NULL;
}

void ag_sequential_train(ag_sequential *seq, bool training) {
    if (!seq) return;
    seq->training = training;
    for (int i = 0; i < seq->n; i++)
        ag_module_train(seq->modules[i], training);
}

void ag_sequential_free(ag_sequential *seq) {
    if (seq) free_all(seq, seq->n, seq->modules);
}
