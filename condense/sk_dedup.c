/* sk_dedup.c - the shard reader and the distributed connected components
 * the deduplication methods share (sk_dedup.h). */
#include "sk_dedup.h"

#include <stdlib.h>
#include <string.h>

#include "sk_condense_methods.h"
#include "sk_mpi.h"
#include "sk_time.h"

#define CHUNK_TOKENS_ ((int64_t)8 << 20)

int sk_dedup_each_doc(const sk_condense_job *job, sk_dedup_doc_fn fn, void *ctx)
{
    int rc = SK_OK;
    int64_t n = job->end - job->begin;
    size_t es = sk_elem_size(job->info->type);
    int64_t *off = malloc((size_t)(n + 1) * sizeof *off);
    char *buf = NULL;
    int64_t cap = 0;
    double last = sk_now();
    SK_FAIL_IF(!off, SK_ENOMEM, "dedup: out of memory");
    if (n == 0) goto done;
    SK_TRY(sk_corpus_read_offsets(job->corpus, job->begin, n + 1, off));
    for (int64_t i = 0; i < n;) {
        int64_t j = i + 1; /* documents [i, j) in this chunk */
        while (j < n && off[j + 1] - off[i] <= CHUNK_TOKENS_) j++;
        int64_t len = off[j] - off[i];
        if (len > cap) {
            free(buf);
            cap = len;
            buf = malloc((size_t)cap * es);
            SK_FAIL_IF(!buf, SK_ENOMEM, "dedup: out of memory (a chunk of %lld tokens)", (long long)len);
        }
        if (len > 0) SK_TRY(sk_corpus_read_tokens(job->corpus, off[i], len, buf));
        for (int64_t d = i; d < j; d++) SK_TRY(fn(ctx, d, buf + (size_t)(off[d] - off[i]) * es, off[d + 1] - off[d]));
        i = j;
        sk_condense_progress(job, "hashing", "documents", i, n, &last);
    }
done:
    free(off);
    free(buf);
    return rc;
}

void sk_dedup_tokens_u32(const void *tok, sk_elem_type t, int64_t n, uint32_t *out)
{
    for (int64_t i = 0; i < n; i++) {
        switch (t) {
        case SK_ELEM_U8: out[i] = ((const uint8_t *)tok)[i]; break;
        case SK_ELEM_U16: out[i] = ((const uint16_t *)tok)[i]; break;
        case SK_ELEM_I32: out[i] = (uint32_t)((const int32_t *)tok)[i]; break;
        case SK_ELEM_I64: out[i] = (uint32_t)((const int64_t *)tok)[i]; break;
        default: out[i] = 0; break;
        }
    }
}

/* ---- components ---------------------------------------------------------- */

typedef struct {
    uint64_t key;
    int64_t row; /* global index */
} pair_;

/* All-to-all of variable counts: rank s sends scount[d] items of `size`
 * bytes at sbuf + sdisp[d] to each d, receives rcount[s] at rbuf +
 * rdisp[s]; its own part is copied. */
static int alltoall_(const void *sbuf, const int64_t *scount, const int64_t *sdisp, void *rbuf, const int64_t *rcount,
                     const int64_t *rdisp, size_t size, int me, int world)
{
    int rc = SK_OK;
    sk_mpi_msg *s = malloc((size_t)world * 2 * sizeof *s), *r = s ? s + world : NULL;
    int ns = 0, nr = 0;
    SK_FAIL_IF(!s, SK_ENOMEM, "dedup: out of memory");
    for (int p = 0; p < world; p++) {
        if (p == me) {
            if (scount[p])
                memcpy((char *)rbuf + rdisp[p] * size, (const char *)sbuf + sdisp[p] * size, scount[p] * size);
            continue;
        }
        if (scount[p]) s[ns++] = (sk_mpi_msg){(char *)sbuf + sdisp[p] * size, (size_t)scount[p] * size, p};
        if (rcount[p]) r[nr++] = (sk_mpi_msg){(char *)rbuf + rdisp[p] * size, (size_t)rcount[p] * size, p};
    }
    if (ns || nr) rc = sk_mpi_exchange(s, ns, r, nr);
done:
    free(s);
    return rc;
}

static void disp_(const int64_t *count, int64_t *disp, int world)
{
    disp[0] = 0;
    for (int p = 0; p < world; p++) disp[p + 1] = disp[p] + count[p];
}

