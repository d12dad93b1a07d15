/* bench_shim.c - one training step of a small pre-LN transformer block
 * written in C over the shim, timed; plus the shim's per-op cost on tiny
 * tensors (dispatch + handle overhead). bench_shim_torch.py is the same
 * block in PyTorch eager; bench/run_bench_shim.sh runs both side by side.
 *
 * usage: bench_shim [threads] [steps]
 * prints: "c step_ms <median> op_us <median>" */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sk_shim.h"

enum { B = 8, N = 64, D = 128, H = 4, F = 512 };

static double now_(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_(double *v, int n)
{
    qsort(v, n, sizeof *v, cmp_);
    return v[n / 2];
}

#define CHECK(x)                                                  \
    do {                                                          \
        if (!(x)) {                                               \
            fprintf(stderr, "bench_shim: %s\n", sk_error_last()); \
            return 1;                                             \
        }                                                         \
    } while (0)

/* Parameters in the order of bench_shim_torch.py (same init: N(0, 0.02)). */
enum { P_LN1W, P_LN1B, P_QKV_W, P_QKV_B, P_PROJ_W, P_PROJ_B, P_LN2W, P_LN2B, P_FC1_W, P_FC1_B, P_FC2_W, P_FC2_B, NP };

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    int steps = argc > 2 ? atoi(argv[2]) : 30;
    sk_shim_set_num_threads(threads);
    if (!getenv("SK_BENCH_DEFAULT_MALLOC")) sk_shim_tune_host_allocator((size_t)32 << 20);
    sk_generator *g = NULL;
    CHECK(sk_generator_create(&g, 0, SK_CPU) == 0);
    const int64_t shapes[NP][2] = {{D, 0}, {D, 0}, {3 * D, D}, {3 * D, 0}, {D, D}, {D, 0},
                                   {D, 0}, {D, 0}, {F, D},     {F, 0},     {D, F}, {D, 0}};
    sk_tensor *p[NP];
    for (int i = 0; i < NP; i++) {
        int nd = shapes[i][1] ? 2 : 1;
        if (nd == 1 && (i == P_LN1W || i == P_LN2W))
            p[i] = sk_shim_ones(shapes[i], 1, SK_F32, SK_CPU);
        else if (nd == 1)
            p[i] = sk_shim_zeros(shapes[i], 1, SK_F32, SK_CPU);
        else
            p[i] = sk_shim_mul_scalar(sk_shim_randn(shapes[i], 2, SK_F32, SK_CPU, g), 0.02);
        CHECK(p[i]);
        sk_shim_set_requires_grad(p[i], 1);
    }
    sk_adamw *opt = NULL;
    sk_adamw_opts o = {1e-3, 0.9, 0.999, 1e-8, 0.01};
    CHECK(sk_adamw_create(&opt, p, NULL, NP, &o) == 0);
    const int64_t xs[3] = {B, N, D};
    sk_tensor *x = sk_shim_randn(xs, 3, SK_F32, SK_CPU, g);
    CHECK(x);

    double *t = calloc(steps, sizeof *t);
    for (int it = -3; it < steps; it++) {
        double t0 = now_();
        sk_scope *s = sk_shim_scope_begin();
        /* attention sub-block */
        sk_tensor *h = sk_shim_layer_norm(x, p[P_LN1W], p[P_LN1B], 1e-5);
        sk_tensor *qkv = sk_shim_linear(h, p[P_QKV_W], p[P_QKV_B]);
        const int64_t s5[5] = {B, N, 3, H, D / H}, perm[5] = {2, 0, 3, 1, 4}, s3[3] = {B, N, D};
        sk_tensor *qkv5 = sk_shim_permute(sk_shim_reshape(qkv, s5, 5), perm, 5);
        sk_tensor *q = sk_shim_squeeze(sk_shim_slice(qkv5, 0, 0, 1), 0);
        sk_tensor *k = sk_shim_squeeze(sk_shim_slice(qkv5, 0, 1, 2), 0);
        sk_tensor *v = sk_shim_squeeze(sk_shim_slice(qkv5, 0, 2, 3), 0);
        sk_tensor *a = sk_shim_sdpa(q, k, v, NULL, 0);
        a = sk_shim_reshape(sk_shim_transpose(a, 1, 2), s3, 3);
        sk_tensor *x1 = sk_shim_add(x, sk_shim_linear(a, p[P_PROJ_W], p[P_PROJ_B]));
        /* MLP sub-block */
        sk_tensor *h2 = sk_shim_layer_norm(x1, p[P_LN2W], p[P_LN2B], 1e-5);
        sk_tensor *m = sk_shim_linear(sk_shim_gelu(sk_shim_linear(h2, p[P_FC1_W], p[P_FC1_B])), p[P_FC2_W], p[P_FC2_B]);
        sk_tensor *y = sk_shim_add(x1, m);
        sk_tensor *loss = sk_shim_mean(sk_shim_mul(y, y), NULL, 0, 0);
        CHECK(loss);
        CHECK(sk_shim_backward(loss) == 0);
        CHECK(sk_shim_clip_grad_norm(p, NP, 1.0, NULL) == 0);
        CHECK(sk_adamw_step(opt, 1e-3) == 0);
        CHECK(sk_shim_zero_grad(p, NP) == 0);
        sk_shim_scope_end(s);
        if (it >= 0) t[it] = (now_() - t0) * 1e3;
    }
    double step_ms = median_(t, steps);

    /* per-op cost: add of two 1-element tensors inside a scope */
    const int64_t one[1] = {1};
    sk_tensor *u = sk_shim_ones(one, 1, SK_F32, SK_CPU);
    enum { OPS = 20000, ROUNDS = 7 };
    double r[ROUNDS];
    for (int k2 = 0; k2 < ROUNDS; k2++) {
        sk_scope *s = sk_shim_scope_begin();
        double t0 = now_();
        for (int i = 0; i < OPS; i++) sk_shim_add(u, u);
        r[k2] = (now_() - t0) / OPS * 1e6;
        sk_shim_scope_end(s);
    }
    printf("c step_ms %.3f op_us %.3f\n", step_ms, median_(r, ROUNDS));
    free(t);
    sk_tensor_free(u);
    sk_tensor_free(x);
    for (int i = 0; i < NP; i++) sk_tensor_free(p[i]);
    sk_adamw_free(opt);
    sk_generator_free(g);
    return 0;
}
