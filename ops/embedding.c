/*
 * embedding.c - F.embedding: a lookup table, the rows of weight at the given indices.
 *
 *   indices: int64 (*), each in [0, V)    weight: (V, D)    ->  out: (*, D)
 *   forward:  out[i, :] = weight[indices[i], :]           i runs over the indices, flat
 *   backward: dweight[indices[i], :] += g[i, :]           an index used r times collects r rows
 * The indices are saved (checked against in-place changes); they take no gradient.
 */
#include "autograd/internal.h"
#include "ops/nn_ops.h"

#include <string.h>

#define EMBEDDING_BACKWARD(T)                                                                      \
    static void embedding_backward_##T(int64_t k, int64_t d, const int64_t *index, const T *g,     \
                                       T *dw) {                                                    \
        for (int64_t i = 0; i < k; i++)                                                            \
            for (int64_t j = 0; j < d; j++)                                                        \
                dw[index[i] * d + j] += g[i * d + j];                                              \
    }
EMBEDDING_BACKWARD(float)
EMBEDDING_BACKWARD(double)

static void embedding_backward(ag_node *node) {
    ag_tensor *index = ag_saved(node, 0);
    if (!index || !ag_needs_grad(node, 0)) return;
    const ag_tensor *w = node->inputs[0];
    ag_tensor *g = ag_cast(node->grad, w->dtype), *dw = ag_result_zeros(w->dtype, 2, w->shape);
    if (!g || !dw) return;
    if (w->dtype == AG_FLOAT32)
        embedding_backward_float(index->numel, w->shape[1], index->data, g->data, dw->data);
    else
        embedding_backward_double(index->numel, w->shape[1], index->data, g->data, dw->data);
    ag_accumulate_temp(node, 0, dw);
}

static const ag_op embedding_op = {
    .name = "EmbeddingBackward0",
    .rule = "dweight = g scatter-added at the indices",
    .backward = embedding_backward,
};

ag_tensor *ag_embedding(ag_tensor *indices, ag_tensor *weight) {
    const char *op = "embedding";
    ag_tensor *w = weight;
    if (!ag_check_tensor(op, indices, "input") || !ag_check_tensor(op, w, "weight") ||
        !ag_check_floating(op, w))
        return NULL;
    if (w->ndim != 2) {
        AG_ERROR(op, "'weight' must be 2-D");
        return NULL;
    }
    if (indices->dtype != AG_INT64) {
        AG_ERROR(op,
                 "Expected tensor for argument #1 'indices' to have one of the following "
                 "scalar types: Long, Int; but got torch.%sTensor instead (while checking "
                 "arguments for embedding)",
                 ag_scalar_type_name(indices->dtype));
        return NULL;
    }
    if (indices->ndim >= AG_MAX_DIMS) {
        AG_ERROR(op, "indices of %d dims make an output of more than %d dims", indices->ndim,
                 AG_MAX_DIMS);
        return NULL;
    }
    int64_t v = w->shape[0], d = w->shape[1];
    for (int64_t i = 0; i < indices->numel; i++) {
        if (AG_I64(indices)[i] < 0 || AG_I64(indices)[i] >= v) {
            AG_ERROR(op, "index out of range in self");
            return NULL;
        }
    }
    int64_t shape[AG_MAX_DIMS];
    memcpy(shape, indices->shape, (size_t)indices->ndim * sizeof *shape);
    shape[indices->ndim] = d;
    ag_tensor *out = ag_result(w->dtype, indices->ndim + 1, shape);
    if (!out) return NULL;
    size_t row = (size_t)d * ag_dtype_size(w->dtype);
    for (int64_t i = 0; i < indices->numel && row; i++)
        memcpy((char *)out->data + (size_t)i * row,
               (const char *)w->data + (size_t)AG_I64(indices)[i] * row, row);
    ag_node *node = ag_record(&embedding_op, out, 1, &w);
    ag_save(node, indices);
    return out;
}
