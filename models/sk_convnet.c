/* sk_convnet.c - the dataset-distillation ConvNet over the shim (see
 * sk_convnet.h for the architecture and where it follows the reference). */
#include "sk_convnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_model.h"

/* nn.GroupNorm's and nn.BatchNorm2d's defaults. */
#define NORM_EPS 1e-5
#define BN_MOMENTUM 0.1

typedef struct {
    sk_tensor *conv_w, *conv_b, *norm_w, *norm_b; /* in m->p */
    sk_tensor *mean, *var;                        /* in m->buf (batch norm only) */
    int64_t pad;
} layer_;

struct sk_convnet {
    sk_convnet_opts o;
    sk_params p, buf;
    layer_ *layers;
    sk_tensor *cls_w, *cls_b;
    int64_t feat_h, feat_w; /* spatial size of the last layer's output */
};

/* model.norm / model.pooling are parsed into the config's enums, whose
 * values are these (the key table lists the names in the same order). */
_Static_assert((int)SK_CONVNET_NORM_INSTANCE == SK_NORM_INSTANCE && (int)SK_CONVNET_NORM_BATCH == SK_NORM_BATCH &&
                   (int)SK_CONVNET_NORM_NONE == SK_NORM_NONE,
               "sk_convnet_norm follows sk_model_norm");
_Static_assert((int)SK_CONVNET_POOL_AVG == SK_POOLING_AVG && (int)SK_CONVNET_POOL_MAX == SK_POOLING_MAX &&
                   (int)SK_CONVNET_POOL_NONE == SK_POOLING_NONE,
               "sk_convnet_pool follows sk_model_pooling");

/* The reference pads the first conv by 3 on 1-channel images (networks.py
 * _make_layers: padding=3 if channel == 1 and d == 0 else 1). */
static int64_t pad_of_(const sk_convnet_opts *o, int64_t layer) { return layer == 0 && o->channels == 1 ? 3 : 1; }

/* Spatial size after the conv (3x3, pad p) and the pool of every layer. */
static void feat_size_(const sk_convnet_opts *o, int64_t *h, int64_t *w)
{
    *h = o->image_h, *w = o->image_w;
    for (int64_t l = 0; l < o->depth; l++) {
        int64_t p = pad_of_(o, l);
        *h += 2 * p - 2, *w += 2 * p - 2;
        if (o->pool != SK_CONVNET_POOL_NONE) *h /= 2, *w /= 2;
    }
}

static int check_opts_(const sk_convnet_opts *o)
{
    int64_t h, w;
    if (o->width <= 0) return sk_error_set(SK_EINVAL, "model.width = %lld: must be > 0", (long long)o->width);
    if (o->depth <= 0 || o->depth > 64)
        return sk_error_set(SK_EINVAL, "model.depth = %lld: must be in [1, 64]", (long long)o->depth);
    if ((unsigned)o->norm > SK_CONVNET_NORM_NONE || (unsigned)o->pool > SK_CONVNET_POOL_NONE)
        return sk_error_set(SK_EINVAL, "model.norm / model.pooling: unknown value %d / %d", (int)o->norm, (int)o->pool);
    if (o->classes < 2) return sk_error_set(SK_EINVAL, "model: %lld classes (need >= 2)", (long long)o->classes);
    if (o->channels <= 0 || o->image_h <= 0 || o->image_w <= 0)
        return sk_error_set(SK_EINVAL, "model: images of %lld channels, %lldx%lld pixels", (long long)o->channels,
                            (long long)o->image_h, (long long)o->image_w);
    feat_size_(o, &h, &w);
    if (h < 1 || w < 1)
        return sk_error_set(SK_EINVAL, "model.depth = %lld: %lld pooling layers shrink the %lldx%lld images to nothing",
                            (long long)o->depth, (long long)o->depth, (long long)o->image_h, (long long)o->image_w);
    return SK_OK;
}

/* U(-bound, bound), float32 on CPU, caller-owned: PyTorch's default for
 * conv and linear layers with bound 1/sqrt(fan_in) (kaiming_uniform with
 * a = sqrt(5) gives that bound for the weights, and reset_parameters uses
 * it for the biases too). */
