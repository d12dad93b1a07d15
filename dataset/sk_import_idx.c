/* sk_import_idx.c - IDX image/label files (MNIST, Fashion-MNIST; plain or
 * .gz). Format (LeCun): big-endian magic 0x0000TTNN (TT = 0x08 ubyte, NN =
 * number of dims), NN big-endian uint32 dims, then the data. Images become
 * a `samples` corpus of uint8 [rows, cols]; a labels file (NN = 1) becomes
 * /labels with num_classes = max label + 1. */
#include <stdlib.h>
#include <string.h>

#include "sk_prepare.h"

static uint32_t be32_(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Parse the IDX header; returns data pointer via *hdr (bytes) and dims. */
static int idx_header_(const char *path, const unsigned char *b, size_t len, int want_min, int want_max,
                       int *nd, int64_t *dims, size_t *hdr) {
    if (len < 4) return sk_error_set(SK_EINVAL, "%s: truncated IDX file (%zu bytes)", path, len);
    if (b[0] != 0 || b[1] != 0)
        return sk_error_set(SK_EINVAL, "%s: not an IDX file (magic %02x%02x%02x%02x)", path, b[0], b[1], b[2], b[3]);
    if (b[2] != 0x08)
        return sk_error_set(SK_EINVAL, "%s: IDX element type 0x%02x is not supported (wrong dtype; only 0x08 unsigned byte)", path, b[2]);
    *nd = b[3];
    if (*nd < want_min || *nd > want_max)
        return sk_error_set(SK_EINVAL, "%s: IDX file has %d dimensions, expected %d..%d", path, *nd, want_min, want_max);
    *hdr = 4 + 4 * (size_t)*nd;
    if (len < *hdr) return sk_error_set(SK_EINVAL, "%s: truncated IDX header", path);
    size_t total = 1;
    for (int i = 0; i < *nd; i++) {
        dims[i] = be32_(b + 4 + 4 * i);
        total *= (size_t)dims[i];
    }
    if (dims[0] == 0) return sk_error_set(SK_EINVAL, "%s: empty input: IDX file has 0 items", path);
    if (len - *hdr != total)
        return sk_error_set(SK_EINVAL, "%s: IDX size mismatch: header promises %zu bytes of data, file has %zu%s", path,
                            total, len - *hdr, len - *hdr < total ? " (truncated)" : "");
    return SK_OK;
}

static int idx_import_(const sk_prepare_config *cfg, sk_corpus_data *out) {
    int rc = SK_OK;
    unsigned char *img = NULL, *lab = NULL;
    size_t ilen = 0, llen = 0, ih = 0, lh = 0;
    int nd = 0, lnd = 0;
    int64_t dims[4] = {0}, ldims[4] = {0};
    memset(out, 0, sizeof *out);
    SK_TRY(sk_prepare_slurp_(cfg->input, &img, &ilen, 1));
    SK_TRY(idx_header_(cfg->input, img, ilen, 2, 4, &nd, dims, &ih));
    out->kind = SK_CORPUS_SAMPLES;
    out->type = SK_ELEM_U8;
    out->num_samples = dims[0];
    out->ndim = nd - 1;
    for (int i = 1; i < nd; i++) out->shape[i - 1] = dims[i];
    size_t n = ilen - ih;
    void *samples = malloc(n);
    SK_FAIL_IF(!samples, SK_ENOMEM, "%s: out of memory", cfg->input);
    memcpy(samples, img + ih, n);
    out->samples = samples;
    if (cfg->labels[0]) {
        SK_TRY(sk_prepare_slurp_(cfg->labels, &lab, &llen, 1));
        SK_TRY(idx_header_(cfg->labels, lab, llen, 1, 1, &lnd, ldims, &lh));
        SK_FAIL_IF(ldims[0] != dims[0], SK_EINVAL, "%s: %lld labels for %lld images in %s", cfg->labels,
                   (long long)ldims[0], (long long)dims[0], cfg->input);
        int64_t *labels = malloc((size_t)ldims[0] * sizeof *labels);
        SK_FAIL_IF(!labels, SK_ENOMEM, "%s: out of memory", cfg->labels);
        int64_t mx = 0;
        for (int64_t i = 0; i < ldims[0]; i++) {
            labels[i] = lab[lh + (size_t)i];
            if (labels[i] > mx) mx = labels[i];
        }
        out->labels = labels;
        out->num_classes = mx + 1;
    }
done:
    free(img);
    free(lab);
    if (rc < 0) sk_import_release(out);
    return rc;
}

static int idx_detect_(const char *path) {
    return strstr(path, "idx1-ubyte") || strstr(path, "idx3-ubyte") || strstr(path, ".idx3") ? 1 : 0;
}

const sk_importer sk_importer_idx = {SK_IMPORTER_VERSION, "idx",
                                     "IDX images (+ prepare.labels IDX labels), plain or .gz: uint8 samples",
                                     idx_detect_, idx_import_};
