/* sk_condense_exact.c - `exact-dedup`: documents with identical tokens
 * form a cluster; the lowest index of each is kept (the usual exact
 * stage of a text pipeline, e.g. CCNet's / datatrove's exact dedup).
 *
 * Each document's key is XXH3-64 of its token bytes seeded with its
 * length, so equal keys mean equal length and, with probability about
 * 1 - n^2 / 2^65, equal content. The content is NOT compared byte by byte:
 * at 10^8 documents a false match has probability under 3e-4.
 * Clusters come from sk_dedup_components (one key per row: every bucket
 * is a whole cluster, so it ends after one propagation round).
 */
#include <stdlib.h>
#include <xxhash.h>

#include "sk_condense_methods.h"
#include "sk_dedup.h"

typedef struct {
    uint64_t *keys;
    size_t es;
} exact_ctx_;

static int exact_doc_(void *ctx, int64_t i, const void *tok, int64_t ntok)
{
    exact_ctx_ *c = ctx;
    c->keys[i] = XXH3_64bits_withSeed(tok, (size_t)ntok * c->es, (XXH64_hash_t)ntok);
    return SK_OK;
}

static int exact_select_(const sk_condense_job *job, sk_condense_out *out)
{
    int rc = SK_OK;
    int64_t n = job->end - job->begin;
    exact_ctx_ c = {malloc((size_t)(n > 0 ? n : 1) * sizeof *c.keys), sk_elem_size(job->info->type)};
    if (!c.keys) rc = sk_error_set(SK_ENOMEM, "exact-dedup: out of memory");
    if (rc == SK_OK) rc = sk_dedup_each_doc(job, exact_doc_, &c);
    rc = sk_dedup_finish(job, rc, c.keys, 1, out);
    free(c.keys);
    return rc;
}

const sk_condense_method sk_condense_exact_dedup = {
    .version = SK_CONDENSE_VERSION,
    .name = "exact-dedup",
    .flags = SK_CONDENSE_TOKENS,
    .help = "exact deduplication: documents with equal tokens (XXH3-64 + length) keep only the lowest index",
    .keys = "",
    .select = exact_select_,
};
