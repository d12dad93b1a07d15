/* sk_select.c - sk_selector: a configured scorer x strategy applied at
 * block boundaries (API in sk_select.h), plus the keep-ratio schedule,
 * per-layer token accounting and the analytic FLOPs model.
 *
 * Schedules follow EViT's keep-rate warm-up (Liang et al., ICLR 2022,
 * cosine) and random-LTD's linear length schedule (Yao et al., 2022). */
#include "sk_select.h"
#include "sk_log.h"
#include "sk_time.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sk_rand.h"
#include "sk_select_config.h"
#include "sk_select_registry.h"

#define MAX_LAYERS 64

struct sk_selector {
    sk_select_config cfg;
    sk_select_model model;
    const sk_scorer_vtable *scorer;
    const sk_strategy_vtable *strategy;
    void *state[MAX_LAYERS];    /* scorer instance per apply layer */
    int apply_at[MAX_LAYERS];   /* 1 at apply layers */
    int restore_at[MAX_LAYERS]; /* 1 at restore layers: the span's end, and every boundary inside a
                                    per-block span (SK_SCORER_PER_BLOCK) */
    int restore_layer;          /* the span's end; -1 when the strategy does not restore */
    unsigned needs;
    sk_generator *gen;
    uint64_t seed;           /* base of the per-apply seeds (sk_select_apply_seed) */
    int64_t gen_step, micro; /* step of the last forward, forwards seen at it */
    sk_select_saved saved;
    sk_tensor *aux; /* summed aux loss of the current forward (scope-owned) */
    int last_layer; /* last boundary seen, to detect a new forward */
    sk_select_stats stats;
    /* flat list of all instances' params for sk_selector_params */
    sk_tensor *params[4 * MAX_LAYERS];
    const char *names[4 * MAX_LAYERS];
    int nparams;
};

/* A setting that keeps every selectable token at the first apply layer,
 * at the start and the end of any keep schedule, makes the selector a
 * no-op: say so (a threshold strategy's kept count depends on the scores). */
static void warn_keeps_all_(const sk_selector *s)
{
    const sk_select_config *c = &s->cfg;
    int64_t mm = s->model.tokens - s->model.n_protected;
    if (s->strategy->flags & SK_STRATEGY_THRESHOLD) return;
    if (c->budget > 0) {
        if (c->budget >= mm)
            SK_LOG_WARN("select.budget = %lld keeps every token: the model has %lld selectable tokens per sample "
                        "(%lld with %d protected), so the selector removes nothing",
                        (long long)c->budget, (long long)mm, (long long)s->model.tokens, s->model.n_protected);
        return;
    }
    int64_t k_end = (int64_t)ceil(c->keep * (double)mm - 1e-9);
    int64_t k_start = c->schedule != SK_SCHEDULE_NONE ? (int64_t)ceil(c->keep_start * (double)mm - 1e-9) : k_end;
    if (k_end >= mm && k_start >= mm)
        SK_LOG_WARN("select.keep = %g%s keeps every token: ceil(keep x %lld selectable tokens) = %lld, so the "
                    "selector removes nothing",
                    c->keep, c->schedule != SK_SCHEDULE_NONE ? " (and select.keep_start)" : "", (long long)mm,
                    (long long)k_end);
}

