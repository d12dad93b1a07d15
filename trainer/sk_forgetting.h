/* sk_forgetting.h - forgetting events recorded during training (Toneva et
 * al., "An Empirical Study of Example Forgetting during Deep Neural Network
 * Learning", ICLR 2019; reference code mtoneva/example_forgetting,
 * run_mnist.py / run_cifar.py record, order_examples_by_forgetting.py
 * counts).
 *
 * defines: sk_forgetting, sk_forgetting_create / _free, sk_forgetting_update,
 *          sk_forgetting_record (collective), sk_forgetting_scores,
 *          sk_forgetting_write, sk_forgetting_ckpt / _ckpt_store /
 *          _ckpt_restore; SK_FORGETTING_FILE.
 *
 * As the reference: each time a training sample is presented, its
 * correctness (argmax of the training forward's logits == label, before
 * the update of that step) is appended to its sequence; a forgetting event
 * is a transition correct -> misclassified between two consecutive
 * presentations (compute_forgetting_statistics: transitions == -1). The
 * score of a sample is its number of events; a sample never classified
 * correctly ("never learned", first_learned NaN) is "infinitely
 * forgettable": sort_examples_by_forgetting gives it npresentations (the
 * run's epochs), a count no learned sample can reach. We store, for every
 * never-learned sample, the largest number of presentations any sample
 * had in the run (the reference's npresentations when every sample is
 * seen once per epoch); a sample never presented at all is never learned
 * too and gets the same value. So the stored array is finite float32, and
 * "higher = more forgettable" as every condense score.
 *
 * State per sample (enough to continue the count; a checkpoint holds it):
 * the last correctness (-1 before the first presentation), the events so
 * far and the presentations so far. "Never learned" is derived: no event
 * and not correct now (a sample once correct is either still correct or
 * was forgotten since, which is an event).
 *
 * The output file (SK_FORGETTING_FILE in run.out_dir, safetensors):
 * "forgetting" F32 [n] (the scores above), "events" and "presentations"
 * I32 [n], metadata "shrink.kind" = "forgetting", "shrink.source_file",
 * "shrink.source_xxh64" (sk_fs_hash_file of the training corpus, the
 * checksum condense's provenance uses), "shrink.rows", "shrink.never_learned"
 * (the value given to never-learned samples) and "shrink.steps".
 */
#ifndef SK_FORGETTING_H
#define SK_FORGETTING_H

#include <stdint.h>

#include "sk_params.h"

#define SK_FORGETTING_FILE "forgetting.safetensors"

typedef struct sk_forgetting sk_forgetting;

/* n training samples; *out is the caller's (sk_forgetting_free). */
int sk_forgetting_create(sk_forgetting **out, int64_t n);
void sk_forgetting_free(sk_forgetting *f);

/* Presentations of samples idx[0..m) in order with their correctness
 * (0 / 1). An index out of range is an error naming it. Not collective. */
int sk_forgetting_update(sk_forgetting *f, const int64_t *idx, const uint8_t *correct, int64_t m);
/* Collective: every rank gives its m presentations (the same m on every
 * rank); all ranks' are gathered in rank order and applied on every rank,
 * so every rank holds the same state. */
int sk_forgetting_record(sk_forgetting *f, const int64_t *idx, const uint8_t *correct, int64_t m);

/* The per-sample scores into out[0..n) (see above); *never_learned (may
 * be NULL) gets the value given to never-learned samples. */
void sk_forgetting_scores(const sk_forgetting *f, float *out, int64_t *never_learned);

/* Write SK_FORGETTING_FILE's contents to path atomically (one rank). */
int sk_forgetting_write(const sk_forgetting *f, const char *path, const char *source_file, uint64_t source_xxh64,
                        int64_t steps);

/* The state as named tensors for checkpoints ("forgetting.last",
 * "forgetting.events", "forgetting.presentations", float32 [n]; counts
 * are exact in float32 up to 2^24), owned by f: _store copies the state
 * into them before a save, _restore reads it back after a load. */
sk_params *sk_forgetting_ckpt(sk_forgetting *f);
int sk_forgetting_ckpt_store(sk_forgetting *f);
int sk_forgetting_ckpt_restore(sk_forgetting *f);

#endif /* SK_FORGETTING_H */
