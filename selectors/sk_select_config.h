/* sk_select_config.h - the `select` config section: which scorer and
 * strategy shrink the sequence, how much, where and on what schedule.
 *
 * defines: struct sk_select_config (forward-declared in sk_select.h),
 *          the enums of its fixed-choice keys (sk_select_schedule,
 *          sk_select_norm_source, sk_select_merge_into,
 *          sk_select_merge_weight) and sk_select_section, its key table for
 *          the config engine (common/sk_config.h). Owner: selectors/.
 *
 * The struct is plain data filled by sk_cfg_defaults / files / --set; the
 * cross-key checks against a model (layers in range, attention not asked
 * for at layer 0, ...) happen in sk_selector_create.
 */
#ifndef SK_SELECT_CONFIG_H
#define SK_SELECT_CONFIG_H

#include <stdint.h>

#include "sk_config.h"
#include "sk_select.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The fixed-choice keys, parsed once by the config engine (SK_CFG_ENUM):
 * each value is the index of its name in the key's choices, so the order
 * here is the order of `choices` in sk_select_config.c (a test checks). */
typedef enum { SK_SCHEDULE_NONE, SK_SCHEDULE_LINEAR, SK_SCHEDULE_COSINE } sk_select_schedule;
typedef enum { SK_NORM_HIDDEN, SK_NORM_KEY } sk_select_norm_source;
typedef enum { SK_MERGE_NEAREST, SK_MERGE_FUSED } sk_select_merge_into;
typedef enum { SK_MERGE_BY_SIZE, SK_MERGE_BY_SCORE } sk_select_merge_weight;

struct sk_select_config {
    char scorer[SK_CFG_STR_MAX];     /* "none" or a registered scorer (sk_scorer_find) */
    char strategy[SK_CFG_STR_MAX];   /* a registered strategy (sk_strategy_find) */
    double keep;                     /* fraction of the unprotected tokens kept per apply, (0, 1] */
    double tau;                      /* prune-threshold: keep tokens whose score >= tau */
    int64_t budget;                  /* >0: keep exactly this many unprotected tokens (overrides keep) */
    sk_cfg_int_list layers;          /* block boundaries where the selector applies */
    int64_t restore_layer;           /* drop-restore: boundary where tokens come back (-1: depth-1) */
    int schedule;                    /* sk_select_schedule: keep ratio over steps */
    double keep_start;               /* schedule: keep ratio at step 0 */
    int64_t schedule_steps;          /* schedule: steps to reach `keep` */
    double budget_weight;            /* learned: weight of the (mean keep prob - keep)^2 term */
    int norm_source;                 /* sk_select_norm_source (norm scorer) */
    int merge_into;                  /* sk_select_merge_into: kept token, or one extra fused token */
    int merge_weight;                /* sk_select_merge_weight: by size or by score */
    int64_t seed_offset;             /* added to the run seed for the selector RNG */
    char checkpoint[SK_CFG_STR_MAX]; /* frozen: safetensors file with the scorer network or proxy LM */
    int64_t checkpoint_layer;        /* frozen: load "selector.learned.l<this>.*" (-1: the apply layer) */
};

extern const sk_cfg_section sk_select_section;

#ifdef __cplusplus
}
#endif
#endif /* SK_SELECT_CONFIG_H */
