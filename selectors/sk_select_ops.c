/* sk_select_ops.c - batched index helpers shared by scorers and strategies
 * (declared in sk_select_registry.h). All are shim tensor ops: no per-sample
 * loops over tokens. */
#include <stdlib.h>

#include "sk_select_registry.h"

sk_tensor *sk_select_gather_rows(const sk_tensor *x, const sk_tensor *idx)
{
    if (!x || !idx) return NULL;
    if (sk_shim_ndim(x) < 2) {
        sk_error_set(SK_EINVAL, "select: gather_rows needs a [B, N, ...] tensor");
        return NULL;
    }
    if (sk_shim_ndim(x) == 2) return sk_shim_gather(x, 1, idx);
    return sk_select_take_rows(x, sk_select_keep_index(idx, 0, sk_shim_size(x, 1)));
}

sk_tensor *sk_select_keep_index(const sk_tensor *idx, int64_t p, int64_t n)
{
    if (!idx) return NULL;
    int64_t b = sk_shim_size(idx, 0);
    sk_device dev = sk_shim_device(idx);
    /* The prefix rows b*n + 0..p-1 and the offsets b*n + p are made on the
     * host: exact int64 (a double scalar would promote to float), and a few
     * ops instead of arange/expand/add/cat chains (after a block has evicted
     * libtorch's code from cache, each op costs ~10 us however small). */
    size_t cnt = (size_t)b * (size_t)(p + 1);
    int64_t stack[512], *o = cnt <= 512 ? stack : malloc(sizeof(int64_t) * cnt);
    if (!o) {
        sk_error_set(SK_ENOMEM, "select: out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < b; i++) {
        o[i] = i * n + p;
        for (int64_t j = 0; j < p; j++) o[b + i * p + j] = i * n + j;
    }
    sk_tensor *off = sk_shim_to(sk_shim_from_host(o, (int64_t[]){b, 1}, 2, SK_I64, SK_CPU), dev, SK_I64);
    sk_tensor *pre = p ? sk_shim_to(sk_shim_from_host(o + b, (int64_t[]){b, p}, 2, SK_I64, SK_CPU), dev, SK_I64) : NULL;
    if (o != stack) free(o);
    sk_tensor *rest = sk_shim_add(idx, off);
    if (p) {
        sk_tensor *parts[2] = {pre, rest};
        rest = pre && rest ? sk_shim_cat(parts, 2, 1) : NULL;
    }
    return sk_shim_reshape(rest, (int64_t[]){-1}, 1);
}

sk_tensor *sk_select_take_rows(const sk_tensor *t, const sk_tensor *flat)
{
    int64_t shape[SK_SHIM_MAX_DIMS];
    if (!t || !flat) return NULL;
    int nd = sk_shim_shape(t, shape);
    int64_t b = shape[0];
    /* index_select on the [B*N, ...] flattening: ~5x faster on CPU than
     * gather with an index expanded over the row (libtorch 1.13), and its
     * backward is an index_add, not a scatter */
    shape[1] *= b;
    sk_tensor *rows = sk_shim_index_select(sk_shim_reshape(t, shape + 1, nd - 1), 0, flat);
    shape[0] = b;
    shape[1] = sk_shim_size(flat, 0) / b;
    return sk_shim_reshape(rows, shape, nd);
}

sk_tensor *sk_select_kept_slots(const sk_tensor *kept, int64_t m)
{
    if (!kept) return NULL;
    int64_t b = sk_shim_size(kept, 0), k = sk_shim_size(kept, 1);
    sk_device dev = sk_shim_device(kept);
    return sk_shim_scatter(sk_shim_zeros((int64_t[]){b, m}, 2, SK_I64, dev), 1, kept,
                           sk_shim_expand(sk_shim_unsqueeze(sk_shim_arange(k, dev), 0), (int64_t[]){b, k}, 2));
}

sk_tensor *sk_select_topk_sorted(const sk_tensor *s, int64_t k)
{
    sk_tensor *idx = NULL, *sorted = NULL;
    if (!s) return NULL;
    if (sk_shim_topk(s, k, 1, 1, 0, NULL, &idx) < 0) return NULL;
    if (sk_shim_sort(idx, 1, 0, &sorted, NULL) < 0) return NULL;
    return sorted;
}

/* Causal keep rule (the top-k's causal counterpart for a causal LM, see
 * sk_select_registry.h). Position t is decided from s_0..s_t and the count
 * already kept, nothing later: with need = k - kept and left = M - t, it is
 * kept when need >= left (the budget must be met), dropped when need = 0,
 * and otherwise kept when its mid-rank in the prefix it closes is in the
 * top need / left: above + 1/2 < (t + 1) need / left, above = how many of
 * s_0..s_{t-1} are strictly higher. For i.i.d. scores above is uniform on
 * 0..t, so t is kept with probability need / left rounded to the prefix's
 * grid (the +1/2 rounds to nearest: without it t = 0 would always be
 * kept). A top-k decides t by its rank among all M scores,
 * later ones included: in a causal LM that lets the surprisal of t's own
 * target decide what t computes. Mixture-of-Depths (Raposo et al. 2024,
 * sec. 3.5) names the same non-causality of top-k routing. The count of
 * higher earlier scores comes from a Fenwick tree over the row's value
 * ranks: O(M log M) per row, on the host. */
typedef struct {
    float v;
    int64_t i;
} vi_;

static int by_value_desc_(const void *a, const void *b)
{
    const vi_ *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

sk_tensor *sk_select_causal_keep(const sk_tensor *s, int64_t k)
{
    if (!s) return NULL;
    if (sk_shim_ndim(s) != 2) {
        sk_error_set(SK_EINVAL, "select: causal keep needs [B, M] scores");
        return NULL;
    }
    int64_t b = sk_shim_size(s, 0), m = sk_shim_size(s, 1);
    if (k < 1 || k > m) {
        sk_error_set(SK_EINVAL, "select: causal keep of %lld of %lld tokens", (long long)k, (long long)m);
        return NULL;
    }
    sk_tensor *out = NULL;
    float *v = malloc(sizeof(float) * (size_t)(b * m));
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)(b * k)), *rank = malloc(sizeof(int64_t) * (size_t)m),
            *tree = malloc(sizeof(int64_t) * (size_t)(m + 1));
    vi_ *order = malloc(sizeof(vi_) * (size_t)m);
    if (!v || !idx || !rank || !tree || !order) {
        sk_error_set(SK_ENOMEM, "select: out of memory");
        goto done;
    }
    if (sk_shim_to_host(sk_shim_contiguous(sk_shim_to(s, SK_CPU, SK_F32)), v, sizeof(float) * (size_t)(b * m)) < 0)
        goto done;
    for (int64_t r = 0; r < b; r++) {
        const float *row = v + r * m;
        /* rank 1 = the highest value; equal values share a rank, so "strictly above" is the ranks below */
        for (int64_t t = 0; t < m; t++) order[t] = (vi_){row[t], t};
        qsort(order, (size_t)m, sizeof *order, by_value_desc_);
        for (int64_t q = 0, rk = 0; q < m; q++) {
            if (q == 0 || order[q].v != order[q - 1].v) rk++;
            rank[order[q].i] = rk;
        }
        for (int64_t q = 0; q <= m; q++) tree[q] = 0;
        int64_t kept = 0;
        for (int64_t t = 0; t < m; t++) {
            int64_t need = k - kept, left = m - t, above = 0;
            int keep;
            if (need <= 0) {
                keep = 0;
            } else if (need >= left) {
                keep = 1;
            } else {
                for (int64_t q = rank[t] - 1; q > 0; q -= q & -q) above += tree[q];
                keep = (2 * above + 1) * left < 2 * need * (t + 1);
            }
            for (int64_t q = rank[t]; q <= m; q += q & -q) tree[q]++;
            if (keep) idx[r * k + kept++] = t;
        }
    }
    out = sk_shim_to(sk_shim_from_host(idx, (int64_t[]){b, k}, 2, SK_I64, SK_CPU), sk_shim_device(s), SK_I64);
done:
    free(v);
    free(idx);
    free(rank);
    free(tree);
    free(order);
    return out;
}

