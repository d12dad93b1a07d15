/* sk_scorer_random.c - scorer "random": a uniformly random subset (i.i.d.
 * uniform scores; top-k of them is a uniform k-subset). The strong baseline
 * of Wen et al., "Token Pruning in Multimodal LLMs: Are We Solving the
 * Right Problem?" (ACL Findings 2025). Deterministic under the selector
 * seed. */
#include "sk_select_registry.h"

int sk_scorer_random_scores_(const sk_seq *seq, const sk_score_args *a, sk_tensor **scores);
int sk_scorer_random_scores_(const sk_seq *seq, const sk_score_args *a, sk_tensor **scores)
{
    int64_t b = sk_shim_size(seq->x, 0), m = sk_shim_size(seq->x, 1) - seq->n_protected;
    /* drawn on the CPU generator, then moved: same subset on every device */
    *scores = sk_shim_to(sk_shim_rand((int64_t[]){b, m}, 2, SK_F32, SK_CPU, a->gen), sk_shim_device(seq->x), SK_F32);
    return *scores ? SK_OK : sk_error_last_code();
}

static int score_(void *st, const sk_seq *seq, const sk_score_args *a, sk_tensor **scores)
{
    (void)st;
    return sk_scorer_random_scores_(seq, a, scores);
}

const sk_scorer_vtable sk_scorer_random = {
    .version = SK_SCORER_VERSION,
    .name = "random",
    .flags = SK_SCORER_NONNEG | SK_SCORER_BLIND,
    .score = score_,
};
