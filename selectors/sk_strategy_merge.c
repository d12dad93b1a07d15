/* sk_strategy_merge.c - strategy "merge": the top-k tokens are kept, every
 * other token is merged into the kept token it is most similar to (cosine
 * of the head-mean keys when the model passes keys, else of the hidden
 * states; a scorer may override the assignment: tome, pool). Merging is
 * the weighted average x'_m = sum_t w_t x_t over the tokens t merged into
 * m (the kept one included), w_t = c_t / sum c, where c_t is
 *   select.merge_weight=size (default): the size of t, the number of
 *     original tokens it stands for (ToMe's merge_wavg), or
 *   select.merge_weight=score: size_t * s_t with s_t the token's score, for
 *     scorers whose scores are >= 0 weights (attention, norms): EViT's
 *     attention-weighted fusion (Liang et al., ICLR 2022), normalised.
 * seq.sizes carries the new sizes (sums of sizes) in both modes, so
 * attention can add log(size) ("proportional attention").
 *
 * ToMe (Bolya et al., "Token Merging: Your ViT But Faster", ICLR 2023),
 * merge_wavg with size tracking; generalised to any scorer's kept set.
 *
 * select.merge_into=fused: the k-1 best tokens are kept and all others are
 * fused into one token appended last (so k tokens remain), as EViT's
 * inattentive-token fusion, with the same weights c_t normalised over the
 * fused tokens. The fused token carries the summed size and the position
 * of the first token fused into it. */
#include <math.h>

#include "sk_select_registry.h"

/* A token's score as a merge weight: a tiny floor keeps a group whose
 * scores are all exactly 0 at its size-weighted mean instead of 0/0. */
static sk_tensor *score_weight_(const sk_tensor *s)
{
    return sk_shim_add_scalar(sk_shim_clamp(s, 0.0, INFINITY), 1e-12);
}

/* Per-sample sums of v [B, N] into the slots (flat positions into the
 * [B * r] merged rows, from sk_select_keep_index) -> [B, r]. */
static sk_tensor *slot_sums_(const sk_tensor *slot, const sk_tensor *v, int64_t r)
{
    int64_t b = sk_shim_size(v, 0);
    sk_tensor *flat = sk_shim_reshape(v, (int64_t[]){-1}, 1);
    return sk_shim_reshape(
        sk_shim_index_add(sk_shim_zeros((int64_t[]){b * r}, 1, SK_F32, sk_shim_device(v)), 0, slot, flat),
        (int64_t[]){b, r}, 2);
}

static int default_assign_(const sk_seq *seq, const sk_tensor *kept, const sk_tensor *dropped, sk_tensor **dst)
{
    int64_t p = seq->n_protected;
    sk_tensor *mu =
        seq->keys ? sk_select_l2_normalize(sk_select_keys_mean(seq->keys, p)) : sk_select_unit_metric(seq->x, p);
    *dst = sk_select_nearest_kept(mu, kept, dropped);
    return *dst ? SK_OK : sk_error_last_code();
}

static int fuse_apply_(const sk_strategy_args *a, sk_seq *seq)
{
    int64_t p = seq->n_protected, n = sk_shim_size(seq->x, 1), m = n - p;
    int64_t b = sk_shim_size(seq->x, 0), k = a->k;
    sk_tensor *kept = NULL, *dropped = NULL;
    if (sk_select_split(a->scores, k - 1, &kept, &dropped) < 0) return sk_error_last_code();
    sk_tensor *su = seq->sizes ? sk_shim_slice(seq->sizes, 1, p, n)
                               : sk_shim_ones((int64_t[]){b, m}, 2, SK_F32, sk_shim_device(seq->x));
    sk_tensor *xu = sk_shim_slice(seq->x, 1, p, n);
    sk_tensor *ds = sk_shim_gather(su, 1, dropped);        /* [B, Md] sizes */
    sk_tensor *fs = sk_shim_sum(ds, (int64_t[]){1}, 1, 1); /* [B, 1] */
    sk_tensor *dw = a->score_weights ? sk_shim_mul(ds, score_weight_(sk_shim_gather(a->scores, 1, dropped))) : ds;
    sk_tensor *fw = a->score_weights ? sk_shim_sum(dw, (int64_t[]){1}, 1, 1) : fs;
    sk_tensor *fx = sk_shim_div(
        sk_shim_sum(sk_shim_mul(sk_select_gather_rows(xu, dropped), sk_shim_unsqueeze(dw, -1)), (int64_t[]){1}, 1, 1),
        sk_shim_unsqueeze(fw, -1)); /* [B, 1, D] */
    sk_tensor *xs[3] = {sk_shim_slice(seq->x, 1, 0, p), sk_select_gate(a, kept, 0, sk_select_gather_rows(xu, kept)),
                        fx};
    sk_tensor *ss[3] = {seq->sizes ? sk_shim_slice(seq->sizes, 1, 0, p)
                                   : sk_shim_ones((int64_t[]){b, p}, 2, SK_F32, sk_shim_device(seq->x)),
                        sk_shim_gather(su, 1, kept), fs};
    sk_tensor *x = sk_shim_cat(xs, 3, 1), *sizes = sk_shim_cat(ss, 3, 1), *pos = NULL;
    if (seq->pos) {
        sk_tensor *pu = sk_shim_slice(seq->pos, 1, p, n);
        sk_tensor *ps[3] = {sk_shim_slice(seq->pos, 1, 0, p), sk_shim_gather(pu, 1, kept),
                            sk_shim_gather(pu, 1, sk_shim_slice(dropped, 1, 0, 1))};
        pos = sk_shim_cat(ps, 3, 1);
    }
    if (!x || !sizes || (seq->pos && !pos)) return sk_error_last_code() < 0 ? sk_error_last_code() : SK_ETORCH;
    seq->x = x;
    seq->sizes = sizes;
    seq->pos = pos;
    return SK_OK;
}