int sk_select_split(const sk_tensor *s, int64_t k, sk_tensor **kept, sk_tensor **dropped)
{
    *kept = *dropped = NULL;
    if (!s) return sk_error_last_code();
    /* One topk, then a stable descending sort of the kept mask: its indices
     * are [kept ascending, dropped ascending]. A partition even when scores
     * tie (a topk and a separate bottom-k could both take a tied token, and
     * background patches of an image tie exactly), and fewer ops than
     * topk + sort + bottom-k + sort: after a block evicted libtorch's code
     * from cache, each op costs ~10 us however small its tensors. */
    int64_t b = sk_shim_size(s, 0), m = sk_shim_size(s, 1);
    sk_device dev = sk_shim_device(s);
    sk_tensor *idx = NULL, *order = NULL;
    if (sk_shim_topk(s, k, 1, 1, 0, NULL, &idx) < 0) return sk_error_last_code();
    sk_tensor *mask = sk_shim_scatter(sk_shim_zeros((int64_t[]){b, m}, 2, SK_F32, dev), 1, idx,
                                      sk_shim_ones((int64_t[]){b, k}, 2, SK_F32, dev));
    if (!mask || sk_shim_sort(mask, 1, 1, NULL, &order) < 0) return sk_error_last_code(); /* stable */
    *kept = sk_shim_slice(order, 1, 0, k);
    *dropped = sk_shim_slice(order, 1, k, m);
    return (*kept && *dropped) ? SK_OK : sk_error_last_code();
}

sk_tensor *sk_select_keep_rows(const sk_tensor *t, int64_t p, const sk_tensor *idx)
{
    if (!t || !idx) return NULL;
    int64_t n = sk_shim_size(t, 1);
    if (sk_shim_ndim(t) == 2 && p > 0) { /* [B, N] (positions): prefix + one gather, fewer ops than a flat index */
        sk_tensor *parts[2] = {sk_shim_slice(t, 1, 0, p), sk_shim_gather(sk_shim_slice(t, 1, p, n), 1, idx)};
        return parts[0] && parts[1] ? sk_shim_cat(parts, 2, 1) : NULL;
    }
    return sk_select_take_rows(t, sk_select_keep_index(idx, p, n));
}

