/* sk_condense_el2n.c - `el2n`: the error L2 norm ||softmax(z) - onehot(y)||_2 of Paul, Ganguli
 * and Dziugaite, "Deep Learning on a Data Diet" (NeurIPS 2021; code
 * mansheej/data_diet), averaged over condense.proxy and condense.proxies:
 * the paper's score is the mean over networks trained from independent
 * seeds, early in training. High = hard; the paper keeps the highest
 * (rule=top). Needs labels on image corpora; on a token corpus a
 * document's score is the mean over its next-token targets under a GPT
 * proxy (sk_condense_doc_score).
 *
 * Scoring and the rules are shared (sk_condense_score.h).
 */
#include "sk_condense_score.h"

static int el2n_select_(const sk_condense_job *job, sk_condense_out *out)
{
    static const sk_condense_logit_kind kind = SK_SCORE_EL2N;
    return sk_condense_score_select(job, out, "el2n", sk_condense_logit_batch, (void *)&kind);
}

const sk_condense_method sk_condense_el2n = {
    .version = SK_CONDENSE_VERSION,
    .name = "el2n",
    .flags =
        SK_CONDENSE_SAMPLES | SK_CONDENSE_TOKENS | SK_CONDENSE_NEEDS_PROXY | SK_CONDENSE_SCORES | SK_CONDENSE_USES_KEEP,
    .help = "EL2N ||softmax(z) - onehot(y)||_2 averaged over the proxies (Paul et al. 2021)",
    .keys = "class_balance rule ccs_beta strata proxy proxies scores_from batch",
    .check = sk_condense_label_score_check,
    .select = el2n_select_,
};
