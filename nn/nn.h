/*
 * nn.h - a small kit of layers on top of the ops, as torch.nn has them. Not a framework: a
 * layer is a plain struct whose parameters are fields you can read, pass to an optimizer,
 * save or change; its forward is one call to an op of ops/nn_ops.h.
 *
 * A two-layer classifier and its training loop, next to the PyTorch lines they stand for:
 *
 *     ag_manual_seed(0);                                    // torch.manual_seed(0)
 *     ag_module *l1 = ag_linear_module(784, 256, true, NULL); // nn.Sequential(nn.Linear(784, 256),
 *     ag_module *relu = ag_relu_module();                    //     nn.ReLU(),
 *     ag_module *l2 = ag_linear_module(256, 10, true, NULL); //     nn.Linear(256, 10))
 *     ag_sequential *model = ag_sequential_new(3, (ag_module *[]){l1, relu, l2});
 *     // (one statement per layer: C leaves the order of the calls in a brace initializer
 *     // unspecified, and each layer draws its initial weights in turn)
 *     int n;
 *     ag_tensor *const *params = ag_sequential_parameters(model, &n);
 *     ag_optimizer *opt = ag_sgd(params, n, (ag_sgd_options){.lr = 0.1});
 *                                                           // SGD(model.parameters(), lr=0.1)
 *     for (int step = 0; step < steps; step++) {
 *         ag_optimizer_zero_grad(opt, true);                // opt.zero_grad()
 *         ag_tensor *logits = ag_sequential_forward(model, x);          // model(x)
 *         ag_backward(ag_cross_entropy(logits, y, AG_REDUCTION_MEAN));  // loss.backward()
 *         ag_optimizer_step(opt);                           // opt.step()
 *         ag_tape_reset(NULL);
 *     }
 *     ag_sequential_train(model, false);                    // model.eval()
 *     ag_optimizer_free(opt);
 *     ag_sequential_free(model);                            // frees the layers and parameters
 *
 * Initialisation is torch's, draw for draw: after the same seed (ag_manual_seed, or your own
 * generator), ag_linear_new(784, 256, true, NULL) holds the very bits nn.Linear(784, 256)
 * holds: kaiming_uniform_(weight, a=sqrt(5)) and then bias uniform on [-1/sqrt(fan_in),
 * 1/sqrt(fan_in)), in torch's order. Layers are made in float32, torch's default dtype.
 *
 * Ownership. A layer (ag_*_new) is yours: free it with its ag_*_free, which frees its
 * parameters and buffers too (NULL is a no-op). Parameters are leaf tensors that require grad;
 * do not free them yourself. A module (ag_module, ag_*_module) owns its layer; a sequential
 * owns its modules. What forward returns belongs to the tape, as every op's result.
 *
 * Errors are reported as everywhere in libautograd (autograd.h), in torch's words; then the
 * function returns NULL and changes nothing.
 */
#ifndef AG_NN_H
#define AG_NN_H

#include "autograd/autograd.h"
#include "ops/nn_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* Layers                                                                                     */
/* ---------------------------------------------------------------------------------------- */

/* nn.Linear(in_features, out_features, bias): y = x w^T + b (ag_linear). */
typedef struct ag_linear_layer {
    int64_t in_features, out_features;
    ag_tensor *weight; /* (out, in): kaiming_uniform_(a=sqrt(5)) */
    ag_tensor *bias;   /* (out): uniform(-1/sqrt(in), 1/sqrt(in)); NULL without bias */
} ag_linear_layer;
ag_linear_layer *ag_linear_new(int64_t in_features, int64_t out_features, bool bias,
                               ag_generator *g);
ag_tensor *ag_linear_forward(ag_linear_layer *layer, ag_tensor *x); /* (*, in) -> (*, out) */
void ag_linear_free(ag_linear_layer *layer);

/* nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias): ag_conv2d. */
typedef struct ag_conv2d_layer {
    int64_t in_channels, out_channels;
    ag_pair kernel_size, stride, padding;
    ag_tensor *weight; /* (out, in, kH, kW): kaiming_uniform_(a=sqrt(5)) */
    ag_tensor *bias;   /* (out): uniform(-1/sqrt(fan_in), ...), fan_in = in kH kW; or NULL */
} ag_conv2d_layer;
ag_conv2d_layer *ag_conv2d_new(int64_t in_channels, int64_t out_channels, ag_pair kernel_size,
                               ag_pair stride, ag_pair padding, bool bias, ag_generator *g);
ag_tensor *ag_conv2d_forward(ag_conv2d_layer *layer, ag_tensor *x); /* (N,C,H,W) */
void ag_conv2d_free(ag_conv2d_layer *layer);

