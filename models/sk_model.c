/* sk_model.c - the model registry and the generic instance (see
 * sk_model.h): a new architecture is one file with its vtable plus one
 * line in models_[]. */
#include "sk_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_safetensors.h"

extern const sk_model_vtable sk_model_vit;
extern const sk_model_vtable sk_model_gpt;
extern const sk_model_vtable sk_model_convnet;

static const sk_model_vtable *const models_[] = {
    &sk_model_vit,
    &sk_model_gpt,
    &sk_model_convnet,
};

const sk_model_vtable *sk_model_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof models_ / sizeof *models_; i++)
        if (!strcmp(models_[i]->name, name)) return models_[i];
    return NULL;
}

int sk_model_count(void) { return (int)(sizeof models_ / sizeof *models_); }

const sk_model_vtable *sk_model_at(int i) { return i >= 0 && i < sk_model_count() ? models_[i] : NULL; }

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

int sk_model_forward(sk_model *m, const sk_tensor *x, const sk_tensor *y, sk_selector *sel, int64_t step,
                     int training, sk_model_out *out)
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

#define META_MAX_ 16

static char *data_json_(const sk_model_data *d)
{
    json_t *sh = json_array();
    for (int i = 0; sh && i < d->ndim; i++) json_array_append_new(sh, json_integer((json_int_t)d->shape[i]));
    json_t *j = json_pack("{s:s, s:o, s:I, s:I}", "kind", d->kind == SK_SAMPLE_TOKENS ? "tokens" : "image",
                          "shape", sh, "vocab", (json_int_t)d->vocab, "classes", (json_int_t)d->classes);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

static int data_from_json_(const char *path, const char *text, sk_model_data *d)
{
    int rc = SK_OK;
    json_error_t err;
    json_t *j = json_loads(text, 0, &err), *sh = NULL;
    const char *kind = NULL;
    json_int_t vocab = 0, classes = 0;
    memset(d, 0, sizeof *d);
    SK_FAIL_IF(!j || json_unpack(j, "{s:s, s:o, s:I, s:I}", "kind", &kind, "shape", &sh, "vocab", &vocab, "classes",
                                 &classes) < 0 || !json_is_array(sh) || json_array_size(sh) < 1 ||
                   json_array_size(sh) > 4,
               SK_ECORRUPT, "%s: metadata 'shrink.data' is not a sample description", path);
    d->kind = !strcmp(kind, "tokens") ? SK_SAMPLE_TOKENS : SK_SAMPLE_IMAGE;
    d->ndim = (int)json_array_size(sh);
    for (int i = 0; i < d->ndim; i++) {
        json_t *v = json_array_get(sh, (size_t)i);
        SK_FAIL_IF(!json_is_integer(v) || json_integer_value(v) < 1, SK_ECORRUPT,
                   "%s: metadata 'shrink.data' has a bad shape", path);
        d->shape[i] = (int64_t)json_integer_value(v);
    }
    d->vocab = (int64_t)vocab;
    d->classes = (int64_t)classes;
done:
    json_decref(j);
    return rc;
}

int sk_model_save(const sk_model *m, const char *path, const sk_params *tensors)
{
    int rc = SK_OK;
    const sk_params *p = tensors ? tensors : m->vt->params(m->self);
    char extra[META_MAX_][24];
    const char *kv[2 * (4 + META_MAX_)];
    json_t *cj = sk_model_config_to_json(&m->cfg);
    char *cs = cj ? json_dumps(cj, JSON_COMPACT) : NULL, *ds = data_json_(&m->data);
    SK_FAIL_IF(!cs || !ds, SK_ENOMEM, "%s: out of memory", path);
    const char *base[8] = {"format", "pt", "shrink.arch", m->vt->name, "shrink.model", cs, "shrink.data", ds};
    memcpy(kv, base, sizeof base);
    int n = 4;
    if (m->vt->extra_meta) n += m->vt->extra_meta(m->self, extra, kv + 8, META_MAX_);
    SK_TRY(sk_safetensors_write(path, (const char *const *)p->names, p->t, p->n, kv, n));
done:
    json_decref(cj);
    free(cs);
    free(ds);
    return rc;
}

int sk_model_create_from_file(sk_model **out, const char *path)
{
    int rc = SK_OK;
    enum { CAP = 8192 };
    const char *keys[3] = {"shrink.arch", "shrink.model", "shrink.data"};
    char *vals = malloc(3 * CAP);
    json_t *cj = NULL;
    sk_model_config cfg;
    sk_model_data d;
    sk_model *m = NULL;
    *out = NULL;
    SK_FAIL_IF(!vals, SK_ENOMEM, "%s: out of memory", path);
    rc = sk_safetensors_read_meta(path, keys, 3, vals, CAP);
    if (rc == SK_ENOTFOUND) sk_error_prefix("no model architecture metadata (not a file sk_model_save wrote): ");
    if (rc < 0) goto done;
    const sk_cfg_section *sec = &sk_model_section;
    void *base = &cfg;
    SK_TRY(sk_cfg_defaults(&sec, 1, &base));
    json_error_t err;
    cj = json_loads(vals + CAP, 0, &err);
    SK_FAIL_IF(!cj, SK_ECORRUPT, "%s: metadata 'shrink.model' is not JSON: %s", path, err.text);
    SK_TRY(sk_model_config_from_json(cj, path, &cfg));
    SK_FAIL_IF(strcmp(cfg.arch, vals), SK_ECORRUPT, "%s: shrink.arch = '%s' but shrink.model names '%s'", path, vals,
               cfg.arch);
    SK_TRY(data_from_json_(path, vals + 2 * CAP, &d));
    SK_TRY(sk_model_create(&m, &cfg, &d, 0));
    sk_params *p = sk_model_params(m);
    SK_TRY(sk_safetensors_read(path, (const char *const *)p->names, p->t, p->n));
    *out = m;
    m = NULL;
done:
    sk_model_free(m);
    json_decref(cj);
    free(vals);
    return rc;
}
