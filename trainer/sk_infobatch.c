/* sk_infobatch.c - InfoBatch's prune rule and score bookkeeping
 * (sk_infobatch.h; Qin et al., ICLR 2024). */
#include "sk_infobatch.h"

#include <math.h>
#include <stdlib.h>

#include <string.h>

#include "sk_error.h"
#include "sk_mpi.h"
#include "sk_rand.h"

struct sk_infobatch {
    int64_t n, epochs;
    double ratio, delta;
    uint64_t seed;
    float *scores, *weights;
    int64_t *well; /* scratch: well-learned indices */
    /* the trainer's side */
    float *epoch_scores; /* scores when the current epoch began */
    int64_t *order, order_n, cur, skipped_total, skipped_epoch;
    /* this rank's recorded (index, loss) pairs not yet gathered: pend[0..pn)
     * indices, pend[cap..cap + pn) the losses' double bits (sk_infobatch_record) */
    int64_t *pend, pn, pcap;
    int64_t *gbuf, gcap; /* allgather buffer */
    sk_params ck;        /* checkpoint tensors */
};

int sk_infobatch_create(sk_infobatch **out, int64_t n, double ratio, double delta, int64_t epochs, uint64_t seed)
{
    int rc = SK_OK;
    sk_infobatch *ib = NULL;
    *out = NULL;
    SK_FAIL_IF(!(ratio >= 0 && ratio < 1), SK_EINVAL, "data.prune_ratio %g must be in [0, 1)", ratio);
    SK_FAIL_IF(!(delta >= 0 && delta <= 1), SK_EINVAL, "data.prune_delta %g must be in [0, 1]", delta);
    SK_FAIL_IF(epochs < 1, SK_EINVAL, "infobatch: %lld epochs, need at least 1", (long long)epochs);
    SK_FAIL_IF(n < 1, SK_EINVAL, "infobatch: %lld samples, need at least 1", (long long)n);
    ib = calloc(1, sizeof *ib);
    SK_FAIL_IF(!ib, SK_ENOMEM, "infobatch: out of memory");
    ib->n = n;
    ib->epochs = epochs;
    ib->ratio = ratio;
    ib->delta = delta;
    ib->seed = seed;
    ib->scores = malloc((size_t)n * sizeof *ib->scores);
    ib->weights = malloc((size_t)n * sizeof *ib->weights);
    ib->well = malloc((size_t)n * sizeof *ib->well);
    ib->epoch_scores = malloc((size_t)n * sizeof *ib->epoch_scores);
    ib->order = malloc((size_t)n * sizeof *ib->order);
    ib->cur = -1;
    sk_params_init(&ib->ck);
    SK_FAIL_IF(!ib->scores || !ib->weights || !ib->well || !ib->epoch_scores || !ib->order, SK_ENOMEM,
               "infobatch: out of memory for %lld samples", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        ib->scores[i] = SK_INFOBATCH_INIT_SCORE;
        ib->weights[i] = 1.0f;
    }
    *out = ib;
    ib = NULL;
done:
    sk_infobatch_free(ib);
    return rc;
}

void sk_infobatch_free(sk_infobatch *ib)
{
    if (!ib) return;
    free(ib->scores);
    free(ib->weights);
    free(ib->well);
    free(ib->epoch_scores);
    free(ib->order);
    free(ib->pend);
    free(ib->gbuf);
    sk_params_free(&ib->ck);
    free(ib);
}

/* Uniform integer in [0, m) from the stream *s (m >= 1; 64-bit draws, the
 * modulo bias is below 2^-40 for any corpus size we take). */
static uint64_t draw_(uint64_t *s, uint64_t m)
{
    *s = sk_splitmix64(*s);
    return *s % m;
}

int sk_infobatch_prunes(const sk_infobatch *ib, int64_t e)
{
    return ib->ratio > 0 && (double)e < ib->delta * (double)ib->epochs;
}

int sk_infobatch_epoch(sk_infobatch *ib, int64_t e, int64_t *order, int64_t *n, int64_t *skipped)
{
    uint64_t s = sk_splitmix64(ib->seed ^ sk_splitmix64((uint64_t)e + 0x1b0bull));
    int64_t m = 0;
    for (int64_t i = 0; i < ib->n; i++) ib->weights[i] = 1.0f;
    if (sk_infobatch_prunes(ib, e)) {
        double mean = 0;
        for (int64_t i = 0; i < ib->n; i++) mean += ib->scores[i];
        mean /= (double)ib->n;
        int64_t nw = 0;
        for (int64_t i = 0; i < ib->n; i++) {
            if ((double)ib->scores[i] < mean)
                ib->well[nw++] = i;
            else
                order[m++] = i; /* not well learned: always kept */
        }
        const double keep = 1.0 - ib->ratio;
        int64_t k = (int64_t)(keep * (double)nw);
        /* the first k of a partial Fisher-Yates shuffle: k of nw without replacement */
        for (int64_t j = 0; j < k; j++) {
            int64_t r = j + (int64_t)draw_(&s, (uint64_t)(nw - j));
            int64_t t = ib->well[j];
            ib->well[j] = ib->well[r];
            ib->well[r] = t;
            ib->weights[ib->well[j]] = (float)(1.0 / keep);
            order[m++] = ib->well[j];
        }
    } else {
        for (int64_t i = 0; i < ib->n; i++) order[m++] = i;
    }
    for (int64_t j = m - 1; j > 0; j--) { /* shuffle what is kept */
        int64_t r = (int64_t)draw_(&s, (uint64_t)(j + 1));
        int64_t t = order[j];
        order[j] = order[r];
        order[r] = t;
    }
    *n = m;
    *skipped = ib->n - m;
    return SK_OK;
}