int sk_selector_create(sk_selector **out, const sk_select_config *cfg, const sk_select_model *m, uint64_t seed)
{
    int rc = SK_OK;
    sk_selector *s = NULL;
    if (!out) return sk_error_set(SK_EINVAL, "sk_selector_create: out is NULL");
    *out = NULL;
    SK_FAIL_IF(!cfg || !m, SK_EINVAL, "sk_selector_create: config or model is NULL");
    if (strcmp(cfg->scorer, "none") == 0 || cfg->scorer[0] == '\0') return SK_OK;

    SK_FAIL_IF(m->depth < 1 || m->depth > MAX_LAYERS, SK_EINVAL, "select: model depth %d outside 1..%d", m->depth,
               MAX_LAYERS);
    SK_FAIL_IF(m->tokens - m->n_protected < 1, SK_EINVAL,
               "select: model has %lld tokens with %d protected: nothing to select", (long long)m->tokens,
               m->n_protected);
    SK_FAIL_IF(!(cfg->keep > 0.0 && cfg->keep <= 1.0), SK_EINVAL, "select.keep: %g is outside (0, 1]", cfg->keep);
    SK_FAIL_IF(cfg->budget < 0, SK_EINVAL, "select.budget: %lld is negative", (long long)cfg->budget);
    /* The enums are checked when a config is parsed; a struct filled by
     * hand gets its range checked here. */
    SK_FAIL_IF((unsigned)cfg->schedule > SK_SCHEDULE_COSINE, SK_EINVAL, "select.schedule: %d is not a schedule",
               cfg->schedule);
    SK_FAIL_IF((unsigned)cfg->norm_source > SK_NORM_KEY, SK_EINVAL, "select.norm_source: %d is not a source",
               cfg->norm_source);
    SK_FAIL_IF(cfg->schedule != SK_SCHEDULE_NONE &&
                   (!(cfg->keep_start > 0.0 && cfg->keep_start <= 1.0) || cfg->schedule_steps < 1),
               SK_EINVAL, "select.keep_start: %g must be in (0, 1] and select.schedule_steps >= 1", cfg->keep_start);

    s = calloc(1, sizeof *s);
    SK_FAIL_IF(!s, SK_ENOMEM, "select: out of memory");
    s->cfg = *cfg;
    s->model = *m;
    s->last_layer = MAX_LAYERS;
    s->scorer = sk_scorer_find(cfg->scorer);
    if (!s->scorer) {
        rc = sk_error_prefix("select."); /* "select.scorer: 'x' is not one of ...", as from a config */
        goto done;
    }
    s->strategy = sk_strategy_find(cfg->strategy);
    if (!s->strategy) {
        rc = sk_error_prefix("select.");
        goto done;
    }
    unsigned sf = s->scorer->flags, tf = s->strategy->flags;
    s->needs = s->scorer->needs_for ? s->scorer->needs_for(cfg) : s->scorer->needs;
    SK_FAIL_IF((sf & SK_SCORER_MERGE_ONLY) && strcmp(s->strategy->name, "merge") != 0, SK_EINVAL,
               "select.scorer: '%s' averages neighbours and works only with select.strategy=merge, not '%s'",
               s->scorer->name, s->strategy->name);
    SK_FAIL_IF((sf & SK_SCORER_RESTORE_ONLY) && !(tf & SK_STRATEGY_RESTORES), SK_EINVAL,
               "select.scorer: '%s' works only with select.strategy=drop-restore, not '%s'", s->scorer->name,
               s->strategy->name);
    SK_FAIL_IF((sf & SK_SCORER_NEEDS_K) && (tf & SK_STRATEGY_THRESHOLD), SK_EINVAL,
               "select.scorer: '%s' needs a kept count (keep or budget), not strategy '%s'", s->scorer->name,
               s->strategy->name);
    SK_FAIL_IF((sf & SK_SCORER_NEEDS_CLS) && m->n_protected < 1, SK_EINVAL,
               "select.scorer: '%s' scores by the class token's attention but the model has no class token",
               s->scorer->name);
    SK_FAIL_IF(m->causal && !(tf & SK_STRATEGY_CAUSAL_OK), SK_EINVAL,
               "select.strategy: '%s' removes positions, but a causal LM needs every position's output: "
               "use drop-restore",
               s->strategy->name);
    SK_FAIL_IF(m->causal && (sf & SK_SCORER_SEES_LATER), SK_EINVAL,
               "select.scorer: '%s' scores a token by what later tokens do with it; on a causal LM the selection "
               "would leak the tokens to be predicted",
               s->scorer->name);
    SK_FAIL_IF((s->needs & SK_SELECT_NEEDS_ATTN) && m->causal && (sf & SK_SCORER_NEEDS_CLS), SK_EINVAL,
               "select.scorer: '%s' needs a class token; a causal LM has none", s->scorer->name);

    SK_FAIL_IF((unsigned)cfg->merge_into > SK_MERGE_FUSED, SK_EINVAL, "select.merge_into: %d is not a mode",
               cfg->merge_into);
    SK_FAIL_IF(cfg->merge_into == SK_MERGE_FUSED && s->scorer->assign, SK_EINVAL,
               "select.merge_into: scorer '%s' chooses merge partners itself; use merge_into=nearest", s->scorer->name);
    SK_FAIL_IF((unsigned)cfg->merge_weight > SK_MERGE_BY_SCORE, SK_EINVAL, "select.merge_weight: %d is not a mode",
               cfg->merge_weight);
    if (cfg->merge_weight == SK_MERGE_BY_SCORE) {
        SK_FAIL_IF(strcmp(s->strategy->name, "merge") != 0, SK_EINVAL,
                   "select.merge_weight=score weights merged tokens; strategy '%s' merges none (use merge)",
                   s->strategy->name);
        SK_FAIL_IF(!(sf & SK_SCORER_NONNEG), SK_EINVAL,
                   "select.merge_weight=score needs nonnegative scores (random, norm, attn-cls, attn-received); "
                   "scorer '%s' has others",
                   s->scorer->name);
    }
    SK_FAIL_IF(cfg->layers.n < 1, SK_EINVAL, "select.layers: empty list");
    for (int i = 0; i < cfg->layers.n; i++) {
        int64_t l = cfg->layers.v[i];
        SK_FAIL_IF(l < 0 || l >= m->depth, SK_EINVAL,
                   "select.layers: layer %lld is out of range 0..%d (model depth %d)", (long long)l, m->depth - 1,
                   m->depth);
        SK_FAIL_IF(i > 0 && l <= cfg->layers.v[i - 1], SK_EINVAL,
                   "select.layers: must be strictly increasing (%lld after %lld)", (long long)l,
                   (long long)cfg->layers.v[i - 1]);
        SK_FAIL_IF(l == 0 && (s->needs & (SK_SELECT_NEEDS_ATTN | SK_SELECT_NEEDS_KEYS)), SK_EINVAL,
                   "select.layers: scorer '%s' needs the %s of the previous block, but layer 0 has no block "
                   "before it",
                   s->scorer->name, (s->needs & SK_SELECT_NEEDS_ATTN) ? "attention" : "keys");
        s->apply_at[l] = 1;
    }
    s->restore_layer = -1;
    if (tf & SK_STRATEGY_RESTORES) {
        SK_FAIL_IF(cfg->layers.n != 1, SK_EINVAL, "select.layers: drop-restore takes exactly one apply layer (got %d)",
                   cfg->layers.n);
        int64_t r = cfg->restore_layer < 0 ? m->depth - 1 : cfg->restore_layer;
        /* the default (depth - 1) is not the user's: name the key they set */
        SK_FAIL_IF(cfg->restore_layer < 0 && r <= cfg->layers.v[0], SK_EINVAL,
                   "select.layers: drop-restore applies at layer %lld, which leaves no later block to restore at "
                   "(the model's last block is %d); choose a layer below %d",
                   (long long)cfg->layers.v[0], m->depth - 1, m->depth - 1);
        SK_FAIL_IF(r <= cfg->layers.v[0] || r >= m->depth, SK_EINVAL,
                   "select.restore_layer: %lld must be after the apply layer %lld and at most %d (depth - 1)",
                   (long long)r, (long long)cfg->layers.v[0], m->depth - 1);
        s->restore_layer = (int)r;
        s->restore_at[r] = 1;
        /* random-LTD: a new subset before every block of the span */
        for (int l = (int)cfg->layers.v[0] + 1; (sf & SK_SCORER_PER_BLOCK) && l < r; l++)
            s->apply_at[l] = s->restore_at[l] = 1;
    }

    s->seed = seed + (uint64_t)cfg->seed_offset;
    s->gen_step = -1;
    SK_TRY(sk_generator_create(&s->gen, s->seed, SK_CPU));
    for (int l = 0; l < m->depth; l++) {
        if (!s->apply_at[l]) continue;
        if (s->scorer->create) {
            sk_scorer_init in = {m, cfg, l, s->gen};
            rc = s->scorer->create(&s->state[l], &in);
            if (rc < 0) {
                sk_error_prefix("select.scorer '%s' at layer %d: ", s->scorer->name, l);
                goto done;
            }
        }
        if (s->scorer->params) {
            sk_tensor *const *p = NULL;
            const char *const *nm = NULL;
            int n = 0;
            SK_TRY(s->scorer->params(s->state[l], &p, &nm, &n));
            for (int j = 0; j < n && s->nparams < 4 * MAX_LAYERS; j++) {
                s->params[s->nparams] = p[j];
                s->names[s->nparams++] = nm[j];
            }
        }
    }
    warn_keeps_all_(s);
    s->stats.depth = m->depth;
    s->stats.tokens_full = m->tokens;
    for (int l = 0; l < m->depth; l++) {
        s->stats.tokens_in[l] = m->tokens;
        s->stats.tokens_real[l] = (double)m->tokens;
    }
    *out = s;
    s = NULL;
done:
    sk_selector_free(s);
    return rc;
}

