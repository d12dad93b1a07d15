/* sk_fs.h - small filesystem helpers shared by every module.
 *
 * defines: sk_fs_mkdir_p, sk_fs_write_atomic.
 *
 * Outputs are never left half-written at their final name: sk_fs_write_atomic
 * writes "<path>.tmp.<pid>", fsyncs it and renames it into place (POSIX
 * rename is atomic within a filesystem); on failure the temporary is removed.
 */
#ifndef SK_FS_H
#define SK_FS_H

#include <stddef.h>

/* mkdir -p: create path and its missing parents (mode 0777 & ~umask). */
int sk_fs_mkdir_p(const char *path);

/* Write the concatenation of bufs[0..n) (lens[i] bytes each) to path atomically. */
int sk_fs_write_atomic(const char *path, const void *const *bufs, const size_t *lens, int n);

#endif /* SK_FS_H */
