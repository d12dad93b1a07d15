/* sk_import_llmc.c - llm.c token files (karpathy/llm.c dev/data/data_common.py):
 * a 256 x int32 header [magic, version, ntok, 0...] then the tokens.
 * magic 20240520 version 1 = uint16 tokens (GPT-2), magic 20240801 version 7
 * = uint32 tokens (LLaMA-3, stored here as int32). The file has no document
 * boundaries: it imports as one document. Export writes version 1 (uint16)
 * when every id fits, else version 7, and concatenates documents. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sk_prepare.h"

#define LLMC_MAGIC_U16 20240520
#define LLMC_MAGIC_U32 20240801

/* Under MPI each rank reads only its share of the tokens (a seek past the
 * header); rank 0's slice holds the one document's offsets {0, n}. */
static int llmc_import_(const sk_prepare_config *cfg, const sk_import_share *sh, sk_corpus_data *out)
{
    int rc = SK_OK;
    unsigned char *b = NULL;
    int64_t len = 0, t0, t1;
    int64_t *off = NULL;
    memset(out, 0, sizeof *out);
    SK_TRY(sk_prepare_file_size_(cfg->input, &len));
    SK_FAIL_IF(len < 1024, SK_EINVAL, "%s: truncated llm.c file (%lld bytes, header is 1024)", cfg->input,
               (long long)len);
    SK_TRY(sk_prepare_read_range_(cfg->input, 0, 12, &b));
    int32_t h[3];
    memcpy(h, b, sizeof h);
    free(b);
    b = NULL;
    int wide;
    if (h[0] == LLMC_MAGIC_U16 && h[1] == 1)
        wide = 0;
    else if (h[0] == LLMC_MAGIC_U32 && h[1] == 7)
        wide = 1;
    else
        SK_FAIL_IF(1, SK_EINVAL, "%s: not an llm.c token file (magic %d version %d)", cfg->input, h[0], h[1]);
    int64_t n = h[2];
    size_t isz = wide ? 4 : 2;
    SK_FAIL_IF(n <= 0, SK_EINVAL, "%s: empty input: header says %lld tokens", cfg->input, (long long)n);
    SK_FAIL_IF(1024 + n * (int64_t)isz != len, SK_EINVAL,
               "%s: header says %lld tokens (%zu bytes) but the file has %lld bytes of tokens%s", cfg->input,
               (long long)n, (size_t)n * isz, (long long)(len - 1024),
               len - 1024 < n * (int64_t)isz ? " (truncated)" : "");
    sk_prepare_share_(n, sh, &t0, &t1);
    SK_TRY(sk_prepare_read_range_(cfg->input, 1024 + t0 * (int64_t)isz, (size_t)(t1 - t0) * isz, &b));
    off = malloc(2 * sizeof *off);
    SK_FAIL_IF(!off, SK_ENOMEM, "%s: out of memory", cfg->input);
    int64_t mx = 0;
    for (int64_t i = 0; i < t1 - t0; i++) {
        int64_t v;
        if (wide) {
            uint32_t x = ((uint32_t *)b)[i];
            SK_FAIL_IF(x > INT32_MAX, SK_EINVAL, "%s: token id %u at position %lld does not fit int32", cfg->input, x,
                       (long long)(t0 + i));
            v = x;
        } else {
            v = ((uint16_t *)b)[i];
        }
        SK_FAIL_IF(cfg->vocab > 0 && v >= cfg->vocab, SK_EINVAL,
                   "%s: token id %lld at position %lld is outside the vocabulary [0, %lld) (prepare.vocab)", cfg->input,
                   (long long)v, (long long)(t0 + i), (long long)cfg->vocab);
        if (v > mx) mx = v;
    }
    off[0] = 0;
    off[1] = n;
    out->kind = SK_CORPUS_TOKENS;
    out->type = wide ? SK_ELEM_I32 : SK_ELEM_U16;
    out->vocab_size = cfg->vocab > 0 ? cfg->vocab : mx + 1; /* this share's; the corpus records the maximum */
    out->tokens = b;
    out->num_tokens = t1 - t0;
    out->offsets = off;
    out->num_docs = sh->rank == 0 ? 1 : 0;
    b = NULL;
    off = NULL;
done:
    free(b);
    free(off);
    return rc;
}

