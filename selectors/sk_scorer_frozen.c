/* sk_scorer_frozen.c - scorer "frozen" (training-agnostic): a scoring model
 * loaded from a safetensors file and never updated. Two kinds, chosen by the
 * model the selector serves:
 *
 * Images (and any non-causal model): a scorer network, the learned scorer's
 * predictor (LN -> Linear -> GELU -> Linear -> logit). A checkpoint written
 * from a "learned" run (tensors "selector.learned.l<N>.{ln_w,ln_b,w1,b1,w2,
 * b2}", sk_selector_params names) serves as a frozen scorer for another
 * run; select.checkpoint_layer picks which layer's predictor.
 *
 * Text (causal LM): a small proxy language model trained by shrink itself
 * (the model.safetensors a `shrink train` GPT run writes), loaded through
 * the model owner's sk_select_lm_vtable. A position's score is the
 * surprisal of its own token under the proxy, -log p_proxy(x_t | x_<t), in
 * nats (the first position, with no context, scores highest): with
 * drop-restore, the surprising tokens get the full depth and the
 * predictable ones skip the middle blocks. Scoring tokens by a frozen
 * reference LM's loss follows Rho-1 (Lin et al., "Not All Tokens Are What
 * You Need", NeurIPS 2024), which uses it to choose the tokens that are
 * trained; here it chooses the tokens that are computed.
 *
 * Why the input token and not the target: a position's score must depend
 * on x_<=t only. Scoring t by the proxy's loss on x_{t+1} tells the model,
 * through whether t went through the middle blocks, how hard its own next
 * token is: a leak of the target (measured: the training loss fell well
 * below the full model's). The top-k over these scores would still not be
 * causal: whether t is kept would depend on its rank among later tokens'
 * scores, among them the surprisal of t's own target x_{t+1}: the
 * non-causality of Mixture-of-Depths routing (Raposo et al. 2024). So on a
 * causal LM drop-restore keeps by sk_select_causal_keep, which decides t
 * from the scores up to t only.
 *
 * Scoring runs without autograd and sk_selector_params returns nothing, so
 * the optimizer never sees the frozen model. Training-agnostic scoring with
 * a fixed proxy is the data-centric survey's "training-agnostic" class
 * (Liu et al., arXiv 2505.19147). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_safetensors.h"
#include "sk_select_registry.h"

sk_tensor *sk_scorer_learned_mlp_(sk_tensor *const *p, const sk_seq *seq);

typedef struct {
    sk_tensor *p[6];                /* scorer network (images) */
    const sk_select_lm_vtable *lmv; /* proxy LM (text) */
    sk_select_lm *lm;
} frozen_state;

static void destroy_(void *state)
{
    frozen_state *s = state;
    if (!s) return;
    for (int i = 0; i < 6; i++) sk_tensor_free(s->p[i]);
    if (s->lmv) s->lmv->close(s->lm);
    free(s);
}

/* Tensor name of st as an F32 tensor of the given shape on dev. */
static int load_f32_(const sk_safetensors *st, const char *path, const char *name, const int64_t *shape, int nd,
                     sk_device dev, float *buf, size_t cap, sk_tensor **out)
{
    int rc = SK_OK;
    const sk_safetensors_entry *e = sk_safetensors_find(st, name);
    SK_FAIL_IF(!e, SK_ENOTFOUND, "%s: no tensor '%s'", path, name);
    int same = !strcmp(e->dtype, "F32") && e->ndim == nd;
    for (int d = 0; same && d < nd; d++) same = e->shape[d] == shape[d];
    char want[64];
    if (nd > 1)
        snprintf(want, sizeof want, "[%lld, %lld]", (long long)shape[0], (long long)shape[1]);
    else
        snprintf(want, sizeof want, "[%lld]", (long long)shape[0]);
    SK_FAIL_IF(!same, SK_EINVAL, "%s: tensor '%s' is %s of %d dims, the scorer needs F32 %s", path, name, e->dtype,
               e->ndim, want);
    SK_TRY(sk_safetensors_read(st, e, buf, cap));
    *out = sk_shim_keep(sk_shim_from_host(buf, shape, nd, SK_F32, dev));
    SK_FAIL_IF(!*out, SK_ETORCH, "frozen: %s", sk_error_last());
done:
    return rc;
}

/* The file must hold a learned scorer's network for `layer`: say what kind
 * of file it is otherwise (a shrink GPT's model.safetensors, which is the
 * proxy of *text* runs, or a network saved for other layers). */
static int network_kind_(const sk_safetensors *st, const char *path, int layer)
{
    char want[96];
    snprintf(want, sizeof want, "selector.learned.l%d.ln_w", layer);
    if (sk_safetensors_find(st, want)) return SK_OK;
    if (sk_safetensors_meta(st, "shrink.gpt.vocab"))
        return sk_error_set(SK_EINVAL,
                            "%s is a shrink GPT's model.safetensors (the proxy LM of frozen on a text run); "
                            "frozen on images needs a learned scorer's network (tensors selector.learned.l<N>.*, "
                            "from the model.safetensors of a select.scorer=learned run)",
                            path);
    for (int i = 0; i < sk_safetensors_count(st); i++) {
        const char *n = sk_safetensors_at(st, i)->name;
        int l;
        if (sscanf(n, "selector.learned.l%d.", &l) == 1)
            return sk_error_set(SK_ENOTFOUND,
                                "%s: holds a learned scorer's network for layer %d, not for layer %d (no tensor "
                                "'%s'; set select.checkpoint_layer=%d, or select.layers to the layers it was "
                                "trained at)",
                                path, l, layer, want, l);
    }
    return sk_error_set(SK_EINVAL,
                        "%s holds no learned scorer's network (no tensor selector.learned.l%d.*; %d tensors, the "
                        "first '%s'): frozen on images needs the model.safetensors of a select.scorer=learned run",
                        path, layer, sk_safetensors_count(st),
                        sk_safetensors_count(st) ? sk_safetensors_at(st, 0)->name : "");
}