void sk_selector_free(sk_selector *sel)
{
    if (!sel) return;
    for (int l = 0; l < MAX_LAYERS; l++)
        if (sel->state[l] && sel->scorer && sel->scorer->destroy) sel->scorer->destroy(sel->state[l]);
    sk_generator_free(sel->gen);
    free(sel);
}

int sk_selector_wants(const sk_selector *sel, int layer)
{
    if (!sel || layer < 0 || layer >= sel->model.depth) return 0;
    int w = 0;
    if (sel->apply_at[layer]) w |= SK_SELECT_APPLY | (int)sel->needs;
    if (sel->restore_at[layer]) w |= SK_SELECT_RESTORE;
    return w;
}

double sk_selector_keep_at(const sk_selector *sel, int64_t step)
{
    if (!sel) return 1.0;
    const sk_select_config *c = &sel->cfg;
    if (c->schedule == SK_SCHEDULE_NONE) return c->keep;
    double t = step <= 0 ? 0.0 : (double)step / (double)c->schedule_steps;
    if (t > 1.0) t = 1.0;
    double f = c->schedule == SK_SCHEDULE_COSINE ? 0.5 * (1.0 - cos(3.14159265358979323846 * t)) : t;
    return c->keep_start + (c->keep - c->keep_start) * f;
}

