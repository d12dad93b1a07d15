/* sk_condense_embed.h - what the geometric condensation methods (kcenter,
 * herding) share: the proxy's penultimate features of a shard's rows, and
 * a global "best (key, index)" over ranks.
 *
 * defines: sk_condense_embed, sk_condense_best, sk_condense_owner,
 *          sk_condense_greedy / sk_condense_greedy_run, sk_condense_sqdist,
 *          sk_condense_dkey.
 */
#ifndef SK_CONDENSE_EMBED_H
#define SK_CONDENSE_EMBED_H

#include <stdint.h>

#include "sk_corpus.h"
#include "sk_condense.h"
#include "sk_model.h"

/* The features sk_model_embed gives for samples [begin, end) of corpus c,
 * grad off, each batch's tensors in a scope released at once. *feat is
 * malloc'd [(end - begin) * *dim] floats, row major (the caller frees it);
 * *dim is the model's feature count. Memory: the result plus one batch.
 * Not collective.
 * Batches are the corpus's global [k batch, (k + 1) batch), those that
 * overlap the shard embedded whole, so a row's features come from the same
 * batch at any world size and the methods keep the same rows at 1, 2 and 3
 * ranks bit for bit (test_geometric): a row's float result can depend on
 * the batch it is in (its size picks the GEMM kernel; on some CPUs scores
 * differed by 1 ulp between shard-cut batches). A rank reads at most
 * 2 (batch - 1) rows beyond its shard. */
int sk_condense_embed(sk_model *proxy, sk_corpus *c, int64_t begin, int64_t end, int64_t batch, float **feat,
                      int64_t *dim);

/* Over all ranks, the candidate with the smallest key, the lower global
 * index on equal keys; a rank without a candidate passes idx < 0. Sets
 * *best_idx (-1 when no rank had one) and *best_key. One allgather of two
 * int64 per rank. Collective. */
int sk_condense_best(uint64_t key, int64_t idx, int64_t *best_idx, uint64_t *best_key);

/* The rank whose contiguous shard of n rows (over world ranks) holds row i. */
int sk_condense_owner(int64_t n, int world, int64_t i);

/* A greedy selection over embeddings, one pick per round, without
 * gathering them: each round every rank offers its best candidate (the
 * smallest key among its unpicked rows of the group), sk_condense_best
 * chooses, the owner marks the row kept and broadcasts its embedding, and
 * every rank updates its state with it. Keys are functions of the row's
 * own embedding and of the broadcast picks only, so the picks are the same
 * for any rank count. */
typedef struct {
    void *self;
    /* a new group begins (its rows: group[i] == g, or every row) */
    int (*start)(void *self, int g);
    /* the key of unpicked shard row i (lower is better) in round `round` of group g */
    uint64_t (*key)(void *self, int64_t i, int g, int64_t round);
    /* the chosen embedding (F floats, the same on every rank) */
    void (*pick)(void *self, const float *x, int g, int64_t round);
} sk_condense_greedy;

/* Run G over every group of the job (sk_condense_groups) with the budgets
 * of sk_condense_group_wants; x is the shard's [n_shard, F] embedding.
 * Marks picked rows in keep; order (NULL: not wanted) gets each picked
 * row's round within its group (0 first) and -1 elsewhere. Collective. */
int sk_condense_greedy_run(const sk_condense_job *job, const float *x, int64_t F, const sk_condense_greedy *G,
                           uint8_t *keep, float *order);

/* Squared Euclidean distance of two F-vectors, summed in double in index
 * order (a fixed order, so the value depends on the two rows alone). */
double sk_condense_sqdist(const float *a, const double *b, int64_t F);

/* An order-preserving key of a non-negative double (its bits). */
uint64_t sk_condense_dkey(double d);

#endif /* SK_CONDENSE_EMBED_H */
