/*
 * detach.c - a tensor cut from the graph (x.detach()).
 *
 *   forward:  y = x, a view: the same memory, and the same version counter, as x
 *   backward: none; y requires no grad and nothing is recorded
 * Because y shares x's memory, an in-place change of either shows in both, and bumps the
 * version both report: a node that saved x still notices that y was changed, as in torch.
 */
#include "autograd/internal.h"

ag_tensor *ag_detach(ag_tensor *x) {
    if (!ag_check_tensor("detach", x, "self")) return NULL;
    ag_tensor *y = ag_result_view(x, x->ndim, x->shape);
    if (y) y->origin = AG_MADE_BY_DETACH; /* for ag_explain_grad */
    return y;
}
