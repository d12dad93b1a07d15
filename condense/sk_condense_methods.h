/* sk_condense_methods.h - what the method files of condense/ share: their
 * vtables (listed in sk_condense.c's table) and the helpers every method
 * uses for class balance.
 *
 * defines: the sk_condense_<name> entries, sk_condense_groups,
 *          sk_condense_group_wants.
 */
#ifndef SK_CONDENSE_METHODS_H
#define SK_CONDENSE_METHODS_H

#include "sk_condense.h"
#include "sk_mpi.h"

extern const sk_condense_method sk_condense_random; /* sk_condense_random.c */
extern const sk_condense_method sk_condense_exact_dedup; /* sk_condense_exact.c */
extern const sk_condense_method sk_condense_minhash; /* sk_condense_minhash.c */

/* The group of each shard row for a class-balanced pick: the labels when
 * the corpus has them and condense.class_balance is on, else NULL (one
 * group). */
const int64_t *sk_condense_groups(const sk_condense_job *job);

/* How many rows each group keeps at condense.keep (sk_pick_want of each
 * class's size over all ranks, or of n for one group). *want is malloc'd
 * (the caller frees it), *ngroups its length. Collective. */
int sk_condense_group_wants(const sk_condense_job *job, int64_t **want, int *ngroups);

#endif /* SK_CONDENSE_METHODS_H */
