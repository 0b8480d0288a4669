/*
 * linear_layer.c - nn.Linear: a fully connected layer, y = x w^T + b, and its module.
 *
 * torch.nn.Linear.reset_parameters, draw for draw:
 *     init.kaiming_uniform_(self.weight, a=math.sqrt(5))
 *     fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
 *     bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
 *     init.uniform_(self.bias, -bound, bound)
 * so after the same seed the weights and the bias are torch's, bit for bit.
 */
#include "autograd/internal.h"
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>

ag_linear_layer *ag_linear_new(int64_t in_features, int64_t out_features, bool bias,
                               ag_generator *g) {
    /* The tensors first: a bad size is reported (in torch's words) before anything else is
     * allocated, so that an error handler that longjmps leaks nothing. */
    ag_tensor *w = ag_empty(AG_FLOAT32, 2, (const int64_t[]){out_features, in_features});
    ag_tensor *b = w && bias ? ag_empty(AG_FLOAT32, 1, &out_features) : NULL;
    ag_linear_layer *l = w && (b || !bias) ? malloc(sizeof *l) : NULL;
    if (!l) {
        bool made = w && (b || !bias);
        ag_tensor_free(w), ag_tensor_free(b);
        if (made) AG_ERROR("Linear", "out of memory");
        return NULL;
    }
    *l = (ag_linear_layer){in_features, out_features, w, b};
    int64_t fan_in, fan_out;
    ag_init_kaiming_uniform_(w, sqrt(5.0), "fan_in", "leaky_relu", g);
    if (b && ag_init_fan_in_and_fan_out(w, &fan_in, &fan_out)) {
        double bound = fan_in > 0 ? 1 / sqrt((double)fan_in) : 0;
        ag_init_uniform_(b, -bound, bound, g);
    }
    ag_requires_grad_(w, true);
    if (b) ag_requires_grad_(b, true);
    return l;
}

ag_tensor *ag_linear_forward(ag_linear_layer *layer, ag_tensor *x) {
    if (!layer) {
        AG_ERROR("Linear", "the layer is NULL");
        return NULL;
    }
    return ag_linear(x, layer->weight, layer->bias);
}

void ag_linear_free(ag_linear_layer *layer) {
    if (!layer) return;
    ag_tensor_free(layer->weight);
    ag_tensor_free(layer->bias);
    free(layer);
}

/* ---- as a module -------------------------------------------------------------------------- */

static ag_tensor *linear_forward(ag_module *m, ag_tensor *x) {
    return ag_linear_forward(m->layer, x);
}

static int linear_parameters(const ag_module *m, ag_tensor **out) {
    const ag_linear_layer *l = m->layer;
    if (out) {
        out[0] = l->weight;
        if (l->bias) out[1] = l->bias;
    }
    return l->bias ? 2 : 1;
}

static void linear_free(void *layer) { ag_linear_free(layer); }

static const ag_module_kind linear_kind = {
    .name = "Linear",
    .forward = linear_forward,
    .parameters = linear_parameters,
    .free = linear_free,
};

ag_module *ag_linear_module(int64_t in_features, int64_t out_features, bool bias, ag_generator *g) {
    ag_linear_layer *l = ag_linear_new(in_features, out_features, bias, g);
    return l ? ag_module_new(&linear_kind, l) : NULL;
}
