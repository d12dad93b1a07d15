/* sk_block.c - pre-LN transformer block and block stack (see sk_block.h). */
#include "sk_block.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int sk_block_init(sk_block *b, sk_params *p, const char *prefix, int64_t width, int64_t hidden, int depth,
                  sk_generator *g)
{
    int rc = SK_OK;
    char nm[256];
    const double std = 0.02, pstd = 0.02 / sqrt(2.0 * (depth > 0 ? depth : 1));
    int64_t d1[1] = {width}, qkv[2] = {3 * width, width}, proj[2] = {width, width};
    int64_t fc1[2] = {hidden, width}, fc2[2] = {width, hidden}, h1[1] = {hidden}, q1[1] = {3 * width};
#define ADD_(field, name, tensor, decay)                 \
    do {                                                 \
        snprintf(nm, sizeof nm, "%s.%s", prefix, name);  \
        SK_TRY(sk_params_add(p, nm, (tensor), (decay))); \
        b->field = p->t[p->n - 1];                       \
    } while (0)
    ADD_(ln1_w, "ln1.weight", sk_params_const(d1, 1, 1.0), 0);
    ADD_(ln1_b, "ln1.bias", sk_params_const(d1, 1, 0.0), 0);
    ADD_(qkv_w, "attn.qkv.weight", sk_params_normal(qkv, 2, std, g), 1);
    ADD_(qkv_b, "attn.qkv.bias", sk_params_const(q1, 1, 0.0), 0);
    ADD_(proj_w, "attn.proj.weight", sk_params_normal(proj, 2, pstd, g), 1);
    ADD_(proj_b, "attn.proj.bias", sk_params_const(d1, 1, 0.0), 0);
    ADD_(ln2_w, "ln2.weight", sk_params_const(d1, 1, 1.0), 0);
    ADD_(ln2_b, "ln2.bias", sk_params_const(d1, 1, 0.0), 0);
    ADD_(fc1_w, "mlp.fc1.weight", sk_params_normal(fc1, 2, std, g), 1);
    ADD_(fc1_b, "mlp.fc1.bias", sk_params_const(h1, 1, 0.0), 0);
    ADD_(fc2_w, "mlp.fc2.weight", sk_params_normal(fc2, 2, pstd, g), 1);
    ADD_(fc2_b, "mlp.fc2.bias", sk_params_const(d1, 1, 0.0), 0);
#undef ADD_
done:
    return rc;
}

int sk_blocks_create(sk_block **out, sk_params *p, int depth, int64_t width, int64_t hidden, sk_generator *g)
{
    int rc = SK_OK;
    sk_block *b = calloc((size_t)depth, sizeof *b);
    SK_FAIL_IF(!b, SK_ENOMEM, "model: out of memory");
    for (int l = 0; l < depth; l++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "blocks.%d", l);
        SK_TRY(sk_block_init(&b[l], p, prefix, width, hidden, depth, g));
    }
    *out = b;
    b = NULL;
done:
    free(b);
    return rc;
}

int sk_block_norm_init(sk_params *p, const char *prefix, int64_t width, sk_tensor **w, sk_tensor **b)
{
    int rc = SK_OK;
    char name[96];
    int64_t d1[1] = {width};
    snprintf(name, sizeof name, "%s.weight", prefix);
    SK_TRY(sk_params_add(p, name, sk_params_const(d1, 1, 1.0), 0));
    *w = p->t[p->n - 1];
    snprintf(name, sizeof name, "%s.bias", prefix);
    SK_TRY(sk_params_add(p, name, sk_params_const(d1, 1, 0.0), 0));
    *b = p->t[p->n - 1];
done:
    return rc;
}

