/* sk_vit.c - Vision Transformer over the shim (see sk_vit.h). */
#include "sk_vit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_model.h"

struct sk_vit {
    sk_vit_opts o;
    sk_params p;
    sk_tensor *patch_w, *patch_b, *cls, *pos, *norm_w, *norm_b, *head_w, *head_b;
    sk_block *blocks;
};

static int check_opts_(const sk_vit_opts *o)
{
    if (o->width <= 0 || o->depth <= 0 || o->heads <= 0 || o->mlp_hidden <= 0)
        return sk_error_set(SK_EINVAL, "model: width, depth, heads and mlp hidden size must be positive");
    if (o->width % o->heads)
        return sk_error_set(SK_EINVAL, "model.heads = %lld does not divide model.width = %lld", (long long)o->heads,
                            (long long)o->width);
    if (o->patch <= 0 || o->image_h % o->patch || o->image_w % o->patch)
        return sk_error_set(SK_EINVAL, "model.patch = %lld does not divide the %lldx%lld images", (long long)o->patch,
                            (long long)o->image_h, (long long)o->image_w);
    if (o->classes < 2) return sk_error_set(SK_EINVAL, "model: %lld classes (need >= 2)", (long long)o->classes);
    if (o->channels <= 0) return sk_error_set(SK_EINVAL, "model: %lld image channels", (long long)o->channels);
    return SK_OK;
}

int sk_vit_create(sk_vit **out, const sk_vit_opts *o, uint64_t seed)
{
    int rc = SK_OK;
    sk_vit *m = NULL;
    sk_generator *g = NULL;
    *out = NULL;
    SK_TRY(check_opts_(o));
    m = calloc(1, sizeof *m);
    SK_FAIL_IF(!m, SK_ENOMEM, "vit: out of memory");
    m->o = *o;
    sk_params_init(&m->p);
    SK_TRY(sk_generator_create(&g, seed, SK_CPU));
    int64_t D = o->width, pd = o->channels * o->patch * o->patch;
    int64_t np = (o->image_h / o->patch) * (o->image_w / o->patch), ntok = np + (o->cls_token ? 1 : 0);
    int64_t pw[2] = {D, pd}, d1[1] = {D}, cs[3] = {1, 1, D}, ps[3] = {1, ntok, D}, hw[2] = {o->classes, D},
            h1[1] = {o->classes};
    SK_TRY(sk_params_add(&m->p, "patch_embed.proj.weight", sk_params_normal(pw, 2, 0.02, g), 1));
    m->patch_w = m->p.t[m->p.n - 1];
    SK_TRY(sk_params_add(&m->p, "patch_embed.proj.bias", sk_params_const(d1, 1, 0.0), 0));
    m->patch_b = m->p.t[m->p.n - 1];
    if (o->cls_token) {
        SK_TRY(sk_params_add(&m->p, "cls_token", sk_params_normal(cs, 3, 0.02, g), 0));
        m->cls = m->p.t[m->p.n - 1];
    }
    SK_TRY(sk_params_add(&m->p, "pos_embed", sk_params_normal(ps, 3, 0.02, g), 0));
    m->pos = m->p.t[m->p.n - 1];
    SK_TRY(sk_blocks_create(&m->blocks, &m->p, (int)o->depth, D, o->mlp_hidden, g));
    SK_TRY(sk_block_norm_init(&m->p, "norm", D, &m->norm_w, &m->norm_b));
    SK_TRY(sk_params_add(&m->p, "head.weight", sk_params_normal(hw, 2, 0.02, g), 1));
    m->head_w = m->p.t[m->p.n - 1];
    SK_TRY(sk_params_add(&m->p, "head.bias", sk_params_const(h1, 1, 0.0), 0));
    m->head_b = m->p.t[m->p.n - 1];
    *out = m;
    m = NULL;
done:
    sk_generator_free(g);
    sk_vit_free(m);
    return rc;
}

void sk_vit_free(sk_vit *m)
{
    if (!m) return;
    sk_params_free(&m->p);
    free(m->blocks);
    free(m);
}

