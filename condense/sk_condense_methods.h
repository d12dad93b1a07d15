/* sk_condense_methods.h - what the method files of condense/ share: their
 * vtables (listed in sk_condense.c's table) and the helpers every method
 * uses for class balance.
 *
 * defines: the sk_condense_<name> entries, sk_condense_row_key, sk_condense_groups,
 *          sk_condense_group_wants, sk_condense_proxy_check, sk_condense_progress,
 *          sk_condense_phase_end, sk_condense_batch_cover.
 */
#ifndef SK_CONDENSE_METHODS_H
#define SK_CONDENSE_METHODS_H

#include "sk_condense.h"
#include "sk_mpi.h"
#include "sk_rand.h"

extern const sk_condense_method sk_condense_random; /* sk_condense_random.c */
/* score methods (sk_condense_score.h) */
extern const sk_condense_method sk_condense_loss;             /* sk_condense_loss.c */
extern const sk_condense_method sk_condense_el2n;             /* sk_condense_el2n.c */
extern const sk_condense_method sk_condense_grand;            /* sk_condense_grand.c */
extern const sk_condense_method sk_condense_entropy;          /* sk_condense_entropy.c */
extern const sk_condense_method sk_condense_margin;           /* sk_condense_margin.c */
extern const sk_condense_method sk_condense_least_confidence; /* sk_condense_least_confidence.c */
extern const sk_condense_method sk_condense_forgetting;       /* sk_condense_forgetting.c */
extern const sk_condense_method sk_condense_perplexity;       /* sk_condense_perplexity.c */
extern const sk_condense_method sk_condense_kcenter;          /* sk_condense_kcenter.c */
extern const sk_condense_method sk_condense_herding;          /* sk_condense_herding.c */
extern const sk_condense_method sk_condense_facility;         /* sk_condense_facility.c */
extern const sk_condense_method sk_condense_exact_dedup;      /* sk_condense_exact.c */
extern const sk_condense_method sk_condense_minhash;          /* sk_condense_minhash.c */
/* distillation (sk_distill.h) */
extern const sk_condense_method sk_condense_dm; /* sk_condense_dm.c */
extern const sk_condense_method sk_condense_dc; /* sk_condense_dc.c */

/* Row i's random key, the order every method draws from: a function of
 * the seed and the row's global index alone, so it does not depend on the
 * number of ranks. */
static inline uint64_t sk_condense_row_key(uint64_t seed, int64_t i)
{
    return sk_splitmix64(seed ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL));
}

/* The group of each shard row for a class-balanced pick: the labels when
 * the corpus has them and condense.class_balance is on, else NULL (one
 * group). */
const int64_t *sk_condense_groups(const sk_condense_job *job);

/* How many rows each group keeps at condense.keep (sk_pick_want of each
 * class's size over all ranks, or of n for one group). *want is malloc'd
 * (the caller frees it), *ngroups its length. Collective. */
int sk_condense_group_wants(const sk_condense_job *job, int64_t **want, int *ngroups);

/* A proxy model rebuilt from `path` fits corpus `in` (the kind of
 * sample, the image shape or vocabulary, the classes); the message names
 * path. The driver checks condense.proxy with it; methods that open more
 * proxies check theirs. */
int sk_condense_proxy_check(const sk_model *m, const char *path, const sk_condense_config *c, const sk_corpus_info *in);

/* The global batches of a proxy pass: [*lo, *hi) is the union of the
 * corpus's batches [k B, (k + 1) B) (clipped to its `total` rows) that
 * overlap the shard [begin, end); empty (*lo = *hi = begin) for an empty
 * shard. A pass over them, keeping the shard's rows, batches every row
 * with the same rows at any world size (sk_condense_embed.h says why). */
void sk_condense_batch_cover(int64_t begin, int64_t end, int64_t B, int64_t total, int64_t *lo, int64_t *hi);

/* Progress of a long pass, so a big condense run is not silent: at most
 * one line every 10 s, and one when done == total (rank 0 only, from its
 * own shard), "condense <method>: <what>: rank 0 at done/total <unit>
 * (P%)". *last holds the time of the last line (start it at sk_now()).
 * Not collective. */
void sk_condense_progress(const sk_condense_job *job, const char *what, const char *unit, int64_t done, int64_t total,
                          double *last);

/* The end of a pass: agrees rc over the ranks, then (when all succeeded)
 * sums each rank's rows and logs on rank 0 "condense <method>: <what>:
 * rows/job->n rows in T s" (T from t0, an sk_now()). Returns the agreed
 * rc. Collective: every rank calls it at the same point, failed or not. */
int sk_condense_phase_end(const sk_condense_job *job, int rc, const char *what, int64_t rows, double t0);

#endif /* SK_CONDENSE_METHODS_H */
