/* sk_fs.c - filesystem helpers (see sk_fs.h). */
#include "sk_fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "sk_error.h"

int sk_fs_mkdir_p(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return sk_error_set(SK_EINVAL, "%s: path too long", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0777);
            *p = '/';
        }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return sk_error_set(SK_EIO, "%s: cannot create directory: %s", path, strerror(errno));
    return SK_OK;
}

int sk_fs_write_atomic(const char *path, const void *const *bufs, const size_t *lens, int n)
{
    int rc = SK_OK;
    char tmp[8320];
    FILE *f = NULL;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    f = fopen(tmp, "wb");
    SK_FAIL_IF(!f, SK_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    for (int i = 0; i < n; i++)
        SK_FAIL_IF(lens[i] && fwrite(bufs[i], 1, lens[i], f) != lens[i], SK_EIO, "%s: write failed: %s", tmp,
                   strerror(errno));
    SK_FAIL_IF(fflush(f) != 0 || fsync(fileno(f)) != 0, SK_EIO, "%s: flush failed: %s", tmp, strerror(errno));
    SK_FAIL_IF(fclose(f) != 0, SK_EIO, "%s: close failed: %s", tmp, strerror(errno));
    f = NULL;
    SK_FAIL_IF(rename(tmp, path) != 0, SK_EIO, "%s: rename failed: %s", path, strerror(errno));
done:
    if (f) fclose(f);
    if (rc < 0) unlink(tmp);
    return rc;
}

int sk_fs_hash_file(const char *path, uint64_t *out)
{
    int rc = SK_OK;
    enum { BUF = 1 << 20 };
    FILE *f = fopen(path, "rb");
    char *buf = malloc(BUF);
    XXH64_state_t *st = XXH64_createState();
    SK_FAIL_IF(!f, SK_EIO, "%s: %s", path, strerror(errno));
    SK_FAIL_IF(!buf || !st, SK_ENOMEM, "%s: out of memory", path);
    XXH64_reset(st, 0);
    size_t n;
    while ((n = fread(buf, 1, BUF, f)) > 0) XXH64_update(st, buf, n);
    SK_FAIL_IF(ferror(f), SK_EIO, "%s: read error: %s", path, strerror(errno));
    *out = XXH64_digest(st);
done:
    if (f) fclose(f);
    free(buf);
    XXH64_freeState(st);
    return rc;
}

int sk_fs_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
