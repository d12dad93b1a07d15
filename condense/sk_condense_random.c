/* sk_condense_random.c - `random`: a uniform random subset, the baseline
 * every table shows (DeepCore's Uniform; "random selection is still a
 * strong baseline", Guo et al. 2022). With labels and
 * condense.class_balance, each class keeps sk_pick_want(keep, its size)
 * rows (stratified, DeepCore's `balance=True`).
 *
 * Row i's key is sk_splitmix64(seed ^ i * golden): a random order fixed by
 * the seed and the row's global index alone, so the kept set is the same
 * for any rank count; the kept rows are the ones with the smallest keys.
 */
#include <stdlib.h>

#include "sk_condense_methods.h"
#include "sk_pick.h"
#include "sk_rand.h"

static int random_select_(const sk_condense_job *job, sk_condense_out *out)
{
    int rc = SK_OK;
    int64_t n = job->end - job->begin;
    uint64_t *keys = malloc((size_t)(n > 0 ? n : 1) * sizeof *keys);
    int64_t *want = NULL;
    int ngroups = 0;
    if (!keys) rc = sk_error_set(SK_ENOMEM, "random: out of memory");
    SK_TRY(sk_mpi_agree(rc));
    for (int64_t i = 0; i < n; i++) keys[i] = sk_condense_row_key(job->seed, job->begin + i);
    SK_TRY(sk_condense_group_wants(job, &want, &ngroups));
    rc = sk_pick_smallest(keys, sk_condense_groups(job), ngroups, NULL, n, want, out->keep);
done:
    free(keys);
    free(want);
    return rc;
}

const sk_condense_method sk_condense_random = {
    .version = SK_CONDENSE_VERSION,
    .name = "random",
    .flags = SK_CONDENSE_SAMPLES | SK_CONDENSE_TOKENS | SK_CONDENSE_USES_KEEP,
    .help = "uniform random subset (class-stratified with labels and class_balance): the baseline",
    .keys = "class_balance",
    .select = random_select_,
};
