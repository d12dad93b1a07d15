/* sk_scorer_tome.c - scorer "tome": bipartite soft matching by key
 * similarity (Bolya et al., "Token Merging: Your ViT But Faster", ICLR
 * 2023), as facebookresearch/ToMe tome/merge.py bipartite_soft_matching:
 *   - the sets alternate over the WHOLE sequence, protected tokens
 *     included: A = x[:, 0::2], B = x[:, 1::2]; a protected token in A
 *     (the class token) has its similarities set to -inf, so it is never
 *     merged, and one in B (ToMe's distillation token) its column, so
 *     nothing merges into it;
 *   - node_max, node_idx = (A @ B^T).max(-1) on unit-norm head-mean keys;
 *     the r merged A tokens are the first r of node_max.argsort(descending)
 *     (the same unstable sort ToMe calls, so ties fall as they do there);
 *   - with strategy merge, merged A token i is averaged (size-weighted,
 *     ToMe's merge_wavg) into B token node_idx[i].
 * A token scores are their rank in that order (rank - |A|: ToMe's merge
 * order exactly, ties included; with prune-threshold, which has no k,
 * minus node_max, so select.tau bounds the similarity), B tokens 3 - their
 * best A similarity, above every A token. So at keep >= 1/2 (ToMe's
 * r <= (N - protected) / 2, r = M - k) all of B is kept and the same tokens
 * merge into the same partners as in ToMe.
 * Deliberate differences from ToMe:
 *   - the merge runs between blocks on the keys of the block just run
 *     (ToMe: inside each block, between attention and MLP);
 *   - kept tokens stay in sequence order (ToMe returns [unmerged A, B]);
 *   - a zero key's norm is clamped at 1e-12 (ToMe divides by 0: NaN);
 *   - below keep 1/2 (an extension: ToMe caps r at half per layer) the B
 *     tokens most similar to A go next, and each dropped token, A or B,
 *     merges into the kept token its key is most similar to. */
#include <math.h>
#include <stdlib.h>

#include "sk_select_registry.h"

typedef struct {
    int64_t n, p;          /* sequence length and protected tokens the tensors below are for */
    sk_tensor *perm, *inv; /* [N]: positions [even..., odd...] and the inverse permutation */
    sk_tensor *mask;       /* [1, Na, Nb] f32: -inf on protected rows / columns, or NULL (p = 0) */
    sk_tensor *rank;       /* [1, Na] f32: 0 - Na, 1 - Na, ..., -1 (A scores by merge order) */
    sk_tensor *a_of_u;     /* [M] int64: each unprotected token's index in A (0 for B tokens) */
    sk_tensor *u_of_b;     /* [Nb] int64: each B token's unprotected index (0 for protected ones) */
    /* of the last score call, borrowed from the caller's scope and used by
     * assign within the same apply: the unit metric of the unprotected
     * tokens [B, M, C] and, when every B is kept, node_idx [B, Na] */
    sk_tensor *mu, *partner;
} tome_state;

static int create_(void **state, const sk_scorer_init *in)
{
    (void)in;
    tome_state *t = calloc(1, sizeof *t);
    if (!t) return sk_error_set(SK_ENOMEM, "tome: out of memory");
    *state = t;
    return SK_OK;
}

static void clear_(tome_state *t)
{
    sk_tensor *all[6] = {t->perm, t->inv, t->mask, t->rank, t->a_of_u, t->u_of_b};
    for (int i = 0; i < 6; i++) sk_tensor_free(all[i]);
    t->perm = t->inv = t->mask = t->rank = t->a_of_u = t->u_of_b = NULL;
}

static void destroy_(void *state)
{
    if (!state) return;
    clear_(state);
    free(state);
}

static sk_tensor *host_i64_(const int64_t *v, int64_t n)
{
    return sk_shim_keep(sk_shim_from_host(v, (int64_t[]){n}, 1, SK_I64, SK_CPU));
}

