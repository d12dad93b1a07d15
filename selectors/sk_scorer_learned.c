/* sk_scorer_learned.c - scorer "learned" (training-aware): a small MLP
 * predictor LN -> Linear(D, H) -> GELU -> Linear(H, 1) rates each token,
 * trained jointly with the model. The sequence is physically shrunk in
 * training too: the strategy keeps the top-k logits and multiplies the kept
 * tokens by the straight-through gate 1 + sigmoid(s) - sg(sigmoid(s))
 * (value 1, gradient d/ds sigmoid(s)), so the task loss reaches the
 * predictor through the tokens it kept; the budget term budget_weight *
 * (mean sigmoid(s) - keep)^2 (sk_selector_aux_loss) ties the keep
 * probabilities to the budget. Predictor after DynamicViT (Rao et al.,
 * NeurIPS 2021, PredictorLG; its ratio loss), but where DynamicViT masks
 * attention in training (no speedup, its issue #38) we drop the tokens. One
 * predictor per apply layer; parameters are named
 * "selector.learned.l<layer>.{ln_w,ln_b,w1,b1,w2,b2}" for checkpoints
 * (sk_selector_params; loading is copying into those tensors). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sk_select_registry.h"

#define NP 6

typedef struct {
    sk_tensor *p[NP]; /* ln_w [D], ln_b [D], w1 [H, D], b1 [H], w2 [1, H], b2 [1] */
    char names[NP][64];
    const char *name_ptr[NP];
    double budget_weight;
} learned_state;

static void destroy_(void *state)
{
    learned_state *s = state;
    if (!s) return;
    for (int i = 0; i < NP; i++) sk_tensor_free(s->p[i]);
    free(s);
}

static int create_(void **state, const sk_scorer_init *in)
{
    int rc = SK_OK;
    learned_state *s = calloc(1, sizeof *s);
    SK_FAIL_IF(!s, SK_ENOMEM, "learned: out of memory");
    int64_t d = in->model->width, h = d / 4 < 8 ? 8 : d / 4;
    SK_FAIL_IF(d < 1, SK_EINVAL, "learned: model width %lld", (long long)d);
    sk_device dev = in->model->device;
    static const char *const nm[NP] = {"ln_w", "ln_b", "w1", "b1", "w2", "b2"};
    s->p[0] = sk_shim_ones((int64_t[]){d}, 1, SK_F32, dev);
    s->p[1] = sk_shim_zeros((int64_t[]){d}, 1, SK_F32, dev);
    s->p[2] = sk_shim_to(
        sk_shim_mul_scalar(sk_shim_randn((int64_t[]){h, d}, 2, SK_F32, SK_CPU, in->gen), 1.0 / sqrt((double)d)), dev,
        SK_F32);
    s->p[3] = sk_shim_zeros((int64_t[]){h}, 1, SK_F32, dev);
    s->p[4] = sk_shim_to(
        sk_shim_mul_scalar(sk_shim_randn((int64_t[]){1, h}, 2, SK_F32, SK_CPU, in->gen), 1.0 / sqrt((double)h)), dev,
        SK_F32);
    s->p[5] = sk_shim_zeros((int64_t[]){1}, 1, SK_F32, dev);
    for (int i = 0; i < NP; i++) {
        /* contiguous copies detached from any scope, leaves of the graph */
        s->p[i] = sk_shim_keep(sk_shim_contiguous(sk_shim_clone(s->p[i])));
        SK_FAIL_IF(!s->p[i], SK_ETORCH, "learned: %s", sk_error_last());
        SK_TRY(sk_shim_set_requires_grad(s->p[i], 1));
        snprintf(s->names[i], sizeof s->names[i], "selector.learned.l%d.%s", in->layer, nm[i]);
        s->name_ptr[i] = s->names[i];
    }
    s->budget_weight = in->cfg->budget_weight;
    *state = s;
    s = NULL;
done:
    destroy_(s);
    return rc;
}

/* The predictor on the unprotected tokens -> [B, M] logits (shared with
 * scorer "frozen", which loads the same six tensors from a checkpoint). */
sk_tensor *sk_scorer_learned_mlp_(sk_tensor *const *p, const sk_seq *seq);
sk_tensor *sk_scorer_learned_mlp_(sk_tensor *const *p, const sk_seq *seq)
{
    int64_t np = seq->n_protected, n = sk_shim_size(seq->x, 1);
    /* run on the whole (contiguous) sequence and drop the protected logits
     * after: libtorch 1.13's layer norm and linear on the strided slice
     * without them are 2-3x slower than on all N rows */
    sk_tensor *h = sk_shim_layer_norm(seq->x, p[0], p[1], 1e-5);
    h = sk_shim_gelu(sk_shim_linear(h, p[2], p[3]));
    return sk_shim_slice(sk_shim_squeeze(sk_shim_linear(h, p[4], p[5]), -1), 1, np, n);
}

static int score_(void *state, const sk_seq *seq, const sk_score_args *a, sk_tensor **scores)
{
    (void)a;
    learned_state *s = state;
    *scores = sk_scorer_learned_mlp_(s->p, seq);
    return *scores ? SK_OK : sk_error_last_code();
}

static int params_(void *state, sk_tensor *const **p, const char *const **names, int *n)
{
    learned_state *s = state;
    *p = s->p;
    *names = s->name_ptr;
    *n = NP;
    return SK_OK;
}

static int aux_loss_(void *state, const sk_tensor *scores, double keep, sk_tensor **loss)
{
    learned_state *s = state;
    sk_tensor *dev = sk_shim_add_scalar(sk_shim_mean(sk_shim_sigmoid(scores), NULL, 0, 0), -keep);
    *loss = sk_shim_mul_scalar(sk_shim_mul(dev, dev), s->budget_weight);
    return *loss ? SK_OK : sk_error_last_code();
}

const sk_scorer_vtable sk_scorer_learned = {
    .version = SK_SCORER_VERSION,
    .name = "learned",
    .flags = SK_SCORER_GATED,
    .create = create_,
    .destroy = destroy_,
    .score = score_,
    .params = params_,
    .aux_loss = aux_loss_,
};
