/* sk_condense_loss.c - `loss`: each sample's cross-entropy -log softmax(z)_y under the proxy
 * (the "loss" importance score of the data-pruning literature, e.g.
 * Toneva et al. 2019 and DeepCore's baselines). High = hard, so rule=top
 * keeps the hardest samples. Needs labels on image corpora; on a token
 * corpus a document's score is its mean next-token NLL under a GPT proxy
 * (sk_condense_doc_score, the windows `perplexity` uses).
 *
 * Scoring and the rules are shared (sk_condense_score.h).
 */
#include "sk_condense_score.h"

static int loss_select_(const sk_condense_job *job, sk_condense_out *out)
{
    static const sk_condense_logit_kind kind = SK_SCORE_LOSS;
    return sk_condense_score_select(job, out, "loss", sk_condense_logit_batch, (void *)&kind);
}

const sk_condense_method sk_condense_loss = {
    .version = SK_CONDENSE_VERSION,
    .name = "loss",
    .flags =
        SK_CONDENSE_SAMPLES | SK_CONDENSE_TOKENS | SK_CONDENSE_NEEDS_PROXY | SK_CONDENSE_SCORES | SK_CONDENSE_USES_KEEP,
    .help = "per-sample cross-entropy -log p_y under the proxy (high = hard); token corpora: each document's mean "
            "next-token loss under a GPT proxy",
    .keys = "class_balance rule ccs_beta strata proxy proxies scores_from batch",
    .check = sk_condense_label_score_check,
    .select = loss_select_,
};
