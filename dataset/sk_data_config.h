/* sk_data_config.h - the `data` and `prepare` config sections (dataset
 * module) and the mapping from `data` to loader options.
 *
 * defines: sk_data_config, sk_data_section, sk_prepare_section,
 *          sk_data_loader_opts.
 *
 *   data.train          string  training corpus (.h5)
 *   data.eval           string  evaluation corpus; "" = hold out eval_fraction of train
 *   data.eval_fraction  float   in (0, 1), used when data.eval is ""
 *   data.batch_size     int     global batch: samples per step over all ranks
 *   data.seq_len        int     token corpora: window length
 *   data.shuffle        bool    permute every epoch
 *   data.prefetch       int     batches decoded ahead by the loader thread
 *   data.prune          enum    none | infobatch (online sample pruning, trainer/sk_infobatch.h)
 *   data.prune_ratio    float   infobatch's r in [0, 1)
 *   data.prune_delta    float   infobatch's delta in [0, 1]
 * `prepare` keys: see sk_prepare_config in sk_prepare.h (format, input,
 * labels, output, export, level, chunk_kib, boundary, jsonl_key, eod, vocab,
 * fletcher32). Defaults, bounds and help live in the tables in
 * sk_data_config.c. Owner: dataset module.
 */
#ifndef SK_DATA_CONFIG_H
#define SK_DATA_CONFIG_H

#include <stdint.h>

#include "sk_config.h"
#include "sk_loader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char train[SK_CFG_STR_MAX];
    char eval[SK_CFG_STR_MAX];
    double eval_fraction;
    int eval_split; /* 0 tail, 1 random (data.eval_split) */
    int64_t batch_size;
    int64_t seq_len;
    int shuffle;
    int64_t prefetch;
    int prune;          /* sk_data_prune: online sample pruning during training */
    double prune_ratio; /* infobatch: r, probability a well-learned sample is skipped, in [0, 1) */
    double prune_delta; /* infobatch: prune in the first delta of the epochs, in [0, 1] */
} sk_data_config;

/* data.prune's choices, in order. */
typedef enum { SK_DATA_PRUNE_NONE = 0, SK_DATA_PRUNE_INFOBATCH = 1 } sk_data_prune;

extern const sk_cfg_section sk_data_section;    /* struct sk_data_config */
extern const sk_cfg_section sk_prepare_section; /* struct sk_prepare_config (sk_prepare.h) */

/* Loader options for `which` (SK_SPLIT_TRAIN or SK_SPLIT_EVAL) of the
 * `data` section: with data.eval set, TRAIN reads data.train whole and EVAL
 * reads data.eval whole; otherwise both read data.train, split by
 * data.eval_fraction. out->batch_size = data.batch_size / world (the
 * per-rank share of the global batch). out->path borrows d's strings. */
void sk_data_loader_opts(const sk_data_config *d, sk_split which, int rank, int world, uint64_t seed,
                         sk_loader_opts *out);

#ifdef __cplusplus
}
#endif
#endif /* SK_DATA_CONFIG_H */