static sk_tensor *uniform_(const int64_t *shape, int ndim, double bound, sk_generator *g)
{
    sk_scope *s = sk_shim_scope_begin();
    sk_tensor *u = sk_shim_rand(shape, ndim, SK_F32, SK_CPU, g);
    sk_tensor *t = sk_shim_keep(sk_shim_add_scalar(sk_shim_mul_scalar(u, 2.0 * bound), -bound));
    sk_shim_scope_end(s);
    return t;
}

/* Add one tensor as "<prefix>.<name>" to list and return it through *slot. */
static int add_(sk_params *list, const char *prefix, const char *name, sk_tensor *t, int decay, sk_tensor **slot)
{
    char full[96];
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    int rc = sk_params_add(list, full, t, decay);
    if (rc == SK_OK) *slot = list->t[list->n - 1];
    return rc;
}

static int layer_init_(sk_convnet *m, int64_t l, int64_t cin, sk_generator *g)
{
    int rc = SK_OK;
    layer_ *L = &m->layers[l];
    int64_t C = m->o.width, ws[4] = {C, cin, 3, 3}, cs[1] = {C};
    double bound = 1.0 / sqrt((double)(cin * 9));
    char pre[48];
    L->pad = pad_of_(&m->o, l);
    snprintf(pre, sizeof pre, "features.%lld.conv", (long long)l);
    SK_TRY(add_(&m->p, pre, "weight", uniform_(ws, 4, bound, g), 1, &L->conv_w));
    SK_TRY(add_(&m->p, pre, "bias", uniform_(cs, 1, bound, g), 0, &L->conv_b));
    if (m->o.norm == SK_CONVNET_NORM_NONE) return SK_OK;
    snprintf(pre, sizeof pre, "features.%lld.norm", (long long)l);
    SK_TRY(add_(&m->p, pre, "weight", sk_params_const(cs, 1, 1.0), 0, &L->norm_w));
    SK_TRY(add_(&m->p, pre, "bias", sk_params_const(cs, 1, 0.0), 0, &L->norm_b));
    if (m->o.norm != SK_CONVNET_NORM_BATCH) return SK_OK;
    /* Buffers: kept in an sk_params list for their names, without a
     * gradient (batch norm updates them in place). */
    SK_TRY(add_(&m->buf, pre, "running_mean", sk_params_const(cs, 1, 0.0), 0, &L->mean));
    SK_TRY(sk_shim_set_requires_grad(L->mean, 0));
    SK_TRY(add_(&m->buf, pre, "running_var", sk_params_const(cs, 1, 1.0), 0, &L->var));
    SK_TRY(sk_shim_set_requires_grad(L->var, 0));
done:
    return rc;
}

int sk_convnet_create(sk_convnet **out, const sk_convnet_opts *o, uint64_t seed)
{
    int rc = SK_OK;
    sk_convnet *m = NULL;
    sk_generator *g = NULL;
    *out = NULL;
    SK_TRY(check_opts_(o));
    m = calloc(1, sizeof *m);
    SK_FAIL_IF(!m, SK_ENOMEM, "convnet: out of memory");
    m->o = *o;
    sk_params_init(&m->p);
    sk_params_init(&m->buf);
    m->layers = calloc((size_t)o->depth, sizeof *m->layers);
    SK_FAIL_IF(!m->layers, SK_ENOMEM, "convnet: out of memory");
    SK_TRY(sk_generator_create(&g, seed, SK_CPU));
    for (int64_t l = 0; l < o->depth; l++) SK_TRY(layer_init_(m, l, l ? o->width : o->channels, g));
    feat_size_(o, &m->feat_h, &m->feat_w);
    int64_t F = sk_convnet_feature_dim(m), hw[2] = {o->classes, F}, hb[1] = {o->classes};
    double bound = 1.0 / sqrt((double)F);
    SK_TRY(add_(&m->p, "classifier", "weight", uniform_(hw, 2, bound, g), 1, &m->cls_w));
    SK_TRY(add_(&m->p, "classifier", "bias", uniform_(hb, 1, bound, g), 0, &m->cls_b));
    *out = m;
    m = NULL;
done:
    sk_generator_free(g);
    sk_convnet_free(m);
    return rc;
}

void sk_convnet_free(sk_convnet *m)
{
    if (!m) return;
    sk_params_free(&m->p);
    sk_params_free(&m->buf);
    free(m->layers);
    free(m);
}