int sk_infobatch_update(sk_infobatch *ib, const int64_t *idx, const float *loss, int64_t m)
{
    for (int64_t j = 0; j < m; j++) {
        if (idx[j] < 0 || idx[j] >= ib->n)
            return sk_error_set(SK_EINVAL, "infobatch: sample %lld outside [0, %lld)", (long long)idx[j],
                                (long long)ib->n);
        if (!isfinite(loss[j]))
            return sk_error_set(SK_EINVAL, "infobatch: sample %lld has a non-finite loss", (long long)idx[j]);
        ib->scores[idx[j]] = loss[j];
    }
    return SK_OK;
}

float sk_infobatch_weight(const sk_infobatch *ib, int64_t i) { return ib->weights[i]; }
float *sk_infobatch_scores(sk_infobatch *ib) { return ib->scores; }
float *sk_infobatch_weights(sk_infobatch *ib) { return ib->weights; }
int64_t sk_infobatch_size(const sk_infobatch *ib) { return ib->n; }

/* ---- the trainer's side ------------------------------------------------- */

int sk_infobatch_begin(sk_infobatch *ib, int64_t e, const int64_t **order, int64_t *n)
{
    int64_t skipped = 0;
    int rc = sk_infobatch_flush(ib);
    if (rc < 0) return rc;
    memcpy(ib->epoch_scores, ib->scores, (size_t)ib->n * sizeof *ib->scores);
    rc = sk_infobatch_epoch(ib, e, ib->order, &ib->order_n, &skipped);
    if (rc < 0) return rc;
    ib->cur = e;
    ib->skipped_epoch = skipped;
    ib->skipped_total += skipped;
    *order = ib->order;
    *n = ib->order_n;
    return SK_OK;
}

int64_t sk_infobatch_current(const sk_infobatch *ib) { return ib->cur; }
const int64_t *sk_infobatch_order(const sk_infobatch *ib, int64_t *n)
{
    *n = ib->order_n;
    return ib->order;
}
int64_t sk_infobatch_skipped_total(const sk_infobatch *ib) { return ib->skipped_total; }
int64_t sk_infobatch_skipped_epoch(const sk_infobatch *ib) { return ib->skipped_epoch; }

/* Why the losses wait: a gather per step was a second synchronisation
 * point in every step (after the forward, before the backward), where a
 * rank the shared machine had descheduled held the other one; measured at
 * ~7% of the loop under load (docs/BENCHMARKS.md, "InfoBatch"). Scores are
 * read only when an epoch begins (its mean and well-learned set) and when
 * a checkpoint stores them, and an epoch's order visits each sample once,
 * so gathering them later gives exactly the same scores. */
int sk_infobatch_record(sk_infobatch *ib, const int64_t *idx, const float *loss, int64_t m)
{
    int rc = SK_OK;
    SK_FAIL_IF(m < 0 || m > SK_INFOBATCH_PENDING_MAX, SK_EINVAL, "infobatch: %lld samples in one batch is too many",
               (long long)m);
    if (ib->pn + m > ib->pcap) { /* grow by doubling; pn stays below the cap plus one batch */
        int64_t cap = 2 * ib->pcap < SK_INFOBATCH_PENDING_MAX ? 2 * ib->pcap : SK_INFOBATCH_PENDING_MAX;
        if (cap < ib->pn + m) cap = ib->pn + m;
        int64_t *p = malloc((size_t)(2 * cap) * sizeof *p);
        SK_FAIL_IF(!p, SK_ENOMEM, "infobatch: out of memory");
        if (ib->pn) {
            memcpy(p, ib->pend, (size_t)ib->pn * sizeof *p);
            memcpy(p + cap, ib->pend + ib->pcap, (size_t)ib->pn * sizeof *p);
        }
        free(ib->pend);
        ib->pend = p;
        ib->pcap = cap;
    }
    for (int64_t j = 0; j < m; j++) {
        double v = loss[j]; /* a float's bits travel exactly inside an int64 */
        ib->pend[ib->pn + j] = idx[j];
        memcpy(&ib->pend[ib->pcap + ib->pn + j], &v, sizeof v);
    }
    ib->pn += m;
    /* every rank records the same m per call, so all reach the cap together */
    if (ib->pn >= SK_INFOBATCH_PENDING_MAX) SK_TRY(sk_infobatch_flush(ib));
done:
    return rc;
}

