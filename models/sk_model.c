/* sk_model.c - the model registry and the generic instance (see
 * sk_model.h): a new architecture is one file with its vtable plus one
 * line in models_[]. */
#include "sk_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_weights.h"

extern const sk_model_vtable sk_model_vit;
extern const sk_model_vtable sk_model_gpt;
extern const sk_model_vtable sk_model_convnet;

static const sk_model_vtable *const models_[] = {
    &sk_model_vit,
    &sk_model_gpt,
    &sk_model_convnet,
};

int sk_model_count(void) { return (int)(sizeof models_ / sizeof *models_); }

const sk_model_vtable *sk_model_at(int i) { return i >= 0 && i < sk_model_count() ? models_[i] : NULL; }

const char *sk_model_name_at(int i) { return i >= 0 && i < sk_model_count() ? models_[i]->name : NULL; }

const sk_model_vtable *sk_model_find(const char *name)
{
    return name ? sk_model_at(sk_cfg_choice_index(sk_model_name_at, name)) : NULL;
}

struct sk_model {
    const sk_model_vtable *vt;
    void *self;
    sk_model_config cfg;
    sk_model_data data;
};

int sk_model_create(sk_model **out, const sk_model_config *cfg, const sk_model_data *d, uint64_t seed)
{
    int rc = SK_OK;
    sk_model *m = NULL;
    *out = NULL;
    SK_TRY(sk_model_config_check(cfg));
    const sk_model_vtable *vt = sk_model_find(cfg->arch);
    SK_FAIL_IF(vt->version != SK_MODEL_VERSION, SK_EVERSION, "model.arch = '%s': vtable version %d, expected %d",
               cfg->arch, vt->version, SK_MODEL_VERSION);
    SK_FAIL_IF(d->ndim < 1 || d->ndim > 4, SK_EINVAL, "model.arch = '%s': samples with %d dimensions", cfg->arch,
               d->ndim);
    m = calloc(1, sizeof *m);
    SK_FAIL_IF(!m, SK_ENOMEM, "model: out of memory");
    m->vt = vt;
    m->cfg = *cfg;
    m->data = *d;
    SK_TRY(vt->create(&m->self, cfg, d, seed));
    *out = m;
    m = NULL;
done:
    sk_model_free(m);
    return rc;
}

void sk_model_free(sk_model *m)
{
    if (!m) return;
    if (m->self) m->vt->destroy(m->self);
    free(m);
}

sk_params *sk_model_params(sk_model *m) { return m->vt->params(m->self); }
sk_params *sk_model_buffers(sk_model *m) { return m->vt->buffers ? m->vt->buffers(m->self) : NULL; }
const sk_model_vtable *sk_model_vt(const sk_model *m) { return m->vt; }
const sk_model_config *sk_model_cfg(const sk_model *m) { return &m->cfg; }
const sk_model_data *sk_model_sample(const sk_model *m) { return &m->data; }

void sk_model_info_get(const sk_model *m, sk_model_info *out)
{
    memset(out, 0, sizeof *out);
    out->arch = m->vt->name;
    out->flags = m->vt->flags;
    m->vt->info(m->self, out);
}

int sk_model_forward(sk_model *m, const sk_tensor *x, const sk_tensor *y, sk_selector *sel, int64_t step, int training,
                     sk_model_out *out)
{
    memset(out, 0, sizeof *out);
    return m->vt->forward(m->self, x, y, sel, step, training, out);
}

int sk_model_embed(sk_model *m, const sk_tensor *x, sk_tensor **feat)
{
    *feat = NULL;
    return m->vt->embed(m->self, x, feat);
}

int sk_model_select_model(const sk_model *m, sk_select_model *out)
{
    memset(out, 0, sizeof *out);
    if (!m->vt->select_model)
        return sk_error_set(SK_EUNSUPPORTED,
                            "select: model.arch = '%s' has no token sequence to select from; remove the [select] "
                            "section (select.*) or use a transformer",
                            m->vt->name);
    return m->vt->select_model(m->self, out);
}

/* ---- the architecture as safetensors metadata ------------------------------- */

/* One metadata entry per [model] key ("shrink.model.<key>", its config
 * text) and per sample fact ("shrink.data.*"): plain strings, so the file
 * stays readable by safetensors.torch and the values go back through the
 * key table's own parser (bounds and choices checked again on load). */
