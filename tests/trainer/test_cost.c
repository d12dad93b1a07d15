/* test_cost.c - sk_cost (trainer/sk_cost.h): the rounds engine on two
 * steps of known relative length, then sk_cost_measure on a ViT over the
 * synthetic image corpus: a random selector at keep 0.25 is measured
 * faster than the full model (median speedup > 1: a real timing, so a
 * broken selector or measurement fails it) and its FLOP ratio equals the
 * closed form of sk_select_flops; keep 1.0 against the full model is a
 * speedup within [0.8, 1.25]; bad input names the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sk_cost.h"
#include "sk_data_config.h"
#include "sk_run_config.h"
#include "sk_select_config.h"
#include "sk_synth_source.h"
#include "sk_time.h"

/* Side 1 busy-waits half as long as side 0. */
static int busy_step_(void *ctx, int side, double *seconds)
{
    const double want = *(const double *)ctx * (side ? 0.5 : 1.0);
    double t0 = sk_now();
    volatile double x = 0;
    while (sk_now() - t0 < want) x += 1;
    *seconds = sk_now() - t0;
    return 0;
}

static void test_rounds_known_ratio(void **st)
{
    (void)st;
    double step = 0.002;
    sk_cost_opts co;
    sk_cost_opts_default(&co);
    co.max_seconds = 5;
    co.memory = 1;
    sk_cost_result r;
    memset(&r, 0, sizeof r);
    assert_int_equal(sk_cost_rounds(busy_step_, &step, &co, &r), 0);
    assert_true(r.rounds >= co.min_rounds && r.rounds <= co.max_rounds);
    assert_true(r.speedup_q1 <= r.speedup_median && r.speedup_median <= r.speedup_q3);
    assert_true(r.speedup_median > 1.6 && r.speedup_median < 2.4);
    assert_true(r.ms_full > 1.9 && r.ms_compressed > 0.9);
    /* Linux: the peak RSS of a step is at least what was resident before it */
    assert_true(r.rss_base > 0 && r.rss_full >= r.rss_base && r.rss_compressed >= r.rss_base);
    /* bad options name the numbers */
    co.min_rounds = 2;
    assert_int_equal(sk_cost_rounds(busy_step_, &step, &co, &r), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "min_rounds"));
}

/* The host peak follows an allocation inside the stretch, and a reset
 * forgets it. */
static void test_host_peak_resets(void **st)
{
    (void)st;
    int64_t base, peak;
    const size_t big = (size_t)64 << 20;
    assert_int_equal(sk_cost_host_peak_begin(&base), 0);
    char *p = malloc(big);
    assert_non_null(p);
    memset(p, 1, big);
    assert_int_equal(sk_cost_host_peak_end(&peak), 0);
    free(p);
    assert_true(peak - base >= (int64_t)(big * 9 / 10));
    assert_int_equal(sk_cost_host_peak_begin(&base), 0);
    assert_int_equal(sk_cost_host_peak_end(&peak), 0);
    assert_true(peak - base < (int64_t)(big / 2));
}

typedef struct {
    sk_model_config mc;
    sk_train_config tc;
    sk_data_config dc;
    sk_select_config sc;
    sk_run_config run;
    sk_train_opts o;
} cfg_;

static void cfg_init_(cfg_ *c, double keep)
{
    const sk_cfg_section *const sec[5] = {&sk_data_section, &sk_model_section, &sk_train_section, &sk_run_section,
                                          &sk_select_section};
    void *const base[5] = {&c->dc, &c->mc, &c->tc, &c->run, &c->sc};
    /* 16x16 images in 2x2 patches: 64 patches + the class token */
    const char *sets[] = {"model.arch=vit",   "model.width=64",    "model.depth=4",        "model.heads=4",
                          "model.patch=2",    "model.mlp_ratio=2", "data.batch_size=32",   "data.eval_fraction=0.2",
                          "train.steps=10",   "train.warmup=1",    "select.scorer=random", "select.strategy=prune",
                          "select.layers=[1]"};
    char kb[64];
    snprintf(kb, sizeof kb, "select.keep=%g", keep);
    assert_int_equal(sk_cfg_defaults(sec, 5, base), 0);
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
        assert_int_equal(sk_cfg_apply_set(sets[i], sec, 5, base), 0);
    assert_int_equal(sk_cfg_apply_set(kb, sec, 5, base), 0);
    memset(&c->o, 0, sizeof c->o);
    c->o.model = &c->mc;
    c->o.train = &c->tc;
    c->o.data = &c->dc;
    c->o.select = &c->sc;
    c->o.data_path = "synth:images";
    c->o.source = &sk_synth_source;
    c->o.seed = 5;
    c->o.threads = 1;
}