/* The index tensors for n tokens with p protected, made once per (n, p). */
static int indices_(tome_state *t, int64_t n, int64_t p)
{
    if (t->perm && t->n == n && t->p == p) return SK_OK;
    clear_(t);
    int64_t na = (n + 1) / 2, nb = n / 2, m = n - p;
    int64_t *buf = malloc((size_t)(3 * n) * sizeof *buf);
    float *f = malloc((size_t)(na * nb + na) * sizeof *f);
    int rc = SK_OK;
    SK_FAIL_IF(!buf || !f, SK_ENOMEM, "tome: out of memory");
    for (int64_t i = 0; i < na; i++) buf[i] = 2 * i;
    for (int64_t i = 0; i < nb; i++) buf[na + i] = 2 * i + 1;
    for (int64_t i = 0; i < n; i++) buf[n + buf[i]] = i;
    t->perm = host_i64_(buf, n);
    t->inv = host_i64_(buf + n, n);
    for (int64_t u = 0; u < m; u++) buf[2 * n + u] = (p + u) % 2 == 0 ? (p + u) / 2 : 0;
    t->a_of_u = host_i64_(buf + 2 * n, m);
    for (int64_t j = 0; j < nb; j++) buf[j] = 2 * j + 1 >= p ? 2 * j + 1 - p : 0;
    t->u_of_b = host_i64_(buf, nb);
    for (int64_t i = 0; i < na; i++) f[na * nb + i] = (float)(i - na);
    t->rank = sk_shim_keep(sk_shim_from_host(f + na * nb, (int64_t[]){1, na}, 2, SK_F32, SK_CPU));
    if (p > 0) {
        for (int64_t i = 0; i < na; i++)
            for (int64_t j = 0; j < nb; j++) f[i * nb + j] = (2 * i < p || 2 * j + 1 < p) ? -INFINITY : 0.0f;
        t->mask = sk_shim_keep(sk_shim_from_host(f, (int64_t[]){1, na, nb}, 3, SK_F32, SK_CPU));
    }
    SK_FAIL_IF(!t->perm || !t->inv || !t->a_of_u || !t->u_of_b || !t->rank || (p > 0 && !t->mask), sk_error_last_code(),
               "%s", sk_error_last());
    t->n = n;
    t->p = p;
done:
    free(buf);
    free(f);
    if (rc < 0) clear_(t);
    return rc;
}

static sk_tensor *on_(const sk_tensor *t, sk_device dev) { return sk_shim_to(t, dev, sk_shim_dtype(t)); }

/* ToMe's metric, op for op: k.mean(1), then metric / metric.norm(-1) (the
 * norm clamped at 1e-12 so that a zero key gives 0, not NaN). The same ops
 * round the same way, so exact and near ties order as in ToMe. */
static sk_tensor *metric_(const sk_tensor *keys)
{
    if (!keys) {
        sk_error_set(SK_EINVAL, "tome: the scorer needs seq.keys but the model passed none");
        return NULL;
    }
    sk_tensor *k = sk_shim_mean(keys, (int64_t[]){1}, 1, 0);
    return sk_shim_div(k, sk_shim_clamp(sk_shim_norm(k, -1, 1), 1e-12, INFINITY));
}

