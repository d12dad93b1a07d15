/* sk_import_megatron.c - Megatron-LM indexed datasets (.bin + .idx), import
 * and export (megatron/core/datasets/indexed_dataset.py).
 *
 * .idx: "MMIDIDX\0\0", u64 version 1, u8 dtype code, u64 sequence count S,
 * u64 document count D, i32 lengths[S], i64 byte pointers[S], i64
 * document_indices[D]; all little-endian, unaligned. .bin: the tokens.
 * Import: each Megatron sequence becomes one shrink document. Export: each
 * shrink document becomes one sequence and one document. The host is
 * assumed little-endian (x86-64, aarch64). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sk_prepare.h"

static const unsigned char magic_[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', 0, 0};

static uint64_t le64_(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* prefix from "x", "x.bin" or "x.idx" */
static void prefix_(const char *in, char *out, size_t n)
{
    snprintf(out, n, "%s", in);
    size_t l = strlen(out);
    if (l > 4 && (!strcmp(out + l - 4, ".bin") || !strcmp(out + l - 4, ".idx"))) out[l - 4] = '\0';
}

/* Under MPI each rank reads the header, its share of the sequences'
 * lengths and pointers (plus the entry before, to check that its first
 * pointer follows the previous rank's last sequence) and only their bytes
 * of the .bin. The chain of local checks is the same check as the whole
 * file's: every pointer is the sum of the lengths before it. */