/* sk_select_flops per block: 8 N D^2 + 4 N^2 D + 4 r N D^2. */
static double block_(double n, double d, double r) { return 8 * n * d * d + 4 * n * n * d + 4 * r * n * d * d; }

/* sk_cost_measure of the ViT at keep, stopping after max_seconds. */
static void measure_(double keep, double max_seconds, sk_cost_result *r)
{
    cfg_ c;
    cfg_init_(&c, keep);
    sk_cost_opts co;
    sk_cost_opts_default(&co);
    co.max_seconds = max_seconds;
    int rc = sk_cost_measure(&c.o, &co, r);
    if (rc) print_message("sk_cost_measure: %s\n", sk_error_last());
    assert_int_equal(rc, 0);
    print_message("keep %g: speedup %.3f [%.3f, %.3f] over %d rounds, %.2f ms vs %.2f ms, FLOP ratio %.3f, "
                  "rss base %lld full %lld compressed %lld\n",
                  keep, r->speedup_median, r->speedup_q1, r->speedup_q3, r->rounds, r->ms_full, r->ms_compressed,
                  r->flop_ratio, (long long)r->rss_base, (long long)r->rss_full, (long long)r->rss_compressed);
}

static void test_measure_vit_keep_quarter(void **st)
{
    (void)st;
    sk_cost_result r;
    measure_(0.25, 20, &r);
    /* 65 tokens into block 0; 1 + ceil(0.25 * 64) = 17 into blocks 1..3 */
    double want = 4 * block_(65, 64, 2) / (block_(65, 64, 2) + 3 * block_(17, 64, 2));
    assert_true(fabs(r.flop_ratio - want) < 1e-9 * want);
    assert_true(r.speedup_median > 1.0);
    assert_true(r.speedup_q1 <= r.speedup_median && r.speedup_median <= r.speedup_q3);
    assert_true(r.ms_compressed < r.ms_full);
    assert_true(r.rss_full >= r.rss_base && r.rss_compressed >= r.rss_base && r.rss_base > 0);
    assert_true(r.dev_full == -1 && r.dev_compressed == -1); /* CPU */
}

static void test_measure_keep_one_is_even(void **st)
{
    (void)st;
    sk_cost_result r;
    measure_(1.0, 8, &r);
    assert_true(fabs(r.flop_ratio - 1.0) < 1e-9);
    assert_true(r.speedup_median >= 0.8 && r.speedup_median <= 1.25);
}

static void test_measure_bad_input(void **st)
{
    (void)st;
    cfg_ c;
    cfg_init_(&c, 0.5);
    sk_cost_result r;
    c.o.select = NULL;
    assert_int_equal(sk_cost_measure(&c.o, NULL, &r), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "select.scorer"));
    cfg_init_(&c, 0.5);
    snprintf(c.sc.scorer, sizeof c.sc.scorer, "none");
    assert_int_equal(sk_cost_measure(&c.o, NULL, &r), SK_EINVAL);
    cfg_init_(&c, 0.5);
    c.dc.batch_size = 0;
    assert_true(sk_cost_measure(&c.o, NULL, &r) < 0);
    assert_non_null(strstr(sk_error_last(), "data.batch_size"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounds_known_ratio),       cmocka_unit_test(test_host_peak_resets),
        cmocka_unit_test(test_measure_bad_input),        cmocka_unit_test(test_measure_vit_keep_quarter),
        cmocka_unit_test(test_measure_keep_one_is_even),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
