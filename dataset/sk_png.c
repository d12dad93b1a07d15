/* sk_png.c - PNG writer over zlib and the corpus grid (see sk_png.h). */
#include "sk_png.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "sk_corpus.h"
#include "sk_error.h"
#include "sk_fs.h"

static void be32_(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* One chunk: length, type, data, CRC-32 over type and data, into out. */
static size_t chunk_(uint8_t *out, const char *type, const uint8_t *data, size_t n)
{
    be32_(out, (uint32_t)n);
    memcpy(out + 4, type, 4);
    if (n) memcpy(out + 8, data, n);
    uLong crc = crc32(0L, out + 4, (uInt)(n + 4));
    be32_(out + 8 + n, (uint32_t)crc);
    return n + 12;
}

int sk_png_write(const char *path, int64_t w, int64_t h, int channels, const uint8_t *pix)
{
    int rc = SK_OK;
    uint8_t *raw = NULL, *file = NULL;
    SK_FAIL_IF(w <= 0 || h <= 0 || w > (1 << 24) || h > (1 << 24) || (channels != 1 && channels != 3), SK_EINVAL,
               "%s: a PNG of %lld x %lld pixels with %d channels", path, (long long)w, (long long)h, channels);
    const size_t row = (size_t)w * (size_t)channels + 1, nraw = row * (size_t)h;
    raw = malloc(nraw);
    uLongf nz = compressBound((uLong)nraw);
    file = malloc(8 + 25 + 12 + nz + 12);
    SK_FAIL_IF(!raw || !file, SK_ENOMEM, "%s: out of memory for a %lld x %lld PNG", path, (long long)w, (long long)h);
    for (int64_t y = 0; y < h; y++) {
        raw[(size_t)y * row] = 0; /* filter: none */
        memcpy(raw + (size_t)y * row + 1, pix + (size_t)y * (row - 1), row - 1);
    }
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t k = 8;
    memcpy(file, sig, 8);
    uint8_t ihdr[13];
    be32_(ihdr, (uint32_t)w);
    be32_(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;                        /* bit depth */
    ihdr[9] = channels == 3 ? 2 : 0;    /* colour type: RGB or grey */
    ihdr[10] = ihdr[11] = ihdr[12] = 0; /* deflate, adaptive filtering, no interlace */
    k += chunk_(file + k, "IHDR", ihdr, sizeof ihdr);
    /* the zlib stream goes straight into the IDAT chunk's data */
    int zr = compress2(file + k + 8, &nz, raw, (uLong)nraw, 6);
    SK_FAIL_IF(zr != Z_OK, SK_EIO, "%s: zlib compress2 failed (%d)", path, zr);
    k += chunk_(file + k, "IDAT", file + k + 8, nz);
    k += chunk_(file + k, "IEND", NULL, 0);
    const void *parts[1] = {file};
    SK_TRY(sk_fs_write_atomic(path, parts, &k, 1));
done:
    free(raw);
    free(file);
    return rc;
}

/* One sample's pixel (c, y, x) as 8 bits. */
static uint8_t px_(const void *s, sk_elem_type t, int64_t i)
{
    if (t == SK_ELEM_U8) return ((const uint8_t *)s)[i];
    double v = ((const float *)s)[i];
    if (!(v > 0)) return 0; /* NaN too */
    return v >= 255 ? 255 : (uint8_t)lrint(v);
}

int sk_png_corpus_grid(const char *corpus, const char *png, const sk_png_grid_opts *opts, int64_t *rows, int64_t *cols)
{
    int rc = SK_OK;
    sk_corpus *c = NULL;
    int64_t *labels = NULL, *pick = NULL;
    uint8_t *img = NULL, *sample = NULL;
    const int64_t per = opts && opts->per_class > 0 ? opts->per_class : 10;
    const int64_t sc = opts && opts->scale > 0 ? opts->scale : 1;
    SK_TRY(sk_corpus_open(&c, corpus));
    const sk_corpus_info *in = sk_corpus_info_get(c);
    SK_FAIL_IF(in->kind != SK_CORPUS_SAMPLES, SK_EINVAL, "%s: a token corpus has no images to draw", corpus);
    const int gray2 = in->ndim == 2, chw = in->ndim == 3 && (in->shape[0] == 1 || in->shape[0] == 3);
    SK_FAIL_IF(!gray2 && !chw, SK_EINVAL, "%s: samples of %d dims are not images ([H, W], [1, H, W] or [3, H, W])",
               corpus, in->ndim);
    SK_FAIL_IF(in->type != SK_ELEM_U8 && in->type != SK_ELEM_F32, SK_EINVAL,
               "%s: %s samples; images are drawn from uint8 or float32 pixels", corpus, sk_elem_name(in->type));
    const int64_t C = gray2 ? 1 : in->shape[0], H = in->shape[in->ndim - 2], W = in->shape[in->ndim - 1];
    const int64_t n = in->num_samples, K = in->has_labels && in->num_classes > 0 ? in->num_classes : 1;
    SK_FAIL_IF(n <= 0, SK_EINVAL, "%s: no samples to draw", corpus);
    /* the first `per` samples of each class */
    pick = malloc((size_t)(K * per) * sizeof *pick);
    labels = malloc((size_t)n * sizeof *labels);
    SK_FAIL_IF(!pick || !labels, SK_ENOMEM, "%s: out of memory", corpus);
    for (int64_t i = 0; i < K * per; i++) pick[i] = -1;
    if (K > 1 || in->has_labels)
        SK_TRY(sk_corpus_read_labels(c, 0, n, labels));
    else
        memset(labels, 0, (size_t)n * sizeof *labels);
    int64_t *fill = calloc((size_t)K, sizeof *fill);
    SK_FAIL_IF(!fill, SK_ENOMEM, "%s: out of memory", corpus);
    for (int64_t i = 0; i < n; i++) {
        int64_t k = labels[i];
        if (k >= 0 && k < K && fill[k] < per) pick[k * per + fill[k]++] = i;
    }
    free(fill);
    const int64_t GW = per * (W * sc + 1) + 1, GH = K * (H * sc + 1) + 1;
    const size_t es = sk_elem_size(in->type), ns = (size_t)(C * H * W);
    img = malloc((size_t)(GW * GH * C));
    sample = malloc(ns * es);
    SK_FAIL_IF(!img || !sample, SK_ENOMEM, "%s: out of memory for a %lld x %lld grid", png, (long long)GW,
               (long long)GH);
    memset(img, 128, (size_t)(GW * GH * C));
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < per; j++) {
            if (pick[k * per + j] < 0) continue;
            SK_TRY(sk_corpus_read_samples(c, pick[k * per + j], 1, sample));
            const int64_t y0 = 1 + k * (H * sc + 1), x0 = 1 + j * (W * sc + 1);
            for (int64_t y = 0; y < H * sc; y++)
                for (int64_t x = 0; x < W * sc; x++)
                    for (int64_t ch = 0; ch < C; ch++)
                        img[((y0 + y) * GW + x0 + x) * C + ch] = px_(sample, in->type, (ch * H + y / sc) * W + x / sc);
        }
    SK_TRY(sk_png_write(png, GW, GH, (int)C, img));
    if (rows) *rows = K;
    if (cols) *cols = per;
done:
    sk_corpus_free(c);
    free(labels);
    free(pick);
    free(img);
    free(sample);
    return rc;
}
