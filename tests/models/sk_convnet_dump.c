/* sk_convnet_dump.c - builds a small ConvNet, runs it on deterministic
 * images and writes everything a PyTorch reference needs to check it into
 * one safetensors file (test_convnet_torch.py):
 *   the initial parameters (their names), images, labels;
 *   "eval.embed": sk_convnet_embed before any training step, evaluation mode;
 *   "train.logits", "train.loss" and "grad.<name>" of one training forward;
 *   the buffers after it (batch norm's running statistics moved once);
 *   "eval.logits": a forward in evaluation mode after that;
 *   metadata "correct" (the training forward's count) and "flops".
 * usage: sk_convnet_dump NORM POOL C H W WIDTH DEPTH CLASSES B OUT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_convnet.h"
#include "sk_weights.h"

#define MAXT 128

typedef struct {
    const char *names[MAXT];
    sk_tensor *ts[MAXT];
    char owned[MAXT][96];
    int n;
} list_;

static void put_(list_ *l, const char *prefix, const char *name, sk_tensor *t)
{
    if (l->n == MAXT || !t) return;
    snprintf(l->owned[l->n], sizeof l->owned[0], "%s%s", prefix, name);
    l->names[l->n] = l->owned[l->n];
    l->ts[l->n++] = sk_shim_clone(t); /* a copy: later steps change buffers in place */
}

static int parse_(char **argv, sk_convnet_opts *o, int64_t *B)
{
    const char *norms[] = {"instance", "batch", "none"}, *pools[] = {"avg", "max", "none"};
    o->norm = 3, o->pool = 3;
    for (int i = 0; i < 3; i++) {
        if (!strcmp(argv[1], norms[i])) o->norm = (sk_convnet_norm)i;
        if (!strcmp(argv[2], pools[i])) o->pool = (sk_convnet_pool)i;
    }
    o->channels = atoll(argv[3]), o->image_h = atoll(argv[4]), o->image_w = atoll(argv[5]);
    o->width = atoll(argv[6]), o->depth = atoll(argv[7]), o->classes = atoll(argv[8]);
    *B = atoll(argv[9]);
    return (int)o->norm < 3 && (int)o->pool < 3 && *B > 0 ? 0 : -1;
}

static int run_(sk_convnet *m, const sk_convnet_opts *o, int64_t B, list_ *l, char *meta_vals)
{
    int rc = 0;
    sk_params *p = sk_convnet_params(m), *buf = sk_convnet_buffers(m);
    int64_t npx = B * o->channels * o->image_h * o->image_w;
    uint8_t *px = malloc((size_t)npx);
    int64_t *lab = malloc((size_t)B * sizeof *lab);
    if (!px || !lab) return -1;
    for (int64_t i = 0; i < npx; i++) px[i] = (uint8_t)((i * 2654435761u) >> 13);
    for (int64_t i = 0; i < B; i++) lab[i] = (i * 7 + 3) % o->classes;
    /* 1-channel images as [B, H, W], the layout corpora store them in */
    int64_t s4[4] = {B, o->channels, o->image_h, o->image_w}, s3[3] = {B, o->image_h, o->image_w}, sb[1] = {B};
    sk_tensor *img =
        o->channels == 1 ? sk_shim_from_host(px, s3, 3, SK_U8, SK_CPU) : sk_shim_from_host(px, s4, 4, SK_U8, SK_CPU);
    sk_tensor *y = sk_shim_from_host(lab, sb, 1, SK_I64, SK_CPU), *feat = NULL;
    for (int i = 0; i < p->n; i++) put_(l, "", p->names[i], p->t[i]);
    put_(l, "", "images", img);
    put_(l, "", "labels", y);
    int prev = sk_shim_set_grad_enabled(0);
    rc = sk_convnet_embed(m, img, 0, &feat);
    sk_shim_set_grad_enabled(prev);
    put_(l, "eval.", "embed", feat);
    sk_convnet_out out = {0};
    if (!rc) rc = sk_convnet_forward(m, img, y, 1, &out);
    if (!rc) rc = sk_shim_backward(out.loss);
    put_(l, "train.", "logits", out.logits);
    put_(l, "train.", "loss", out.loss);
    for (int i = 0; i < p->n && !rc; i++) {
        sk_tensor *g = NULL;
        rc = sk_shim_grad(p->t[i], &g);
        put_(l, "grad.", p->names[i], g);
    }
    for (int i = 0; i < buf->n; i++) put_(l, "", buf->names[i], buf->t[i]);
    sk_convnet_out ev = {0};
    prev = sk_shim_set_grad_enabled(0);
    if (!rc) rc = sk_convnet_forward(m, img, y, 0, &ev);
    sk_shim_set_grad_enabled(prev);
    put_(l, "eval.", "logits", ev.logits);
    snprintf(meta_vals, 32, "%lld", (long long)out.correct);
    snprintf(meta_vals + 32, 32, "%.17g", sk_convnet_forward_flops(m));
    free(px);
    free(lab);
    return rc;
}

int main(int argc, char **argv)
{
    sk_convnet_opts o;
    int64_t B;
    if (argc != 11 || parse_(argv, &o, &B)) {
        fprintf(stderr, "usage: sk_convnet_dump instance|batch|none avg|max|none C H W WIDTH DEPTH CLASSES B OUT\n");
        return 2;
    }
    sk_shim_set_num_threads(1);
    sk_convnet *m = NULL;
    static list_ l;
    char vals[64];
    sk_scope *s = sk_shim_scope_begin();
    int rc = sk_convnet_create(&m, &o, 7);
    if (!rc) rc = run_(m, &o, B, &l, vals);
    const char *meta[4] = {"correct", vals, "flops", vals + 32};
    if (!rc) rc = sk_weights_write(argv[10], l.names, l.ts, l.n, meta, 2);
    if (rc) fprintf(stderr, "sk_convnet_dump: %s\n", sk_error_last());
    sk_shim_scope_end(s);
    sk_convnet_free(m);
    return rc ? 1 : 0;
}