sk_params *sk_vit_params(sk_vit *m) { return &m->p; }

sk_select_model sk_vit_select_model(const sk_vit *m)
{
    sk_select_model s = {0};
    s.depth = (int)m->o.depth;
    s.width = (int)m->o.width;
    s.heads = (int)m->o.heads;
    s.grid_h = m->o.image_h / m->o.patch;
    s.grid_w = m->o.image_w / m->o.patch;
    s.n_protected = m->o.cls_token ? 1 : 0;
    s.tokens = s.grid_h * s.grid_w + s.n_protected;
    s.causal = 0;
    return s;
}

/* Patch embedding, blocks (selector hooks included), final norm and
 * pooling: *pooled [B, D], the penultimate features. */
static int features_(sk_vit *m, const sk_tensor *images, sk_selector *sel, int64_t step, int training,
                     sk_tensor **pooled, sk_blocks_stats *st)
{
    int rc = SK_OK;
    const sk_vit_opts *o = &m->o;
    int64_t B = sk_shim_size(images, 0), C = o->channels, P = o->patch;
    int64_t gh = o->image_h / P, gw = o->image_w / P, np = gh * gw, D = o->width;
    int64_t s6[6] = {B, C, gh, P, gw, P}, perm[6] = {0, 2, 4, 1, 3, 5}, s3[3] = {B, np, C * P * P};
    /* uint8 pixels (or float32 in the same [0, 255] units: augmented or distilled images) -> [-1, 1] */
    sk_tensor *x = sk_shim_add_scalar(sk_shim_mul_scalar(sk_shim_to(images, SK_CPU, SK_F32), 2.0 / 255.0), -1.0);
    x = sk_shim_reshape(sk_shim_permute(sk_shim_reshape(x, s6, 6), perm, 6), s3, 3);
    x = sk_shim_linear(x, m->patch_w, m->patch_b);
    if (o->cls_token) {
        int64_t ce[3] = {B, 1, D};
        sk_tensor *parts[2] = {sk_shim_expand(m->cls, ce, 3), x};
        x = sk_shim_cat(parts, 2, 1);
    }
    x = sk_shim_add(x, m->pos);
    SK_TRY_T(x);
    int64_t N = sk_shim_size(x, 1), pe[2] = {B, N};
    sk_seq seq = {0};
    seq.x = x;
    seq.pos = sk_shim_expand(sk_shim_unsqueeze(sk_shim_arange(N, SK_CPU), 0), pe, 2);
    seq.n_protected = o->cls_token ? 1 : 0;
    seq.causal = 0;
    seq.training = training;
    SK_TRY(sk_blocks_run(m->blocks, (int)o->depth, (int)o->heads, sel, step, &seq, st));
    x = sk_shim_layer_norm(seq.x, m->norm_w, m->norm_b, 1e-5);
    int64_t d1[1] = {1};
    if (o->cls_token) {
        *pooled = sk_shim_squeeze(sk_shim_slice(x, 1, 0, 1), 1);
    } else if (seq.sizes) {
        sk_tensor *w = sk_shim_unsqueeze(seq.sizes, -1);
        *pooled = sk_shim_div(sk_shim_sum(sk_shim_mul(x, w), d1, 1, 0), sk_shim_sum(w, d1, 1, 0));
    } else {
        *pooled = sk_shim_mean(x, d1, 1, 0);
    }
    SK_TRY_T(*pooled);
done:
    return rc;
}

int sk_vit_forward(sk_vit *m, const sk_tensor *images, const sk_tensor *labels, sk_selector *sel, int64_t step,
                   int training, sk_vit_out *out)
{
    int rc = SK_OK;
    sk_tensor *pooled = NULL;
    SK_TRY(features_(m, images, sel, step, training, &pooled, &out->st));
    out->logits = sk_shim_linear(pooled, m->head_w, m->head_b);
    out->loss = sk_shim_cross_entropy(out->logits, labels, -100);
    sk_tensor *hit = sk_shim_sum(sk_shim_eq(sk_shim_argmax(out->logits, 1, 0), labels), NULL, 0, 0);
    double c = 0;
    SK_TRY(sk_shim_item(hit, &c));
    SK_TRY_T(out->loss);
    out->correct = (int64_t)c;
done:
    return rc;
}

