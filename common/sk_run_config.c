/* sk_run_config.c - the `run` and `log` sections (see sk_run_config.h).
 * These tables are the documentation of their defaults. */
#include "sk_run_config.h"
#include "sk_error.h"
#include "sk_log.h"

#include <stddef.h>

#define R_(f) offsetof(sk_run_config, f)
/* clang-format off */
static const sk_cfg_key run_keys_[] = {
    {.name = "seed", .type = SK_CFG_INT, .offset = R_(seed), .def = "0", .min = 0, .max = 9007199254740992.0,
     .help = "base RNG seed; rank r uses a stream derived from (seed, r)"},
    {.name = "out_dir", .type = SK_CFG_STRING, .offset = R_(out_dir), .def = "out",
     .help = "directory for checkpoints, corpora and reports"},
    {.name = "overwrite", .type = SK_CFG_BOOL, .offset = R_(overwrite), .def = "false",
     .help = "shrink train may write into a non-empty run.out_dir (replacing that run's model, metrics, "
             "checkpoints); without it only --resume may"},
    /* The choices' order is the shim's sk_device / sk_dtype values (checked
     * in tests/cli), so the CLI casts the field. */
    {.name = "device", .type = SK_CFG_ENUM, .offset = R_(device), .def = "cpu", .choices = "cpu|cuda",
     .help = "where tensors live"},
    {.name = "dtype", .type = SK_CFG_ENUM, .offset = R_(dtype), .def = "f32", .choices = "f32|bf16",
     .help = "compute dtype of models; bf16 needs a CUDA build and device (refused with exit 2 otherwise; "
             "`shrink train` computes in f32 in this version)"},
    {.name = "threads", .type = SK_CFG_INT, .offset = R_(threads), .def = "0", .min = 0, .max = 1024,
     .help = "intra-op CPU threads per rank; 0 = library default"},
    {.name = "malloc_keep", .type = SK_CFG_BOOL, .offset = R_(malloc_keep), .def = "true",
     .help = "keep freed memory in the process for reuse (glibc: large blocks from the heap, not mmap; no heap "
             "trimming): libtorch frees and reallocates its CPU tensors every step, and handing the pages back "
             "costs page faults, about 30 % of a distillation step (docs/BENCHMARKS.md); the process keeps its "
             "peak heap, and that peak is higher (a dm run: +21-36 % peak RSS). false: glibc's defaults"},
};
/* clang-format on */

const sk_cfg_section sk_run_section = {"run", "where and how a command runs", run_keys_,
                                       (int)(sizeof run_keys_ / sizeof run_keys_[0]), sizeof(sk_run_config)};

#define L_(f) offsetof(sk_log_config, f)
/* clang-format off */
static const sk_cfg_key log_keys_[] = {
    {.name = "level", .type = SK_CFG_ENUM, .offset = L_(level), .def = "info", .choice_at = sk_log_level_name,
     .help = "messages above this level are dropped"},
    {.name = "every", .type = SK_CFG_INT, .offset = L_(every), .def = "10", .min = 1, .max = 1e9,
     .help = "steps between progress lines when stderr is not a terminal"},
    {.name = "all_ranks", .type = SK_CFG_BOOL, .offset = L_(all_ranks), .def = "false",
     .help = "every MPI rank logs (default: rank 0 only; errors always print)"},
};
/* clang-format on */

const sk_cfg_section sk_log_section = {"log", "logging and progress output (stderr)", log_keys_,
                                       (int)(sizeof log_keys_ / sizeof log_keys_[0]), sizeof(sk_log_config)};

int sk_log_config_apply(const sk_log_config *log, int rank)
{
    if (!sk_log_level_name(log->level)) return sk_error_set(SK_EINVAL, "log.level: %d is not a log level", log->level);
    sk_log_set_level((sk_log_level)log->level);
    sk_log_set_rank(rank, log->all_ranks);
    return SK_OK;
}
