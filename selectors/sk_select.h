/* sk_select.h - what a model calls between transformer blocks to shrink the
 * sequence: the contract between trainer/ and selectors/.
 *
 * defines: sk_seq (the sequence state between two blocks), sk_selector (a
 *          configured scorer x strategy applied at some layers), and the
 *          calls a model makes: sk_selector_create / _free / _wants /
 *          _apply / _restore / _params / _stats.
 *
 * A model with L blocks calls, for each block boundary l = 0..L-1 (before
 * block l runs):
 *
 *     if (sk_selector_wants(sel, l) & SK_SELECT_RESTORE) sk_selector_restore(sel, l, &seq);
 *     if (sk_selector_wants(sel, l) & SK_SELECT_APPLY)   sk_selector_apply(sel, l, step, &seq);
 *
 * (restore first: a boundary may want both, see below) and, when
 * sk_selector_wants(sel, l) says SK_SELECT_NEEDS_ATTN or SK_SELECT_NEEDS_KEYS,
 * fills seq.attn / seq.keys from block l-1 (the block just run) before the
 * call. Layer 0 never has attention (no block ran yet):
 * sk_selector_create rejects a configuration that asks for it there.
 *
 * Drop-and-restore spans (strategy drop-restore, apply layer a, restore
 * layer r): with most scorers one subset is chosen before block a and runs
 * through blocks a..r-1. Scorer random-ltd draws a new one for every block,
 * as DeepSpeed's random-LTD does (each block gathers its own sorted random
 * subset of the full sequence and scatters its output back; the others
 * pass that block unchanged): every boundary a < l < r then wants RESTORE
 * and APPLY, and the draw at l is seeded by l (sk_select_apply_seed).
 *
 * Tensors in sk_seq are borrowed from / returned into the caller's current
 * shim scope: apply and restore replace seq->x, seq->sizes, seq->pos with
 * new scope-owned tensors and never free the old ones.
 */
#ifndef SK_SELECT_H
#define SK_SELECT_H

#include <stdint.h>

#include "sk_shim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_selector sk_selector;

/* The sequence between two blocks. */
typedef struct {
    sk_tensor *x;     /* [B, N, D] hidden states */
    sk_tensor *sizes; /* [B, N] f32: original tokens each token stands for (merging); NULL = all ones */
    sk_tensor *pos;   /* [B, N] int64: original position of each token */
    sk_tensor *attn;  /* [B, H, N, N] attention probs of the block just run, or NULL */
    sk_tensor *keys;  /* [B, H, N, Dh] keys of the block just run, or NULL */
    int n_protected;  /* leading tokens that are never dropped or merged away (class token: 1) */
    int causal;       /* causal LM: every position needs its output back (drop-and-restore) */
    int training;     /* 1 in training steps, 0 in evaluation */
    /* Added by selectors (at the end so existing initialisers still work):
     * additive key-padding bias [B, 1, 1, N] f32 (0 = real token, -inf =
     * padding) set by strategy prune-threshold, whose kept count varies per
     * sample; NULL = no padding. The model adds it (plus log(sizes) when
     * sizes != NULL, "proportional attention") to its attention logits:
     * sdpa(q, k, v, attn_bias + log(sizes)[:, None, None, :]). */
    sk_tensor *attn_bias;
    /* Causal LM only: the int64 [B, T+1] token windows of this forward
     * (inputs [:, :T], next-token targets [:, 1:]), borrowed; NULL for
     * images. Scorers that read tokens rather than hidden states (frozen
     * LM surprisal) index them through seq.pos. */
    sk_tensor *windows;
} sk_seq;

/* Bits returned by sk_selector_wants. */
enum {
    SK_SELECT_APPLY = 1,      /* call sk_selector_apply before block l */
    SK_SELECT_RESTORE = 2,    /* call sk_selector_restore before block l */
    SK_SELECT_NEEDS_ATTN = 4, /* seq.attn must hold block l-1's attention probs */
    SK_SELECT_NEEDS_KEYS = 8  /* seq.keys must hold block l-1's keys */
};

/* A frozen language model that training-agnostic scorers read on text.
 * selectors/ sits below the models in the dependency order, so the model
 * owner (trainer/: the GPT, sk_gpt_lm.c) provides the loader through
 * sk_select_model.lm; a scorer that needs one on a causal LM and finds
 * none refuses to be created. */
#define SK_SELECT_LM_VERSION 1u
typedef struct sk_select_lm sk_select_lm;
typedef struct {
    unsigned version; /* SK_SELECT_LM_VERSION */
    /* Load the LM saved in the safetensors file `path` for a model whose
     * tokens are < vocab and whose windows hold up to seq_len inputs;
     * *out is the caller's (close). Errors name the file and what does not
     * fit. */
    int (*open)(const char *path, int64_t vocab, int64_t seq_len, sk_device dev, sk_select_lm **out);
    /* Next-token loss in nats at every input position, without autograd:
     * windows int64 [B, T+1] -> *nll [B, T] f32 in the caller's scope. */
    int (*next_token_nll)(sk_select_lm *lm, const sk_tensor *windows, sk_tensor **nll);
    void (*close)(sk_select_lm *lm); /* accepts NULL */
    /* Analytic forward FLOPs per sample of one next_token_nll call on T
     * inputs (counted in the selector's FLOPs: the proxy is not free). */
    double (*flops)(const sk_select_lm *lm, int64_t T);
} sk_select_lm_vtable;

