/* sk_import_idx.c - IDX image/label files (MNIST, Fashion-MNIST; plain or
 * .gz). Format (LeCun): big-endian magic 0x0000TTNN (TT = 0x08 ubyte, NN =
 * number of dims), NN big-endian uint32 dims, then the data. Images become
 * a `samples` corpus of uint8 [rows, cols]; a labels file (NN = 1) becomes
 * /labels with num_classes = max label + 1. Under MPI each rank reads only
 * its share of the items (idx_rows_). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "sk_prepare.h"

static uint32_t be32_(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Check the IDX header in b[0..len) (len >= 4 + 4 * dims); *hdr = bytes. */
static int idx_header_(const char *path, const unsigned char *b, size_t len, int want_min, int want_max, int *nd,
                       int64_t *dims, size_t *hdr)
{
    if (len < 4) return sk_error_set(SK_EINVAL, "%s: truncated IDX file (%zu bytes)", path, len);
    if (b[0] != 0 || b[1] != 0)
        return sk_error_set(SK_EINVAL, "%s: not an IDX file (magic %02x%02x%02x%02x)", path, b[0], b[1], b[2], b[3]);
    if (b[2] != 0x08)
        return sk_error_set(SK_EINVAL,
                            "%s: IDX element type 0x%02x is not supported (wrong dtype; only 0x08 unsigned byte)", path,
                            b[2]);
    *nd = b[3];
    if (*nd < want_min || *nd > want_max)
        return sk_error_set(SK_EINVAL, "%s: IDX file has %d dimensions, expected %d..%d", path, *nd, want_min,
                            want_max);
    *hdr = 4 + 4 * (size_t)*nd;
    if (len < *hdr) return sk_error_set(SK_EINVAL, "%s: truncated IDX header", path);
    for (int i = 0; i < *nd; i++) dims[i] = be32_(b + 4 + 4 * i);
    if (dims[0] == 0) return sk_error_set(SK_EINVAL, "%s: empty input: IDX file has 0 items", path);
    return SK_OK;
}

/* Read this rank's items [*r0, *r1) of an IDX file (plain or .gz) into
 * *rows. A plain file is seeked; gzip has no random access, so zlib's
 * gzseek decompresses and discards the bytes before the share: every rank
 * still inflates everything up to its share's end (the last rank: the
 * whole file), but holds and copies only its share. The last rank also
 * checks that nothing follows the data; every rank, that its share is
 * complete, so a short or long file fails on some rank. */