static int mg_import_(const sk_prepare_config *cfg, const sk_import_share *sh, sk_corpus_data *out)
{
    int rc = SK_OK;
    char pre[SK_PREPARE_STR_MAX], ip[SK_PREPARE_STR_MAX + 8], bp[SK_PREPARE_STR_MAX + 8];
    unsigned char *idx = NULL, *lens = NULL, *ptrs = NULL, *bin = NULL;
    int64_t ilen = 0, blen = 0, s0, s1;
    int64_t *off = NULL;
    void *tok = NULL;
    memset(out, 0, sizeof *out);
    prefix_(cfg->input, pre, sizeof pre);
    snprintf(ip, sizeof ip, "%s.idx", pre);
    snprintf(bp, sizeof bp, "%s.bin", pre);
    SK_TRY(sk_prepare_file_size_(ip, &ilen));
    SK_FAIL_IF(ilen < 34, SK_EINVAL, "%s: not a Megatron index (bad magic or truncated)", ip);
    SK_TRY(sk_prepare_read_range_(ip, 0, 34, &idx));
    SK_FAIL_IF(memcmp(idx, magic_, 9), SK_EINVAL, "%s: not a Megatron index (bad magic or truncated)", ip);
    SK_FAIL_IF(le64_(idx + 9) != 1, SK_EVERSION, "%s: index version %llu, expected 1", ip,
               (unsigned long long)le64_(idx + 9));
    int code = idx[17];
    uint64_t S = le64_(idx + 18), D = le64_(idx + 26);
    SK_FAIL_IF(S == 0, SK_EINVAL, "%s: empty input: 0 sequences", ip);
    SK_FAIL_IF(S > (uint64_t)ilen || D > (uint64_t)ilen || 34 + 12 * S + 8 * D > (uint64_t)ilen, SK_EINVAL,
               "%s: truncated index (%llu sequences, %llu documents, %lld bytes)", ip, (unsigned long long)S,
               (unsigned long long)D, (long long)ilen);
    /* Megatron-core's multimodal indices append int8 sequence_modes[S]
     * (the header has no flag; the reader is told): those modes would be
     * dropped, so refuse them, and any other trailing bytes */
    uint64_t iend = 34 + 12 * S + 8 * D;
    SK_FAIL_IF((uint64_t)ilen == iend + S, SK_EINVAL,
               "%s: a multimodal Megatron index (%llu sequence modes follow the document indices): shrink imports "
               "token sequences of one modality only",
               ip, (unsigned long long)S);
    SK_FAIL_IF((uint64_t)ilen != iend, SK_EINVAL, "%s: %llu unexpected bytes after the document indices", ip,
               (unsigned long long)((uint64_t)ilen - iend));
    size_t isz;
    sk_elem_type t;
    switch (code) {
    case 1:
        t = SK_ELEM_U8;
        isz = 1;
        break;
    case 2:
        t = SK_ELEM_I32;
        isz = 1;
        break; /* int8 -> int32 */
    case 3:
        t = SK_ELEM_I32;
        isz = 2;
        break; /* int16 -> int32 */
    case 4:
        t = SK_ELEM_I32;
        isz = 4;
        break;
    case 5:
        t = SK_ELEM_I64;
        isz = 8;
        break;
    case 8:
        t = SK_ELEM_U16;
        isz = 2;
        break;
    default:
        SK_FAIL_IF(1, SK_EINVAL, "%s: dtype code %d (%s) is not a token id type (wrong dtype)", ip, code,
                   code == 6   ? "float64"
                   : code == 7 ? "float32"
                               : "unknown");
    }
    sk_prepare_share_((int64_t)S, sh, &s0, &s1);
    /* entries [e0, s1): the one before the share too (and the last one, for the total) */
    int64_t e0 = s0 > 0 ? s0 - 1 : 0, ne = s1 - e0;
    SK_TRY(sk_prepare_read_range_(ip, 34 + 4 * e0, (size_t)ne * 4, &lens));
    SK_TRY(sk_prepare_read_range_(ip, 34 + 4 * (int64_t)S + 8 * e0, (size_t)ne * 8, &ptrs));
    unsigned char last[12];
    free(idx);
    idx = NULL;
    SK_TRY(sk_prepare_read_range_(ip, 34 + 4 * ((int64_t)S - 1), 4, &idx));
    memcpy(last, idx, 4);
    free(idx);
    idx = NULL;
    SK_TRY(sk_prepare_read_range_(ip, 34 + 4 * (int64_t)S + 8 * ((int64_t)S - 1), 8, &idx));
    memcpy(last + 4, idx, 8);
    /* every pointer and length is checked against the .bin's size before
     * this rank allocates its share of it */
    SK_TRY(sk_prepare_file_size_(bp, &blen));
    off = malloc((size_t)(s1 - s0 + 1) * sizeof *off);
    SK_FAIL_IF(!off, SK_ENOMEM, "%s: out of memory", ip);
    /* expect: the byte sequence i must point at (unknown for e0 > 0: the previous rank checks it);
     * base: the byte of the share's first sequence */
    int64_t expect = s0 == 0 ? 0 : -1, base = -1;
    for (int64_t i = e0; i < s1; i++) {
        int32_t len;
        memcpy(&len, lens + 4 * (i - e0), 4);
        int64_t ptr = (int64_t)le64_(ptrs + 8 * (i - e0));
        SK_FAIL_IF(len < 0, SK_EINVAL, "%s: sequence %lld has negative length %d", ip, (long long)i, len);
        SK_FAIL_IF(ptr < 0 || ptr > blen, SK_EINVAL, "%s: sequence %lld points at byte %lld, outside %s (%lld bytes)",
                   ip, (long long)i, (long long)ptr, bp, (long long)blen);
        SK_FAIL_IF(expect >= 0 && ptr != expect, SK_EINVAL,
                   "%s: offsets do not add up: sequence %lld points at byte %lld, expected %lld", ip, (long long)i,
                   (long long)ptr, (long long)expect);
        if (i >= s0) {
            if (base < 0) base = ptr;
            off[i - s0] = (ptr - base) / (int64_t)isz;
        }
        expect = ptr + (int64_t)len * (int64_t)isz; /* no overflow: ptr <= blen, len * isz < 2^35 */
        SK_FAIL_IF(expect > blen, SK_EINVAL, "%s: sequence %lld ends at byte %lld, past the end of %s (%lld bytes)", ip,
                   (long long)i, (long long)expect, bp, (long long)blen);
    }
    int64_t b1 = expect, b0 = base >= 0 ? base : b1; /* this share's bytes of the .bin */
    off[s1 - s0] = (b1 - b0) / (int64_t)isz;
    int32_t llen;
    memcpy(&llen, last, 4);
    int64_t lptr = (int64_t)le64_(last + 4);
    SK_FAIL_IF(llen < 0 || lptr < 0 || lptr > blen, SK_EINVAL,
               "%s: last sequence (length %d at byte %lld) lies outside %s (%lld bytes)", ip, llen, (long long)lptr, bp,
               (long long)blen);
    int64_t ntok = (lptr + (int64_t)llen * (int64_t)isz) / (int64_t)isz;
    SK_FAIL_IF(ntok * (int64_t)isz != blen, SK_EINVAL,
               "%s: offsets do not add up: index says %lld tokens (%lld bytes), %s has %lld bytes", ip, (long long)ntok,
               (long long)ntok * (long long)isz, bp, (long long)blen);
    SK_FAIL_IF(ntok == 0, SK_EINVAL, "%s: empty input: 0 tokens", bp);
    int64_t n = off[s1 - s0], p0 = b0 / (int64_t)isz;
    SK_TRY(sk_prepare_read_range_(bp, b0, (size_t)(b1 - b0), &bin));
    tok = malloc((size_t)(n > 0 ? n : 1) * sk_elem_size(t));
    SK_FAIL_IF(!tok, SK_ENOMEM, "%s: out of memory", bp);
    int64_t mx = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t v;
        switch (code) {
        case 1:
            v = bin[i];
            ((uint8_t *)tok)[i] = (uint8_t)v;
            break;
        case 2:
            v = ((int8_t *)bin)[i];
            ((int32_t *)tok)[i] = (int32_t)v;
            break;
        case 3: {
            int16_t x;
            memcpy(&x, bin + 2 * i, 2);
            v = x;
            ((int32_t *)tok)[i] = (int32_t)v;
            break;
        }
        case 4: {
            int32_t x;
            memcpy(&x, bin + 4 * i, 4);
            v = x;
            ((int32_t *)tok)[i] = x;
            break;
        }
        case 5: {
            memcpy(&v, bin + 8 * i, 8);
            ((int64_t *)tok)[i] = v;
            break;
        }
        default: {
            uint16_t x;
            memcpy(&x, bin + 2 * i, 2);
            v = x;
            ((uint16_t *)tok)[i] = x;
            break;
        }
        }
        if (v > mx) mx = v;
        SK_FAIL_IF(v < 0, SK_EINVAL, "%s: token id %lld at position %lld is negative", bp, (long long)v,
                   (long long)(p0 + i));
        SK_FAIL_IF(cfg->vocab > 0 && v >= cfg->vocab, SK_EINVAL,
                   "%s: token id %lld at position %lld is outside the vocabulary [0, %lld) (prepare.vocab)", bp,
                   (long long)v, (long long)(p0 + i), (long long)cfg->vocab);
    }
    out->kind = SK_CORPUS_TOKENS;
    out->type = t;
    out->vocab_size = cfg->vocab > 0 ? cfg->vocab : mx + 1; /* this share's; the corpus records the maximum */
    out->tokens = tok;
    out->num_tokens = n;
    out->offsets = off;
    out->num_docs = s1 - s0;
    tok = NULL;
    off = NULL;