#define DATA_KEYS_ 4
#define META_MAX_ 64
static const char *const data_keys_[DATA_KEYS_] = {"shrink.data.kind", "shrink.data.shape", "shrink.data.vocab",
                                                   "shrink.data.classes"};

typedef struct {
    char names[META_MAX_][64];
    char vals[META_MAX_][64];
    const char *kv[2 * META_MAX_];
    int n;
} meta_;

static void meta_put_(meta_ *mt, const char *name, const char *val)
{
    if (mt->n >= META_MAX_) return;
    mt->kv[2 * mt->n] = name;
    mt->kv[2 * mt->n + 1] = val;
    mt->n++;
}

static void meta_fill_(const sk_model *m, meta_ *mt)
{
    const sk_model_data *d = &m->data;
    meta_put_(mt, "format", "pt");
    meta_put_(mt, "shrink.arch", m->vt->name);
    for (int i = 0; i < sk_model_section.nkeys && mt->n < META_MAX_; i++) {
        const sk_cfg_key *k = &sk_model_section.keys[i];
        const char *f = (const char *)&m->cfg + k->offset;
        int j = mt->n;
        const char *val = mt->vals[j];
        snprintf(mt->names[j], sizeof mt->names[j], "shrink.model.%s", k->name);
        switch (k->type) {
        case SK_CFG_INT: snprintf(mt->vals[j], sizeof mt->vals[j], "%lld", (long long)*(const int64_t *)f); break;
        case SK_CFG_FLOAT: snprintf(mt->vals[j], sizeof mt->vals[j], "%.17g", *(const double *)f); break;
        case SK_CFG_BOOL: val = *(const int *)f ? "true" : "false"; break;
        case SK_CFG_STRING: val = f; break;
        case SK_CFG_ENUM: val = sk_cfg_enum_name(k, *(const int *)f, mt->vals[j], sizeof mt->vals[j]); break;
        default: continue; /* lists: no [model] key is one (read_arch_ would miss it) */
        }
        meta_put_(mt, mt->names[j], val);
    }
    int j = mt->n;
    size_t k = 0;
    for (int i = 0; i < d->ndim; i++)
        k += (size_t)snprintf(mt->vals[j + 1] + k, sizeof mt->vals[j + 1] - k, "%s%lld", i ? "," : "",
                              (long long)d->shape[i]);
    snprintf(mt->vals[j + 2], sizeof mt->vals[j + 2], "%lld", (long long)d->vocab);
    snprintf(mt->vals[j + 3], sizeof mt->vals[j + 3], "%lld", (long long)d->classes);
    meta_put_(mt, data_keys_[0], d->kind == SK_SAMPLE_TOKENS ? "tokens" : "image");
    for (int i = 1; i < DATA_KEYS_; i++) meta_put_(mt, data_keys_[i], mt->vals[j + i]);
}

int sk_model_save(const sk_model *m, const char *path, const sk_params *tensors)
{
    int rc = SK_OK;
    const sk_params *p = tensors ? tensors : m->vt->params(m->self);
    sk_params all = {0};
    meta_ *mt = calloc(1, sizeof *mt);
    char extra[16][24];
    SK_FAIL_IF(!mt, SK_ENOMEM, "%s: out of memory", path);
    SK_TRY(sk_params_join(&all, p, m->vt->buffers ? m->vt->buffers(m->self) : NULL));
    meta_fill_(m, mt);
    if (m->vt->extra_meta) {
        int ne = m->vt->extra_meta(m->self, extra, mt->kv + 2 * mt->n, META_MAX_ - mt->n < 16 ? META_MAX_ - mt->n : 16);
        mt->n += ne;
    }
    rc = sk_weights_write(path, (const char *const *)all.names, all.t, all.n, mt->kv, mt->n);
done:
    sk_params_view_free(&all);
    free(mt);
    return rc;
}

/* "28,28" -> shape; every dim >= 1, at most 4. */
static int parse_shape_(const char *path, const char *s, sk_model_data *d)
{
    char *e = NULL;
    d->ndim = 0;
    while (*s && d->ndim < 4) {
        long long v = strtoll(s, &e, 10);
        if (e == s || v < 1 || (*e && *e != ',')) break;
        d->shape[d->ndim++] = v;
        s = *e ? e + 1 : e;
    }
    if (*s || d->ndim < 1) return sk_error_set(SK_ECORRUPT, "%s: metadata 'shrink.data.shape' is not a shape", path);
    return SK_OK;
}

