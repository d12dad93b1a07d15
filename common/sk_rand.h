/* sk_rand.h - the one integer mixer shrink derives its seeds and keyed
 * permutations from.
 *
 * defines: sk_splitmix64.
 */
#ifndef SK_RAND_H
#define SK_RAND_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
 * generators", OOPSLA 2014): the output for state x, i.e. x advanced by the
 * golden gamma and finalised. A well-mixed 64-bit hash of x; iterating
 * x -> sk_splitmix64(x) or hashing x ^ tweak gives independent-looking
 * streams. Inline because the loader's keyed permutation calls it for every
 * index it maps. */
static inline uint64_t sk_splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#ifdef __cplusplus
}
#endif
#endif /* SK_RAND_H */
