/* sk_condense_margin.c - `margin`: DeepCore's Uncertainty with selection_method="Margin", the
 * gap p_1 - p_2 between the two largest softmax probabilities, stored as
 * 1 - (p_1 - p_2) so that, as for every score here, high = uncertain:
 * rule=top keeps the smallest margins (DeepCore keeps those). No labels
 * needed.
 *
 * On a token corpus: a document's mean over its next-token predictions
 * under a GPT proxy (sk_condense_doc_score). Scoring and the rules are
 * shared (sk_condense_score.h).
 */
#include "sk_condense_score.h"

static int margin_select_(const sk_condense_job *job, sk_condense_out *out)
{
    static const sk_condense_logit_kind kind = SK_SCORE_MARGIN;
    return sk_condense_score_select(job, out, "margin", sk_condense_logit_batch, (void *)&kind);
}

const sk_condense_method sk_condense_margin = {
    .version = SK_CONDENSE_VERSION,
    .name = "margin",
    .flags =
        SK_CONDENSE_SAMPLES | SK_CONDENSE_TOKENS | SK_CONDENSE_NEEDS_PROXY | SK_CONDENSE_SCORES | SK_CONDENSE_USES_KEEP,
    .help = "uncertainty: 1 - (p1 - p2), the top-two softmax margin turned so high = uncertain",
    .keys = "class_balance rule ccs_beta strata proxy proxies scores_from batch",
    .check = sk_condense_score_check,
    .select = margin_select_,
};
