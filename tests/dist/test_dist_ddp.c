/* test_dist_ddp.c - run under mpirun -np 2: parameter broadcast and
 * bucketed gradient averaging (several bucket sizes, grads from backward);
 * buffers of mixed dtypes, without gradients, broadcast from rank 0.
 * Every rank asserts. sk_mpi's collectives are tested in test_mpi.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_mpi.h"
#include "sk_dist_ddp.h"

static int fails_ = 0;
#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c)) {                                                                                                    \
            fprintf(stderr, "rank %d: %s:%d: check failed: %s (%s)\n", rank, __FILE__, __LINE__, #c, sk_error_last()); \
            fails_++;                                                                                                  \
        }                                                                                                              \
    } while (0)

int main(int argc, char **argv)
{
    if (sk_mpi_init(&argc, &argv) < 0) return 1;
    const int rank = sk_mpi_info_get()->rank, world = sk_mpi_info_get()->world;
    if (world < 2) {
        fprintf(stderr, "run with mpirun -np 2 or more\n");
        return 1;
    }
    /* params with rank-dependent values */
    int64_t shapes[4][2] = {{5, 3}, {7, 1}, {100, 10}, {2, 2}};
    sk_tensor *p[4];
    const char *names[4] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        p[i] = sk_shim_full(shapes[i], 2, (double)(rank + 1) * (i + 1), SK_F32, SK_CPU);
        sk_shim_set_requires_grad(p[i], 1);
    }
    size_t sizes[3] = {16, 200, 1 << 20}; /* one tensor per bucket .. all in one bucket */
    for (int s = 0; s < 3; s++) {
        sk_dist_ddp *d = NULL;
        CHECK(sk_dist_ddp_create(&d, p, names, 4, sizes[s]) == 0);
        if (s == 0) {
            CHECK(sk_dist_ddp_broadcast(d) == 0);
            for (int i = 0; i < 4; i++) {
                double v;
                sk_tensor *m = sk_shim_mean(p[i], NULL, 0, 0);
                CHECK(sk_shim_item(m, &v) == 0 && v == (double)(i + 1)); /* rank 0's value */
                sk_tensor_free(m);
            }
        }
        /* loss = sum_i sum(p_i * (rank + 1) * (i + 1)) -> grad_i = (rank + 1) * (i + 1).
         * mode 0: plain allreduce after backward; mode 1: two accumulated
         * micro-batches with the second backward armed, so every bucket's
         * allreduce starts inside backward (grads are then doubled). */
        for (int mode = 0; mode < 2; mode++) {
            sk_shim_zero_grad(p, 4);
            sk_scope *sc = sk_shim_scope_begin();
            for (int micro = 0; micro <= mode; micro++) {
                sk_tensor *loss = NULL;
                for (int i = 0; i < 4; i++) {
                    sk_tensor *t = sk_shim_sum(sk_shim_mul_scalar(p[i], (double)(rank + 1) * (i + 1)), NULL, 0, 0);
                    loss = loss ? sk_shim_add(loss, t) : t;
                }
                if (micro == mode && mode == 1) CHECK(sk_dist_ddp_arm(d) == 0);
                CHECK(sk_shim_backward(loss) == 0);
            }
            CHECK(sk_dist_ddp_allreduce_grads(d) == 0);
            sk_dist_ddp_stats st;
            sk_dist_ddp_stats_get(d, &st);
            CHECK(st.buckets == (s == 0 ? 4 : s == 1 ? 3 : 1));
            CHECK(st.launched_in_backward == (mode == 1 ? st.buckets : 0));
            double mean_rank = (world + 1) / 2.0 * (mode + 1);
            for (int i = 0; i < 4; i++) {
                sk_tensor *g = NULL;
                double lo, hi;
                sk_shim_grad(p[i], &g);
                sk_tensor *mx = sk_shim_sum(g, NULL, 0, 0);
                sk_tensor *mn = sk_shim_mean(g, NULL, 0, 0);
                CHECK(sk_shim_item(mn, &lo) == 0 && fabs(lo - mean_rank * (i + 1)) < 1e-5);
                CHECK(sk_shim_item(mx, &hi) == 0 && fabs(hi - mean_rank * (i + 1) * sk_shim_numel(p[i])) < 1e-2);
            }
            sk_shim_scope_end(sc);
        }
        sk_dist_ddp_free(d);
    }
    /* a parameter without a gradient is named */
    sk_shim_zero_grad(p, 4);
    sk_dist_ddp *d = NULL;
    sk_dist_ddp_create(&d, p, names, 4, 1 << 20);
    CHECK(sk_dist_ddp_allreduce_grads(d) == SK_EINVAL && strstr(sk_error_last(), "parameter d"));
    sk_dist_ddp_free(d);
    for (int i = 0; i < 4; i++) sk_tensor_free(p[i]);
    /* buffers: float32 and int64 with rank-dependent values -> rank 0's */
    sk_tensor *bf[2] = {sk_shim_full((int64_t[]){3, 2}, 2, 0.5 + rank, SK_F32, SK_CPU),
                        sk_shim_full((int64_t[]){1}, 1, 7.0 + rank, SK_I64, SK_CPU)};
    CHECK(sk_dist_ddp_broadcast_buffers(bf, 2) == 0);
    float fv[6];
    int64_t iv = 0;
    CHECK(sk_shim_to_host(bf[0], fv, sizeof fv) == 0 && fv[0] == 0.5f && fv[5] == 0.5f);
    CHECK(sk_shim_to_host(bf[1], &iv, sizeof iv) == 0 && iv == 7);
    for (int i = 0; i < 2; i++) sk_tensor_free(bf[i]);
    sk_mpi_finalize();
    if (fails_) return 1;
    if (rank == 0) printf("ok\n");
    return 0;
}