/* Block boundaries from `layer` on see n tokens (real: mean non-padding). */
static void account_(sk_selector *sel, int layer, int64_t n, double real)
{
    for (int l = layer; l < sel->model.depth; l++) {
        sel->stats.tokens_in[l] = n;
        sel->stats.tokens_real[l] = real;
    }
}

static int real_tokens_(const sk_seq *seq, int64_t n, double *real)
{
    *real = (double)n;
    if (!seq->attn_bias) return SK_OK;
    /* padding entries are -inf: count finite ones */
    sk_tensor *fin = sk_shim_gt_scalar(seq->attn_bias, -1e30);
    sk_tensor *cnt = sk_shim_mean(sk_shim_sum(sk_shim_to(fin, SK_CPU, SK_F64), (int64_t[]){-1}, 1, 0), NULL, 0, 0);
    if (!cnt) return sk_error_last_code();
    return sk_shim_item(cnt, real);
}

/* Selection randomness is a pure function of (seed, step, forward within the
 * step, layer): the generator is re-seeded at every apply, so a run resumed
 * from a checkpoint draws exactly what the uninterrupted run drew, with no
 * RNG state to save. The forward index keeps gradient-accumulation
 * micro-batches of one step from sharing a draw. The generator made at
 * create (from the seed itself) only initialises scorer parameters. */
uint64_t sk_select_apply_seed(uint64_t seed, int64_t step, int64_t forward, int layer)
{
    uint64_t h = sk_splitmix64(seed);
    h = sk_splitmix64(h ^ (uint64_t)step);
    h = sk_splitmix64(h ^ (uint64_t)forward);
    return sk_splitmix64(h ^ (uint64_t)layer);
}

