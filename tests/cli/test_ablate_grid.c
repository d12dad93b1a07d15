/* test_ablate_grid.c - the pure parts of `shrink ablate` in-process (so the
 * sanitizer build covers them): grid expansion (methods x keep x axes x
 * seeds, the baselines added, cell ids and effective configs, the epochs
 * budget with a condensed corpus's estimated rows), cell hashing (stable,
 * blind to run.out_dir, sensitive to every other key), the pre-flight
 * (sk_ablate_plan_check) on good and bad cells, and the report: results.csv
 * rows, table.md's mean ± sd over seeds and Δ against random at the same
 * budget, the records that do not count (missing, stale hash), and the
 * Pareto front of quality against training time in plots/front.dat. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_run_util.h"
#include "sk_ablate.h"
#include "sk_corpus.h"
#include "sk_data_config.h"
#include "sk_error.h"
#include "sk_run_config.h"
#include "sk_select_config.h"
#include "sk_train.h"

static char dir_[64];

static void writef_(const char *path, const char *fmt, ...)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    assert_int_equal(fclose(f), 0);
}

/* 100 8x8 uint8 images of 3 classes */
static int setup_(void **state)
{
    (void)state;
    snprintf(dir_, sizeof dir_, "/tmp/sk_ablate_grid_XXXXXX");
    assert_non_null(mkdtemp(dir_));
    uint8_t *px = malloc(100 * 64);
    int64_t lab[100];
    assert_non_null(px);
    for (int i = 0; i < 100; i++) {
        lab[i] = i % 3;
        for (int k = 0; k < 64; k++) px[i * 64 + k] = (uint8_t)((i * 37 + k * 11) % 256);
    }
    sk_corpus_data d = {0};
    d.kind = SK_CORPUS_SAMPLES;
    d.type = SK_ELEM_U8;
    d.ndim = 2;
    d.shape[0] = d.shape[1] = 8;
    d.samples = px;
    d.num_samples = 100;
    d.labels = lab;
    d.num_classes = 3;
    d.source = "test_ablate_grid";
    char path[128];
    snprintf(path, sizeof path, "%s/img.h5", dir_);
    int rc = sk_corpus_write(path, &d, NULL);
    free(px);
    assert_int_equal(rc, 0);
    return 0;
}

static int teardown_(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir_);
    return system(cmd) == 0 ? 0 : -1;
}

/* the grid file: a tiny ViT on img.h5 */
static const char *config_(void)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/a.yaml", dir_);
    writef_(path,
            "data: {train: %s/img.h5, batch_size: 10, eval_fraction: 0.2}\n"
            "model: {arch: vit, patch: 4, width: 16, depth: 2, heads: 2, mlp_ratio: 2}\n"
            "train: {steps: 4, warmup: 1}\n"
            "select: {layers: [1]}\n"
            "ablate: {methods: \"tome/merge, condense:random\", keep: [0.5, 0.25], condense_keep: [0.5],\n"
            "         grid: \"train.lr=1e-3|2e-3\", seeds: [1, 2], out_dir: %s/out}\n",
            dir_, dir_);
    return path;
}

static void *sec_(const sk_ablate_plan *p, const sk_ablate_cell *c, const char *name)
{
    int i = sk_ablate_sec(p, name);
    assert_true(i >= 0);
    return c->bases[i];
}

static const sk_ablate_cell *find_(const sk_ablate_plan *p, const char *id)
{
    for (int i = 0; i < p->ncells; i++)
        if (!strcmp(p->cells[i].id, id)) return &p->cells[i];
    fail_msg("no cell %s", id);
    return NULL;
}

static sk_ablate_plan *build_(const char *const *sets, int nsets)
{
    sk_ablate_plan *p = NULL;
    int rc = sk_ablate_plan_build(&p, config_(), sets, nsets, 1, 0);
    if (rc < 0) fail_msg("plan: %s", sk_error_last());
    return p;
}

