/* sk_ckpt_manifest.h - the checksum manifest of a checkpoint directory.
 *
 * defines: SK_CKPT_MANIFEST, sk_ckpt_manifest_write, sk_ckpt_manifest_check.
 *
 * MANIFEST is the last file written into a checkpoint (before the
 * directory is renamed into place): one line per file,
 *     xxh3-64 <16 hex digits> <size in bytes> <file name>
 * (XXH3_64bits of the whole file, libxxhash). Resume checks every listed
 * file against it before reading any, so a flipped byte or a truncated
 * file is an error naming that file instead of a silent resume.
 */
#ifndef SK_CKPT_MANIFEST_H
#define SK_CKPT_MANIFEST_H

#define SK_CKPT_MANIFEST "MANIFEST"

/* Hash files[0..n) of dir and write dir/MANIFEST atomically. */
int sk_ckpt_manifest_write(const char *dir, const char *const *files, int n);

/* Check dir against its MANIFEST: SK_ECORRUPT naming the file when the
 * manifest is missing or malformed, a listed file is missing, has another
 * size or checksum, or one of required[0..nreq) is not listed. */
int sk_ckpt_manifest_check(const char *dir, const char *const *required, int nreq);

#endif /* SK_CKPT_MANIFEST_H */
