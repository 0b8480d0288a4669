/*
 * rows.h - what index_select.c and slice.c share: copying whole rows of x along one dim, and
 * the scatter-add that is its backward.
 *
 * Around dim, x is seen as (outer, size, inner) (ag_split_dim): a row is the inner contiguous
 * elements at one (o, k). index_select and slice both make a result (outer, len, inner) whose
 * row (o, j) is x's row (o, pos[j]); they differ only in pos: index[j] for index_select,
 * start + j * step for slice. Their backwards add g's row (o, j) into dx's row (o, pos[j]),
 * so an index repeated r times collects r shares. Each op keeps its own checks (the positions
 * must be in range), node and grad_fn name.
 */
#ifndef AG_OPS_ROWS_H
#define AG_OPS_ROWS_H

#include "autograd/internal.h"

/* The positions along dim of len rows: index[j] if index is not NULL, else start + j * step. */
typedef struct ag_rows {
    const int64_t *index;
    int64_t start, step, len;
} ag_rows;

/* out's row (o, j) = x's row (o, pos[j]); out has x's dtype and shape but len at dim. */
void ag_rows_copy(const ag_tensor *x, int dim, ag_rows rows, ag_tensor *out);

/* The backward of ag_rows_copy: a new tape-owned dx of x's shape and g's dtype, zero but for
 * dx's row (o, pos[j]) += g's row (o, j). NULL if out of memory. */
ag_tensor *ag_rows_scatter_add(const ag_tensor *x, int dim, ag_rows rows, const ag_tensor *g);

#endif
