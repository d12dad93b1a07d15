/* sk_infobatch.h - online sample pruning during training: InfoBatch
 * (Qin et al., "InfoBatch: Lossless Training Speed Up by Unbiased Dynamic
 * Data Pruning", ICLR 2024; reference code NUS-HPC-AI-Lab/InfoBatch,
 * infobatch/infobatch.py: prune(), update(), IBSampler).
 *
 * defines: sk_infobatch, sk_infobatch_create / _free, sk_infobatch_epoch,
 *          sk_infobatch_update, sk_infobatch_weight, sk_infobatch_scores,
 *          sk_infobatch_weights, sk_infobatch_size, sk_infobatch_prunes; for the
 *          trainer sk_infobatch_begin / _current / _order / _skipped_total /
 *          _skipped_epoch / _record / _flush (collective) / _ckpt / _ckpt_store /
 *          _ckpt_restore.
 *
 * State: one score per sample of the training split (its last recorded
 * per-sample loss; 3.0 before it is first seen, as the reference) and one
 * loss weight per sample. sk_infobatch_epoch(e) builds epoch e's global
 * sample order: while e < delta * epochs (the first delta of training) the
 * "well learned" samples, score < mean score, are each epoch subsampled to
 * floor((1 - r) * count) of them, chosen uniformly without replacement;
 * the kept well-learned ones get weight 1 / (1 - r), every other weight
 * is 1; all other samples are kept; the kept list is shuffled. Later
 * epochs are full shuffled passes with weight 1. The randomness is a
 * SplitMix64 stream keyed by (seed, epoch), so the order depends only on
 * (scores, seed, epoch), never on the rank count; the loader shards it
 * (sk_loader_seek_order).
 *
 * Differences from the reference, on purpose: the reference seeds numpy
 * with the epoch number (same draws for every seed), we key by the run's
 * seed too; the reference prunes while epoch <= delta * epochs, we prune
 * for epoch < delta * epochs ("prune in the first delta of training");
 * the reference clamps 1 - r to >= 0.1, we require r in [0, 1) and do not
 * clamp. The mean is taken in double over the float scores.
 *
 * Ownership: create's *out is the caller's (sk_infobatch_free); the
 * arrays returned by _scores / _weights are owned by the state (writable,
 * for checkpoint restore), valid until free.
 */
#ifndef SK_INFOBATCH_H
#define SK_INFOBATCH_H

#include <stdint.h>

#include "sk_params.h"

typedef struct sk_infobatch sk_infobatch;

#define SK_INFOBATCH_INIT_SCORE 3.0f

/* n samples; ratio r in [0, 1); delta in [0, 1]; epochs >= 1 (the run's
 * epoch budget). Errors name the value. */
int sk_infobatch_create(sk_infobatch **out, int64_t n, double ratio, double delta, int64_t epochs, uint64_t seed);
void sk_infobatch_free(sk_infobatch *ib);

/* Epoch e's order into order[0..*n) (order holds n samples' room) and set
 * the weights for it; *skipped = samples left out (0 in full epochs). */
int sk_infobatch_epoch(sk_infobatch *ib, int64_t e, int64_t *order, int64_t *n, int64_t *skipped);
/* Record losses of samples idx[0..m) (every rank gives the same, gathered
 * list: sk_train.c allgathers it). Errors for an index out of range or a
 * non-finite loss. */
int sk_infobatch_update(sk_infobatch *ib, const int64_t *idx, const float *loss, int64_t m);
/* Loss weight of sample i for the current epoch. */
float sk_infobatch_weight(const sk_infobatch *ib, int64_t i);
/* 1 if epoch e prunes (e < delta * epochs and r > 0). */
int sk_infobatch_prunes(const sk_infobatch *ib, int64_t e);
float *sk_infobatch_scores(sk_infobatch *ib);
float *sk_infobatch_weights(sk_infobatch *ib);
int64_t sk_infobatch_size(const sk_infobatch *ib);

/* ---- the trainer's side (sk_train.c) ---------------------------------- */

/* Enter epoch e (collective: it gathers the pending losses first,
 * sk_infobatch_flush): keep the scores as they are now (the epoch's start, for
 * checkpoints), build e's order (sk_infobatch_epoch) and count its skipped
 * samples. *order is owned by ib, valid until the next call. */
int sk_infobatch_begin(sk_infobatch *ib, int64_t e, const int64_t **order, int64_t *n);
/* The epoch entered last (-1: none), its order, and the totals. */
int64_t sk_infobatch_current(const sk_infobatch *ib);
const int64_t *sk_infobatch_order(const sk_infobatch *ib, int64_t *n);
int64_t sk_infobatch_skipped_total(const sk_infobatch *ib);
int64_t sk_infobatch_skipped_epoch(const sk_infobatch *ib);
/* Every rank gives its m samples (same m on every rank at every call)
 * with their losses; they are kept on this rank and gathered from all
 * ranks (sk_mpi_allgather_i64) into the scores by sk_infobatch_flush,
 * which _begin calls before it reads the scores, and which runs here
 * (collective, on every rank at the same call) once
 * SK_INFOBATCH_PENDING_MAX are pending. Not collective otherwise. */
#define SK_INFOBATCH_PENDING_MAX ((int64_t)1 << 16)
int sk_infobatch_record(sk_infobatch *ib, const int64_t *idx, const float *loss, int64_t m);
/* Collective: gather every rank's pending losses into the scores, so
 * every rank holds the same scores. The trainer calls it before a
 * checkpoint (_ckpt_store refuses pending losses). Errors as _update. */
int sk_infobatch_flush(sk_infobatch *ib);
/* The state as named tensors for checkpoints ("infobatch.scores",
 * "infobatch.epoch_scores" float32 [n], "infobatch.state" float64 [2] =
 * current epoch, samples skipped so far), owned by ib: _store copies the
 * state into them before a save; _restore reads them back after a load
 * and rebuilds the current epoch's order and weights from the epoch-start
 * scores, so a resumed run trains on exactly the samples and weights the
 * uninterrupted one does. */
sk_params *sk_infobatch_ckpt(sk_infobatch *ib);
int sk_infobatch_ckpt_store(sk_infobatch *ib);
int sk_infobatch_ckpt_restore(sk_infobatch *ib);

#endif /* SK_INFOBATCH_H */
