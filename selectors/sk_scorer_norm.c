/* sk_scorer_norm.c - scorer "norm": the L2 norm of each token's hidden
 * state (select.norm_source=hidden) or of its head-mean key vector from
 * the previous block (norm_source=key, needs keys). High norm = kept.
 * Norm-based token/KV scoring: KNorm (Devoto et al., "A Simple and
 * Effective L2 Norm-Based Strategy for KV Cache Compression", EMNLP 2024);
 * DART (Wen et al., 2025) uses key norms to pick pivot tokens. */
#include <string.h>

#include "sk_select_registry.h"

static const int use_key_ = 1; /* the state is &use_key_ for norm_source=key, NULL for hidden */

static int create_(void **state, const sk_scorer_init *in)
{
    *state = in->cfg->norm_source == SK_NORM_KEY ? (void *)&use_key_ : NULL;
    return SK_OK;
}

static int score_(void *st, const sk_seq *seq, const sk_score_args *a, sk_tensor **scores)
{
    (void)a;
    int64_t p = seq->n_protected, n = sk_shim_size(seq->x, 1);
    const sk_tensor *src = st ? sk_select_keys_mean(seq->keys, p) : sk_shim_slice(seq->x, 1, p, n);
    *scores = sk_shim_norm(src, -1, 0);
    return *scores ? SK_OK : sk_error_last_code();
}

static unsigned needs_for_(const sk_select_config *cfg)
{
    return cfg->norm_source == SK_NORM_KEY ? SK_SELECT_NEEDS_KEYS : 0;
}

const sk_scorer_vtable sk_scorer_norm = {
    .version = SK_SCORER_VERSION,
    .name = "norm",
    .flags = SK_SCORER_NONNEG,
    .create = create_,
    .score = score_,
    .needs_for = needs_for_,
};
