/*
 * chain_rule.c - tutorial step 1: the chain rule on five scalars, by hand and by the engine.
 *
 *     e = a * b        d = e + c        L = d * f
 *
 * Backward starts from dL/dL = 1 and walks the ops in reverse. At each op the gradient that
 * arrives (g) is multiplied by the op's local derivative and passed to its inputs:
 *     L = d * f:  dL/dd = g * f = f,        dL/df = g * d = d
 *     d = e + c:  dL/de = dL/dd * 1,        dL/dc = dL/dd * 1
 *     e = a * b:  dL/da = dL/de * b,        dL/db = dL/de * a
 * The program prints the values worked by hand, then the engine's narrated backward, then
 * the .grad of every leaf: they agree. With --dot FILE it also writes the graph for Graphviz.
 */
#include "autograd/autograd.h"

#include <stdio.h>
#include <string.h>

static ag_tensor *leaf(const char *name, double value) {
    return ag_set_name(ag_requires_grad_(ag_scalar(value, AG_FLOAT64), true), name);
}

int main(int argc, char **argv) {
    ag_tensor *a = leaf("a", 2), *b = leaf("b", -3), *c = leaf("c", 10), *f = leaf("f", -2);
    ag_tensor *e = ag_set_name(ag_mul(a, b), "e");
    ag_tensor *d = ag_set_name(ag_add(e, c), "d");
    ag_tensor *L = ag_set_name(ag_mul(d, f), "L");
    printf("forward:  e = a*b = %g,  d = e+c = %g,  L = d*f = %g\n\n", ag_item(e), ag_item(d),
           ag_item(L));

    double dd = ag_item(f), df = ag_item(d), de = dd, dc = dd;
    printf("by hand:  dL/dd = f = %g,  dL/df = d = %g,  dL/dc = dL/dd = %g,\n", dd, df, dc);
    printf("          dL/da = dL/de * b = %g,  dL/db = dL/de * a = %g\n\n", de * ag_item(b),
           de * ag_item(a));

    printf("the engine's backward, node by node:\n");
    ag_set_backward_trace(stdout);
    ag_backward(L);
    ag_set_backward_trace(NULL);

    printf("\n.grad:    a %g,  b %g,  c %g,  f %g\n", ag_item(a->grad), ag_item(b->grad),
           ag_item(c->grad), ag_item(f->grad));
    if (argc == 3 && strcmp(argv[1], "--dot") == 0) {
        if (ag_graph_dot_file(L, argv[2]) != 0) {
            fprintf(stderr, "chain_rule: %s\n", ag_last_error());
            return 1;
        }
        printf("graph written to %s (render: dot -Tpng %s -o graph.png)\n", argv[2], argv[2]);
    }
    ag_tape_reset(NULL);
    ag_tensor_free(a), ag_tensor_free(b), ag_tensor_free(c), ag_tensor_free(f);
    return 0;
}
