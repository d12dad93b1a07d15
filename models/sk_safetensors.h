/* sk_safetensors.h - safetensors files of named tensors.
 *
 * defines: sk_safetensors_write, sk_safetensors_read, sk_safetensors_read_meta.
 *
 * safetensors (huggingface/safetensors): u64 little-endian header length N,
 * N bytes of JSON header (padded with spaces to a multiple of 8),
 * then the raw little-endian C-order tensor bytes, contiguous in header
 * order from offset 0. Readable by safetensors.torch / numpy.
 */
#ifndef SK_SAFETENSORS_H
#define SK_SAFETENSORS_H

#include <stddef.h>

#include "sk_shim.h"

/* Write tensors (float/int dtypes) with optional string metadata
 * (meta: alternating key, value; nmeta pairs) atomically to path. */
int sk_safetensors_write(const char *path, const char *const *names, sk_tensor *const *ts, int n,
                         const char *const *meta, int nmeta);
/* Load the named tensors from path into the existing tensors ts (same
 * shape and dtype, checked; a missing name is an error naming it). */
int sk_safetensors_read(const char *path, const char *const *names, sk_tensor *const *ts, int n);

/* The string values of the __metadata__ keys keys[0..nkeys) in the
 * safetensors file path, read in one pass: value i is copied into
 * vals + i * cap (cap bytes each, truncated); SK_ENOTFOUND naming the file
 * and the first absent key. */
int sk_safetensors_read_meta(const char *path, const char *const *keys, int nkeys, char *vals, size_t cap);

#endif /* SK_SAFETENSORS_H */
