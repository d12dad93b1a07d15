/* sk_dedup.h - what the deduplication methods (exact-dedup, minhash) share:
 * a streaming pass over a shard's documents and distributed connected
 * components over shared keys.
 *
 * defines: sk_dedup_doc_fn, sk_dedup_each_doc, sk_dedup_tokens_u32,
 *          sk_dedup_components, sk_dedup_finish.
 */
#ifndef SK_DEDUP_H
#define SK_DEDUP_H

#include <stdint.h>

#include "sk_condense.h"

/* Called once per document of the shard, in index order: i is the row's
 * index within the shard, tok its ntok tokens in the corpus element type
 * (borrowed for the call). */
typedef int (*sk_dedup_doc_fn)(void *ctx, int64_t i, const void *tok, int64_t ntok);

/* Read the shard's documents in chunks of about 8M tokens (one longer
 * document is read alone) and call fn on each. Memory: the shard's
 * offsets plus one chunk. Not collective. */
int sk_dedup_each_doc(const sk_condense_job *job, sk_dedup_doc_fn fn, void *ctx);

/* tok (n elements of type t, a token type) as uint32 ids into out[n]. */
void sk_dedup_tokens_u32(const void *tok, sk_elem_type t, int64_t n, uint32_t *out);

/* Rows that share any key are duplicates; clusters are the connected
 * components of that relation. keys[i * nk + k] is row begin + i's k-th
 * key (nk >= 1; keys must already separate what must not match, e.g. a
 * band id mixed into a band's hash). On return clusters[i] is the lowest
 * global index of row begin + i's component.
 *
 * Distributed without gathering: each (key, row) pair goes to the rank
 * key % P (one all-to-all); a rank sees whole buckets, drops the singleton
 * ones and answers each pair with its bucket's lowest row. Then min-label
 * propagation: every rank sends its rows' current labels along the
 * remaining pairs, bucket owners answer with the bucket's minimum label,
 * rows take the minimum, until an allreduce finds no label changed
 * (rounds = the longest chain of buckets + 1). The fixed point is the
 * component's minimum index, so the answer does not depend on P.
 * Collective. */
int sk_dedup_components(const sk_condense_job *job, const uint64_t *keys, int nk, int64_t *clusters);

/* A dedup method's last step: agree on rc (this rank's outcome of computing
 * keys), then sk_dedup_components into out->clusters, keep each cluster's
 * lowest index, set out->has_clusters. Collective. */
int sk_dedup_finish(const sk_condense_job *job, int rc, const uint64_t *keys, int nk, sk_condense_out *out);

#endif /* SK_DEDUP_H */
