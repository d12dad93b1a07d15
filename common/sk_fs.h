/* sk_fs.h - small filesystem helpers shared by every module.
 *
 * defines: sk_fs_mkdir_p, sk_fs_write_atomic, sk_fs_hash_file, sk_fs_same_file.
 *
 * Outputs are never left half-written at their final name: sk_fs_write_atomic
 * writes "<path>.tmp.<pid>", fsyncs it and renames it into place (POSIX
 * rename is atomic within a filesystem); on failure the temporary is removed.
 */
#ifndef SK_FS_H
#define SK_FS_H

#include <stddef.h>
#include <stdint.h>

/* mkdir -p: create path and its missing parents (mode 0777 & ~umask). */
int sk_fs_mkdir_p(const char *path);

/* Write the concatenation of bufs[0..n) (lens[i] bytes each) to path atomically. */
int sk_fs_write_atomic(const char *path, const void *const *bufs, const size_t *lens, int n);

/* XXH64 (seed 0) of a whole file's bytes, streamed: the checksum shrink
 * records for the files a result came from (condensation provenance).
 * Errors name the file. */
int sk_fs_hash_file(const char *path, uint64_t *out);

/* 1 when a and b name the same existing file (same device and inode), else 0. */
int sk_fs_same_file(const char *a, const char *b);

#endif /* SK_FS_H */