int sk_selector_apply(sk_selector *sel, int layer, int64_t step, sk_seq *seq)
{
    int rc = SK_OK;
    if (!sel) return SK_OK;
    double t0 = sk_now();
    SK_FAIL_IF(!seq || !seq->x, SK_EINVAL, "sk_selector_apply: seq or seq.x is NULL");
    SK_FAIL_IF(layer < 0 || layer >= sel->model.depth || !sel->apply_at[layer], SK_EINVAL,
               "sk_selector_apply: layer %d is not in select.layers", layer);
    if (layer <= sel->last_layer) { /* a new forward pass */
        sel->aux = NULL;
        sel->stats.select_seconds = 0.0;
        sel->stats.scorer_flops = 0.0;
        sel->stats.forwards++;
        memset(&sel->saved, 0, sizeof sel->saved);
        account_(sel, 0, sel->model.tokens, (double)sel->model.tokens);
        if (step != sel->gen_step) {
            sel->gen_step = step;
            sel->micro = 0;
        } else {
            sel->micro++;
        }
    }
    sel->last_layer = layer;
    sk_generator_free(sel->gen);
    sel->gen = NULL;
    SK_TRY(sk_generator_create(&sel->gen, sk_select_apply_seed(sel->seed, step, sel->micro, layer), SK_CPU));
    SK_FAIL_IF(sk_shim_ndim(seq->x) != 3, SK_EINVAL, "sk_selector_apply: seq.x must be [B, N, D]");
    int64_t n = sk_shim_size(seq->x, 1), p = seq->n_protected;
    int64_t mm = n - p;
    SK_FAIL_IF(p < 0 || mm < 1, SK_EINVAL, "sk_selector_apply: %lld tokens with %lld protected at layer %d",
               (long long)n, (long long)p, layer);
    SK_FAIL_IF((sel->needs & SK_SELECT_NEEDS_ATTN) && !seq->attn, SK_EINVAL,
               "sk_selector_apply: scorer '%s' needs seq.attn of block %d", sel->scorer->name, layer - 1);
    SK_FAIL_IF((sel->needs & SK_SELECT_NEEDS_KEYS) && !seq->keys, SK_EINVAL,
               "sk_selector_apply: scorer '%s' needs seq.keys of block %d", sel->scorer->name, layer - 1);

    int64_t k = -1;
    if (!(sel->strategy->flags & SK_STRATEGY_THRESHOLD)) {
        if (sel->cfg.budget > 0) {
            k = sel->cfg.budget < mm ? sel->cfg.budget : mm;
        } else {
            double keep = sk_selector_keep_at(sel, step);
            k = (int64_t)ceil(keep * (double)mm - 1e-9);
            if (k < 1) k = 1;
            if (k > mm) k = mm;
        }
    }
    sk_score_args sa = {k, step, sel->gen};
    sk_tensor *scores = NULL;
    /* scores only pick indices: no graph unless a gated scorer trains through them */
    int gated = (sel->scorer->flags & SK_SCORER_GATED) != 0;
    int prev_grad = gated ? 1 : sk_shim_set_grad_enabled(0);
    rc = sel->scorer->score(sel->state[layer], seq, &sa, &scores);
    if (!gated) sk_shim_set_grad_enabled(prev_grad);
    if (rc < 0 || !scores) {
        if (rc >= 0) rc = sk_error_last_code() < 0 ? sk_error_last_code() : SK_ETORCH;
        sk_error_prefix("select: scorer '%s' at layer %d: ", sel->scorer->name, layer);
        goto done;
    }
    if (sel->scorer->flops) sel->stats.scorer_flops += sel->scorer->flops(sel->state[layer], seq);
    SK_FAIL_IF(sk_shim_ndim(scores) != 2 || sk_shim_size(scores, 1) != mm, SK_EINVAL,
               "select: scorer '%s' returned scores of the wrong shape (want [B, %lld])", sel->scorer->name,
               (long long)mm);
    if (sel->scorer->aux_loss && seq->training) {
        sk_tensor *l = NULL;
        SK_TRY(sel->scorer->aux_loss(sel->state[layer], scores, sk_selector_keep_at(sel, step), &l));
        sel->aux = sel->aux ? sk_shim_add(sel->aux, l) : l;
        SK_FAIL_IF(!sel->aux, SK_ETORCH, "select: aux loss: %s", sk_error_last());
    }
    sk_strategy_args a = {sel->scorer,
                          sel->state[layer],
                          scores,
                          k,
                          sel->cfg.tau,
                          &sel->saved,
                          sel->cfg.merge_into == SK_MERGE_FUSED,
                          sel->cfg.merge_weight == SK_MERGE_BY_SCORE,
                          (sel->model.causal || seq->causal) && !(sel->scorer->flags & SK_SCORER_BLIND)};
    rc = sel->strategy->apply(&a, seq);
    if (rc < 0) {
        sk_error_prefix("select: strategy '%s' at layer %d: ", sel->strategy->name, layer);
        goto done;
    }
    double real = 0;
    int64_t n2 = sk_shim_size(seq->x, 1);
    SK_TRY(real_tokens_(seq, n2, &real));
    account_(sel, layer, n2, real);
done:
    sel->stats.select_seconds += sk_now() - t0;
    return rc;
}

