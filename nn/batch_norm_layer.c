/*
 * batch_norm_layer.c - nn.BatchNorm1d / nn.BatchNorm2d (affine, tracking running stats), and
 * its module.
 *
 * torch's BatchNorm.forward in training counts the batch (num_batches_tracked += 1) and calls
 * F.batch_norm with its running statistics, which that call updates in place with momentum
 * 0.1; in evaluation it normalises with them. weight starts at ones, bias at zeros,
 * running_mean at zeros and running_var at ones: nothing is drawn.
 */
#include "autograd/internal.h"
#include "nn/nn.h"

#include <stdlib.h>

ag_batch_norm_layer *ag_batch_norm_new(int64_t num_features) {
    /* The tensors first: a bad size is reported before anything else is allocated. */
    ag_tensor *w = ag_ones(AG_FLOAT32, 1, &num_features);
    ag_tensor *b = w ? ag_zeros(AG_FLOAT32, 1, &num_features) : NULL;
    ag_tensor *rm = b ? ag_zeros(AG_FLOAT32, 1, &num_features) : NULL;
    ag_tensor *rv = rm ? ag_ones(AG_FLOAT32, 1, &num_features) : NULL;
    ag_batch_norm_layer *l = rv ? malloc(sizeof *l) : NULL;
    if (!l) {
        bool made = rv;
        ag_tensor_free(w), ag_tensor_free(b), ag_tensor_free(rm), ag_tensor_free(rv);
        if (made) AG_ERROR("BatchNorm", "out of memory");
        return NULL;
    }
    *l = (ag_batch_norm_layer){.num_features = num_features,
                               .eps = 1e-5,
                               .momentum = 0.1,
                               .training = true,
                               .weight = w,
                               .bias = b,
                               .running_mean = rm,
                               .running_var = rv};
    ag_requires_grad_(w, true);
    ag_requires_grad_(b, true);
    return l;
}

ag_tensor *ag_batch_norm_forward(ag_batch_norm_layer *layer, ag_tensor *x) {
    if (!layer) {
        AG_ERROR("BatchNorm", "the layer is NULL");
        return NULL;
    }
    ag_tensor *y = ag_batch_norm(x, layer->running_mean, layer->running_var, layer->weight,
                                 layer->bias, layer->training, layer->momentum, layer->eps);
    if (y && layer->training) layer->num_batches_tracked++;
    return y;
}

void ag_batch_norm_free(ag_batch_norm_layer *layer) {
    if (!layer) return;
    ag_tensor_free(layer->weight);
    ag_tensor_free(layer->bias);
    ag_tensor_free(layer->running_mean);
    ag_tensor_free(layer->running_var);
    free(layer);
}

/* ---- as a module -------------------------------------------------------------------------- */

static ag_tensor *batch_norm_forward(ag_module *m, ag_tensor *x) {
    return ag_batch_norm_forward(m->layer, x);
}

static int batch_norm_parameters(const ag_module *m, ag_tensor **out) {
    const ag_batch_norm_layer *l = m->layer;
    if (out) {
        out[0] = l->weight;
        out[1] = l->bias;
    }
    return 2;
}

static void batch_norm_train(ag_module *m, bool training) {
    ((ag_batch_norm_layer *)m->layer)->training = training;
}

static void batch_norm_free(void *layer) { ag_batch_norm_free(layer); }

static const ag_module_kind batch_norm_kind = {
    .name = "BatchNorm",
    .forward = batch_norm_forward,
    .parameters = batch_norm_parameters,
    .train = batch_norm_train,
    .free = batch_norm_free,
};

ag_module *ag_batch_norm_module(int64_t num_features) {
    ag_batch_norm_layer *l = ag_batch_norm_new(num_features);
    return l ? ag_module_new(&batch_norm_kind, l) : NULL;
}
