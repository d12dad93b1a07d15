/* sk_safetensors_read.c - read named f32 tensors from a safetensors file
 * (format: u64 little-endian header length, a JSON header mapping names to
 * {"dtype", "shape", "data_offsets": [begin, end]} relative to the data
 * section, then the data). Only what scorer "frozen" needs: look up a name,
 * check dtype F32 and the expected shape, copy the bytes. The header is
 * searched for the exact quoted name, then that entry's object is parsed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_safetensors_read.h"

int sk_safetensors_read_f32(const char *path, const char *name, const int64_t *shape, int ndim, float *out)
{
    int rc = SK_OK;
    char *hdr = NULL;
    FILE *f = fopen(path, "rb");
    SK_FAIL_IF(!f, SK_EIO, "%s: cannot open", path);
    unsigned char lb[8];
    SK_FAIL_IF(fread(lb, 1, 8, f) != 8, SK_ECORRUPT, "%s: not a safetensors file (short header)", path);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | lb[i];
    SK_FAIL_IF(hl == 0 || hl > (1u << 26), SK_ECORRUPT, "%s: bad safetensors header length %llu", path,
               (unsigned long long)hl);
    hdr = malloc(hl + 1);
    SK_FAIL_IF(!hdr, SK_ENOMEM, "%s: out of memory", path);
    SK_FAIL_IF(fread(hdr, 1, hl, f) != hl, SK_ECORRUPT, "%s: truncated safetensors header", path);
    hdr[hl] = '\0';
    char key[300];
    snprintf(key, sizeof key, "\"%s\"", name);
    char *e = strstr(hdr, key);
    while (e) { /* the key, not a value equal to it: next non-space is ':' */
        char *c = e + strlen(key);
        while (*c == ' ') c++;
        if (*c == ':') break;
        e = strstr(e + 1, key);
    }
    SK_FAIL_IF(!e, SK_ENOTFOUND, "%s: no tensor '%s'", path, name);
    char *obj = strchr(e, '{'), *end = obj ? strchr(obj, '}') : NULL;
    SK_FAIL_IF(!obj || !end, SK_ECORRUPT, "%s: tensor '%s': malformed header entry", path, name);
    *end = '\0';
    char *dt = strstr(obj, "\"dtype\""), *sh = strstr(obj, "\"shape\""), *of = strstr(obj, "\"data_offsets\"");
    SK_FAIL_IF(!dt || !sh || !of, SK_ECORRUPT, "%s: tensor '%s': entry lacks dtype/shape/data_offsets", path, name);
    SK_FAIL_IF(!strstr(dt, "\"F32\""), SK_EINVAL, "%s: tensor '%s' is not F32", path, name);
    char *p = strchr(sh, '[');
    SK_FAIL_IF(!p, SK_ECORRUPT, "%s: tensor '%s': bad shape", path, name);
    int64_t numel = 1;
    int nd = 0;
    p++;
    while (*p && *p != ']') {
        char *q;
        long long v = strtoll(p, &q, 10);
        if (q == p) {
            p++;
            continue;
        }
        SK_FAIL_IF(nd >= ndim || v != shape[nd], SK_EINVAL, "%s: tensor '%s' has the wrong shape", path, name);
        nd++;
        numel *= v;
        p = q;
    }
    SK_FAIL_IF(nd != ndim, SK_EINVAL, "%s: tensor '%s' has %d dims, expected %d", path, name, nd, ndim);
    p = strchr(of, '[');
    SK_FAIL_IF(!p, SK_ECORRUPT, "%s: tensor '%s': bad data_offsets", path, name);
    char *q;
    unsigned long long b0 = strtoull(p + 1, &q, 10);
    while (*q == ' ' || *q == ',') q++;
    unsigned long long b1 = strtoull(q, NULL, 10);
    SK_FAIL_IF(b1 < b0 || b1 - b0 != (unsigned long long)numel * 4, SK_ECORRUPT,
               "%s: tensor '%s': data_offsets do not match its shape", path, name);
    SK_FAIL_IF(fseek(f, (long)(8 + hl + b0), SEEK_SET) != 0 || fread(out, 4, (size_t)numel, f) != (size_t)numel,
               SK_ECORRUPT, "%s: tensor '%s': data truncated", path, name);
done:
    free(hdr);
    if (f) fclose(f);
    return rc;
}
