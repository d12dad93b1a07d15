/* sk_log.h - leveled logging, rank-aware.
 *
 * defines: sk_log_level, sk_log_set_level, sk_log_level_name, sk_log_set_rank, sk_log_msg and the
 *          SK_LOG_{ERROR,WARN,INFO,DEBUG} macros.
 *
 * Under MPI only rank 0 prints by default (errors print on every rank, tagged
 * with the rank); sk_log_set_rank(rank, all_ranks=1) lets every rank print.
 * Output goes to stderr; stdout is left to command results.
 */
#ifndef SK_LOG_H
#define SK_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SK_LOG_LEVEL_ERROR = 0,
    SK_LOG_LEVEL_WARN = 1,
    SK_LOG_LEVEL_INFO = 2,
    SK_LOG_LEVEL_DEBUG = 3
} sk_log_level;

/* Messages above `level` are dropped. Default: INFO. */
void sk_log_set_level(sk_log_level level);
sk_log_level sk_log_get_level(void);

/* "error", "warn", "info", "debug" for each sk_log_level; NULL past the
 * last (the choices of the log.level config key). */
const char *sk_log_level_name(int level);

/* Tell the logger which rank this process is. all_ranks=0: only rank 0
 * prints non-error messages. */
void sk_log_set_rank(int rank, int all_ranks);

void sk_log_msg(sk_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#define SK_LOG_ERROR(...) sk_log_msg(SK_LOG_LEVEL_ERROR, __VA_ARGS__)
#define SK_LOG_WARN(...) sk_log_msg(SK_LOG_LEVEL_WARN, __VA_ARGS__)
#define SK_LOG_INFO(...) sk_log_msg(SK_LOG_LEVEL_INFO, __VA_ARGS__)
#define SK_LOG_DEBUG(...) sk_log_msg(SK_LOG_LEVEL_DEBUG, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif /* SK_LOG_H */
