/* sk_log.c - leveled, rank-aware logging to stderr (see sk_log.h). */
#include "sk_log.h"
#include "sk_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static sk_log_level level_ = SK_LOG_LEVEL_INFO;
static int rank_ = 0;
static int all_ranks_ = 0;

static const char *const names_[] = {[SK_LOG_LEVEL_ERROR] = "error",
                                     [SK_LOG_LEVEL_WARN] = "warn",
                                     [SK_LOG_LEVEL_INFO] = "info",
                                     [SK_LOG_LEVEL_DEBUG] = "debug"};

void sk_log_set_level(sk_log_level level) { level_ = level; }
sk_log_level sk_log_get_level(void) { return level_; }

const char *sk_log_level_name(int level)
{
    return level >= 0 && level < (int)(sizeof names_ / sizeof *names_) ? names_[level] : NULL;
}

void sk_log_set_rank(int rank, int all_ranks)
{
    rank_ = rank;
    all_ranks_ = all_ranks;
}

void sk_log_msg(sk_log_level level, const char *fmt, ...)
{
    if (level > level_) return;
    if (rank_ != 0 && !all_ranks_ && level != SK_LOG_LEVEL_ERROR) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (rank_ != 0 || all_ranks_)
        fprintf(stderr, "shrink[%d] %s: %s\n", rank_, names_[level], buf);
    else
        fprintf(stderr, "shrink %s: %s\n", names_[level], buf);
}
