/* sk_condense_herding.c - `herding`: kernel herding on proxy embeddings
 * (Welling, "Herding Dynamical Weights to Learn", ICML 2009; Chen et al.
 * 2010; DeepCore's Herding, Guo et al. 2022), per class with labels and
 * condense.class_balance. Pick k+1 is the row x that brings the mean of
 * the picks closest to the group's mean mu: argmin ||(k+1) mu - S_k - x||,
 * S_k the sum of the first k picks. (DeepCore's code takes the argmax of
 * that distance; we follow the paper, which minimises it.)
 *
 * Rank-count independence. The picks are broadcast, so S_k is summed in
 * pick order on every rank alike. The group mean is the one sum over
 * ranks: summed in double it would depend on the order of the partial
 * sums, and a last-bit change can flip a greedy choice. So each feature
 * is quantised per row to a fixed-point int64, trunc(x * 2^s) with
 * s = 62 - e - b (max |x| < 2^e over the corpus, count < 2^b for the
 * group), so no sum can overflow, and the integer sums are exact in any
 * order; mu = sum / 2^s / count. The quantum 2^-s is far below the float
 * resolution of the features for realistic counts (s = 42 for |x| < 16
 * and 60000 rows). Candidates' distances are per-row double sums in
 * feature order (sk_condense_sqdist), exact at any rank count; ties go to
 * the lower global index.
 *
 * /provenance/scores ("pick_order"): each kept row's pick round within its
 * group (0 first), -1 for rows not kept, so the greedy order survives.
 */
#include <math.h>
#include <stdlib.h>

#include "sk_condense_embed.h"
#include "sk_condense_methods.h"

typedef struct {
    const float *x;
    int64_t F;
    double *mu;  /* [groups * F] group means */
    double *sum; /* the picks' sum S_k */
    double *t;   /* (k + 1) mu - S_k for the current round */
} hd_;

/* t = (round + 1) mu_g - S_round: the point the next pick should be near. */
static void hd_target_(hd_ *h, int g, int64_t round)
{
    for (int64_t f = 0; f < h->F; f++) h->t[f] = (double)(round + 1) * h->mu[(size_t)g * (size_t)h->F + f] - h->sum[f];
}

static int hd_start_(void *self, int g)
{
    hd_ *h = self;
    for (int64_t f = 0; f < h->F; f++) h->sum[f] = 0;
    hd_target_(h, g, 0);
    return SK_OK;
}

static uint64_t hd_key_(void *self, int64_t i, int g, int64_t round)
{
    hd_ *h = self;
    (void)g;
    (void)round;
    return sk_condense_dkey(sk_condense_sqdist(h->x + (size_t)i * (size_t)h->F, h->t, h->F));
}

static void hd_pick_(void *self, const float *c, int g, int64_t round)
{
    hd_ *h = self;
    for (int64_t f = 0; f < h->F; f++) h->sum[f] += (double)c[f];
    hd_target_(h, g, round + 1);
}

/* 2^s for features below 2^e summed over count rows (count < 2^b). */
static double scale_(int e, int64_t count)
{
    int b = 0;
    while (b < 63 && (count >> b) != 0) b++;
    return ldexp(1.0, 62 - e - b);
}

/* The group means, exactly the same at any rank count (see the top). */
static int means_(const sk_condense_job *job, hd_ *h, int ng)
{
    int rc = SK_OK;
    int64_t n = job->end - job->begin, F = h->F;
    const int64_t *grp = sk_condense_groups(job);
    int64_t *q = calloc((size_t)ng * (size_t)F + (size_t)ng, sizeof *q), *cnt = q ? q + (size_t)ng * (size_t)F : NULL;
    double mx = 0;
    if (!q) rc = sk_error_set(SK_ENOMEM, "herding: out of memory");
    if (rc == SK_OK && (int64_t)ng * F > INT32_MAX)
        rc = sk_error_set(SK_EINVAL, "herding: %d groups x %lld features is too many", ng, (long long)F);
    SK_TRY(sk_mpi_agree(rc));
    for (int64_t i = 0; i < n * F; i++) mx = fmax(mx, fabs((double)h->x[i]));
    SK_TRY(sk_mpi_allreduce_max(&mx, 1));
    for (int64_t i = 0; i < n; i++) cnt[grp ? grp[i] : 0]++;
    SK_TRY(sk_mpi_allreduce_sum_i64(cnt, ng));
    int e;
    frexp(mx, &e); /* mx < 2^e */
    for (int g = 0; g < ng; g++) {
        double scale = scale_(e, cnt[g]);
        for (int64_t i = 0; i < n; i++) {
            if ((grp ? grp[i] : 0) != g) continue;
            for (int64_t f = 0; f < F; f++)
                q[(size_t)g * (size_t)F + f] += (int64_t)trunc((double)h->x[(size_t)i * (size_t)F + f] * scale);
        }
    }
    SK_TRY(sk_mpi_allreduce_sum_i64(q, ng * (int)F));
    for (int g = 0; g < ng; g++) {
        double scale = scale_(e, cnt[g]);
        for (int64_t f = 0; f < F; f++)
            h->mu[(size_t)g * (size_t)F + f] =
                cnt[g] ? (double)q[(size_t)g * (size_t)F + f] / scale / (double)cnt[g] : 0;
    }
done:
    free(q);
    return rc;
}

static int herding_select_(const sk_condense_job *job, sk_condense_out *out)
{
    int rc = SK_OK;
    int ng = sk_condense_groups(job) ? (int)job->classes : 1;
    hd_ h = {0};
    float *x = NULL;
    rc = sk_condense_embed(job->proxy, job->corpus, job->begin, job->end, job->cfg->batch, &x, &h.F);
    if (rc == SK_OK) {
        h.x = x;
        h.mu = malloc((size_t)ng * (size_t)h.F * sizeof *h.mu);
        h.sum = malloc((size_t)h.F * sizeof *h.sum);
        h.t = malloc((size_t)h.F * sizeof *h.t);
        if (!h.mu || !h.sum || !h.t) rc = sk_error_set(SK_ENOMEM, "herding: out of memory");
    }
    SK_TRY(sk_mpi_agree(rc));
    SK_TRY(means_(job, &h, ng));
    sk_condense_greedy G = {.self = &h, .start = hd_start_, .key = hd_key_, .pick = hd_pick_};
    rc = sk_condense_greedy_run(job, x, h.F, &G, out->keep, out->scores);
    out->score_name = "pick_order";
done:
    free(x);
    free(h.mu);
    free(h.sum);
    free(h.t);
    return rc;
}

const sk_condense_method sk_condense_herding = {
    .version = SK_CONDENSE_VERSION,
    .name = "herding",
    .flags = SK_CONDENSE_SAMPLES | SK_CONDENSE_NEEDS_PROXY | SK_CONDENSE_USES_KEEP,
    .help = "herding on the proxy's embeddings (Welling 2009): picks whose running mean tracks the class mean",
    .keys = "proxy batch class_balance",
    .select = herding_select_,
};
