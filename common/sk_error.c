/* sk_error.c - per-thread error message buffer (see sk_error.h). */
#include "sk_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SK_ERROR_BUF 1024

/* C11 thread-local fixed buffer: no lazy allocation, nothing to free. */
static _Thread_local char msg_[SK_ERROR_BUF];
static _Thread_local int code_;

const char *sk_strerror(int code)
{
    switch (code) {
    case SK_OK: return "ok";
    case SK_ERROR: return "error";
    case SK_ENOMEM: return "out of memory";
    case SK_EINVAL: return "invalid argument";
    case SK_EIO: return "i/o error";
    case SK_ENOTFOUND: return "not found";
    case SK_EEXISTS: return "already exists";
    case SK_ECORRUPT: return "corrupt data";
    case SK_ETORCH: return "libtorch error";
    case SK_EMPI: return "mpi error";
    case SK_EVERSION: return "version mismatch";
    case SK_ENUMERIC: return "non-finite value";
    case SK_EUNSUPPORTED: return "unsupported";
    default: return "unknown error";
    }
}

int sk_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg_, sizeof msg_, fmt, ap);
    va_end(ap);
    code_ = code;
    return code;
}

const char *sk_error_last(void) { return msg_; }

int sk_error_last_code(void) { return code_; }

void sk_error_clear(void)
{
    msg_[0] = '\0';
    code_ = SK_OK;
}

int sk_error_prefix(const char *fmt, ...)
{
    char old[SK_ERROR_BUF];
    va_list ap;
    memcpy(old, msg_, sizeof old);
    va_start(ap, fmt);
    int n = vsnprintf(msg_, sizeof msg_, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    size_t used = (size_t)n < sizeof msg_ ? (size_t)n : sizeof msg_ - 1;
    size_t room = sizeof msg_ - 1 - used;
    size_t len = strnlen(old, sizeof old - 1);
    if (len > room) len = room;
    memcpy(msg_ + used, old, len);
    msg_[used + len] = '\0';
    return code_;
}
