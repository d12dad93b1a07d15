/* sk_log.c - leveled, rank-aware logging to stderr (see sk_log.h). */
#include "sk_log.h"
#include "sk_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static sk_log_level level_ = SK_LOG_LEVEL_INFO;
static int rank_ = 0;
static int all_ranks_ = 0;

static const char *const names_[] = {"error", "warn", "info", "debug"};

void sk_log_set_level(sk_log_level level) { level_ = level; }
sk_log_level sk_log_get_level(void) { return level_; }

int sk_log_parse_level(const char *name, sk_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names_[i]) == 0) {
            *out = (sk_log_level)i;
            return SK_OK;
        }
    }
    return sk_error_set(SK_EINVAL, "unknown log level '%s' (expected error, warn, info or debug)", name);
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
