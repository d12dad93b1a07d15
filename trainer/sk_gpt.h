/* sk_gpt.h - GPT-style causal decoder (Radford et al. 2019) over the shim.
 *
 * defines: sk_gpt, sk_gpt_opts, sk_gpt_out, sk_gpt_create, sk_gpt_free,
 *          sk_gpt_params, sk_gpt_select_model, sk_gpt_forward.
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
    sk_tensor *loss;      /* scalar mean next-token cross-entropy in nats (scope-owned) */
    int64_t targets;      /* number of scored predictions */
    sk_blocks_stats st;
} sk_gpt_out;

int sk_gpt_create(sk_gpt **out, const sk_gpt_opts *o, uint64_t seed);
void sk_gpt_free(sk_gpt *m);
sk_params *sk_gpt_params(sk_gpt *m);
sk_select_model sk_gpt_select_model(const sk_gpt *m);
/* windows: int64 [B, seq_len + 1]; inputs are [:, :-1], targets [:, 1:]. */
int sk_gpt_forward(sk_gpt *m, const sk_tensor *windows, sk_selector *sel, int64_t step, int training,
                   sk_gpt_out *out);

#endif /* SK_GPT_H */