static void test_expand(void **state)
{
    (void)state;
    sk_ablate_plan *p = build_(NULL, 0);
    /* listed, then the baselines: none, random/merge (condense:random is its own baseline) */
    assert_int_equal(p->nmethods, 4);
    assert_string_equal(p->methods[0].spec, "tome/merge");
    assert_string_equal(p->methods[1].spec, "condense:random");
    assert_string_equal(p->methods[2].spec, "none");
    assert_string_equal(p->methods[3].spec, "random/merge");
    assert_int_equal(p->methods[0].added, 0);
    assert_int_equal(p->methods[2].added, 1);
    assert_int_equal(p->methods[3].added, 1);
    assert_string_equal(p->methods[0].scorer, "tome");
    assert_string_equal(p->methods[0].strategy, "merge");
    assert_string_equal(p->methods[1].condense, "random");
    assert_int_equal(p->naxes, 1);
    assert_string_equal(p->axis_key[0], "train.lr");
    /* per seed: tome 2 keeps x 2 lr, condense 1 x 2, none 2, random 2 x 2 = 12; two seeds */
    assert_int_equal(p->ncells, 24);
    for (int i = 0; i < p->ncells; i++) assert_int_equal(p->cells[i].index, i);
    assert_string_equal(p->cells[0].id, "000-tome-merge-k0.5-1e-3-s1");
    assert_string_equal(p->cells[1].id, "001-tome-merge-k0.5-2e-3-s1");
    assert_string_equal(p->cells[2].id, "002-tome-merge-k0.25-1e-3-s1");
    assert_string_equal(p->cells[4].id, "004-condense-random-c0.5-1e-3-s1");
    assert_string_equal(p->cells[6].id, "006-none-1e-3-s1");
    assert_string_equal(p->cells[12].id, "012-tome-merge-k0.5-1e-3-s2");
    /* effective configs: the method's keys, the axis value, the seed */
    const sk_ablate_cell *c = find_(p, "003-tome-merge-k0.25-2e-3-s1");
    const sk_select_config *s = sec_(p, c, "select");
    assert_string_equal(s->scorer, "tome");
    assert_string_equal(s->strategy, "merge");
    assert_true(s->keep == 0.25);
    assert_true(((sk_train_config *)sec_(p, c, "train"))->lr == 2e-3);
    assert_int_equal(((sk_run_config *)sec_(p, c, "run"))->seed, 1);
    assert_true(c->keep == 0.25 && isnan(c->ckeep));
    assert_string_equal(c->axes, "train.lr=2e-3");
    assert_string_equal(c->corpus, "");
    c = find_(p, "018-none-1e-3-s2");
    assert_string_equal(((sk_select_config *)sec_(p, c, "select"))->scorer, "none");
    assert_int_equal(((sk_run_config *)sec_(p, c, "run"))->seed, 2);
    /* a condensed cell trains on its corpus under out_dir/corpora, one per condense config and seed */
    c = find_(p, "004-condense-random-c0.5-1e-3-s1");
    const sk_data_config *d = sec_(p, c, "data");
    assert_non_null(strstr(c->corpus, "/out/corpora/random-c0.5-s1-"));
    assert_string_equal(d->train, c->corpus);
    assert_string_equal(find_(p, "005-condense-random-c0.5-2e-3-s1")->corpus, c->corpus); /* lr: same corpus */
    assert_string_not_equal(find_(p, "016-condense-random-c0.5-1e-3-s2")->corpus, c->corpus);
    /* the steps budget: every cell the base's steps */
    for (int i = 0; i < p->ncells; i++) assert_int_equal(((sk_train_config *)sec_(p, &p->cells[i], "train"))->steps, 4);
    sk_ablate_plan_free(p);
}

static void test_epochs_budget(void **state)
{
    (void)state;
    const char *sets[] = {"ablate.budget=epochs", "ablate.epochs=2"};
    sk_ablate_plan *p = build_(sets, 2);
    /* 100 rows less the 20% held out = 80: ceil(2 x 80 / 10) = 16 steps; the condensed corpus is estimated at
     * ceil(80 x 0.5) = 40 rows until it exists: ceil(2 x 40 / 10) = 8 */
    assert_int_equal(((sk_train_config *)sec_(p, find_(p, "006-none-1e-3-s1"), "train"))->steps, 16);
    assert_int_equal(((sk_train_config *)sec_(p, find_(p, "000-tome-merge-k0.5-1e-3-s1"), "train"))->steps, 16);
    sk_ablate_cell *c = (sk_ablate_cell *)find_(p, "004-condense-random-c0.5-1e-3-s1");
    assert_int_equal(((sk_train_config *)sec_(p, c, "train"))->steps, 8);
    /* the real row count once condensed moves the budget and the hash */
    uint64_t h = c->hash;
    assert_int_equal(sk_ablate_cell_finish(p, c, 30), 0);
    assert_int_equal(((sk_train_config *)sec_(p, c, "train"))->steps, 6);
    assert_true(c->hash != h);
    assert_int_equal(sk_ablate_cell_finish(p, c, 40), 0);
    assert_true(c->hash == h);
    sk_ablate_plan_free(p);
}

