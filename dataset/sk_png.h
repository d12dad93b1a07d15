/* sk_png.h - a small PNG writer (zlib) and the picture of an image corpus.
 *
 * defines: sk_png_write, sk_png_grid_opts, sk_png_corpus_grid.
 *
 * PNG (ISO/IEC 15948): signature, IHDR, one IDAT (zlib stream of the
 * filtered scanlines, filter type 0 on every row), IEND; each chunk with
 * its CRC-32. 8-bit greyscale or RGB, no interlace. Files are written
 * atomically (common/sk_fs.h): a failed write leaves nothing at the name.
 */
#ifndef SK_PNG_H
#define SK_PNG_H

#include <stdint.h>

/* Write a w x h image of 1 (grey) or 3 (RGB) 8-bit channels, pixels row by
 * row, channels interleaved (h * w * channels bytes), to path. */
int sk_png_write(const char *path, int64_t w, int64_t h, int channels, const uint8_t *pix);

typedef struct {
    int64_t per_class; /* images per row (default 10) */
    int64_t scale;     /* pixels per image pixel (default 1) */
} sk_png_grid_opts;

/* A grid of an image corpus's samples: one row per class (label order),
 * its first per_class samples in corpus order (a corpus without labels:
 * one row of its first per_class samples), 1-pixel grey (128) gaps. Samples
 * [H, W] are grey, [1, H, W] grey, [3, H, W] RGB; uint8 pixels as they are,
 * float32 pixels ([0, 255] units, distilled corpora) rounded and clamped.
 * A class with fewer samples leaves its cells grey. SK_EINVAL naming the
 * corpus for token corpora or other sample shapes / types; *rows and *cols
 * (may be NULL) receive the grid's size in images. */
int sk_png_corpus_grid(const char *corpus, const char *png, const sk_png_grid_opts *opts, int64_t *rows, int64_t *cols);

#endif /* SK_PNG_H */
