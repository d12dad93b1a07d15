/* sk_safetensors.c - strict safetensors reader and atomic writer (see
 * sk_safetensors.h; rules: huggingface/safetensors README and its Rust
 * validation, which also caps the header at 100 MB and requires the
 * tensors to tile the data section with neither holes nor overlaps). */
#include "sk_safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sk_error.h"
#include "sk_fs.h"

#define MAX_HEADER_ 100000000ull /* the reference implementation's limit */

struct sk_safetensors {
    char *path;
    int fd;
    uint64_t data_start, data_len; /* the data section: file offset, bytes */
    json_t *root;                  /* owns the names and dtypes the entries borrow */
    json_t *meta;                  /* borrowed from root, or NULL */
    sk_safetensors_entry *ents;
    int n;
};

static const struct {
    const char *name;
    size_t size;
} dtypes_[] = {{"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
               {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"I64", 8},     {"U64", 8}, {"F64", 8}};

size_t sk_safetensors_dtype_size(const char *dtype)
{
    for (size_t i = 0; dtype && i < sizeof dtypes_ / sizeof dtypes_[0]; i++)
        if (!strcmp(dtype, dtypes_[i].name)) return dtypes_[i].size;
    return 0;
}

static int pread_all_(int fd, void *buf, size_t n, uint64_t off)
{
    for (size_t got = 0; got < n;) {
        ssize_t k = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        got += (size_t)k;
    }
    return 0;
}

/* jansson reports a duplicate key by the offset just past its string token,
 * not by name: decode that token (scanning back to its unescaped opening
 * quote) so the error can name the tensor. */
static void dup_name_(const char *head, size_t pos, char *out, size_t cap)
{
    snprintf(out, cap, "(at byte %zu)", pos);
    if (pos < 2 || head[pos - 1] != '"') return;
    size_t q = pos - 1; /* the closing quote */
    for (;;) {
        if (q == 0) return;
        q--;
        if (head[q] != '"') continue;
        size_t bs = 0;
        while (bs < q && head[q - 1 - bs] == '\\') bs++;
        if (bs % 2 == 0) break;
    }
    json_t *s = json_loadb(head + q, pos - q, JSON_DECODE_ANY, NULL);
    if (json_is_string(s)) snprintf(out, cap, "'%s'", json_string_value(s));
    json_decref(s);
}

/* A non-negative JSON integer. */
static int uint_(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int shape_(const char *path, const char *name, const json_t *shape, sk_safetensors_entry *e, uint64_t *numel)
{
    int rc = SK_OK;
    SK_FAIL_IF(!json_is_array(shape) || json_array_size(shape) > SK_SAFETENSORS_MAX_DIMS, SK_ECORRUPT,
               "%s: tensor '%s': \"shape\" is not an array of at most %d sizes", path, name, SK_SAFETENSORS_MAX_DIMS);
    e->ndim = (int)json_array_size(shape);
    *numel = 1;
    for (int d = 0; d < e->ndim; d++) {
        uint64_t v;
        SK_FAIL_IF(uint_(json_array_get(shape, (size_t)d), &v) < 0, SK_ECORRUPT,
                   "%s: tensor '%s': shape[%d] is not a non-negative integer", path, name, d);
        SK_FAIL_IF(__builtin_mul_overflow(*numel, v, numel), SK_ECORRUPT, "%s: tensor '%s': shape overflows", path,
                   name);
        e->shape[d] = (int64_t)v;
    }
done:
    return rc;
}

static int entry_(const char *path, const char *name, const json_t *v, sk_safetensors_entry *e)
{
    int rc = SK_OK;
    const char *k;
    json_t *x;
    uint64_t numel = 0, bytes = 0;
    SK_FAIL_IF(!json_is_object(v), SK_ECORRUPT, "%s: tensor '%s': header entry is not an object", path, name);
    json_object_foreach((json_t *)v, k, x)
        SK_FAIL_IF(strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"), SK_ECORRUPT,
                   "%s: tensor '%s': unknown key \"%s\"", path, name, k);
    e->name = name;
    e->dtype = json_string_value(json_object_get(v, "dtype"));
    SK_FAIL_IF(!e->dtype, SK_ECORRUPT, "%s: tensor '%s': \"dtype\" missing or not a string", path, name);
    size_t es = sk_safetensors_dtype_size(e->dtype);
    SK_FAIL_IF(!es, SK_ECORRUPT, "%s: tensor '%s': unknown dtype '%s'", path, name, e->dtype);
    SK_TRY(shape_(path, name, json_object_get(v, "shape"), e, &numel));
    const json_t *off = json_object_get(v, "data_offsets");
    SK_FAIL_IF(!json_is_array(off) || json_array_size(off) != 2 || uint_(json_array_get(off, 0), &e->begin) < 0 ||
                   uint_(json_array_get(off, 1), &e->end) < 0 || e->end < e->begin,
               SK_ECORRUPT, "%s: tensor '%s': \"data_offsets\" is not [begin, end] with 0 <= begin <= end", path, name);
    SK_FAIL_IF(__builtin_mul_overflow(numel, (uint64_t)es, &bytes) || bytes != e->end - e->begin, SK_ECORRUPT,
               "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, its shape and dtype %s need %llu", path,
               name, (unsigned long long)e->begin, (unsigned long long)e->end, (unsigned long long)(e->end - e->begin),
               e->dtype, (unsigned long long)bytes);
done:
    return rc;
}

static int meta_(const char *path, json_t *m)
{
    int rc = SK_OK;
    const char *k;
    json_t *v;
    SK_FAIL_IF(!json_is_object(m), SK_ECORRUPT, "%s: __metadata__ is not an object", path);
    json_object_foreach(m, k, v)
        SK_FAIL_IF(!json_is_string(v), SK_ECORRUPT, "%s: __metadata__ '%s' is not a string", path, k);
done:
    return rc;
}

static int parse_header_(sk_safetensors *st, const char *head, size_t n)
{
    int rc = SK_OK;
    json_error_t err;
    const char *k;
    json_t *v;
    st->root = json_loadb(head, n, JSON_REJECT_DUPLICATES, &err);
    if (!st->root && json_error_code(&err) == json_error_duplicate_key) {
        char name[512];
        dup_name_(head, (size_t)err.position, name, sizeof name);
        SK_FAIL_IF(1, SK_ECORRUPT, "%s: duplicate name %s in the header", st->path, name);
    }
    if (!st->root) { /* a complete object followed by more bytes: the 8-byte header length is too large */
        json_error_t e1;
        json_t *one = json_loadb(head, n, JSON_DISABLE_EOF_CHECK, &e1);
        size_t end = one && json_is_object(one) ? (size_t)e1.position : 0;
        json_decref(one);
        while (end > 0 && end < n && head[end] == ' ') end++; /* writers pad the header with spaces */
        SK_FAIL_IF(end > 0 && end < n, SK_ECORRUPT,
                   "%s: the header length in the file's first 8 bytes (%zu) runs %zu bytes past the end of the JSON "
                   "header and its padding (%zu bytes): the length is wrong or the file is damaged",
                   st->path, n, n - end, end);
    }
    SK_FAIL_IF(!st->root, SK_ECORRUPT, "%s: header is not valid JSON: %s (byte %d)", st->path, err.text, err.position);
    SK_FAIL_IF(!json_is_object(st->root), SK_ECORRUPT, "%s: header is not a JSON object", st->path);
    st->meta = json_object_get(st->root, "__metadata__");
    if (st->meta) SK_TRY(meta_(st->path, st->meta));
    size_t cap = json_object_size(st->root);
    st->ents = calloc(cap ? cap : 1, sizeof *st->ents);
    SK_FAIL_IF(!st->ents, SK_ENOMEM, "%s: out of memory", st->path);
    json_object_foreach(st->root, k, v)
    {
        if (!strcmp(k, "__metadata__")) continue;
        SK_TRY(entry_(st->path, k, v, &st->ents[st->n]));
        st->n++;
    }
done:
    return rc;
}

static int cmp_range_(const void *a, const void *b)
{
    const sk_safetensors_entry *x = *(const sk_safetensors_entry *const *)a,
                               *y = *(const sk_safetensors_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* The byte ranges, in order, must tile [0, data_len) exactly. */
static int check_ranges_(const sk_safetensors *st)
{
    int rc = SK_OK;
    const sk_safetensors_entry **o = calloc((size_t)(st->n ? st->n : 1), sizeof *o), *prev = NULL;
    SK_FAIL_IF(!o, SK_ENOMEM, "%s: out of memory", st->path);
    for (int i = 0; i < st->n; i++) o[i] = &st->ents[i];
    qsort(o, (size_t)st->n, sizeof *o, cmp_range_);
    uint64_t pos = 0;
    for (int i = 0; i < st->n; pos = o[i]->end, prev = o[i], i++) {
        SK_FAIL_IF(o[i]->begin > pos && !prev, SK_ECORRUPT,
                   "%s: tensor '%s' starts at byte %llu of the data section, leaving a gap before it", st->path,
                   o[i]->name, (unsigned long long)o[i]->begin);
        SK_FAIL_IF(o[i]->begin > pos, SK_ECORRUPT, "%s: gap of %llu bytes between tensor '%s' and tensor '%s'",
                   st->path, (unsigned long long)(o[i]->begin - pos), prev->name, o[i]->name);
        SK_FAIL_IF(o[i]->begin < pos, SK_ECORRUPT, "%s: tensor '%s' [%llu, %llu) overlaps tensor '%s' [%llu, %llu)",
                   st->path, o[i]->name, (unsigned long long)o[i]->begin, (unsigned long long)o[i]->end, prev->name,
                   (unsigned long long)prev->begin, (unsigned long long)prev->end);
        SK_FAIL_IF(o[i]->end > st->data_len, SK_ECORRUPT,
                   "%s: tensor '%s' ends at byte %llu, past the %llu-byte data section (file truncated)", st->path,
                   o[i]->name, (unsigned long long)o[i]->end, (unsigned long long)st->data_len);
    }
    SK_FAIL_IF(pos < st->data_len && prev, SK_ECORRUPT,
               "%s: data section is %llu bytes longer than its tensors (after tensor '%s')", st->path,
               (unsigned long long)(st->data_len - pos), prev->name);
    SK_FAIL_IF(pos < st->data_len, SK_ECORRUPT, "%s: %llu bytes of data but the header lists no tensor", st->path,
               (unsigned long long)st->data_len);
done:
    free(o);
    return rc;
}

int sk_safetensors_open(sk_safetensors **out, const char *path)
{
    int rc = SK_OK;
    char *head = NULL;
    unsigned char le[8];
    struct stat sb;
    sk_safetensors *st = calloc(1, sizeof *st);
    *out = NULL;
    SK_FAIL_IF(!st || !(st->path = strdup(path)), SK_ENOMEM, "%s: out of memory", path);
    st->fd = open(path, O_RDONLY | O_CLOEXEC);
    SK_FAIL_IF(st->fd < 0 || fstat(st->fd, &sb) != 0, SK_EIO, "%s: cannot open: %s", path, strerror(errno));
    SK_FAIL_IF(S_ISDIR(sb.st_mode), SK_EINVAL, "%s: is a directory, not a safetensors file", path);
    uint64_t size = (uint64_t)sb.st_size, hl = 0;
    SK_FAIL_IF(size < 8 || pread_all_(st->fd, le, 8, 0) < 0, SK_ECORRUPT,
               "%s: truncated: %llu bytes, shorter than the 8-byte header length", path, (unsigned long long)size);
    for (int i = 0; i < 8; i++) hl |= (uint64_t)le[i] << (8 * i);
    SK_FAIL_IF(hl > size - 8, SK_ECORRUPT, "%s: header length %llu runs past the end of the file (%llu bytes)", path,
               (unsigned long long)hl, (unsigned long long)size);
    SK_FAIL_IF(hl < 2 || hl > MAX_HEADER_, SK_ECORRUPT, "%s: header length %llu outside [2, %llu]", path,
               (unsigned long long)hl, MAX_HEADER_);
    head = malloc(hl);
    SK_FAIL_IF(!head, SK_ENOMEM, "%s: out of memory for a %llu-byte header", path, (unsigned long long)hl);
    SK_FAIL_IF(pread_all_(st->fd, head, hl, 8) < 0, SK_EIO, "%s: cannot read the header", path);
    st->data_start = 8 + hl;
    st->data_len = size - 8 - hl;
    SK_TRY(parse_header_(st, head, hl));
    SK_TRY(check_ranges_(st));
    *out = st;
    st = NULL;
done:
    free(head);
    sk_safetensors_free(st);
    return rc;
}

void sk_safetensors_free(sk_safetensors *st)
{
    if (!st) return;
    if (st->fd >= 0) close(st->fd);
    json_decref(st->root);
    free(st->ents);
    free(st->path);
    free(st);
}

int sk_safetensors_count(const sk_safetensors *st) { return st->n; }

const sk_safetensors_entry *sk_safetensors_at(const sk_safetensors *st, int i)
{
    return i >= 0 && i < st->n ? &st->ents[i] : NULL;
}

const sk_safetensors_entry *sk_safetensors_find(const sk_safetensors *st, const char *name)
{
    for (int i = 0; i < st->n; i++)
        if (!strcmp(st->ents[i].name, name)) return &st->ents[i];
    return NULL;
}

int sk_safetensors_read(const sk_safetensors *st, const sk_safetensors_entry *e, void *out, size_t cap)
{
    int rc = SK_OK;
    uint64_t bytes = e->end - e->begin;
    SK_FAIL_IF(bytes > cap, SK_EINVAL, "%s: tensor '%s': %llu bytes do not fit a %zu-byte buffer", st->path, e->name,
               (unsigned long long)bytes, cap);
    SK_FAIL_IF(pread_all_(st->fd, out, (size_t)bytes, st->data_start + e->begin) < 0, SK_EIO,
               "%s: tensor '%s': read failed", st->path, e->name);
done:
    return rc;
}

const char *sk_safetensors_meta(const sk_safetensors *st, const char *key)
{
    return st->meta ? json_string_value(json_object_get(st->meta, key)) : NULL;
}

/* ---- writing ---- */

static int put_entry_(const char *path, json_t *root, const sk_safetensors_entry *e, uint64_t *off, size_t *bytes)
{
    int rc = SK_OK;
    json_t *shp = NULL;
    uint64_t numel = 1;
    const char *nm = e->name ? e->name : "(null)";
    size_t es = sk_safetensors_dtype_size(e->dtype);
    SK_FAIL_IF(!e->name || !strcmp(e->name, "__metadata__") || json_object_get(root, e->name), SK_EINVAL,
               "%s: tensor '%s': missing, reserved or duplicate name", path, nm);
    SK_FAIL_IF(!es, SK_EINVAL, "%s: tensor '%s': unknown dtype '%s'", path, nm, e->dtype ? e->dtype : "(null)");
    SK_FAIL_IF(e->ndim < 0 || e->ndim > SK_SAFETENSORS_MAX_DIMS, SK_EINVAL, "%s: tensor '%s': %d dimensions", path, nm,
               e->ndim);
    SK_FAIL_IF(!(shp = json_array()), SK_ENOMEM, "%s: out of memory", path);
    for (int d = 0; d < e->ndim; d++) {
        SK_FAIL_IF(e->shape[d] < 0 || __builtin_mul_overflow(numel, (uint64_t)e->shape[d], &numel), SK_EINVAL,
                   "%s: tensor '%s': bad shape[%d] = %lld", path, nm, d, (long long)e->shape[d]);
        SK_FAIL_IF(json_array_append_new(shp, json_integer(e->shape[d])) < 0, SK_ENOMEM, "%s: out of memory", path);
    }
    *bytes = (size_t)(numel * es);
    json_t *o = json_pack("{s:s, s:o, s:[I, I]}", "dtype", e->dtype, "shape", shp, "data_offsets", (json_int_t)*off,
                          (json_int_t)(*off + *bytes));
    shp = NULL; /* json_pack's "o" took it, even on failure */
    SK_FAIL_IF(!o || json_object_set_new(root, e->name, o) < 0, SK_EINVAL,
               "%s: tensor '%s': cannot add to the header (name not UTF-8?)", path, nm);
    *off += *bytes;
done:
    json_decref(shp);
    return rc;
}

/* The header JSON, space-padded to a multiple of 8 bytes, into *out
 * (caller frees) and *hlen; tensor i's byte count into lens[i]. */
static int header_(const char *path, const sk_safetensors_entry *ents, int n, const char *const *meta, int nmeta,
                   size_t *lens, char **out, size_t *hlen)
{
    int rc = SK_OK;
    char *js = NULL;
    uint64_t off = 0;
    json_t *root = json_object(), *md = nmeta > 0 ? json_object() : NULL;
    SK_FAIL_IF(!root || (nmeta > 0 && !md), SK_ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < nmeta; i++)
        SK_FAIL_IF(!meta[2 * i] || !meta[2 * i + 1] ||
                       json_object_set_new(md, meta[2 * i], json_string(meta[2 * i + 1])),
                   SK_EINVAL, "%s: __metadata__ '%s': missing or not UTF-8", path, meta[2 * i] ? meta[2 * i] : "");
    if (md) {
        SK_FAIL_IF(json_object_set_new(root, "__metadata__", md) < 0, SK_ENOMEM, "%s: out of memory", path);
        md = NULL;
    }
    for (int i = 0; i < n; i++) SK_TRY(put_entry_(path, root, &ents[i], &off, &lens[i]));
    js = json_dumps(root, JSON_COMPACT);
    SK_FAIL_IF(!js, SK_ENOMEM, "%s: out of memory", path);
    size_t hl = strlen(js), pad = (8 - hl % 8) % 8;
    *out = malloc(hl + pad);
    SK_FAIL_IF(!*out, SK_ENOMEM, "%s: out of memory", path);
    memcpy(*out, js, hl);
    memset(*out + hl, ' ', pad);
    *hlen = hl + pad;
done:
    free(js);
    json_decref(md);
    json_decref(root);
    return rc;
}

int sk_safetensors_write(const char *path, const sk_safetensors_entry *ents, const void *const *data, int n,
                         const char *const *meta, int nmeta)
{
    int rc = SK_OK;
    char *head = NULL;
    unsigned char le[8];
    const void **bufs = calloc((size_t)n + 2, sizeof *bufs); /* length, header, tensors */
    size_t *lens = calloc((size_t)n + 2, sizeof *lens);
    SK_FAIL_IF(!bufs || !lens, SK_ENOMEM, "%s: out of memory", path);
    SK_TRY(header_(path, ents, n, meta, nmeta, lens + 2, &head, &lens[1]));
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)((uint64_t)lens[1] >> (8 * i));
    bufs[0] = le;
    bufs[1] = head;
    lens[0] = 8;
    for (int i = 0; i < n; i++) bufs[i + 2] = data[i];
    SK_TRY(sk_fs_write_atomic(path, (const void *const *)bufs, lens, n + 2));
done:
    free(head);
    free(bufs);
    free(lens);
    return rc;
}
