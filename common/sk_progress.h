/* sk_progress.h - progress reporting for long loops (training steps,
 * corpus shards): a redrawn bar with rate and ETA when the output is a
 * terminal, plain periodic lines otherwise (logs, mpirun, CI).
 *
 * defines: sk_progress, sk_progress_opts, SK_PROGRESS_*, sk_progress_create,
 *          sk_progress_update, sk_progress_finish, sk_progress_free,
 *          sk_progress_set_rank.
 *
 *   sk_progress *p = NULL;
 *   sk_progress_opts o = {.label = "step", .total = steps, .every = log_every};
 *   SK_TRY(sk_progress_create(&p, &o));
 *   for (...) { ...; snprintf(extra, sizeof extra, "loss %.3f", loss);
 *               sk_progress_update(p, step + 1, extra); }
 *   sk_progress_finish(p, extra);   sk_progress_free(p);
 *
 * Plain line:  "step 40/200 (20%) 12.3 it/s eta 13s loss 0.51"
 * Bar:         "\r[########............] 40/200 20% 12.3 it/s eta 13s loss 0.51"
 *              redrawn at most 10 times a second.
 * Like logging, only rank 0 prints unless sk_progress_set_rank() says every
 * rank may, and nothing prints when the log level is below info.
 */
#ifndef SK_PROGRESS_H
#define SK_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_progress sk_progress;

enum {
    SK_PROGRESS_AUTO = 0, /* bar if `out` is a terminal, else lines */
    SK_PROGRESS_BAR = 1,
    SK_PROGRESS_LINES = 2
};

typedef struct {
    const char *label; /* word before the count; NULL = "step" */
    int64_t total;     /* steps expected; 0 = unknown (no percentage / ETA) */
    int64_t every;     /* lines mode: one line every `every` steps (and at the end); <= 0 = 10 */
    int mode;          /* SK_PROGRESS_* */
    FILE *out;         /* NULL = stderr */
} sk_progress_opts;

/* Start timing now. *out is owned by the caller (sk_progress_free).
 * opts may be NULL (defaults). */
int sk_progress_create(sk_progress **out, const sk_progress_opts *opts);

/* `done` steps are complete; `extra` (may be NULL) is appended to the line,
 * e.g. "loss 0.51". Cheap enough to call every step. */
void sk_progress_update(sk_progress *p, int64_t done, const char *extra);

/* Print the final state (a bar gets its newline). Idempotent. */
void sk_progress_finish(sk_progress *p, const char *extra);

/* Accepts NULL. Does not print: call sk_progress_finish first. */
void sk_progress_free(sk_progress *p);

/* Which rank this process is and whether non-zero ranks print (the CLI sets
 * it from log.all_ranks). Default: rank 0, only rank 0 prints. */
void sk_progress_set_rank(int rank, int all_ranks);

#ifdef __cplusplus
}
#endif
#endif /* SK_PROGRESS_H */
