/* sk_condense_embed.c - proxy embeddings of a shard and the global
 * arg-best over ranks (sk_condense_embed.h). */
#include "sk_condense_embed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sk_condense_methods.h"
#include "sk_mpi.h"
#include "sk_params.h"
#include "sk_shim.h"

/* One batch of rows [i0, i0 + b) as x [b, <sample shape>] (uint16 widened
 * to int32: the shim has no uint16, as the trainer does), embedded and
 * copied out as float32 into out. Tensors live in the caller's scope. */
static int embed_batch_(sk_model *m, const sk_corpus_info *in, const void *rows, int64_t b, int64_t dim, float *out)
{
    int rc = SK_OK;
    sk_batch batch = {.n = b, .ndim = in->ndim, .type = in->type, .data = rows};
    memcpy(batch.shape, in->shape, sizeof batch.shape);
    sk_tensor *x, *y, *f;
    SK_TRY(sk_train_batch_tensors(&batch, &x, &y));
    SK_TRY(sk_model_embed(m, x, &f));
    SK_FAIL_IF(sk_shim_ndim(f) != 2 || sk_shim_size(f, 0) != b || sk_shim_size(f, 1) != dim, SK_EINVAL,
               "condense.proxy: embed gave a tensor of %d dims, not [%lld, %lld]", sk_shim_ndim(f), (long long)b,
               (long long)dim);
    f = sk_shim_contiguous(sk_shim_to(f, SK_CPU, SK_F32));
    SK_TRY_T(f);
    SK_TRY(sk_shim_to_host(f, out, (size_t)(b * dim) * sizeof *out));
done:
    return rc;
}

int sk_condense_embed(sk_model *proxy, sk_corpus *c, int64_t begin, int64_t end, int64_t batch, float **feat,
                      int64_t *dim)
{
    int rc = SK_OK;
    const sk_corpus_info *in = sk_corpus_info_get(c);
    sk_model_info mi;
    sk_model_info_get(proxy, &mi);
    int64_t n = end - begin, F = mi.features;
    size_t rowb = sk_elem_size(in->type) * (size_t)sk_corpus_sample_elems(in);
    int prev = sk_shim_set_grad_enabled(0);
    void *rows = NULL;
    float *out = NULL, *tmp = NULL;
    *feat = NULL;
    SK_FAIL_IF(in->kind != SK_CORPUS_SAMPLES || (unsigned)in->type > SK_ELEM_F32, SK_EINVAL,
               "%s: embeddings need a sample corpus", sk_corpus_path(c));
    SK_FAIL_IF(F < 1 || batch < 1, SK_EINVAL, "condense: proxy has %lld features, batch %lld", (long long)F,
               (long long)batch);
    int64_t cap = batch < in->num_samples ? batch : in->num_samples; /* rows of the largest batch */
    rows = malloc((size_t)(cap > 0 ? cap : 1) * rowb);
    tmp = malloc((size_t)(cap > 0 ? cap : 1) * (size_t)F * sizeof *tmp);
    out = malloc((size_t)(n > 0 ? n : 1) * (size_t)F * sizeof *out);
    SK_FAIL_IF(!rows || !tmp || !out, SK_ENOMEM, "condense: out of memory for %lld x %lld embeddings", (long long)n,
               (long long)F);
    int64_t g_lo, g_hi;
    sk_condense_batch_cover(begin, end, batch, in->num_samples, &g_lo, &g_hi);
    for (int64_t g0 = g_lo; g0 < g_hi; g0 += batch) {
        int64_t b = g_hi - g0 < batch ? g_hi - g0 : batch;
        int64_t lo = g0 > begin ? g0 : begin, hi = g0 + b < end ? g0 + b : end;
        SK_TRY(sk_corpus_read_samples(c, g0, b, rows));
        sk_scope *sc = sk_shim_scope_begin();
        SK_FAIL_IF(!sc, SK_ENOMEM, "condense: out of memory");
        rc = embed_batch_(proxy, in, rows, b, F, tmp);
        sk_shim_scope_end(sc);
        if (rc < 0) goto done;
        memcpy(out + (size_t)(lo - begin) * (size_t)F, tmp + (size_t)(lo - g0) * (size_t)F,
               (size_t)(hi - lo) * (size_t)F * sizeof *out);
    }
    for (int64_t i = 0; i < n * F; i++)
        SK_FAIL_IF(!isfinite(out[i]), SK_ENUMERIC, "condense.proxy: a non-finite feature for row %lld",
                   (long long)(begin + i / F));
    *feat = out;
    *dim = F;
    out = NULL;
done:
    sk_shim_set_grad_enabled(prev);
    free(rows);
    free(tmp);
    free(out);
    return rc;
}

