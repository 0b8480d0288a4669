/*
 * module.c - the module interface (a layer behind a small table of functions: forward,
 * parameters, train/eval, free) and the modules that hold no parameters: activations,
 * flatten and pooling.
 *
 * A module is two pointers: its kind (a const ag_module_kind, one per kind of layer, defined
 * beside the layer: nn/linear_layer.c, ...) and its layer. Kinds without state (ReLU) have no
 * layer; flatten and the pools keep their settings in a small struct of their own.
 */
#include "autograd/internal.h"
#include "nn/nn.h"

#include <stdlib.h>
#include <string.h>

ag_module *ag_module_new(const ag_module_kind *kind, void *layer) {
    if (!kind || !kind->forward) {
        AG_ERROR("Module", "a module needs a kind with a forward function");
        return NULL;
    }
    ag_module *m = malloc(sizeof *m);
    if (!m) {
        if (kind->free) kind->free(layer);
        AG_ERROR(kind->name, "out of memory");
        return NULL;
    }
    *m = (ag_module){kind, layer};
    return m;
}

ag_tensor *ag_module_forward(ag_module *m, ag_tensor *x) {
    if (!m) {
        AG_ERROR("Module", "the module is NULL");
        return NULL;
    }
    return m->kind->forward(m, x);
}

int ag_module_parameters(const ag_module *m, ag_tensor **out) {
    return m && m->kind->parameters ? m->kind->parameters(m, out) : 0;
}

void ag_module_train(ag_module *m, bool training) {
    if (m && m->kind->train) m->kind->train(m, training);
}

void ag_module_free(ag_module *m) {
    if (!m) return;
    if (m->kind->free) m->kind->free(m->layer);
    free(m);
}

/* ---- activations: no state at all --------------------------------------------------------- */

static ag_tensor *relu_forward(ag_module *m, ag_tensor *x) { return (void)m, ag_relu(x); }
static ag_tensor *tanh_forward(ag_module *m, ag_tensor *x) { return (void)m, ag_tanh(x); }
static ag_tensor *sigmoid_forward(ag_module *m, ag_tensor *x) { return (void)m, ag_sigmoid(x); }
static ag_tensor *gelu_forward(ag_module *m, ag_tensor *x) { return (void)m, ag_gelu(x); }

static const ag_module_kind relu_kind = {.name = "ReLU", .forward = relu_forward};
static const ag_module_kind tanh_kind = {.name = "Tanh", .forward = tanh_forward};
static const ag_module_kind sigmoid_kind = {.name = "Sigmoid", .forward = sigmoid_forward};
static const ag_module_kind gelu_kind = {.name = "GELU", .forward = gelu_forward};

ag_module *ag_relu_module(void) { return ag_module_new(&relu_kind, NULL); }
ag_module *ag_tanh_module(void) { return ag_module_new(&tanh_kind, NULL); }
ag_module *ag_sigmoid_module(void) { return ag_module_new(&sigmoid_kind, NULL); }
ag_module *ag_gelu_module(void) { return ag_module_new(&gelu_kind, NULL); }

/* ---- flatten and pooling: settings only --------------------------------------------------- */

typedef struct flatten_settings {
    int start_dim, end_dim;
} flatten_settings;

typedef struct pool_settings {
    ag_pair kernel_size, stride, padding;
} pool_settings;

static ag_tensor *flatten_forward(ag_module *m, ag_tensor *x) {
    const flatten_settings *s = m->layer;
    return ag_flatten(x, s->start_dim, s->end_dim);
}

static ag_tensor *max_pool2d_forward(ag_module *m, ag_tensor *x) {
    const pool_settings *s = m->layer;
    return ag_max_pool2d(x, s->kernel_size, s->stride, s->padding);
}

static ag_tensor *avg_pool2d_forward(ag_module *m, ag_tensor *x) {
    const pool_settings *s = m->layer;
    return ag_avg_pool2d(x, s->kernel_size, s->stride, s->padding);
}

static const ag_module_kind flatten_kind = {
    .name = "Flatten", .forward = flatten_forward, .free = free};
static const ag_module_kind max_pool2d_kind = {
    .name = "MaxPool2d", .forward = max_pool2d_forward, .free = free};
static const ag_module_kind avg_pool2d_kind = {
    .name = "AvgPool2d", .forward = avg_pool2d_forward, .free = free};

/* A module of kind around a malloc'd copy of size bytes of settings. */
static ag_module *with_settings(const ag_module_kind *kind, const void *settings, size_t size) {
    void *copy = malloc(size);
    if (!copy) {
        AG_ERROR(kind->name, "out of memory");
        return NULL;
    }
    memcpy(copy, settings, size);
    return ag_module_new(kind, copy);
}

ag_module *ag_flatten_module(int start_dim, int end_dim) {
    flatten_settings s = {start_dim, end_dim};
    return with_settings(&flatten_kind, &s, sizeof s);
}

ag_module *ag_max_pool2d_module(ag_pair kernel_size, ag_pair stride, ag_pair padding) {
    pool_settings s = {kernel_size, stride, padding};
    return with_settings(&max_pool2d_kind, &s, sizeof s);
}

ag_module *ag_avg_pool2d_module(ag_pair kernel_size, ag_pair stride, ag_pair padding) {
    pool_settings s = {kernel_size, stride, padding};
    return with_settings(&avg_pool2d_kind, &s, sizeof s);
}
