/* sk_condense_entropy.c - `entropy`: the entropy -sum_c p_c log p_c of the proxy's softmax
 * (DeepCore's Uncertainty, selection_method="Entropy"; Coleman et al.
 * 2020, "Selection via Proxy"). High = uncertain; rule=top keeps the most
 * uncertain, as DeepCore does. No labels needed.
 *
 * On a token corpus: a document's mean over its next-token predictions
 * under a GPT proxy (sk_condense_doc_score). Scoring and the rules are
 * shared (sk_condense_score.h).
 */
#include "sk_condense_score.h"

static int entropy_select_(const sk_condense_job *job, sk_condense_out *out)
{
    static const sk_condense_logit_kind kind = SK_SCORE_ENTROPY;
    return sk_condense_score_select(job, out, "entropy", sk_condense_logit_batch, (void *)&kind);
}

const sk_condense_method sk_condense_entropy = {
    .version = SK_CONDENSE_VERSION,
    .name = "entropy",
    .flags =
        SK_CONDENSE_SAMPLES | SK_CONDENSE_TOKENS | SK_CONDENSE_NEEDS_PROXY | SK_CONDENSE_SCORES | SK_CONDENSE_USES_KEEP,
    .help = "uncertainty: entropy -sum p log p of the proxy's softmax (high = uncertain)",
    .keys = "class_balance rule ccs_beta strata proxy proxies scores_from batch",
    .check = sk_condense_score_check,
    .select = entropy_select_,
};
