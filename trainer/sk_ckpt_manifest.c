/* sk_ckpt_manifest.c - checkpoint checksums (see sk_ckpt_manifest.h).
 * XXH3-64 (Yann Collet's xxHash, Debian libxxhash-dev): non-cryptographic,
 * meant to catch storage corruption and truncation, at several GB/s so a
 * resume pays little for it. */
#include "sk_ckpt_manifest.h"
#include "sk_error.h"
#include "sk_fs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

/* XXH3-64 and size of the file at path, streamed. */
static int hash_file_(const char *path, uint64_t *h, uint64_t *size)
{
    int rc = SK_OK;
    char *buf = NULL;
    XXH3_state_t *st = NULL;
    FILE *f = fopen(path, "rb");
    SK_FAIL_IF(!f, errno == ENOENT ? SK_ECORRUPT : SK_EIO, "%s: %s", path,
               errno == ENOENT ? "missing (listed in the checkpoint's MANIFEST)" : strerror(errno));
    buf = malloc(1 << 20);
    st = XXH3_createState();
    SK_FAIL_IF(!buf || !st || XXH3_64bits_reset(st) != XXH_OK, SK_ENOMEM, "%s: out of memory", path);
    *size = 0;
    for (;;) {
        size_t n = fread(buf, 1, 1 << 20, f);
        if (n) XXH3_64bits_update(st, buf, n);
        *size += n;
        if (n < (1 << 20)) break;
    }
    SK_FAIL_IF(ferror(f), SK_EIO, "%s: read error: %s", path, strerror(errno));
    *h = XXH3_64bits_digest(st);
done:
    if (f) fclose(f);
    XXH3_freeState(st);
    free(buf);
    return rc;
}

int sk_ckpt_manifest_write(const char *dir, const char *const *files, int n)
{
    int rc = SK_OK;
    char path[8192];
    size_t cap = (size_t)n * 300 + 1, len = 0;
    char *text = malloc(cap);
    SK_FAIL_IF(!text, SK_ENOMEM, "checkpoint manifest: out of memory");
    text[0] = '\0';
    for (int i = 0; i < n; i++) {
        uint64_t h, sz;
        SK_FAIL_IF(strlen(files[i]) > 255 || strchr(files[i], '\n') || strchr(files[i], ' '), SK_EINVAL,
                   "checkpoint manifest: bad file name '%s'", files[i]);
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        SK_TRY(hash_file_(path, &h, &sz));
        len += (size_t)snprintf(text + len, cap - len, "xxh3-64 %016" PRIx64 " %" PRIu64 " %s\n", h, sz, files[i]);
    }
    snprintf(path, sizeof path, "%s/%s", dir, SK_CKPT_MANIFEST);
    {
        const void *part = text;
        SK_TRY(sk_fs_write_atomic(path, &part, &len, 1));
    }
done:
    free(text);
    return rc;
}

int sk_ckpt_manifest_check(const char *dir, const char *const *required, int nreq)
{
    int rc = SK_OK;
    char path[8192], line[512];
    int listed[64] = {0};
    int lineno = 0;
    snprintf(path, sizeof path, "%s/%s", dir, SK_CKPT_MANIFEST);
    FILE *f = fopen(path, "r");
    SK_FAIL_IF(!f, SK_ECORRUPT,
               "%s: %s: written last, so the checkpoint is incomplete, damaged or from a shrink without checksums",
               path, strerror(errno));
    while (fgets(line, sizeof line, f)) {
        char name[300], fp[8192];
        uint64_t want_h, want_sz, h, sz;
        lineno++;
        SK_FAIL_IF(sscanf(line, "xxh3-64 %16" SCNx64 " %" SCNu64 " %255s", &want_h, &want_sz, name) != 3 ||
                       !strchr(line, '\n'),
                   SK_ECORRUPT, "%s:%d: malformed line (want 'xxh3-64 HASH SIZE NAME')", path, lineno);
        SK_FAIL_IF(strchr(name, '/') || !strcmp(name, "..") || !strcmp(name, "."), SK_ECORRUPT,
                   "%s:%d: file name '%s' is not in the checkpoint directory", path, lineno, name);
        snprintf(fp, sizeof fp, "%s/%s", dir, name);
        SK_TRY(hash_file_(fp, &h, &sz));
        SK_FAIL_IF(sz != want_sz, SK_ECORRUPT,
                   "%s: %" PRIu64 " bytes, the checkpoint's MANIFEST says %" PRIu64 " (truncated or damaged)", fp, sz,
                   want_sz);
        SK_FAIL_IF(h != want_h, SK_ECORRUPT,
                   "%s: checksum mismatch (xxh3-64 %016" PRIx64 ", the checkpoint's MANIFEST says %016" PRIx64
                   "): the file is corrupt",
                   fp, h, want_h);
        for (int r = 0; r < nreq && r < 64; r++) listed[r] |= !strcmp(required[r], name);
    }
    SK_FAIL_IF(ferror(f), SK_EIO, "%s: read error", path);
    for (int r = 0; r < nreq && r < 64; r++)
        SK_FAIL_IF(!listed[r], SK_ECORRUPT, "%s: does not list %s", path, required[r]);
done:
    if (f) fclose(f);
    return rc;
}
