/* sk_select_config.h - the `select` config section: which scorer and
 * strategy shrink the sequence, how much, where and on what schedule.
 *
 * defines: struct sk_select_config (forward-declared in sk_select.h) and
 *          sk_select_section, its key table for the config engine
 *          (common/sk_config.h). Owner: selectors/.
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

struct sk_select_config {
    char scorer[SK_CFG_STR_MAX];   /* "none" or a registered scorer (sk_scorer_find) */
    char strategy[SK_CFG_STR_MAX]; /* prune | prune-threshold | merge | drop-restore */
    double keep;                   /* fraction of the unprotected tokens kept per apply, (0, 1] */
    double tau;                    /* prune-threshold: keep tokens whose score >= tau */
    int64_t budget;                /* >0: keep exactly this many unprotected tokens (overrides keep) */
    sk_cfg_int_list layers;        /* block boundaries where the selector applies */
    int64_t restore_layer;         /* drop-restore: boundary where tokens come back (-1: depth-1) */
    char schedule[SK_CFG_STR_MAX]; /* none | linear | cosine: keep ratio over steps */
    double keep_start;             /* schedule: keep ratio at step 0 */
    int64_t schedule_steps;        /* schedule: steps to reach `keep` */
    double budget_weight;          /* learned: weight of the (mean keep prob - keep)^2 term */
    char norm_source[SK_CFG_STR_MAX]; /* norm: hidden | key */
    char merge_into[SK_CFG_STR_MAX];  /* merge: nearest (kept token) | fused (one extra token) */
    char merge_weight[SK_CFG_STR_MAX]; /* merge: size | score */
    int64_t seed_offset;           /* added to the run seed for the selector RNG */
    char checkpoint[SK_CFG_STR_MAX]; /* frozen: safetensors file with the scorer network or proxy LM */
    int64_t checkpoint_layer;      /* frozen: load "selector.learned.l<this>.*" (-1: the apply layer) */
};

extern const sk_cfg_section sk_select_section;

#ifdef __cplusplus
}
#endif
#endif /* SK_SELECT_CONFIG_H */