int sk_vit_embed(sk_vit *m, const sk_tensor *images, sk_tensor **feat)
{
    sk_blocks_stats st;
    return features_(m, images, NULL, 0, 0, feat, &st);
}

/* ---- the registry entry (sk_model.h) ---------------------------------------- */

static int vt_check_(const sk_model_config *c)
{
    int rc = sk_blocks_check_config(c);
    if (rc < 0) return rc;
    if (c->patch <= 0) return sk_error_set(SK_EINVAL, "model.patch = %lld: must be > 0", (long long)c->patch);
    if (c->pool != SK_POOL_CLS && c->pool != SK_POOL_MEAN)
        return sk_error_set(SK_EINVAL, "model.pool = %d: not a pooling (cls or mean)", c->pool);
    return SK_OK;
}

static int vt_create_(void **self, const sk_model_config *c, const sk_model_data *d, uint64_t seed)
{
    *self = NULL;
    if (d->kind != SK_SAMPLE_IMAGE || (d->ndim != 2 && d->ndim != 3))
        return sk_error_set(SK_EINVAL, "data: vit needs image samples, got %d dims", d->ndim);
    sk_vit_opts vo = {d->shape[d->ndim - 2],
                      d->shape[d->ndim - 1],
                      d->ndim == 3 ? d->shape[0] : 1,
                      c->patch,
                      c->width,
                      c->depth,
                      c->heads,
                      c->mlp_ratio * c->width,
                      c->classes ? c->classes : d->classes,
                      c->pool == SK_POOL_CLS};
    return sk_vit_create((sk_vit **)self, &vo, seed);
}

static void vt_destroy_(void *self) { sk_vit_free(self); }
static sk_params *vt_params_(void *self) { return sk_vit_params(self); }

static void vt_info_(const void *self, sk_model_info *out)
{
    const sk_vit *m = self;
    out->outputs = m->o.classes;
    out->features = m->o.width;
}

static int vt_forward_(void *self, const sk_tensor *x, const sk_tensor *y, sk_selector *sel, int64_t step, int training,
                       sk_model_out *out)
{
    int rc = SK_OK;
    SK_FAIL_IF(sk_shim_dtype(x) != SK_U8 && sk_shim_dtype(x) != SK_F32, SK_EINVAL,
               "vit: image batches must hold uint8 pixels or float32 pixels in [0, 255] units");
    SK_FAIL_IF(!y, SK_EINVAL, "vit: the corpus has no labels");
    sk_vit_out o = {0};
    SK_TRY(sk_vit_forward(self, x, y, sel, step, training, &o));
    out->loss = o.loss;
    out->sample_loss = sk_model_nll(o.logits, y);
    SK_TRY_T(out->sample_loss);
    out->logits = o.logits;
    out->correct = o.correct;
    out->count = sk_shim_size(x, 0);
    out->tokens_in = o.st.tokens_in;
    out->tokens_blocks = o.st.tokens_blocks;
    out->depth = o.st.depth;
done:
    return rc;
}

static int vt_embed_(void *self, const sk_tensor *x, sk_tensor **feat) { return sk_vit_embed(self, x, feat); }

static int vt_select_model_(const void *self, sk_select_model *out)
{
    *out = sk_vit_select_model(self);
    return SK_OK;
}

const sk_model_vtable sk_model_vit = {
    .version = SK_MODEL_VERSION,
    .name = "vit",
    .flags = SK_MODEL_CLASSIFIER | SK_MODEL_IMAGES,
    .help = "Vision Transformer (images)",
    .keys = "width depth heads mlp_ratio patch pool classes",
    .check = vt_check_,
    .create = vt_create_,
    .destroy = vt_destroy_,
    .params = vt_params_,
    .info = vt_info_,
    .forward = vt_forward_,
    .embed = vt_embed_,
    .select_model = vt_select_model_,
};
