/* sk_condense_kcenter.c - `kcenter`: k-center greedy on proxy embeddings
 * (Sener & Savarese, "Active Learning for Convolutional Neural Networks:
 * A Core-Set Approach", ICLR 2018; DeepCore's kCenterGreedy, Guo et al.
 * 2022). Each pick is the row farthest (Euclidean) from the centres chosen
 * so far, so the kept set covers the embedding space; with labels and
 * condense.class_balance it runs per class with per-class budgets
 * (DeepCore's balance=True).
 *
 * As in DeepCore the first centre is a random row: here the row of the
 * group with the smallest sk_splitmix64(seed ^ index * golden) key (the
 * order `random` uses), so it does not depend on the rank count. Then each
 * round: every rank holds its rows' squared distance to the nearest centre
 * (per-row values from the row and the broadcast centres only, so exact at
 * any rank count), the global maximum (lower index on ties) is the next
 * centre, its owner broadcasts its embedding, and every rank lowers its
 * rows' distances. O(keep * shard * F) work, O(shard * F) memory, one
 * allgather and one broadcast per pick; embeddings are never gathered.
 *
 * /provenance/scores ("pick_order"): each kept row's pick round within its
 * group (0 first), -1 for rows not kept, so the greedy order survives.
 */
#include <float.h>
#include <stdlib.h>

#include "sk_condense_embed.h"
#include "sk_condense_methods.h"
#include "sk_rand.h"

typedef struct {
    const sk_condense_job *job;
    const float *x;
    int64_t F;
    double *mind; /* squared distance of each shard row to its nearest centre */
    double *c;    /* the centre being applied, in double */
} kc_;

static int kc_start_(void *self, int g)
{
    kc_ *k = self;
    (void)g;
    for (int64_t i = 0; i < k->job->end - k->job->begin; i++) k->mind[i] = DBL_MAX;
    return SK_OK;
}

static uint64_t kc_key_(void *self, int64_t i, int g, int64_t round)
{
    kc_ *k = self;
    (void)g;
    if (round == 0) return sk_condense_row_key(k->job->seed, k->job->begin + i);
    return ~sk_condense_dkey(k->mind[i]); /* farthest first */
}

static void kc_pick_(void *self, const float *c, int g, int64_t round)
{
    kc_ *k = self;
    const int64_t *grp = sk_condense_groups(k->job);
    (void)round;
    for (int64_t f = 0; f < k->F; f++) k->c[f] = c[f];
    for (int64_t i = 0; i < k->job->end - k->job->begin; i++) {
        if (grp && grp[i] != g) continue;
        double d = sk_condense_sqdist(k->x + (size_t)i * (size_t)k->F, k->c, k->F);
        if (d < k->mind[i]) k->mind[i] = d;
    }
}

static int kcenter_select_(const sk_condense_job *job, sk_condense_out *out)
{
    int rc = SK_OK;
    int64_t n = job->end - job->begin;
    kc_ k = {.job = job};
    float *x = NULL;
    rc = sk_condense_embed(job->proxy, job->corpus, job->begin, job->end, job->cfg->batch, &x, &k.F);
    if (rc == SK_OK) {
        k.x = x;
        k.mind = malloc((size_t)(n > 0 ? n : 1) * sizeof *k.mind);
        k.c = malloc((size_t)k.F * sizeof *k.c);
        if (!k.mind || !k.c) rc = sk_error_set(SK_ENOMEM, "kcenter: out of memory");
    }
    SK_TRY(sk_mpi_agree(rc));
    sk_condense_greedy G = {.self = &k, .start = kc_start_, .key = kc_key_, .pick = kc_pick_};
    rc = sk_condense_greedy_run(job, x, k.F, &G, out->keep, out->scores);
    out->score_name = "pick_order";
done:
    free(x);
    free(k.mind);
    free(k.c);
    return rc;
}

const sk_condense_method sk_condense_kcenter = {
    .version = SK_CONDENSE_VERSION,
    .name = "kcenter",
    .flags = SK_CONDENSE_SAMPLES | SK_CONDENSE_NEEDS_PROXY | SK_CONDENSE_USES_KEEP,
    .help = "k-center greedy on the proxy's embeddings (Sener & Savarese 2018): cover the feature space",
    .keys = "proxy batch class_balance",
    .select = kcenter_select_,
};