done:
    free(idx);
    free(lens);
    free(ptrs);
    free(bin);
    free(tok);
    free(off);
    return rc;
}

static int mg_detect_(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && !strcmp(path + n - 4, ".idx");
}

/* ---- export ---------------------------------------------------------------- */

static int put_(FILE *f, const void *p, size_t n) { return fwrite(p, 1, n, f) == n ? 0 : -1; }

static int mg_export_(sk_corpus *c, const char *out)
{
    int rc = SK_OK;
    const sk_corpus_info *in = sk_corpus_info_get(c);
    char pre[4096], ip[4200], bp[4200], it[4300], bt[4300];
    FILE *fi = NULL, *fb = NULL;
    int64_t *off = NULL;
    void *buf = NULL;
    SK_FAIL_IF(in->kind != SK_CORPUS_TOKENS, SK_EINVAL, "%s: only token corpora export to Megatron", sk_corpus_path(c));
    prefix_(out, pre, sizeof pre);
    snprintf(ip, sizeof ip, "%s.idx", pre);
    snprintf(bp, sizeof bp, "%s.bin", pre);
    snprintf(it, sizeof it, "%s.tmp", ip);
    snprintf(bt, sizeof bt, "%s.tmp", bp);
    uint8_t code = in->type == SK_ELEM_U8 ? 1 : in->type == SK_ELEM_U16 ? 8 : in->type == SK_ELEM_I32 ? 4 : 5;
    size_t isz = sk_elem_size(in->type);
    int64_t S = in->num_docs;
    off = malloc((size_t)(S + 1) * sizeof *off);
    SK_FAIL_IF(!off, SK_ENOMEM, "out of memory");
    SK_TRY(sk_corpus_read_offsets(c, 0, S + 1, off));
    for (int64_t i = 0; i < S; i++)
        SK_FAIL_IF(off[i + 1] - off[i] > INT32_MAX, SK_EINVAL, "%s: document %lld has more than 2^31 tokens",
                   sk_corpus_path(c), (long long)i);
    fi = fopen(it, "wb");
    SK_FAIL_IF(!fi, SK_EIO, "%s: cannot write: %s", it, strerror(errno));
    fb = fopen(bt, "wb");
    SK_FAIL_IF(!fb, SK_EIO, "%s: cannot write: %s", bt, strerror(errno));
    uint64_t ver = 1, s64 = (uint64_t)S, d64 = (uint64_t)S + 1;
    int bad = put_(fi, magic_, 9) || put_(fi, &ver, 8) || put_(fi, &code, 1) || put_(fi, &s64, 8) || put_(fi, &d64, 8);
    for (int64_t i = 0; i < S && !bad; i++) {
        int32_t len = (int32_t)(off[i + 1] - off[i]);
        bad = put_(fi, &len, 4);
    }
    for (int64_t i = 0; i < S && !bad; i++) {
        int64_t p = off[i] * (int64_t)isz;
        bad = put_(fi, &p, 8);
    }
    for (int64_t i = 0; i <= S && !bad; i++) bad = put_(fi, &i, 8); /* document_indices 0..S */
    SK_FAIL_IF(bad, SK_EIO, "%s: write failed: %s", it, strerror(errno));
    const int64_t step = 1 << 20;
    buf = malloc((size_t)step * isz);
    SK_FAIL_IF(!buf, SK_ENOMEM, "out of memory");
    for (int64_t s = 0; s < in->num_tokens; s += step) {
        int64_t k = in->num_tokens - s < step ? in->num_tokens - s : step;
        SK_TRY(sk_corpus_read_tokens(c, s, k, buf));
        SK_FAIL_IF(put_(fb, buf, (size_t)k * isz), SK_EIO, "%s: write failed: %s", bt, strerror(errno));
    }
done:
    if (fi && fclose(fi) != 0 && rc == SK_OK) rc = sk_error_set(SK_EIO, "%s: write failed: %s", it, strerror(errno));
    if (fb && fclose(fb) != 0 && rc == SK_OK) rc = sk_error_set(SK_EIO, "%s: write failed: %s", bt, strerror(errno));
    if (fi || fb) {
        int r1 = sk_prepare_commit_(bt, bp, rc == SK_OK);
        if (rc == SK_OK) rc = r1;
        int r2 = sk_prepare_commit_(it, ip, rc == SK_OK);
        if (rc == SK_OK) rc = r2;
    }
    free(off);
    free(buf);
    return rc;
}

const sk_importer sk_importer_megatron = {SK_IMPORTER_VERSION, "megatron",
                                          "Megatron-LM indexed dataset PREFIX(.bin/.idx); one document per sequence",
                                          mg_detect_, mg_import_};
const sk_exporter sk_exporter_megatron = {SK_EXPORTER_VERSION, "megatron",
                                          "Megatron-LM indexed dataset PREFIX.bin + PREFIX.idx", mg_export_};
