/* sk_autograd_dump.c - sk_shim_autograd_grad on a small second-order case
 * for test_autograd_grad.py: x [4, 3], w [3, 2], b [2], an unused u [5]
 * (values sin(0.7 k + phase)); y = sum(tanh(x @ w + b)^2);
 * (gw, gb, gu) = grad(y, (w, b, u), create_graph); L = sum(gw * cos(k)) +
 * sum(gb^2); L.backward(). Prints, one per line, "name v0 v1 ...": gw, gb,
 * gu, x.grad, w.grad, and gw again with create_graph = 0, and whether that
 * gradient requires grad. */
#include <math.h>
#include <stdio.h>

#include "sk_shim.h"

static sk_tensor *leaf_(const int64_t *shape, int nd, int n, double phase)
{
    float v[16];
    for (int k = 0; k < n; k++) v[k] = (float)sin(0.7 * k + phase);
    sk_tensor *t = sk_shim_from_host(v, shape, nd, SK_F32, SK_CPU);
    if (t) sk_shim_set_requires_grad(t, 1);
    return t;
}

static int print_(const char *name, const sk_tensor *t)
{
    float v[16];
    int64_t n = t ? sk_shim_numel(t) : -1;
    if (n < 0 || n > 16 || sk_shim_to_host(sk_shim_contiguous(t), v, sizeof v) < 0) return -1;
    printf("%s", name);
    for (int64_t i = 0; i < n; i++) printf(" %.9g", v[i]);
    printf("\n");
    return 0;
}

int main(void)
{
    int64_t sx[2] = {4, 3}, sw[2] = {3, 2}, sb[1] = {2}, su[1] = {5};
    sk_scope *sc = sk_shim_scope_begin();
    sk_tensor *x = leaf_(sx, 2, 12, 0.1), *w = leaf_(sw, 2, 6, 1.3), *b = leaf_(sb, 1, 2, 2.9),
              *u = leaf_(su, 1, 5, 0.5);
    float cw[6];
    for (int k = 0; k < 6; k++) cw[k] = (float)cos((double)k);
    sk_tensor *c = sk_shim_from_host(cw, sw, 2, SK_F32, SK_CPU);
    sk_tensor *h = sk_shim_tanh(sk_shim_add(sk_shim_matmul(x, w), b));
    sk_tensor *y = sk_shim_sum(sk_shim_mul(h, h), NULL, 0, 0);
    sk_tensor *in[3] = {w, b, u}, *g[3], *g0[3], *xg = NULL, *wg = NULL;
    if (!y || sk_shim_autograd_grad(y, in, 3, 1, g) < 0) goto fail;
    sk_tensor *L =
        sk_shim_add(sk_shim_sum(sk_shim_mul(g[0], c), NULL, 0, 0), sk_shim_sum(sk_shim_mul(g[1], g[1]), NULL, 0, 0));
    if (!L || sk_shim_backward(L) < 0 || sk_shim_grad(x, &xg) < 0 || sk_shim_grad(w, &wg) < 0) goto fail;
    /* first order: a fresh graph, freed by the call */
    h = sk_shim_tanh(sk_shim_add(sk_shim_matmul(x, w), b));
    y = sk_shim_sum(sk_shim_mul(h, h), NULL, 0, 0);
    if (!y || sk_shim_autograd_grad(y, in, 3, 0, g0) < 0) goto fail;
    if (print_("gw", g[0]) || print_("gb", g[1]) || print_("gu", g[2]) || print_("xgrad", xg) || print_("wgrad", wg) ||
        print_("gw0", g0[0]))
        goto fail;
    printf("gw0_requires_grad %d\ngw_requires_grad %d\n", sk_shim_requires_grad(g0[0]), sk_shim_requires_grad(g[0]));
    sk_shim_scope_end(sc);
    return 0;
fail:
    fprintf(stderr, "sk_autograd_dump: %s\n", sk_error_last());
    sk_shim_scope_end(sc);
    return 1;
}
