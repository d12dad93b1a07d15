/* sk_data_config.c - `data` and `prepare` section tables (sk_data_config.h). */
#include "sk_data_config.h"

#include <stddef.h>
#include <string.h>

#include "sk_prepare.h"

_Static_assert(SK_PREPARE_STR_MAX == SK_CFG_STR_MAX, "sk_prepare_config strings must match the config engine");

#define D_(f) offsetof(sk_data_config, f)
/* clang-format off */
static const sk_cfg_key data_keys_[] = {
    {.name = "train", .type = SK_CFG_STRING, .offset = D_(train), .def = "",
     .help = "training corpus (shrink .h5, see docs/FORMAT.md)"},
    {.name = "eval", .type = SK_CFG_STRING, .offset = D_(eval), .def = "",
     .help = "evaluation corpus; empty = hold out data.eval_fraction of data.train"},
    {.name = "eval_fraction", .type = SK_CFG_FLOAT, .offset = D_(eval_fraction), .def = "0.05", .min = 0.0,
     .max = 1.0, .flags = SK_CFG_EXCL_MIN | SK_CFG_EXCL_MAX,
     .help = "share of data.train held out for evaluation when data.eval is empty (which samples: data.eval_split)"},
    {.name = "eval_split", .type = SK_CFG_ENUM, .offset = D_(eval_split), .def = "tail", .choices = "tail|random",
     .help = "held-out samples of data.train: tail = the last ones in corpus order; random = a random subset "
             "drawn from run.seed (use it for corpora sorted by topic or class)"},
    {.name = "batch_size", .type = SK_CFG_INT, .offset = D_(batch_size), .def = "32", .min = 1, .max = 1e9,
     .help = "global batch: samples per step over all ranks (the trainer splits it into ranks x train.accum "
             "micro-batches)"},
    {.name = "seq_len", .type = SK_CFG_INT, .offset = D_(seq_len), .def = "256", .min = 1, .max = 1e9,
     .help = "token corpora: tokens per training window (each sample holds seq_len+1); the GPT's context length"},
    {.name = "shuffle", .type = SK_CFG_BOOL, .offset = D_(shuffle), .def = "true",
     .help = "permute samples every epoch (order depends only on run.seed and epoch)"},
    {.name = "prefetch", .type = SK_CFG_INT, .offset = D_(prefetch), .def = "4", .min = 0, .max = 1024,
     .help = "batches decoded ahead by the loader thread (0: synchronous)"},
    {.name = "prune", .type = SK_CFG_ENUM, .offset = D_(prune), .def = "none", .choices = "none|infobatch",
     .help = "online sample pruning in shrink train: infobatch (Qin et al., ICLR 2024) skips each epoch, with "
             "probability data.prune_ratio, the samples whose last loss is below the mean, rescales the kept "
             "ones' loss by 1/(1-r), and trains on full data after data.prune_delta of the epochs; the run then "
             "counts epochs: ceil(train.steps / full steps per epoch) of them, lr by epoch progress"},
    {.name = "prune_ratio", .type = SK_CFG_FLOAT, .offset = D_(prune_ratio), .def = "0.5", .min = 0.0, .max = 1.0,
     .flags = SK_CFG_EXCL_MAX, .help = "infobatch: probability r that a well-learned sample is skipped, in [0, 1)"},
    {.name = "prune_delta", .type = SK_CFG_FLOAT, .offset = D_(prune_delta), .def = "0.875", .min = 0.0, .max = 1.0,
     .help = "infobatch: prune during the first prune_delta of the epochs, full data after"},
};
/* clang-format on */

const sk_cfg_section sk_data_section = {"data", "training data: corpora, batching, shuffling, prefetch", data_keys_,
                                        (int)(sizeof data_keys_ / sizeof *data_keys_), sizeof(sk_data_config)};

/* format and export name the importer / exporter registries (sk_prepare.c):
 * a new format is its file plus its table line, and shows up here. */
