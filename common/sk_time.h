/* sk_time.h - monotonic clock for timing things.
 *
 * defines: sk_now, sk_cpu_now.
 */
#ifndef SK_TIME_H
#define SK_TIME_H

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds on CLOCK_MONOTONIC (arbitrary origin): subtract two readings. */
double sk_now(void);
/* CPU seconds this process has used (CLOCK_PROCESS_CPUTIME_ID: every
 * thread of it, user and system; libtorch's and OpenBLAS's pools, loader
 * threads, and MPI's busy polling while a collective waits): subtract two
 * readings. NaN if the clock is not available. */
double sk_cpu_now(void);

#ifdef __cplusplus
}
#endif
#endif /* SK_TIME_H */
