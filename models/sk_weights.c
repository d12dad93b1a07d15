/* sk_weights.c - shim tensors to and from safetensors files (see sk_weights.h). */
#include "sk_weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_safetensors.h"

static const char *st_dtype_(sk_dtype dt)
{
    switch (dt) {
    case SK_F32: return "F32";
    case SK_F64: return "F64";
    case SK_F16: return "F16";
    case SK_BF16: return "BF16";
    case SK_I64: return "I64";
    case SK_I32: return "I32";
    case SK_I16: return "I16";
    case SK_U8: return "U8";
    case SK_BOOL: return "BOOL";
    }
    return "?";
}

static size_t bytes_(const sk_tensor *t) { return (size_t)sk_shim_numel(t) * sk_shim_dtype_size(sk_shim_dtype(t)); }

int sk_weights_write(const char *path, const char *const *names, sk_tensor *const *ts, int n, const char *const *meta,
                     int nmeta)
{
    int rc = SK_OK;
    sk_safetensors_entry *ents = calloc((size_t)n + 1, sizeof *ents);
    void **bufs = calloc((size_t)n + 1, sizeof *bufs);
    SK_FAIL_IF(!ents || !bufs, SK_ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < n; i++) {
        ents[i].name = names[i];
        ents[i].dtype = st_dtype_(sk_shim_dtype(ts[i]));
        ents[i].ndim = sk_shim_shape(ts[i], ents[i].shape);
        SK_FAIL_IF(ents[i].ndim < 0, SK_EINVAL, "%s: tensor '%s': bad handle", path, names[i]);
        size_t b = bytes_(ts[i]);
        bufs[i] = malloc(b ? b : 1);
        SK_FAIL_IF(!bufs[i], SK_ENOMEM, "%s: out of memory for tensor '%s'", path, names[i]);
        SK_TRY(sk_shim_to_host(ts[i], bufs[i], b));
    }
    SK_TRY(sk_safetensors_write(path, ents, (const void *const *)bufs, n, meta, nmeta));
done:
    for (int i = 0; bufs && i < n; i++) free(bufs[i]);
    free(bufs);
    free(ents);
    return rc;
}

/* e must have t's dtype and shape. */
static int same_(const char *path, const sk_safetensors_entry *e, const sk_tensor *t)
{
    int rc = SK_OK;
    int64_t shape[SK_SHIM_MAX_DIMS];
    int nd = sk_shim_shape(t, shape);
    const char *dt = st_dtype_(sk_shim_dtype(t));
    int same = nd == e->ndim && !strcmp(e->dtype, dt);
    for (int d = 0; same && d < nd; d++) same = shape[d] == e->shape[d];
    SK_FAIL_IF(!same, SK_EINVAL, "%s: tensor '%s' is %s of %d dims, the model's %s of %d dims (or another shape)", path,
               e->name, e->dtype, e->ndim, dt, nd);
done:
    return rc;
}

int sk_weights_read(const char *path, const char *const *names, sk_tensor *const *ts, int n)
{
    int rc = SK_OK;
    sk_safetensors *st = NULL;
    void *buf = NULL;
    size_t cap = 0;
    SK_TRY(sk_safetensors_open(&st, path));
    for (int i = 0; i < n; i++) {
        const sk_safetensors_entry *e = sk_safetensors_find(st, names[i]);
        SK_FAIL_IF(!e, SK_ENOTFOUND, "%s: no tensor '%s'", path, names[i]);
        SK_TRY(same_(path, e, ts[i]));
        size_t b = bytes_(ts[i]);
        if (b > cap) {
            free(buf);
            buf = malloc(b);
            cap = buf ? b : 0;
            SK_FAIL_IF(!buf, SK_ENOMEM, "%s: out of memory for tensor '%s'", path, names[i]);
        }
        SK_TRY(sk_safetensors_read(st, e, buf, cap));
        SK_TRY(sk_shim_copy_from_host(ts[i], buf, b));
    }
done:
    free(buf);
    sk_safetensors_free(st);
    return rc;
}

int sk_weights_read_meta(const char *path, const char *const *keys, int nkeys, char *vals, size_t cap)
{
    int rc = SK_OK;
    sk_safetensors *st = NULL;
    SK_TRY(sk_safetensors_open(&st, path));
    for (int i = 0; i < nkeys; i++) {
        const char *v = sk_safetensors_meta(st, keys[i]);
        SK_FAIL_IF(!v, SK_ENOTFOUND, "%s: no __metadata__ key '%s'", path, keys[i]);
        snprintf(vals + (size_t)i * cap, cap, "%s", v);
    }
done:
    sk_safetensors_free(st);
    return rc;
}
