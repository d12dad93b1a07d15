/* sk_import_text.c - plain text and JSON Lines as byte-level tokens.
 *
 * Tokens are the UTF-8 bytes (ids 0..255); with prepare.eod (default on)
 * id 256 ends every document, so vocab_size = 257 and the dtype is uint16.
 * text: a line equal to prepare.boundary (fortune files: "%"; "" = a blank
 * line) ends a document; the boundary line itself is not stored, nor are
 * the newline ending the last line of a document. Empty documents are
 * skipped. jsonl: one JSON object per line; the string field
 * prepare.jsonl_key (default "text") is the document, JSON escapes decoded
 * (\uXXXX to UTF-8). Under MPI each rank parses only the documents that
 * start in its even share of the file's bytes (read_share_). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_prepare.h"

typedef struct {
    uint16_t *tok;
    int64_t ntok, cap;
    int64_t *off;
    int64_t ndoc, ocap;
} tb_;

static int tb_push_(tb_ *b, uint16_t t) {
    if (b->ntok == b->cap) {
        int64_t nc = b->cap ? b->cap * 2 : 1 << 16;
        uint16_t *p = realloc(b->tok, (size_t)nc * sizeof *p);
        if (!p) return sk_error_set(SK_ENOMEM, "out of memory for %lld tokens", (long long)nc);
        b->tok = p;
        b->cap = nc;
    }
    b->tok[b->ntok++] = t;
    return SK_OK;
}

/* close the current document (if non-empty) */
static int tb_end_doc_(tb_ *b, int eod) {
    int64_t start = b->ndoc ? b->off[b->ndoc] : 0;
    if (b->ntok == start) return SK_OK;
    if (eod && tb_push_(b, 256) < 0) return SK_ENOMEM;
    if (b->ndoc + 2 > b->ocap) {
        int64_t nc = b->ocap ? b->ocap * 2 : 1024;
        int64_t *p = realloc(b->off, (size_t)nc * sizeof *p);
        if (!p) return sk_error_set(SK_ENOMEM, "out of memory");
        b->off = p;
        b->ocap = nc;
    }
    b->off[0] = 0;
    b->off[++b->ndoc] = b->ntok;
    return SK_OK;
}

/* Hands b's buffers to out: b owns nothing afterwards. A share may hold
 * no document (offsets = {0}); sk_prepare_run reports an empty input. */
static int tb_finish_(tb_ *b, const sk_prepare_config *cfg, sk_corpus_data *out) {
    if (!b->off && !(b->off = calloc(1, sizeof *b->off))) return sk_error_set(SK_ENOMEM, "%s: out of memory", cfg->input);
    memset(out, 0, sizeof *out);
    out->kind = SK_CORPUS_TOKENS;
    out->type = SK_ELEM_U16;
    out->vocab_size = cfg->eod ? 257 : 256;
    out->tokens = b->tok;
    out->num_tokens = b->ntok;
    out->offsets = b->off;
    out->num_docs = b->ndoc;
    b->tok = NULL;
    b->off = NULL;
    return SK_OK;
}

/* ---- splitting the input between ranks ----------------------------------- */

/* A text line (without its '\n') is a document boundary when, less one
 * trailing '\r', it equals prepare.boundary. */
static int is_boundary_(const unsigned char *line, size_t ll, const char *bnd, size_t blen) {
    if (ll > 0 && line[ll - 1] == '\r') ll--;
    return ll == blen && memcmp(line, bnd, blen) == 0;
}

/* The first place >= x where a parse may start with a fresh state: the
 * start of a line (JSON Lines: bnd NULL) or of a line after a boundary line
 * (text: the parser's state there is the same as at the file's start); 0
 * and size always qualify. Reads forward from x, and back at most
 * blen + 3 bytes to see whether the line before x is a boundary. This is
 * the usual seek-to-offset, advance-to-the-next-boundary split: ranks
 * compute their ends with the same function as the next rank's start, so
 * the ranges tile the file with no document in two of them. */
