/* sk_select_registry.h - the versioned vtables behind sk_selector: scorers
 * (rate tokens) and strategies (act on the ratings), looked up by name.
 *
 * defines: sk_scorer_vtable, sk_strategy_vtable, sk_scorer_find,
 *          sk_strategy_find, sk_scorer_count/_at/_name_at,
 *          sk_strategy_count/_at/_name_at,
 *          and the helpers the built-in methods share (sk_select_gather_
 *          ..., see below). Owner: selectors/.
 *
 * Adding a scorer = one file selectors/sk_scorer_<name>.c exporting a
 * `const sk_scorer_vtable` plus one line in the table in sk_scorers.c.
 * Lookup checks `version` == SK_SCORER_VERSION / SK_STRATEGY_VERSION: an
 * entry built against another version is refused with SK_EVERSION.
 *
 * Scores: a scorer returns a [B, M] f32 tensor (M = N - n_protected, the
 * unprotected tokens, in sequence order), owned by the caller's scope.
 * Higher = more worth keeping. Protected leading tokens (class token) are
 * never scored and always kept by every strategy.
 */
#ifndef SK_SELECT_REGISTRY_H
#define SK_SELECT_REGISTRY_H

#include <stdint.h>

#include "sk_select.h"
#include "sk_select_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SK_SCORER_VERSION 2u /* 2: optional flops */
#define SK_STRATEGY_VERSION 1u

/* sk_scorer_vtable.flags */
enum {
    SK_SCORER_GATED = 1,        /* scores are logits of a trained predictor: kept tokens are
                                   multiplied by the straight-through gate 1 + p - sg(p) */
    SK_SCORER_MERGE_ONLY = 2,   /* only meaningful with strategy merge (pool) */
    SK_SCORER_RESTORE_ONLY = 4, /* only with strategy drop-restore (random-ltd) */
    SK_SCORER_NEEDS_CLS = 8,    /* needs n_protected >= 1 (attn-cls) */
    SK_SCORER_NEEDS_K = 16,     /* needs the kept count up front: no threshold mode (uniform, pool) */
    SK_SCORER_SEES_LATER = 32,  /* a token's score depends on later tokens (attention it receives):
                                   refused on causal LMs, where it would leak what comes next */
    SK_SCORER_NONNEG = 64,      /* scores are >= 0 and usable as merge weights (select.merge_weight=score) */
    SK_SCORER_PER_BLOCK = 128,  /* with a restoring strategy: a new subset for every block of the span
                                   (random-ltd, as DeepSpeed's RandomLayerTokenDrop): each boundary inside
                                   the span restores the full sequence, then applies again. Without it
                                   (drop-restore with any other scorer) one subset, chosen at the apply
                                   layer, runs through the whole span. */
    SK_SCORER_BLIND = 256       /* scores do not depend on the tokens (random, uniform, random-ltd):
                                   a top-k over them leaks nothing on a causal LM. Any other scorer's
                                   top-k would (a token's rank among later tokens' scores is a
                                   function of the targets), so there drop-restore keeps by
                                   sk_select_causal_keep instead. */
};

/* What a scorer instance is created for (all borrowed for the call). */
typedef struct {
    const sk_select_model *model;
    const sk_select_config *cfg;
    int layer;         /* the block boundary this instance serves */
    sk_generator *gen; /* the selector's RNG (borrowed, outlives the instance) */
} sk_scorer_init;

/* Per-call arguments of score. */
typedef struct {
    int64_t k;         /* unprotected tokens the strategy keeps; -1 in threshold mode */
    int64_t step;      /* training step */
    sk_generator *gen; /* the selector's RNG */
} sk_score_args;

typedef struct {
    unsigned version; /* SK_SCORER_VERSION */
    const char *name;
    unsigned needs; /* SK_SELECT_NEEDS_ATTN / SK_SELECT_NEEDS_KEYS */
    unsigned flags; /* SK_SCORER_* */
    /* Optional: per-instance state (one instance per apply layer). */
    int (*create)(void **state, const sk_scorer_init *init);
    void (*destroy)(void *state);
    /* Required: *scores = [B, M] f32 (caller's scope). */
    int (*score)(void *state, const sk_seq *seq, const sk_score_args *a, sk_tensor **scores);
    /* Optional: needs that depend on the config (norm of keys). Overrides `needs`. */
    unsigned (*needs_for)(const sk_select_config *cfg);
    /* Optional: trainable parameters (borrowed) and their checkpoint names. */
    int (*params)(void *state, sk_tensor *const **p, const char *const **names, int *n);
    /* Optional merge override: for kept [B, K] and dropped [B, M-K] int64
     * indices into the unprotected tokens, *dst = [B, M-K] int64 positions
     * 0..K-1 in the kept set each dropped token merges into. */
    int (*assign)(void *state, const sk_seq *seq, const sk_tensor *kept, const sk_tensor *dropped, sk_tensor **dst);
    /* Optional: auxiliary loss of the last scores (learned: budget term). */
    int (*aux_loss)(void *state, const sk_tensor *scores, double keep, sk_tensor **loss);
    /* Optional: analytic FLOPs per sample of scoring seq (a model the scorer
     * runs, e.g. frozen's proxy LM); NULL = negligible, not counted. */
    double (*flops)(void *state, const sk_seq *seq);
} sk_scorer_vtable;

