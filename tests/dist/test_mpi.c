/* test_mpi.c - sk_mpi under a real `mpirun -np W` (W = 2 and 3 in ctest):
 * rank facts, every collective against its closed form, point-to-point
 * exchange, error agreement when one or two ranks fail (no hang: ctest's
 * TIMEOUT fails a stuck run), check_same's message, seeds, and the world of
 * one after finalize. Every rank asserts; argv[1] is the expected W. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_mpi.h"
#include "sk_rand.h"

static int fails_ = 0, rank_ = 0;
#define CHECK(c)                                                                                                  \
    do {                                                                                                          \
        if (!(c)) {                                                                                               \
            fprintf(stderr, "rank %d: %s:%d: check failed: %s (last error: %s)\n", rank_, __FILE__, __LINE__, #c, \
                    sk_error_last());                                                                             \
            fails_++;                                                                                             \
        }                                                                                                         \
    } while (0)

static void collectives_(int r, int W)
{
    double v[2] = {r, 1.0}, mx[1] = {r}, mn[1] = {r};
    CHECK(sk_mpi_allreduce_sum(v, 2) == 0 && v[0] == W * (W - 1) / 2.0 && v[1] == W);
    CHECK(sk_mpi_allreduce_max(mx, 1) == 0 && mx[0] == W - 1);
    CHECK(sk_mpi_allreduce_min(mn, 1) == 0 && mn[0] == 0);
    /* int64 sums stay exact beyond a double's 53 bits */
    int64_t big[2] = {((int64_t)1 << 60) + r, -r};
    CHECK(sk_mpi_allreduce_sum_i64(big, 2) == 0 && big[0] == ((int64_t)W << 60) + W * (W - 1) / 2 &&
          big[1] == -(int64_t)W * (W - 1) / 2);
    char msg[64] = "";
    if (r == W - 1) snprintf(msg, sizeof msg, "from the last rank");
    CHECK(sk_mpi_bcast(msg, sizeof msg, W - 1) == 0 && !strcmp(msg, "from the last rank"));
    int64_t mine[2] = {10 * r, 10 * r + 1}, *all = calloc((size_t)W * 2, sizeof *all);
    CHECK(sk_mpi_allgather_i64(mine, 2, all) == 0);
    for (int q = 0; q < W; q++) CHECK(all[2 * q] == 10 * q && all[2 * q + 1] == 10 * q + 1);
    free(all);
    CHECK(sk_mpi_barrier() == 0);
}

/* A ring: two messages to the next rank (sizes depend on the sender, so a
 * mix-up shows), two from the previous; the k-th receive gets the k-th send. */
static void exchange_(int r, int W)
{
    const int next = (r + 1) % W, prev = (r + W - 1) % W;
    size_t n0 = 1000 + (size_t)r, n1 = 7, m0 = 1000 + (size_t)prev;
    char *s0 = malloc(n0), s1[7], *r0 = calloc(m0, 1), r1[7] = {0};
    memset(s0, 'a' + r, n0);
    memset(s1, 'A' + r, sizeof s1);
    sk_mpi_msg send[2] = {{s0, n0, next}, {s1, n1, next}}, recv[2] = {{r0, m0, prev}, {r1, sizeof r1, prev}};
    CHECK(sk_mpi_exchange(send, 2, recv, 2) == 0);
    CHECK(r0[0] == 'a' + prev && r0[m0 - 1] == 'a' + prev && r1[0] == 'A' + prev && r1[6] == 'A' + prev);
    CHECK(sk_mpi_exchange(NULL, 0, NULL, 0) == 0);
    free(s0);
    free(r0);
}

static void agree_(int r, int W)
{
    CHECK(sk_mpi_agree(SK_OK) == SK_OK);
    /* rank 1 fails: everyone returns its code; peers see its message */
    int rc = r == 1 ? sk_error_set(SK_EIO, "part-1.h5: disk full") : SK_OK;
    rc = sk_mpi_agree(rc);
    CHECK(rc == SK_EIO);
    CHECK(!strcmp(sk_error_last(), r == 1 ? "part-1.h5: disk full" : "rank 1: part-1.h5: disk full"));
    /* agreeing again after every rank failed keeps the rank that failed first, not "rank 0: rank 1: ..." */
    CHECK(sk_mpi_agree(rc) == SK_EIO);
    CHECK(!strcmp(sk_error_last(), "rank 1: part-1.h5: disk full"));
    /* the lowest failing rank wins when several fail */
    rc = r >= W - 2 && r > 0 ? sk_error_set(r == W - 1 ? SK_EINVAL : SK_ENOMEM, "rank %d broke", r) : SK_OK;
    rc = sk_mpi_agree(rc);
    const int first = W > 2 ? W - 2 : 1;
    char want[64];
    snprintf(want, sizeof want, r == first ? "rank %d broke" : "rank %d: rank %d broke", first, first);
    CHECK(rc == (first == W - 1 ? SK_EINVAL : SK_ENOMEM) && !strcmp(sk_error_last(), want));
    /* and the job goes on: the next collective completes on every rank */
    double one = 1;
    CHECK(sk_mpi_allreduce_sum(&one, 1) == 0 && one == W);
}

static void check_same_(int r, int W)
{
    CHECK(sk_mpi_check_same(42, "run.seed") == SK_OK);
    CHECK(sk_mpi_check_same(r == W - 1 ? 12 : 10, "train.steps") == SK_EINVAL);
    char want[96];
    snprintf(want, sizeof want, "ranks disagree on train.steps: rank 0 has 10, rank %d has 12", W - 1);
    CHECK(!strcmp(sk_error_last(), want));
}