/* nn.BatchNorm1d / nn.BatchNorm2d(num_features) in one: x (N, C) or (N, C, *). In training
 * (the default) it normalises with the batch's statistics and updates the running ones, which
 * it owns; in evaluation it uses the running ones (ag_batch_norm). eps and momentum may be
 * changed before a forward. */
typedef struct ag_batch_norm_layer {
    int64_t num_features;
    double eps;                  /* 1e-5 */
    double momentum;             /* 0.1 */
    bool training;               /* true */
    ag_tensor *weight, *bias;    /* (C): ones and zeros, parameters */
    ag_tensor *running_mean;     /* (C): zeros, a buffer (not a parameter) */
    ag_tensor *running_var;      /* (C): ones */
    int64_t num_batches_tracked; /* training forwards so far */
} ag_batch_norm_layer;
ag_batch_norm_layer *ag_batch_norm_new(int64_t num_features);
ag_tensor *ag_batch_norm_forward(ag_batch_norm_layer *layer, ag_tensor *x);
void ag_batch_norm_free(ag_batch_norm_layer *layer);

/* nn.LayerNorm(normalized_shape): ag_layer_norm over the last ndim dims. Call it with
 * AG_SHAPE: ag_layer_norm_new(AG_SHAPE(5, 5)). */
typedef struct ag_layer_norm_layer {
    int ndim;
    int64_t normalized_shape[AG_MAX_DIMS];
    double eps;               /* 1e-5 */
    ag_tensor *weight, *bias; /* normalized_shape: ones and zeros */
} ag_layer_norm_layer;
ag_layer_norm_layer *ag_layer_norm_new(int ndim, const int64_t *normalized_shape);
ag_tensor *ag_layer_norm_forward(ag_layer_norm_layer *layer, ag_tensor *x);
void ag_layer_norm_free(ag_layer_norm_layer *layer);

/* nn.Embedding(num_embeddings, embedding_dim): rows of weight at int64 indices. */
typedef struct ag_embedding_layer {
    int64_t num_embeddings, embedding_dim;
    ag_tensor *weight; /* (V, D): normal(0, 1) */
} ag_embedding_layer;
ag_embedding_layer *ag_embedding_new(int64_t num_embeddings, int64_t embedding_dim,
                                     ag_generator *g);
ag_tensor *ag_embedding_forward(ag_embedding_layer *layer, ag_tensor *indices); /* (*) -> (*, D) */
void ag_embedding_free(ag_embedding_layer *layer);

/* nn.Dropout(p): ag_dropout in training (the default), x itself in evaluation. Masks are drawn
 * from g (NULL: the default generator), which must outlive the layer. */
typedef struct ag_dropout_layer {
    double p;
    bool training;
    ag_generator *generator;
} ag_dropout_layer;
ag_dropout_layer *ag_dropout_new(double p, ag_generator *g);
ag_tensor *ag_dropout_forward(ag_dropout_layer *layer, ag_tensor *x);
void ag_dropout_free(ag_dropout_layer *layer);

/* ---------------------------------------------------------------------------------------- */
/* Modules: any layer behind one small interface, for containers                              */
/* ---------------------------------------------------------------------------------------- */

typedef struct ag_module ag_module;

/* What a kind of module does: one const table per kind (nn/linear_layer.c, ...). */
typedef struct ag_module_kind {
    const char *name; /* torch's class name: "Linear" */
    ag_tensor *(*forward)(ag_module *m, ag_tensor *x);
    /* Writes its parameters, in torch's order, to out (when not NULL); returns how many. */
    int (*parameters)(const ag_module *m, ag_tensor **out);
    void (*train)(ag_module *m, bool training); /* NULL: no train/eval behaviour */
    void (*free)(void *layer);                  /* frees the layer; NULL: nothing */
} ag_module_kind;

struct ag_module {
    const ag_module_kind *kind;
    void *layer; /* the layer, e.g. (ag_linear_layer *)m->layer; settings for pools; or NULL */
};

/* A module of your own kind around your layer (NULL for a kind without state), which it owns
 * from then on: ag_module_free calls kind->free(layer). NULL after an out-of-memory report
 * (having freed the layer). */
ag_module *ag_module_new(const ag_module_kind *kind, void *layer);

/* Each makes a module that you own (or give to a sequential); NULL after reporting. */
ag_module *ag_linear_module(int64_t in_features, int64_t out_features, bool bias, ag_generator *g);
ag_module *ag_conv2d_module(int64_t in_channels, int64_t out_channels, ag_pair kernel_size,
                            ag_pair stride, ag_pair padding, bool bias, ag_generator *g);
