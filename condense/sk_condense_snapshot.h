/* sk_condense_snapshot.h - the driver's side of long distillations
 * (condense.snapshot_every, condense.resume_from; sk_condense.h): which
 * files a run will write, and the state file a resumed run reads.
 *
 * defines: sk_condense_snapshot_check, sk_condense_state_write,
 *          sk_condense_state_read.
 *
 * A state file (safetensors, common/sk_safetensors.h) holds "u" and
 * "momentum", F32 [rows, <sample shape>] each (sk_condense_out.syn_state),
 * and metadata: format "shrink-distill-state-1", method, iterations, seed,
 * source_xxh64, and "keys": one "condense.<key>: <value>" line for every
 * key the method reads except those that only say how long to run or where
 * to write (iterations, synthetic_dtype, snapshot_every, resume_from), then
 * one "model.<key>: <value>" line per [model] key. A resume must agree on
 * all of them: the images' trajectory depends on nothing else (run.threads
 * aside, which moves float rounding only).
 */
#ifndef SK_CONDENSE_SNAPSHOT_H
#define SK_CONDENSE_SNAPSHOT_H

#include <stdint.h>

#include "sk_condense.h"

/* Before any work: the keys fit the method (only synthesising methods
 * take them), and no snapshot, state file or output that the run will
 * write exists unless condense.overwrite. The message names the key or
 * the file. */
int sk_condense_snapshot_check(const sk_condense_method *vt, const sk_condense_config *c);

/* The state file beside `corpus` after `iterations`: state is
 * [2, rows, <in's sample shape>] (u, then momentum). Atomic; one process
 * writes it. */
int sk_condense_state_write(const char *corpus, const sk_condense_method *vt, const sk_condense_opts *o,
                            uint64_t source_xxh64, int64_t iterations, const float *state, int64_t rows,
                            const sk_corpus_info *in);

/* condense.resume_from's state file, checked against this run (method,
 * seed, source checksum, keys and [model], shape, fewer iterations than
 * condense.iterations): *state ([2, rows, <in's sample shape>], caller
 * frees) and the *iterations it made. The message names the file and the
 * first key that differs. Every rank reads it: each needs the state of
 * the classes it distils, and one small read per rank costs less than
 * shipping it. */
int sk_condense_state_read(const sk_condense_method *vt, const sk_condense_opts *o, uint64_t source_xxh64, int64_t rows,
                           const sk_corpus_info *in, float **state, int64_t *iterations);

#endif /* SK_CONDENSE_SNAPSHOT_H */