static const pair_ *sort_base_;
static int by_key_row_(const void *a, const void *b)
{
    const pair_ *x = &sort_base_[*(const int64_t *)a], *y = &sort_base_[*(const int64_t *)b];
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

int sk_dedup_components(const sk_condense_job *job, const uint64_t *keys, int nk, int64_t *clusters)
{
    int rc = SK_OK;
    int P = job->world, me = job->rank;
    int64_t n = job->end - job->begin, np = n * nk;
    /* counts: [0,P) sent to, [P,2P) received from; displacements P+1 each */
    int64_t *cnt = calloc((size_t)P * 6 + 2, sizeof *cnt);
    int64_t *all = malloc((size_t)P * P * sizeof *all);
    int64_t *scnt = cnt, *rcnt = cnt + P, *sdsp = cnt + 2 * P, *rdsp = cnt + 3 * P + 1;
    int64_t *pos = cnt + 4 * P + 2; /* P fill cursors */
    pair_ *sp = malloc((size_t)(np > 0 ? np : 1) * sizeof *sp), *rp = NULL;
    int64_t *slocal = malloc((size_t)(np > 0 ? np : 1) * sizeof *slocal); /* sent pair -> shard row */
    int64_t *sval = malloc((size_t)(np > 0 ? np : 1) * sizeof *sval);
    int64_t *order = NULL, *bucket = NULL, *rval = NULL, *bmin = NULL, m = 0, nb = 0;
    if (!cnt || !all || !sp || !slocal || !sval) rc = sk_error_set(SK_ENOMEM, "dedup: out of memory");
    SK_TRY(sk_mpi_agree(rc));
    for (int64_t i = 0; i < n; i++) clusters[i] = job->begin + i;

    /* 1. route (key, row) to owner key % P */
    for (int64_t j = 0; j < np; j++) scnt[keys[j] % (uint64_t)P]++;
    disp_(scnt, sdsp, P);
    memcpy(pos, sdsp, (size_t)P * sizeof *pos);
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < nk; k++) {
            uint64_t key = keys[i * nk + k];
            int64_t at = pos[key % (uint64_t)P]++;
            sp[at] = (pair_){key, job->begin + i};
            slocal[at] = i;
        }
    SK_TRY(sk_mpi_allgather_i64(scnt, P, all));
    for (int s = 0; s < P; s++) rcnt[s] = all[(int64_t)s * P + me];
    disp_(rcnt, rdsp, P);
    m = rdsp[P];
    rp = malloc((size_t)(m > 0 ? m : 1) * sizeof *rp);
    order = malloc((size_t)(m > 0 ? m : 1) * sizeof *order);
    bucket = malloc((size_t)(m > 0 ? m : 1) * sizeof *bucket);
    rval = malloc((size_t)(m > 0 ? m : 1) * sizeof *rval);
    bmin = malloc((size_t)(m > 0 ? m : 1) * sizeof *bmin);
    if (!rp || !order || !bucket || !rval || !bmin) rc = sk_error_set(SK_ENOMEM, "dedup: out of memory");
    SK_TRY(sk_mpi_agree(rc));
    SK_TRY(alltoall_(sp, scnt, sdsp, rp, rcnt, rdsp, sizeof *sp, me, P));

    /* 2. buckets: sort by (key, row); the first of a run is its minimum */
    for (int64_t j = 0; j < m; j++) order[j] = j;
    sort_base_ = rp;
    qsort(order, (size_t)m, sizeof *order, by_key_row_);
    for (int64_t a = 0; a < m;) {
        int64_t b = a + 1;
        while (b < m && rp[order[b]].key == rp[order[a]].key) b++;
        for (int64_t t = a; t < b; t++) {
            bucket[order[t]] = b - a > 1 ? nb : -1;
            rval[order[t]] = b - a > 1 ? rp[order[a]].row : -1;
        }
        if (b - a > 1) nb++;
        a = b;
    }
    SK_TRY(alltoall_(rval, rcnt, rdsp, sval, scnt, sdsp, sizeof *rval, me, P));

    /* 3. keep the pairs in shared buckets, in the same order on both sides */
    for (int side = 0; side < 2; side++) {
        int64_t *c = side ? rcnt : scnt, *dsp = side ? rdsp : sdsp, w = 0;
        for (int p = 0; p < P; p++) {
            int64_t kept = 0;
            for (int64_t j = dsp[p]; j < dsp[p + 1]; j++) {
                if (side ? bucket[j] < 0 : sval[j] < 0) continue;
                if (side)
                    bucket[w] = bucket[j];
                else {
                    if (sval[j] < clusters[slocal[j]]) clusters[slocal[j]] = sval[j];
                    slocal[w] = slocal[j];
                }
                w++;
                kept++;
            }
            c[p] = kept;
        }
        disp_(c, dsp, P);
    }

    /* 4. min-label propagation until nothing changes anywhere */
    for (;;) {
        int64_t changed = 0;
        for (int64_t j = 0; j < sdsp[P]; j++) sval[j] = clusters[slocal[j]];
        SK_TRY(alltoall_(sval, scnt, sdsp, rval, rcnt, rdsp, sizeof *rval, me, P));
        for (int64_t b = 0; b < nb; b++) bmin[b] = INT64_MAX;
        for (int64_t j = 0; j < rdsp[P]; j++)
            if (rval[j] < bmin[bucket[j]]) bmin[bucket[j]] = rval[j];
        for (int64_t j = 0; j < rdsp[P]; j++) rval[j] = bmin[bucket[j]];
        SK_TRY(alltoall_(rval, rcnt, rdsp, sval, scnt, sdsp, sizeof *rval, me, P));
        for (int64_t j = 0; j < sdsp[P]; j++)
            if (sval[j] < clusters[slocal[j]]) {
                clusters[slocal[j]] = sval[j];
                changed++;
            }
        SK_TRY(sk_mpi_allreduce_sum_i64(&changed, 1));
        if (!changed) break;
    }
done:
    free(cnt);
    free(all);
    free(sp);
    free(rp);
    free(slocal);
    free(sval);
    free(order);
    free(bucket);
    free(rval);
    free(bmin);
    return rc;
}

int sk_dedup_finish(const sk_condense_job *job, int rc, const uint64_t *keys, int nk, sk_condense_out *out)
{
    double t0 = sk_now();
    int64_t n = job->end - job->begin;
    SK_TRY(sk_mpi_agree(rc));
    SK_TRY(sk_dedup_components(job, keys, nk, out->clusters));
    for (int64_t i = 0; i < n; i++) out->keep[i] = out->clusters[i] == job->begin + i;
    out->has_clusters = 1;
    SK_TRY(sk_condense_phase_end(job, rc, "duplicate clusters", n, t0));
done:
    return rc;
}