static int next_sync_(const char *path, FILE *f, int64_t size, int64_t x, const char *bnd, int64_t *out) {
    int rc = SK_OK;
    char *line = NULL;
    size_t cap = 0;
    *out = x <= 0 ? 0 : size;
    if (x <= 0 || x >= size) return SK_OK;
    SK_FAIL_IF(fseeko(f, (off_t)(x - 1), SEEK_SET) != 0, SK_EIO, "%s: cannot seek: %s", path, strerror(errno));
    int c = getc(f);
    int64_t ls = x; /* the first line start >= x */
    if (c != '\n') {
        ssize_t n = getline(&line, &cap, f);
        ls = n > 0 ? x + n : size;
    }
    SK_FAIL_IF(ferror(f), SK_EIO, "%s: read failed: %s", path, strerror(errno));
    if (!bnd || ls >= size) {
        *out = ls;
        goto done;
    }
    size_t blen = strlen(bnd);
    unsigned char w[SK_PREPARE_STR_MAX + 3];
    int64_t k = ls < (int64_t)blen + 3 ? ls : (int64_t)blen + 3; /* '\n', boundary, '\r', '\n' */
    SK_FAIL_IF(fseeko(f, (off_t)(ls - k), SEEK_SET) != 0 || fread(w, 1, (size_t)k, f) != (size_t)k, SK_EIO,
               "%s: read failed", path);
    int64_t q = k - 2;
    while (q >= 0 && w[q] != '\n') q--;
    if ((q >= 0 || ls - k == 0) && is_boundary_(w + q + 1, (size_t)(k - 2 - q), bnd, blen)) {
        *out = ls;
        goto done;
    }
    SK_FAIL_IF(fseeko(f, (off_t)ls, SEEK_SET) != 0, SK_EIO, "%s: cannot seek: %s", path, strerror(errno));
    ssize_t n;
    int64_t pos = ls;
    while ((n = getline(&line, &cap, f)) > 0) {
        pos += n;
        if (is_boundary_((unsigned char *)line, (size_t)n - (line[n - 1] == '\n'), bnd, blen)) {
            *out = pos;
            goto done;
        }
    }
    SK_FAIL_IF(ferror(f), SK_EIO, "%s: read failed: %s", path, strerror(errno));
done:
    free(line);
    return rc;
}

/* Read this rank's part of cfg->input: the file's bytes split evenly, each
 * cut moved forward to the next place a parse can start (next_sync_).
 * *first is the part's first byte. */
static int read_share_(const sk_prepare_config *cfg, const sk_import_share *sh, const char *bnd, unsigned char **buf,
                       size_t *len, int64_t *first) {
    int rc = SK_OK;
    int64_t size = 0, lo, hi, p0, p1;
    FILE *f = NULL;
    SK_TRY(sk_prepare_file_size_(cfg->input, &size));
    sk_prepare_share_(size, sh, &lo, &hi);
    f = fopen(cfg->input, "rb");
    SK_FAIL_IF(!f, SK_ENOTFOUND, "%s: cannot open: %s", cfg->input, strerror(errno));
    SK_TRY(next_sync_(cfg->input, f, size, lo, bnd, &p0));
    SK_TRY(next_sync_(cfg->input, f, size, hi, bnd, &p1));
    SK_TRY(sk_prepare_read_range_(cfg->input, p0, (size_t)(p1 - p0), buf));
    *len = (size_t)(p1 - p0);
    *first = p0;
done:
    if (f) fclose(f);
    return rc;
}

