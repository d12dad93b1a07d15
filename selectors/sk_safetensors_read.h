/* sk_safetensors_read.h - minimal safetensors reader for selectors (scorer
 * "frozen"). defines: sk_safetensors_read_f32. Owner: selectors/. */
#ifndef SK_SAFETENSORS_READ_H
#define SK_SAFETENSORS_READ_H

#include <stdint.h>

#include "sk_error.h"

/* Copy the F32 tensor `name` of the file at `path` into out (caller-owned,
 * prod(shape) floats, little-endian host). Fails with a message naming the
 * file and tensor: missing file (SK_EIO), missing name (SK_ENOTFOUND),
 * wrong dtype or shape (SK_EINVAL), damaged file (SK_ECORRUPT). */
int sk_safetensors_read_f32(const char *path, const char *name, const int64_t *shape, int ndim, float *out);

#endif /* SK_SAFETENSORS_READ_H */