static int llmc_export_(sk_corpus *c, const char *out)
{
    int rc = SK_OK;
    const sk_corpus_info *in = sk_corpus_info_get(c);
    char tmp[4200];
    FILE *f = NULL;
    int64_t *buf = NULL;
    void *ob = NULL;
    SK_FAIL_IF(in->kind != SK_CORPUS_TOKENS, SK_EINVAL, "%s: only token corpora export to llm.c", sk_corpus_path(c));
    SK_FAIL_IF(in->num_tokens >= ((int64_t)1 << 31), SK_EINVAL, "%s: %lld tokens; llm.c files hold fewer than 2^31",
               sk_corpus_path(c), (long long)in->num_tokens);
    SK_FAIL_IF(in->type == SK_ELEM_I64, SK_EUNSUPPORTED, "%s: int64 token ids do not fit llm.c files",
               sk_corpus_path(c));
    int wide = in->vocab_size > 65536;
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    f = fopen(tmp, "wb");
    SK_FAIL_IF(!f, SK_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    int32_t h[256] = {0};
    h[0] = wide ? LLMC_MAGIC_U32 : LLMC_MAGIC_U16;
    h[1] = wide ? 7 : 1;
    h[2] = (int32_t)in->num_tokens;
    SK_FAIL_IF(fwrite(h, sizeof h, 1, f) != 1, SK_EIO, "%s: write failed: %s", tmp, strerror(errno));
    const int64_t step = 1 << 20;
    buf = malloc((size_t)step * sizeof *buf);
    ob = malloc((size_t)step * 4);
    SK_FAIL_IF(!buf || !ob, SK_ENOMEM, "out of memory");
    for (int64_t s = 0; s < in->num_tokens; s += step) {
        int64_t k = in->num_tokens - s < step ? in->num_tokens - s : step;
        /* read as int64 whatever the stored type, then narrow */
        SK_TRY(sk_corpus_read_tokens(c, s, k, ob));
        for (int64_t i = 0; i < k; i++) {
            switch (in->type) {
            case SK_ELEM_U8: buf[i] = ((uint8_t *)ob)[i]; break;
            case SK_ELEM_U16: buf[i] = ((uint16_t *)ob)[i]; break;
            case SK_ELEM_I32: buf[i] = ((int32_t *)ob)[i]; break;
            default: buf[i] = 0; break;
            }
        }
        for (int64_t i = 0; i < k; i++) {
            if (wide)
                ((uint32_t *)ob)[i] = (uint32_t)buf[i];
            else
                ((uint16_t *)ob)[i] = (uint16_t)buf[i];
        }
        SK_FAIL_IF(fwrite(ob, wide ? 4 : 2, (size_t)k, f) != (size_t)k, SK_EIO, "%s: write failed: %s", tmp,
                   strerror(errno));
    }
done:
    if (f && fclose(f) != 0 && rc == SK_OK) rc = sk_error_set(SK_EIO, "%s: write failed: %s", tmp, strerror(errno));
    if (f) {
        int r = sk_prepare_commit_(tmp, out, rc == SK_OK);
        if (rc == SK_OK) rc = r;
    }
    free(buf);
    free(ob);
    return rc;
}

const sk_importer sk_importer_llmc = {SK_IMPORTER_VERSION, "llmc",
                                      "llm.c token file (.bin, 1024-byte header; uint16 v1 or uint32 v7), one document",
                                      NULL, llmc_import_};
const sk_exporter sk_exporter_llmc = {SK_EXPORTER_VERSION, "llmc",
                                      "llm.c token file (uint16 v1, or uint32 v7 for vocab > 65536)", llmc_export_};
