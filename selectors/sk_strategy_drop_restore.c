/* sk_strategy_drop_restore.c - strategy "drop-restore": the kept tokens run
 * through the middle blocks, the others skip them, and at the restore layer
 * every token is scattered back in place so each position still gets its
 * output (and its loss in a causal LM).
 *
 * With most scorers one subset, chosen at the apply layer, runs through
 * every block of the span. A SK_SCORER_PER_BLOCK scorer (random-ltd) gets
 * a restore and a new apply before every block inside the span, so each
 * block runs on its own subset of the full sequence (sk_select.h).
 *
 * random-LTD (Yao et al., "Random-LTD: Random and Layerwise Token Dropping
 * Brings Efficient Training for Large-scale Transformers", 2022). The
 * out-of-place scatter gives the overwrite gradient semantics random-LTD's
 * Gather/Scatter pair relies on: kept positions take the gradient through
 * the middle blocks, skipped positions the bypass gradient.
 *
 * On a causal LM the kept set is chosen by sk_select_causal_keep (each
 * position decided from the scores up to it) unless the scorer is
 * SK_SCORER_BLIND: the top-k of token-dependent scores ranks a position
 * against later ones, whose scores are functions of its targets, and the
 * model reads the outcome (which positions went through the span). */
#include "sk_select_registry.h"

static int dr_apply_(const sk_strategy_args *a, sk_seq *seq)
{
    sk_select_saved *sv = a->saved;
    /* a causal LM's kept set must not depend on later tokens (sk_select_registry.h) */
    sk_tensor *idx = a->causal_keep ? sk_select_causal_keep(a->scores, a->k) : sk_select_topk_sorted(a->scores, a->k);
    if (!idx) return sk_error_last_code();
    sv->x = seq->x;
    sv->sizes = seq->sizes;
    sv->pos = seq->pos;
    sv->attn_bias = seq->attn_bias;
    sv->idx = idx;
    sv->n_full = sk_shim_size(seq->x, 1);
    int rc = sk_select_keep_seq(a, seq, idx);
    sv->active = rc == SK_OK;
    return rc;
}

static int dr_restore_(sk_select_saved *sv, sk_seq *seq)
{
    int64_t p = seq->n_protected, n = sv->n_full;
    int64_t b = sk_shim_size(seq->x, 0), k = sk_shim_size(sv->idx, 1), d = sk_shim_size(seq->x, 2);
    if (sk_shim_size(seq->x, 1) != p + k)
        return sk_error_set(SK_EINVAL, "drop-restore: seq has %lld tokens at restore, expected %lld",
                            (long long)sk_shim_size(seq->x, 1), (long long)(p + k));
    /* the processed rows (prefix included) over their saved originals: one
     * index_copy on the [B * N, D] flattening (a row scatter with an expanded
     * index is several times slower on CPU) */
    sk_tensor *rows = sk_select_keep_index(sv->idx, p, n);
    sk_tensor *x = sk_shim_reshape(sk_shim_index_copy(sk_shim_reshape(sv->x, (int64_t[]){b * n, d}, 2), 0, rows,
                                                      sk_shim_reshape(seq->x, (int64_t[]){b * (p + k), d}, 2)),
                                   (int64_t[]){b, n, d}, 3);
    if (!x) return sk_error_last_code();
    seq->x = x;
    seq->sizes = sv->sizes;
    seq->pos = sv->pos;
    seq->attn_bias = sv->attn_bias;
    sv->active = 0;
    return SK_OK;
}

const sk_strategy_vtable sk_strategy_drop_restore = {
    .version = SK_STRATEGY_VERSION,
    .name = "drop-restore",
    .flags = SK_STRATEGY_RESTORES | SK_STRATEGY_CAUSAL_OK,
    .apply = dr_apply_,
    .restore = dr_restore_,
};
