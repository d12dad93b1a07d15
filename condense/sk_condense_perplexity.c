/* sk_condense_perplexity.c - `perplexity`: perplexity filtering of a
 * token corpus under a causal LM proxy trained by shrink (CCNet: Wenzek
 * et al., "CCNet: Extracting High Quality Monolingual Datasets from Web
 * Crawl Data", LREC 2020; facebookresearch/cc_net scores each document
 * with a KenLM model and buckets documents into head / middle / tail by
 * perplexity quantiles). Here the LM is a GPT that `shrink train` wrote
 * (condense.proxy, and condense.proxies averaged in NLL), and a document's
 * perplexity is exp(its mean next-token NLL), the windows of
 * sk_condense_lm.c: stride-C windows of C + 1 tokens, each target scored
 * once with the document's preceding tokens since its window's start.
 *
 * What is kept (condense.ppl_band): none: condense.keep by condense.rule,
 * rule=bottom being the lowest perplexity (CCNet's head), top the highest;
 * quantile: the documents whose rank in ascending perplexity (ties to the
 * lower index) is in [round(ppl_low n), round(ppl_high n)); absolute: the
 * documents with ppl_low <= perplexity <= ppl_high. Ranks come from the
 * exact distributed top-k (sk_pick), so the set does not depend on the
 * rank count.
 *
 * /provenance/scores ("perplexity"): every document's perplexity.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sk_condense_score.h"
#include "sk_pick.h"

/* The rows ranked [lo, hi) in ascending score over all ranks. Collective. */
static int quantile_band_(const sk_condense_job *job, const float *s, uint8_t *keep)
{
    int rc = SK_OK;
    int64_t n = job->end - job->begin, N = job->n;
    int64_t lo = (int64_t)floor(job->cfg->ppl_low * (double)N + 0.5),
            hi = (int64_t)floor(job->cfg->ppl_high * (double)N + 0.5);
    uint64_t *keys = malloc((size_t)(n > 0 ? n : 1) * sizeof *keys);
    uint8_t *below = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!keys || !below) rc = sk_error_set(SK_ENOMEM, "perplexity: out of memory");
    SK_TRY(sk_mpi_agree(rc));
    for (int64_t i = 0; i < n; i++) keys[i] = sk_pick_key_asc(s[i]);
    SK_TRY(sk_pick_smallest(keys, NULL, 1, NULL, n, &hi, keep));
    SK_TRY(sk_pick_smallest(keys, NULL, 1, NULL, n, &lo, below));
    for (int64_t i = 0; i < n; i++) keep[i] = keep[i] && !below[i];
done:
    free(keys);
    free(below);
    return rc;
}

static int ppl_select_(const sk_condense_job *job, sk_condense_out *out)
{
    int rc = SK_OK;
    int64_t n = job->end - job->begin;
    const sk_condense_config *c = job->cfg;
    SK_TRY(sk_condense_score_fill(job, out, "perplexity", NULL, NULL));
    if (!job->given_scores)
        for (int64_t i = 0; i < n; i++) out->scores[i] = (float)exp((double)out->scores[i]);
    for (int64_t i = 0; rc == SK_OK && i < n; i++)
        if (!isfinite(out->scores[i]))
            rc = sk_error_set(SK_EINVAL, "condense.proxy %s: document %lld has perplexity %g (not finite)", c->proxy,
                              (long long)(job->begin + i), (double)out->scores[i]);
    SK_TRY(sk_mpi_agree(rc));
    if (c->ppl_band == SK_CONDENSE_PPL_QUANTILE) {
        rc = quantile_band_(job, out->scores, out->keep);
    } else if (c->ppl_band == SK_CONDENSE_PPL_ABSOLUTE) {
        for (int64_t i = 0; i < n; i++) out->keep[i] = out->scores[i] >= c->ppl_low && out->scores[i] <= c->ppl_high;
    } else {
        rc = sk_condense_apply_rule(job, out->scores, out->keep);
    }
done:
    return rc;
}

static int ppl_check_(const sk_condense_config *c, const sk_corpus_info *in)
{
    int rc = SK_OK;
    SK_FAIL_IF(c->ppl_band == SK_CONDENSE_PPL_QUANTILE && !(c->ppl_low < c->ppl_high && c->ppl_high <= 1), SK_EINVAL,
               "condense.ppl_low=%g / condense.ppl_high=%g: ppl_band=quantile needs 0 <= ppl_low < ppl_high <= 1",
               c->ppl_low, c->ppl_high);
    SK_FAIL_IF(c->ppl_band == SK_CONDENSE_PPL_ABSOLUTE && !(c->ppl_low < c->ppl_high), SK_EINVAL,
               "condense.ppl_low=%g / condense.ppl_high=%g: ppl_band=absolute needs ppl_low < ppl_high", c->ppl_low,
               c->ppl_high);
    SK_TRY(sk_condense_score_check(c, in));
done:
    return rc;
}

const sk_condense_method sk_condense_perplexity = {
    .version = SK_CONDENSE_VERSION,
    .name = "perplexity",
    .flags = SK_CONDENSE_TOKENS | SK_CONDENSE_NEEDS_PROXY | SK_CONDENSE_SCORES | SK_CONDENSE_USES_KEEP,
    .help = "perplexity filtering under a GPT proxy (CCNet): keep a perplexity band (quantiles or values) or "
            "condense.keep of the documents by condense.rule (bottom = the most fluent)",
    .keys = "proxy proxies ppl_band ppl_low ppl_high rule strata ccs_beta scores_from batch",
    .check = ppl_check_,
    .select = ppl_select_,
};
