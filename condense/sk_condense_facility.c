/* sk_condense_facility.c - `facility-location`: greedy maximisation of the
 * facility-location function f(S) = sum_i max_{j in S} sim(i, j) on proxy
 * embeddings (Mirzasoleiman et al., CRAIG, ICML 2020; DeepCore's and
 * apricot's FacilityLocation with a Euclidean similarity), per class with
 * labels and condense.class_balance. sim(i, j) = C - ||x_i - x_j||^2,
 * C the largest squared distance seen (apricot's "euclidean": max - d), so
 * sim >= 0 and f(empty) = 0.
 *
 * Candidate restriction (documented, not exact facility location): the
 * full objective needs every row against every candidate, O(n^2) per
 * class. Here the candidates of a group of N rows with budget w are the
 * m = min(N, max(4 w, 256)) rows with the smallest sk_splitmix64(seed ^
 * index) keys (the order `random` uses), gathered to every rank (m x F
 * floats); every row of every rank still counts in the gains. Each round
 * recomputes all candidates' gains (plain greedy; lazy evaluation picks
 * the same rows, only faster), each row adding max(0, sim - cur_i).
 *
 * Rank-count independence: per-row terms are exact doubles; the sum over
 * ranks is of per-row fixed-point int64 values trunc(term * 2^s), with
 * s = 62 - e - b (C < 2^e, N < 2^b: no overflow), exact in any order.
 * Ties go to the lower global index.
 *
 * /provenance/scores ("pick_order"): each kept row's pick round within its
 * group (0 first), -1 for rows not kept.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sk_condense_embed.h"
#include "sk_condense_methods.h"
#include "sk_pick.h"
#include "sk_rand.h"

/* The pool rows of the shard (pool[i]) as [m, F] on every rank, in global
 * index order (rank order), and their global indices. */
static int gather_pool_(const sk_condense_job *job, const float *x, int64_t F, const uint8_t *pool, int64_t m,
                        float *P, int64_t *pidx) {
    int rc = SK_OK;
    int64_t n = job->end - job->begin, got = 0;
    for (int r = 0; r < job->world; r++) {
        int64_t cnt = 0;
        if (r == job->rank) {
            for (int64_t i = 0; i < n; i++) {
                if (!pool[i]) continue;
                memcpy(P + (size_t)(got + cnt) * (size_t)F, x + (size_t)i * (size_t)F, (size_t)F * sizeof *P);
                pidx[got + cnt++] = job->begin + i;
            }
        }
        SK_TRY(sk_mpi_bcast(&cnt, sizeof cnt, r));
        SK_FAIL_IF(got + cnt > m, SK_ERROR, "facility-location: candidate pool overflow");
        if (cnt > 0) {
            SK_TRY(sk_mpi_bcast(P + (size_t)got * (size_t)F, (size_t)(cnt * F) * sizeof *P, r));
            SK_TRY(sk_mpi_bcast(pidx + got, (size_t)cnt * sizeof *pidx, r));
        }
        got += cnt;
    }
    SK_FAIL_IF(got != m, SK_ERROR, "facility-location: %lld candidates, expected %lld", (long long)got, (long long)m);
done:
    return rc;
}

