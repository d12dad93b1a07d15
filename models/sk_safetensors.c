/* sk_safetensors.c - safetensors writer and reader (see sk_safetensors.h;
 * format: huggingface/safetensors README). */
#include "sk_safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_fs.h"

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

/* ---- small growable string ---- */
typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} sbuf_;

static void sb_put_(sbuf_ *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void sb_put_(sbuf_ *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { b->oom = 1; return; }
        if (b->s && b->n + (size_t)k < b->cap) { b->n += (size_t)k; return; }
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->n + (size_t)k + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) { b->oom = 1; return; }
        b->s = s;
        b->cap = cap;
    }
}


int sk_safetensors_write(const char *path, const char *const *names, sk_tensor *const *ts, int n,
                              const char *const *meta, int nmeta)
{
    int rc = SK_OK;
    sbuf_ h = {0};
    void **bufs = calloc((size_t)(n + 2), sizeof *bufs); /* length prefix, header, tensors */
    size_t *lens = calloc((size_t)(n + 2), sizeof *lens);
    SK_FAIL_IF(!bufs || !lens, SK_ENOMEM, "%s: out of memory", path);
    sb_put_(&h, "{");
    if (nmeta > 0) {
        sb_put_(&h, "\"__metadata__\":{");
        for (int i = 0; i < nmeta; i++)
            sb_put_(&h, "%s\"%s\":\"%s\"", i ? "," : "", meta[2 * i], meta[2 * i + 1]);
        sb_put_(&h, "}");
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        int64_t shape[SK_SHIM_MAX_DIMS];
        int nd = sk_shim_shape(ts[i], shape);
        SK_FAIL_IF(nd < 0, SK_EINVAL, "%s: tensor %s: bad handle", path, names[i]);
        size_t bytes = (size_t)sk_shim_numel(ts[i]) * sk_shim_dtype_size(sk_shim_dtype(ts[i]));
        sb_put_(&h, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", (nmeta > 0 || i) ? "," : "", names[i],
                st_dtype_(sk_shim_dtype(ts[i])));
        for (int d = 0; d < nd; d++) sb_put_(&h, "%s%" PRId64, d ? "," : "", shape[d]);
        sb_put_(&h, "],\"data_offsets\":[%zu,%zu]}", off, off + bytes);
        bufs[i + 2] = malloc(bytes ? bytes : 1);
        SK_FAIL_IF(!bufs[i + 2], SK_ENOMEM, "%s: out of memory for %s", path, names[i]);
        SK_TRY(sk_shim_to_host(ts[i], bufs[i + 2], bytes));
        lens[i + 2] = bytes;
        off += bytes;
    }
    sb_put_(&h, "}");
    while (!h.oom && (h.n % 8) != 0) sb_put_(&h, " ");
    SK_FAIL_IF(h.oom, SK_ENOMEM, "%s: out of memory", path);
    uint64_t hl = (uint64_t)h.n;
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(hl >> (8 * i));
    bufs[0] = le;
    lens[0] = 8;
    bufs[1] = h.s;
    lens[1] = h.n;
    SK_TRY(sk_fs_write_atomic(path, (const void *const *)bufs, lens, n + 2));
done:
    if (bufs)
        for (int i = 2; i < n + 2; i++) free(bufs[i]);
    free(bufs);
    free(lens);
    free(h.s);
    return rc;
}

/* ---- reading: a minimal JSON scanner for the header ---- */
typedef struct {
    const char *p, *end;
} js_;

static void ws_(js_ *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r')) j->p++;
}
static int lit_(js_ *j, char c)
{
    ws_(j);
    if (j->p < j->end && *j->p == c) { j->p++; return 1; }
    return 0;
}
/* String without escapes (our names never need them); returns length or -1. */
static int str_(js_ *j, char *out, size_t cap)
{
    ws_(j);
    if (j->p >= j->end || *j->p != '"') return -1;
    j->p++;
    size_t k = 0;
    while (j->p < j->end && *j->p != '"') {
        if (*j->p == '\\' && j->p + 1 < j->end) j->p++;
        if (k + 1 < cap) out[k++] = *j->p;
        j->p++;
    }
    if (j->p >= j->end) return -1;
    j->p++;
    out[k] = 0;
    return (int)k;
}
static int int_(js_ *j, int64_t *v)
{
    ws_(j);
    char *e;
    long long x = strtoll(j->p, &e, 10);
    if (e == j->p) return -1;
    j->p = e;
    *v = x;
    return 0;
}
static int skip_value_(js_ *j)
{
    ws_(j);
    if (j->p >= j->end) return -1;
    char tmp[2];
    if (*j->p == '"') return str_(j, tmp, 0 + 1) < 0 ? -1 : 0;
    if (*j->p == '{' || *j->p == '[') {
        char open = *j->p, close = open == '{' ? '}' : ']';
        j->p++;
        if (lit_(j, close)) return 0;
        do {
            if (open == '{') {
                if (str_(j, tmp, 1) < 0 || !lit_(j, ':')) return -1;
            }
            if (skip_value_(j) < 0) return -1;
        } while (lit_(j, ','));
        return lit_(j, close) ? 0 : -1;
    }
    while (j->p < j->end && *j->p != ',' && *j->p != '}' && *j->p != ']') j->p++;
    return 0;
}

