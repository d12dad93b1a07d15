/* sk_tome_dump.c - test helper for test_tome_parity.py: one tome x merge
 * apply on the inputs in a raw file, written back raw, so the Python side
 * can compare it with facebookresearch/ToMe's bipartite_soft_matching.
 *
 * usage: sk_tome_dump IN OUT
 *   IN:  int64 B, N, D, H, DH, p (protected), r (tokens to merge); then f32
 *        keys [B, H, N, DH], x [B, N, D], sizes [B, N]
 *   OUT: int64 N' = N - r; then f32 x [B, N', D], sizes [B, N'] and int64
 *        pos [B, N'] (original position of each output token) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_select.h"
#include "sk_select_config.h"

static int io_(void *buf, size_t n, FILE *f, int wr)
{
    return (wr ? fwrite(buf, 1, n, f) : fread(buf, 1, n, f)) == n ? 0 : -1;
}

static int out_(const sk_tensor *t, sk_dtype dt, FILE *f)
{
    sk_tensor *c = sk_shim_contiguous(sk_shim_to(t, SK_CPU, dt));
    size_t n = c ? (size_t)sk_shim_numel(c) * sk_shim_dtype_size(dt) : 0;
    void *buf = malloc(n ? n : 1);
    int rc = !c || !buf || sk_shim_to_host(c, buf, n) < 0 || io_(buf, n, f, 1) < 0 ? -1 : 0;
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 1;
    int64_t h[7];
    float *keys = NULL, *x = NULL, *sz = NULL;
    FILE *in = NULL, *out = NULL;
    sk_selector *sel = NULL;
    sk_scope *sc = sk_shim_scope_begin();
    if (argc != 3 || !(in = fopen(argv[1], "rb")) || io_(h, sizeof h, in, 0) < 0) {
        fprintf(stderr, "usage: sk_tome_dump IN OUT (IN: a readable input file)\n");
        goto done;
    }
    int64_t b = h[0], n = h[1], d = h[2], nh = h[3], dh = h[4], p = h[5], r = h[6];
    size_t nk = (size_t)(b * nh * n * dh), nx = (size_t)(b * n * d), ns = (size_t)(b * n);
    keys = malloc(nk * 4);
    x = malloc(nx * 4);
    sz = malloc(ns * 4);
    if (!keys || !x || !sz || io_(keys, nk * 4, in, 0) < 0 || io_(x, nx * 4, in, 0) < 0 || io_(sz, ns * 4, in, 0) < 0) {
        fprintf(stderr, "%s: truncated input\n", argv[1]);
        goto done;
    }
    sk_select_config c;
    const sk_cfg_section *secs[1] = {&sk_select_section};
    void *bases[1] = {&c};
    if (sk_cfg_defaults(secs, 1, bases) < 0) goto fail;
    snprintf(c.scorer, sizeof c.scorer, "tome");
    snprintf(c.strategy, sizeof c.strategy, "merge");
    c.layers.n = 1;
    c.layers.v[0] = 1;
    c.budget = n - p - r;
    sk_select_model m = {0};
    m.depth = 2;
    m.width = (int)d;
    m.heads = (int)nh;
    m.tokens = n;
    m.n_protected = (int)p;
    if (sk_selector_create(&sel, &c, &m, 1) < 0) goto fail;
    sk_seq q = {0};
    q.x = sk_shim_from_host(x, (int64_t[]){b, n, d}, 3, SK_F32, SK_CPU);
    q.sizes = sk_shim_from_host(sz, (int64_t[]){b, n}, 2, SK_F32, SK_CPU);
    q.keys = sk_shim_from_host(keys, (int64_t[]){b, nh, n, dh}, 4, SK_F32, SK_CPU);
    q.pos = sk_shim_contiguous(sk_shim_expand(sk_shim_unsqueeze(sk_shim_arange(n, SK_CPU), 0), (int64_t[]){b, n}, 2));
    q.n_protected = (int)p;
    q.training = 1;
    if (sk_selector_apply(sel, 1, 0, &q) < 0) goto fail;
    int64_t n2 = sk_shim_size(q.x, 1);
    if (!(out = fopen(argv[2], "wb")) || io_(&n2, sizeof n2, out, 1) < 0 || out_(q.x, SK_F32, out) < 0 ||
        out_(q.sizes, SK_F32, out) < 0 || out_(q.pos, SK_I64, out) < 0) {
        fprintf(stderr, "%s: cannot write\n", argv[2]);
        goto done;
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "sk_tome_dump: %s\n", sk_error_last());
done:
    if (in) fclose(in);
    if (out && fclose(out) != 0) rc = 1;
    sk_selector_free(sel);
    sk_shim_scope_end(sc);
    free(keys);
    free(x);
    free(sz);
    return rc;
}
