/* sk_forgetting.c - forgetting-event bookkeeping (sk_forgetting.h; Toneva
 * et al., ICLR 2019). */
#include "sk_forgetting.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_error.h"
#include "sk_mpi.h"
#include "sk_safetensors.h"

struct sk_forgetting {
    int64_t n;
    int32_t *last;   /* -1: not presented yet, else the last correctness */
    int32_t *events; /* correct -> misclassified transitions */
    int32_t *pres;   /* presentations */
    int64_t *gbuf;   /* gather buffer (record) */
    int64_t gcap;
    float *host; /* checkpoint staging, 3 x n */
    sk_params ck;
};

int sk_forgetting_create(sk_forgetting **out, int64_t n)
{
    int rc = SK_OK;
    sk_forgetting *f = NULL;
    *out = NULL;
    SK_FAIL_IF(n < 1 || n > ((int64_t)1 << 40), SK_EINVAL, "train.record_forgetting: %lld training samples",
               (long long)n);
    f = calloc(1, sizeof *f);
    SK_FAIL_IF(!f, SK_ENOMEM, "forgetting: out of memory");
    f->n = n;
    sk_params_init(&f->ck);
    f->last = malloc((size_t)n * sizeof *f->last);
    f->events = calloc((size_t)n, sizeof *f->events);
    f->pres = calloc((size_t)n, sizeof *f->pres);
    SK_FAIL_IF(!f->last || !f->events || !f->pres, SK_ENOMEM, "forgetting: out of memory for %lld samples",
               (long long)n);
    for (int64_t i = 0; i < n; i++) f->last[i] = -1;
    *out = f;
    f = NULL;
done:
    sk_forgetting_free(f);
    return rc;
}

void sk_forgetting_free(sk_forgetting *f)
{
    if (!f) return;
    free(f->last);
    free(f->events);
    free(f->pres);
    free(f->gbuf);
    free(f->host);
    sk_params_free(&f->ck);
    free(f);
}

int sk_forgetting_update(sk_forgetting *f, const int64_t *idx, const uint8_t *correct, int64_t m)
{
    for (int64_t j = 0; j < m; j++) {
        int64_t i = idx[j];
        if (i < 0 || i >= f->n)
            return sk_error_set(SK_EINVAL, "forgetting: sample index %lld outside [0, %lld)", (long long)i,
                                (long long)f->n);
        int c = correct[j] != 0;
        if (f->last[i] == 1 && !c) f->events[i]++;
        f->last[i] = c;
        f->pres[i]++;
    }
    return SK_OK;
}

int sk_forgetting_record(sk_forgetting *f, const int64_t *idx, const uint8_t *correct, int64_t m)
{
    int rc = SK_OK;
    const int world = sk_mpi_info_get()->world > 0 ? sk_mpi_info_get()->world : 1;
    const int64_t need = m * (1 + world); /* mine, then everyone's: index * 2 + correct */
    SK_FAIL_IF(m > (int64_t)1 << 29, SK_EINVAL, "forgetting: %lld samples in one batch is too many", (long long)m);
    if (need > f->gcap) {
        int64_t *g = realloc(f->gbuf, (size_t)need * sizeof *g);
        SK_FAIL_IF(!g, SK_ENOMEM, "forgetting: out of memory");
        f->gbuf = g;
        f->gcap = need;
    }
    int64_t *mine = f->gbuf, *all = f->gbuf + m;
    for (int64_t j = 0; j < m; j++) mine[j] = idx[j] * 2 + (correct[j] != 0);
    SK_TRY(sk_mpi_allgather_i64(mine, (int)m, all));
    for (int64_t k = 0; k < m * world; k++) {
        int64_t i = all[k] >> 1;
        uint8_t c = (uint8_t)(all[k] & 1);
        SK_TRY(sk_forgetting_update(f, &i, &c, 1));
    }
done:
    return rc;
}