sk_tensor *sk_block_forward(const sk_block *b, const sk_tensor *x, const sk_tensor *sizes, const sk_tensor *pad,
                            int heads, int causal, sk_tensor **attn, sk_tensor **keys)
{
    int64_t B = sk_shim_size(x, 0), N = sk_shim_size(x, 1), D = sk_shim_size(x, 2);
    if (B < 0 || N < 0 || D < 0 || heads <= 0 || D % heads) {
        sk_error_set(SK_EINVAL, "block: bad input shape or %d heads", heads);
        return NULL;
    }
    int64_t Dh = D / heads;
    int64_t s5[5] = {B, N, 3, heads, Dh}, perm[5] = {2, 0, 3, 1, 4}, s3[3] = {B, N, D};
    sk_tensor *h = sk_shim_layer_norm(x, b->ln1_w, b->ln1_b, 1e-5);
    sk_tensor *qkv = sk_shim_permute(sk_shim_reshape(sk_shim_linear(h, b->qkv_w, b->qkv_b), s5, 5), perm, 5);
    sk_tensor *q = sk_shim_squeeze(sk_shim_slice(qkv, 0, 0, 1), 0);
    sk_tensor *k = sk_shim_squeeze(sk_shim_slice(qkv, 0, 1, 2), 0);
    sk_tensor *v = sk_shim_squeeze(sk_shim_slice(qkv, 0, 2, 3), 0);
    /* Additive attention bias over keys: the key-padding mask of a per-sample
     * threshold (0 / -inf) plus log(sizes), ToMe's proportional attention
     * (Bolya et al. 2023), so a merged token weighs as the tokens it holds. */
    sk_tensor *bias = (sk_tensor *)pad;
    if (sizes) {
        int64_t sb[4] = {B, 1, 1, N};
        sk_tensor *ls = sk_shim_reshape(sk_shim_log(sizes), sb, 4);
        if (!ls) return NULL;
        bias = bias ? sk_shim_add(bias, ls) : ls;
        if (!bias) return NULL;
    }
    sk_tensor *a;
    if (attn)
        a = sk_shim_attention_probs(q, k, v, bias, causal, attn);
    else
        a = sk_shim_sdpa(q, k, v, bias, causal);
    if (keys) *keys = k;
    a = sk_shim_reshape(sk_shim_transpose(a, 1, 2), s3, 3);
    sk_tensor *x1 = sk_shim_add(x, sk_shim_linear(a, b->proj_w, b->proj_b));
    sk_tensor *m = sk_shim_layer_norm(x1, b->ln2_w, b->ln2_b, 1e-5);
    m = sk_shim_linear(sk_shim_gelu(sk_shim_linear(m, b->fc1_w, b->fc1_b)), b->fc2_w, b->fc2_b);
    return sk_shim_add(x1, m);
}

int sk_blocks_run(const sk_block *blocks, int depth, int heads, sk_selector *sel, int64_t step, sk_seq *seq,
                  sk_blocks_stats *st)
{
    int rc = SK_OK;
    sk_blocks_stats s = {0, 0, depth};
    s.tokens_in = sk_shim_size(seq->x, 0) * sk_shim_size(seq->x, 1);
    for (int l = 0; l <= depth; l++) {
        int w = sk_selector_wants(sel, l);
        if (w & SK_SELECT_RESTORE) SK_TRY(sk_selector_restore(sel, l, seq));
        if (l == depth) break;
        if (w & SK_SELECT_APPLY) SK_TRY(sk_selector_apply(sel, l, step, seq));
        seq->attn = NULL;
        seq->keys = NULL;
        int next = sk_selector_wants(sel, l + 1);
        sk_tensor *attn = NULL, *keys = NULL;
        s.tokens_blocks += sk_shim_size(seq->x, 0) * sk_shim_size(seq->x, 1);
        sk_tensor *x = sk_block_forward(&blocks[l], seq->x, seq->sizes, seq->attn_bias, heads, seq->causal,
                                        (next & SK_SELECT_NEEDS_ATTN) ? &attn : NULL,
                                        (next & SK_SELECT_NEEDS_KEYS) ? &keys : NULL);
        if (!x) {
            rc = sk_error_last_code() ? sk_error_last_code() : SK_ETORCH;
            sk_error_prefix("block %d: ", l);
            goto done;
        }
        seq->x = x;
        seq->attn = attn;
        seq->keys = keys;
    }
done:
    if (st) *st = s;
    return rc;
}

int sk_blocks_check_config(const sk_model_config *m)
{
    if (m->heads <= 0 || m->width % m->heads)
        return sk_error_set(SK_EINVAL, "model.heads = %lld: must be > 0 and divide model.width = %lld",
                            (long long)m->heads, (long long)m->width);
    if (m->mlp_ratio <= 0)
        return sk_error_set(SK_EINVAL, "model.mlp_ratio = %lld: must be > 0", (long long)m->mlp_ratio);
    return SK_OK;
}
