/* sk_zstd_filter.c - Zstandard HDF5 filter 32015 (see sk_zstd_filter.h).
 *
 * Encoding uses ZSTD_compress2 on a CCtx with the checksum flag set: the
 * frame header records the content size (required by the reference
 * decoders, which call ZSTD_getFrameContentSize / ZSTD_getDecompressedSize
 * before decoding) and the frame ends with a content checksum that
 * ZSTD_decompress verifies. This file must not call into libhdf5 except in
 * sk_zstd_register, which the plugin build leaves out (SK_ZSTD_PLUGIN), so
 * the plugin loads into serial h5dump and h5py as well. */
#include "sk_zstd_filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#ifndef SK_ZSTD_PLUGIN
#include <hdf5.h>

#include "sk_error.h"
#endif

#define H5Z_FLAG_REVERSE_ 0x0100u /* == H5Z_FLAG_REVERSE, without needing hdf5.h */

static _Thread_local char zstd_err_[256];

const char *sk_zstd_last_error(void) { return zstd_err_; }

/* The decoded size the reader expects of every chunk it reads next (0:
 * unknown). HDF5 1.10 copies a whole chunk out of whatever buffer the
 * pipeline returns, so a frame whose header records less than the chunk
 * (a corrupt file) would have it read past our buffer (fuzz_corpus), and
 * a frame recording more would size our allocation from the file. */
static _Thread_local size_t expect_;

void sk_zstd_expect(size_t nbytes) { expect_ = nbytes; }

static size_t fail_(const char *what, size_t code)
{
    snprintf(zstd_err_, sizeof zstd_err_, "zstd %s: %s", what, ZSTD_getErrorName(code));
    return 0;
}

size_t sk_zstd_filter_fn(unsigned int flags, size_t cd_nelmts, const unsigned int cd_values[], size_t nbytes,
                         size_t *buf_size, void **buf)
{
    zstd_err_[0] = '\0';
    if (flags & H5Z_FLAG_REVERSE_) {
        unsigned long long n = ZSTD_getFrameContentSize(*buf, nbytes);
        if (n == ZSTD_CONTENTSIZE_ERROR) {
            snprintf(zstd_err_, sizeof zstd_err_, "zstd decode: chunk is not a zstd frame");
            return 0;
        }
        if (n == ZSTD_CONTENTSIZE_UNKNOWN) {
            snprintf(zstd_err_, sizeof zstd_err_, "zstd decode: frame does not record its content size");
            return 0;
        }
        if (expect_ && n != expect_) {
            snprintf(zstd_err_, sizeof zstd_err_, "zstd decode: the frame holds %llu bytes, the chunk %zu", n, expect_);
            return 0;
        }
        /* malloc(0) may return NULL; keep at least one byte. */
        void *out = malloc(n ? (size_t)n : 1);
        if (!out) {
            snprintf(zstd_err_, sizeof zstd_err_, "zstd decode: out of memory (%llu bytes)", n);
            return 0;
        }
        size_t got = ZSTD_decompress(out, (size_t)n, *buf, nbytes);
        if (ZSTD_isError(got) || got != n) {
            free(out);
            return ZSTD_isError(got) ? fail_("decode", got)
                                     : (snprintf(zstd_err_, sizeof zstd_err_, "zstd decode: size mismatch"), (size_t)0);
        }
        free(*buf);
        *buf = out;
        *buf_size = (size_t)n;
        return (size_t)n;
    }
    int level = cd_nelmts > 0 ? (int)cd_values[0] : 3;
    if (level < 1) level = 1;
    if (level > ZSTD_maxCLevel()) level = ZSTD_maxCLevel();
    size_t cap = ZSTD_compressBound(nbytes);
    void *out = malloc(cap);
    if (!out) {
        snprintf(zstd_err_, sizeof zstd_err_, "zstd encode: out of memory (%zu bytes)", cap);
        return 0;
    }
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    size_t got = cctx ? ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level) : 1;
    if (cctx && !ZSTD_isError(got)) got = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    if (cctx && !ZSTD_isError(got)) got = ZSTD_compress2(cctx, out, cap, *buf, nbytes);
    ZSTD_freeCCtx(cctx);
    if (!cctx || ZSTD_isError(got)) {
        free(out);
        return cctx ? fail_("encode", got)
                    : (snprintf(zstd_err_, sizeof zstd_err_, "zstd encode: no context"), (size_t)0);
    }
    free(*buf);
    *buf = out;
    *buf_size = cap;
    return got;
}

#ifndef SK_ZSTD_PLUGIN
int sk_zstd_register(void)
{
    static const H5Z_class2_t cls = {H5Z_CLASS_T_VERS,
                                     (H5Z_filter_t)SK_ZSTD_FILTER_ID,
                                     1,
                                     1,
                                     "zstd (shrink; HDF5 filter 32015)",
                                     NULL,
                                     NULL,
                                     (H5Z_func_t)sk_zstd_filter_fn};
    /* ours even where a plugin for 32015 was loaded (H5Zregister replaces
     * it): only ours checks each chunk against sk_zstd_expect */
    if (H5Zregister(&cls) < 0) return sk_error_set(SK_EIO, "HDF5: cannot register the zstd filter (32015)");
    return SK_OK;
}
#endif
