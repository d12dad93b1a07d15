/* sk_scorer_uniform.c - scorer "uniform": an evenly strided subset. For an
 * image (model grid_h x grid_w equal to the unprotected tokens) the kept
 * tokens form a sub-grid kh x kw = k when k factors that way, so they are
 * spatially uniform; otherwise (text, later layers, prime k) k evenly
 * strided indices floor((j + 1/2) M / k). "Spatial uniformity" is the
 * baseline argued for by Wen et al. (ACL Findings 2025). The pattern is
 * computed once per (M, k) on the host and cached. */
#include <math.h>
#include <stdlib.h>

#include "sk_select_registry.h"

typedef struct {
    int64_t gh, gw;
    sk_uniform_cache cache;
} uniform_state;

/* Scores 1 at the chosen k of m indices, 0 elsewhere, into out[m]. */
static void pattern_(int64_t m, int64_t k, int64_t gh, int64_t gw, float *out)
{
    for (int64_t i = 0; i < m; i++) out[i] = 0.0f;
    int64_t bh = 0, bw = 0;
    double best = 1e30;
    if (gh > 0 && gw > 0 && gh * gw == m) {
        for (int64_t kh = 1; kh <= gh; kh++) {
            if (k % kh) continue;
            int64_t kw = k / kh;
            if (kw > gw) continue;
            double gap = fabs((double)kh / (double)gh - (double)kw / (double)gw);
            if (gap < best) best = gap, bh = kh, bw = kw;
        }
    }
    if (bh > 0) {
        for (int64_t a = 0; a < bh; a++)
            for (int64_t c = 0; c < bw; c++) {
                int64_t r = (int64_t)((a + 0.5) * (double)gh / (double)bh);
                int64_t q = (int64_t)((c + 0.5) * (double)gw / (double)bw);
                out[r * gw + q] = 1.0f;
            }
        return;
    }
    for (int64_t j = 0; j < k; j++) out[(int64_t)((j + 0.5) * (double)m / (double)k)] = 1.0f;
}

static int create_(void **state, const sk_scorer_init *in)
{
    uniform_state *u = calloc(1, sizeof *u);
    if (!u) return sk_error_set(SK_ENOMEM, "uniform: out of memory");
    u->gh = in->model->grid_h;
    u->gw = in->model->grid_w;
    *state = u;
    return SK_OK;
}

int sk_select_uniform_scores(sk_uniform_cache *c, int64_t grid_h, int64_t grid_w, const sk_seq *seq, int64_t k,
                             sk_tensor **scores)
{
    int64_t b = sk_shim_size(seq->x, 0), m = sk_shim_size(seq->x, 1) - seq->n_protected;
    if (!c->s || c->m != m || c->k != k) {
        float *buf = malloc((size_t)m * sizeof *buf);
        if (!buf) return sk_error_set(SK_ENOMEM, "uniform pattern: out of memory");
        pattern_(m, k, grid_h, grid_w, buf);
        sk_tensor_free(c->s);
        c->s = sk_shim_keep(sk_shim_from_host(buf, (int64_t[]){1, m}, 2, SK_F32, sk_shim_device(seq->x)));
        free(buf);
        if (!c->s) return sk_error_last_code();
        c->m = m;
        c->k = k;
    }
    *scores = sk_shim_contiguous(sk_shim_expand(c->s, (int64_t[]){b, m}, 2));
    return *scores ? SK_OK : sk_error_last_code();
}

static void destroy_(void *state)
{
    uniform_state *u = state;
    if (!u) return;
    sk_tensor_free(u->cache.s);
    free(u);
}

static int score_(void *state, const sk_seq *seq, const sk_score_args *a, sk_tensor **scores)
{
    uniform_state *u = state;
    return sk_select_uniform_scores(&u->cache, u->gh, u->gw, seq, a->k, scores);
}

const sk_scorer_vtable sk_scorer_uniform = {
    .version = SK_SCORER_VERSION,
    .name = "uniform",
    .flags = SK_SCORER_NEEDS_K | SK_SCORER_BLIND,
    .create = create_,
    .destroy = destroy_,
    .score = score_,
};
