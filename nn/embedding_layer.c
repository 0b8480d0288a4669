/*
 * embedding_layer.c - nn.Embedding(num_embeddings, embedding_dim): a table of learned rows,
 * and its module. torch's reset_parameters draws the weight with init.normal_(weight), mean 0
 * and std 1, so after the same seed the table is torch's.
 */
#include "autograd/internal.h"
#include "nn/nn.h"

#include <stdlib.h>

ag_embedding_layer *ag_embedding_new(int64_t num_embeddings, int64_t embedding_dim,
                                     ag_generator *g) {
    /* The table first: a bad size is reported before anything else is allocated. */
    ag_tensor *w = ag_empty(AG_FLOAT32, 2, (const int64_t[]){num_embeddings, embedding_dim});
    ag_embedding_layer *l = w ? malloc(sizeof *l) : NULL;
    if (!l) {
        bool made = w;
        ag_tensor_free(w);
        if (made) AG_ERROR("Embedding", "out of memory");
        return NULL;
    }
    *l = (ag_embedding_layer){num_embeddings, embedding_dim, w};
    ag_init_normal_(w, 0.0, 1.0, g);
    ag_requires_grad_(w, true);
    return l;
}

ag_tensor *ag_embedding_forward(ag_embedding_layer *layer, ag_tensor *indices) {
    if (!layer) {
        AG_ERROR("Embedding", "the layer is NULL");
        return NULL;
    }
    return ag_embedding(indices, layer->weight);
}

void ag_embedding_free(ag_embedding_layer *layer) {
    if (!layer) return;
    ag_tensor_free(layer->weight);
    free(layer);
}

/* ---- as a module -------------------------------------------------------------------------- */

static ag_tensor *embedding_forward(ag_module *m, ag_tensor *x) {
    return ag_embedding_forward(m->layer, x);
}

static int embedding_parameters(const ag_module *m, ag_tensor **out) {
    if (out) out[0] = ((const ag_embedding_layer *)m->layer)->weight;
    return 1;
}

static void embedding_free(void *layer) { ag_embedding_free(layer); }

static const ag_module_kind embedding_kind = {
    .name = "Embedding",
    .forward = embedding_forward,
    .parameters = embedding_parameters,
    .free = embedding_free,
};

ag_module *ag_embedding_module(int64_t num_embeddings, int64_t embedding_dim, ag_generator *g) {
    ag_embedding_layer *l = ag_embedding_new(num_embeddings, embedding_dim, g);
    return l ? ag_module_new(&embedding_kind, l) : NULL;
}