int sk_condense_best(uint64_t key, int64_t idx, int64_t *best_idx, uint64_t *best_key)
{
    int rc = SK_OK;
    int world = sk_mpi_info_get()->world;
    int64_t mine[2] = {(int64_t)key, idx}, *all = malloc((size_t)world * 2 * sizeof *all);
    if (!all) rc = sk_error_set(SK_ENOMEM, "condense: out of memory");
    SK_TRY(sk_mpi_agree(rc));
    SK_TRY(sk_mpi_allgather_i64(mine, 2, all));
    *best_idx = -1;
    *best_key = UINT64_MAX;
    for (int r = 0; r < world; r++) {
        uint64_t k = (uint64_t)all[2 * r];
        int64_t i = all[2 * r + 1];
        if (i < 0) continue;
        if (*best_idx < 0 || k < *best_key || (k == *best_key && i < *best_idx)) {
            *best_key = k;
            *best_idx = i;
        }
    }
done:
    free(all);
    return rc;
}

int sk_condense_owner(int64_t n, int world, int64_t i)
{
    for (int r = 0; r < world; r++)
        if (i < n * (r + 1) / world) return r;
    return world - 1;
}

double sk_condense_sqdist(const float *a, const double *b, int64_t F)
{
    double s = 0;
    for (int64_t f = 0; f < F; f++) {
        double d = (double)a[f] - b[f];
        s += d * d;
    }
    return s;
}

uint64_t sk_condense_dkey(double d)
{
    uint64_t k;
    memcpy(&k, &d, sizeof k);
    return k;
}

int sk_condense_greedy_run(const sk_condense_job *job, const float *x, int64_t F, const sk_condense_greedy *G,
                           uint8_t *keep, float *order)
{
    int rc = SK_OK;
    int64_t n = job->end - job->begin, *want = NULL;
    const int64_t *grp = sk_condense_groups(job);
    int ng = 0;
    float *c = malloc((size_t)F * sizeof *c);
    if (!c) rc = sk_error_set(SK_ENOMEM, "condense: out of memory");
    SK_TRY(sk_mpi_agree(rc));
    SK_TRY(sk_condense_group_wants(job, &want, &ng));
    for (int64_t i = 0; order && i < n; i++) order[i] = -1;
    for (int g = 0; g < ng; g++) {
        SK_TRY(sk_mpi_agree(G->start(G->self, g)));
        for (int64_t round = 0; round < want[g]; round++) {
            int64_t bi = -1, best;
            uint64_t bk = UINT64_MAX, key;
            for (int64_t i = 0; i < n; i++) {
                if (keep[i] || (grp && grp[i] != g)) continue;
                uint64_t k = G->key(G->self, i, g, round);
                if (bi < 0 || k < bk) { /* i ascends: ties keep the lower index */
                    bk = k;
                    bi = i;
                }
            }
            SK_TRY(sk_condense_best(bk, bi < 0 ? -1 : job->begin + bi, &best, &key));
            if (best < 0) break; /* the group is exhausted */
            if (best >= job->begin && best < job->end) {
                keep[best - job->begin] = 1;
                if (order) order[best - job->begin] = (float)round;
                memcpy(c, x + (size_t)(best - job->begin) * (size_t)F, (size_t)F * sizeof *c);
            }
            SK_TRY(sk_mpi_bcast(c, (size_t)F * sizeof *c, sk_condense_owner(job->n, job->world, best)));
            G->pick(G->self, c, g, round);
        }
    }
done:
    free(c);
    free(want);
    return rc;
}