static int parse_count_(const char *path, const char *key, const char *s, int64_t *out)
{
    char *e = NULL;
    long long v = strtoll(s, &e, 10);
    if (e == s || *e || v < 0)
        return sk_error_set(SK_ECORRUPT, "%s: metadata '%s' = '%s' is not a count", path, key, s);
    *out = v;
    return SK_OK;
}

/* The config and sample description from the file's metadata. */
static int read_arch_(const char *path, sk_model_config *cfg, sk_model_data *d)
{
    int rc = SK_OK;
    enum { CAP = SK_CFG_STR_MAX + 16 };
    const int nk = sk_model_section.nkeys, n = nk + DATA_KEYS_;
    const char *keys[META_MAX_];
    char(*names)[64] = calloc((size_t)nk, sizeof *names);
    char *vals = malloc((size_t)n * CAP), set[CAP + 80];
    const sk_cfg_section *sec = &sk_model_section;
    void *base = cfg;
    SK_FAIL_IF(!names || !vals, SK_ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < nk; i++) {
        snprintf(names[i], sizeof names[i], "shrink.model.%s", sec->keys[i].name);
        keys[i] = names[i];
    }
    for (int i = 0; i < DATA_KEYS_; i++) keys[nk + i] = data_keys_[i];
    rc = sk_weights_read_meta(path, keys, n, vals, CAP);
    if (rc == SK_ENOTFOUND) sk_error_prefix("no model architecture metadata (not a file sk_model_save wrote): ");
    if (rc < 0) goto done;
    SK_TRY(sk_cfg_defaults(&sec, 1, &base));
    for (int i = 0; i < nk; i++) {
        snprintf(set, sizeof set, "model.%s=%s", sec->keys[i].name, vals + (size_t)i * CAP);
        rc = sk_cfg_apply_set(set, &sec, 1, &base);
        if (rc < 0) {
            sk_error_prefix("%s: metadata: ", path);
            goto done;
        }
    }
    memset(d, 0, sizeof *d);
    const char *kind = vals + (size_t)nk * CAP;
    SK_FAIL_IF(strcmp(kind, "tokens") && strcmp(kind, "image"), SK_ECORRUPT,
               "%s: metadata 'shrink.data.kind' = '%s': expected tokens or image", path, kind);
    d->kind = !strcmp(kind, "tokens") ? SK_SAMPLE_TOKENS : SK_SAMPLE_IMAGE;
    SK_TRY(parse_shape_(path, vals + (size_t)(nk + 1) * CAP, d));
    SK_TRY(parse_count_(path, data_keys_[2], vals + (size_t)(nk + 2) * CAP, &d->vocab));
    SK_TRY(parse_count_(path, data_keys_[3], vals + (size_t)(nk + 3) * CAP, &d->classes));
done:
    free(names);
    free(vals);
    return rc;
}

int sk_model_create_from_file(sk_model **out, const char *path)
{
    int rc = SK_OK;
    sk_model_config cfg;
    sk_model_data d;
    sk_model *m = NULL;
    *out = NULL;
    SK_TRY(read_arch_(path, &cfg, &d));
    rc = sk_model_create(&m, &cfg, &d, 0);
    if (rc < 0) {
        sk_error_prefix("%s: ", path);
        goto done;
    }
    sk_params *p = sk_model_params(m), *b = sk_model_buffers(m);
    SK_TRY(sk_weights_read(path, (const char *const *)p->names, p->t, p->n));
    if (b && b->n) SK_TRY(sk_weights_read(path, (const char *const *)b->names, b->t, b->n));
    *out = m;
    m = NULL;
done:
    sk_model_free(m);
    return rc;
}

sk_tensor *sk_model_nll(const sk_tensor *logits, const sk_tensor *targets)
{
    int64_t d = sk_shim_ndim(logits) - 1;
    sk_tensor *lp = sk_shim_log_softmax(logits, d);
    sk_tensor *idx = sk_shim_unsqueeze(sk_shim_to(targets, sk_shim_device(logits), SK_I64), d);
    if (!lp || !idx) return NULL;
    return sk_shim_neg(sk_shim_squeeze(sk_shim_gather(lp, d, idx), d));
}
