/* sk_condense_loss.c - `loss`: each sample's cross-entropy -log softmax(z)_y under the proxy
 * (the "loss" importance score of the data-pruning literature, e.g.
 * Toneva et al. 2019 and DeepCore's baselines). High = hard, so rule=top
 * keeps the hardest samples. Needs labels.
 *
 * Scoring and the rules are shared (sk_condense_score.h).
 */
#include "sk_condense_score.h"

static int loss_select_(const sk_condense_job *job, sk_condense_out *out) {
    static const sk_condense_logit_kind kind = SK_SCORE_LOSS;
    return sk_condense_score_select(job, out, "loss", sk_condense_logit_batch, (void *)&kind);
}

const sk_condense_method sk_condense_loss = {
    .version = SK_CONDENSE_VERSION,
    .name = "loss",
    .flags = SK_CONDENSE_SAMPLES | SK_CONDENSE_NEEDS_PROXY | SK_CONDENSE_SCORES | SK_CONDENSE_USES_KEEP |
             SK_CONDENSE_NEEDS_LABELS,
    .help = "per-sample cross-entropy -log p_y under the proxy (high = hard)",
    .keys = "class_balance rule ccs_beta strata proxy proxies scores_from batch",
    .check = sk_condense_score_check,
    .select = loss_select_,
};
