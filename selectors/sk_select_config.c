/* sk_select_config.c - key table of the `select` section (see
 * sk_select_config.h). One row per key: name, type, default, bounds, help. */
#include "sk_select_config.h"

#include <stddef.h>

#define OFF(f) offsetof(struct sk_select_config, f)

static const sk_cfg_key select_keys_[] = {
    {"scorer", SK_CFG_STRING, OFF(scorer), "none", SK_CFG_UNBOUNDED, 0,
     "none|random|uniform|pool|norm|attn-cls|attn-received|tome|learned|frozen|random-ltd",
     "token scorer (none: no selection)"},
    {"strategy", SK_CFG_STRING, OFF(strategy), "prune", SK_CFG_UNBOUNDED, 0,
     "prune|prune-threshold|merge|drop-restore", "what is done with the scores"},
    {"keep", SK_CFG_FLOAT, OFF(keep), "0.5", 0.0, 1.0, SK_CFG_EXCL_MIN, NULL,
     "fraction of unprotected tokens kept at each apply layer"},
    {"tau", SK_CFG_FLOAT, OFF(tau), "0.5", SK_CFG_UNBOUNDED, 0, NULL,
     "prune-threshold: keep tokens with score >= tau (variable length, padded + masked)"},
    {"budget", SK_CFG_INT, OFF(budget), "0", 0, 1e9, 0, NULL,
     "fixed number of unprotected tokens kept (0: use keep)"},
    {"layers", SK_CFG_INT_LIST, OFF(layers), "[1]", 0, 63, 0, NULL,
     "block boundaries (0 = before block 0) where the selector applies"},
    {"restore_layer", SK_CFG_INT, OFF(restore_layer), "-1", -1, 63, 0, NULL,
     "drop-restore: boundary where skipped tokens are scattered back (-1: last block)"},
    {"schedule", SK_CFG_STRING, OFF(schedule), "none", SK_CFG_UNBOUNDED, 0, "none|linear|cosine",
     "keep-ratio schedule from keep_start to keep over schedule_steps"},
    {"keep_start", SK_CFG_FLOAT, OFF(keep_start), "1.0", 0.0, 1.0, SK_CFG_EXCL_MIN, NULL,
     "schedule: keep ratio at step 0"},
    {"schedule_steps", SK_CFG_INT, OFF(schedule_steps), "1000", 1, 1e12, 0, NULL,
     "schedule: steps until keep is reached"},
    {"budget_weight", SK_CFG_FLOAT, OFF(budget_weight), "2.0", 0.0, 1e6, 0, NULL,
     "learned: weight of the budget term (mean keep probability - keep)^2"},
    {"norm_source", SK_CFG_STRING, OFF(norm_source), "hidden", SK_CFG_UNBOUNDED, 0, "hidden|key",
     "norm: L2 norm of the hidden state or of the key vector (needs keys)"},
    {"merge_into", SK_CFG_STRING, OFF(merge_into), "nearest", SK_CFG_UNBOUNDED, 0, "nearest|fused",
     "merge: into the most similar kept token, or all dropped into one fused token (EViT)"},
    {"merge_weight", SK_CFG_STRING, OFF(merge_weight), "size", SK_CFG_UNBOUNDED, 0, "size|score",
     "merge: a token's weight in its merged mean: size (ToMe: the tokens it stands for) or score "
     "(w_t = s_t size_t / sum, EViT's attention-weighted fusion; scorers with nonnegative scores)"},
    {"seed_offset", SK_CFG_INT, OFF(seed_offset), "0", 0, 1e15, 0, NULL,
     "added to the run seed for the selector's RNG"},
    {"checkpoint", SK_CFG_STRING, OFF(checkpoint), "", SK_CFG_UNBOUNDED, 0, NULL,
     "frozen: safetensors file: for images a learned run's scorer (selector.learned.l<N>.*), for a GPT "
     "the model.safetensors of a shrink GPT run, under which each token's surprisal -log p(x_t | x_<t) is its score"},
    {"checkpoint_layer", SK_CFG_INT, OFF(checkpoint_layer), "-1", -1, 63, 0, NULL,
     "frozen: which layer's predictor to load (-1: the layer it is applied at)"},
};

const sk_cfg_section sk_select_section = {
    "select", "token selection: scorer x strategy applied between blocks", select_keys_,
    (int)(sizeof select_keys_ / sizeof select_keys_[0]), sizeof(struct sk_select_config)};
