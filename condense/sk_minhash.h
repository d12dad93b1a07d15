/* sk_minhash.h - MinHash signatures and LSH band keys of one document
 * (Broder 1997; banding as in Leskovec, Rajaraman & Ullman, "Mining of
 * Massive Datasets", ch. 3; parameters and hash family as datatrove's
 * MinhashDedup). Used by the `minhash` condense method and bench_minhash.
 *
 * defines: sk_minhash (opaque), sk_minhash_create / _free,
 *          sk_minhash_keys_text, sk_minhash_keys_u32.
 */
#ifndef SK_MINHASH_H
#define SK_MINHASH_H

#include <stdint.h>

typedef struct sk_minhash sk_minhash;

/* bands * rows permutations drawn from seed; shingles of ngram units.
 * *out is freed with sk_minhash_free (NULL ok). SK_EINVAL on bad sizes. */
int sk_minhash_create(sk_minhash **out, int64_t ngram, int64_t bands, int64_t rows, uint64_t seed);
void sk_minhash_free(sk_minhash *m);

/* keys[bands]: one 64-bit key per band (the band's rows hashed with the
 * band id mixed in), of word ngram shingles of UTF-8/ASCII text: ASCII
 * letters lowercased, digits read as '0', other ASCII bytes separate
 * words, bytes >= 0x80 are word characters. A text with fewer than ngram
 * words is one shingle (all its words; none for an empty text).
 * Uses m's scratch, so one m per thread. */
int sk_minhash_keys_text(sk_minhash *m, const uint8_t *text, int64_t len, uint64_t *keys);
/* The same over ngram consecutive token ids (byte shingles of a byte
 * corpus). */
int sk_minhash_keys_u32(sk_minhash *m, const uint32_t *tok, int64_t n, uint64_t *keys);

#endif /* SK_MINHASH_H */