/* The model facts a selector is checked against. */
typedef struct {
    int depth;                     /* number of blocks */
    int width;                     /* hidden size D */
    int heads;                     /* attention heads H */
    int64_t tokens;                /* sequence length N entering block 0 (class token included) */
    int n_protected;               /* leading protected tokens (1 with a class token) */
    int causal;                    /* causal LM */
    int64_t grid_h, grid_w;        /* patch grid for images (0 for text): spatial scorers */
    sk_device device;              /* added by selectors: where a learned scorer's parameters live (default CPU) */
    int64_t vocab;                 /* causal LM: vocabulary size (0 for images) */
    const sk_select_lm_vtable *lm; /* causal LM: loader of a frozen LM (borrowed, static), or NULL */
} sk_select_model;

/* Per-layer accounting for the last apply/restore calls (honest FLOPs). */
typedef struct {
    int64_t tokens_in[64]; /* tokens entering block l (per sample, padding included) */
    int depth;
    /* added by selectors: */
    double tokens_real[64]; /* mean real (non-padding) tokens entering block l */
    int64_t tokens_full;    /* N entering block 0 (the uncompressed length) */
    double select_seconds;  /* wall time spent in apply/restore in the last forward */
    int64_t forwards;       /* forward passes seen (apply at the first apply layer) */
    double scorer_flops;    /* analytic FLOPs per sample the scorers themselves spent in the last
                                forward (a frozen proxy LM's forward; 0 for the cheap scorers) */
} sk_select_stats;

/* The [select] config section; defined in sk_select_config.h. */
typedef struct sk_select_config sk_select_config;

/* Build the selector the config describes for model m, or set *out = NULL
 * when the config selects nothing (scorer "none"): every call below accepts
 * a NULL selector and then does nothing. Rejects, with a message naming the
 * key, configurations that cannot work for m (keep ratio outside (0, 1],
 * a layer out of range, attention asked for at layer 0, ...).
 * seed: this rank's selector RNG seed. Each apply draws from a generator
 * re-seeded from (seed, step, forward index within the step, layer), so the
 * draws at a step do not depend on what ran before it (bit-identical resume
 * without saved RNG state). */
int sk_selector_create(sk_selector **out, const sk_select_config *cfg, const sk_select_model *m, uint64_t seed);
void sk_selector_free(sk_selector *sel);
/* SK_SELECT_* bits for block boundary `layer` (0 for a NULL selector). */
int sk_selector_wants(const sk_selector *sel, int layer);
/* Shrink seq before block `layer` at training step `step`. */
int sk_selector_apply(sk_selector *sel, int layer, int64_t step, sk_seq *seq);
/* Drop-and-restore: scatter the processed tokens back into the full
 * sequence saved at the matching apply, before block `layer`. */
int sk_selector_restore(sk_selector *sel, int layer, sk_seq *seq);
/* Trainable parameters of a training-aware scorer (borrowed; n = 0 when
 * none) and their checkpoint names ("selector.<...>"). */
int sk_selector_params(sk_selector *sel, sk_tensor *const **params, const char *const **names, int *n);
/* Token counts of the last forward pass. */
void sk_selector_stats(const sk_selector *sel, sk_select_stats *out);

/* ---- added by selectors ---------------------------------------------- */

/* The sum over apply layers of the scorer's auxiliary loss in the last
 * forward (learned: budget_weight * (mean keep probability - keep)^2), owned
 * by the scope that was open during the forward; *loss = NULL when the
 * scorer has none (add it to the task loss when non-NULL). */
int sk_selector_aux_loss(sk_selector *sel, sk_tensor **loss);
/* The keep ratio the schedule gives at `step` (1.0 for a NULL selector). */
double sk_selector_keep_at(const sk_selector *sel, int64_t step);
/* Analytic FLOPs of one training step (forward + backward = 3 x forward)
 * per sample for the block stack of m: block l sees tokens_in[l] tokens
 * (NULL: m->tokens everywhere). Per block with N tokens, width D, MLP
 * ratio r, in FLOPs = 2 x multiply-adds:
 *   qkv + out projections 8*N*D^2, scores and weighted sum 4*N^2*D,
 *   MLP 4*r*N*D^2.
 * Embeddings, heads and the selector itself are not counted. */
double sk_select_flops(const sk_select_model *m, double mlp_ratio, const int64_t *tokens_in);
/* The FLOPs per sample of one training step with this selector, as of its
 * last forward: sk_select_flops over the tokens each block saw plus what
 * the scorers spent (sk_select_stats.scorer_flops). A NULL selector gives
 * 0 (use sk_select_flops(m, mlp_ratio, NULL) for the full sequence). */
double sk_selector_flops(const sk_selector *sel, double mlp_ratio);

#ifdef __cplusplus
}
#endif
#endif /* SK_SELECT_H */