static int text_import_(const sk_prepare_config *cfg, const sk_import_share *sh, sk_corpus_data *out) {
    int rc = SK_OK;
    unsigned char *buf = NULL;
    size_t len = 0;
    int64_t first = 0;
    tb_ b = {0};
    SK_FAIL_IF(strchr(cfg->boundary, '\n'), SK_EINVAL, "prepare.boundary contains a newline; it is compared with one line");
    SK_TRY(read_share_(cfg, sh, cfg->boundary, &buf, &len, &first));
    size_t blen = strlen(cfg->boundary);
    size_t i = 0;
    int pending_nl = 0; /* newline between lines of the current document */
    while (i < len) {
        size_t j = i;
        while (j < len && buf[j] != '\n') j++;
        size_t ll = j - i;
        if (ll > 0 && buf[i + ll - 1] == '\r') ll--;
        if (is_boundary_(buf + i, j - i, cfg->boundary, blen)) {
            SK_TRY(tb_end_doc_(&b, cfg->eod));
            pending_nl = 0;
        } else {
            int64_t start = b.ndoc ? b.off[b.ndoc] : 0;
            if (pending_nl && b.ntok > start) SK_TRY(tb_push_(&b, '\n'));
            for (size_t k = i; k < i + ll; k++) SK_TRY(tb_push_(&b, buf[k]));
            pending_nl = 1;
        }
        i = j + 1;
    }
    SK_TRY(tb_end_doc_(&b, cfg->eod));
    rc = tb_finish_(&b, cfg, out);
done:
    free(buf);
    free(b.tok);
    free(b.off);
    return rc;
}

static int hexv_(unsigned char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int utf8_push_(tb_ *b, uint32_t cp) {
    int rc = SK_OK;
    if (cp < 0x80) return tb_push_(b, (uint16_t)cp);
    if (cp < 0x800) {
        SK_TRY(tb_push_(b, (uint16_t)(0xC0 | cp >> 6)));
    } else {
        if (cp < 0x10000) SK_TRY(tb_push_(b, (uint16_t)(0xE0 | cp >> 12)));
        else {
            SK_TRY(tb_push_(b, (uint16_t)(0xF0 | cp >> 18)));
            SK_TRY(tb_push_(b, (uint16_t)(0x80 | ((cp >> 12) & 0x3F))));
        }
        SK_TRY(tb_push_(b, (uint16_t)(0x80 | ((cp >> 6) & 0x3F))));
    }
    rc = tb_push_(b, (uint16_t)(0x80 | (cp & 0x3F)));
done:
    return rc;
}

/* Parse the JSON string at p (after the opening quote) into tokens (or skip
 * when b is NULL); returns the index after the closing quote or 0. */
static size_t json_str_(const unsigned char *s, size_t p, size_t end, tb_ *b, int *err) {
    while (p < end && s[p] != '"') {
        if (s[p] == '\\') {
            if (++p >= end) return 0;
            unsigned char c = s[p++];
            uint32_t cp = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c == 'b' ? '\b' : c == 'f' ? '\f' : c;
            if (c == 'u') {
                if (p + 4 > end) return 0;
                cp = 0;
                for (int k = 0; k < 4; k++) {
                    int h = hexv_(s[p++]);
                    if (h < 0) return 0;
                    cp = cp << 4 | (uint32_t)h;
                }
                if (cp >= 0xD800 && cp < 0xDC00 && p + 6 <= end && s[p] == '\\' && s[p + 1] == 'u') {
                    uint32_t lo = 0;
                    for (int k = 0; k < 4; k++) {
                        int h = hexv_(s[p + 2 + k]);
                        if (h < 0) return 0;
                        lo = lo << 4 | (uint32_t)h;
                    }
                    if (lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        p += 6;
                    }
                }
            }
            if (b && utf8_push_(b, cp) < 0) { *err = 1; return 0; }
        } else {
            if (b && tb_push_(b, s[p]) < 0) { *err = 1; return 0; }
            p++;
        }
    }
    return p < end ? p + 1 : 0;
}

/* Find "key": "<string>" at the top level of the object in s[i..end). A
 * small scanner, not a full JSON parser: nested values are skipped by
 * bracket depth, strings by their escapes. */
static int jsonl_line_(const unsigned char *s, size_t i, size_t end, const char *key, tb_ *b, int *found) {
    size_t klen = strlen(key);
    int depth = 0, err = 0;
    *found = 0;
    while (i < end) {
        unsigned char c = s[i];
        if (c == '"') {
            size_t q = i + 1, close = json_str_(s, q, end, NULL, &err);
            if (!close) return -1;
            size_t k = close;
            while (k < end && (s[k] == ' ' || s[k] == '\t')) k++;
            if (depth == 1 && k < end && s[k] == ':' && close - 1 - q == klen && !memcmp(s + q, key, klen)) {
                k++;
                while (k < end && (s[k] == ' ' || s[k] == '\t')) k++;
                if (k >= end || s[k] != '"') return -2; /* key present, not a string */
                if (!json_str_(s, k + 1, end, b, &err)) return err ? -3 : -1;
                *found = 1;
                return 0;
            }
            i = close;
            continue;
        }
        if (c == '{' || c == '[') depth++;
        if (c == '}' || c == ']') depth--;
        i++;
    }
    return depth == 0 ? 0 : -1;
}

/* Newlines in the first n bytes of path: the line number a share starts
 * at, needed only to name the line of an error. */
static int64_t lines_before_(const char *path, int64_t n) {
    FILE *f = fopen(path, "rb");
    char buf[1 << 16];
    int64_t lines = 0;
    while (f && n > 0) {
        size_t k = fread(buf, 1, n < (int64_t)sizeof buf ? (size_t)n : sizeof buf, f);
        if (k == 0) break;
        for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + k - p))); p++) lines++;
        n -= (int64_t)k;
    }
    if (f) fclose(f);
    return lines;
}