static void test_hash(void **state)
{
    (void)state;
    sk_ablate_plan *a = build_(NULL, 0);
    const char *moved[] = {"run.out_dir=/elsewhere", "run.overwrite=true"};
    sk_ablate_plan *b = build_(moved, 2);
    const char *lr[] = {"train.warmup=2"};
    sk_ablate_plan *c = build_(lr, 1);
    assert_int_equal(a->ncells, b->ncells);
    assert_int_equal(a->ncells, c->ncells);
    /* where a cell runs is not what it is; every other key is */
    assert_true(a->base_hash == b->base_hash);
    assert_true(a->base_hash != c->base_hash);
    for (int i = 0; i < a->ncells; i++) {
        assert_true(a->cells[i].hash == b->cells[i].hash);
        assert_true(a->cells[i].hash != c->cells[i].hash);
        for (int j = 0; j < i; j++) assert_true(a->cells[i].hash != a->cells[j].hash); /* every cell distinct */
    }
    sk_ablate_plan_free(a);
    sk_ablate_plan_free(b);
    sk_ablate_plan_free(c);
}

static void expect_plan_error_(const char *set, const char *want)
{
    sk_ablate_plan *p = NULL;
    const char *sets[] = {set};
    if (sk_ablate_plan_build(&p, config_(), sets, 1, 1, 0) >= 0) fail_msg("'%s' was accepted", set);
    assert_null(p);
    if (!strstr(sk_error_last(), want)) fail_msg("'%s': got '%s', want '%s'", set, sk_error_last(), want);
}

static void test_plan_errors(void **state)
{
    (void)state;
    expect_plan_error_("ablate.methods=", "ablate.methods is empty");
    expect_plan_error_("ablate.methods=tome/merge, tome/merge", "'tome/merge' is listed twice");
    expect_plan_error_("ablate.methods=tomee/merge", "scorer: 'tomee' is not one of");
    expect_plan_error_("ablate.seeds=[]", "ablate.seeds is empty");
    expect_plan_error_("ablate.grid=train.lr=1e-3|20", "cell 001-tome-merge-k0.5-20-s1: --set train.lr=20");
    expect_plan_error_("ablate.grid=run.seed=1|2", "run.seed is ablate.seeds' axis");
    expect_plan_error_("ablate.grid=train.lr=", "axis train.lr has no values");
    expect_plan_error_("data.batch_size=0", "data.batch_size");
}

static void test_preflight(void **state)
{
    (void)state;
    int checked = 0;
    sk_ablate_plan *p = build_(NULL, 0);
    if (sk_ablate_plan_check(p, 0, p->ncells, 1, &checked) < 0) fail_msg("check: %s", sk_error_last());
    /* the second seed repeats the first's configs, but for its 2 condensed cells (a corpus per seed) */
    assert_int_equal(checked, 14);
    assert_int_equal(sk_ablate_plan_check(p, 2, 4, 1, &checked), 0);
    assert_int_equal(checked, 2);
    sk_ablate_plan_free(p);
    /* an eval split smaller than the batch: the loader refuses it, as it would at the cell's start */
    const char *small[] = {"data.eval_fraction=0.05"};
    p = build_(small, 1);
    assert_true(sk_ablate_plan_check(p, 0, p->ncells, 1, &checked) < 0);
    assert_non_null(strstr(sk_error_last(), "cell 000-tome-merge-k0.5-1e-3-s1: "));
    assert_non_null(strstr(sk_error_last(), "is larger than the 5 samples of the split"));
    sk_ablate_plan_free(p);
    /* a selector layer past the depth: the first cell with a selector */
    const char *deep[] = {"select.layers=[3]"};
    p = build_(deep, 1);
    assert_true(sk_ablate_plan_check(p, 0, p->ncells, 1, &checked) < 0);
    assert_non_null(strstr(sk_error_last(), "cell 000-tome-merge-k0.5-1e-3-s1: select.layers: layer 3"));
    sk_ablate_plan_free(p);
    /* a frozen scorer's missing checkpoint, in the slice being run only */
    char set[160];
    snprintf(set, sizeof set, "select.checkpoint=%s/none.safetensors", dir_);
    const char *frozen[] = {"ablate.methods=none, frozen/prune", "ablate.grid=", "ablate.keep=[0.5]", set};
    p = build_(frozen, 4);
    assert_string_equal(p->cells[1].id, "001-frozen-prune-k0.5-s1");
    assert_int_equal(sk_ablate_plan_check(p, 0, 1, 1, &checked), 0);
    assert_true(sk_ablate_plan_check(p, 0, p->ncells, 1, &checked) < 0);
    assert_non_null(strstr(sk_error_last(), "cell 001-frozen-prune-k0.5-s1: select.scorer 'frozen' at layer 1: "
                                            "select.checkpoint: "));
    assert_non_null(strstr(sk_error_last(), "none.safetensors: cannot open"));
    sk_ablate_plan_free(p);
}