int sk_selector_restore(sk_selector *sel, int layer, sk_seq *seq)
{
    int rc = SK_OK;
    if (!sel) return SK_OK;
    double t0 = sk_now();
    SK_FAIL_IF(layer < 0 || layer >= sel->model.depth || !sel->restore_at[layer] || !sel->strategy->restore, SK_EINVAL,
               "sk_selector_restore: layer %d is not a restore layer", layer);
    SK_FAIL_IF(!seq || !sel->saved.active, SK_EINVAL,
               "sk_selector_restore: no tokens saved (apply at layer %lld was not called in this forward)",
               (long long)sel->cfg.layers.v[0]);
    SK_TRY(sel->strategy->restore(&sel->saved, seq));
    /* inside a per-block span the apply that follows at this layer belongs to the same forward */
    if (layer == sel->restore_layer) sel->last_layer = layer;
    account_(sel, layer, sk_shim_size(seq->x, 1), (double)sk_shim_size(seq->x, 1));
done:
    sel->stats.select_seconds += sk_now() - t0;
    return rc;
}

int sk_selector_params(sk_selector *sel, sk_tensor *const **params, const char *const **names, int *n)
{
    if (!params || !names || !n) return sk_error_set(SK_EINVAL, "sk_selector_params: NULL output");
    *params = NULL;
    *names = NULL;
    *n = 0;
    if (!sel || sel->nparams == 0) return SK_OK;
    *params = sel->params;
    *names = sel->names;
    *n = sel->nparams;
    return SK_OK;
}

void sk_selector_stats(const sk_selector *sel, sk_select_stats *out)
{
    if (!out) return;
    if (!sel) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = sel->stats;
}

int sk_selector_aux_loss(sk_selector *sel, sk_tensor **loss)
{
    if (!loss) return sk_error_set(SK_EINVAL, "sk_selector_aux_loss: loss is NULL");
    *loss = sel ? sel->aux : NULL;
    return SK_OK;
}

double sk_select_flops(const sk_select_model *m, double mlp_ratio, const int64_t *tokens_in)
{
    if (!m) return 0.0;
    double d = (double)m->width, total = 0.0;
    for (int l = 0; l < m->depth; l++) {
        double nn = (double)(tokens_in ? tokens_in[l] : m->tokens);
        total += 8.0 * nn * d * d + 4.0 * nn * nn * d + 4.0 * mlp_ratio * nn * d * d;
    }
    return 3.0 * total;
}

double sk_selector_flops(const sk_selector *sel, double mlp_ratio)
{
    if (!sel) return 0.0;
    return sk_select_flops(&sel->model, mlp_ratio, sel->stats.tokens_in) + sel->stats.scorer_flops;
}
