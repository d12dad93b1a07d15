/* sk_minhash.c - MinHash signatures and LSH band keys (sk_minhash.h).
 *
 * Each shingle is hashed once with XXH3-64 (a word shingle hashes its
 * words' XXH3 values, so each word's bytes are read once); then each of
 * the K = bands * rows permutations is datatrove's
 *     h_k(x) = ((a_k * x + b_k) mod 2^64) mod (2^61 - 1)
 * (numpy's wrapping uint64 arithmetic, then the Mersenne-prime modulus),
 * with a_k in [1, p), b_k in [0, p) drawn by SplitMix64 from the seed. The
 * signature is the minimum of each h_k over the document's shingles; band
 * b's key is XXH3-64 of its rows seeded with b + 1. Differences from
 * datatrove: XXH3 instead of SHA-1/xxhash64 for shingles, the normalisation
 * is ASCII-only (no Unicode punctuation or diacritics folding, no language
 * word tokenizer), and a document shorter than ngram words is one shingle
 * instead of none. */
#include "sk_minhash.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "sk_error.h"
#include "sk_rand.h"

#define P61_ ((1ULL << 61) - 1)
#define MAXPERM_ 1024
#define BLOCK_ 8 /* permutations per vector block (fold_) */

struct sk_minhash {
    int64_t ngram, bands, rows, k, kpad; /* kpad: k rounded up to BLOCK_ */
    uint64_t *a, *b, *sig;
    uint64_t *words; /* scratch: word hashes */
    int64_t cap;
    uint8_t *norm; /* scratch: normalised bytes */
    int64_t ncap;
};

int sk_minhash_create(sk_minhash **out, int64_t ngram, int64_t bands, int64_t rows, uint64_t seed)
{
    int rc = SK_OK;
    sk_minhash *m = NULL;
    *out = NULL;
    SK_FAIL_IF(ngram < 1 || bands < 1 || rows < 1 || bands * rows > MAXPERM_, SK_EINVAL,
               "minhash: ngram %lld, bands %lld x rows %lld: need ngram >= 1 and 1 <= bands*rows <= %d",
               (long long)ngram, (long long)bands, (long long)rows, MAXPERM_);
    m = calloc(1, sizeof *m);
    SK_FAIL_IF(!m, SK_ENOMEM, "minhash: out of memory");
    m->ngram = ngram, m->bands = bands, m->rows = rows, m->k = bands * rows;
    m->kpad = (m->k + BLOCK_ - 1) / BLOCK_ * BLOCK_;
    m->a = calloc((size_t)m->kpad * 3, sizeof *m->a);
    SK_FAIL_IF(!m->a, SK_ENOMEM, "minhash: out of memory");
    m->b = m->a + m->kpad, m->sig = m->b + m->kpad;
    uint64_t s = seed;
    for (int64_t i = 0; i < m->k; i++) {
        m->a[i] = 1 + sk_splitmix64(s += 0x9e3779b97f4a7c15ULL) % (P61_ - 1);
        m->b[i] = sk_splitmix64(s += 0x9e3779b97f4a7c15ULL) % P61_;
    }
    *out = m;
    m = NULL;
done:
    sk_minhash_free(m);
    return rc;
}

void sk_minhash_free(sk_minhash *m)
{
    if (!m) return;
    free(m->a);
    free(m->words);
    free(m->norm);
    free(m);
}

static int grow_(void **p, int64_t *cap, int64_t want, size_t es)
{
    if (want <= *cap) return SK_OK;
    int64_t c = want < 1024 ? 1024 : want + want / 2;
    void *q = realloc(*p, (size_t)c * es);
    if (!q) return sk_error_set(SK_ENOMEM, "minhash: out of memory");
    *p = q;
    *cap = c;
    return SK_OK;
}

/* Fold one shingle hash into the signature: the hot loop. The K
 * permutations are padded to blocks of 8 so the inner loop has a fixed
 * trip count the compiler vectorises; target_clones builds an AVX-512 and
 * an AVX2 version beside the baseline and picks one at load time. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("arch=skylake-avx512", "avx2", "default")))
#endif
static void
fold_(uint64_t *restrict sig, const uint64_t *restrict a, const uint64_t *restrict b, int64_t kpad, uint64_t x)
{
    for (int64_t k = 0; k < kpad; k += BLOCK_) {
        for (int j = 0; j < BLOCK_; j++) {
            uint64_t v = a[k + j] * x + b[k + j];
            v = (v & P61_) + (v >> 61);
            v = v >= P61_ ? v - P61_ : v;
            sig[k + j] = v < sig[k + j] ? v : sig[k + j];
        }
    }
}

static void band_keys_(const sk_minhash *m, uint64_t *keys)
{
    for (int64_t b = 0; b < m->bands; b++)
        keys[b] = XXH3_64bits_withSeed(m->sig + b * m->rows, (size_t)m->rows * sizeof *m->sig, (XXH64_hash_t)b + 1);
}

/* Shingles of ngram consecutive 64-bit unit hashes u[0..n). */
static void shingles_(sk_minhash *m, const uint64_t *u, int64_t n)
{
    for (int64_t k = 0; k < m->kpad; k++) m->sig[k] = UINT64_MAX;
    if (n <= m->ngram) {
        fold_(m->sig, m->a, m->b, m->kpad, XXH3_64bits(u, (size_t)n * sizeof *u));
        return;
    }
    for (int64_t i = 0; i + m->ngram <= n; i++)
        fold_(m->sig, m->a, m->b, m->kpad, XXH3_64bits(u + i, (size_t)m->ngram * sizeof *u));
}

/* ASCII normalisation: 0 separates words, else the byte as read. */
static uint8_t norm_table_[256];
static void norm_init_(void)
{
    for (int c = 0; c < 256; c++) {
        uint8_t v = 0;
        if (c >= 'a' && c <= 'z')
            v = (uint8_t)c;
        else if (c >= 'A' && c <= 'Z')
            v = (uint8_t)(c - 'A' + 'a');
        else if (c >= '0' && c <= '9')
            v = '0';
        else if (c >= 0x80)
            v = (uint8_t)c;
        norm_table_[c] = v;
    }
}

int sk_minhash_keys_text(sk_minhash *m, const uint8_t *text, int64_t len, uint64_t *keys)
{
    int rc = SK_OK;
    if (!norm_table_['a']) norm_init_();
    SK_TRY(grow_((void **)&m->norm, &m->ncap, len + 1, 1));
    SK_TRY(grow_((void **)&m->words, &m->cap, len / 2 + 2, sizeof *m->words));
    int64_t nw = 0;
    for (int64_t i = 0; i < len;) {
        while (i < len && !norm_table_[text[i]]) i++;
        if (i >= len) break;
        int64_t w = 0;
        while (i < len && norm_table_[text[i]]) m->norm[w++] = norm_table_[text[i++]];
        m->words[nw++] = XXH3_64bits(m->norm, (size_t)w);
    }
    shingles_(m, m->words, nw);
    band_keys_(m, keys);
done:
    return rc;
}

int sk_minhash_keys_u32(sk_minhash *m, const uint32_t *tok, int64_t n, uint64_t *keys)
{
    int rc = SK_OK;
    SK_TRY(grow_((void **)&m->words, &m->cap, n + 1, sizeof *m->words));
    for (int64_t i = 0; i < n; i++) m->words[i] = tok[i];
    shingles_(m, m->words, n);
    band_keys_(m, keys);
done:
    return rc;
}