#define P_(f) offsetof(sk_prepare_config, f)
/* clang-format off */
static const sk_cfg_key prepare_keys_[] = {
    {.name = "format", .type = SK_CFG_ENUM, .offset = P_(format), .def = "idx", .choice_at = sk_importer_name_at,
     .help = "input format to import"},
    {.name = "input", .type = SK_CFG_STRING, .offset = P_(input), .def = "",
     .help = "input file (megatron: PREFIX or PREFIX.bin/.idx; with prepare.export: a shrink corpus)"},
    {.name = "labels", .type = SK_CFG_STRING, .offset = P_(labels), .def = "",
     .help = "idx: IDX labels file (plain or .gz), empty = none"},
    {.name = "output", .type = SK_CFG_STRING, .offset = P_(output), .def = "",
     .help = "output corpus (.h5); with prepare.export: output file (llmc) or PREFIX (megatron)"},
    {.name = "export", .type = SK_CFG_ENUM, .offset = P_(export_), .def = "none", .choice_at = sk_prepare_export_name,
     .help = "export prepare.input (a shrink corpus) to this format instead of importing"},
    {.name = "level", .type = SK_CFG_INT, .offset = P_(level), .def = "3", .min = 1, .max = 22,
     .help = "zstd compression level"},
    {.name = "chunk_kib", .type = SK_CFG_INT, .offset = P_(chunk_kib), .def = "1024", .min = 1, .max = 4194304,
     .help = "target HDF5 chunk size in KiB"},
    {.name = "boundary", .type = SK_CFG_STRING, .offset = P_(boundary), .def = "%",
     .help = "text: a line equal to this ends a document (fortune files: %; empty = blank line)"},
    {.name = "split", .type = SK_CFG_ENUM, .offset = P_(split), .def = "percent", .choice_at = sk_prepare_split_name,
     .help = "text: what ends a document: percent (a line equal to prepare.boundary), blank-line, line (one "
             "document per line), none (the whole file); documents keep their bytes exactly (docs/FORMAT.md)"},
    {.name = "jsonl_key", .type = SK_CFG_STRING, .offset = P_(jsonl_key), .def = "text",
     .help = "jsonl: string field holding the document"},
    {.name = "eod", .type = SK_CFG_BOOL, .offset = P_(eod), .def = "true",
     .help = "text/jsonl: append end-of-document token 256 (vocab 257) to every document"},
    {.name = "vocab", .type = SK_CFG_INT, .offset = P_(vocab), .def = "0", .min = 0, .max = 9.2e18,
     .help = "megatron/llmc: vocabulary size, 0 = max token id + 1"},
    {.name = "fletcher32", .type = SK_CFG_BOOL, .offset = P_(fletcher32), .def = "false",
     .help = "also store HDF5 Fletcher32 checksums (zstd frames already carry checksums)"},
    {.name = "byteshuffle", .type = SK_CFG_BOOL, .offset = P_(byteshuffle), .def = "true",
     .help = "HDF5 byte-shuffle filter (built into HDF5, ID 2) before zstd for multi-byte dtypes: ~19% smaller "
             "byte-token corpora"},
    {.name = "overwrite", .type = SK_CFG_BOOL, .offset = P_(overwrite), .def = "false",
     .help = "replace an existing prepare.output (without it an existing output is refused; the input never is)"},
};
/* clang-format on */

const sk_cfg_section sk_prepare_section = {"prepare", "import corpora into shrink's HDF5+zstd format, or export them",
                                           prepare_keys_, (int)(sizeof prepare_keys_ / sizeof *prepare_keys_),
                                           sizeof(sk_prepare_config)};

void sk_data_loader_opts(const sk_data_config *d, sk_split which, int rank, int world, uint64_t seed,
                         sk_loader_opts *out)
{
    memset(out, 0, sizeof *out);
    int separate = d->eval[0] != '\0';
    out->path = which == SK_SPLIT_EVAL && separate ? d->eval : d->train;
    out->rank = rank;
    out->world = world;
    out->batch_size = world > 0 ? d->batch_size / world : d->batch_size; /* data.batch_size is global */
    out->seq_len = d->seq_len;
    out->seed = seed;
    out->shuffle = which == SK_SPLIT_EVAL ? 0 : d->shuffle;
    out->prefetch = (int)d->prefetch;
    out->split = separate ? SK_SPLIT_ALL : which;
    out->eval_fraction = d->eval_fraction;
    out->split_random = d->eval_split == 1;
}
