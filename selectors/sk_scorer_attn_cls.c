/* sk_scorer_attn_cls.c - scorer "attn-cls": the attention the class token
 * pays each token in the previous block, averaged over heads. EViT (Liang
 * et al., "Not All Patches Are What You Need", ICLR 2022). Needs a class
 * token and the previous block's attention probabilities (so not layer 0,
 * and the model must run that block's attention in explicit form). */
#include "sk_select_registry.h"

int sk_select_check_attn_(const sk_seq *seq);
int sk_select_check_attn_(const sk_seq *seq)
{
    int64_t n = sk_shim_size(seq->x, 1);
    if (!seq->attn || sk_shim_ndim(seq->attn) != 4 || sk_shim_size(seq->attn, 2) != n ||
        sk_shim_size(seq->attn, 3) != n)
        return sk_error_set(SK_EINVAL, "seq.attn must be [B, H, %lld, %lld] attention probabilities", (long long)n,
                            (long long)n);
    return SK_OK;
}

static int score_(void *st, const sk_seq *seq, const sk_score_args *a, sk_tensor **scores)
{
    (void)st;
    (void)a;
    int rc = sk_select_check_attn_(seq);
    if (rc < 0) return rc;
    int64_t p = seq->n_protected, n = sk_shim_size(seq->x, 1), one = 1;
    sk_tensor *row = sk_shim_slice(seq->attn, 2, 0, 1); /* [B, H, 1, N]: queries of the class token */
    *scores = sk_shim_slice(sk_shim_squeeze(sk_shim_mean(row, &one, 1, 0), 1), 1, p, n);
    return *scores ? SK_OK : sk_error_last_code();
}

const sk_scorer_vtable sk_scorer_attn_cls = {
    .version = SK_SCORER_VERSION,
    .name = "attn-cls",
    .needs = SK_SELECT_NEEDS_ATTN,
    .flags = SK_SCORER_NEEDS_CLS | SK_SCORER_NONNEG,
    .score = score_,
};