sk_tensor *sk_select_keys_mean(const sk_tensor *keys, int64_t p)
{
    if (!keys) {
        sk_error_set(SK_EINVAL, "select: the scorer needs seq.keys but the model passed none");
        return NULL;
    }
    /* A chain of adds of the per-head slices, not mean(dim 1): keys are
     * usually a strided view into the fused qkv projection, and libtorch
     * 1.13's reduction over that layout is ~2x slower than the adds
     * (measured in bench_select: 0.80 ms of tome's 2.7 ms). Slicing the rows
     * first makes the result contiguous, so no later copy is needed. */
    int64_t h = sk_shim_size(keys, 1), n = sk_shim_size(keys, 2);
    sk_tensor *k = p ? sk_shim_slice(keys, 2, p, n) : (sk_tensor *)keys;
    sk_tensor *acc = sk_shim_squeeze(sk_shim_slice(k, 1, 0, 1), 1);
    for (int64_t i = 1; i < h; i++) acc = sk_shim_add(acc, sk_shim_squeeze(sk_shim_slice(k, 1, i, i + 1), 1));
    return h > 1 ? sk_shim_mul_scalar(acc, 1.0 / (double)h) : sk_shim_contiguous(acc);
}

sk_tensor *sk_select_nearest_kept(const sk_tensor *mu, const sk_tensor *kept, const sk_tensor *dropped)
{
    sk_tensor *mk = sk_select_gather_rows(mu, kept), *md = sk_select_gather_rows(mu, dropped), *best = NULL;
    /* a contiguous right operand (bmm ~15% faster), and max with indices:
     * libtorch 1.13's argmax over a short last dim is ~1.7x slower */
    sk_tensor *sim = sk_shim_matmul(md, sk_shim_contiguous(sk_shim_transpose(mk, 1, 2)));
    if (!sim || sk_shim_max(sim, -1, 0, NULL, &best) < 0) return NULL;
    return best;
}

sk_tensor *sk_select_l2_normalize(const sk_tensor *x)
{
    return sk_shim_div(x, sk_shim_add_scalar(sk_shim_norm(x, -1, 1), 1e-6));
}

sk_tensor *sk_select_unit_metric(const sk_tensor *x, int64_t p)
{
    /* normalise all rows, then one contiguous copy of the unprotected ones:
     * callers index it several times, and every gather of a strided slice
     * would copy it again */
    if (!x) return NULL;
    return sk_shim_contiguous(sk_shim_slice(sk_select_l2_normalize(x), 1, p, sk_shim_size(x, 1)));
}

sk_tensor *sk_select_gate(const sk_strategy_args *a, const sk_tensor *idx, int64_t p, sk_tensor *rows)
{
    if (!rows || !(a->scorer->flags & SK_SCORER_GATED)) return rows;
    /* one autograd node instead of sigmoid/detach/sub/add/ones/cat/mul: ~0.1
     * ms less per apply in bench_select, where every op is paid cold */
    return sk_shim_st_gate(rows, sk_shim_gather(a->scores, 1, idx), p);
}

sk_tensor *sk_select_keep_bias(const sk_tensor *bias, const sk_tensor *flat)
{
    if (!bias || !flat) return NULL;
    int64_t b = sk_shim_size(bias, 0), n = sk_shim_size(bias, -1);
    sk_tensor *kept = sk_select_take_rows(sk_shim_reshape(bias, (int64_t[]){b, n}, 2), flat);
    if (!kept) return NULL;
    return sk_shim_reshape(kept, (int64_t[]){b, 1, 1, sk_shim_size(kept, 1)}, 4);
}

int sk_select_keep_seq(const sk_strategy_args *a, sk_seq *seq, const sk_tensor *idx)
{
    int64_t p = seq->n_protected;
    /* one flat index (prefix included, no cat of row blocks) serves every tensor */
    sk_tensor *flat = sk_select_keep_index(idx, p, sk_shim_size(seq->x, 1));
    sk_tensor *x = sk_select_gate(a, idx, p, sk_select_take_rows(seq->x, flat));
    sk_tensor *sizes = seq->sizes ? sk_select_take_rows(seq->sizes, flat) : NULL;
    sk_tensor *pos = seq->pos ? sk_select_take_rows(seq->pos, flat) : NULL;
    sk_tensor *bias = seq->attn_bias ? sk_select_keep_bias(seq->attn_bias, flat) : NULL;
    if (!x || (seq->sizes && !sizes) || (seq->pos && !pos) || (seq->attn_bias && !bias))
        return sk_error_last_code() < 0 ? sk_error_last_code() : SK_ETORCH;
    seq->x = x;
    seq->sizes = sizes;
    seq->pos = pos;
    seq->attn_bias = bias;
    return SK_OK;
}
