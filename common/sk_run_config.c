/* sk_run_config.c - the `run` and `log` sections (see sk_run_config.h).
 * These tables are the documentation of their defaults. */
#include "sk_run_config.h"
#include "sk_error.h"
#include "sk_log.h"

#include <stddef.h>

static const sk_cfg_key run_keys_[] = {
    {"seed", SK_CFG_INT, offsetof(sk_run_config, seed), "0", 0, 9007199254740992.0, 0, NULL,
     "base RNG seed; rank r uses a stream derived from (seed, r)"},
    {"out_dir", SK_CFG_STRING, offsetof(sk_run_config, out_dir), "out", SK_CFG_UNBOUNDED, 0, NULL,
     "directory for checkpoints, corpora and reports"},
    {"device", SK_CFG_STRING, offsetof(sk_run_config, device), "cpu", SK_CFG_UNBOUNDED, 0, "cpu|cuda",
     "where tensors live"},
    {"dtype", SK_CFG_STRING, offsetof(sk_run_config, dtype), "f32", SK_CFG_UNBOUNDED, 0, "f32|bf16",
     "compute dtype of models"},
    {"threads", SK_CFG_INT, offsetof(sk_run_config, threads), "0", 0, 1024, 0, NULL,
     "intra-op CPU threads per rank; 0 = library default"},
};

const sk_cfg_section sk_run_section = {
    "run", "where and how a command runs", run_keys_, (int)(sizeof run_keys_ / sizeof run_keys_[0]),
    sizeof(sk_run_config)};

static const sk_cfg_key log_keys_[] = {
    {"level", SK_CFG_STRING, offsetof(sk_log_config, level), "info", SK_CFG_UNBOUNDED, 0, "error|warn|info|debug",
     "messages above this level are dropped"},
    {"every", SK_CFG_INT, offsetof(sk_log_config, every), "10", 1, 1e9, 0, NULL,
     "steps between progress lines when stderr is not a terminal"},
    {"all_ranks", SK_CFG_BOOL, offsetof(sk_log_config, all_ranks), "false", SK_CFG_UNBOUNDED, 0, NULL,
     "every MPI rank logs (default: rank 0 only; errors always print)"},
};

const sk_cfg_section sk_log_section = {
    "log", "logging and progress output (stderr)", log_keys_, (int)(sizeof log_keys_ / sizeof log_keys_[0]),
    sizeof(sk_log_config)};

int sk_log_config_apply(const sk_log_config *log, int rank)
{
    sk_log_level level;
    int rc = sk_log_parse_level(log->level, &level);
    if (rc < 0) return rc;
    sk_log_set_level(level);
    sk_log_set_rank(rank, log->all_ranks);
    return SK_OK;
}
