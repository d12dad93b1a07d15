/* sk_error.h - the error model shared by every shrink module.
 *
 * defines: sk_status codes (SK_OK, SK_E*), sk_error_set, sk_error_last,
 *          sk_error_clear, sk_strerror, and the SK_TRY / SK_FAIL_IF macros.
 *
 * Rules (libgit2 style):
 *  - A fallible function returns int: 0 (SK_OK) on success, a negative SK_E*
 *    code on failure. Functions returning pointers return NULL on failure.
 *  - The function that detects a failure calls sk_error_set() once with a
 *    message naming the file / key / op / shape involved. Callers propagate
 *    the code without overwriting the message (SK_TRY does exactly that).
 *  - The message lives in a per-thread fixed buffer: sk_error_last() never
 *    returns NULL and the pointer stays valid until the next sk_error_set()
 *    on the same thread.
 *  - Library code never calls exit(); only main() does.
 */
#ifndef SK_ERROR_H
#define SK_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SK_OK = 0,
    SK_ERROR = -1,        /* generic failure */
    SK_ENOMEM = -2,       /* allocation failed */
    SK_EINVAL = -3,       /* bad argument, bad config value, bad input data */
    SK_EIO = -4,          /* file system / read / write failure */
    SK_ENOTFOUND = -5,    /* name, key, file or object does not exist */
    SK_EEXISTS = -6,      /* duplicate registration or existing output */
    SK_ECORRUPT = -7,     /* stored data fails its checks */
    SK_ETORCH = -8,       /* libtorch raised an exception (message = its what()) */
    SK_EMPI = -9,         /* MPI failure or a peer rank failed */
    SK_EVERSION = -10,    /* vtable / file format version mismatch */
    SK_ENUMERIC = -11,    /* NaN / inf detected */
    SK_EUNSUPPORTED = -12 /* valid request this build or device cannot do */
};

/* Human name of a code ("invalid argument", ...). Never NULL. */
const char *sk_strerror(int code);

/* Record `code` and a printf-style message for the calling thread.
 * Returns `code` so that `return sk_error_set(SK_EINVAL, "...")` works.
 * The message is truncated to the buffer size (1024 bytes). */
int sk_error_set(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The last message set on this thread ("" if none). Borrowed, never NULL. */
const char *sk_error_last(void);

/* The code that went with the last message (SK_OK if none). */
int sk_error_last_code(void);

/* Forget the last error on this thread. */
void sk_error_clear(void);

/* Prepend context to the current message ("loading x.h5: " + old message)
 * without changing the code. For callers that add a file name the callee
 * did not know. Returns the current code. */
int sk_error_prefix(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Propagate a failure: evaluate expr, on negative result jump to `done`
 * with rc set. The function must declare `int rc` and a `done:` label. */
#define SK_TRY(expr)           \
    do {                       \
        rc = (expr);           \
        if (rc < 0) goto done; \
    } while (0)

/* Fail with a fresh message when cond holds: sets rc and jumps to done. */
#define SK_FAIL_IF(cond, code, ...)                 \
    do {                                            \
        if (cond) {                                 \
            rc = sk_error_set((code), __VA_ARGS__); \
            goto done;                              \
        }                                           \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif /* SK_ERROR_H */