/* The saved full sequence of a drop-restore span (tensors in the caller's scope). */
typedef struct {
    sk_tensor *x, *sizes, *pos, *attn_bias; /* full sequence at the apply */
    sk_tensor *idx;                         /* [B, K] kept unprotected indices */
    int64_t n_full;                         /* N at the apply */
    int active;
} sk_select_saved;

/* Arguments of a strategy's apply. */
typedef struct {
    const sk_scorer_vtable *scorer;
    void *scorer_state;
    sk_tensor *scores;      /* [B, M] */
    int64_t k;              /* kept unprotected count; -1 in threshold mode */
    double tau;             /* threshold mode */
    sk_select_saved *saved; /* drop-restore slot for this span */
    int fused;              /* merge: select.merge_into = fused */
    int score_weights;      /* merge: select.merge_weight = score (w_t proportional to size_t * s_t) */
    int causal_keep;        /* drop-restore: keep by sk_select_causal_keep, not a top-k (a causal LM
                                with a scorer that is not SK_SCORER_BLIND) */
} sk_strategy_args;

/* sk_strategy_vtable.flags */
enum {
    SK_STRATEGY_THRESHOLD = 1, /* keeps s >= tau: variable length per sample */
    SK_STRATEGY_RESTORES = 2,  /* needs a restore layer */
    SK_STRATEGY_CAUSAL_OK = 4  /* every position gets its output back: allowed for causal LMs */
};

typedef struct {
    unsigned version; /* SK_STRATEGY_VERSION */
    const char *name;
    unsigned flags;
    /* Shrink seq in place (new tensors in the caller's scope). */
    int (*apply)(const sk_strategy_args *a, sk_seq *seq);
    /* SK_STRATEGY_RESTORES: bring the saved tokens back. */
    int (*restore)(sk_select_saved *saved, sk_seq *seq);
} sk_strategy_vtable;

/* Lookup by name: the entry, or NULL with SK_ENOTFOUND ("scorer: 'x' is
 * not one of <registered names> (did you mean ...)") or SK_EVERSION set. */
const sk_scorer_vtable *sk_scorer_find(const char *name);
const sk_strategy_vtable *sk_strategy_find(const char *name);
/* Enumerate the registered entries (tests run every one). *_name_at is
 * the entry's name, NULL past the last: the select.scorer / select.strategy
 * keys' choice_at, so --help and docs/CONFIG.md list what is registered. */
int sk_scorer_count(void);
const sk_scorer_vtable *sk_scorer_at(int i);
const char *sk_scorer_name_at(int i);
int sk_strategy_count(void);
const sk_strategy_vtable *sk_strategy_at(int i);
const char *sk_strategy_name_at(int i);

/* The seed of the generator a scorer draws from at one apply: a hash of the
 * selector seed (run seed + select.seed_offset), the training step, the
 * forward's index within that step (gradient-accumulation micro-batches,
 * from 0) and the layer. sk_selector_apply re-seeds with it every time, so
 * selection randomness is a pure function of these (bit-identical resume). */
uint64_t sk_select_apply_seed(uint64_t seed, int64_t step, int64_t forward, int layer);

/* ---- helpers shared by the built-in methods (sk_select_ops.c) ---------- */

/* Rows of x [B, N, ...] at idx [B, K] along dim 1 -> [B, K, ...]. */
sk_tensor *sk_select_gather_rows(const sk_tensor *x, const sk_tensor *idx);
/* The protected prefix and the unprotected positions idx [B, K] (int64,
 * values < n - p) of a [B, n, ...] tensor as 1-D positions into its
 * [B * n, ...] flattening: row b gives b*n + 0..p-1, then b*n + p + idx[b, j]
 * -> [B * (p + K)] (p = 0: just the flat idx). */