static void seeds_(int r)
{
    /* SplitMix64 reference outputs for state 0 (Vigna's splitmix64.c) */
    CHECK(sk_splitmix64(0) == 0xe220a8397b1dcdafULL);
    CHECK(sk_splitmix64(0x9e3779b97f4a7c15ULL) == 0x6e789e6aa1b965f4ULL);
    uint64_t a = sk_mpi_seed(5, r, 0);
    CHECK(a == sk_mpi_seed(5, r, 0) && a != sk_mpi_seed(5, r + 1, 0) && a != sk_mpi_seed(5, r, 1) &&
          a != sk_mpi_seed(6, r, 0));
    /* every rank's stream differs from every other's */
    double s = (double)(a >> 11), mx = s, mn = s;
    CHECK(sk_mpi_allreduce_max(&mx, 1) == 0 && sk_mpi_allreduce_min(&mn, 1) == 0);
    CHECK(sk_mpi_info_get()->world == 1 || mx != mn);
}

/* Even and odd world ranks, ordered by descending world rank (key = -r):
 * the collectives over each group, then the world again. */
static void split_(int r, int W)
{
    sk_comm *g = NULL;
    const int color = r % 2, size = (W - color + 1) / 2;
    CHECK(sk_mpi_comm_split(&g, color, -r) == 0 && g != NULL);
    CHECK(sk_mpi_comm_info(g)->world == size);
    /* group rank: how many of the group have a larger world rank */
    CHECK(sk_mpi_comm_info(g)->rank == (W - 1 - r) / 2);
    CHECK(sk_mpi_comm_use(g) == 0 && sk_mpi_info_get()->world == size && sk_mpi_world_info()->world == W);
    if (size > 1) {
        collectives_(sk_mpi_info_get()->rank, size);
        exchange_(sk_mpi_info_get()->rank, size);
        agree_(sk_mpi_info_get()->rank, size);
    }
    double v = r; /* the sum of the group's world ranks */
    double want = 0;
    for (int q = color; q < W; q += 2) want += q;
    CHECK(sk_mpi_allreduce_sum(&v, 1) == 0 && v == want);
    CHECK(sk_mpi_comm_use(NULL) == 0 && sk_mpi_info_get()->world == W && sk_mpi_info_get()->rank == r);
    v = 1;
    CHECK(sk_mpi_allreduce_sum(&v, 1) == 0 && v == W);
    CHECK(sk_mpi_comm_use(g) == 0);
    sk_mpi_comm_free(g); /* was current: the world is again */
    CHECK(sk_mpi_comm_current() == NULL && sk_mpi_info_get()->world == W);
    CHECK(sk_mpi_barrier() == 0);
}

int main(int argc, char **argv)
{
    if (sk_mpi_init(&argc, &argv) < 0) return 1;
    CHECK(sk_mpi_init(&argc, &argv) == 0); /* a second call is a no-op */
    const sk_mpi_info *in = sk_mpi_info_get();
    const int W = in->world, r = in->rank;
    rank_ = r;
    CHECK(argc == 2 && W == atoi(argv[1]));
    CHECK(sk_mpi_active() && r >= 0 && r < W && in->local_rank >= 0 && in->local_rank < in->local_size);
    if (W < 2) {
        fprintf(stderr, "run with mpirun -np 2 or more\n");
        return 1;
    }
    collectives_(r, W);
    exchange_(r, W);
    agree_(r, W);
    check_same_(r, W);
    seeds_(r);
    split_(r, W);
    /* after finalize: a world of one, collectives are no-ops, agree passes rc through */
    CHECK(sk_mpi_finalize() == 0 && !sk_mpi_active() && sk_mpi_info_get()->world == 1);
    double v = 3;
    CHECK(sk_mpi_allreduce_sum(&v, 1) == 0 && v == 3);
    CHECK(sk_mpi_agree(SK_EIO) == SK_EIO && sk_mpi_check_same(r, "x") == SK_OK);
    char buf[1];
    sk_mpi_msg m = {buf, 1, 0};
    CHECK(sk_mpi_exchange(&m, 1, NULL, 0) == SK_EINVAL && strstr(sk_error_last(), "world of one"));
    /* a world of one splits into a communicator of one (or none), used and freed without MPI */
    sk_comm *c = NULL, *none = (sk_comm *)&m;
    CHECK(sk_mpi_comm_split(&c, 3, 0) == 0 && c != NULL && sk_mpi_comm_info(c)->world == 1);
    CHECK(sk_mpi_comm_split(&none, -1, 0) == 0 && none == NULL);
    CHECK(sk_mpi_comm_use(c) == 0 && sk_mpi_comm_current() == c && sk_mpi_info_get()->world == 1);
    v = 4;
    CHECK(sk_mpi_allreduce_sum(&v, 1) == 0 && v == 4 && sk_mpi_barrier() == 0);
    sk_mpi_comm_free(c);
    CHECK(sk_mpi_comm_current() == NULL && sk_mpi_world_info()->world == 1 && sk_mpi_world_rank() == 0);
    sk_mpi_comm_free(NULL);
    if (fails_) fprintf(stderr, "rank %d: %d checks failed\n", r, fails_);
    return fails_ ? 1 : 0;
}
