/* test_ckpt.c - checkpoint state.json through jansson: a save/load round
 * trip of every field (the RNG state as hex, the run config as a nested
 * object), and malformed or incomplete files refused with the file and
 * key named; model buffers saved beside the parameters and restored,
 * without optimizer moments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sk_ckpt.h"
#include "sk_weights.h"

typedef struct {
    char root[256], dir[320], state[400];
    sk_params p;
    sk_adamw *opt;
    sk_ckpt_state st;
} fix_;

static int setup_(void **state)
{
    fix_ *f = calloc(1, sizeof *f);
    int64_t shape[2] = {2, 3};
    float w[6] = {1, 2, 3, 4, 5, 6};
    snprintf(f->root, sizeof f->root, "/tmp/sk_test_ckpt_%ld", (long)getpid());
    snprintf(f->dir, sizeof f->dir, "%s/step-00000007", f->root);
    snprintf(f->state, sizeof f->state, "%s/state.json", f->dir);
    sk_params_init(&f->p);
    assert_int_equal(sk_params_add(&f->p, "w", sk_shim_from_host(w, shape, 2, SK_F32, SK_CPU), 1), 0);
    sk_adamw_opts o = {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
    assert_int_equal(sk_adamw_create(&f->opt, f->p.t, f->p.decay, f->p.n, &o), 0);
    f->st = (sk_ckpt_state){.step = 7,
                            .world = 2,
                            .seed = 9007199254740991ull,
                            .loader_epoch = 1,
                            .loader_step = 3,
                            .tokens = 12345.5,
                            .tokens_kept = 1e20,
                            .rng_len = 5000};
    for (size_t i = 0; i < f->st.rng_len; i++) f->st.rng[i] = (unsigned char)(i * 37 + 11);
    snprintf(f->st.config, sizeof f->st.config,
             "{\"model\": {\"arch\": \"vit\", \"width\": 32}, \"train\": {\"lr\": 0.003, \"note\": \"a \\\"q\\\"\"}}");
    assert_int_equal(sk_ckpt_save(f->root, &f->p, NULL, &(sk_ckpt_optim){.adamw = f->opt}, &f->st, 0), 0);
    *state = f;
    return 0;
}

static int teardown_(void **state)
{
    fix_ *f = *state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->root);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", f->root);
    sk_adamw_free(f->opt);
    sk_params_free(&f->p);
    free(f);
    return 0;
}

static void test_roundtrip(void **state)
{
    fix_ *f = *state;
    sk_ckpt_state got;
    assert_int_equal(sk_ckpt_load(f->dir, &f->p, NULL, &(sk_ckpt_optim){.adamw = f->opt}, &got), 0);
    assert_int_equal(got.step, 7);
    assert_int_equal(got.world, 2);
    assert_true(got.seed == 9007199254740991ull);
    assert_int_equal(got.loader_epoch, 1);
    assert_int_equal(got.loader_step, 3);
    assert_true(got.tokens == 12345.5 && got.tokens_kept == 1e20);
    assert_int_equal(got.rng_len, 5000);
    assert_memory_equal(got.rng, f->st.rng, 5000);
    assert_string_equal(got.config,
                        "{\"model\":{\"arch\":\"vit\",\"width\":32},\"train\":{\"lr\":0.0030000000000000001,\"note\":"
                        "\"a \\\"q\\\"\"}}");
    /* config is a nested object in the file, not a string */
    char line[256];
    FILE *in = fopen(f->state, "r");
    int nested = 0;
    while (fgets(line, sizeof line, in)) nested |= !strcmp(line, "  \"config\": {\n");
    fclose(in);
    assert_true(nested);
}

/* Replace state.json with text: loading must fail naming the file and want. */
static void bad_(fix_ *f, const char *text, int code, const char *want)
{
    FILE *out = fopen(f->state, "w");
    fputs(text, out);
    fclose(out);
    sk_ckpt_state got;
    assert_int_equal(sk_ckpt_load(f->dir, &f->p, NULL, &(sk_ckpt_optim){.adamw = f->opt}, &got), code);
    const char *msg = sk_error_last();
    if (!strstr(msg, f->state) || !strstr(msg, want)) fail_msg("'%s' lacks the file or '%s'", msg, want);
}

#define GOOD_ "\"step\": 7, \"world\": 1, \"seed\": 0, \"loader_epoch\": 0, \"loader_step\": 0, \"tokens\": 1, "

