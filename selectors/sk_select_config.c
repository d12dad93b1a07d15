/* sk_select_config.c - key table of the `select` section (see
 * sk_select_config.h). One row per key: name, type, default, bounds, help.
 * The scorer and strategy names come from their registries (sk_scorers.c,
 * sk_strategies.c), so a new method shows up in --help and the docs by its
 * registry line alone. */
#include "sk_select_config.h"

#include <stddef.h>

#include "sk_select_registry.h"

#define OFF(f) offsetof(struct sk_select_config, f)

/* "none" (no selection), then every registered scorer. */
static const char *scorer_choice_(int i) { return i == 0 ? "none" : sk_scorer_name_at(i - 1); }

/* clang-format off */
static const sk_cfg_key select_keys_[] = {
    {.name = "scorer", .type = SK_CFG_STRING, .offset = OFF(scorer), .def = "none", .choice_at = scorer_choice_,
     .help = "token scorer (none: no selection)"},
    {.name = "strategy", .type = SK_CFG_STRING, .offset = OFF(strategy), .def = "prune",
     .choice_at = sk_strategy_name_at, .help = "what is done with the scores"},
    {.name = "keep", .type = SK_CFG_FLOAT, .offset = OFF(keep), .def = "0.5", .min = 0.0, .max = 1.0,
     .flags = SK_CFG_EXCL_MIN, .help = "fraction of unprotected tokens kept at each apply layer"},
    {.name = "tau", .type = SK_CFG_FLOAT, .offset = OFF(tau), .def = "0.5",
     .help = "prune-threshold: keep tokens with score >= tau (variable length, padded + masked)"},
    {.name = "budget", .type = SK_CFG_INT, .offset = OFF(budget), .def = "0", .min = 0, .max = 1e9,
     .help = "fixed number of unprotected tokens kept (0: use keep)"},
    {.name = "layers", .type = SK_CFG_INT_LIST, .offset = OFF(layers), .def = "[1]", .min = 0, .max = 63,
     .help = "block boundaries (0 = before block 0) where the selector applies"},
    {.name = "restore_layer", .type = SK_CFG_INT, .offset = OFF(restore_layer), .def = "-1", .min = -1, .max = 63,
     .help = "drop-restore: boundary where skipped tokens are scattered back (-1: last block)"},
    {.name = "schedule", .type = SK_CFG_ENUM, .offset = OFF(schedule), .def = "none", .choices = "none|linear|cosine",
     .help = "keep-ratio schedule from keep_start to keep over schedule_steps"},
    {.name = "keep_start", .type = SK_CFG_FLOAT, .offset = OFF(keep_start), .def = "1.0", .min = 0.0, .max = 1.0,
     .flags = SK_CFG_EXCL_MIN, .help = "schedule: keep ratio at step 0"},
    {.name = "schedule_steps", .type = SK_CFG_INT, .offset = OFF(schedule_steps), .def = "1000", .min = 1,
     .max = 1e12, .help = "schedule: steps until keep is reached"},
    {.name = "budget_weight", .type = SK_CFG_FLOAT, .offset = OFF(budget_weight), .def = "2.0", .min = 0.0,
     .max = 1e6, .help = "learned: weight of the budget term (mean keep probability - keep)^2"},
    {.name = "norm_source", .type = SK_CFG_ENUM, .offset = OFF(norm_source), .def = "hidden", .choices = "hidden|key",
     .help = "norm: L2 norm of the hidden state or of the key vector (needs keys)"},
    {.name = "merge_into", .type = SK_CFG_ENUM, .offset = OFF(merge_into), .def = "nearest",
     .choices = "nearest|fused",
     .help = "merge: into the most similar kept token, or all dropped into one fused token (EViT)"},
    {.name = "merge_weight", .type = SK_CFG_ENUM, .offset = OFF(merge_weight), .def = "size", .choices = "size|score",
     .help = "merge: a token's weight in its merged mean: size (ToMe: the tokens it stands for) or score "
             "(w_t = s_t size_t / sum, EViT's attention-weighted fusion; scorers with nonnegative scores)"},
    {.name = "seed_offset", .type = SK_CFG_INT, .offset = OFF(seed_offset), .def = "0", .min = 0, .max = 1e15,
     .help = "added to the run seed for the selector's RNG"},
    {.name = "checkpoint", .type = SK_CFG_STRING, .offset = OFF(checkpoint), .def = "",
     .help = "frozen: safetensors file: for images a learned run's scorer (selector.learned.l<N>.*), for a GPT "
             "the model.safetensors of a shrink GPT run, under which each token's surprisal -log p(x_t | x_<t) is "
             "its score"},
    {.name = "checkpoint_layer", .type = SK_CFG_INT, .offset = OFF(checkpoint_layer), .def = "-1", .min = -1,
     .max = 63, .help = "frozen: which layer's predictor to load (-1: the layer it is applied at)"},
};
/* clang-format on */

const sk_cfg_section sk_select_section = {"select", "token selection: scorer x strategy applied between blocks",
                                          select_keys_, (int)(sizeof select_keys_ / sizeof select_keys_[0]),
                                          sizeof(struct sk_select_config)};
