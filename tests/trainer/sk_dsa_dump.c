/* sk_dsa_dump.c - runs trainer/sk_dsa.h on deterministic images and writes
 * inputs, draws, outputs and gradients into one safetensors file for a
 * PyTorch re-implementation of the reference's rand_* functions to check
 * (test_dsa.py). Per family f (0..5, sk_dsa_family order; strategy = its
 * name) and draw size m (0: one per sample, n = 4; 1: batch-wise, n = 1):
 *   "f<f>.m<m>.x" [4, 3, 8, 10], ".r" (loss weights), ".y" = the augmented
 *   batch, ".gx" = d sum(r y) / dx, the draw's arrays ".<field>" (F64 / I64
 *   [n]), ".ypix" (sk_dsa_apply_draw_pixels of x * 255), and for m = 1 a second batch ".x2" [2, 3, 8, 10] under the same
 *   draw, ".y2" (Siamese).
 * "all.*": the same for the whole strategy with multiple = 1 (all six in
 * order, one per sample). "chosen" (I64 [400]): the family of 400 mode-'S'
 * draws of the whole strategy. "big.<field>": one per-sample draw of 4000
 * for 28 x 28 images, multiple = 1 (the distributions).
 * usage: sk_dsa_dump OUT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_dsa.h"
#include "sk_dump_out.h"

static int put_host_(dump_out_ *o, const char *prefix, const char *field, const void *v, int64_t n, sk_dtype dt)
{
    char name[48];
    snprintf(name, sizeof name, "%s.%s", prefix, field);
    sk_tensor *t = sk_shim_from_host(v, (const int64_t[]){n}, 1, dt, SK_CPU);
    int rc = dump_put_(o, name, t);
    sk_tensor_free(t);
    return rc;
}

static int put_draw_(dump_out_ *o, const char *prefix, const sk_dsa_draw *d)
{
    const double *f[] = {d->randb, d->rands, d->randc, d->randf, d->sx, d->sy, d->angle};
    const char *fn[] = {"randb", "rands", "randc", "randf", "sx", "sy", "angle"};
    const int64_t *iv[] = {d->translation_x, d->translation_y, d->offset_x, d->offset_y};
    const char *in[] = {"translation_x", "translation_y", "offset_x", "offset_y"};
    for (int i = 0; i < 7; i++)
        if (put_host_(o, prefix, fn[i], f[i], d->n, SK_F64)) return -1;
    for (int i = 0; i < 4; i++)
        if (put_host_(o, prefix, in[i], iv[i], d->n, SK_I64)) return -1;
    return 0;
}

/* x, r, y, gx (and x2, y2 for a batch-wise draw) of one draw. */
static int case_(dump_out_ *o, const char *prefix, const sk_dsa_params *p, int64_t n, sk_generator *g)
{
    char name[48];
    int rc = -1;
    sk_dsa_draw *d = NULL;
    sk_scope *s = sk_shim_scope_begin();
    const int64_t xs[4] = {4, 3, 8, 10}, x2s[4] = {2, 3, 8, 10};
    sk_tensor *x = sk_shim_rand(xs, 4, SK_F32, SK_CPU, g), *r = sk_shim_randn(xs, 4, SK_F32, SK_CPU, g), *y, *gx;
    if (!x || !r || sk_shim_set_requires_grad(x, 1)) goto done;
    if (sk_dsa_draw_create(&d, p, n, 8, 10, g) || sk_dsa_apply_draw(d, x, &y)) goto done;
    if (sk_shim_backward(sk_shim_sum(sk_shim_mul(y, r), NULL, 0, 0)) || sk_shim_grad(x, &gx) || !gx) goto done;
    const char *fld[] = {"x", "r", "y", "gx"};
    sk_tensor *ts[] = {x, r, y, gx};
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.%s", prefix, fld[i]);
        if (dump_put_(o, name, ts[i])) goto done;
    }
    /* the same draw in pixel units: x * 255 in, pixels out */
    sk_tensor *yp = NULL;
    if (sk_dsa_apply_draw_pixels(d, sk_shim_detach(sk_shim_mul_scalar(x, 255.0)), &yp)) goto done;
    snprintf(name, sizeof name, "%s.ypix", prefix);
    if (dump_put_(o, name, yp)) goto done;
    if (n == 1) {
        sk_tensor *x2 = sk_shim_rand(x2s, 4, SK_F32, SK_CPU, g), *y2 = NULL;
        if (sk_dsa_apply_draw(d, x2, &y2)) goto done;
        snprintf(name, sizeof name, "%s.x2", prefix);
        if (dump_put_(o, name, x2)) goto done;
        snprintf(name, sizeof name, "%s.y2", prefix);
        if (dump_put_(o, name, y2)) goto done;
    }
    rc = put_draw_(o, prefix, d);
done:
    sk_dsa_draw_free(d);
    sk_shim_scope_end(s);
    return rc;
}

static int run_(const char *path)
{
    static const char *const fam[] = {"color", "crop", "cutout", "flip", "scale", "rotate"};
    dump_out_ *o = calloc(1, sizeof *o);
    sk_generator *g = NULL;
    sk_dsa_params p;
    char prefix[32];
    if (!o || sk_generator_create(&g, 2021, SK_CPU)) return -1;
    for (int f = 0; f < 6; f++)
        for (int m = 0; m < 2; m++) {
            sk_dsa_params_default(&p);
            snprintf(p.strategy, sizeof p.strategy, "%s", fam[f]);
            snprintf(prefix, sizeof prefix, "f%d.m%d", f, m);
            if (case_(o, prefix, &p, m ? 1 : 4, g)) return -1;
        }
    sk_dsa_params_default(&p);
    p.multiple = 1;
    if (case_(o, "all", &p, 4, g)) return -1;
    int64_t chosen[400];
    sk_dsa_params_default(&p);
    for (int i = 0; i < 400; i++) {
        sk_dsa_draw *d = NULL;
        if (sk_dsa_draw_create(&d, &p, 1, 8, 10, g)) return -1;
        chosen[i] = d->nfam == 1 ? (int64_t)d->fam[0] : -1;
        sk_dsa_draw_free(d);
    }
    sk_tensor *c = sk_shim_from_host(chosen, (const int64_t[]){400}, 1, SK_I64, SK_CPU);
    if (dump_put_(o, "chosen", c)) return -1;
    sk_tensor_free(c);
    sk_dsa_draw *d = NULL;
    p.multiple = 1;
    if (sk_dsa_draw_create(&d, &p, 4000, 28, 28, g) || put_draw_(o, "big", d)) return -1;
    sk_dsa_draw_free(d);
    /* a bad strategy is refused, naming the word */
    snprintf(p.strategy, sizeof p.strategy, "color_blur");
    if (sk_dsa_draw_create(&d, &p, 1, 8, 8, g) != SK_EINVAL || !strstr(sk_error_last(), "\"blur\"")) {
        fprintf(stderr, "a bad strategy was not refused by name: %s\n", sk_error_last());
        return -1;
    }
    sk_generator_free(g);
    int rc = dump_write_(o, path);
    free(o);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sk_dsa_dump OUT\n");
        return 2;
    }
    sk_shim_set_num_threads(1);
    if (run_(argv[1])) {
        fprintf(stderr, "sk_dsa_dump: %s\n", sk_error_last());
        return 1;
    }
    return 0;
}
