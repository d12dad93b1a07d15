/* sk_block.h - the pre-LN transformer block shared by the ViT and the GPT,
 * and the block stack that calls the token-selector hook between blocks.
 *
 * defines: sk_block (parameters of one block), sk_block_init, sk_blocks_create,
 *          sk_block_norm_init,
 *          sk_block_forward, sk_blocks_run (the stack with selector hooks),
 *          sk_blocks_stats, sk_blocks_check_config (the [model] keys every
 *          transformer reads).
 *
 * Block: x + proj(attn(ln1(x))), then x + fc2(gelu(fc1(ln2(x)))).
 * Attention is sk_shim_sdpa, or sk_shim_attention_probs when the selector
 * asks for the probabilities of this block. When the sequence carries
 * merged-token sizes, attention gets the additive bias log(size) of each key
 * (ToMe's proportional attention, Bolya et al. 2023, sec. 3).
 *
 * Ownership: block tensors belong to the sk_params they were added to; the
 * forward results belong to the caller's current scope.
 */
#ifndef SK_BLOCK_H
#define SK_BLOCK_H

#include "sk_model_config.h"
#include "sk_params.h"
#include "sk_select.h"

typedef struct {
    sk_tensor *ln1_w, *ln1_b, *qkv_w, *qkv_b, *proj_w, *proj_b;
    sk_tensor *ln2_w, *ln2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} sk_block;

/* Create the block's parameters as "<prefix>.*" in p: linears N(0, 0.02),
 * output projections N(0, 0.02/sqrt(2*depth)) (GPT-2), zero biases, unit
 * norms. */
int sk_block_init(sk_block *b, sk_params *p, const char *prefix, int64_t width, int64_t hidden, int depth,
                  sk_generator *g);

/* Allocate `depth` blocks (*out, caller frees) with their parameters
 * "blocks.<i>.*" in p, initialised as sk_block_init. */
int sk_blocks_create(sk_block **out, sk_params *p, int depth, int64_t width, int64_t hidden, sk_generator *g);

/* A layer norm over width features: unit "<prefix>.weight" and zero
 * "<prefix>.bias" added to p, returned borrowed in *w / *b. */
int sk_block_norm_init(sk_params *p, const char *prefix, int64_t width, sk_tensor **w, sk_tensor **b);

/* One block over x [B, N, D]. sizes: NULL or [B, N] f32 (proportional
 * attention: log(sizes) is added to the logits). pad: NULL or the additive
 * key-padding bias [B, 1, 1, N] (0 / -inf, sk_seq.attn_bias). attn/keys:
 * when non-NULL receive the attention probabilities [B, H, N, N] / keys
 * [B, H, N, Dh] (scope-owned). Returns the new x, or NULL with the error set. */
sk_tensor *sk_block_forward(const sk_block *b, const sk_tensor *x, const sk_tensor *sizes, const sk_tensor *pad,
                            int heads, int causal, sk_tensor **attn, sk_tensor **keys);

/* Token accounting of the last sk_blocks_run. */
typedef struct {
    int64_t tokens_in;     /* B * N entering block 0 */
    int64_t tokens_blocks; /* sum over blocks of B * N_l (compute actually spent) */
    int depth;
} sk_blocks_stats;

/* Run `depth` blocks over seq (seq->x, ->pos, ->sizes set by the caller).
 * Before block l the selector hook runs as selectors/sk_select.h describes;
 * at boundary `depth` (after the last block) a pending restore runs too, so
 * a causal LM gets every position back when the selector restores there.
 * sel may be NULL (no selection). */
int sk_blocks_run(const sk_block *blocks, int depth, int heads, sk_selector *sel, int64_t step, sk_seq *seq,
                  sk_blocks_stats *st);

/* model.heads and mlp_ratio usable by a block stack (width, depth, vocab
 * and classes are checked for every arch by sk_model_config_check, depth
 * at most 64: the selector's per-layer accounting); message names the key. */
int sk_blocks_check_config(const sk_model_config *c);

#endif /* SK_BLOCK_H */
