/*
 * rows.c - the row copy of index_select and slice, and its scatter-add backward (see
 * ops/rows.h).
 */
#include "ops/rows.h"

#include <string.h>

/* Which row of x along dim row j of the result is. */
static int64_t position(const ag_rows *rows, int64_t j) {
    return rows->index ? rows->index[j] : rows->start + j * rows->step;
}

void ag_rows_copy(const ag_tensor *x, int dim, ag_rows rows, ag_tensor *out) {
    int64_t outer, size, inner, len = rows.len;
    ag_split_dim(x, dim, &outer, &size, &inner);
    size_t run = (size_t)inner * ag_dtype_size(x->dtype);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < len; j++)
            memcpy((char *)out->data + (size_t)(o * len + j) * run,
                   (const char *)x->data + (size_t)(o * size + position(&rows, j)) * run, run);
}

ag_tensor *ag_rows_scatter_add(const ag_tensor *x, int dim, ag_rows rows, const ag_tensor *g) {
    int64_t outer, size, inner, len = rows.len;
    ag_tensor *dx = ag_result_zeros(g->dtype, x->ndim, x->shape);
    if (!dx) return NULL;
    ag_split_dim(x, dim, &outer, &size, &inner);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < len; j++) {
            int64_t to = (o * size + position(&rows, j)) * inner, from = (o * len + j) * inner;
            for (int64_t i = 0; i < inner; i++) {
                if (g->dtype == AG_FLOAT32)
                    AG_F32(dx)[to + i] += AG_F32(g)[from + i];
                else
                    AG_F64(dx)[to + i] += AG_F64(g)[from + i];
            }
        }
    }
    return dx;
}