ag_module *ag_batch_norm_module(int64_t num_features);
ag_module *ag_layer_norm_module(int ndim, const int64_t *normalized_shape);
ag_module *ag_embedding_module(int64_t num_embeddings, int64_t embedding_dim, ag_generator *g);
ag_module *ag_dropout_module(double p, ag_generator *g);
ag_module *ag_relu_module(void);                          /* nn.ReLU() */
ag_module *ag_tanh_module(void);                          /* nn.Tanh() */
ag_module *ag_sigmoid_module(void);                       /* nn.Sigmoid() */
ag_module *ag_gelu_module(void);                          /* nn.GELU() */
ag_module *ag_flatten_module(int start_dim, int end_dim); /* nn.Flatten(): 1, -1 */
ag_module *ag_max_pool2d_module(ag_pair kernel_size, ag_pair stride, ag_pair padding);
ag_module *ag_avg_pool2d_module(ag_pair kernel_size, ag_pair stride, ag_pair padding);

/* m(x), m.parameters() (written to out if not NULL; returns the count), m.train(training),
 * and the destructor (frees the layer and its parameters; NULL is a no-op). */
ag_tensor *ag_module_forward(ag_module *m, ag_tensor *x);
int ag_module_parameters(const ag_module *m, ag_tensor **out);
void ag_module_train(ag_module *m, bool training);
void ag_module_free(ag_module *m);

/* ---------------------------------------------------------------------------------------- */
/* Sequential                                                                                 */
/* ---------------------------------------------------------------------------------------- */

/* nn.Sequential: modules applied in order. */
typedef struct ag_sequential {
    int n;
    ag_module **modules;
    bool training;
    int nparams;
    ag_tensor **params; /* every module's parameters, in order (model.parameters()) */
} ag_sequential;

/* Takes n modules, which it owns from then on, even when it fails: a NULL among them (a
 * constructor that reported an error) frees the others and returns NULL. */
ag_sequential *ag_sequential_new(int n, ag_module *const *modules);
ag_tensor *ag_sequential_forward(ag_sequential *seq, ag_tensor *x);
/* The parameters, in torch's order, for an optimizer: *n receives the count. The array
 * belongs to seq. */
ag_tensor *const *ag_sequential_parameters(ag_sequential *seq, int *n);
void ag_sequential_train(ag_sequential *seq, bool training); /* model.train() / .eval() */
void ag_sequential_free(ag_sequential *seq);

#ifndef AG_BUILDING_LIBRARY
#define ag_linear_new(...) AG_AT_(ag_linear_new(__VA_ARGS__))
#define ag_linear_forward(...) AG_AT_(ag_linear_forward(__VA_ARGS__))
#define ag_conv2d_new(...) AG_AT_(ag_conv2d_new(__VA_ARGS__))
#define ag_conv2d_forward(...) AG_AT_(ag_conv2d_forward(__VA_ARGS__))
#define ag_batch_norm_new(...) AG_AT_(ag_batch_norm_new(__VA_ARGS__))
#define ag_batch_norm_forward(...) AG_AT_(ag_batch_norm_forward(__VA_ARGS__))
#define ag_layer_norm_new(...) AG_AT_(ag_layer_norm_new(__VA_ARGS__))
#define ag_layer_norm_forward(...) AG_AT_(ag_layer_norm_forward(__VA_ARGS__))
#define ag_embedding_new(...) AG_AT_(ag_embedding_new(__VA_ARGS__))
#define ag_embedding_forward(...) AG_AT_(ag_embedding_forward(__VA_ARGS__))
#define ag_dropout_new(...) AG_AT_(ag_dropout_new(__VA_ARGS__))
#define ag_dropout_forward(...) AG_AT_(ag_dropout_forward(__VA_ARGS__))
#define ag_linear_module(...) AG_AT_(ag_linear_module(__VA_ARGS__))
#define ag_conv2d_module(...) AG_AT_(ag_conv2d_module(__VA_ARGS__))
#define ag_batch_norm_module(...) AG_AT_(ag_batch_norm_module(__VA_ARGS__))
#define ag_layer_norm_module(...) AG_AT_(ag_layer_norm_module(__VA_ARGS__))
#define ag_embedding_module(...) AG_AT_(ag_embedding_module(__VA_ARGS__))
#define ag_dropout_module(...) AG_AT_(ag_dropout_module(__VA_ARGS__))
#define ag_flatten_module(...) AG_AT_(ag_flatten_module(__VA_ARGS__))
#define ag_max_pool2d_module(...) AG_AT_(ag_max_pool2d_module(__VA_ARGS__))
#define ag_avg_pool2d_module(...) AG_AT_(ag_avg_pool2d_module(__VA_ARGS__))
#define ag_module_forward(...) AG_AT_(ag_module_forward(__VA_ARGS__))
#define ag_sequential_new(...) AG_AT_(ag_sequential_new(__VA_ARGS__))
#define ag_sequential_forward(...) AG_AT_(ag_sequential_forward(__VA_ARGS__))
#endif

#ifdef __cplusplus
}
#endif

#endif
