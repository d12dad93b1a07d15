/* sk_weights.h - named tensors saved as and loaded from safetensors files.
 *
 * defines: sk_weights_write, sk_weights_read, sk_weights_read_meta.
 *
 * A thin layer over common/sk_safetensors.h (which validates the file and
 * moves the bytes): this one maps shim tensors to entries, copies them
 * through host memory and checks each loaded tensor's dtype and shape
 * against the tensor it fills. Files are readable by safetensors.torch and
 * numpy (docs/FORMAT.md).
 */
#ifndef SK_WEIGHTS_H
#define SK_WEIGHTS_H

#include <stddef.h>

#include "sk_shim.h"

/* Write tensors ts[0..n) under names[0..n) with optional string metadata
 * (meta: alternating key, value; nmeta pairs) atomically to path. */
int sk_weights_write(const char *path, const char *const *names, sk_tensor *const *ts, int n, const char *const *meta,
                     int nmeta);
/* Load the named tensors from path into the existing tensors ts (same
 * shape and dtype, checked: SK_EINVAL naming the tensor; a missing name is
 * SK_ENOTFOUND naming it; a damaged file SK_ECORRUPT). */
int sk_weights_read(const char *path, const char *const *names, sk_tensor *const *ts, int n);

/* The string values of the __metadata__ keys keys[0..nkeys) of path: value
 * i is copied into vals + i * cap (cap bytes each, truncated); SK_ENOTFOUND
 * naming the file and the first absent key. */
int sk_weights_read_meta(const char *path, const char *const *keys, int nkeys, char *vals, size_t cap);

#endif /* SK_WEIGHTS_H */
