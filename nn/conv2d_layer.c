/*
 * conv2d_layer.c - nn.Conv2d (dilation 1, groups 1): a bank of out_channels filters of
 * in_channels x kH x kW, and its module.
 *
 * torch.nn.Conv2d.reset_parameters, draw for draw (as nn.Linear's, with fan_in = in kH kW):
 *     init.kaiming_uniform_(self.weight, a=math.sqrt(5))
 *     fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
 *     bound = 1 / math.sqrt(fan_in) if fan_in != 0 else 0
 *     init.uniform_(self.bias, -bound, bound)
 */
#include "autograd/internal.h"
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>

ag_conv2d_layer *ag_conv2d_new(int64_t in_channels, int64_t out_channels, ag_pair kernel_size,
                               ag_pair stride, ag_pair padding, bool bias, ag_generator *g) {
    /* The tensors first: a bad size is reported (in torch's words) before anything else is
     * allocated, so that an error handler that longjmps leaks nothing. */
    ag_tensor *w = ag_empty(
        AG_FLOAT32, 4, (const int64_t[]){out_channels, in_channels, kernel_size.h, kernel_size.w});
    ag_tensor *b = w && bias ? ag_empty(AG_FLOAT32, 1, &out_channels) : NULL;
    ag_conv2d_layer *l = w && (b || !bias) ? malloc(sizeof *l) : NULL;
    if (!l) {
        bool made = w && (b || !bias);
        ag_tensor_free(w), ag_tensor_free(b);
        if (made) AG_ERROR("Conv2d", "out of memory");
        return NULL;
    }
    *l = (ag_conv2d_layer){in_channels, out_channels, kernel_size, stride, padding, w, b};
    int64_t fan_in, fan_out;
    ag_init_kaiming_uniform_(w, sqrt(5.0), "fan_in", "leaky_relu", g);
    if (b && ag_init_fan_in_and_fan_out(w, &fan_in, &fan_out)) {
        double bound = fan_in != 0 ? 1 / sqrt((double)fan_in) : 0;
        ag_init_uniform_(b, -bound, bound, g);
    }
    ag_requires_grad_(w, true);
    if (b) ag_requires_grad_(b, true);
    return l;
}

ag_tensor *ag_conv2d_forward(ag_conv2d_layer *layer, ag_tensor *x) {
    if (!layer) {
        AG_ERROR("Conv2d", "the layer is NULL");
        return NULL;
    }
    return ag_conv2d(x, layer->weight, layer->bias, layer->stride, layer->padding);
}

void ag_conv2d_free(ag_conv2d_layer *layer) {
    if (!layer) return;
    ag_tensor_free(layer->weight);
    ag_tensor_free(layer->bias);
    free(layer);
}

/* ---- as a module -------------------------------------------------------------------------- */

static ag_tensor *conv2d_forward(ag_module *m, ag_tensor *x) {
    return ag_conv2d_forward(m->layer, x);
}

static int conv2d_parameters(const ag_module *m, ag_tensor **out) {
    const ag_conv2d_layer *l = m->layer;
    if (out) {
        out[0] = l->weight;
        if (l->bias) out[1] = l->bias;
    }
    return l->bias ? 2 : 1;
}

static void conv2d_free(void *layer) { ag_conv2d_free(layer); }

static const ag_module_kind conv2d_kind = {
    .name = "Conv2d",
    .forward = conv2d_forward,
    .parameters = conv2d_parameters,
    .free = conv2d_free,
};

ag_module *ag_conv2d_module(int64_t in_channels, int64_t out_channels, ag_pair kernel_size,
                            ag_pair stride, ag_pair padding, bool bias, ag_generator *g) {
    ag_conv2d_layer *l =
        ag_conv2d_new(in_channels, out_channels, kernel_size, stride, padding, bias, g);
    return l ? ag_module_new(&conv2d_kind, l) : NULL;
}
