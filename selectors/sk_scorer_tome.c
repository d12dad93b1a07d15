/* sk_scorer_tome.c - scorer "tome": bipartite soft matching by key
 * similarity (Bolya et al., "Token Merging: Your ViT But Faster", ICLR
 * 2023). Unprotected tokens alternate into sets A (even) and B (odd); each
 * A token's score is minus the cosine similarity of its best B partner
 * (head-mean keys of the previous block), so the A tokens with the most
 * similar partner are the ones dropped, exactly ToMe's top-r edges. B
 * tokens score 3 - their best A similarity, strictly above every A token
 * (cosines are in [-1, 1]), so with keep >= 1/2 (ToMe's r <= N/2) all of B
 * is kept; below 1/2 the B tokens most similar to A go next (an extension:
 * ToMe caps r at half per layer).
 * With strategy merge (assign_), at keep >= 1/2 a dropped A token is
 * averaged (size-weighted) into its best B partner, as ToMe merges along
 * its edges; below 1/2 (every kept token is a B) each dropped token, A or
 * B, goes to the kept token its key is most similar to. Kept tokens stay
 * in sequence order (ToMe reorders to [unmerged A, B]). */
#include <stdlib.h>

#include "sk_select_registry.h"

typedef struct {
    int64_t m;
    sk_tensor *perm, *inv; /* [even..., odd...] positions of M tokens and its inverse */
    /* of the last score call, borrowed from the caller's scope and used by
     * assign within the same apply: the unit metric [B, M, C] and, when
     * every B is kept, each A token's best B partner [B, Ma] (0..Mb-1) */
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
    sk_tensor_free(t->perm);
    sk_tensor_free(t->inv);
    t->perm = t->inv = NULL;
}

static void destroy_(void *state)
{
    if (!state) return;
    clear_(state);
    free(state);
}

static int indices_(tome_state *t, int64_t m)
{
    if (t->perm && t->m == m) return SK_OK;
    clear_(t);
    int64_t *buf = malloc((size_t)(2 * m) * sizeof *buf);
    if (!buf) return sk_error_set(SK_ENOMEM, "tome: out of memory");
    int64_t ma = (m + 1) / 2, mb = m / 2;
    for (int64_t i = 0; i < ma; i++) buf[i] = 2 * i;
    for (int64_t i = 0; i < mb; i++) buf[ma + i] = 2 * i + 1;
    /* inverse of the permutation [even..., odd...] */
    for (int64_t i = 0; i < m; i++) buf[m + buf[i]] = i;
    t->perm = sk_shim_keep(sk_shim_from_host(buf, (int64_t[]){m}, 1, SK_I64, SK_CPU));
    t->inv = sk_shim_keep(sk_shim_from_host(buf + m, (int64_t[]){m}, 1, SK_I64, SK_CPU));
    free(buf);
    t->m = m;
    return (t->perm && t->inv) ? SK_OK : sk_error_last_code();
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
    int rc = indices_(t, m);
    if (rc < 0) return rc;
    sk_device dev = sk_shim_device(seq->x);
    sk_tensor *mu = sk_select_l2_normalize(sk_select_keys_mean(seq->keys, p));
    /* sets A and B in one index_select; [B, Ma, Mb] similarities, with a
     * contiguous right operand (the bmm is ~2x faster) */
    int64_t ma = (m + 1) / 2;
    sk_tensor *ab = sk_shim_index_select(mu, 1, sk_shim_to(t->perm, dev, SK_I64));
    sk_tensor *sim = sk_shim_matmul(sk_shim_slice(ab, 1, 0, ma),
                                    sk_shim_contiguous(sk_shim_transpose(sk_shim_slice(ab, 1, ma, m), 1, 2)));
    /* the partners are needed only when every B is kept (assign_), and max
     * with indices costs ~4x amax on CPU */
    int edges = a->k >= m / 2;
    sk_tensor *amax = NULL, *bmax = NULL, *partner = NULL;
    if (!sim || sk_shim_max(sim, 2, 0, &amax, edges ? &partner : NULL) < 0 || sk_shim_max(sim, 1, 0, &bmax, NULL) < 0)
        return sk_error_last_code();
    sk_tensor *parts[2] = {sk_shim_neg(amax), sk_shim_add_scalar(sk_shim_neg(bmax), 3.0)};
    if (!parts[0] || !parts[1]) return sk_error_last_code();
    *scores = sk_shim_index_select(sk_shim_cat(parts, 2, 1), 1, sk_shim_to(t->inv, dev, SK_I64));
    if (!*scores) return sk_error_last_code();
    t->mu = mu;
    t->partner = partner;
    return SK_OK;
}

/* keep >= 1/2 (all of B kept): ToMe's merge along the matched edges, each
 * dropped A token into its best B partner. Below 1/2 (every kept token is a
 * B): each dropped token, A or B, into the kept token its key is most
 * similar to. */
static int assign_(void *state, const sk_seq *seq, const sk_tensor *kept, const sk_tensor *dropped, sk_tensor **dst)
{
    tome_state *t = state;
    int64_t p = seq->n_protected, m = sk_shim_size(seq->x, 1) - p, ma = (m + 1) / 2;
    if (!t->mu || t->m != m) /* m < 2 (nothing to match) or no score yet */
        return sk_error_set(SK_EINVAL, "tome: assign without a score of the same sequence");
    if (!t->partner) {
        *dst = sk_select_nearest_kept(t->mu, kept, dropped);
    } else {
        /* the slot of each kept token at its position, read at the B positions */
        sk_device dev = sk_shim_device(seq->x);
        sk_tensor *bslot = sk_shim_slice(sk_shim_index_select(sk_select_kept_slots(kept, m), 1, sk_shim_to(t->perm, dev, SK_I64)),
                                         1, ma, m);
        /* A token i goes to the slot of B token partner[i] (a B token to its
         * own, which only a dropped B would use: none is) */
        sk_tensor *parts[2] = {sk_shim_gather(bslot, 1, t->partner), bslot};
        sk_tensor *all = sk_shim_index_select(sk_shim_cat(parts, 2, 1), 1, sk_shim_to(t->inv, dev, SK_I64));
        *dst = sk_shim_gather(all, 1, dropped);
    }
    t->mu = t->partner = NULL;
    return *dst ? SK_OK : sk_error_last_code();
}

const sk_scorer_vtable sk_scorer_tome = {SK_SCORER_VERSION, "tome", SK_SELECT_NEEDS_KEYS, 0, create_, destroy_,
                                         score_, NULL, NULL, assign_, NULL, NULL};
