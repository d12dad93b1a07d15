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
    sk_tensor *coords;      /* [N0, 2] f32 (row, col) of every original position */
    double tie_eps;         /* < 1/2 of the smallest squared-distance step over the largest row + col */
} pool_state;

static int create_(void **state, const sk_scorer_init *in)
{
    pool_state *u = calloc(1, sizeof *u);
    if (!u) return sk_error_set(SK_ENOMEM, "pool: out of memory");
    u->gh = in->model->grid_h;
    u->gw = in->model->grid_w;
    u->p = in->model->n_protected;
    u->n0 = in->model->tokens;
    float *c = malloc((size_t)u->n0 * 2 * sizeof *c);
    if (!c) {
        free(u);
        return sk_error_set(SK_ENOMEM, "pool: out of memory");
    }
    int grid = u->gh > 0 && u->gw > 0 && u->gh * u->gw == u->n0 - u->p;
    u->tie_eps = 0.25 / (double)(grid ? u->gh + u->gw + 1 : u->n0 + 1);
    for (int64_t i = 0; i < u->n0; i++) {
        int64_t j = i - u->p; /* protected tokens get negative coordinates: never nearest */
        c[2 * i] = grid ? (float)(j >= 0 ? j / u->gw : -1000) : (float)j;
        c[2 * i + 1] = grid ? (float)(j >= 0 ? j % u->gw : -1000) : 0.0f;
    }
    u->coords = sk_shim_keep(sk_shim_from_host(c, (int64_t[]){u->n0, 2}, 2, SK_F32, SK_CPU));
    free(c);
    *state = u;
    return u->coords ? SK_OK : sk_error_last_code();
}

static void destroy_(void *state)
{
    pool_state *u = state;
    if (!u) return;
    sk_tensor_free(u->cache.s);
    sk_tensor_free(u->coords);
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
    sk_tensor *pos = seq->pos;
    if (!pos) pos = sk_shim_expand(sk_shim_unsqueeze(sk_shim_arange(n, SK_CPU), 0), (int64_t[]){b, n}, 2);
    sk_tensor *coords = sk_shim_to(u->coords, sk_shim_device(seq->x), SK_F32);
    sk_tensor *c = sk_shim_embedding(coords, sk_shim_to(sk_shim_slice(pos, 1, p, n), sk_shim_device(seq->x), SK_I64));
    sk_tensor *ck = sk_select_gather_rows(c, kept), *cd = sk_select_gather_rows(c, dropped);
    /* nearest = argmax_k 2 cd.ck - |ck|^2 (|cd|^2 is constant per row): one bmm */
    sk_tensor *dot = sk_shim_matmul(cd, sk_shim_transpose(ck, 1, 2)); /* [B, Md, K] */
    /* ties (a cell midway between anchors) go to the anchor further down/right:
     * anchors sit at floor((a + 1/2) * stride), at or after their block's
     * centre, so this reproduces non-overlapping stride x stride pooling */
    sk_tensor *kk = sk_shim_sub(sk_shim_sum(sk_shim_mul(ck, ck), (int64_t[]){-1}, 1, 0),
                                sk_shim_mul_scalar(sk_shim_sum(ck, (int64_t[]){-1}, 1, 0), u->tie_eps));
    kk = sk_shim_unsqueeze(kk, 1);
    *dst = sk_shim_argmax(sk_shim_sub(sk_shim_mul_scalar(dot, 2.0), kk), -1, 0);
    return *dst ? SK_OK : sk_error_last_code();
}

const sk_scorer_vtable sk_scorer_pool = {SK_SCORER_VERSION, "pool", 0, SK_SCORER_MERGE_ONLY | SK_SCORER_NEEDS_K,
                                         create_, destroy_, score_, NULL, NULL, assign_, NULL, NULL};
