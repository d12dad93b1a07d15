/* sk_fuzz_util.h - helpers shared by the libFuzzer harnesses: the fuzz
 * input written to a per-process temporary file (the parsers read paths). */
#ifndef SK_FUZZ_UTIL_H
#define SK_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Write data[0..n) to $TMPDIR/skfuzz-<pid>-<tag><ext> (path into out, cap
 * bytes); 0 or -1. Each harness reuses its names, so nothing piles up. */
static int sk_fuzz_file_(const char *tag, const char *ext, const uint8_t *data, size_t n, char *out, size_t cap)
{
    const char *dir = getenv("TMPDIR");
    snprintf(out, cap, "%s/skfuzz-%ld-%s%s", dir && dir[0] ? dir : "/tmp", (long)getpid(), tag, ext);
    FILE *f = fopen(out, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    return fclose(f) == 0 && w == n ? 0 : -1;
}

#endif