/* ---- the report ------------------------------------------------------------------ */

typedef struct {
    const char *id, *method, *scorer, *strategy;
    double keep, acc, seconds;
    int seed;
} rec_;

static void record_(const char *out, const rec_ *r, const char *hash)
{
    char path[256];
    snprintf(path, sizeof path, "%s/cells/%s", out, r->id);
    assert_int_equal(mkdir(path, 0777), 0);
    snprintf(path, sizeof path, "%s/cells/%s/cell.json", out, r->id);
    char keep[32];
    if (isnan(r->keep))
        snprintf(keep, sizeof keep, "null");
    else
        snprintf(keep, sizeof keep, "%g", r->keep);
    writef_(path,
            "{\"id\": \"%s\", \"hash\": \"%s\", \"method\": \"%s\", \"scorer\": \"%s\", \"strategy\": \"%s\", "
            "\"condense\": \"\", \"keep\": %s, \"condense_keep\": null, \"axes\": \"\", \"seed\": %d, "
            "\"budget\": \"steps\", \"ranks\": 1, \"steps\": 10, \"eval_acc\": %g, \"eval_loss\": 1.0, "
            "\"eval_bpb\": null, \"loss\": 1.0, \"tokens\": 1000, \"tokens_kept\": %g, \"samples\": 100, "
            "\"train_seconds\": %g, \"flop_ratio\": %g}\n",
            r->id, hash, r->method, r->scorer, r->strategy, keep, r->seed, r->acc,
            1000 * (isnan(r->keep) ? 1.0 : r->keep), r->seconds, isnan(r->keep) ? 1.0 : 1.0 / r->keep);
}

