/* test_shim_gpu.c - the shim on CUDA agrees with the CPU path. Exits 77
 * (ctest SKIP_RETURN_CODE) when no CUDA device is usable, as in CI. */
#include <math.h>
#include <stdio.h>

#include "sk_shim.h"

static int fail_(const char *what)
{
    fprintf(stderr, "test_shim_gpu: %s: %s\n", what, sk_error_last());
    return 1;
}

int main(void)
{
    printf("shim built against libtorch %s (fused sdpa: %s)\n", sk_shim_torch_version(),
           sk_shim_has_fused_sdpa() ? "yes" : "no");
    if (!sk_shim_cuda_available()) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    sk_scope *s = sk_shim_scope_begin();
    sk_generator *g = NULL;
    if (sk_generator_create(&g, 11, SK_CPU)) return fail_("generator");
    const int64_t shape[4] = {2, 4, 33, 16};
    sk_tensor *q = sk_shim_randn(shape, 4, SK_F32, SK_CPU, g);
    sk_tensor *k = sk_shim_randn(shape, 4, SK_F32, SK_CPU, g);
    sk_tensor *v = sk_shim_randn(shape, 4, SK_F32, SK_CPU, g);
    int rc = 0;
    for (int causal = 0; causal < 2 && !rc; causal++) {
        sk_tensor *cpu = sk_shim_sdpa(q, k, v, NULL, causal);
        sk_tensor *gpu = sk_shim_sdpa(sk_shim_to(q, SK_CUDA, SK_F32), sk_shim_to(k, SK_CUDA, SK_F32),
                                      sk_shim_to(v, SK_CUDA, SK_F32), NULL, causal);
        sk_tensor *d = sk_shim_sum(sk_shim_abs(sk_shim_sub(sk_shim_to(gpu, SK_CPU, SK_F32), cpu)), NULL, 0, 0);
        double diff = 0;
        if (!d || sk_shim_item(d, &diff)) return fail_("sdpa");
        if (!(diff / sk_shim_numel(cpu) < 1e-4)) {
            fprintf(stderr, "test_shim_gpu: sdpa causal=%d differs from CPU by %g per element\n", causal, diff);
            rc = 1;
        }
    }
    /* bf16 matmul on device runs and stays close to f32 */
    sk_tensor *a = sk_shim_to(q, SK_CUDA, SK_BF16);
    sk_tensor *m = sk_shim_matmul(a, sk_shim_transpose(a, -1, -2));
    if (!m || sk_shim_dtype(m) != SK_BF16 || sk_shim_device(m) != SK_CUDA) return fail_("bf16 matmul");
    if (sk_shim_synchronize(SK_CUDA)) return fail_("synchronize");
    sk_generator_free(g);
    sk_shim_scope_end(s);
    printf("%s\n", rc ? "FAILED" : "ok");
    return rc;
}
