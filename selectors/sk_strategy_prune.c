/* sk_strategy_prune.c - strategies "prune" (keep the top-k scores per
 * sample) and "prune-threshold" (keep scores >= tau; lengths vary per
 * sample, so the batch is padded to the longest and padding is masked by
 * seq.attn_bias = -inf).
 *
 * Top-k with kept tokens returned to sequence order as in EViT (Liang et
 * al., ICLR 2022) without fusion and FastV (Chen et al., ECCV 2024);
 * thresholding as in LTP (Kim et al., KDD 2022, hard stage). */
#include <math.h>

#include "sk_select_registry.h"

static int prune_apply_(const sk_strategy_args *a, sk_seq *seq)
{
    sk_tensor *idx = sk_select_topk_sorted(a->scores, a->k);
    if (!idx) return sk_error_last_code();
    return sk_select_keep_seq(a, seq, idx);
}

static int threshold_apply_(const sk_strategy_args *a, sk_seq *seq)
{
    int rc = SK_OK;
    int64_t p = seq->n_protected, n = sk_shim_size(seq->x, 1), m = n - p, b = sk_shim_size(seq->x, 0);
    sk_tensor *s = a->scores;
    if (seq->attn_bias) /* padding from an earlier threshold layer can never be kept */
        s = sk_shim_add(s, sk_shim_slice(sk_shim_reshape(seq->attn_bias, (int64_t[]){b, n}, 2), 1, p, n));
    sk_tensor *rowmax = NULL;
    if (!s || sk_shim_max(s, 1, 1, &rowmax, NULL) < 0) return sk_error_last_code();
    /* s >= tau, and every sample keeps at least its best token so no row is all padding */
    sk_tensor *mask = sk_shim_where(sk_shim_eq(s, rowmax), sk_shim_eq(s, rowmax), sk_shim_ge_scalar(s, a->tau));
    sk_tensor *cnt = NULL;
    sk_tensor *count = sk_shim_sum(sk_shim_to(mask, sk_shim_device(s), SK_F32), (int64_t[]){1}, 1, 0);
    double kmax = 0;
    if (!count || sk_shim_max(count, 0, 0, &cnt, NULL) < 0 || sk_shim_item(cnt, &kmax) < 0) return sk_error_last_code();
    int64_t k = (int64_t)kmax;
    if (k < 1) k = 1;
    /* kept tokens sort first (in sequence order), padding after them */
    sk_tensor *ar = sk_shim_to(sk_shim_arange(m, sk_shim_device(s)), sk_shim_device(s), SK_F32);
    sk_tensor *key = sk_shim_where(mask, ar, sk_shim_add_scalar(ar, (double)m));
    sk_tensor *idx = NULL;
    if (!key || sk_shim_topk(key, k, 1, 0, 1, NULL, &idx) < 0) return sk_error_last_code();
    sk_tensor *valid = sk_shim_gather(mask, 1, idx);
    sk_tensor *bu = sk_shim_masked_fill(sk_shim_zeros((int64_t[]){b, k}, 2, SK_F32, sk_shim_device(s)),
                                        sk_shim_logical_not(valid), -INFINITY);
    if (!bu) return sk_error_last_code();
    seq->attn_bias = NULL; /* rebuilt below from the new mask */
    SK_TRY(sk_select_keep_seq(a, seq, idx));
    sk_tensor *bias = bu;
    if (p > 0) {
        sk_tensor *parts[2] = {sk_shim_zeros((int64_t[]){b, p}, 2, SK_F32, sk_shim_device(s)), bu};
        bias = sk_shim_cat(parts, 2, 1);
    }
    seq->attn_bias = sk_shim_reshape(bias, (int64_t[]){b, 1, 1, p + k}, 4);
    if (!seq->attn_bias) return sk_error_last_code();
done:
    return rc;
}

const sk_strategy_vtable sk_strategy_prune = {
    .version = SK_STRATEGY_VERSION,
    .name = "prune",
    .apply = prune_apply_,
};
const sk_strategy_vtable sk_strategy_prune_threshold = {
    .version = SK_STRATEGY_VERSION,
    .name = "prune-threshold",
    .flags = SK_STRATEGY_THRESHOLD,
    .apply = threshold_apply_,
};
