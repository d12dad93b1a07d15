/* sk_cost.h - what token compression really costs: the measured speedup
 * of forward+backward with a selector against the same model without
 * one, its spread, peak memory of each side, and the analytic FLOP ratio.
 *
 * defines: sk_cost_opts, sk_cost_opts_default, sk_cost_result,
 *          sk_cost_measure (from a training config), sk_cost_step_fn and
 *          sk_cost_rounds (the measurement itself, over any two steps),
 *          sk_cost_host_peak_begin / _end (peak host RSS of a stretch).
 *
 * How it measures (docs/BENCHMARKS.md, "How cost is measured"):
 *   - Both sides run on the same batch, model weights and threads; side 0
 *     ("full") is the model without a selector, side 1 ("compressed") with
 *     the configured one. A step is forward + backward (no optimizer
 *     update; gradients zeroed after, device synchronised before the clock
 *     stops).
 *   - `warmup` untimed pairs first (allocator, caches, lazy init).
 *   - Then timed rounds, each one full step and one compressed step, the
 *     order alternating every round (A B, B A, A B, ...) so a drift in
 *     machine load, or whichever runs second profiting from the first's
 *     warm caches, hits both sides alike. Round i's speedup is
 *     t_full[i] / t_compressed[i].
 *   - After min_rounds, stop as soon as the interquartile range of the
 *     per-round speedups divided by their median is below target_spread,
 *     or at max_rounds, or when the timed rounds have taken max_seconds.
 *   - Reported: the median per-round speedup and its quartiles (q1, q3),
 *     each side's median step time, the rounds run and whether the spread
 *     target was met.
 *   - Memory, after the timing, one step per side: host RSS is the peak
 *     resident set (VmHWM) during that step, with the peak reset just
 *     before it (Linux: write 5 to /proc/self/clear_refs) and the C
 *     library's free memory returned to the OS first (glibc malloc_trim),
 *     so neither side inherits the other's high-water mark; rss_base is the
 *     resident set just before a step (weights, code, the batch), the same
 *     for both sides, so rss_x - rss_base is what the step itself added.
 *     getrusage's ru_maxrss could not do this: it is the whole process's
 *     peak and never resets. Device memory (CUDA builds with run.device=
 *     cuda) is libtorch's caching allocator's peak allocated bytes during
 *     the step (reset before it). Where a figure cannot be had it is -1.
 *
 * Under MPI every rank of the current communicator measures its own
 * micro-batch at the same time (as training would run); times and memory
 * are averaged over ranks, rounds is the largest count.
 */
#ifndef SK_COST_H
#define SK_COST_H

#include <stdint.h>

#include "sk_train.h"

typedef struct {
    int warmup;           /* untimed pairs before the first timed round (>= 0) */
    int min_rounds;       /* timed rounds before the spread is judged (>= 3) */
    int max_rounds;       /* stop here whatever the spread (>= min_rounds) */
    double max_seconds;   /* stop once the timed rounds took this long (> 0) */
    double target_spread; /* stop when IQR / median of the per-round speedup is below this (> 0) */
    int memory;           /* 1: measure peak host RSS / device memory of one step per side */
} sk_cost_opts;

/* warmup 3, min_rounds 7, max_rounds 200, max_seconds 60, target_spread
 * 0.05, memory 1. */
void sk_cost_opts_default(sk_cost_opts *o);

typedef struct {
    double speedup_median, speedup_q1, speedup_q3; /* per-round t_full / t_compressed */
    double ms_full, ms_compressed;                 /* median step time of each side, milliseconds */
    double flop_ratio;                /* analytic FLOPs full / compressed of the batch (sk_select_flops; the
                           scorers' own FLOPs counted on the compressed side); NaN when unknown */
    int64_t rss_base;                 /* host resident bytes just before a measured step (-1: unknown) */
    int64_t rss_full, rss_compressed; /* peak host resident bytes during one step of each side (-1: unknown) */
    int64_t dev_full, dev_compressed; /* peak device bytes allocated during one step (-1: not on a GPU) */
    int rounds;                       /* timed rounds run */
    int converged;                    /* 1 when IQR / median fell below target_spread */
} sk_cost_result;

/* Measure the configured selector (o->select) against no selector, on the
 * first training batch of o's data (o->source or the corpus; o->seed
 * builds the model as sk_train_run would). o->out_dir is not used (may be
 * NULL). Collective over the current communicator. Fails naming the key
 * when o->select is NULL or scorer none (nothing to compare), or when the
 * model takes no selector. */
int sk_cost_measure(const sk_train_opts *o, const sk_cost_opts *co, sk_cost_result *out);

/* One step of side 0 (full) or 1 (compressed): run it and return its wall
 * time in *seconds (a step that times itself can leave out set-up). */
typedef int (*sk_cost_step_fn)(void *ctx, int side, double *seconds);

/* The rounds, stopping rule and statistics above over any two steps (no
 * MPI: this rank alone); fills the timing fields, rounds and converged of
 * out, and the rss fields (measured with co->memory, else -1); dev and
 * flop fields are left as they are. Stops early, after at least 3 rounds,
 * once max_seconds have passed even below min_rounds. */
int sk_cost_rounds(sk_cost_step_fn step, void *ctx, const sk_cost_opts *co, sk_cost_result *out);

/* Peak host RSS of a stretch of code: begin returns the C library's free
 * memory to the OS, resets the peak and stores the resident bytes in
 * *base; end stores the peak since begin in *peak. SK_EUNSUPPORTED (and
 * -1s) where /proc/self/clear_refs or /proc/self/status are unusable. */
int sk_cost_host_peak_begin(int64_t *base);
int sk_cost_host_peak_end(int64_t *peak);

#endif /* SK_COST_H */