sk_params *sk_convnet_params(sk_convnet *m) { return &m->p; }
sk_params *sk_convnet_buffers(sk_convnet *m) { return &m->buf; }
int64_t sk_convnet_feature_dim(const sk_convnet *m) { return m->o.width * m->feat_h * m->feat_w; }

double sk_convnet_forward_flops(const sk_convnet *m)
{
    const sk_convnet_opts *o = &m->o;
    double flops = 0;
    int64_t h = o->image_h, w = o->image_w;
    for (int64_t l = 0; l < o->depth; l++) {
        int64_t p = pad_of_(o, l), cin = l ? o->width : o->channels;
        h += 2 * p - 2, w += 2 * p - 2;
        flops += 2.0 * (double)(h * w) * (double)(o->width * cin * 9);
        if (o->pool != SK_CONVNET_POOL_NONE) h /= 2, w /= 2;
    }
    return flops + 2.0 * (double)sk_convnet_feature_dim(m) * (double)o->classes;
}

static sk_tensor *norm_(const sk_convnet *m, const layer_ *L, const sk_tensor *x, int training)
{
    switch (m->o.norm) {
    case SK_CONVNET_NORM_INSTANCE: return sk_shim_group_norm(x, m->o.width, L->norm_w, L->norm_b, NORM_EPS);
    case SK_CONVNET_NORM_BATCH:
        return sk_shim_batch_norm(x, L->norm_w, L->norm_b, L->mean, L->var, training, BN_MOMENTUM, NORM_EPS);
    case SK_CONVNET_NORM_NONE: break;
    }
    return (sk_tensor *)x;
}

static sk_tensor *pool_(const sk_convnet *m, const sk_tensor *x)
{
    switch (m->o.pool) {
    case SK_CONVNET_POOL_AVG: return sk_shim_avg_pool2d(x, 2);
    case SK_CONVNET_POOL_MAX: return sk_shim_max_pool2d(x, 2);
    case SK_CONVNET_POOL_NONE: break;
    }
    return (sk_tensor *)x;
}

int sk_convnet_embed(sk_convnet *m, const sk_tensor *images, int training, sk_tensor **feat)
{
    int rc = SK_OK;
    const sk_convnet_opts *o = &m->o;
    int64_t B = sk_shim_size(images, 0), s4[4] = {B, o->channels, o->image_h, o->image_w}, s2[2] = {B, -1};
    *feat = NULL;
    int64_t per = B > 0 ? sk_shim_numel(images) / B : 0;
    SK_FAIL_IF(B <= 0 || per * B != sk_shim_numel(images) || per != o->channels * o->image_h * o->image_w, SK_EINVAL,
               "convnet: a batch of %lld images of %lld pixels, expected %lldx%lldx%lld each", (long long)B,
               (long long)per, (long long)o->channels, (long long)o->image_h, (long long)o->image_w);
    /* uint8 pixels -> [0, 1] -> (x - 0.5) / 0.5, as the ViT reads them; float32
     * pixels (a distilled corpus, docs/FORMAT.md) are in the same [0, 255]
     * units and go through the same map, differentiably */
    sk_tensor *x = sk_shim_add_scalar(sk_shim_mul_scalar(sk_shim_to(images, SK_CPU, SK_F32), 2.0 / 255.0), -1.0);
    x = sk_shim_reshape(x, s4, 4);
    for (int64_t l = 0; l < o->depth && x; l++) {
        const layer_ *L = &m->layers[l];
        x = sk_shim_conv2d(x, L->conv_w, L->conv_b, L->pad);
        x = pool_(m, sk_shim_relu(norm_(m, L, x, training)));
    }
    x = sk_shim_reshape(x, s2, 2);
    SK_TRY_T(x);
    *feat = x;
done:
    return rc;
}

int sk_convnet_forward(sk_convnet *m, const sk_tensor *images, const sk_tensor *labels, int training,
                       sk_convnet_out *out)
{
    int rc = SK_OK;
    sk_tensor *feat = NULL;
    double c = 0;
    SK_TRY(sk_convnet_embed(m, images, training, &feat));
    out->logits = sk_shim_linear(feat, m->cls_w, m->cls_b);
    out->loss = sk_shim_cross_entropy(out->logits, labels, -100);
    SK_TRY(sk_shim_item(sk_shim_sum(sk_shim_eq(sk_shim_argmax(out->logits, 1, 0), labels), NULL, 0, 0), &c));
    SK_TRY_T(out->loss);
    out->correct = (int64_t)c;
done:
    return rc;
}