static void test_report(void **state)
{
    (void)state;
    char out[128], path[256];
    snprintf(out, sizeof out, "%s/rep", dir_);
    snprintf(path, sizeof path, "%s/cells", out);
    assert_int_equal(mkdir(out, 0777), 0);
    assert_int_equal(mkdir(path, 0777), 0);
    /* none, random/prune and norm/prune at keep 0.5, two seeds; norm is 0.02 above random in mean */
    static const rec_ recs[] = {
        {"000-none-s1", "none", "", "", NAN, 0.80, 10.0, 1},
        {"001-random-prune-k0.5-s1", "random/prune", "random", "prune", 0.5, 0.70, 6.0, 1},
        {"002-norm-prune-k0.5-s1", "norm/prune", "norm", "prune", 0.5, 0.74, 7.0, 1},
        {"003-none-s2", "none", "", "", NAN, 0.82, 10.0, 2},
        {"004-random-prune-k0.5-s2", "random/prune", "random", "prune", 0.5, 0.72, 6.0, 2},
        {"005-norm-prune-k0.5-s2", "norm/prune", "norm", "prune", 0.5, 0.72, 7.0, 2},
    };
    const int n = (int)(sizeof recs / sizeof *recs);
    /* the plan: these six, one cell never run, one whose record is of another config */
    snprintf(path, sizeof path, "%s/plan.json", out);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"base_hash\": \"00000000000000aa\", \"budget\": \"steps\", \"cells\": [");
    for (int i = 0; i < n; i++)
        fprintf(f, "{\"id\": \"%s\", \"method\": \"%s\", \"hash\": \"%016x\"}, ", recs[i].id, recs[i].method, i + 1);
    fprintf(f, "{\"id\": \"006-never-s1\", \"method\": \"none\", \"hash\": \"0000000000000007\"}, "
               "{\"id\": \"007-stale-s1\", \"method\": \"none\", \"hash\": \"0000000000000008\"}]}\n");
    assert_int_equal(fclose(f), 0);
    for (int i = 0; i < n; i++) {
        char h[17];
        snprintf(h, sizeof h, "%016x", i + 1);
        record_(out, &recs[i], h);
    }
    rec_ stale = {"007-stale-s1", "none", "", "", NAN, 0.10, 1.0, 1};
    record_(out, &stale, "00000000000000ff");
    int missing = -1;
    int rc = sk_ablate_report(out, 1, &missing);
    if (rc < 0) fail_msg("report: %s", sk_error_last());
    assert_int_equal(missing, 2);

    snprintf(path, sizeof path, "%s/results.csv", out);
    char *csv = slurp_(path);
    assert_non_null(csv);
    int lines = 0;
    for (char *s = csv; *s; s++) lines += *s == '\n';
    assert_int_equal(lines, 1 + n); /* header and the six records; the stale one left out */
    assert_null(strstr(csv, "007-stale"));
    assert_non_null(strstr(csv, "\n002-norm-prune-k0.5-s1,norm/prune,norm,prune,,0.5,-,\"\",1,steps,1,10,0.74,"));
    free(csv);

    snprintf(path, sizeof path, "%s/table.md", out);
    char *md = slurp_(path);
    assert_non_null(md);
    assert_non_null(strstr(md, "6 of 8 cells recorded"));
    /* mean ± sample sd over the two seeds: none 0.81 ± 0.0141, random 0.71 ± 0.0141, norm 0.73 ± 0.0141;
     * Δ vs random at the same keep: norm +0.02; random is the baseline itself; none has none */
    assert_non_null(strstr(md, "| none | - | - | - | 2 | 0.8100 ± 0.0141 | - | 10 | 100 | 1.000 | 1.000 |"));
    assert_non_null(strstr(md, "| random/prune | - | 0.5 | - | 2 | 0.7100 ± 0.0141 | (random) |"));
    assert_non_null(strstr(md, "| norm/prune | - | 0.5 | - | 2 | 0.7300 ± 0.0141 | +0.0200 | 10 | 100 | 0.500 | "
                               "2.000 |"));
    free(md);

    /* quality against time: none (10 s, 0.81), random (6 s, 0.71), norm (7 s, 0.73) are all on the front:
     * each is faster or better than every other */
    snprintf(path, sizeof path, "%s/plots/front.dat", out);
    char *front = slurp_(path);
    assert_non_null(front);
    assert_string_equal(front, "6 0.71\n7 0.73\n10 0.81\n");
    free(front);
    snprintf(path, sizeof path, "%s/plots/quality_vs_time.png", out);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 0);
    /* the keep plots run past both ends of the data (keep 0.5 and the uncompressed 1), so the none point is
     * inside the frame, and none's quality is drawn across as a dashed reference line */
    snprintf(path, sizeof path, "%s/plots/plots.gp", out);
    char *gp = slurp_(path);
    assert_non_null(gp);
    assert_non_null(strstr(gp, "set xrange [0.333333:1.5]\nplot 'random.dat'"));
    assert_non_null(strstr(gp, "0.81 with lines dashtype 2"));
    assert_non_null(strstr(gp, "set autoscale x\n")); /* not carried into the time plot */
    free(gp);

    /* a dominated point leaves the front: norm at seed 2 worse makes norm (7 s, 0.70) slower and worse
     * than random (6 s, 0.71) */
    static const rec_ worse = {"005-norm-prune-k0.5-s2", "norm/prune", "norm", "prune", 0.5, 0.66, 7.0, 2};
    char h[17];
    snprintf(h, sizeof h, "%016x", 6);
    snprintf(path, sizeof path, "%s/cells/%s/cell.json", out, worse.id);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof path, "%s/cells/%s", out, worse.id);
    assert_int_equal(rmdir(path), 0);
    record_(out, &worse, h);
    assert_int_equal(sk_ablate_report(out, 1, &missing), 0);
    snprintf(path, sizeof path, "%s/plots/front.dat", out);
    front = slurp_(path);
    assert_string_equal(front, "6 0.71\n10 0.81\n");
    free(front);
    snprintf(path, sizeof path, "%s/table.md", out);
    md = slurp_(path);
    assert_non_null(strstr(md, "| norm/prune | - | 0.5 | - | 2 | 0.7000 ± 0.0566 | -0.0100 |"));
    free(md);
}

static void test_report_errors(void **state)
{
    (void)state;
    int missing = 0;
    char out[128];
    snprintf(out, sizeof out, "%s/nowhere", dir_);
    assert_true(sk_ablate_report(out, 0, &missing) < 0);
    assert_non_null(strstr(sk_error_last(), "plan.json"));
    snprintf(out, sizeof out, "%s/badplan", dir_);
    assert_int_equal(mkdir(out, 0777), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/plan.json", out);
    writef_(path, "{\"cells\": 3}\n");
    assert_true(sk_ablate_report(out, 0, &missing) < 0);
    assert_non_null(strstr(sk_error_last(), "no cells array"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expand),        cmocka_unit_test(test_epochs_budget), cmocka_unit_test(test_hash),
        cmocka_unit_test(test_plan_errors),   cmocka_unit_test(test_preflight),     cmocka_unit_test(test_report),
        cmocka_unit_test(test_report_errors),
    };
    return cmocka_run_group_tests(tests, setup_, teardown_);
}