static int jsonl_import_(const sk_prepare_config *cfg, const sk_import_share *sh, sk_corpus_data *out) {
    int rc = SK_OK;
    unsigned char *buf = NULL;
    size_t len = 0, i = 0;
    int64_t line = 0, first = 0;
    int bad = 0; /* what is wrong with `line` */
    tb_ b = {0};
    const char *key = cfg->jsonl_key[0] ? cfg->jsonl_key : "text";
    SK_TRY(read_share_(cfg, sh, NULL, &buf, &len, &first));
    while (i < len && !bad) {
        size_t j = i;
        while (j < len && buf[j] != '\n') j++;
        line++;
        size_t k = i;
        while (k < j && (buf[k] == ' ' || buf[k] == '\t' || buf[k] == '\r')) k++;
        if (k < j) {
            int found = 0, r = buf[k] != '{' ? -4 : jsonl_line_(buf, k, j, key, &b, &found);
            bad = r < 0 ? r : !found ? -5 : 0;
            if (!bad) SK_TRY(tb_end_doc_(&b, cfg->eod));
        }
        i = j + 1;
    }
    if (bad) {
        line += first > 0 ? lines_before_(cfg->input, first) : 0; /* the error names the file's line */
        SK_FAIL_IF(bad == -4, SK_EINVAL, "%s:%lld: not a JSON object", cfg->input, (long long)line);
        SK_FAIL_IF(bad == -3, SK_ENOMEM, "%s:%lld: out of memory", cfg->input, (long long)line);
        SK_FAIL_IF(bad == -2, SK_EINVAL, "%s:%lld: field \"%s\" is not a string", cfg->input, (long long)line, key);
        SK_FAIL_IF(bad == -5, SK_EINVAL, "%s:%lld: no string field \"%s\" (set prepare.jsonl_key)", cfg->input,
                   (long long)line, key);
        SK_FAIL_IF(1, SK_EINVAL, "%s:%lld: malformed JSON", cfg->input, (long long)line);
    }
    rc = tb_finish_(&b, cfg, out);
done:
    free(buf);
    free(b.tok);
    free(b.off);
    return rc;
}

static int jsonl_detect_(const char *path) {
    size_t n = strlen(path);
    return (n > 6 && !strcmp(path + n - 6, ".jsonl")) || (n > 5 && !strcmp(path + n - 5, ".json"));
}

const sk_importer sk_importer_text = {SK_IMPORTER_VERSION, "text",
                                      "plain text, byte tokens; a line equal to prepare.boundary ends a document",
                                      NULL, text_import_};
const sk_importer sk_importer_jsonl = {SK_IMPORTER_VERSION, "jsonl",
                                       "JSON Lines, byte tokens of the string field prepare.jsonl_key",
                                       jsonl_detect_, jsonl_import_};
