/* sk_pick.h - exact distributed "keep the k smallest" for condensation
 * methods, without gathering keys.
 *
 * defines: sk_pick_smallest, sk_pick_key_asc, sk_pick_key_desc, sk_pick_want.
 *
 * Each rank holds the keys of its contiguous shard of rows (rank order =
 * row order). sk_pick_smallest keeps, in every group, the want[g] rows with
 * the smallest keys over all ranks, ties going to the lower global row
 * index, so the answer is the one a single process sorting every
 * (key, index) pair would give, for any number of ranks. It finds each
 * group's k-th key by radix selection: 8 rounds, each an allreduce of a
 * 256-bin histogram per group (8 * groups * 2 KiB on the wire), then one
 * allgather of per-rank tie counts. Memory: O(shard + 256 * groups).
 */
#ifndef SK_PICK_H
#define SK_PICK_H

#include <stdint.h>

/* keys[i], group[i] (in [0, ngroups); NULL: one group) and eligible[i]
 * (NULL: every row) of the shard's n rows; want[g]: how many rows of
 * group g to keep over all ranks (more than the group has: all of them).
 * Sets keep[i] = 1 for kept rows and leaves the others untouched.
 * Collective. */
int sk_pick_smallest(const uint64_t *keys, const int64_t *group, int ngroups, const uint8_t *eligible, int64_t n,
                     const int64_t *want, uint8_t *keep);

/* Order-preserving keys of a float score: ascending (small scores first)
 * or descending (large scores first). NaN is the caller's to refuse. */
uint64_t sk_pick_key_asc(float s);
uint64_t sk_pick_key_desc(float s);

/* How many rows to keep of a group of `count` rows at fraction keep:
 * round half up, and at least one of a non-empty group. */
int64_t sk_pick_want(double keep, int64_t count);

#endif /* SK_PICK_H */
