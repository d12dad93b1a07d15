/* sk_safetensors.h - safetensors files as bytes: a strict reader and an atomic writer.
 *
 * defines: sk_safetensors (opaque), sk_safetensors_entry, sk_safetensors_open,
 * sk_safetensors_free, sk_safetensors_count, sk_safetensors_at,
 * sk_safetensors_find, sk_safetensors_read, sk_safetensors_meta,
 * sk_safetensors_write, sk_safetensors_dtype_size.
 *
 * Format (huggingface/safetensors README): u64 little-endian header length
 * N, N bytes of UTF-8 JSON (padded with spaces), then the data section. The
 * header maps each tensor name to {"dtype", "shape", "data_offsets":
 * [begin, end]} (byte offsets into the data section) and may hold one
 * "__metadata__" object of string values. Tensor bytes are little-endian,
 * C order; this module moves bytes only (tensors: models/sk_weights.h) and
 * assumes a little-endian host, as the format does.
 *
 * Open validates everything docs/FORMAT.md lists before any byte is used
 * (header length within the file, JSON well-formed, each entry's dtype
 * known and shape × dtype size equal to its byte range, the ranges tiling
 * the data section exactly, metadata string → string, no duplicate names);
 * every error names the file and, where one is at fault, the tensor.
 */
#ifndef SK_SAFETENSORS_H
#define SK_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define SK_SAFETENSORS_MAX_DIMS 8

typedef struct sk_safetensors sk_safetensors;

/* One tensor. Reading: name and dtype are borrowed from the open file and
 * begin/end are its data_offsets. Writing: begin/end are ignored (the
 * writer lays the tensors out in the order given). */
typedef struct {
    const char *name;
    const char *dtype; /* "F32", "I64", ...: the format's dtype names */
    int ndim;
    int64_t shape[SK_SAFETENSORS_MAX_DIMS];
    uint64_t begin, end;
} sk_safetensors_entry;

/* Bytes per element of a safetensors dtype name, or 0 when unknown. */
size_t sk_safetensors_dtype_size(const char *dtype);

/* Open and validate path; *out is owned by the caller (sk_safetensors_free).
 * SK_EIO: cannot open; SK_ECORRUPT: the file breaks a format rule. */
int sk_safetensors_open(sk_safetensors **out, const char *path);
void sk_safetensors_free(sk_safetensors *st);

/* The entries in header order (borrowed, valid until free). */
int sk_safetensors_count(const sk_safetensors *st);
const sk_safetensors_entry *sk_safetensors_at(const sk_safetensors *st, int i);
/* The entry named name, or NULL. */
const sk_safetensors_entry *sk_safetensors_find(const sk_safetensors *st, const char *name);

/* Copy e's bytes (e->end - e->begin of them; cap must hold them) into out. */
int sk_safetensors_read(const sk_safetensors *st, const sk_safetensors_entry *e, void *out, size_t cap);

/* The __metadata__ value of key (borrowed), or NULL when absent. */
const char *sk_safetensors_meta(const sk_safetensors *st, const char *key);

/* Write n tensors (entry i's bytes at data[i], numel × dtype size of them)
 * and nmeta metadata pairs (meta: key0, value0, key1, ...) to path
 * atomically (common/sk_fs.h). Names must be unique and not "__metadata__";
 * the header is padded with spaces to a multiple of 8 bytes. */
int sk_safetensors_write(const char *path, const sk_safetensors_entry *ents, const void *const *data, int n,
                         const char *const *meta, int nmeta);

#endif /* SK_SAFETENSORS_H */
