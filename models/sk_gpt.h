/* sk_gpt.h - GPT-style causal decoder (Radford et al. 2019) over the shim.
 *
 * defines: sk_gpt, sk_gpt_opts, sk_gpt_out, sk_gpt_create, sk_gpt_free,
 *          sk_gpt_params, sk_gpt_select_model, sk_gpt_forward,
 *          sk_gpt_token_nll, sk_gpt_meta, sk_gpt_opts_from_file and
 *          sk_gpt_embed, sk_gpt_frozen_lm (a saved GPT as the selectors'
 *          frozen proxy LM); its registry entry is sk_model_gpt (sk_model.h).
 *
 * Token + learned position embeddings, pre-LN causal blocks with the
 * selector hook between them (sk_block.h), final layer norm, output
 * projection tied to the token embedding, next-token cross-entropy.
 * Parameter names follow nanoGPT ("wte.weight", "wpe.weight",
 * "blocks.<i>.*", "ln_f.*").
 *
 * Positions. seq.pos carries the original position of each hidden state.
 * A drop-and-restore selector scatters every position back before the last
 * blocks; if the sequence is still shorter after the last block, the loss
 * is taken on the positions that were processed, with their targets picked
 * by seq.pos (so a prediction is always scored against its own next token).
 */
#ifndef SK_GPT_H
#define SK_GPT_H

#include "sk_block.h"

typedef struct sk_gpt sk_gpt;

typedef struct {
    int64_t vocab, seq_len;
    int64_t width, depth, heads, mlp_hidden;
} sk_gpt_opts;

typedef struct {
    sk_tensor *loss;        /* scalar mean next-token cross-entropy in nats (scope-owned) */
    sk_tensor *logits;      /* [B, N, vocab] for the N processed positions (scope-owned) */
    sk_tensor *sample_loss; /* [B] each window's mean cross-entropy over its N scored targets (scope-owned) */
    int64_t targets;        /* number of scored predictions */
    sk_blocks_stats st;
} sk_gpt_out;

int sk_gpt_create(sk_gpt **out, const sk_gpt_opts *o, uint64_t seed);
void sk_gpt_free(sk_gpt *m);
sk_params *sk_gpt_params(sk_gpt *m);
sk_select_model sk_gpt_select_model(const sk_gpt *m);
/* windows: int64 [B, seq_len + 1]; inputs are [:, :-1], targets [:, 1:]. */
int sk_gpt_forward(sk_gpt *m, const sk_tensor *windows, sk_selector *sel, int64_t step, int training, sk_gpt_out *out);
/* Mean over positions of the final-norm hidden states, [B, width], no
 * selector: windows int64 [B, T+1] with 1 <= T <= seq_len (scope). */
int sk_gpt_embed(sk_gpt *m, const sk_tensor *windows, sk_tensor **feat);
/* Next-token loss in nats at every position, no selector, no autograd:
 * windows int64 [B, T+1] with 1 <= T <= seq_len -> *nll [B, T] f32 (scope). */
int sk_gpt_token_nll(sk_gpt *m, const sk_tensor *windows, sk_tensor **nll);

/* Analytic FLOPs of one forward per sample over T inputs, counted as in
 * sk_select_flops (2 x multiply-adds of the matmuls): per block 8TD^2 +
 * 4T^2D + 4TDH (H = mlp hidden), plus the output projection 2TDV. */
double sk_gpt_forward_flops(const sk_gpt *m, int64_t T);

/* The architecture (sk_gpt_opts) as safetensors metadata: fills kv with
 * SK_GPT_META_N (key, value) pairs whose values are written into buf;
 * sk_gpt_opts_from_file reads them back from a file written with them
 * (error naming the file and key when absent). */
#define SK_GPT_META_N 6
void sk_gpt_meta(const sk_gpt *m, char buf[SK_GPT_META_N][24], const char *kv[2 * SK_GPT_META_N]);
int sk_gpt_opts_from_file(const char *path, sk_gpt_opts *o);

/* A GPT saved by `shrink train` (its model.safetensors, with the metadata
 * above) loaded as a frozen proxy LM for the selectors (sk_gpt_lm.c);
 * sk_gpt_select_model points sk_select_model.lm at it. */
extern const sk_select_lm_vtable sk_gpt_frozen_lm;

#endif /* SK_GPT_H */
