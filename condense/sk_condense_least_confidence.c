/* sk_condense_least_confidence.c - `least-confidence`: DeepCore's Uncertainty with
 * selection_method="LeastConfidence", 1 - max_c p_c (high = uncertain;
 * rule=top keeps the least confident). No labels needed.
 *
 * On a token corpus: a document's mean over its next-token predictions
 * under a GPT proxy (sk_condense_doc_score). Scoring and the rules are
 * shared (sk_condense_score.h).
 */
#include "sk_condense_score.h"

static int least_confidence_select_(const sk_condense_job *job, sk_condense_out *out)
{
    static const sk_condense_logit_kind kind = SK_SCORE_LEAST_CONF;
    return sk_condense_score_select(job, out, "least_confidence", sk_condense_logit_batch, (void *)&kind);
}

const sk_condense_method sk_condense_least_confidence = {
    .version = SK_CONDENSE_VERSION,
    .name = "least-confidence",
    .flags =
        SK_CONDENSE_SAMPLES | SK_CONDENSE_TOKENS | SK_CONDENSE_NEEDS_PROXY | SK_CONDENSE_SCORES | SK_CONDENSE_USES_KEEP,
    .help = "uncertainty: 1 - max p of the proxy's softmax (high = uncertain)",
    .keys = "class_balance rule ccs_beta strata proxy proxies scores_from batch",
    .check = sk_condense_score_check,
    .select = least_confidence_select_,
};
