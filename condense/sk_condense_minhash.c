/* sk_condense_minhash.c - `minhash`: near-duplicate removal by MinHash LSH
 * (Broder 1997; the setting of datatrove's MinhashDedup and of Lee et al.
 * 2022, "Deduplicating training data makes language models better"):
 * word 5-gram shingles, 14 bands x 8 rows by default, so two documents of
 * word-5-gram Jaccard similarity s share a band with probability
 * 1 - (1 - s^8)^14 (0.5 at s ~ 0.72). Documents sharing any band are
 * duplicates; clusters are the connected components of that relation
 * (sk_dedup_components), each keeping its lowest index. Like datatrove,
 * candidate pairs are not verified against the exact Jaccard similarity.
 * Signatures and banding: condense/sk_minhash.c. */
#include <stdlib.h>

#include "sk_condense_methods.h"
#include "sk_dedup.h"
#include "sk_minhash.h"

typedef struct {
    const sk_condense_job *job;
    sk_minhash *mh;
    uint64_t *keys;
    int64_t bands;
    uint8_t *bytes;
    uint32_t *ids;
    int64_t cap;
} mh_ctx_;

static int minhash_doc_(void *ctx, int64_t i, const void *tok, int64_t ntok)
{
    int rc = SK_OK;
    mh_ctx_ *c = ctx;
    if (ntok > c->cap) {
        free(c->ids);
        c->cap = ntok + ntok / 2;
        c->ids = malloc((size_t)c->cap * sizeof *c->ids);
        c->bytes = (uint8_t *)c->ids; /* bytes never outgrow ids */
        SK_FAIL_IF(!c->ids, SK_ENOMEM, "minhash: out of memory (a document of %lld tokens)", (long long)ntok);
    }
    sk_dedup_tokens_u32(tok, c->job->info->type, ntok, c->ids);
    uint64_t *keys = c->keys + i * c->bands;
    if (c->job->cfg->minhash_unit == SK_CONDENSE_MINHASH_WORD) {
        /* ids above 255 (the end-of-document token 256) separate words */
        for (int64_t t = 0; t < ntok; t++) c->bytes[t] = c->ids[t] < 256 ? (uint8_t)c->ids[t] : ' ';
        rc = sk_minhash_keys_text(c->mh, c->bytes, ntok, keys);
    } else {
        rc = sk_minhash_keys_u32(c->mh, c->ids, ntok, keys);
    }
done:
    return rc;
}

static int minhash_check_(const sk_condense_config *cfg, const sk_corpus_info *in)
{
    int rc = SK_OK;
    SK_FAIL_IF(cfg->minhash_bands * cfg->minhash_rows > 1024, SK_EINVAL,
               "condense.minhash_bands * condense.minhash_rows = %lld permutations; at most 1024",
               (long long)(cfg->minhash_bands * cfg->minhash_rows));
    SK_FAIL_IF(cfg->minhash_unit == SK_CONDENSE_MINHASH_WORD && in->vocab_size > 257, SK_EINVAL,
               "%s: condense.minhash_unit=word needs a byte-level text corpus (vocab 256, or 257 with "
               "the end-of-document token), and its vocab is %lld; use condense.minhash_unit=byte (token n-grams)",
               cfg->input, (long long)in->vocab_size);
done:
    return rc;
}

static int minhash_select_(const sk_condense_job *job, sk_condense_out *out)
{
    int rc = SK_OK;
    const sk_condense_config *cfg = job->cfg;
    int64_t n = job->end - job->begin;
    uint64_t seed = cfg->minhash_seed >= 0 ? (uint64_t)cfg->minhash_seed : job->seed;
    mh_ctx_ c = {.job = job, .bands = cfg->minhash_bands};
    c.keys = malloc((size_t)(n > 0 ? n : 1) * (size_t)c.bands * sizeof *c.keys);
    if (!c.keys) rc = sk_error_set(SK_ENOMEM, "minhash: out of memory");
    if (rc == SK_OK) rc = sk_minhash_create(&c.mh, cfg->minhash_ngram, cfg->minhash_bands, cfg->minhash_rows, seed);
    if (rc == SK_OK) rc = sk_dedup_each_doc(job, minhash_doc_, &c);
    rc = sk_dedup_finish(job, rc, c.keys, (int)c.bands, out);
    sk_minhash_free(c.mh);
    free(c.keys);
    free(c.ids);
    return rc;
}

const sk_condense_method sk_condense_minhash = {
    .version = SK_CONDENSE_VERSION,
    .name = "minhash",
    .flags = SK_CONDENSE_TOKENS,
    .help = "near-duplicate removal by MinHash LSH (word 5-grams, 14 bands x 8 rows): each cluster keeps its "
            "lowest index",
    .keys = "minhash_ngram minhash_unit minhash_bands minhash_rows minhash_seed",
    .check = minhash_check_,
    .select = minhash_select_,
};
