/* sk_scorer_random_ltd.c - scorer "random-ltd": random-LTD (Yao et al.,
 * "Random-LTD: Random and Layerwise Token Dropping Brings Efficient Training
 * for Large-scale Transformers", 2022): a uniform random subset (sampling
 * without replacement, sorted back to sequence order) that skips the middle
 * blocks and is restored before the last ones. It is therefore registered
 * for strategy drop-restore only; its length schedule is select.schedule
 * = linear. Unlike DeepSpeed's scheduler the kept count never drops below
 * one token (the rounding issue fixed in DeepSpeed PR #8529). */
#include "sk_select_registry.h"

int sk_scorer_random_scores_(const sk_seq *seq, const sk_score_args *a, sk_tensor **scores);

static int score_(void *st, const sk_seq *seq, const sk_score_args *a, sk_tensor **scores)
{
    (void)st;
    return sk_scorer_random_scores_(seq, a, scores);
}

const sk_scorer_vtable sk_scorer_random_ltd = {SK_SCORER_VERSION, "random-ltd", 0, SK_SCORER_RESTORE_ONLY, NULL,
                                               NULL, score_, NULL, NULL, NULL, NULL, NULL};