void sk_forgetting_scores(const sk_forgetting *f, float *out, int64_t *never_learned)
{
    int64_t maxp = 0;
    for (int64_t i = 0; i < f->n; i++) maxp = f->pres[i] > maxp ? f->pres[i] : maxp;
    for (int64_t i = 0; i < f->n; i++)
        out[i] = f->events[i] == 0 && f->last[i] != 1 ? (float)maxp : (float)f->events[i];
    if (never_learned) *never_learned = maxp;
}

int sk_forgetting_write(const sk_forgetting *f, const char *path, const char *source_file, uint64_t source_xxh64,
                        int64_t steps)
{
    int rc = SK_OK;
    int64_t nl = 0;
    float *s = malloc((size_t)f->n * sizeof *s);
    char hash[17], rows[24], never[24], st[24];
    SK_FAIL_IF(!s, SK_ENOMEM, "forgetting: out of memory");
    sk_forgetting_scores(f, s, &nl);
    snprintf(hash, sizeof hash, "%016" PRIx64, source_xxh64);
    snprintf(rows, sizeof rows, "%lld", (long long)f->n);
    snprintf(never, sizeof never, "%lld", (long long)nl);
    snprintf(st, sizeof st, "%lld", (long long)steps);
    sk_safetensors_entry e[3] = {{.name = "forgetting", .dtype = "F32", .ndim = 1, .shape = {f->n}},
                                 {.name = "events", .dtype = "I32", .ndim = 1, .shape = {f->n}},
                                 {.name = "presentations", .dtype = "I32", .ndim = 1, .shape = {f->n}}};
    const void *data[3] = {s, f->events, f->pres};
    const char *meta[] = {"shrink.kind", "forgetting", "shrink.source_file",   source_file, "shrink.source_xxh64", hash,
                          "shrink.rows", rows,         "shrink.never_learned", never,       "shrink.steps",        st};
    rc = sk_safetensors_write(path, e, data, 3, meta, (int)(sizeof meta / sizeof *meta / 2));
done:
    free(s);
    return rc;
}

/* ---- checkpoints -------------------------------------------------------------------- */

static int ck_make_(sk_forgetting *f)
{
    int rc = SK_OK;
    static const char *const names[3] = {"forgetting.last", "forgetting.events", "forgetting.presentations"};
    if (f->ck.n) return SK_OK;
    int64_t shape[1] = {f->n};
    f->host = malloc((size_t)f->n * sizeof *f->host);
    SK_FAIL_IF(!f->host, SK_ENOMEM, "forgetting: out of memory");
    for (int k = 0; k < 3; k++) SK_TRY(sk_params_add(&f->ck, names[k], sk_params_const(shape, 1, 0.0), 0));
    for (int i = 0; i < f->ck.n; i++) SK_TRY(sk_shim_set_requires_grad(f->ck.t[i], 0));
done:
    return rc;
}

sk_params *sk_forgetting_ckpt(sk_forgetting *f) { return ck_make_(f) < 0 ? NULL : &f->ck; }

int sk_forgetting_ckpt_store(sk_forgetting *f)
{
    int rc = SK_OK;
    const int32_t *src[3] = {f->last, f->events, f->pres};
    SK_TRY(ck_make_(f));
    for (int k = 0; k < 3; k++) {
        for (int64_t i = 0; i < f->n; i++) f->host[i] = (float)src[k][i];
        SK_TRY(sk_shim_copy_from_host(f->ck.t[k], f->host, (size_t)f->n * sizeof *f->host));
    }
done:
    return rc;
}

int sk_forgetting_ckpt_restore(sk_forgetting *f)
{
    int rc = SK_OK;
    int32_t *dst[3] = {f->last, f->events, f->pres};
    SK_TRY(ck_make_(f));
    for (int k = 0; k < 3; k++) {
        SK_TRY(sk_shim_to_host(f->ck.t[k], f->host, (size_t)f->n * sizeof *f->host));
        for (int64_t i = 0; i < f->n; i++) dst[k][i] = (int32_t)f->host[i];
    }
done:
    return rc;
}
