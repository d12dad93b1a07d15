/* sk_model_config.h - the [model] config section.
 *
 * defines: sk_model_config, sk_model_section (key table in
 *          sk_model_config.c), sk_model_config_check,
 *          sk_model_config_to_json.
 *
 * One struct for every architecture; each arch reads the keys its registry
 * entry lists (sk_model_vtable.keys in sk_model.h). model.arch takes its
 * names from the registry (sk_model_name_at), so the set of names is
 * written once, in models/sk_model.c, and --help and docs/CONFIG.md list it. Defaults live only in the key table: fill a
 * struct with sk_cfg_defaults(&sk_model_section, ...).
 */
#ifndef SK_MODEL_CONFIG_H
#define SK_MODEL_CONFIG_H

#include <stdint.h>

#include <jansson.h>

#include "sk_config.h"

/* The fixed-choice keys, parsed once (their names are in the key table). */
typedef enum { SK_POOL_CLS, SK_POOL_MEAN } sk_model_pool;                          /* model.pool */
typedef enum { SK_NORM_INSTANCE, SK_NORM_BATCH, SK_NORM_NONE } sk_model_norm;      /* model.norm */
typedef enum { SK_POOLING_AVG, SK_POOLING_MAX, SK_POOLING_NONE } sk_model_pooling; /* model.pooling */

typedef struct sk_model_config {
    char arch[SK_CFG_STR_MAX]; /* a registry name: vit | gpt | convnet | ... */
    int64_t width;             /* transformers: hidden size D; convnet: channels */
    int64_t depth;             /* transformers: blocks; convnet: conv blocks */
    int64_t heads;             /* transformers: attention heads (divide width) */
    int64_t mlp_ratio;         /* transformers: MLP hidden = mlp_ratio * width */
    int64_t patch;             /* vit: patch side */
    int pool;                  /* vit: sk_model_pool */
    int64_t vocab;             /* gpt: 0 = the corpus's vocabulary */
    int64_t classes;           /* classifiers: 0 = the corpus's label count */
    int norm;                  /* convnet: sk_model_norm */
    int pooling;               /* convnet: sk_model_pooling */
} sk_model_config;

extern const sk_cfg_section sk_model_section;

/* model.arch names a registered model and that model's own checks of its
 * keys pass; the message names the key (and, for an unknown arch, lists
 * the registered names). */
int sk_model_config_check(const sk_model_config *c);

/* Every key of the section as one JSON object {"arch": "vit", "width": 128,
 * ...} in table order (new reference, NULL on out of memory), for the
 * record a checkpoint keeps of its config. */
json_t *sk_model_config_to_json(const sk_model_config *c);

#endif /* SK_MODEL_CONFIG_H */
