/* sk_loader.h - sharded, deterministic, prefetching batch loader over a
 * shrink corpus (docs/FORMAT.md).
 *
 * defines: sk_loader, sk_loader_opts, sk_batch, sk_loader_pos,
 *          sk_loader_create / _free / _next / _tell / _seek / _seek_order, sk_elem_type.
 *
 * Order. The global sample order of an epoch is a permutation that depends
 * only on (seed, epoch, corpus) (identity when shuffle == 0). A global batch
 * is global_batch = batch_size * world consecutive entries of that order;
 * rank r takes entries [r*batch_size, (r+1)*batch_size) of each global batch.
 * So P ranks with per-rank batch B/P see, together, exactly the samples one
 * rank with batch B sees. Incomplete last global batches are dropped.
 *
 * Token corpora. Documents are concatenated in corpus order into one stream
 * and cut into windows of seq_len + 1 tokens with stride seq_len (the last
 * token of a window is the first of the next); a "sample" is such a window,
 * so inputs are window[0:seq_len] and targets window[1:seq_len+1].
 *
 * Splits. split = SK_SPLIT_ALL uses every sample; SK_SPLIT_TRAIN /
 * SK_SPLIT_EVAL hold out the last `eval_fraction` of the samples (in corpus
 * order, before shuffling) as the evaluation split.
 *
 * Prefetch. A background thread reads, decompresses and assembles the next
 * `prefetch` batches while the caller trains. It reads whole chunks into a
 * cache of decoded chunks (by default as many as one shuffle group
 * touches, so each chunk is decoded about once per epoch) and copies
 * samples out of it; the cache changes speed only, never the batches.
 *
 * External order (opts.external_order, for online sample pruning such as
 * InfoBatch): the caller gives each epoch's global order itself with
 * sk_loader_seek_order (split-relative sample indices, any length from one
 * global batch to the split's size; steps = length / global batch, the
 * rest dropped), at the epoch's start or, on resume, at any step of it.
 * Ranks shard it as above. The loader produces nothing past the end of the
 * epoch it was given; sk_loader_next fails there until the next order.
 *
 * Position. sk_loader_tell() returns the position of the next batch to be
 * returned; sk_loader_seek() on a loader created with the same options
 * resumes so that the following batches are exactly those an uninterrupted
 * loader would have returned.
 */
#ifndef SK_LOADER_H
#define SK_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "sk_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_loader sk_loader;

typedef enum { SK_ELEM_U8 = 0, SK_ELEM_U16 = 1, SK_ELEM_I32 = 2, SK_ELEM_I64 = 3, SK_ELEM_F32 = 4 } sk_elem_type;

typedef enum { SK_SPLIT_ALL = 0, SK_SPLIT_TRAIN = 1, SK_SPLIT_EVAL = 2 } sk_split;

typedef struct {
    const char *path;   /* corpus file (borrowed for the call) */
    int rank, world;    /* this process's shard: 0 <= rank < world */
    int64_t batch_size; /* samples per rank per batch */
    int64_t seq_len; /* token corpora: window length (samples have seq_len+1 tokens); ignored for fixed-shape corpora */
    uint64_t seed;   /* shuffle seed */
    int shuffle;     /* 1: permute per epoch, 0: corpus order */
    int prefetch;    /* batches decoded ahead by the background thread (0: synchronous) */
    sk_split split;
    double eval_fraction; /* for SK_SPLIT_TRAIN / SK_SPLIT_EVAL, in (0, 1) */
    int split_random;     /* 0: EVAL is the last eval_fraction of the samples; 1: a random subset of that size,
                              a keyed bijection of (seed, n), so TRAIN and EVAL loaders of one seed never overlap */
    int64_t cache_bytes;  /* decoded-chunk cache (at least one chunk); 0: the chunks one shuffle group
                              touches, at most 256 MiB (2 chunks without shuffle) */
    int external_order;   /* 1: every epoch's order comes from sk_loader_seek_order (shuffle ignored) */
} sk_loader_opts;

typedef struct {
    int64_t n; /* samples in this batch (== batch_size) */
    int ndim;  /* per-sample dims: images e.g. 2 ([28, 28]) or 3 ([C,H,W]); tokens 1 ([seq_len+1]) */
    int64_t shape[4];
    sk_elem_type type;     /* element type of data */
    const void *data;      /* n * prod(shape) elements, C order (borrowed) */
    const int64_t *labels; /* n labels, or NULL when the corpus has none (borrowed) */
    const int64_t *index;  /* n sample indices within the split (0-based; borrowed) */
    int64_t epoch;         /* epoch this batch belongs to */
    int64_t step;          /* index of this global batch within its epoch */
} sk_batch;

typedef struct {
    int64_t epoch; /* epoch of the next batch */
    int64_t step;  /* global-batch index of the next batch within that epoch */
} sk_loader_pos;

/* Open the corpus and start the prefetch thread. Fails with a message
 * naming the file for a missing / corrupt corpus or bad options (batch too
 * large for the split, rank out of range, ...). */
int sk_loader_create(sk_loader **out, const sk_loader_opts *opts);
/* Stop the thread, close the file. NULL is fine. */
void sk_loader_free(sk_loader *l);
/* The next batch; epochs roll over forever. *out is borrowed and valid
 * until the next call to sk_loader_next / _seek / _free. */
int sk_loader_next(sk_loader *l, const sk_batch **out);
/* Position of the next batch; and resuming there. */
sk_loader_pos sk_loader_tell(const sk_loader *l);
int sk_loader_seek(sk_loader *l, sk_loader_pos pos);
/* External order only: epoch pos.epoch is order[0..n) (copied), resume at
 * its global batch pos.step. Fails naming the value for an index outside
 * the split, n below one global batch, or pos.step past the epoch. */
int sk_loader_seek_order(sk_loader *l, sk_loader_pos pos, const int64_t *order, int64_t n);
/* Global batches per epoch, and samples in the selected split. */
int64_t sk_loader_steps_per_epoch(const sk_loader *l);
int64_t sk_loader_num_samples(const sk_loader *l);
/* Corpus facts the model needs: vocabulary size (token corpora, else 0),
 * number of label classes (0 without labels). */
int64_t sk_loader_vocab_size(const sk_loader *l);
int64_t sk_loader_num_classes(const sk_loader *l);
/* Total time the caller spent blocked in sk_loader_next waiting for data,
 * in seconds (loader stall). */
double sk_loader_stall_seconds(const sk_loader *l);

#ifdef __cplusplus
}
#endif
#endif /* SK_LOADER_H */
