/* sk_scorer_frozen.c - scorer "frozen" (training-agnostic): a scorer
 * network loaded from a safetensors checkpoint and never updated. The
 * network is the learned scorer's predictor (LN -> Linear -> GELU ->
 * Linear -> logit), so a checkpoint written from a "learned" run (tensors
 * "selector.learned.l<N>.{ln_w,ln_b,w1,b1,w2,b2}", sk_selector_params
 * names) serves as a frozen scorer for another run; select.checkpoint_layer
 * picks which layer's predictor. Scoring runs without autograd and nothing
 * is returned by sk_selector_params, so the optimizer never sees it.
 * Training-agnostic scoring with a fixed proxy follows the data-centric
 * survey's "training-agnostic" class (Liu et al., arXiv 2505.19147); the
 * text variant (surprisal under a small LM, Rho-1 style) is not done. */
#include <stdio.h>
#include <stdlib.h>

#include "sk_safetensors_read.h"
#include "sk_select_registry.h"

sk_tensor *sk_scorer_learned_mlp_(sk_tensor *const *p, const sk_seq *seq);

typedef struct {
    sk_tensor *p[6];
} frozen_state;

static void destroy_(void *state)
{
    frozen_state *s = state;
    if (!s) return;
    for (int i = 0; i < 6; i++) sk_tensor_free(s->p[i]);
    free(s);
}

static int create_(void **state, const sk_scorer_init *in)
{
    int rc = SK_OK;
    float *buf = NULL;
    frozen_state *s = calloc(1, sizeof *s);
    SK_FAIL_IF(!s, SK_ENOMEM, "frozen: out of memory");
    SK_FAIL_IF(in->cfg->checkpoint[0] == '\0', SK_EINVAL,
               "select.checkpoint: scorer 'frozen' needs a safetensors checkpoint with its network");
    int64_t d = in->model->width, h = d / 4 < 8 ? 8 : d / 4;
    int layer = in->cfg->checkpoint_layer >= 0 ? (int)in->cfg->checkpoint_layer : in->layer;
    static const char *const nm[6] = {"ln_w", "ln_b", "w1", "b1", "w2", "b2"};
    const int64_t shp[6][2] = {{d, 0}, {d, 0}, {h, d}, {h, 0}, {1, h}, {1, 0}};
    buf = malloc(sizeof(float) * (size_t)(h * d));
    SK_FAIL_IF(!buf, SK_ENOMEM, "frozen: out of memory");
    for (int i = 0; i < 6; i++) {
        char name[96];
        int nd = shp[i][1] ? 2 : 1;
        snprintf(name, sizeof name, "selector.learned.l%d.%s", layer, nm[i]);
        rc = sk_safetensors_read_f32(in->cfg->checkpoint, name, shp[i], nd, buf);
        if (rc < 0) {
            sk_error_prefix("select.checkpoint: ");
            goto done;
        }
        s->p[i] = sk_shim_keep(sk_shim_from_host(buf, shp[i], nd, SK_F32, in->model->device));
        SK_FAIL_IF(!s->p[i], SK_ETORCH, "frozen: %s", sk_error_last());
    }
    *state = s;
    s = NULL;
done:
    free(buf);
    destroy_(s);
    return rc;
}

static int score_(void *state, const sk_seq *seq, const sk_score_args *a, sk_tensor **scores)
{
    (void)a;
    frozen_state *s = state;
    int prev = sk_shim_set_grad_enabled(0); /* frozen: no graph, no updates */
    *scores = sk_scorer_learned_mlp_(s->p, seq);
    sk_shim_set_grad_enabled(prev);
    return *scores ? SK_OK : sk_error_last_code();
}

const sk_scorer_vtable sk_scorer_frozen = {SK_SCORER_VERSION, "frozen", 0, 0, create_, destroy_, score_, NULL,
                                           NULL, NULL, NULL};
