/* sk_run_config.h - the `run` and `log` config sections every command gets.
 *
 * defines: sk_run_config, sk_log_config, sk_run_section, sk_log_section,
 *          sk_log_config_apply.
 *
 *   run.seed      int     base RNG seed (ranks derive theirs from it)
 *   run.out_dir   string  where outputs go
 *   run.overwrite bool    a command may replace an earlier run's outputs in run.out_dir
 *   run.device    cpu|cuda
 *   run.dtype     f32|bf16
 *   run.threads   int     intra-op threads per rank, 0 = library default
 *   run.malloc_keep bool  freed memory stays in the process for reuse (glibc)
 *   log.level     error|warn|info|debug
 *   log.every     int     steps between progress lines (non-terminal stderr)
 *   log.all_ranks bool    every rank logs, not only rank 0
 * Defaults and bounds live in the tables in sk_run_config.c (`shrink config
 * --help` prints them).
 */
#ifndef SK_RUN_CONFIG_H
#define SK_RUN_CONFIG_H

#include "sk_config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t seed;
    char out_dir[SK_CFG_STR_MAX];
    int device; /* sk_device of the shim: SK_CPU or SK_CUDA */
    int dtype;  /* sk_dtype of the shim: SK_F32 or SK_BF16 */
    int64_t threads;
    int overwrite;   /* replace outputs of an earlier run in out_dir */
    int malloc_keep; /* keep freed memory in the process (the CLI's mallopt) */
} sk_run_config;

typedef struct {
    int level; /* sk_log_level */
    int64_t every;
    int all_ranks;
} sk_log_config;

extern const sk_cfg_section sk_run_section;
extern const sk_cfg_section sk_log_section;

/* Set the logger's level and rank rule from `log` (rank = this MPI rank). */
int sk_log_config_apply(const sk_log_config *log, int rank);

#ifdef __cplusplus
}
#endif
#endif /* SK_RUN_CONFIG_H */
