/* sk_params.c - a model's named parameter list (see sk_params.h). */
#include "sk_params.h"

#include <stdlib.h>
#include <string.h>

void sk_params_init(sk_params *p) { memset(p, 0, sizeof *p); }

int sk_params_add(sk_params *p, const char *name, sk_tensor *t, int decay)
{
    int rc = SK_OK;
    char *nm = NULL;
    if (!t) return sk_error_last_code() ? sk_error_last_code() : sk_error_set(SK_EINVAL, "param %s: NULL", name);
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 32;
        sk_tensor **t2 = realloc(p->t, (size_t)cap * sizeof *t2);
        if (t2) p->t = t2;
        char **n2 = realloc(p->names, (size_t)cap * sizeof *n2);
        if (n2) p->names = n2;
        int *d2 = realloc(p->decay, (size_t)cap * sizeof *d2);
        if (d2) p->decay = d2;
        SK_FAIL_IF(!t2 || !n2 || !d2, SK_ENOMEM, "param %s: out of memory", name);
        p->cap = cap;
    }
    nm = strdup(name);
    SK_FAIL_IF(!nm, SK_ENOMEM, "param %s: out of memory", name);
    SK_TRY(sk_shim_set_requires_grad(t, 1));
    p->t[p->n] = t;
    p->names[p->n] = nm;
    p->decay[p->n] = decay;
    p->n++;
    return SK_OK;
done:
    free(nm);
    sk_tensor_free(t);
    return rc;
}

int sk_params_find(const sk_params *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0) return i;
    return -1;
}

int64_t sk_params_numel(const sk_params *p)
{
    int64_t n = 0;
    for (int i = 0; i < p->n; i++) n += sk_shim_numel(p->t[i]);
    return n;
}

void sk_params_free(sk_params *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) {
        sk_tensor_free(p->t[i]);
        free(p->names[i]);
    }
    free(p->t);
    free(p->names);
    free(p->decay);
    memset(p, 0, sizeof *p);
}

sk_tensor *sk_params_normal(const int64_t *shape, int ndim, double std, sk_generator *g)
{
    sk_scope *s = sk_shim_scope_begin();
    sk_tensor *t = sk_shim_keep(sk_shim_mul_scalar(sk_shim_randn(shape, ndim, SK_F32, SK_CPU, g), std));
    sk_shim_scope_end(s);
    return t;
}

sk_tensor *sk_params_const(const int64_t *shape, int ndim, double value)
{
    sk_scope *s = sk_shim_scope_begin();
    sk_tensor *t = sk_shim_keep(sk_shim_full(shape, ndim, value, SK_F32, SK_CPU));
    sk_shim_scope_end(s);
    return t;
}

int sk_params_join(sk_params *view, const sk_params *a, const sk_params *b)
{
    const int na = a ? a->n : 0, n = na + (b ? b->n : 0), cap = n ? n : 1;
    memset(view, 0, sizeof *view);
    view->t = malloc((size_t)cap * sizeof *view->t);
    view->names = malloc((size_t)cap * sizeof *view->names);
    view->decay = malloc((size_t)cap * sizeof *view->decay);
    if (!view->t || !view->names || !view->decay) {
        sk_params_view_free(view);
        return sk_error_set(SK_ENOMEM, "params: out of memory");
    }
    for (int i = 0; i < n; i++) {
        const sk_params *q = i < na ? a : b;
        int j = i < na ? i : i - na;
        view->t[i] = q->t[j];
        view->names[i] = q->names[j];
        view->decay[i] = q->decay[j];
    }
    view->n = view->cap = n;
    return SK_OK;
}

void sk_params_view_free(sk_params *view)
{
    free(view->t);
    free(view->names);
    free(view->decay);
    memset(view, 0, sizeof *view);
}