/* ---- the registry entry (sk_model.h) ---------------------------------------- */

static int vt_check_(const sk_model_config *c)
{
    if ((unsigned)c->norm > SK_NORM_NONE) return sk_error_set(SK_EINVAL, "model.norm = %d: not a norm", c->norm);
    if ((unsigned)c->pooling > SK_POOLING_NONE)
        return sk_error_set(SK_EINVAL, "model.pooling = %d: not a pooling", c->pooling);
    return SK_OK;
}

static int vt_create_(void **self, const sk_model_config *c, const sk_model_data *d, uint64_t seed)
{
    *self = NULL;
    if (d->kind != SK_SAMPLE_IMAGE || (d->ndim != 2 && d->ndim != 3))
        return sk_error_set(SK_EINVAL, "data: convnet needs image samples ([H, W] or [C, H, W]), got %d dims", d->ndim);
    sk_convnet_opts o = {
        d->shape[d->ndim - 2],    d->shape[d->ndim - 1],       d->ndim == 3 ? d->shape[0] : 1,      c->width, c->depth,
        (sk_convnet_norm)c->norm, (sk_convnet_pool)c->pooling, c->classes ? c->classes : d->classes};
    if (o.classes < 2)
        return sk_error_set(SK_EINVAL,
                            "model.classes = %lld: the corpus has %lld label classes; a classifier needs >= 2",
                            (long long)c->classes, (long long)d->classes);
    return sk_convnet_create((sk_convnet **)self, &o, seed);
}

static void vt_destroy_(void *self) { sk_convnet_free(self); }
static sk_params *vt_params_(void *self) { return sk_convnet_params(self); }
static sk_params *vt_buffers_(void *self) { return sk_convnet_buffers(self); }
static double vt_flops_(const void *self) { return sk_convnet_forward_flops(self); }

static void vt_info_(const void *self, sk_model_info *out)
{
    const sk_convnet *m = self;
    out->outputs = m->o.classes;
    out->features = sk_convnet_feature_dim(m);
}

static int vt_forward_(void *self, const sk_tensor *x, const sk_tensor *y, sk_selector *sel, int64_t step, int training,
                       sk_model_out *out)
{
    int rc = SK_OK;
    (void)step;
    SK_FAIL_IF(sel, SK_EINVAL, "select: model.arch = 'convnet' has no token sequence to select from");
    SK_FAIL_IF(sk_shim_dtype(x) != SK_U8 && sk_shim_dtype(x) != SK_F32, SK_EINVAL,
               "convnet: image batches must hold uint8 pixels or float32 pixels in [0, 255] units");
    SK_FAIL_IF(!y, SK_EINVAL, "convnet: the corpus has no labels");
    sk_convnet_out o = {0};
    SK_TRY(sk_convnet_forward(self, x, y, training, &o));
    out->loss = o.loss;
    out->sample_loss = sk_model_nll(o.logits, y);
    SK_TRY_T(out->sample_loss);
    out->logits = o.logits;
    out->correct = o.correct;
    out->count = sk_shim_size(x, 0);
done:
    return rc;
}

/* Evaluation mode: batch norm reads its running statistics, so a sample's
 * features do not depend on the rest of its batch (coreset geometry). */
static int vt_embed_(void *self, const sk_tensor *x, sk_tensor **feat) { return sk_convnet_embed(self, x, 0, feat); }

/* No select_model slot: a ConvNet has no token sequence, so the registry
 * refuses a [select] section for it (sk_model_select_model). */
const sk_model_vtable sk_model_convnet = {
    .version = SK_MODEL_VERSION,
    .name = "convnet",
    .flags = SK_MODEL_CLASSIFIER | SK_MODEL_IMAGES,
    .help = "ConvNet-3 of dataset distillation (images): depth x [3x3 conv, norm, ReLU, 2x2 pool], linear",
    .keys = "width depth norm pooling classes",
    .check = vt_check_,
    .create = vt_create_,
    .destroy = vt_destroy_,
    .params = vt_params_,
    .info = vt_info_,
    .forward = vt_forward_,
    .embed = vt_embed_,
    .forward_flops = vt_flops_,
    .buffers = vt_buffers_,
};
