/* sk_zstd_filter.h - the Zstandard HDF5 filter, registered ID 32015.
 *
 * defines: SK_ZSTD_FILTER_ID, sk_zstd_filter_fn, sk_zstd_register,
 *          sk_zstd_expect, sk_zstd_last_error.
 *
 * Conventions (identical to the HDF Group's reference H5Zzstd.c and
 * silx-kit/hdf5plugin, so each reads the other's files):
 *   cd_values[0] = compression level (1..22; absent -> 3),
 *   each chunk is exactly one zstd frame whose header records the content
 *   size (ZSTD_compress2), no extra header bytes.
 * Our frames also carry zstd's 32-bit content checksum, so a flipped byte
 * in a stored chunk fails decoding instead of yielding wrong data.
 *
 * The same source is compiled into the loadable plugin libH5Zzstd.so
 * (dataset/sk_zstd_plugin.c) for h5dump and h5py via HDF5_PLUGIN_PATH.
 * Owner: dataset module.
 */
#ifndef SK_ZSTD_FILTER_H
#define SK_ZSTD_FILTER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SK_ZSTD_FILTER_ID 32015
#define SK_ZSTD_DEFAULT_LEVEL 3

/* The H5Z_func_t: flags, cd_nelmts, cd_values, nbytes, buf_size, buf.
 * Returns the new data size, 0 on failure (HDF5's convention). */
size_t sk_zstd_filter_fn(unsigned int flags, size_t cd_nelmts, const unsigned int cd_values[], size_t nbytes,
                         size_t *buf_size, void **buf);

/* Register the filter with the HDF5 library of this process (idempotent,
 * thread-unsafe like all of HDF5). 0 or SK_EIO with a message. */
int sk_zstd_register(void);

/* Every chunk this thread decodes from now on must decode to exactly
 * nbytes (the dataset's chunk size; 0: no check, the plugin's default).
 * Set by the corpus reader around each H5Dread of a [shuffle,] zstd
 * dataset, so a frame that records another size fails as corrupt. */
void sk_zstd_expect(size_t nbytes);

/* Why the last call to the filter on this thread failed ("" if it did not);
 * lets callers put zstd's own reason into their error message. Borrowed. */
const char *sk_zstd_last_error(void);

#ifdef __cplusplus
}
#endif
#endif /* SK_ZSTD_FILTER_H */
