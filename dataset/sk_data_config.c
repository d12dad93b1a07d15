/* sk_data_config.c - `data` and `prepare` section tables (sk_data_config.h). */
#include "sk_data_config.h"

#include <stddef.h>
#include <string.h>

#include "sk_prepare.h"

_Static_assert(SK_PREPARE_STR_MAX == SK_CFG_STR_MAX, "sk_prepare_config strings must match the config engine");

#define D_(f) offsetof(sk_data_config, f)
static const sk_cfg_key data_keys_[] = {
    {"train", SK_CFG_STRING, D_(train), "", SK_CFG_UNBOUNDED, 0, NULL, "training corpus (shrink .h5, see docs/FORMAT.md)"},
    {"eval", SK_CFG_STRING, D_(eval), "", SK_CFG_UNBOUNDED, 0, NULL,
     "evaluation corpus; empty = hold out data.eval_fraction of data.train"},
    {"eval_fraction", SK_CFG_FLOAT, D_(eval_fraction), "0.05", 0.0, 1.0, SK_CFG_EXCL_MIN | SK_CFG_EXCL_MAX, NULL,
     "share of data.train (last samples in corpus order) held out for evaluation when data.eval is empty"},
    {"batch_size", SK_CFG_INT, D_(batch_size), "32", 1, 1e9, 0, NULL, "global batch: samples per step over all ranks (the trainer splits it into ranks x train.accum micro-batches)"},
    {"seq_len", SK_CFG_INT, D_(seq_len), "256", 1, 1e9, 0, NULL,
     "token corpora: tokens per training window (each sample holds seq_len+1); the GPT's context length"},
    {"shuffle", SK_CFG_BOOL, D_(shuffle), "true", SK_CFG_UNBOUNDED, 0, NULL,
     "permute samples every epoch (order depends only on run.seed and epoch)"},
    {"prefetch", SK_CFG_INT, D_(prefetch), "4", 0, 1024, 0, NULL, "batches decoded ahead by the loader thread (0: synchronous)"},
};

const sk_cfg_section sk_data_section = {"data", "training data: corpora, batching, shuffling, prefetch", data_keys_,
                                        (int)(sizeof data_keys_ / sizeof *data_keys_), sizeof(sk_data_config)};

#define P_(f) offsetof(sk_prepare_config, f)
static const sk_cfg_key prepare_keys_[] = {
    {"format", SK_CFG_STRING, P_(format), "idx", SK_CFG_UNBOUNDED, 0, "idx|text|jsonl|megatron|llmc", "input format to import"},
    {"input", SK_CFG_STRING, P_(input), "", SK_CFG_UNBOUNDED, 0, NULL,
     "input file (megatron: PREFIX or PREFIX.bin/.idx; with prepare.export: a shrink corpus)"},
    {"labels", SK_CFG_STRING, P_(labels), "", SK_CFG_UNBOUNDED, 0, NULL, "idx: IDX labels file (plain or .gz), empty = none"},
    {"output", SK_CFG_STRING, P_(output), "", SK_CFG_UNBOUNDED, 0, NULL,
     "output corpus (.h5); with prepare.export: output file (llmc) or PREFIX (megatron)"},
    {"export", SK_CFG_STRING, P_(export_), "none", SK_CFG_UNBOUNDED, 0, "none|megatron|llmc",
     "export prepare.input (a shrink corpus) to this format instead of importing"},
    {"level", SK_CFG_INT, P_(level), "3", 1, 22, 0, NULL, "zstd compression level"},
    {"chunk_kib", SK_CFG_INT, P_(chunk_kib), "1024", 1, 4194304, 0, NULL, "target HDF5 chunk size in KiB"},
    {"boundary", SK_CFG_STRING, P_(boundary), "%", SK_CFG_UNBOUNDED, 0, NULL,
     "text: a line equal to this ends a document (fortune files: %; empty = blank line)"},
    {"jsonl_key", SK_CFG_STRING, P_(jsonl_key), "text", SK_CFG_UNBOUNDED, 0, NULL, "jsonl: string field holding the document"},
    {"eod", SK_CFG_BOOL, P_(eod), "true", SK_CFG_UNBOUNDED, 0, NULL,
     "text/jsonl: append end-of-document token 256 (vocab 257) to every document"},
    {"vocab", SK_CFG_INT, P_(vocab), "0", 0, 9.2e18, 0, NULL, "megatron/llmc: vocabulary size, 0 = max token id + 1"},
    {"fletcher32", SK_CFG_BOOL, P_(fletcher32), "false", SK_CFG_UNBOUNDED, 0, NULL,
     "also store HDF5 Fletcher32 checksums (zstd frames already carry checksums)"},
    {"byteshuffle", SK_CFG_BOOL, P_(byteshuffle), "true", SK_CFG_UNBOUNDED, 0, NULL,
     "HDF5 byte-shuffle filter (built into HDF5, ID 2) before zstd for multi-byte dtypes: ~19% smaller byte-token corpora"},
};

const sk_cfg_section sk_prepare_section = {"prepare", "import corpora into shrink's HDF5+zstd format, or export them",
                                           prepare_keys_, (int)(sizeof prepare_keys_ / sizeof *prepare_keys_),
                                           sizeof(sk_prepare_config)};

void sk_data_loader_opts(const sk_data_config *d, sk_split which, int rank, int world, uint64_t seed,
                         sk_loader_opts *out) {
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
}
