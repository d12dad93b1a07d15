/* sk_scorer_attn_received.c - scorer "attn-received": the mean attention a
 * token receives from all queries and heads of the previous block, FastV
 * style (Chen et al., "An Image is Worth 1/2 Tokens After Layer 2", ECCV
 * 2024; the column-mean form of LTP, Kim et al., KDD 2022). The attention
 * a token receives comes from the queries after it, so on a causal LM the
 * choice would tell each position about the tokens it is to predict: the
 * selector refuses it there (SK_SCORER_SEES_LATER); FastV applies it at
 * inference, where no loss is taken. */
#include "sk_select_registry.h"

int sk_select_check_attn_(const sk_seq *seq);

static int score_(void *st, const sk_seq *seq, const sk_score_args *a, sk_tensor **scores)
{
    (void)st;
    (void)a;
    int rc = sk_select_check_attn_(seq);
    if (rc < 0) return rc;
    int64_t p = seq->n_protected, n = sk_shim_size(seq->x, 1);
    *scores = sk_shim_slice(sk_shim_mean(seq->attn, (int64_t[]){1, 2}, 2, 0), 1, p, n);
    return *scores ? SK_OK : sk_error_last_code();
}

const sk_scorer_vtable sk_scorer_attn_received = {
    .version = SK_SCORER_VERSION,
    .name = "attn-received",
    .needs = SK_SELECT_NEEDS_ATTN,
    .flags = SK_SCORER_SEES_LATER | SK_SCORER_NONNEG,
    .score = score_,
};