static void test_malformed(void **state)
{
    fix_ *f = *state;
    bad_(f, "{\"step\": 7, ", SK_ECORRUPT, "not a JSON object");
    bad_(f, "[1, 2]", SK_ECORRUPT, "not a JSON object");
    bad_(f, "{" GOOD_ "\"tokens_kept\": 1, \"rng\": \"00\", \"config\": {}} trailing", SK_ECORRUPT, "line 1");
    bad_(f, "{" GOOD_ "\"tokens_kept\": 1, \"rng\": \"0g\", \"config\": {}}", SK_ECORRUPT, "\"rng\"");
    bad_(f, "{" GOOD_ "\"tokens_kept\": 1, \"rng\": \"abc\", \"config\": {}}", SK_ECORRUPT, "\"rng\"");
    bad_(f, "{" GOOD_ "\"tokens_kept\": 1, \"rng\": \"00\", \"config\": \"{}\"}", SK_ECORRUPT, "\"config\"");
    bad_(f, "{" GOOD_ "\"tokens_kept\": \"1\", \"rng\": \"00\", \"config\": {}}", SK_ECORRUPT, "\"tokens_kept\"");
    bad_(f, "{\"step\": 7.5, \"world\": 1}", SK_ECORRUPT, "\"step\"");
    bad_(f, "{\"step\": 7, \"world\": 0}", SK_ECORRUPT, "\"world\"");
    /* numbers no counter can hold, an unterminated string (issue 16's fuzzing) */
    bad_(f, "{\"step\": 1e30, \"world\": 1}", SK_ECORRUPT, "\"step\"");
    bad_(f, "{\"step\": 18446744073709551616, \"world\": 1}", SK_ECORRUPT, "not a JSON object");
    bad_(f, "{\"step\": 7, \"world\": 2147483648}", SK_ECORRUPT, "\"world\"");
    bad_(f, "{\"step\": 7, \"world\": 1, \"seed\": 0, \"loader_epoch\": -1}", SK_ECORRUPT, "\"loader_epoch\"");
    bad_(f, "{" GOOD_ "\"tokens_kept\": 1, \"rng\": \"00", SK_ECORRUPT, "not a JSON object");
}

static void test_incomplete(void **state)
{
    fix_ *f = *state;
    bad_(f, "{" GOOD_ "\"rng\": \"00\", \"config\": {}}", SK_ECORRUPT, "\"tokens_kept\"");
    bad_(f, "{" GOOD_ "\"tokens_kept\": 1, \"config\": {}}", SK_ECORRUPT, "\"rng\"");
    bad_(f, "{" GOOD_ "\"tokens_kept\": 1, \"rng\": \"00\"}", SK_ECORRUPT, "\"config\"");
    bad_(f, "{\"world\": 1}", SK_ECORRUPT, "\"step\"");
    unlink(f->state);
    sk_ckpt_state got;
    assert_int_equal(sk_ckpt_load(f->dir, &f->p, NULL, &(sk_ckpt_optim){.adamw = f->opt}, &got), SK_EIO);
    assert_non_null(strstr(sk_error_last(), f->state));
}

/* A buffer list rides along in model.safetensors (not in the moments);
 * one the file lacks is refused naming it. */
static void test_buffers(void **state)
{
    fix_ *f = *state;
    const float mean[3] = {0.5f, -1.0f, 2.0f};
    float got[3] = {0};
    char dir[400], path[500];
    sk_params b, b2;
    sk_params_init(&b);
    sk_params_init(&b2);
    sk_tensor *m0 = sk_shim_from_host(mean, (int64_t[]){3}, 1, SK_F32, SK_CPU);
    assert_int_equal(sk_params_add(&b, "bn.running_mean", m0, 0), 0);
    assert_int_equal(sk_params_add(&b2, "bn.running_mean", sk_params_const((int64_t[]){3}, 1, 0.0), 0), 0);
    f->st.step = 8;
    assert_int_equal(sk_ckpt_save(f->root, &f->p, &b, &(sk_ckpt_optim){.adamw = f->opt}, &f->st, 0), 0);
    snprintf(dir, sizeof dir, "%s/step-00000008", f->root);
    sk_ckpt_state st;
    assert_int_equal(sk_ckpt_load(dir, &f->p, &b2, &(sk_ckpt_optim){.adamw = f->opt}, &st), 0);
    assert_int_equal(sk_shim_to_host(b2.t[0], got, sizeof got), 0);
    assert_memory_equal(got, mean, sizeof got);
    /* the optimizer state covers parameters only */
    snprintf(path, sizeof path, "%s/optim.safetensors", dir);
    const char *nm = "bn.running_mean.exp_avg";
    assert_int_equal(sk_weights_read(path, &nm, b2.t, 1), SK_ENOTFOUND);
    /* the 7-step checkpoint has no buffers: refused, naming the buffer */
    assert_int_equal(sk_ckpt_load(f->dir, &f->p, &b2, &(sk_ckpt_optim){.adamw = f->opt}, &st), SK_ENOTFOUND);
    assert_non_null(strstr(sk_error_last(), "bn.running_mean"));
    sk_params_free(&b);
    sk_params_free(&b2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup_, teardown_),
        cmocka_unit_test_setup_teardown(test_malformed, setup_, teardown_),
        cmocka_unit_test_setup_teardown(test_incomplete, setup_, teardown_),
        cmocka_unit_test_setup_teardown(test_buffers, setup_, teardown_),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
