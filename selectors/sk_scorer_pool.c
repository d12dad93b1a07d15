/* sk_scorer_pool.c - scorer "pool": average pooling of neighbours. Anchors
 * are the evenly strided (spatially uniform) tokens of scorer "uniform";
 * every other token is merged (size-weighted average, strategy merge) into
 * its nearest anchor in original position: on an image grid by Euclidean
 * distance of (row, col), on text by |position|. Registered for strategy
 * merge only: pruning with these anchors is scorer "uniform".
 * Pooling as a token-reduction baseline: Bolya et al. (ToMe, ICLR 2023,
 * Tab. 1) and Marin et al. ("Token Pooling in Vision Transformers", 2021). */
#include <stdlib.h>

#include "sk_select_registry.h"

typedef struct {
    int64_t gh, gw, p, n0;
    sk_uniform_cache cache; /* [1, M] anchor pattern */
    /* per original position (r, c) = (row, col): tk = (2r, 2c, eps (r + c) -
     * r^2 - c^2) as an anchor and td = (r, c, 1) as a token to place, so that
     * td . tk = 2 d.k - |k|^2 + eps (r_k + c_k) is one bmm (see assign_) */
    sk_tensor *tk, *td; /* [N0, 3] f32 */
    double tie_eps;     /* < 1/2 of the smallest squared-distance step over the largest row + col */
} pool_state;

static int create_(void **state, const sk_scorer_init *in)
{
    pool_state *u = calloc(1, sizeof *u);
    if (!u) return sk_error_set(SK_ENOMEM, "pool: out of memory");
    u->gh = in->model->grid_h;
    u->gw = in->model->grid_w;
    u->p = in->model->n_protected;
    u->n0 = in->model->tokens;
    float *c = malloc((size_t)u->n0 * 6 * sizeof *c);
    if (!c) {
        free(u);
        return sk_error_set(SK_ENOMEM, "pool: out of memory");
    }
    int grid = u->gh > 0 && u->gw > 0 && u->gh * u->gw == u->n0 - u->p;
    u->tie_eps = 0.25 / (double)(grid ? u->gh + u->gw + 1 : u->n0 + 1);
    float *k = c, *d = c + 3 * u->n0;
    for (int64_t i = 0; i < u->n0; i++) {
        int64_t j = i - u->p; /* protected tokens get far-away coordinates: never nearest */
        double r = grid ? (double)(j >= 0 ? j / u->gw : -1000) : (double)j;
        double q = grid ? (double)(j >= 0 ? j % u->gw : -1000) : 0.0;
        k[3 * i] = (float)(2 * r);
        k[3 * i + 1] = (float)(2 * q);
        k[3 * i + 2] = (float)(u->tie_eps * (r + q) - r * r - q * q);
        d[3 * i] = (float)r;
        d[3 * i + 1] = (float)q;
        d[3 * i + 2] = 1.0f;
    }
    u->tk = sk_shim_keep(sk_shim_from_host(k, (int64_t[]){u->n0, 3}, 2, SK_F32, SK_CPU));
    u->td = sk_shim_keep(sk_shim_from_host(d, (int64_t[]){u->n0, 3}, 2, SK_F32, SK_CPU));
    free(c);
    *state = u;
    return u->tk && u->td ? SK_OK : sk_error_last_code();
}

static void destroy_(void *state)
{
    pool_state *u = state;
    if (!u) return;
    sk_tensor_free(u->cache.s);
    sk_tensor_free(u->tk);
    sk_tensor_free(u->td);
    free(u);
}

static int score_(void *state, const sk_seq *seq, const sk_score_args *a, sk_tensor **scores)
{
    pool_state *u = state;
    return sk_select_uniform_scores(&u->cache, u->gh, u->gw, seq, a->k, scores);
}

static int assign_(void *state, const sk_seq *seq, const sk_tensor *kept, const sk_tensor *dropped, sk_tensor **dst)
{
    pool_state *u = state;
    int64_t p = seq->n_protected, n = sk_shim_size(seq->x, 1), b = sk_shim_size(seq->x, 0);
    sk_device dev = sk_shim_device(seq->x);
    sk_tensor *pos = seq->pos;
    if (!pos) pos = sk_shim_expand(sk_shim_unsqueeze(sk_shim_arange(n, dev), 0), (int64_t[]){b, n}, 2);
    sk_tensor *pu = sk_shim_to(sk_shim_slice(pos, 1, p, n), dev, SK_I64);
    /* nearest anchor = argmax_k 2 d.k - |k|^2 (|d|^2 is constant per row),
     * read as one bmm of the two coordinate tables. Ties (a cell midway
     * between anchors) go to the anchor further down/right (the eps term):
     * anchors sit at floor((a + 1/2) * stride), at or after their block's
     * centre, so this reproduces non-overlapping stride x stride pooling */
    sk_tensor *ck = sk_shim_embedding(sk_shim_to(u->tk, dev, SK_F32), sk_shim_gather(pu, 1, kept));    /* [B, K, 3] */
    sk_tensor *cd = sk_shim_embedding(sk_shim_to(u->td, dev, SK_F32), sk_shim_gather(pu, 1, dropped)); /* [B, Md, 3] */
    sk_tensor *v = sk_shim_matmul(cd, sk_shim_contiguous(sk_shim_transpose(ck, 1, 2)));                /* [B, Md, K] */
    /* max with indices: libtorch 1.13's argmax over a short last dim is ~1.7x slower */
    if (!v || sk_shim_max(v, -1, 0, NULL, dst) < 0) return sk_error_last_code();
    return SK_OK;
}

const sk_scorer_vtable sk_scorer_pool = {
    .version = SK_SCORER_VERSION,
    .name = "pool",
    .flags = SK_SCORER_MERGE_ONLY | SK_SCORER_NEEDS_K,
    .create = create_,
    .destroy = destroy_,
    .score = score_,
    .assign = assign_,
};
