/* sk_time.h - monotonic clock for timing things.
 *
 * defines: sk_now.
 */
#ifndef SK_TIME_H
#define SK_TIME_H

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds on CLOCK_MONOTONIC (arbitrary origin): subtract two readings. */
double sk_now(void);

#ifdef __cplusplus
}
#endif
#endif /* SK_TIME_H */
