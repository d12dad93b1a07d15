/* sk_pick_check.c - checks sk_pick_smallest (condense/sk_pick.h) under
 * mpirun against a sort of every (key, index) pair, per group.
 *
 *   sk_pick_check N GROUPS KEYRANGE SEED
 *
 * Every rank makes the same N keys (drawn from [0, KEYRANGE): a small
 * range forces many ties, at the thresholds too) and group ids, runs the
 * pick on its contiguous shard, and compares its rows with the
 * reference. Exit 0 when every rank agrees with it. */
#include <stdio.h>
#include <stdlib.h>

#include "sk_mpi.h"
#include "sk_pick.h"
#include "sk_rand.h"

static const uint64_t *cmp_keys_;
static int by_key_then_index_(const void *a, const void *b)
{
    int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    if (cmp_keys_[i] != cmp_keys_[j]) return cmp_keys_[i] < cmp_keys_[j] ? -1 : 1;
    return i < j ? -1 : i > j;
}

int main(int argc, char **argv)
{
    if (argc != 5) return 2;
    int64_t n = atoll(argv[1]), range = atoll(argv[3]);
    int ng = atoi(argv[2]);
    uint64_t seed = strtoull(argv[4], NULL, 10);
    sk_mpi_init(&argc, &argv);
    const sk_mpi_info *mi = sk_mpi_info_get();
    uint64_t *keys = malloc((size_t)n * sizeof *keys);
    int64_t *grp = malloc((size_t)n * sizeof *grp), *idx = malloc((size_t)n * sizeof *idx);
    int64_t *want = calloc((size_t)ng, sizeof *want), *size = calloc((size_t)ng, sizeof *size);
    uint8_t *ref = calloc((size_t)n, 1), *got = calloc((size_t)n, 1);
    for (int64_t i = 0; i < n; i++) {
        keys[i] = sk_splitmix64(seed + (uint64_t)i) % (uint64_t)range;
        grp[i] = (int64_t)(sk_splitmix64(~seed - (uint64_t)i) % (uint64_t)ng);
        size[grp[i]]++;
        idx[i] = i;
    }
    for (int g = 0; g < ng; g++) want[g] = g == 0 ? size[g] + 5 : (g == 1 ? 0 : sk_pick_want(0.37, size[g]));
    cmp_keys_ = keys;
    qsort(idx, (size_t)n, sizeof *idx, by_key_then_index_);
    int64_t *taken = calloc((size_t)ng, sizeof *taken);
    for (int64_t k = 0; k < n; k++)
        if (taken[grp[idx[k]]] < want[grp[idx[k]]]) {
            ref[idx[k]] = 1;
            taken[grp[idx[k]]]++;
        }
    int64_t b = n * mi->rank / mi->world, e = n * (mi->rank + 1) / mi->world;
    int rc = sk_pick_smallest(keys + b, grp + b, ng, NULL, e - b, want, got + b);
    int bad = rc < 0;
    for (int64_t i = b; i < e && !bad; i++)
        if (got[i] != ref[i]) {
            fprintf(stderr, "rank %d: row %lld: got %d, reference %d\n", mi->rank, (long long)i, got[i], ref[i]);
            bad = 1;
        }
    rc = sk_mpi_agree(bad ? sk_error_set(SK_ERROR, "pick differs from the reference") : rc);
    if (rc < 0)
        fprintf(stderr, "sk_pick_check: %s\n", sk_error_last());
    else if (mi->rank == 0)
        printf("sk_pick_check: %lld rows, %d groups, range %lld: matches the sort\n", (long long)n, ng,
               (long long)range);
    free(keys), free(grp), free(idx), free(want), free(size), free(ref), free(got), free(taken);
    sk_mpi_finalize();
    return rc < 0;
}
