/*
 * layer_norm_layer.c - nn.LayerNorm(normalized_shape) (elementwise affine), and its module.
 * weight starts at ones and bias at zeros, of normalized_shape; eps is 1e-5.
 */
#include "autograd/internal.h"
#include "nn/nn.h"

#include <stdlib.h>
#include <string.h>

ag_layer_norm_layer *ag_layer_norm_new(int ndim, const int64_t *normalized_shape) {
    if (ndim < 0 || ndim > AG_MAX_DIMS || (ndim && !normalized_shape)) {
        AG_ERROR("LayerNorm", "normalized_shape must have 0 to %d dims, got %d", AG_MAX_DIMS, ndim);
        return NULL;
    }
    /* The tensors first: a bad size is reported before anything else is allocated. */
    ag_tensor *w = ag_ones(AG_FLOAT32, ndim, normalized_shape);
    ag_tensor *b = w ? ag_zeros(AG_FLOAT32, ndim, normalized_shape) : NULL;
    ag_layer_norm_layer *l = b ? calloc(1, sizeof *l) : NULL;
    if (!l) {
        bool made = b;
        ag_tensor_free(w), ag_tensor_free(b);
        if (made) AG_ERROR("LayerNorm", "out of memory");
        return NULL;
    }
    l->ndim = ndim;
    if (ndim) memcpy(l->normalized_shape, normalized_shape, (size_t)ndim * sizeof(int64_t));
    l->eps = 1e-5;
    l->weight = ag_requires_grad_(w, true);
    l->bias = ag_requires_grad_(b, true);
    return l;
}

ag_tensor *ag_layer_norm_forward(ag_layer_norm_layer *layer, ag_tensor *x) {
    if (!layer) {
        AG_ERROR("LayerNorm", "the layer is NULL");
        return NULL;
    }
    return ag_layer_norm(x, layer->ndim, layer->normalized_shape, layer->weight, layer->bias,
                         layer->eps);
}

void ag_layer_norm_free(ag_layer_norm_layer *layer) {
    if (!layer) return;
    ag_tensor_free(layer->weight);
    ag_tensor_free(layer->bias);
    free(layer);
}

/* ---- as a module -------------------------------------------------------------------------- */

static ag_tensor *layer_norm_forward(ag_module *m, ag_tensor *x) {
    return ag_layer_norm_forward(m->layer, x);
}

static int layer_norm_parameters(const ag_module *m, ag_tensor **out) {
    const ag_layer_norm_layer *l = m->layer;
    if (out) {
        out[0] = l->weight;
        out[1] = l->bias;
    }
    return 2;
}

static void layer_norm_free(void *layer) { ag_layer_norm_free(layer); }

static const ag_module_kind layer_norm_kind = {
    .name = "LayerNorm",
    .forward = layer_norm_forward,
    .parameters = layer_norm_parameters,
    .free = layer_norm_free,
};

ag_module *ag_layer_norm_module(int ndim, const int64_t *normalized_shape) {
    ag_layer_norm_layer *l = ag_layer_norm_new(ndim, normalized_shape);
    return l ? ag_module_new(&layer_norm_kind, l) : NULL;
}
