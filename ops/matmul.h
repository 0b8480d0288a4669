/*
 * matmul.h - the reference kernel of ag_matmul, kept callable beside the fast one.
 *
 * ag_matmul (ops/ops.h) multiplies with OpenBLAS. ag_matmul_reference computes the same
 * forward with plain loops over contiguous row-major data, summing in the tensors' own
 * precision (float32 in float32), and records nothing: no node, no grad_fn, whatever the grad
 * mode. It takes the same inputs, checks them the same way (with the same messages), and
 * returns a new tape-owned tensor, or NULL after reporting bad input. Tests compare the two.
 */
#ifndef AG_OPS_MATMUL_H
#define AG_OPS_MATMUL_H

#include "autograd/autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* a: (..., N, K) or (K)  b: (..., K, M) or (K)  ->  torch.matmul(a, b), without a node */
ag_tensor *ag_matmul_reference(ag_tensor *a, ag_tensor *b);

#ifndef AG_BUILDING_LIBRARY
#define ag_matmul_reference(...) AG_AT_(ag_matmul_reference(__VA_ARGS__))
#endif

#ifdef __cplusplus
}
#endif

#endif