static int load_network_(frozen_state *s, const sk_scorer_init *in)
{
    int rc = SK_OK;
    float *buf = NULL;
    sk_safetensors *st = NULL;
    const char *path = in->cfg->checkpoint;
    int64_t d = in->model->width, h = d / 4 < 8 ? 8 : d / 4;
    int layer = in->cfg->checkpoint_layer >= 0 ? (int)in->cfg->checkpoint_layer : in->layer;
    static const char *const nm[6] = {"ln_w", "ln_b", "w1", "b1", "w2", "b2"};
    const int64_t shp[6][2] = {{d, 0}, {d, 0}, {h, d}, {h, 0}, {1, h}, {1, 0}};
    size_t cap = sizeof(float) * (size_t)(h * d);
    buf = malloc(cap);
    SK_FAIL_IF(!buf, SK_ENOMEM, "frozen: out of memory");
    rc = sk_safetensors_open(&st, path);
    if (rc >= 0) rc = network_kind_(st, path, layer);
    for (int i = 0; i < 6 && rc >= 0; i++) {
        char name[96];
        snprintf(name, sizeof name, "selector.learned.l%d.%s", layer, nm[i]);
        rc = load_f32_(st, path, name, shp[i], shp[i][1] ? 2 : 1, in->model->device, buf, cap, &s->p[i]);
    }
    if (rc < 0) sk_error_prefix("select.checkpoint: ");
done:
    sk_safetensors_free(st);
    free(buf);
    return rc;
}

static int create_(void **state, const sk_scorer_init *in)
{
    int rc = SK_OK;
    const sk_select_model *m = in->model;
    frozen_state *s = calloc(1, sizeof *s);
    SK_FAIL_IF(!s, SK_ENOMEM, "frozen: out of memory");
    SK_FAIL_IF(in->cfg->checkpoint[0] == '\0', SK_EINVAL,
               "select.checkpoint: scorer 'frozen' needs a safetensors file with its %s",
               m->causal ? "proxy LM (a shrink GPT run's model.safetensors)" : "network");
    if (m->causal) {
        SK_FAIL_IF(!m->lm || m->lm->version != SK_SELECT_LM_VERSION, SK_EINVAL,
                   "select.scorer: 'frozen' on a causal LM needs the model to load a frozen proxy LM, and this "
                   "model provides no loader (version %u)",
                   m->lm ? m->lm->version : 0u);
        rc = m->lm->open(in->cfg->checkpoint, m->vocab, m->tokens, m->device, &s->lm);
        if (rc < 0) {
            sk_error_prefix("select.checkpoint: ");
            goto done;
        }
        s->lmv = m->lm;
    } else {
        SK_TRY(load_network_(s, in));
    }
    *state = s;
    s = NULL;
done:
    destroy_(s);
    return rc;
}

/* Surprisal of the token at the original position of each unprotected
 * token: the proxy's loss at position t-1 scores token t; token 0 has no
 * context and gets a score above any loss (always kept first). */
#define FIRST_SCORE_ 1e9
static sk_tensor *surprisal_(frozen_state *s, const sk_seq *seq)
{
    if (!seq->windows || !seq->pos) {
        sk_error_set(SK_EINVAL, "frozen: a causal LM's sequence carries no token windows (seq.windows)");
        return NULL;
    }
    sk_tensor *nll = NULL;
    if (s->lmv->next_token_nll(s->lm, seq->windows, &nll) < 0) return NULL;
    int64_t b = sk_shim_size(nll, 0), t = sk_shim_size(nll, 1);
    sk_tensor *parts[2] = {sk_shim_full((int64_t[]){b, 1}, 2, FIRST_SCORE_, SK_F32, sk_shim_device(nll)),
                           sk_shim_slice(nll, 1, 0, t - 1)};
    sk_tensor *tok = sk_shim_cat(parts, 2, 1); /* [B, T]: surprisal of input token t */
    int64_t np = seq->n_protected, n = sk_shim_size(seq->pos, 1);
    return sk_shim_gather(tok, 1, sk_shim_slice(seq->pos, 1, np, n));
}

static int score_(void *state, const sk_seq *seq, const sk_score_args *a, sk_tensor **scores)
{
    (void)a;
    frozen_state *s = state;
    int prev = sk_shim_set_grad_enabled(0); /* frozen: no graph, no updates */
    *scores = s->lm ? surprisal_(s, seq) : sk_scorer_learned_mlp_(s->p, seq);
    sk_shim_set_grad_enabled(prev);
    return *scores ? SK_OK : sk_error_last_code();
}

/* The proxy LM's forward over the whole window, once per apply; the image
 * network (two small linears per token) is negligible and not counted. */
static double flops_(void *state, const sk_seq *seq)
{
    frozen_state *s = state;
    if (!s->lm || !seq->windows) return 0.0;
    return s->lmv->flops(s->lm, sk_shim_size(seq->windows, 1) - 1);
}

const sk_scorer_vtable sk_scorer_frozen = {
    .version = SK_SCORER_VERSION,
    .name = "frozen",
    .create = create_,
    .destroy = destroy_,
    .score = score_,
    .flops = flops_,
};