int sk_infobatch_flush(sk_infobatch *ib)
{
    int rc = SK_OK;
    const int world = sk_mpi_info_get()->world > 0 ? sk_mpi_info_get()->world : 1;
    const int64_t m = ib->pn, need = 2 * m * world;
    int64_t *mine = NULL, *all;
    /* pn is the same on every rank (each record call adds the same m), so
     * when nothing is pending here nothing is pending anywhere: no call
     * (sk_train_check's setup, which enters epoch 0, makes no MPI call) */
    if (m == 0) return SK_OK;
    if (need > ib->gcap) {
        int64_t *g = realloc(ib->gbuf, (size_t)need * sizeof *g);
        SK_FAIL_IF(!g, SK_ENOMEM, "infobatch: out of memory");
        ib->gbuf = g;
        ib->gcap = need;
    }
    all = ib->gbuf;
    mine = malloc((size_t)(2 * m) * sizeof *mine); /* indices, then loss bits, for one allgather */
    SK_FAIL_IF(!mine, SK_ENOMEM, "infobatch: out of memory");
    memcpy(mine, ib->pend, (size_t)m * sizeof *mine);
    memcpy(mine + m, ib->pend + ib->pcap, (size_t)m * sizeof *mine);
    SK_TRY(sk_mpi_allgather_i64(mine, (int)(2 * m), all));
    ib->pn = 0;
    for (int r = 0; r < world; r++) {
        const int64_t *g = all + (int64_t)r * 2 * m;
        for (int64_t j = 0; j < m; j++) {
            double v;
            float f;
            memcpy(&v, &g[m + j], sizeof v);
            f = (float)v;
            SK_TRY(sk_infobatch_update(ib, &g[j], &f, 1));
        }
    }
done:
    free(mine);
    return rc;
}

/* The checkpoint tensors, made on first use. */
static int ck_make_(sk_infobatch *ib)
{
    int rc = SK_OK;
    if (ib->ck.n) return SK_OK;
    int64_t shape[1] = {ib->n}, two[1] = {2};
    double zero[2] = {0, 0};
    SK_TRY(sk_params_add(&ib->ck, "infobatch.scores", sk_params_const(shape, 1, 0.0), 0));
    SK_TRY(sk_params_add(&ib->ck, "infobatch.epoch_scores", sk_params_const(shape, 1, 0.0), 0));
    SK_TRY(sk_params_add(&ib->ck, "infobatch.state", sk_shim_from_host(zero, two, 1, SK_F64, SK_CPU), 0));
    for (int i = 0; i < ib->ck.n; i++) SK_TRY(sk_shim_set_requires_grad(ib->ck.t[i], 0));
done:
    return rc;
}

sk_params *sk_infobatch_ckpt(sk_infobatch *ib) { return ck_make_(ib) < 0 ? NULL : &ib->ck; }

int sk_infobatch_ckpt_store(sk_infobatch *ib)
{
    int rc = SK_OK;
    const size_t fb = (size_t)ib->n * sizeof(float);
    double st[2] = {(double)ib->cur, (double)ib->skipped_total};
    SK_FAIL_IF(ib->pn > 0, SK_EINVAL,
               "infobatch: %lld recorded losses not gathered before a checkpoint (sk_infobatch_flush)",
               (long long)ib->pn);
    SK_TRY(ck_make_(ib));
    SK_TRY(sk_shim_copy_from_host(ib->ck.t[0], ib->scores, fb));
    SK_TRY(sk_shim_copy_from_host(ib->ck.t[1], ib->epoch_scores, fb));
    SK_TRY(sk_shim_copy_from_host(ib->ck.t[2], st, sizeof st));
done:
    return rc;
}

int sk_infobatch_ckpt_restore(sk_infobatch *ib)
{
    int rc = SK_OK;
    const size_t fb = (size_t)ib->n * sizeof(float);
    double st[2];
    float *now = NULL;
    int64_t skipped;
    SK_TRY(ck_make_(ib));
    now = malloc(fb);
    SK_FAIL_IF(!now, SK_ENOMEM, "infobatch: out of memory");
    SK_TRY(sk_shim_to_host(ib->ck.t[0], now, fb));
    SK_TRY(sk_shim_to_host(ib->ck.t[1], ib->epoch_scores, fb));
    SK_TRY(sk_shim_to_host(ib->ck.t[2], st, sizeof st));
    ib->cur = (int64_t)st[0];
    ib->skipped_total = (int64_t)st[1];
    ib->pn = 0; /* the stored scores hold every loss recorded before the save */
    ib->skipped_epoch = 0;
    if (ib->cur >= 0) { /* the epoch's order and weights, as they were built at its start */
        memcpy(ib->scores, ib->epoch_scores, fb);
        SK_TRY(sk_infobatch_epoch(ib, ib->cur, ib->order, &ib->order_n, &skipped));
        ib->skipped_epoch = skipped;
    }
    memcpy(ib->scores, now, fb);
done:
    free(now);
    return rc;
}