typedef struct {
    char name[256], dtype[8];
    int64_t shape[SK_SHIM_MAX_DIMS];
    int nd;
    int64_t b, e;
} entry_;

static int parse_entry_(js_ *j, entry_ *en)
{
    char key[64];
    en->nd = 0;
    en->b = en->e = -1;
    en->dtype[0] = 0;
    if (!lit_(j, '{')) return -1;
    if (lit_(j, '}')) return 0;
    do {
        if (str_(j, key, sizeof key) < 0 || !lit_(j, ':')) return -1;
        if (!strcmp(key, "dtype")) {
            if (str_(j, en->dtype, sizeof en->dtype) < 0) return -1;
        } else if (!strcmp(key, "shape") || !strcmp(key, "data_offsets")) {
            int64_t v[SK_SHIM_MAX_DIMS];
            int k = 0;
            if (!lit_(j, '[')) return -1;
            if (!lit_(j, ']')) {
                do {
                    if (k >= SK_SHIM_MAX_DIMS || int_(j, &v[k]) < 0) return -1;
                    k++;
                } while (lit_(j, ','));
                if (!lit_(j, ']')) return -1;
            }
            if (key[0] == 's') {
                memcpy(en->shape, v, sizeof(int64_t) * (size_t)k);
                en->nd = k;
            } else {
                if (k != 2) return -1;
                en->b = v[0];
                en->e = v[1];
            }
        } else if (skip_value_(j) < 0) {
            return -1;
        }
    } while (lit_(j, ','));
    return lit_(j, '}') ? 0 : -1;
}

/* Open path and read its JSON header into *head (NUL-terminated, caller
 * frees); *f is left at the start of the data. */
static int read_head_(const char *path, FILE **f, char **head, uint64_t *hl)
{
    int rc = SK_OK;
    unsigned char le[8];
    *f = fopen(path, "rb");
    SK_FAIL_IF(!*f, SK_EIO, "%s: cannot open: %s", path, strerror(errno));
    SK_FAIL_IF(fread(le, 1, 8, *f) != 8, SK_ECORRUPT, "%s: not a safetensors file (too short)", path);
    *hl = 0;
    for (int i = 0; i < 8; i++) *hl |= (uint64_t)le[i] << (8 * i);
    SK_FAIL_IF(*hl == 0 || *hl > 100000000, SK_ECORRUPT, "%s: bad safetensors header length %" PRIu64, path, *hl);
    *head = malloc(*hl + 1);
    SK_FAIL_IF(!*head, SK_ENOMEM, "%s: out of memory", path);
    SK_FAIL_IF(fread(*head, 1, *hl, *f) != *hl, SK_ECORRUPT, "%s: truncated header", path);
    (*head)[*hl] = 0;
done:
    return rc;
}

/* Parse the header JSON: every tensor entry into *ents (caller frees), and
 * the __metadata__ strings named keys[0..nkeys) into vals + i * cap
 * (found[i] = 1 for each one present). */
static int parse_header_(const char *path, char *head, uint64_t hl, entry_ **ents, int *nents,
                         const char *const *keys, int nkeys, char *vals, size_t cap, int *found)
{
    int rc = SK_OK, ncap = 0;
    *ents = NULL;
    *nents = 0;
    js_ j = {head, head + hl};
    SK_FAIL_IF(!lit_(&j, '{'), SK_ECORRUPT, "%s: header is not a JSON object", path);
    if (!lit_(&j, '}')) {
        do {
            char key[256];
            SK_FAIL_IF(str_(&j, key, sizeof key) < 0 || !lit_(&j, ':'), SK_ECORRUPT, "%s: bad header JSON", path);
            if (!strcmp(key, "__metadata__")) {
                SK_FAIL_IF(!lit_(&j, '{'), SK_ECORRUPT, "%s: __metadata__ is not an object", path);
                if (lit_(&j, '}')) continue;
                do {
                    char mk[256];
                    SK_FAIL_IF(str_(&j, mk, sizeof mk) < 0 || !lit_(&j, ':'), SK_ECORRUPT, "%s: bad __metadata__",
                               path);
                    int ki = -1;
                    for (int i = 0; i < nkeys && ki < 0; i++)
                        if (!strcmp(mk, keys[i])) ki = i;
                    if (ki >= 0) {
                        SK_FAIL_IF(str_(&j, vals + (size_t)ki * cap, cap) < 0, SK_ECORRUPT,
                                   "%s: __metadata__ '%s' is not a string", path, mk);
                        found[ki] = 1;
                    } else {
                        SK_FAIL_IF(skip_value_(&j) < 0, SK_ECORRUPT, "%s: bad __metadata__", path);
                    }
                } while (lit_(&j, ','));
                SK_FAIL_IF(!lit_(&j, '}'), SK_ECORRUPT, "%s: bad __metadata__", path);
                continue;
            }
            if (*nents == ncap) {
                ncap = ncap ? ncap * 2 : 64;
                entry_ *e2 = realloc(*ents, (size_t)ncap * sizeof *e2);
                SK_FAIL_IF(!e2, SK_ENOMEM, "%s: out of memory", path);
                *ents = e2;
            }
            entry_ *en = &(*ents)[*nents];
            SK_FAIL_IF(parse_entry_(&j, en) < 0, SK_ECORRUPT, "%s: bad header entry for '%s'", path, key);
            snprintf(en->name, sizeof en->name, "%s", key);
            (*nents)++;
        } while (lit_(&j, ','));
        SK_FAIL_IF(!lit_(&j, '}'), SK_ECORRUPT, "%s: bad header JSON", path);
    }
done:
    return rc;
}

