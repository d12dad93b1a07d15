/* sk_dedup_check.c - checks sk_dedup_components (condense/sk_dedup.h)
 * under mpirun against a serial union-find over every (key, row) pair.
 *
 *   sk_dedup_check N CHAIN RANGE SEED
 *
 * Row i has three keys: two that link it to its neighbours i-1 and i+1
 * within segments of CHAIN rows (long chains: as many propagation rounds
 * as the chain is long, across shard boundaries), and one drawn from
 * [0, RANGE) (random extra links; RANGE 0: none). Every rank makes the
 * same keys, runs the components on its contiguous shard and compares its
 * cluster ids with the reference's lowest index per component. */
#include <stdio.h>
#include <stdlib.h>

#include "sk_dedup.h"
#include "sk_mpi.h"
#include "sk_rand.h"

#define NK_ 3

static int64_t find_(int64_t *par, int64_t x)
{
    while (par[x] != x) x = par[x] = par[par[x]];
    return x;
}

/* Key x of kind `tag`: kinds never collide with each other. */
static uint64_t key_(uint64_t seed, uint64_t tag, uint64_t x)
{
    return sk_splitmix64(sk_splitmix64(seed * 4 + tag) ^ x);
}

static const uint64_t *cmp_keys_;
static int by_key_(const void *a, const void *b)
{
    uint64_t x = cmp_keys_[*(const int64_t *)a], y = cmp_keys_[*(const int64_t *)b];
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 5) return 2;
    int64_t n = atoll(argv[1]), chain = atoll(argv[2]), range = atoll(argv[3]);
    uint64_t seed = strtoull(argv[4], NULL, 10);
    sk_mpi_init(&argc, &argv);
    const sk_mpi_info *mi = sk_mpi_info_get();
    uint64_t *keys = malloc((size_t)n * NK_ * sizeof *keys);
    int64_t *par = malloc((size_t)n * sizeof *par), *idx = malloc((size_t)n * NK_ * sizeof *idx);
    int64_t *got = malloc((size_t)n * sizeof *got);
    for (int64_t i = 0; i < n; i++) {
        /* pair (2j, 2j+1) shares key 0, pair (2j-1, 2j) key 1, unless the pair crosses a segment */
        int64_t p0 = i / 2, p1 = (i + 1) / 2;
        int cut0 = (2 * p0) / chain != (2 * p0 + 1) / chain, cut1 = (2 * p1 - 1) / chain != (2 * p1) / chain;
        keys[i * NK_ + 0] = key_(seed, 0, cut0 ? 0x100000000ULL + (uint64_t)i : (uint64_t)p0);
        keys[i * NK_ + 1] = key_(seed, 1, cut1 ? 0x200000000ULL + (uint64_t)i : (uint64_t)p1);
        keys[i * NK_ + 2] =
            range > 0 ? key_(seed, 2, sk_splitmix64(seed + (uint64_t)i) % (uint64_t)range) : key_(seed, 3, (uint64_t)i);
        par[i] = i;
    }
    for (int64_t j = 0; j < n * NK_; j++) idx[j] = j;
    cmp_keys_ = keys;
    qsort(idx, (size_t)(n * NK_), sizeof *idx, by_key_);
    for (int64_t j = 1; j < n * NK_; j++)
        if (keys[idx[j]] == keys[idx[j - 1]]) {
            int64_t a = find_(par, idx[j] / NK_), b = find_(par, idx[j - 1] / NK_);
            if (a < b)
                par[b] = a;
            else
                par[a] = b;
        }
    int64_t b = n * mi->rank / mi->world, e = n * (mi->rank + 1) / mi->world;
    sk_condense_job job = {.n = n, .begin = b, .end = e, .rank = mi->rank, .world = mi->world};
    int rc = sk_dedup_components(&job, keys + b * NK_, NK_, got + b);
    int bad = rc < 0;
    int64_t clusters = 0;
    for (int64_t i = 0; i < n; i++) clusters += find_(par, i) == i; /* the root is the lowest index */
    for (int64_t i = b; i < e && !bad; i++)
        if (got[i] != find_(par, i)) {
            fprintf(stderr, "rank %d: row %lld: cluster %lld, reference %lld\n", mi->rank, (long long)i,
                    (long long)got[i], (long long)find_(par, i));
            bad = 1;
        }
    rc = sk_mpi_agree(bad ? sk_error_set(SK_ERROR, "components differ from the union-find") : rc);
    if (rc < 0)
        fprintf(stderr, "sk_dedup_check: %s\n", sk_error_last());
    else if (mi->rank == 0)
        printf("sk_dedup_check: %lld rows, chains of %lld, range %lld: %lld clusters, match the union-find\n",
               (long long)n, (long long)chain, (long long)range, (long long)clusters);
    free(keys), free(par), free(idx), free(got);
    sk_mpi_finalize();
    return rc < 0;
}
