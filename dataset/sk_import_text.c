/* sk_import_text.c - plain text and JSON Lines as byte-level tokens.
 *
 * Tokens are the UTF-8 bytes (ids 0..255); with prepare.eod (default on)
 * id 256 ends every document, so vocab_size = 257 and the dtype is uint16.
 * text: prepare.split says what ends a document: a line equal to
 * prepare.boundary (percent; fortune files: "%"; "" = a blank line), a
 * blank line, every line, or nothing (the whole file). Documents keep
 * their bytes exactly (leading blank lines, '\r'); the boundary line is not
 * stored, nor the line ending of a document's last line. Empty documents
 * are skipped. jsonl: one JSON object per line, checked against the JSON
 * grammar by a dedicated scanner (jsonl_line_); the string field
 * prepare.jsonl_key (default "text") is the document, as UTF-8 bytes. Under MPI each rank parses only the documents that
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

static int tb_push_(tb_ *b, uint16_t t)
{
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
static int tb_end_doc_(tb_ *b, int eod)
{
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
static int tb_finish_(tb_ *b, const sk_prepare_config *cfg, sk_corpus_data *out)
{
    if (!b->off && !(b->off = calloc(1, sizeof *b->off)))
        return sk_error_set(SK_ENOMEM, "%s: out of memory", cfg->input);
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
static int is_boundary_(const unsigned char *line, size_t ll, const char *bnd, size_t blen)
{
    if (!bnd) return 0;
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
static int next_sync_(const char *path, FILE *f, int64_t size, int64_t x, const char *bnd, int64_t *out)
{
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
    if ((q >= 0 || ls - k == 0) && is_boundary_(w + (q + 1), (size_t)(k - 2 - q), bnd, blen)) {
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
                       size_t *len, int64_t *first)
{
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

static int text_import_(const sk_prepare_config *cfg, const sk_import_share *sh, sk_corpus_data *out)
{
    int rc = SK_OK;
    unsigned char *buf = NULL;
    size_t len = 0;
    int64_t first = 0;
    tb_ b = {0};
    const int mode = cfg->split;
    SK_FAIL_IF(mode < 0 || mode >= SK_SPLIT_MODE_COUNT, SK_EINVAL, "prepare.split = %d is not a split mode", mode);
    SK_FAIL_IF(mode == SK_SPLIT_PERCENT && strchr(cfg->boundary, '\n'), SK_EINVAL,
               "prepare.boundary contains a newline; it is compared with one line");
    /* the boundary line (NULL: every line start is a place to cut) */
    const char *bnd = mode == SK_SPLIT_PERCENT ? cfg->boundary : mode == SK_SPLIT_BLANK ? "" : NULL;
    if (mode == SK_SPLIT_NONE) { /* one document: rank 0 reads it all */
        int64_t size = 0;
        SK_TRY(sk_prepare_file_size_(cfg->input, &size));
        len = sh->rank == 0 ? (size_t)size : 0;
        SK_TRY(sk_prepare_read_range_(cfg->input, 0, len, &buf));
    } else {
        SK_TRY(read_share_(cfg, sh, bnd, &buf, &len, &first));
    }
    size_t blen = bnd ? strlen(bnd) : 0;
    /* A document keeps its bytes exactly (leading blank lines, '\r'
     * included) except the line ending ("\n" or "\r\n") of its last line,
     * which belongs with the boundary line after it. */
    size_t i = 0, pend = 0; /* pend: the line ending owed to the document if another line follows */
    int in_doc = 0;
    while (i < len) {
        size_t j = i;
        if (mode == SK_SPLIT_NONE)
            j = len;
        else
            while (j < len && buf[j] != '\n') j++;
        size_t ll = j - i, term = j < len;
        if (term && ll > 0 && buf[j - 1] == '\r') ll--, term = 2;
        if (mode == SK_SPLIT_LINE || mode == SK_SPLIT_NONE) {
            for (size_t k = i; k < i + ll; k++) SK_TRY(tb_push_(&b, buf[k]));
            if (mode == SK_SPLIT_NONE)
                for (size_t k = i + ll; k < j; k++) SK_TRY(tb_push_(&b, buf[k])); /* even the last newline */
            SK_TRY(tb_end_doc_(&b, cfg->eod));
        } else if (is_boundary_(buf + i, j - i, bnd, blen)) {
            SK_TRY(tb_end_doc_(&b, cfg->eod));
            in_doc = 0;
            pend = 0;
        } else {
            if (in_doc)
                for (size_t k = 0; k < pend; k++) SK_TRY(tb_push_(&b, pend == 2 && k == 0 ? '\r' : '\n'));
            for (size_t k = i; k < i + ll; k++) SK_TRY(tb_push_(&b, buf[k]));
            in_doc = 1;
            pend = term;
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

static int hexv_(unsigned char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static int utf8_push_(tb_ *b, uint32_t cp)
{
    int rc = SK_OK;
    if (cp < 0x80) return tb_push_(b, (uint16_t)cp);
    if (cp < 0x800) {
        SK_TRY(tb_push_(b, (uint16_t)(0xC0 | cp >> 6)));
    } else {
        if (cp < 0x10000)
            SK_TRY(tb_push_(b, (uint16_t)(0xE0 | cp >> 12)));
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

/* Four hex digits at s[p..p+4) as a code unit, or -1. */
static int32_t hex4_(const unsigned char *s, size_t p, size_t end)
{
    int32_t v = 0;
    for (size_t k = p; k < p + 4; k++) {
        int h = k < end ? hexv_(s[k]) : -1;
        if (h < 0) return -1;
        v = v << 4 | h;
    }
    return v;
}

/* The JSON string at p (after the opening quote) decoded into tokens (or
 * only checked when b is NULL): RFC 8259 escapes, a surrogate pair as one
 * code point (a lone one is an error), no raw control character. Returns the index after the
 * closing quote, or 0 (*oom set when b ran out of memory). */
static size_t json_str_(const unsigned char *s, size_t p, size_t end, tb_ *b, int *oom)
{
    while (p < end && s[p] != '"') {
        uint32_t cp = s[p++];
        if (cp < 0x20) return 0;
        if (cp == '\\') {
            unsigned char c = p < end ? s[p++] : 0;
            if (!c || !memchr("\"\\/bfnrtu", c, 9)) return 0;
            cp = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c == 'b' ? '\b' : c == 'f' ? '\f' : c;
            if (c == 'u') {
                int32_t u = hex4_(s, p, end), lo = -1;
                if (u < 0) return 0;
                p += 4;
                if (u >= 0xD800 && u < 0xDC00 && p + 6 <= end && s[p] == '\\' && s[p + 1] == 'u')
                    lo = hex4_(s, p + 2, end);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
                if (u >= 0xD800 && u < 0xE000) return 0; /* a lone surrogate is no code point (as jansson) */
                cp = (uint32_t)u;
            }
            if (b && utf8_push_(b, cp) < 0) return *oom = 1, 0;
        } else if (b && tb_push_(b, (uint16_t)cp) < 0) {
            return *oom = 1, 0;
        }
    }
    return p < end ? p + 1 : 0;
}

/* A strict JSON Lines scanner: the whole line is checked against the JSON
 * grammar (RFC 8259) and only the wanted field is decoded, with no object
 * built. jansson, building every object, measured 4.7x slower on this
 * job (bench/bench_jsonl.c, docs/BENCHMARKS.md), so this one stays. */
typedef struct {
    const unsigned char *s;
    size_t p, end;
    const char *key;
    size_t klen;
    tb_ *b;
    int found; /* the key's string is in b */
    int err;   /* the first jsonl_line_ code hit */
} jl_;

static int jl_fail_(jl_ *j, int code)
{
    if (!j->err) j->err = code;
    return -1;
}

static int jl_at_(const jl_ *j, char c) { return j->p < j->end && j->s[j->p] == (unsigned char)c; }

static void jl_ws_(jl_ *j)
{
    while (j->p < j->end && (j->s[j->p] == ' ' || j->s[j->p] == '\t' || j->s[j->p] == '\r' || j->s[j->p] == '\n'))
        j->p++;
}

static int jl_string_(jl_ *j, tb_ *b)
{
    int oom = 0;
    size_t q = json_str_(j->s, j->p + 1, j->end, b, &oom);
    if (!q) return jl_fail_(j, oom ? -3 : -1);
    j->p = q;
    return 0;
}

static int jl_digits_(jl_ *j)
{
    size_t p0 = j->p;
    while (j->p < j->end && j->s[j->p] >= '0' && j->s[j->p] <= '9') j->p++;
    return j->p > p0 ? 0 : jl_fail_(j, -1);
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int jl_number_(jl_ *j)
{
    if (jl_at_(j, '-')) j->p++;
    if (jl_at_(j, '0'))
        j->p++;
    else if (jl_digits_(j) < 0)
        return -1;
    if (jl_at_(j, '.') && (j->p++, jl_digits_(j) < 0)) return -1;
    if (jl_at_(j, 'e') || jl_at_(j, 'E')) {
        j->p++;
        if (jl_at_(j, '+') || jl_at_(j, '-')) j->p++;
        if (jl_digits_(j) < 0) return -1;
    }
    return 0;
}

static int jl_word_(jl_ *j, const char *w)
{
    size_t n = strlen(w);
    if (j->end - j->p < n || memcmp(j->s + j->p, w, n)) return jl_fail_(j, -1);
    j->p += n;
    return 0;
}

static int jl_value_(jl_ *j, int depth);

/* An object or array at j->p; members of the top-level object (depth 0)
 * are compared with the key, whose first occurrence is decoded. */
static int jl_container_(jl_ *j, int depth)
{
    char close = j->s[j->p++] == '{' ? '}' : ']';
    jl_ws_(j);
    if (jl_at_(j, close)) return j->p++, 0;
    for (;;) {
        jl_ws_(j);
        if (close == '}') {
            size_t k0 = j->p + 1;
            if (!jl_at_(j, '"') || jl_string_(j, NULL) < 0) return jl_fail_(j, -1);
            int want = depth == 0 && !j->found && j->p - 1 - k0 == j->klen && !memcmp(j->s + k0, j->key, j->klen);
            jl_ws_(j);
            if (!jl_at_(j, ':')) return jl_fail_(j, -1);
            j->p++;
            jl_ws_(j);
            if (want && !jl_at_(j, '"')) return jl_fail_(j, -2);
            if (want && jl_string_(j, j->b) < 0) return -1;
            j->found |= want;
            if (!want && jl_value_(j, depth + 1) < 0) return -1;
        } else if (jl_value_(j, depth + 1) < 0) {
            return -1;
        }
        jl_ws_(j);
        if (jl_at_(j, close)) return j->p++, 0;
        if (!jl_at_(j, ',')) return jl_fail_(j, -1);
        j->p++;
    }
}

static int jl_value_(jl_ *j, int depth)
{
    jl_ws_(j);
    if (depth > 512 || j->p >= j->end) return jl_fail_(j, -1);
    switch (j->s[j->p]) {
    case '{':
    case '[': return jl_container_(j, depth);
    case '"': return jl_string_(j, NULL);
    case 't': return jl_word_(j, "true");
    case 'f': return jl_word_(j, "false");
    case 'n': return jl_word_(j, "null");
    default: return jl_number_(j);
    }
}

/* One JSON Lines record s[0..n) (a line less its newline): its top-level
 * object's string field key is the document, pushed into b as UTF-8 bytes.
 * An unclosed object, trailing garbage or a bare word is malformed. Returns
 * 0, -1 malformed (*col: the 1-based byte where it failed), -2 the field
 * is not a string, -3 out of memory, -4 valid JSON but not an object, -5
 * no such field. */
static int jsonl_line_(const unsigned char *s, size_t n, const char *key, tb_ *b, size_t *col)
{
    jl_ j = {.s = s, .end = n, .key = key, .klen = strlen(key), .b = b};
    int object = n > 0 && s[0] == '{';
    if (jl_value_(&j, object ? 0 : 1) == 0) {
        jl_ws_(&j);
        if (j.p < j.end)
            jl_fail_(&j, -1); /* trailing garbage */
        else if (!object)
            jl_fail_(&j, -4);
        else if (!j.found)
            jl_fail_(&j, -5);
    }
    *col = j.p + 1;
    return j.err;
}

/* Newlines in the first n bytes of path: the line number a share starts
 * at, needed only to name the line of an error. */
static int64_t lines_before_(const char *path, int64_t n)
{
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

static int jsonl_import_(const sk_prepare_config *cfg, const sk_import_share *sh, sk_corpus_data *out)
{
    int rc = SK_OK;
    unsigned char *buf = NULL;
    size_t len = 0, i = 0;
    int64_t line = 0, first = 0;
    int bad = 0; /* what is wrong with `line` */
    size_t col = 0;
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
            bad = jsonl_line_(buf + k, j - k, key, &b, &col);
            col += k - i; /* counted from the line's start */
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
        SK_FAIL_IF(1, SK_EINVAL, "%s:%lld: malformed JSON (at byte %zu of the line)", cfg->input, (long long)line, col);
    }
    rc = tb_finish_(&b, cfg, out);
done:
    free(buf);
    free(b.tok);
    free(b.off);
    return rc;
}

static int jsonl_detect_(const char *path)
{
    size_t n = strlen(path);
    return (n > 6 && !strcmp(path + n - 6, ".jsonl")) || (n > 5 && !strcmp(path + n - 5, ".json"));
}

const sk_importer sk_importer_text = {SK_IMPORTER_VERSION, "text",
                                      "plain text, byte tokens; a line equal to prepare.boundary ends a document", NULL,
                                      text_import_};
const sk_importer sk_importer_jsonl = {SK_IMPORTER_VERSION, "jsonl",
                                       "JSON Lines, byte tokens of the string field prepare.jsonl_key", jsonl_detect_,
                                       jsonl_import_};