int sk_safetensors_read_meta(const char *path, const char *const *keys, int nkeys, char *vals, size_t cap)
{
    int rc = SK_OK, nents = 0;
    FILE *f = NULL;
    char *head = NULL;
    entry_ *ents = NULL;
    int *found = calloc((size_t)(nkeys > 0 ? nkeys : 1), sizeof *found);
    SK_FAIL_IF(!found, SK_ENOMEM, "%s: out of memory", path);
    uint64_t hl = 0;
    SK_TRY(read_head_(path, &f, &head, &hl));
    SK_TRY(parse_header_(path, head, hl, &ents, &nents, keys, nkeys, vals, cap, found));
    for (int i = 0; i < nkeys; i++)
        SK_FAIL_IF(!found[i], SK_ENOTFOUND, "%s: no __metadata__ key '%s'", path, keys[i]);
done:
    if (f) fclose(f);
    free(head);
    free(ents);
    free(found);
    return rc;
}

int sk_safetensors_read(const char *path, const char *const *names, sk_tensor *const *ts, int n)
{
    int rc = SK_OK;
    FILE *f = NULL;
    char *head = NULL, *data = NULL;
    entry_ *ents = NULL;
    int nents = 0;
    uint64_t hl = 0;
    SK_TRY(read_head_(path, &f, &head, &hl));
    SK_TRY(parse_header_(path, head, hl, &ents, &nents, NULL, 0, NULL, 0, NULL));
    /* Data buffer: the rest of the file. */
    int64_t maxe = 0;
    for (int i = 0; i < nents; i++) {
        SK_FAIL_IF(ents[i].b < 0 || ents[i].e < ents[i].b, SK_ECORRUPT, "%s: bad data_offsets for '%s'", path,
                   ents[i].name);
        if (ents[i].e > maxe) maxe = ents[i].e;
    }
    data = malloc((size_t)maxe + 1);
    SK_FAIL_IF(!data, SK_ENOMEM, "%s: out of memory", path);
    SK_FAIL_IF(fread(data, 1, (size_t)maxe, f) != (size_t)maxe, SK_ECORRUPT, "%s: truncated data (need %" PRId64
               " bytes)", path, maxe);
    for (int i = 0; i < n; i++) {
        int k = -1;
        for (int e = 0; e < nents; e++)
            if (!strcmp(ents[e].name, names[i])) { k = e; break; }
        SK_FAIL_IF(k < 0, SK_ENOTFOUND, "%s: no tensor '%s'", path, names[i]);
        entry_ *en = &ents[k];
        int64_t shape[SK_SHIM_MAX_DIMS];
        int nd = sk_shim_shape(ts[i], shape);
        int same = nd == en->nd && !strcmp(en->dtype, st_dtype_(sk_shim_dtype(ts[i])));
        for (int d = 0; same && d < nd; d++) same = shape[d] == en->shape[d];
        SK_FAIL_IF(!same, SK_EINVAL, "%s: tensor '%s' has dtype %s and a different shape or dtype than the model's",
                   path, names[i], en->dtype);
        size_t bytes = (size_t)sk_shim_numel(ts[i]) * sk_shim_dtype_size(sk_shim_dtype(ts[i]));
        SK_FAIL_IF((size_t)(en->e - en->b) != bytes, SK_ECORRUPT, "%s: '%s' holds %" PRId64 " bytes, expected %zu",
                   path, names[i], en->e - en->b, bytes);
        SK_TRY(sk_shim_copy_from_host(ts[i], data + en->b, bytes));
    }
done:
    if (f) fclose(f);
    free(head);
    free(data);
    free(ents);
    return rc;
}

/* ---- checkpoint directories ---- */