sk_tensor *sk_select_keep_index(const sk_tensor *idx, int64_t p, int64_t n);
/* The rows flat (from sk_select_keep_index) of t [B, n, ...] -> [B, len / B, ...]. */
sk_tensor *sk_select_take_rows(const sk_tensor *t, const sk_tensor *flat);
/* The k highest scores' indices per row of s [B, M], ascending (order kept). */
sk_tensor *sk_select_topk_sorted(const sk_tensor *s, int64_t k);
/* Causal LM: k indices per row of s [B, M], ascending, where whether t is
 * kept depends only on s_0..s_t (never on a later score): t is kept when
 * its score ranks in the top (k - kept so far) / (M - t) of s_0..s_t, or
 * when the rest must all be kept to reach k (sk_select_ops.c). The
 * top-k's causal counterpart; drop-restore uses it on a causal LM for every
 * scorer whose scores read the tokens (not SK_SCORER_BLIND). */
sk_tensor *sk_select_causal_keep(const sk_tensor *s, int64_t k);
/* [B, M] int64: j at the position kept[b, j] of each kept token (kept
 * [B, K], values < M), 0 elsewhere: each kept token's slot. */
sk_tensor *sk_select_kept_slots(const sk_tensor *kept, int64_t m);
/* Split the rows of s [B, M] into the k highest scores' indices *kept
 * [B, k] and the other M - k *dropped [B, M - k], both ascending and
 * disjoint (ties broken by topk). Tensors in the caller's scope. */
int sk_select_split(const sk_tensor *s, int64_t k, sk_tensor **kept, sk_tensor **dropped);
/* Keep the protected prefix and the unprotected rows idx of t [B, N, ...]. */
sk_tensor *sk_select_keep_rows(const sk_tensor *t, int64_t p, const sk_tensor *idx);
/* Mean over heads of keys [B, H, N, Dh] for the rows from p on, contiguous
 * -> [B, N - p, Dh], or NULL with error when keys is NULL. */
sk_tensor *sk_select_keys_mean(const sk_tensor *keys, int64_t p);
/* Straight-through gate for SK_SCORER_GATED scorers: rows [B, p + K, D]
 * (p protected rows first, then the kept tokens idx [B, K]) with the kept
 * rows times 1 + sigmoid(s) - sg(sigmoid(s)): the value is unchanged, the
 * gradient reaches the scores. Other scorers: rows as is. */
sk_tensor *sk_select_gate(const sk_strategy_args *a, const sk_tensor *idx, int64_t p, sk_tensor *rows);
/* Keep the attn_bias [B, 1, 1, N] entries at flat (sk_select_keep_index). */
sk_tensor *sk_select_keep_bias(const sk_tensor *bias, const sk_tensor *flat);
/* Replace seq's x, sizes, pos and attn_bias by their protected prefix and
 * unprotected rows idx [B, K] (x through sk_select_gate): the kept-token
 * step of prune, drop-restore and merge. Tensors in the caller's scope. */
int sk_select_keep_seq(const sk_strategy_args *a, sk_seq *seq, const sk_tensor *idx);
/* For unit-norm metric rows mu [B, M, C]: the position 0..K-1 in the kept
 * set kept [B, K] of the most similar kept row of each dropped row
 * (dropped [B, M-K]) -> [B, M-K] int64. */
sk_tensor *sk_select_nearest_kept(const sk_tensor *mu, const sk_tensor *kept, const sk_tensor *dropped);
/* Rows of x normalised to unit L2 norm along the last dim. */
sk_tensor *sk_select_l2_normalize(const sk_tensor *x);
/* The similarity metric of the unprotected tokens: x [B, N, C] rows at unit
 * L2 norm, without the p protected ones, contiguous -> [B, N - p, C]. */
sk_tensor *sk_select_unit_metric(const sk_tensor *x, int64_t p);

/* The evenly strided (spatially uniform on an image grid) choice of k of the
 * unprotected tokens, as [B, M] scores 1 / 0; shared by the `uniform` and
 * `pool` scorers (sk_scorer_uniform.c). The [1, M] pattern is cached per
 * (M, k) in `c` (zero-initialise; free c->s with sk_tensor_free). */
typedef struct {
    int64_t m, k;
    sk_tensor *s;
} sk_uniform_cache;
int sk_select_uniform_scores(sk_uniform_cache *c, int64_t grid_h, int64_t grid_w, const sk_seq *seq, int64_t k,
                             sk_tensor **scores);

#ifdef __cplusplus
}
#endif
#endif /* SK_SELECT_REGISTRY_H */
