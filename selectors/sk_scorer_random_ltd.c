/* sk_scorer_random_ltd.c - scorer "random-ltd": random-LTD (Yao et al.,
 * "Random-LTD: Random and Layerwise Token Dropping Brings Efficient Training
 * for Large-scale Transformers", 2022): a uniform random subset (sampling
 * without replacement, sorted back to sequence order) that skips the middle
 * blocks and is restored before the last ones. It is therefore registered
 * for strategy drop-restore only; its length schedule is select.schedule
 * = linear. Unlike DeepSpeed's scheduler the kept count never drops below
 * one token (the rounding issue fixed in DeepSpeed PR #8529).
 *
 * As in DeepSpeed (deepspeed/runtime/data_pipeline/data_routing/
 * basic_layer.py RandomLayerTokenDrop, ops/random_ltd/dropping_utils.py
 * gpt_sample_tokens: one multinomial draw per layer and sample, then
 * token_sort_), every block of the span draws its own subset of the full
 * sequence, gathers it, and its output is scattered back while the other
 * tokens pass that block unchanged (SK_SCORER_PER_BLOCK). Deliberate
 * differences: the draws come from the selector's per-(step, layer)
 * generator (uniform scores, top-k), not torch.multinomial, so the subsets
 * are different ones of the same distribution; protected leading tokens
 * (class token) are always in the subset, as in every drop-restore. */
#include "sk_select_registry.h"

int sk_scorer_random_scores_(const sk_seq *seq, const sk_score_args *a, sk_tensor **scores);

static int score_(void *st, const sk_seq *seq, const sk_score_args *a, sk_tensor **scores)
{
    (void)st;
    return sk_scorer_random_scores_(seq, a, scores);
}

const sk_scorer_vtable sk_scorer_random_ltd = {
    .version = SK_SCORER_VERSION,
    .name = "random-ltd",
    .flags = SK_SCORER_RESTORE_ONLY | SK_SCORER_PER_BLOCK | SK_SCORER_BLIND,
    .score = score_,
};