static int score_(void *state, const sk_seq *seq, const sk_score_args *a, sk_tensor **scores)
{
    tome_state *t = state;
    int64_t p = seq->n_protected, n = sk_shim_size(seq->x, 1), m = n - p, b = sk_shim_size(seq->x, 0);
    t->mu = t->partner = NULL;
    if (m < 2) { /* nothing to match */
        *scores = sk_shim_zeros((int64_t[]){b, m}, 2, SK_F32, sk_shim_device(seq->x));
        return *scores ? SK_OK : sk_error_last_code();
    }
    int rc = indices_(t, n, p);
    if (rc < 0) return rc;
    sk_device dev = sk_shim_device(seq->x);
    int64_t na = (n + 1) / 2, nb_u = n / 2 - p / 2; /* unprotected B tokens */
    sk_tensor *mu = metric_(seq->keys);
    /* sets A and B in one index_select; [B, Na, Nb] similarities, with a
     * contiguous right operand (the bmm is ~2x faster) */
    sk_tensor *ab = sk_shim_index_select(mu, 1, on_(t->perm, dev));
    sk_tensor *sim = sk_shim_matmul(sk_shim_slice(ab, 1, 0, na),
                                    sk_shim_contiguous(sk_shim_transpose(sk_shim_slice(ab, 1, na, n), 1, 2)));
    if (t->mask) sim = sk_shim_add(sim, on_(t->mask, dev));
    /* node_idx is needed only when every B is kept (assign_) */
    int edges = a->k >= nb_u;
    sk_tensor *node_max = NULL, *bmax = NULL, *partner = NULL;
    if (!sim || sk_shim_max(sim, 2, 0, &node_max, edges ? &partner : NULL) < 0 ||
        sk_shim_max(sim, 1, 0, &bmax, NULL) < 0)
        return sk_error_last_code();
    /* A token at place q of ToMe's edge order scores q - Na; in threshold
     * mode (no k) minus its similarity, so tau is a similarity bound */
    sk_tensor *sa = sk_shim_neg(node_max);
    if (a->k >= 0)
        sa = sk_shim_scatter(sk_shim_zeros((int64_t[]){b, na}, 2, SK_F32, dev), 1,
                             sk_shim_argsort_unstable(node_max, 1, 1),
                             sk_shim_expand(on_(t->rank, dev), (int64_t[]){b, na}, 2));
    sk_tensor *parts[2] = {sa, sk_shim_add_scalar(sk_shim_neg(bmax), 3.0)};
    if (!parts[0] || !parts[1]) return sk_error_last_code();
    sk_tensor *all = sk_shim_index_select(sk_shim_cat(parts, 2, 1), 1, on_(t->inv, dev));
    *scores = sk_shim_contiguous(sk_shim_slice(all, 1, p, n));
    if (!*scores) return sk_error_last_code();
    t->mu = mu;
    t->partner = partner;
    return SK_OK;
}

/* [B, K] rows of the 1-D index v at idx [B, K]. */
static sk_tensor *lookup_(const sk_tensor *v, const sk_tensor *idx, sk_device dev)
{
    sk_tensor *flat = sk_shim_index_select(on_(v, dev), 0, sk_shim_reshape(idx, (int64_t[]){-1}, 1));
    return sk_shim_reshape(flat, (int64_t[]){sk_shim_size(idx, 0), -1}, 2);
}

/* Every B kept: ToMe's merge along the matched edges, each dropped A token
 * into B token node_idx of it. Otherwise (keep < 1/2): each dropped token,
 * A or B, into the kept token its key is most similar to. */
static int assign_(void *state, const sk_seq *seq, const sk_tensor *kept, const sk_tensor *dropped, sk_tensor **dst)
{
    tome_state *t = state;
    int64_t p = seq->n_protected, n = sk_shim_size(seq->x, 1), m = n - p;
    if (!t->mu || t->n != n || t->p != p) /* m < 2 (nothing to match) or no score yet */
        return sk_error_set(SK_EINVAL, "tome: assign without a score of the same sequence");
    sk_device dev = sk_shim_device(seq->x);
    if (!t->partner) {
        *dst = sk_select_nearest_kept(sk_shim_contiguous(sk_shim_slice(t->mu, 1, p, n)), kept, dropped);
    } else {
        /* dropped (all A) -> its A index -> node_idx -> that B's unprotected index -> its kept slot */
        sk_tensor *partner_u = lookup_(t->u_of_b, t->partner, dev);
        sk_tensor *to = sk_shim_gather(partner_u, 1, lookup_(t->a_of_u, dropped, dev));
        *dst = sk_shim_gather(sk_select_kept_slots(kept, m), 1, to);
    }
    t->mu = t->partner = NULL;
    return *dst ? SK_OK : sk_error_last_code();
}

/* SEES_LATER: an A token's score is its best similarity to any B token,
 * later ones included, so tome is refused on a causal LM */
const sk_scorer_vtable sk_scorer_tome = {
    .version = SK_SCORER_VERSION,
    .name = "tome",
    .needs = SK_SELECT_NEEDS_KEYS,
    .flags = SK_SCORER_SEES_LATER,
    .create = create_,
    .destroy = destroy_,
    .score = score_,
    .assign = assign_,
};