static int merge_apply_(const sk_strategy_args *a, sk_seq *seq)
{
    int rc = SK_OK;
    int64_t p = seq->n_protected, n = sk_shim_size(seq->x, 1), m = n - p;
    int64_t b = sk_shim_size(seq->x, 0), d = sk_shim_size(seq->x, 2), k = a->k;
    if (seq->attn_bias) return sk_error_set(SK_EINVAL, "merge cannot run on a padded sequence (attn_bias set)");
    if (k == m) {
        sk_tensor *all = sk_select_topk_sorted(a->scores, k);
        return all ? sk_select_keep_seq(a, seq, all) : sk_error_last_code();
    }
    if (a->fused) return fuse_apply_(a, seq);
    sk_tensor *kept = NULL, *dropped = NULL, *dst = NULL;
    if (sk_select_split(a->scores, k, &kept, &dropped) < 0) return sk_error_last_code();
    int prev = sk_shim_set_grad_enabled(0); /* the assignment is indices only */
    rc = a->scorer->assign ? a->scorer->assign(a->scorer_state, seq, kept, dropped, &dst)
                           : default_assign_(seq, kept, dropped, &dst);
    sk_shim_set_grad_enabled(prev);
    if (rc < 0) goto done;

    /* Every token's slot in the merged sequence: protected tokens keep
     * 0..p-1, kept token j is slot p + j, a dropped token goes to its
     * partner's slot. Then the merge is one index_add of all (size-weighted)
     * rows over the [B * (p + k), D] flattening and one of the sizes over the
     * same flat slots: no per-set gathers, no cat of row blocks (CPU:
     * index_add is ~3x faster than scatter_add with an expanded index). */
    sk_device dev = sk_shim_device(seq->x);
    /* [B, M]: kept token j -> j, dropped -> its partner's j */
    sk_tensor *uslot = sk_shim_scatter(sk_select_kept_slots(kept, m), 1, dropped, dst);
    sk_tensor *slot = sk_select_keep_index(uslot, p, p + k); /* [B * N] into the [B * (p + k)] merged rows */
    /* each token's weight c_t: its size (all 1 until a first merge: no
     * product then), times its score in score mode (protected tokens 1) */
    sk_tensor *c = seq->sizes;
    if (a->score_weights) {
        sk_tensor *parts[2] = {sk_shim_ones((int64_t[]){b, p}, 2, SK_F32, dev), score_weight_(a->scores)};
        sk_tensor *sw = p ? sk_shim_cat(parts, 2, 1) : parts[1];
        c = c ? sk_shim_mul(c, sw) : sw;
    }
    sk_tensor *xw = c ? sk_shim_mul(seq->x, sk_shim_unsqueeze(c, -1)) : seq->x;
    sk_tensor *sumx =
        sk_shim_reshape(sk_shim_index_add(sk_shim_zeros((int64_t[]){b * (p + k), d}, 2, sk_shim_dtype(seq->x), dev), 0,
                                          slot, sk_shim_reshape(xw, (int64_t[]){b * n, d}, 2)),
                        (int64_t[]){b, p + k, d}, 3);
    sk_tensor *sizes =
        slot_sums_(slot, seq->sizes ? seq->sizes : sk_shim_ones((int64_t[]){b, n}, 2, SK_F32, dev), p + k);
    /* the sum of the weights c_t per slot: the sizes in size mode */
    sk_tensor *wsum = a->score_weights ? slot_sums_(slot, c, p + k) : sizes;
    sk_tensor *x = sk_select_gate(a, kept, p, sk_shim_div(sumx, sk_shim_unsqueeze(wsum, -1)));
    sk_tensor *pos = seq->pos ? sk_select_keep_rows(seq->pos, p, kept) : NULL;
    SK_FAIL_IF(!x || !sizes || (seq->pos && !pos), sk_error_last_code() < 0 ? sk_error_last_code() : SK_ETORCH, "%s",
               sk_error_last());
    seq->x = x;
    seq->sizes = sizes;
    seq->pos = pos;
done:
    return rc;
}

const sk_strategy_vtable sk_strategy_merge = {
    .version = SK_STRATEGY_VERSION,
    .name = "merge",
    .apply = merge_apply_,
};
