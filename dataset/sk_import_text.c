/* sk_import_text.c - plain text and JSON Lines as byte-level tokens.
 *
 * Tokens are the UTF-8 bytes (ids 0..255); with prepare.eod (default on)
 * id 256 ends every document, so vocab_size = 257 and the dtype is uint16.
 * text: a line equal to prepare.boundary (fortune files: "%"; "" = a blank
 * line) ends a document; the boundary line itself is not stored, nor are
 * the newline ending the last line of a document. Empty documents are
 * skipped. jsonl: one JSON object per line; the string field
 * prepare.jsonl_key (default "text") is the document, JSON escapes decoded
 * (\uXXXX to UTF-8). */
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

/* Hands b's buffers to out (or frees them for empty input): either way b
 * owns nothing afterwards. */
static int tb_finish_(tb_ *b, const sk_prepare_config *cfg, sk_corpus_data *out, const char *what) {
    if (b->ndoc == 0) {
        free(b->tok);
        free(b->off);
        b->tok = NULL;
        b->off = NULL;
        return sk_error_set(SK_EINVAL, "%s: empty input: no %s documents found", cfg->input, what);
    }
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

static int text_import_(const sk_prepare_config *cfg, sk_corpus_data *out) {
    int rc = SK_OK;
    unsigned char *buf = NULL;
    size_t len = 0;
    tb_ b = {0};
    SK_TRY(sk_prepare_slurp_(cfg->input, &buf, &len, 0));
    size_t blen = strlen(cfg->boundary);
    size_t i = 0;
    int pending_nl = 0; /* newline between lines of the current document */
    while (i < len) {
        size_t j = i;
        while (j < len && buf[j] != '\n') j++;
        size_t ll = j - i;
        if (ll > 0 && buf[i + ll - 1] == '\r') ll--;
        if (ll == blen && memcmp(buf + i, cfg->boundary, blen) == 0) {
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
    rc = tb_finish_(&b, cfg, out, "text");
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

static int jsonl_import_(const sk_prepare_config *cfg, sk_corpus_data *out) {
    int rc = SK_OK;
    unsigned char *buf = NULL;
    size_t len = 0, i = 0;
    int64_t line = 0;
    tb_ b = {0};
    const char *key = cfg->jsonl_key[0] ? cfg->jsonl_key : "text";
    SK_TRY(sk_prepare_slurp_(cfg->input, &buf, &len, 0));
    while (i < len) {
        size_t j = i;
        while (j < len && buf[j] != '\n') j++;
        line++;
        size_t k = i;
        while (k < j && (buf[k] == ' ' || buf[k] == '\t' || buf[k] == '\r')) k++;
        if (k < j) {
            int found = 0;
            SK_FAIL_IF(buf[k] != '{', SK_EINVAL, "%s:%lld: not a JSON object", cfg->input, (long long)line);
            int r = jsonl_line_(buf, k, j, key, &b, &found);
            SK_FAIL_IF(r == -3, SK_ENOMEM, "%s:%lld: out of memory", cfg->input, (long long)line);
            SK_FAIL_IF(r == -2, SK_EINVAL, "%s:%lld: field \"%s\" is not a string", cfg->input, (long long)line, key);
            SK_FAIL_IF(r < 0, SK_EINVAL, "%s:%lld: malformed JSON", cfg->input, (long long)line);
            SK_FAIL_IF(!found, SK_EINVAL, "%s:%lld: no string field \"%s\" (set prepare.jsonl_key)", cfg->input,
                       (long long)line, key);
            SK_TRY(tb_end_doc_(&b, cfg->eod));
        }
        i = j + 1;
    }
    rc = tb_finish_(&b, cfg, out, "JSON Lines");
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