/* One group: pool of m candidates, budget w. */
static int group_(const sk_condense_job *job, const float *x, int64_t F, int g, int64_t N, int64_t w,
                  sk_condense_out *out) {
    int rc = SK_OK;
    int64_t n = job->end - job->begin, ng = 0;
    const int64_t *grp = sk_condense_groups(job);
    int64_t m = N < (4 * w > 256 ? 4 * w : 256) ? N : (4 * w > 256 ? 4 * w : 256);
    uint64_t *keys = malloc((size_t)(n > 0 ? n : 1) * sizeof *keys);
    uint8_t *pool = calloc((size_t)(n > 0 ? n : 1), 1), *elig = calloc((size_t)(n > 0 ? n : 1), 1),
            *taken = calloc((size_t)m, 1);
    int64_t *rows = malloc((size_t)(n > 0 ? n : 1) * sizeof *rows), *pidx = malloc((size_t)m * sizeof *pidx),
            *q = malloc((size_t)m * sizeof *q);
    float *P = malloc((size_t)(m * F) * sizeof *P);
    double *cb = malloc((size_t)F * sizeof *cb), *cur = NULL, *sim = NULL, C = 0;
    if (!keys || !pool || !elig || !taken || !rows || !pidx || !q || !P || !cb)
        rc = sk_error_set(SK_ENOMEM, "facility-location: out of memory");
    SK_TRY(sk_mpi_agree(rc));
    for (int64_t i = 0; i < n; i++) {
        elig[i] = !grp || grp[i] == g;
        if (elig[i]) rows[ng++] = i;
        keys[i] = sk_condense_row_key(job->seed, job->begin + i);
    }
    SK_TRY(sk_pick_smallest(keys, NULL, 1, elig, n, &m, pool));
    SK_TRY(gather_pool_(job, x, F, pool, m, P, pidx));
    cur = calloc((size_t)(ng > 0 ? ng : 1), sizeof *cur);
    sim = malloc((size_t)(ng > 0 ? ng : 1) * (size_t)m * sizeof *sim);
    if (!cur || !sim) rc = sk_error_set(SK_ENOMEM, "facility-location: out of memory for %lld x %lld similarities",
                                        (long long)ng, (long long)m);
    SK_TRY(sk_mpi_agree(rc));
    for (int64_t j = 0; j < m; j++) {
        for (int64_t f = 0; f < F; f++) cb[f] = P[(size_t)j * (size_t)F + f];
        for (int64_t r = 0; r < ng; r++) {
            double d = sk_condense_sqdist(x + (size_t)rows[r] * (size_t)F, cb, F);
            sim[(size_t)r * (size_t)m + j] = d;
            C = fmax(C, d);
        }
    }
    SK_TRY(sk_mpi_allreduce_max(&C, 1));
    for (int64_t i = 0; i < ng * m; i++) sim[i] = C - sim[i];
    int e, b = 0;
    frexp(C, &e); /* C < 2^e */
    while (b < 63 && (N >> b) != 0) b++;
    double scale = ldexp(1.0, 62 - e - b);
    for (int64_t round = 0; round < w && round < m; round++) {
        memset(q, 0, (size_t)m * sizeof *q);
        for (int64_t r = 0; r < ng; r++)
            for (int64_t j = 0; j < m; j++) {
                double t = sim[(size_t)r * (size_t)m + j] - cur[r];
                if (t > 0) q[j] += (int64_t)trunc(t * scale);
            }
        SK_TRY(sk_mpi_allreduce_sum_i64(q, (int)m));
        int64_t best = -1;
        for (int64_t j = 0; j < m; j++) /* pidx ascends: ties keep the lower index */
            if (!taken[j] && (best < 0 || q[j] > q[best])) best = j;
        taken[best] = 1;
        for (int64_t r = 0; r < ng; r++) cur[r] = fmax(cur[r], sim[(size_t)r * (size_t)m + best]);
        int64_t gi = pidx[best];
        if (gi >= job->begin && gi < job->end) {
            out->keep[gi - job->begin] = 1;
            out->scores[gi - job->begin] = (float)round;
        }
    }
done:
    free(keys);
    free(pool);
    free(elig);
    free(taken);
    free(rows);
    free(pidx);
    free(q);
    free(P);
    free(cb);
    free(cur);
    free(sim);
    return rc;
}

static int facility_select_(const sk_condense_job *job, sk_condense_out *out) {
    int rc = SK_OK;
    int64_t n = job->end - job->begin, F = 0, *want = NULL, *cnt = NULL;
    const int64_t *grp = sk_condense_groups(job);
    int ng = 0;
    float *x = NULL;
    rc = sk_condense_embed(job->proxy, job->corpus, job->begin, job->end, job->cfg->batch, &x, &F);
    SK_TRY(sk_mpi_agree(rc));
    SK_TRY(sk_condense_group_wants(job, &want, &ng));
    cnt = calloc((size_t)ng, sizeof *cnt);
    if (!cnt) rc = sk_error_set(SK_ENOMEM, "facility-location: out of memory");
    SK_TRY(sk_mpi_agree(rc));
    for (int64_t i = 0; i < n; i++) cnt[grp ? grp[i] : 0]++;
    SK_TRY(sk_mpi_allreduce_sum_i64(cnt, ng));
    for (int64_t i = 0; i < n; i++) out->scores[i] = -1;
    for (int g = 0; g < ng; g++)
        if (want[g] > 0) SK_TRY(group_(job, x, F, g, cnt[g], want[g], out));
    out->score_name = "pick_order";
done:
    free(x);
    free(want);
    free(cnt);
    return rc;
}

const sk_condense_method sk_condense_facility = {
    .version = SK_CONDENSE_VERSION,
    .name = "facility-location",
    .flags = SK_CONDENSE_SAMPLES | SK_CONDENSE_NEEDS_PROXY | SK_CONDENSE_USES_KEEP,
    .help = "greedy facility location on the proxy's embeddings (Euclidean similarity), over a random candidate "
            "pool of max(4 x budget, 256) rows per class",
    .keys = "proxy batch class_balance",
    .select = facility_select_,
};
