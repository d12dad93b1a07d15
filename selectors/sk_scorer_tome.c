/* sk_scorer_tome.c - scorer "tome": bipartite soft matching by key
 * similarity (Bolya et al., "Token Merging: Your ViT But Faster", ICLR
 * 2023). Unprotected tokens alternate into sets A (even) and B (odd); each
 * A token's score is minus the cosine similarity of its best B partner
 * (head-mean keys of the previous block), so the A tokens with the most
 * similar partner are the ones dropped, exactly ToMe's top-r edges. B
 * tokens score 2 - their best A similarity, above every A token, so with
 * keep >= 1/2 (ToMe's r <= N/2) all of B is kept; below 1/2 the B tokens
 * most similar to A go next (an extension: ToMe caps r at half per layer).
 * With strategy merge each dropped token is averaged (size-weighted) into
 * the kept token its key is most similar to, which for keep >= 1/2 is its
 * best B partner unless an unmerged A token is closer. Kept tokens stay in
 * sequence order (ToMe reorders to [unmerged A, B]). */
#include <stdlib.h>

#include "sk_select_registry.h"

typedef struct {
    int64_t m;
    sk_tensor *perm, *inv; /* [even..., odd...] positions of M tokens and its inverse */
    sk_tensor *mu; /* normalised metric of the last score call (borrowed from the caller's scope,
                      used by assign within the same apply) */
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
    (void)a;
    tome_state *t = state;
    int64_t p = seq->n_protected, n = sk_shim_size(seq->x, 1), m = n - p, b = sk_shim_size(seq->x, 0);
    if (m < 2) { /* nothing to match */
        *scores = sk_shim_zeros((int64_t[]){b, m}, 2, SK_F32, sk_shim_device(seq->x));
        return *scores ? SK_OK : sk_error_last_code();
    }
    int rc = indices_(t, m);
    if (rc < 0) return rc;
    sk_device dev = sk_shim_device(seq->x);
    sk_tensor *mu = sk_select_unit_metric(sk_select_keys_mean(seq->keys), p);
    t->mu = mu;
    /* sets A and B in one index_select; [B, Ma, Mb] similarities, with a
     * contiguous right operand (the bmm is ~2x faster) */
    int64_t ma = (m + 1) / 2;
    sk_tensor *ab = sk_shim_index_select(mu, 1, sk_shim_to(t->perm, dev, SK_I64));
    sk_tensor *sim = sk_shim_matmul(sk_shim_slice(ab, 1, 0, ma),
                                    sk_shim_contiguous(sk_shim_transpose(sk_shim_slice(ab, 1, ma, m), 1, 2)));
    sk_tensor *amax = NULL, *bmax = NULL;
    if (!sim || sk_shim_max(sim, 2, 0, &amax, NULL) < 0 || sk_shim_max(sim, 1, 0, &bmax, NULL) < 0)
        return sk_error_last_code();
    sk_tensor *parts[2] = {sk_shim_neg(amax), sk_shim_add_scalar(sk_shim_neg(bmax), 2.0)};
    if (!parts[0] || !parts[1]) return sk_error_last_code();
    *scores = sk_shim_index_select(sk_shim_cat(parts, 2, 1), 1, sk_shim_to(t->inv, dev, SK_I64));
    return *scores ? SK_OK : sk_error_last_code();
}

/* Each dropped token goes to the kept token with the most similar key,
 * reusing the metric computed by score_ in this same apply. */
static int assign_(void *state, const sk_seq *seq, const sk_tensor *kept, const sk_tensor *dropped, sk_tensor **dst)
{
    tome_state *t = state;
    int64_t p = seq->n_protected, n = sk_shim_size(seq->x, 1);
    sk_tensor *mu = t->mu;
    if (!mu || sk_shim_size(mu, 1) != n - p) /* m < 2 path or no score yet */
        mu = sk_select_unit_metric(sk_select_keys_mean(seq->keys), p);
    *dst = sk_select_nearest_kept(mu, kept, dropped);
    t->mu = NULL;
    return *dst ? SK_OK : sk_error_last_code();
}

const sk_scorer_vtable sk_scorer_tome = {SK_SCORER_VERSION, "tome", SK_SELECT_NEEDS_KEYS, 0, create_, destroy_,
                                         score_, NULL, NULL, assign_, NULL, NULL};