static int idx_rows_(const char *path, int want_min, int want_max, const sk_import_share *sh, int *nd, int64_t *dims,
                     unsigned char **rows, int64_t *r0, int64_t *r1)
{
    int rc = SK_OK;
    unsigned char h[4 + 4 * 4] = {0}, *b = NULL;
    size_t hdr = 0;
    *rows = NULL;
    gzFile f = gzopen(path, "rb"); /* reads plain files transparently, and seeks them for real */
    SK_FAIL_IF(!f, SK_ENOTFOUND, "%s: cannot open: %s", path, strerror(errno ? errno : ENOENT));
    int got = gzread(f, h, 4);
    if (got == 4 && h[3] >= 1 && h[3] <= 4) got += gzread(f, h + 4, 4u * h[3]);
    SK_FAIL_IF(got < 0, SK_EINVAL, "%s: corrupt gzip data", path);
    SK_TRY(idx_header_(path, h, (size_t)got, want_min, want_max, nd, dims, &hdr));
    size_t row = 1, total;
    int over = 0;
    for (int i = 1; i < *nd; i++) over |= __builtin_mul_overflow(row, (size_t)dims[i], &row);
    over |= __builtin_mul_overflow(row, (size_t)dims[0], &total);
    /* check the header against the file before allocating: a plain file
     * holds exactly header + data; deflate cannot inflate beyond ~1032:1 */
    int64_t fsize = 0;
    SK_TRY(sk_prepare_file_size_(path, &fsize));
    int plain = gzdirect(f);
    double most = plain ? (double)fsize - (double)hdr : (double)fsize * 1032.0 + 1024.0;
    double promise = 1;
    for (int i = 0; i < *nd; i++) promise *= (double)dims[i];
    SK_FAIL_IF(over || (double)total > most || (plain && (double)total != most), SK_EINVAL,
               plain
                   ? "%s: IDX size mismatch: the header's dimensions promise %.0f bytes of data, the file holds %.0f%s"
                   : "%s: IDX size mismatch: the header's dimensions promise %.0f bytes of data, more than its %.0f "
                     "compressed bytes can hold%s",
               path, promise, plain ? most : (double)fsize, plain && most < promise ? " (truncated)" : "");
    sk_prepare_share_(dims[0], sh, r0, r1);
    size_t want = row * (size_t)(*r1 - *r0), have = 0, start = row * (size_t)*r0;
    /* A plain file's size bounds what the header may promise; gzip's size
     * is only known by inflating, so the buffer grows with what is read
     * (at most twice the data actually there, never what the header says). */
    struct stat sb;
    SK_FAIL_IF(gzdirect(f) && stat(path, &sb) == 0 && (uint64_t)sb.st_size < hdr + total, SK_EINVAL,
               "%s: IDX size mismatch: header promises %zu bytes of data, file has %lld (truncated)", path, total,
               (long long)sb.st_size - (long long)hdr);
    size_t cap = want < ((size_t)1 << 20) ? want : ((size_t)1 << 20);
    b = malloc(cap ? cap : 1);
    SK_FAIL_IF(!b, SK_ENOMEM, "%s: out of memory", path);
    if (want > 0 && gzseek(f, (z_off_t)(hdr + start), SEEK_SET) == (z_off_t)(hdr + start)) {
        while (have < want) {
            if (have == cap) {
                size_t c2 = cap > want / 2 ? want : 2 * cap;
                unsigned char *b2 = realloc(b, c2);
                SK_FAIL_IF(!b2, SK_ENOMEM, "%s: out of memory", path);
                b = b2;
                cap = c2;
            }
            int k = gzread(f, b + have, (unsigned)(cap - have > (1u << 30) ? (1u << 30) : cap - have));
            if (k <= 0) break;
            have += (size_t)k;
        }
    }
    size_t extra = 0;
    if (sh->rank == sh->world - 1 && have == want) { /* count what follows the data */
        unsigned char tail[4096];
        int k;
        while ((k = gzread(f, tail, sizeof tail)) > 0) extra += (size_t)k;
    }
    int e = 0;
    gzerror(f, &e);
    SK_FAIL_IF(e != Z_OK && e != Z_BUF_ERROR, SK_EINVAL, "%s: corrupt gzip data: %s", path, gzerror(f, &e));
    SK_FAIL_IF(have != want || extra, SK_EINVAL,
               "%s: IDX size mismatch: header promises %zu bytes of data, file has %s%zu%s", path, total,
               have != want && have == 0 ? "at most " : "", have != want ? start + have : total + extra,
               have != want ? " (truncated)" : "");
    *rows = b;
    b = NULL;
done:
    if (f) gzclose(f);
    free(b);
    return rc;
}

static int idx_import_(const sk_prepare_config *cfg, const sk_import_share *sh, sk_corpus_data *out)
{
    int rc = SK_OK;
    unsigned char *lab = NULL;
    int nd = 0, lnd = 0;
    int64_t dims[4] = {0}, ldims[4] = {0}, r0, r1, l0, l1;
    void *samples = NULL;
    memset(out, 0, sizeof *out);
    SK_FAIL_IF(!cfg->input[0], SK_EINVAL, "no input file given (prepare.input)");
    SK_TRY(idx_rows_(cfg->input, 2, 4, sh, &nd, dims, (unsigned char **)&samples, &r0, &r1));
    out->kind = SK_CORPUS_SAMPLES;
    out->type = SK_ELEM_U8;
    out->num_samples = r1 - r0;
    out->ndim = nd - 1;
    for (int i = 1; i < nd; i++) out->shape[i - 1] = dims[i];
    out->samples = samples;
    if (cfg->labels[0]) {
        SK_TRY(idx_rows_(cfg->labels, 1, 1, sh, &lnd, ldims, &lab, &l0, &l1));
        SK_FAIL_IF(ldims[0] != dims[0], SK_EINVAL, "%s: %lld labels for %lld images in %s", cfg->labels,
                   (long long)ldims[0], (long long)dims[0], cfg->input);
        int64_t *labels = malloc((size_t)(l1 - l0 + 1) * sizeof *labels);
        SK_FAIL_IF(!labels, SK_ENOMEM, "%s: out of memory", cfg->labels);
        int64_t mx = 0;
        for (int64_t i = 0; i < l1 - l0; i++) {
            labels[i] = lab[i];
            if (labels[i] > mx) mx = labels[i];
        }
        out->labels = labels;
        out->num_classes = mx + 1; /* this share's; the corpus records the maximum over ranks */
    }
done:
    free(lab);
    if (rc < 0) sk_import_release(out);
    return rc;
}

static int idx_detect_(const char *path)
{
    return strstr(path, "idx1-ubyte") || strstr(path, "idx3-ubyte") || strstr(path, ".idx3") ? 1 : 0;
}

const sk_importer sk_importer_idx = {SK_IMPORTER_VERSION, "idx",
                                     "IDX images (+ prepare.labels IDX labels), plain or .gz: uint8 samples",
                                     idx_detect_, idx_import_};
