/*
 * dropout_layer.c - nn.Dropout(p): ag_dropout in training, the identity in evaluation; and
 * its module. It has no parameters; the generator it draws from is the caller's.
 */
#include "autograd/internal.h"
#include "nn/nn.h"

#include <stdlib.h>

ag_dropout_layer *ag_dropout_new(double p, ag_generator *g) {
    if (!(p >= 0 && p <= 1)) {
        AG_ERROR("Dropout", "dropout probability has to be between 0 and 1, but got %g", p);
        return NULL;
    }
    ag_dropout_layer *l = malloc(sizeof *l);
    if (!l) {
        AG_ERROR("Dropout", "out of memory");
        return NULL;
    }
    *l = (ag_dropout_layer){.p = p, .training = true, .generator = g};
    return l;
}

ag_tensor *ag_dropout_forward(ag_dropout_layer *layer, ag_tensor *x) {
    if (!layer) {
        AG_ERROR("Dropout", "the layer is NULL");
        return NULL;
    }
    return ag_dropout(x, layer->p, layer->training, layer->generator);
}

void ag_dropout_free(ag_dropout_layer *layer) { free(layer); }

/* ---- as a module -------------------------------------------------------------------------- */

static ag_tensor *dropout_forward(ag_module *m, ag_tensor *x) {
    return ag_dropout_forward(m->layer, x);
}

static int no_parameters(const ag_module *m, ag_tensor **out) {
    (void)m, (void)out;
    return 0;
}

static void dropout_train(ag_module *m, bool training) {
    ((ag_dropout_layer *)m->layer)->training = training;
}

static void dropout_free(void *layer) { ag_dropout_free(layer); }

static const ag_module_kind dropout_kind = {
    .name = "Dropout",
    .forward = dropout_forward,
    .parameters = no_parameters,
    .train = dropout_train,
    .free = dropout_free,
};

ag_module *ag_dropout_module(double p, ag_generator *g) {
    ag_dropout_layer *l = ag_dropout_new(p, g);
    return l ? ag_module_new(&dropout_kind, l) : NULL;
}
