/* test_select.c - selectors: every registered scorer x strategy against a
 * naive per-sample reference (kept count, order, class token, merge weights
 * and sizes, drop-and-restore, determinism), learned-scorer gradients, the
 * schedule and FLOPs model, and rejection of bad configs. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sk_select.h"
#include "sk_select_config.h"
#include "sk_select_registry.h"

enum { B = 3, P = 1, M = 16, N = P + M, D = 8, H = 2, DH = 4, DEPTH = 4 };
#define SEED 1234u
/* the scorer network "frozen" loads, written by main() from a learned scorer */
static char ckpt_[256]; /* under $TMPDIR (or /tmp), per process; removed at the end */

static void defaults_(sk_select_config *c)
{
    const sk_cfg_section *secs[1] = {&sk_select_section};
    void *bases[1] = {c};
    assert_int_equal(sk_cfg_defaults(secs, 1, bases), 0);
}

/* Defaults with one scorer x strategy at keep, applied before block `layer`. */
static void config_(sk_select_config *c, const char *scorer, const char *strategy, double keep, int layer)
{
    defaults_(c);
    snprintf(c->scorer, sizeof c->scorer, "%s", scorer);
    snprintf(c->strategy, sizeof c->strategy, "%s", strategy);
    c->keep = keep;
    c->layers.n = 1;
    c->layers.v[0] = layer;
}

static sk_select_model model_(void)
{
    sk_select_model m = {0};
    m.depth = DEPTH;
    m.width = D;
    m.heads = H;
    m.tokens = N;
    m.n_protected = P;
    m.grid_h = 4;
    m.grid_w = 4;
    return m;
}

/* Random inputs: x, pos, attn (softmax rows), keys. */
typedef struct {
    sk_tensor *x, *pos, *attn, *keys;
} inputs;

static inputs inputs_(uint64_t seed)
{
    sk_generator *g = NULL;
    assert_int_equal(sk_generator_create(&g, seed, SK_CPU), 0);
    inputs in;
    in.x = sk_shim_randn((int64_t[]){B, N, D}, 3, SK_F32, SK_CPU, g);
    in.pos = sk_shim_contiguous(sk_shim_expand(sk_shim_unsqueeze(sk_shim_arange(N, SK_CPU), 0), (int64_t[]){B, N}, 2));
    in.attn = sk_shim_softmax(sk_shim_randn((int64_t[]){B, H, N, N}, 4, SK_F32, SK_CPU, g), -1);
    in.keys = sk_shim_randn((int64_t[]){B, H, N, DH}, 4, SK_F32, SK_CPU, g);
    sk_generator_free(g);
    assert_non_null(in.x);
    assert_non_null(in.pos);
    assert_non_null(in.attn);
    assert_non_null(in.keys);
    return in;
}

static sk_seq seq_(const inputs *in)
{
    sk_seq s = {0};
    s.x = in->x;
    s.pos = in->pos;
    s.attn = in->attn;
    s.keys = in->keys;
    s.n_protected = P;
    s.training = 1;
    return s;
}

static void host_f32_(const sk_tensor *t, float *buf, size_t n)
{
    sk_tensor *c = sk_shim_contiguous(sk_shim_to(t, SK_CPU, SK_F32));
    assert_non_null(c);
    assert_int_equal(sk_shim_numel(c), (int64_t)n);
    assert_int_equal(sk_shim_to_host(c, buf, n * sizeof *buf), 0);
}

static void host_i64_(const sk_tensor *t, int64_t *buf, size_t n)
{
    sk_tensor *c = sk_shim_contiguous(sk_shim_to(t, SK_CPU, SK_I64));
    assert_non_null(c);
    assert_int_equal(sk_shim_numel(c), (int64_t)n);
    assert_int_equal(sk_shim_to_host(c, buf, n * sizeof *buf), 0);
}

/* The scores the selector's scorer sees: parameters drawn from the seed,
 * scores from the generator re-seeded for the first forward at step 0,
 * layer 1 (sk_select_apply_seed). */
static void ref_scores_(const sk_scorer_vtable *v, const sk_select_config *c, const sk_select_model *m,
                        const inputs *in, int64_t k, float *s)
{
    sk_generator *g = NULL;
    void *st = NULL;
    assert_int_equal(sk_generator_create(&g, SEED + (uint64_t)c->seed_offset, SK_CPU), 0);
    sk_scorer_init init = {m, c, 1, g};
    if (v->create) assert_int_equal(v->create(&st, &init), 0);
    sk_seq q = seq_(in);
    sk_generator *ga = NULL;
    assert_int_equal(sk_generator_create(&ga, sk_select_apply_seed(SEED + (uint64_t)c->seed_offset, 0, 0, 1), SK_CPU),
                     0);
    sk_score_args a = {k, 0, ga};
    sk_tensor *t = NULL;
    assert_int_equal(v->score(st, &q, &a, &t), 0);
    sk_generator_free(ga);
    host_f32_(t, s, B * M);
    if (v->destroy) v->destroy(st);
    sk_generator_free(g);
}

/* Naive reference: the k best scores of row b, as ascending indices. */
static void ref_topk_(const float *s, int64_t k, int64_t *out)
{
    int used[M] = {0};
    for (int64_t j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < M; i++)
            if (!used[i] && (best < 0 || s[i] > s[best])) best = i;
        used[best] = 1;
    }
    int64_t n = 0;
    for (int i = 0; i < M; i++)
        if (used[i]) out[n++] = i;
}

/* Naive reference of the causal keep rule (sk_select_causal_keep): left
 * to right, t is kept when the rest must all be kept, dropped when k are
 * kept, else kept when (the earlier scores strictly higher) + 1/2 is below
 * (k - kept) (t + 1) / (m - t). Returns the count kept. */
static int64_t ref_causal_keep_(const float *s, int64_t m, int64_t k, int64_t *out)
{
    int64_t kept = 0;
    for (int64_t t = 0; t < m; t++) {
        int64_t need = k - kept, left = m - t, above = 0;
        for (int64_t j = 0; j < t; j++) above += s[j] > s[t];
        if (need > 0 && (need >= left || (2 * above + 1) * left < 2 * need * (t + 1))) out[kept++] = t;
    }
    return kept;
}

static int64_t expected_k_(double keep) { return (int64_t)ceil(keep * M - 1e-9); }

/* One scorer x strategy at keep 0.5 (or tau = median) at layer 1. */
static int run_combo_(const sk_scorer_vtable *v, const sk_strategy_vtable *st)
{
    sk_select_config c;
    config_(&c, v->name, st->name, 0.5, 1);
    c.restore_layer = 3;
    if (strcmp(v->name, "norm") == 0) c.norm_source = SK_NORM_KEY;
    snprintf(c.checkpoint, sizeof c.checkpoint, "%s", ckpt_);
    sk_select_model m = model_();
    inputs in = inputs_(77);
    int thr = (st->flags & SK_STRATEGY_THRESHOLD) != 0;
    int64_t k = thr ? -1 : expected_k_(c.keep);
    float s[B * M];

    sk_selector *sel = NULL;
    int rc = sk_selector_create(&sel, &c, &m, SEED);
    if (rc < 0) { /* an incompatible pair must say so by name */
        assert_int_equal(rc, SK_EINVAL);
        assert_non_null(strstr(sk_error_last(), "select."));
        return 0;
    }
    assert_non_null(sel);
    ref_scores_(v, &c, &m, &in, k, s);
    if (thr) { /* tau between the scores so samples keep different counts */
        float sorted[B * M];
        memcpy(sorted, s, sizeof s);
        for (int i = 0; i < B * M; i++)
            for (int j = i + 1; j < B * M; j++)
                if (sorted[j] < sorted[i]) {
                    float t = sorted[i];
                    sorted[i] = sorted[j];
                    sorted[j] = t;
                }
        c.tau = 0.5 * (sorted[B * M / 2] + sorted[B * M / 2 - 1]);
        sk_selector_free(sel);
        assert_int_equal(sk_selector_create(&sel, &c, &m, SEED), 0);
    }
    int w = sk_selector_wants(sel, 1);
    assert_true(w & SK_SELECT_APPLY);
    sk_seq q = seq_(&in);
    assert_int_equal(sk_selector_apply(sel, 1, 0, &q), 0);

    float x0[B * N * D];
    host_f32_(in.x, x0, B * N * D);
    int64_t n2 = sk_shim_size(q.x, 1);
    int64_t *pos = malloc(sizeof(int64_t) * B * (size_t)n2);
    float *x = malloc(sizeof(float) * B * (size_t)n2 * D);
    host_i64_(q.pos, pos, B * (size_t)n2);
    host_f32_(q.x, x, B * (size_t)n2 * D);

    for (int b = 0; b < B; b++) {
        int64_t ref[M], nref = 0;
        if (thr) {
            float mx = -INFINITY;
            for (int i = 0; i < M; i++) {
                if (s[b * M + i] >= c.tau) ref[nref++] = i;
                if (s[b * M + i] > mx) mx = s[b * M + i];
            }
            if (nref == 0) /* at least the best token */
                for (int i = 0; i < M; i++)
                    if (s[b * M + i] == mx) ref[nref++] = i;
        } else {
            nref = k;
            ref_topk_(s + b * M, k, ref);
            assert_int_equal(n2, P + k); /* kept count equals the budget */
        }
        /* class token kept, unchanged and first */
        assert_int_equal(pos[b * n2], 0);
        for (int d = 0; d < D; d++) assert_float_equal(x[(b * n2) * D + d], x0[(b * N) * D + d], 1e-5);
        if (st->flags & SK_STRATEGY_RESTORES || strcmp(st->name, "prune") == 0 || thr) {
            for (int64_t j = 0; j < nref; j++) {
                assert_int_equal(pos[b * n2 + P + j], P + ref[j]); /* same set, original order */
                for (int d = 0; d < D; d++)
                    assert_float_equal(x[(b * n2 + P + j) * D + d], x0[(b * N + P + ref[j]) * D + d], 1e-4);
            }
        } else { /* merge: kept representatives in order */
            for (int64_t j = 0; j < nref; j++) assert_int_equal(pos[b * n2 + P + j], P + ref[j]);
        }
        for (int64_t j = 1; j < n2; j++)
            if (!thr || j < P + nref) assert_true(pos[b * n2 + j] > pos[b * n2 + j - 1]);
    }
    if (thr) { /* padding masked exactly where a sample kept fewer */
        float *bias = malloc(sizeof(float) * B * (size_t)n2);
        assert_non_null(q.attn_bias);
        host_f32_(q.attn_bias, bias, B * (size_t)n2);
        for (int b = 0; b < B; b++) {
            int64_t nref = 0;
            float mx = -INFINITY;
            for (int i = 0; i < M; i++) {
                nref += s[b * M + i] >= c.tau;
                if (s[b * M + i] > mx) mx = s[b * M + i];
            }
            if (!nref) nref = 1;
            for (int64_t j = 0; j < n2; j++)
                if (j < P + nref)
                    assert_float_equal(bias[b * n2 + j], 0.0, 0);
                else
                    assert_true(isinf(bias[b * n2 + j]) && bias[b * n2 + j] < 0);
        }
        free(bias);
    }
    if (strcmp(st->name, "merge") == 0) {
        float sz[B * N];
        assert_non_null(q.sizes);
        host_f32_(q.sizes, sz, B * (size_t)n2);
        for (int b = 0; b < B; b++) {
            double tot = 0;
            for (int64_t j = 0; j < n2; j++) tot += sz[b * n2 + j];
            assert_float_equal(tot, N, 1e-4);       /* sizes sum to the original length */
            assert_float_equal(sz[b * n2], 1.0, 0); /* class token never merged */
        }
        /* weights sum to one: merging a constant sequence gives the constant */
        sk_select_config c2 = c;
        sk_selector *s2 = NULL;
        assert_int_equal(sk_selector_create(&s2, &c2, &m, SEED), 0);
        inputs in2 = in;
        in2.x = sk_shim_full((int64_t[]){B, N, D}, 3, 3.5, SK_F32, SK_CPU);
        sk_seq q2 = seq_(&in2);
        assert_int_equal(sk_selector_apply(s2, 1, 0, &q2), 0);
        float xc[B * N * D];
        host_f32_(q2.x, xc, B * (size_t)n2 * D);
        for (int i = 0; i < B * n2 * D; i++) assert_float_equal(xc[i], 3.5, 1e-4);
        sk_selector_free(s2);
    }
    if (st->flags & SK_STRATEGY_RESTORES) {
        assert_true(sk_selector_wants(sel, 3) & SK_SELECT_RESTORE);
        q.x = sk_shim_mul_scalar(q.x, 2.0); /* the middle blocks */
        assert_int_equal(sk_selector_restore(sel, 3, &q), 0);
        assert_int_equal(sk_shim_size(q.x, 1), N);
        float xr[B * N * D];
        int64_t pr[B * N];
        host_f32_(q.x, xr, B * N * D);
        host_i64_(q.pos, pr, B * N);
        for (int b = 0; b < B; b++) {
            int64_t ref[M];
            int kept[N] = {0};
            ref_topk_(s + b * M, k, ref);
            kept[0] = 1;
            for (int64_t j = 0; j < k; j++) kept[P + ref[j]] = 1;
            for (int t = 0; t < N; t++) {
                assert_int_equal(pr[b * N + t], t); /* every position back, in place */
                for (int d = 0; d < D; d++)
                    assert_float_equal(xr[(b * N + t) * D + d], (kept[t] ? 2.0 : 1.0) * x0[(b * N + t) * D + d], 1e-4);
            }
        }
    }
    /* deterministic under a seed */
    sk_selector *s3 = NULL;
    assert_int_equal(sk_selector_create(&s3, &c, &m, SEED), 0);
    sk_seq q3 = seq_(&in);
    assert_int_equal(sk_selector_apply(s3, 1, 0, &q3), 0);
    float *x3 = malloc(sizeof(float) * B * (size_t)n2 * D);
    assert_int_equal(sk_shim_size(q3.x, 1), n2);
    host_f32_(q3.x, x3, B * (size_t)n2 * D);
    assert_memory_equal(x3, x, sizeof(float) * B * (size_t)n2 * D);
    sk_selector_free(s3);
    free(x3);
    free(x);
    free(pos);
    sk_selector_free(sel);
    return 1;
}

static void test_every_scorer_x_strategy(void **st)
{
    (void)st;
    int ran = 0, per_scorer[64] = {0};
    assert_true(sk_scorer_count() >= 10);
    for (int i = 0; i < sk_scorer_count(); i++) {
        for (int j = 0; j < sk_strategy_count(); j++) {
            sk_scope *sc = sk_shim_scope_begin();
            int r = run_combo_(sk_scorer_at(i), sk_strategy_at(j));
            sk_shim_scope_end(sc);
            ran += r;
            if (!r)
                print_message("  rejected as intended: %s x %s: %s\n", sk_scorer_at(i)->name, sk_strategy_at(j)->name,
                              sk_error_last());
            per_scorer[i] += r;
        }
        assert_true(per_scorer[i] >= 1); /* every scorer runs with some strategy */
    }
    print_message("  %d scorer x strategy pairs checked\n", ran);
    assert_true(ran >= 25);
}

static void test_learned_gradients(void **st)
{
    (void)st;
    sk_scope *sc = sk_shim_scope_begin();
    sk_select_config c;
    defaults_(&c);
    snprintf(c.scorer, sizeof c.scorer, "learned");
    c.layers.n = 1;
    c.layers.v[0] = 1;
    sk_select_model m = model_();
    sk_selector *sel = NULL;
    assert_int_equal(sk_selector_create(&sel, &c, &m, SEED), 0);
    sk_tensor *const *p = NULL;
    const char *const *names = NULL;
    int n = 0;
    assert_int_equal(sk_selector_params(sel, &p, &names, &n), 0);
    assert_int_equal(n, 6);
    assert_string_equal(names[2], "selector.learned.l1.w1");
    inputs in = inputs_(5);
    sk_seq q = seq_(&in);
    assert_int_equal(sk_selector_apply(sel, 1, 0, &q), 0);
    assert_int_equal(sk_shim_size(q.x, 1), P + 8);
    sk_generator *g = NULL;
    assert_int_equal(sk_generator_create(&g, 9, SK_CPU), 0);
    sk_tensor *target = sk_shim_randn((int64_t[]){B, P + 8, D}, 3, SK_F32, SK_CPU, g);
    sk_tensor *aux = NULL;
    assert_int_equal(sk_selector_aux_loss(sel, &aux), 0);
    assert_non_null(aux);
    sk_tensor *loss = sk_shim_add(sk_shim_sum(sk_shim_mul(q.x, target), NULL, 0, 0), aux);
    assert_int_equal(sk_shim_backward(loss), 0);
    for (int i = 0; i < n; i++) {
        sk_tensor *gr = NULL;
        assert_int_equal(sk_shim_grad(p[i], &gr), 0);
        assert_non_null(gr);
        double a = 0;
        assert_int_equal(sk_shim_item(sk_shim_sum(sk_shim_abs(gr), NULL, 0, 0), &a), 0);
        assert_true(a > 0.0);
    }
    sk_generator_free(g);
    sk_selector_free(sel);
    sk_shim_scope_end(sc);
}

static int create_msg_(sk_select_config *c, sk_select_model *m, const char *want)
{
    sk_selector *sel = NULL;
    int rc = sk_selector_create(&sel, c, m, SEED);
    if (rc >= 0) {
        sk_selector_free(sel);
        return 0;
    }
    assert_null(sel);
    if (!strstr(sk_error_last(), want)) {
        fprintf(stderr, "message '%s' lacks '%s'\n", sk_error_last(), want);
        return 0;
    }
    return 1;
}

static void test_bad_configs(void **st)
{
    (void)st;
    sk_select_model m = model_();
    sk_select_config c;
    defaults_(&c);
    snprintf(c.scorer, sizeof c.scorer, "random");
    c.keep = 0.0;
    assert_true(create_msg_(&c, &m, "select.keep"));
    c.keep = 1.5;
    assert_true(create_msg_(&c, &m, "select.keep"));
    c.keep = 0.5;
    c.layers.n = 1;
    c.layers.v[0] = 4;
    assert_true(create_msg_(&c, &m, "out of range"));
    c.layers.v[0] = 1;
    snprintf(c.scorer, sizeof c.scorer, "attn-cls");
    c.layers.v[0] = 0;
    assert_true(create_msg_(&c, &m, "layer 0 has no block"));
    snprintf(c.scorer, sizeof c.scorer, "tome");
    assert_true(create_msg_(&c, &m, "layer 0"));
    c.layers.v[0] = 1;
    snprintf(c.scorer, sizeof c.scorer, "attn-cls");
    sk_select_model nocls = m;
    nocls.n_protected = 0;
    assert_true(create_msg_(&c, &nocls, "class token"));
    snprintf(c.scorer, sizeof c.scorer, "nope");
    assert_true(create_msg_(&c, &m, "select.scorer: 'nope' is not one of random|"));
    snprintf(c.scorer, sizeof c.scorer, "random");
    snprintf(c.strategy, sizeof c.strategy, "drop-restore");
    c.restore_layer = 1;
    assert_true(create_msg_(&c, &m, "select.restore_layer"));
    snprintf(c.strategy, sizeof c.strategy, "prune");
    sk_select_model causal = m;
    causal.causal = 1;
    assert_true(create_msg_(&c, &causal, "drop-restore"));
    snprintf(c.strategy, sizeof c.strategy, "drop-restore");
    c.restore_layer = -1;
    sk_selector *ok = NULL;
    assert_int_equal(sk_selector_create(&ok, &c, &causal, SEED), 0);
    assert_true(sk_selector_wants(ok, 3) & SK_SELECT_RESTORE);
    sk_selector_free(ok);
    /* attention received comes from later tokens: a causal LM would see its targets in the choice */
    snprintf(c.scorer, sizeof c.scorer, "attn-received");
    c.layers.v[0] = 1;
    assert_true(create_msg_(&c, &causal, "leak"));
    assert_true(create_msg_(&c, &m, "") == 0); /* fine on images */
    /* ToMe scores an A token by its best match among all B tokens, later ones too */
    snprintf(c.scorer, sizeof c.scorer, "tome");
    assert_true(create_msg_(&c, &causal, "leak"));
    snprintf(c.scorer, sizeof c.scorer, "random");
    /* the config engine enforces the bounds too */
    const sk_cfg_section *secs[1] = {&sk_select_section};
    void *bases[1] = {&c};
    assert_int_equal(sk_cfg_apply_set("select.keep=0", secs, 1, bases), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "select.keep"));
    assert_int_equal(sk_cfg_apply_set("select.keep=1.01", secs, 1, bases), SK_EINVAL);
    assert_int_equal(sk_cfg_apply_set("select.scorer=tom", secs, 1, bases), SK_EINVAL);
    assert_int_equal(sk_cfg_apply_set("select.keep=1", secs, 1, bases), 0);
    /* none selects nothing and every call accepts NULL */
    snprintf(c.scorer, sizeof c.scorer, "none");
    sk_selector *none = (sk_selector *)&c;
    assert_int_equal(sk_selector_create(&none, &c, &m, SEED), 0);
    assert_null(none);
    assert_int_equal(sk_selector_wants(NULL, 1), 0);
    sk_selector_free(NULL);
}

static void test_schedule_and_flops(void **st)
{
    (void)st;
    sk_select_model m = model_();
    sk_select_config c;
    defaults_(&c);
    snprintf(c.scorer, sizeof c.scorer, "random");
    c.schedule = SK_SCHEDULE_LINEAR;
    c.keep = 0.25;
    c.keep_start = 1.0;
    c.schedule_steps = 100;
    sk_selector *sel = NULL;
    assert_int_equal(sk_selector_create(&sel, &c, &m, SEED), 0);
    assert_float_equal(sk_selector_keep_at(sel, 0), 1.0, 1e-12);
    assert_float_equal(sk_selector_keep_at(sel, 50), 0.625, 1e-12);
    assert_float_equal(sk_selector_keep_at(sel, 1000), 0.25, 1e-12);
    /* the kept count follows the schedule; stats see it */
    sk_scope *sc = sk_shim_scope_begin();
    inputs in = inputs_(3);
    sk_seq q = seq_(&in);
    assert_int_equal(sk_selector_apply(sel, 1, 50, &q), 0);
    assert_int_equal(sk_shim_size(q.x, 1), P + 10);
    sk_select_stats s;
    sk_selector_stats(sel, &s);
    assert_int_equal(s.tokens_in[0], N);
    assert_int_equal(s.tokens_in[1], P + 10);
    assert_int_equal(s.tokens_in[3], P + 10);
    assert_int_equal(s.forwards, 1);
    sk_shim_scope_end(sc);
    sk_selector_free(sel);
    /* FLOPs: 3 x (8ND^2 + 4N^2D + 4rND^2) per block */
    m.width = 128;
    m.tokens = 196;
    double f = sk_select_flops(&m, 4.0, NULL);
    double blk = 8.0 * 196 * 128 * 128 + 4.0 * 196 * 196 * 128 + 16.0 * 196 * 128 * 128;
    assert_float_equal(f, 3.0 * DEPTH * blk, 1.0);
    int64_t half[4] = {196, 98, 98, 98};
    assert_true(sk_select_flops(&m, 4.0, half) < f);
}

/* A minimal safetensors writer (the test's own, independent of the reader). */
static void write_safetensors_(const char *path, sk_tensor *const *p, const char *const *names, int n)
{
    char hdr[4096];
    size_t hl = 0;
    int64_t off = 0;
    hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n; i++) {
        int64_t shape[8];
        int nd = sk_shim_shape(p[i], shape);
        int64_t numel = sk_shim_numel(p[i]);
        hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[", names[i]);
        for (int d = 0; d < nd; d++)
            hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "%s%lld", d ? "," : "", (long long)shape[d]);
        hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "],\"data_offsets\":[%lld,%lld]}", (long long)off,
                               (long long)(off + 4 * numel));
        off += 4 * numel;
    }
    hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "}");
    while (hl % 8) hdr[hl++] = ' ';
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    unsigned char lb[8];
    for (int i = 0; i < 8; i++) lb[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    fwrite(lb, 1, 8, f);
    fwrite(hdr, 1, hl, f);
    for (int i = 0; i < n; i++) {
        size_t ne = (size_t)sk_shim_numel(p[i]);
        float *buf = malloc(ne * sizeof *buf);
        host_f32_(sk_shim_detach(p[i]), buf, ne);
        fwrite(buf, sizeof *buf, ne, f);
        free(buf);
    }
    fclose(f);
}

static sk_selector *learned_(void)
{
    sk_select_config c;
    defaults_(&c);
    snprintf(c.scorer, sizeof c.scorer, "learned");
    c.layers.n = 1;
    c.layers.v[0] = 1;
    sk_select_model m = model_();
    sk_selector *sel = NULL;
    assert_int_equal(sk_selector_create(&sel, &c, &m, SEED + 1), 0);
    return sel;
}

static void test_frozen_matches_learned(void **st)
{
    (void)st;
    sk_scope *sc = sk_shim_scope_begin();
    sk_selector *ls = learned_();
    sk_select_config c;
    defaults_(&c);
    snprintf(c.scorer, sizeof c.scorer, "frozen");
    c.layers.n = 1;
    c.layers.v[0] = 1;
    snprintf(c.checkpoint, sizeof c.checkpoint, "%s", ckpt_);
    sk_select_model m = model_();
    sk_selector *fs = NULL;
    assert_int_equal(sk_selector_create(&fs, &c, &m, 999), 0);
    sk_tensor *const *p = NULL;
    const char *const *names = NULL;
    int n = -1;
    assert_int_equal(sk_selector_params(fs, &p, &names, &n), 0);
    assert_int_equal(n, 0); /* never updated */
    inputs in = inputs_(11);
    sk_seq a = seq_(&in), b = seq_(&in);
    assert_int_equal(sk_selector_apply(ls, 1, 0, &a), 0);
    assert_int_equal(sk_selector_apply(fs, 1, 0, &b), 0);
    int64_t pa[B * 9], pb[B * 9];
    host_i64_(a.pos, pa, B * 9);
    host_i64_(b.pos, pb, B * 9);
    assert_memory_equal(pa, pb, sizeof pa); /* same network, same choice */
    assert_int_equal(sk_shim_requires_grad(b.x), 0);
    sk_selector_free(fs);
    sk_selector_free(ls);
    /* missing file, missing layer: clear messages */
    snprintf(c.checkpoint, sizeof c.checkpoint, "no-such.safetensors");
    assert_true(create_msg_(&c, &m, "select.checkpoint: no-such.safetensors"));
    snprintf(c.checkpoint, sizeof c.checkpoint, "%s", ckpt_);
    c.checkpoint_layer = 2;
    assert_true(create_msg_(&c, &m, "selector.learned.l2.ln_w"));
    c.checkpoint[0] = '\0';
    assert_true(create_msg_(&c, &m, "select.checkpoint"));
    sk_shim_scope_end(sc);
}

/* ---- frozen on text: a reference proxy LM the test controls ---------- */

enum { TT = 16, VOCAB = 20 };
struct sk_select_lm {
    int opened;
};
static int ref_lm_closed_;

/* The reference LM's "loss" at (b, t): a fixed function of the target token
 * and the position, distinct within a row (no ties in the top-k). */
static float ref_nll_(int64_t target, int64_t t) { return (float)((target * 31 + t * 7) % 97) + 0.001f * (float)t; }

static int ref_open_(const char *path, int64_t vocab, int64_t seq_len, sk_device dev, sk_select_lm **out)
{
    (void)dev;
    if (strcmp(path, "ref-lm") != 0) return sk_error_set(SK_EIO, "%s: cannot open", path);
    if (vocab != VOCAB || seq_len != TT) return sk_error_set(SK_EINVAL, "%s: wrong model", path);
    *out = calloc(1, sizeof **out);
    (*out)->opened = 1;
    return SK_OK;
}

static int ref_nll_tensor_(sk_select_lm *lm, const sk_tensor *windows, sk_tensor **nll)
{
    assert_int_equal(lm->opened, 1);
    int64_t b = sk_shim_size(windows, 0), t1 = sk_shim_size(windows, 1);
    int64_t *w = malloc(sizeof(int64_t) * (size_t)(b * t1));
    float *v = malloc(sizeof(float) * (size_t)(b * (t1 - 1)));
    host_i64_(windows, w, (size_t)(b * t1));
    for (int64_t i = 0; i < b; i++)
        for (int64_t t = 0; t + 1 < t1; t++) v[i * (t1 - 1) + t] = ref_nll_(w[i * t1 + t + 1], t);
    *nll = sk_shim_from_host(v, (int64_t[]){b, t1 - 1}, 2, SK_F32, SK_CPU);
    free(w);
    free(v);
    return *nll ? SK_OK : sk_error_last_code();
}

static void ref_close_(sk_select_lm *lm)
{
    if (!lm) return;
    ref_lm_closed_++;
    free(lm);
}

static double ref_flops_(const sk_select_lm *lm, int64_t t)
{
    (void)lm;
    return 1000.0 * (double)t;
}

static const sk_select_lm_vtable ref_lm_ = {SK_SELECT_LM_VERSION, ref_open_, ref_nll_tensor_, ref_close_, ref_flops_};

/* frozen on a causal LM with drop-restore keeps, per sample, the positions
 * with the k highest proxy losses (in order), skips the rest through the
 * middle blocks and brings them back; bad setups are refused clearly. */
static void test_frozen_text_surprisal(void **st)
{
    (void)st;
    sk_scope *sc = sk_shim_scope_begin();
    sk_select_model m = {0};
    m.depth = DEPTH;
    m.width = D;
    m.heads = H;
    m.tokens = TT;
    m.causal = 1;
    m.vocab = VOCAB;
    m.lm = &ref_lm_;
    sk_select_config c;
    defaults_(&c);
    snprintf(c.scorer, sizeof c.scorer, "frozen");
    snprintf(c.strategy, sizeof c.strategy, "drop-restore");
    snprintf(c.checkpoint, sizeof c.checkpoint, "ref-lm");
    c.keep = 0.25;
    c.layers.n = 1;
    c.layers.v[0] = 1;
    c.restore_layer = 3;
    sk_selector *sel = NULL;
    assert_int_equal(sk_selector_create(&sel, &c, &m, SEED), 0);
    sk_tensor *const *p = NULL;
    const char *const *names = NULL;
    int n = -1;
    assert_int_equal(sk_selector_params(sel, &p, &names, &n), 0);
    assert_int_equal(n, 0); /* frozen: nothing to train */

    int64_t w[B * (TT + 1)];
    for (int i = 0; i < B * (TT + 1); i++) w[i] = (i * 13 + 5) % VOCAB;
    sk_generator *g = NULL;
    assert_int_equal(sk_generator_create(&g, 3, SK_CPU), 0);
    sk_seq q = {0};
    q.x = sk_shim_randn((int64_t[]){B, TT, D}, 3, SK_F32, SK_CPU, g);
    q.pos = sk_shim_contiguous(sk_shim_expand(sk_shim_unsqueeze(sk_shim_arange(TT, SK_CPU), 0), (int64_t[]){B, TT}, 2));
    q.windows = sk_shim_from_host(w, (int64_t[]){B, TT + 1}, 2, SK_I64, SK_CPU);
    q.causal = 1;
    q.training = 1;
    sk_generator_free(g);
    sk_seq q0 = q;
    assert_int_equal(sk_selector_apply(sel, 1, 0, &q), 0);
    enum { K = TT / 4 };
    assert_int_equal(sk_shim_size(q.x, 1), K);
    int64_t pos[B * K];
    host_i64_(q.pos, pos, B * K);
    for (int b = 0; b < B; b++) {
        float s[TT];
        int64_t ref[TT];
        /* token t's surprisal is the LM's loss at t-1; token 0 (no context) first */
        for (int t = 0; t < TT; t++) s[t] = t ? ref_nll_(w[b * (TT + 1) + t], t - 1) : 1e9f;
        /* a causal LM: kept by the causal rule, not the top-k */
        assert_int_equal(ref_causal_keep_(s, TT, K, ref), K);
        for (int j = 0; j < K; j++) assert_int_equal(pos[b * K + j], ref[j]);
    }
    assert_int_equal(sk_selector_restore(sel, 3, &q), 0);
    assert_int_equal(sk_shim_size(q.x, 1), TT);
    /* the proxy's forward is counted in the selector's FLOPs */
    sk_select_stats ss;
    sk_selector_stats(sel, &ss);
    assert_float_equal(ss.scorer_flops, 1000.0 * TT, 1e-9);
    assert_float_equal(sk_selector_flops(sel, 4.0), sk_select_flops(&m, 4.0, ss.tokens_in) + 1000.0 * TT, 1e-6);
    int64_t pr[B * TT];
    host_i64_(q.pos, pr, B * TT);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < TT; t++) assert_int_equal(pr[b * TT + t], t);
    /* a sequence without token windows: a clear error, not another scorer */
    sk_seq qn = q0;
    qn.windows = NULL;
    assert_true(sk_selector_apply(sel, 1, 1, &qn) < 0);
    assert_non_null(strstr(sk_error_last(), "seq.windows"));
    int closed = ref_lm_closed_;
    sk_selector_free(sel);
    assert_int_equal(ref_lm_closed_, closed + 1);

    /* causal: a position's score depends on tokens up to it only (scoring
     * by the next token's loss would leak the target into the selection) */
    const sk_scorer_vtable *v = sk_scorer_find("frozen");
    assert_non_null(v);
    sk_generator *gi = NULL;
    assert_int_equal(sk_generator_create(&gi, 1, SK_CPU), 0);
    sk_scorer_init init = {&m, &c, 1, gi};
    void *fst = NULL;
    assert_int_equal(v->create(&fst, &init), 0);
    for (int j = 1; j < TT; j++) {
        int64_t w2[B * (TT + 1)];
        memcpy(w2, w, sizeof w);
        for (int b = 0; b < B; b++) w2[b * (TT + 1) + j] = (w2[b * (TT + 1) + j] + 1) % VOCAB; /* input token j */
        float s1[B * TT], s2[B * TT];
        sk_tensor *sc1 = NULL, *sc2 = NULL;
        sk_seq a1 = q0, a2 = q0;
        a2.windows = sk_shim_from_host(w2, (int64_t[]){B, TT + 1}, 2, SK_I64, SK_CPU);
        sk_score_args sa = {K, 0, gi};
        assert_int_equal(v->score(fst, &a1, &sa, &sc1), 0);
        assert_int_equal(v->score(fst, &a2, &sa, &sc2), 0);
        host_f32_(sc1, s1, B * TT);
        host_f32_(sc2, s2, B * TT);
        int changed = 0;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < j; t++) assert_float_equal(s1[b * TT + t], s2[b * TT + t], 0);
            changed += s1[b * TT + j] != s2[b * TT + j];
        }
        assert_true(changed > 0); /* and token j's own score does see it */
    }
    v->destroy(fst);
    sk_generator_free(gi);
    /* and the kept set: changing input token j leaves the choice before j
     * as it was (a top-k over the same scores would move it) */
    int topk_moved = 0;
    for (int j = 1; j < TT; j++) {
        int64_t w2[B * (TT + 1)];
        memcpy(w2, w, sizeof w);
        for (int b = 0; b < B; b++) w2[b * (TT + 1) + j] = (w2[b * (TT + 1) + j] + 3 + b) % VOCAB;
        sk_selector *s1 = NULL, *s2 = NULL;
        assert_int_equal(sk_selector_create(&s1, &c, &m, SEED), 0);
        assert_int_equal(sk_selector_create(&s2, &c, &m, SEED), 0);
        sk_seq a1 = q0, a2 = q0;
        a2.windows = sk_shim_from_host(w2, (int64_t[]){B, TT + 1}, 2, SK_I64, SK_CPU);
        assert_int_equal(sk_selector_apply(s1, 1, 0, &a1), 0);
        assert_int_equal(sk_selector_apply(s2, 1, 0, &a2), 0);
        int64_t p1[B * K], p2[B * K];
        host_i64_(a1.pos, p1, B * K);
        host_i64_(a2.pos, p2, B * K);
        for (int b = 0; b < B; b++) {
            int before1 = 0, before2 = 0;
            for (int q = 0; q < K; q++) {
                before1 += p1[b * K + q] < j;
                before2 += p2[b * K + q] < j;
            }
            assert_int_equal(before1, before2);
            for (int q = 0; q < before1; q++) assert_int_equal(p1[b * K + q], p2[b * K + q]);
            float sc1[TT], sc2[TT];
            int64_t t1[TT], t2[TT];
            for (int t = 0; t < TT; t++) {
                sc1[t] = t ? ref_nll_(w[b * (TT + 1) + t], t - 1) : 1e9f;
                sc2[t] = t ? ref_nll_(w2[b * (TT + 1) + t], t - 1) : 1e9f;
            }
            ref_topk_(sc1, K, t1);
            ref_topk_(sc2, K, t2);
            for (int q = 0; q < K; q++)
                if ((t1[q] < j) != (t2[q] < j) || (t1[q] < j && t1[q] != t2[q])) {
                    topk_moved++;
                    break;
                }
        }
        sk_selector_free(s1);
        sk_selector_free(s2);
    }
    assert_true(topk_moved > 0); /* the top-k's choice before j does depend on token j */

    snprintf(c.checkpoint, sizeof c.checkpoint, "other-lm");
    assert_true(create_msg_(&c, &m, "select.checkpoint: other-lm: cannot open"));
    c.checkpoint[0] = '\0';
    assert_true(create_msg_(&c, &m, "proxy LM"));
    snprintf(c.checkpoint, sizeof c.checkpoint, "ref-lm");
    m.lm = NULL;
    assert_true(create_msg_(&c, &m, "provides no loader"));
    sk_shim_scope_end(sc);
}

/* sk_select_causal_keep: exactly k ascending indices per row, as the naive
 * reference; the decision at t does not depend on any later score (the
 * top-k's does); it still keeps high scores (kept mean above dropped);
 * equal scores as the reference; bad k is refused. */
static void test_causal_keep(void **st)
{
    (void)st;
    enum { R = 64, MM = 48 };
    sk_scope *sc = sk_shim_scope_begin();
    sk_generator *g = NULL;
    assert_int_equal(sk_generator_create(&g, 17, SK_CPU), 0);
    static float s[R * MM], s2[R * MM];
    sk_tensor *t = sk_shim_rand((int64_t[]){R, MM}, 2, SK_F32, SK_CPU, g);
    assert_int_equal(sk_shim_to_host(t, s, sizeof s), 0);
    for (int i = 0; i < R * MM; i += 5) s[i] = s[i + 1 < R * MM ? i + 1 : i]; /* some ties */
    static const int64_t ks[] = {1, 6, 12, 24, 36, 47, 48};
    for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
        int64_t k = ks[ki];
        sk_tensor *st1 = sk_shim_from_host(s, (int64_t[]){R, MM}, 2, SK_F32, SK_CPU);
        sk_tensor *idx = sk_select_causal_keep(st1, k);
        assert_non_null(idx);
        assert_int_equal(sk_shim_size(idx, 0), R);
        assert_int_equal(sk_shim_size(idx, 1), k);
        static int64_t got[R * MM], ref[MM];
        assert_int_equal(sk_shim_to_host(idx, got, sizeof(int64_t) * (size_t)(R * k)), 0);
        double kept_sum = 0, all_sum = 0;
        for (int r = 0; r < R; r++) {
            assert_int_equal(ref_causal_keep_(s + r * MM, MM, k, ref), k);
            for (int64_t q = 0; q < k; q++) {
                assert_int_equal(got[r * k + q], ref[q]);
                kept_sum += s[r * MM + ref[q]];
            }
            for (int q = 0; q < MM; q++) all_sum += s[r * MM + q];
        }
        if (k < MM) assert_true(kept_sum / (double)(R * k) > (all_sum - kept_sum) / (double)(R * (MM - k)));
        /* causal: new scores from position j on leave the choice before j */
        int topk_moved = 0;
        for (int j = 1; j < MM; j++) {
            memcpy(s2, s, sizeof s);
            for (int r = 0; r < R; r++)
                for (int q = j; q < MM; q++) s2[r * MM + q] = 1.0f - s[r * MM + q];
            sk_tensor *i2 = sk_select_causal_keep(sk_shim_from_host(s2, (int64_t[]){R, MM}, 2, SK_F32, SK_CPU), k);
            sk_tensor *ta = sk_select_topk_sorted(st1, k);
            sk_tensor *tb = sk_select_topk_sorted(sk_shim_from_host(s2, (int64_t[]){R, MM}, 2, SK_F32, SK_CPU), k);
            static int64_t g2[R * MM], ka[R * MM], kb[R * MM];
            assert_int_equal(sk_shim_to_host(i2, g2, sizeof(int64_t) * (size_t)(R * k)), 0);
            assert_int_equal(sk_shim_to_host(ta, ka, sizeof(int64_t) * (size_t)(R * k)), 0);
            assert_int_equal(sk_shim_to_host(tb, kb, sizeof(int64_t) * (size_t)(R * k)), 0);
            for (int r = 0; r < R; r++) {
                for (int64_t q = 0; q < k; q++) {
                    assert_int_equal(got[r * k + q] < j, g2[r * k + q] < j);
                    if (got[r * k + q] < j) assert_int_equal(got[r * k + q], g2[r * k + q]);
                }
                for (int64_t q = 0; q < k; q++)
                    if ((ka[r * k + q] < j) != (kb[r * k + q] < j) ||
                        (ka[r * k + q] < j && ka[r * k + q] != kb[r * k + q])) {
                        topk_moved++;
                        break;
                    }
            }
        }
        if (k < MM) assert_true(topk_moved > 0);
    }
    /* equal scores: the first k */
    float eq[2 * 8];
    for (int i = 0; i < 16; i++) eq[i] = 0.5f;
    sk_tensor *ie = sk_select_causal_keep(sk_shim_from_host(eq, (int64_t[]){2, 8}, 2, SK_F32, SK_CPU), 3);
    int64_t ge[6];
    assert_int_equal(sk_shim_to_host(ie, ge, sizeof ge), 0);
    int64_t re[3];
    assert_int_equal(ref_causal_keep_(eq, 8, 3, re), 3);
    assert_int_equal(re[0], 1); /* t = 0 is not kept just for being first */
    for (int i = 0; i < 6; i++) assert_int_equal(ge[i], re[i % 3]);
    assert_null(sk_select_causal_keep(sk_shim_from_host(eq, (int64_t[]){2, 8}, 2, SK_F32, SK_CPU), 9));
    assert_non_null(strstr(sk_error_last(), "causal keep"));
    assert_null(sk_select_causal_keep(sk_shim_from_host(eq, (int64_t[]){2, 8}, 2, SK_F32, SK_CPU), 0));
    sk_generator_free(g);
    sk_shim_scope_end(sc);
}

/* uniform on a 4x4 grid at keep 1/4 keeps the 2x2 sub-grid (1,1),(1,3),
 * (3,1),(3,3); pool merges each 2x2 neighbourhood into its anchor: every
 * anchor ends up with size 4 and the mean of its 4 neighbours. */
static void test_uniform_grid_and_pool(void **st)
{
    (void)st;
    sk_scope *sc = sk_shim_scope_begin();
    sk_select_model m = model_();
    sk_select_config c;
    defaults_(&c);
    c.keep = 0.25;
    c.layers.n = 1;
    c.layers.v[0] = 0;
    inputs in = inputs_(21);
    const int64_t want[4] = {P + 5, P + 7, P + 13, P + 15};
    for (int pass = 0; pass < 2; pass++) {
        snprintf(c.scorer, sizeof c.scorer, pass ? "pool" : "uniform");
        snprintf(c.strategy, sizeof c.strategy, pass ? "merge" : "prune");
        sk_selector *sel = NULL;
        assert_int_equal(sk_selector_create(&sel, &c, &m, SEED), 0);
        sk_seq q = seq_(&in);
        q.attn = q.keys = NULL;
        assert_int_equal(sk_selector_apply(sel, 0, 0, &q), 0);
        int64_t pos[B * 5];
        host_i64_(q.pos, pos, B * 5);
        for (int b = 0; b < B; b++)
            for (int j = 0; j < 4; j++) assert_int_equal(pos[b * 5 + 1 + j], want[j]);
        if (pass) {
            float sz[B * 5], x[B * 5 * D], x0[B * N * D];
            host_f32_(q.sizes, sz, B * 5);
            host_f32_(q.x, x, B * 5 * D);
            host_f32_(in.x, x0, B * N * D);
            for (int b = 0; b < B; b++) {
                assert_float_equal(sz[b * 5], 1.0, 0);
                for (int j = 0; j < 4; j++) {
                    assert_float_equal(sz[b * 5 + 1 + j], 4.0, 0);
                    int r0 = (j / 2) * 2, c0 = (j % 2) * 2; /* the 2x2 block of anchor j */
                    for (int d = 0; d < D; d++) {
                        double mean = 0;
                        for (int dr = 0; dr < 2; dr++)
                            for (int dc = 0; dc < 2; dc++) mean += x0[(b * N + P + (r0 + dr) * 4 + c0 + dc) * D + d];
                        assert_float_equal(x[(b * 5 + 1 + j) * D + d], mean / 4, 1e-5);
                    }
                }
            }
        }
        sk_selector_free(sel);
    }
    sk_shim_scope_end(sc);
}

/* merge_into=fused: k-1 best kept in order + one fused token (size-weighted
 * mean of the rest, size = their count) = k tokens. */
static void test_merge_fused(void **st)
{
    (void)st;
    sk_scope *sc = sk_shim_scope_begin();
    sk_select_model m = model_();
    sk_select_config c;
    defaults_(&c);
    snprintf(c.scorer, sizeof c.scorer, "norm");
    snprintf(c.strategy, sizeof c.strategy, "merge");
    c.merge_into = SK_MERGE_FUSED;
    c.keep = 0.5;
    c.layers.n = 1;
    c.layers.v[0] = 0;
    sk_selector *sel = NULL;
    assert_int_equal(sk_selector_create(&sel, &c, &m, SEED), 0);
    inputs in = inputs_(31);
    sk_seq q = seq_(&in);
    assert_int_equal(sk_selector_apply(sel, 0, 0, &q), 0);
    enum { K = 8, N2 = P + K };
    assert_int_equal(sk_shim_size(q.x, 1), N2);
    float x0[B * N * D], x[B * N2 * D], sz[B * N2];
    int64_t pos[B * N2];
    host_f32_(in.x, x0, B * N * D);
    host_f32_(q.x, x, B * N2 * D);
    host_f32_(q.sizes, sz, B * N2);
    host_i64_(q.pos, pos, B * N2);
    for (int b = 0; b < B; b++) {
        float s[M];
        int64_t ref[M];
        int kept[M] = {0};
        for (int i = 0; i < M; i++) {
            double a = 0;
            for (int d = 0; d < D; d++) a += (double)x0[(b * N + P + i) * D + d] * x0[(b * N + P + i) * D + d];
            s[i] = (float)sqrt(a);
        }
        ref_topk_(s, K - 1, ref);
        for (int j = 0; j < K - 1; j++) {
            kept[ref[j]] = 1;
            assert_int_equal(pos[b * N2 + P + j], P + ref[j]);
            assert_float_equal(sz[b * N2 + P + j], 1.0, 0);
        }
        assert_float_equal(sz[b * N2 + P + K - 1], M - (K - 1), 1e-6);
        for (int d = 0; d < D; d++) {
            double mean = 0;
            for (int i = 0; i < M; i++)
                if (!kept[i]) mean += x0[(b * N + P + i) * D + d];
            assert_float_equal(x[(b * N2 + P + K - 1) * D + d], mean / (M - (K - 1)), 1e-5);
        }
    }
    sk_selector_free(sel);
    snprintf(c.scorer, sizeof c.scorer, "pool");
    assert_true(create_msg_(&c, &m, "select.merge_into"));
    sk_shim_scope_end(sc);
}

/* Host copies of a merge's input (x0, keys) and output (x, sizes). */
static void host_merge_(const inputs *in, const sk_seq *q, int64_t n2, float *x0, float *keys, float *x, float *sz)
{
    host_f32_(in->x, x0, B * N * D);
    host_f32_(in->keys, keys, B * H * N * DH);
    host_f32_(q->x, x, B * (size_t)n2 * D);
    host_f32_(q->sizes, sz, B * (size_t)n2);
}

/* Reference metric: head-mean keys of the unprotected tokens of sample b,
 * at unit L2 norm (+1e-6, as the selectors). */
static void ref_unit_keys_(const float *keys, int b, double mu[M][DH])
{
    for (int t = 0; t < M; t++) {
        double nrm = 0;
        for (int e = 0; e < DH; e++) {
            mu[t][e] = 0;
            for (int h = 0; h < H; h++) mu[t][e] += keys[((b * H + h) * N + P + t) * DH + e];
            mu[t][e] /= H;
            nrm += mu[t][e] * mu[t][e];
        }
        for (int e = 0; e < DH; e++) mu[t][e] /= sqrt(nrm) + 1e-6;
    }
}

/* Naive ToMe (facebookresearch/ToMe, tome/merge.py bipartite_soft_matching
 * + merge_wavg) on sample b with p protected leading tokens: unit
 * head-mean keys of ALL tokens, A = even and B =
 * odd positions of the whole sequence, protected rows / columns -inf,
 * node_max / node_idx = max over B, the r A tokens of largest node_max
 * merge into their node_idx, size-weighted. Out: dst[t] = the position
 * token t ends up in (itself when unmerged). Returns r. */
static int tome_naive_(const float *keys, int b, int p, int64_t r, int dst[N])
{
    double mu[N][DH];
    for (int t = 0; t < N; t++) {
        double nrm = 0;
        for (int e = 0; e < DH; e++) {
            mu[t][e] = 0;
            for (int h = 0; h < H; h++) mu[t][e] += keys[((b * H + h) * N + t) * DH + e];
            mu[t][e] /= H;
            nrm += mu[t][e] * mu[t][e];
        }
        for (int e = 0; e < DH; e++) mu[t][e] /= sqrt(nrm);
    }
    enum { NA = (N + 1) / 2, NB = N / 2 };
    double node_max[NA];
    int node_idx[NA], order[NA], used[NA] = {0};
    for (int i = 0; i < NA; i++) {
        node_max[i] = -INFINITY;
        node_idx[i] = 0;
        for (int j = 0; j < NB; j++) {
            double s = 0;
            for (int e = 0; e < DH; e++) s += mu[2 * i][e] * mu[2 * j + 1][e];
            if (2 * i < p || 2 * j + 1 < p) s = -INFINITY;
            if (s > node_max[i]) node_max[i] = s, node_idx[i] = j;
        }
    }
    for (int q = 0; q < NA; q++) { /* argsort descending (random keys: no ties) */
        int best = -1;
        for (int i = 0; i < NA; i++)
            if (!used[i] && (best < 0 || node_max[i] > node_max[best])) best = i;
        used[best] = 1;
        order[q] = best;
    }
    for (int t = 0; t < N; t++) dst[t] = t;
    for (int64_t q = 0; q < r; q++) dst[2 * order[q]] = 2 * node_idx[order[q]] + 1;
    return (int)r;
}

/* tome + merge against naive ToMe for every r up to ToMe's cap (N - p) / 2,
 * with a class token (p = 1, which ToMe puts in set A and never merges) and
 * without (p = 0), on non-uniform input sizes: the same tokens merge, into
 * the same partners, as the size-weighted mean; sizes add up; the kept
 * tokens and their positions come out in sequence order. */
static void test_tome_matches_naive(void **st)
{
    (void)st;
    for (int p = 0; p <= 1; p++) {
        int64_t mu_ = N - p;
        for (int64_t r = 1; r <= mu_ / 2; r++) {
            sk_scope *sc = sk_shim_scope_begin();
            sk_select_config c;
            config_(&c, "tome", "merge", 1.0, 1);
            c.budget = mu_ - r;
            sk_select_model m = model_();
            m.n_protected = p;
            inputs in = inputs_(91 + (uint64_t)(r + 20 * p));
            float s0[B * N];
            for (int i = 0; i < B * N; i++) s0[i] = (float)(1 + (i * 7) % 3);
            sk_selector *sel = NULL;
            assert_int_equal(sk_selector_create(&sel, &c, &m, SEED), 0);
            sk_seq q = seq_(&in);
            q.n_protected = p;
            q.sizes = sk_shim_from_host(s0, (int64_t[]){B, N}, 2, SK_F32, SK_CPU);
            assert_int_equal(sk_selector_apply(sel, 1, 0, &q), 0);
            int64_t n2 = N - r;
            assert_int_equal(sk_shim_size(q.x, 1), n2);
            float x0[B * N * D], keys[B * H * N * DH], x[B * N * D], sz[B * N];
            int64_t pos[B * N];
            host_merge_(&in, &q, n2, x0, keys, x, sz);
            host_i64_(q.pos, pos, B * (size_t)n2);
            for (int b = 0; b < B; b++) {
                int dst[N];
                tome_naive_(keys, b, p, r, dst);
                int64_t j = 0;
                for (int t = 0; t < N; t++) {
                    if (dst[t] != t) continue; /* merged away */
                    assert_int_equal(pos[b * n2 + j], t);
                    double acc[D] = {0}, w = 0;
                    for (int u = 0; u < N; u++)
                        if (dst[u] == t) {
                            w += s0[b * N + u];
                            for (int d = 0; d < D; d++) acc[d] += s0[b * N + u] * x0[(b * N + u) * D + d];
                        }
                    assert_float_equal(sz[b * n2 + j], w, 1e-6);
                    for (int d = 0; d < D; d++) assert_float_equal(x[(b * n2 + j) * D + d], acc[d] / w, 1e-4);
                    j++;
                }
                assert_int_equal(j, n2);
                if (p) assert_int_equal(dst[0], 0); /* the class token is never merged */
            }
            sk_selector_free(sel);
            sk_shim_scope_end(sc);
        }
    }
}

/* Below ToMe's cap (keep 1/4, an extension): every B is scored 3 - its best
 * (unprotected) A similarity, A tokens below all B, and each dropped token
 * merges into the most similar kept token. */
static void test_tome_below_half(void **st)
{
    (void)st;
    sk_scope *sc = sk_shim_scope_begin();
    sk_select_config c;
    config_(&c, "tome", "merge", 0.25, 1);
    sk_select_model m = model_();
    inputs in = inputs_(93);
    sk_selector *sel = NULL;
    assert_int_equal(sk_selector_create(&sel, &c, &m, SEED), 0);
    sk_seq q = seq_(&in);
    assert_int_equal(sk_selector_apply(sel, 1, 0, &q), 0);
    int64_t k = expected_k_(c.keep), n2 = P + k;
    assert_int_equal(sk_shim_size(q.x, 1), n2);
    float x0[B * N * D], keys[B * H * N * DH], x[B * N * D], sz[B * N];
    host_merge_(&in, &q, n2, x0, keys, x, sz);
    for (int b = 0; b < B; b++) {
        double mu[M][DH], sim[M][M];
        ref_unit_keys_(keys, b, mu);
        for (int t = 0; t < M; t++)
            for (int u = 0; u < M; u++) {
                sim[t][u] = 0;
                for (int e = 0; e < DH; e++) sim[t][u] += mu[t][e] * mu[u][e];
            }
        float s[M];
        for (int t = 0; t < M; t++) { /* position P + t: B when odd */
            int is_b = (P + t) % 2 == 1;
            double best = -INFINITY;
            for (int u = 0; u < M; u++)
                if (((P + u) % 2 == 1) != is_b && sim[t][u] > best) best = sim[t][u];
            s[t] = is_b ? (float)(3.0 - best) : -1.0f;
        }
        int64_t kept[M], slot[M];
        ref_topk_(s, k, kept);
        for (int t = 0; t < M; t++) slot[t] = -1;
        for (int64_t j = 0; j < k; j++) slot[kept[j]] = j;
        double acc[M][D] = {{0}}, cnt[M] = {0};
        for (int t = 0; t < M; t++) {
            int64_t j = slot[t];
            if (j < 0) {
                double best = -INFINITY;
                for (int64_t i = 0; i < k; i++)
                    if (sim[t][kept[i]] > best) best = sim[t][kept[i]], j = i;
            }
            cnt[j] += 1;
            for (int d = 0; d < D; d++) acc[j][d] += x0[(b * N + P + t) * D + d];
        }
        for (int64_t j = 0; j < k; j++) {
            assert_float_equal(sz[b * n2 + P + j], cnt[j], 1e-6);
            for (int d = 0; d < D; d++) assert_float_equal(x[(b * n2 + P + j) * D + d], acc[j][d] / cnt[j], 1e-4);
        }
    }
    sk_selector_free(sel);
    sk_shim_scope_end(sc);
}

/* A toy block l on whatever rows it is given: x * (l + 2) + (l + 1). */
static double toy_block_(int l, double x) { return x * (l + 2) + (l + 1); }

/* Run the blocks 0..DEPTH-1 of a random-ltd x drop-restore span 0..3 under
 * sk_select.h's calling protocol with the toy blocks, against a naive
 * DeepSpeed random-LTD (each block gathers its subset of the full sequence,
 * runs, and scatters back; the rest pass unchanged). Subsets: pos [B, P + k]
 * per block into subs. */
static void run_ltd_span_(sk_selector *sel, const inputs *in, int64_t step, int64_t k, int64_t subs[3][B][N])
{
    sk_seq q = seq_(in);
    float full[B * N * D], got[B * N * D];
    host_f32_(in->x, full, B * N * D);
    for (int l = 0; l <= DEPTH; l++) {
        int w = sk_selector_wants(sel, l);
        if (w & SK_SELECT_RESTORE) {
            assert_int_equal(sk_selector_restore(sel, l, &q), 0);
            assert_int_equal(sk_shim_size(q.x, 1), N);
            host_f32_(q.x, got, B * N * D); /* the full sequence after blocks < l */
            for (int i = 0; i < B * N * D; i++) assert_float_equal(got[i], full[i], 1e-3);
        }
        if (l == DEPTH) break;
        if (w & SK_SELECT_APPLY) {
            assert_int_equal(sk_selector_apply(sel, l, step, &q), 0);
            assert_int_equal(sk_shim_size(q.x, 1), P + k);
            host_i64_(q.pos, subs[l][0], B * (size_t)(P + k));
            host_f32_(q.x, got, B * (size_t)(P + k) * D);
            for (int b = 0; b < B; b++) {
                const int64_t *s = subs[l][0] + b * (P + k);
                assert_int_equal(s[0], 0);                                        /* class token always in */
                for (int64_t j = 1; j < P + k; j++) assert_true(s[j] > s[j - 1]); /* sorted, distinct */
                for (int64_t j = 0; j < P + k; j++)                               /* gathered from the full sequence */
                    for (int d = 0; d < D; d++)
                        assert_float_equal(got[(b * (P + k) + j) * D + d], full[(b * N + s[j]) * D + d], 1e-3);
                for (int64_t j = 0; j < P + k; j++) /* naive: the block on the subset, scattered back */
                    for (int d = 0; d < D; d++) {
                        float *v = &full[(b * N + s[j]) * D + d];
                        *v = (float)toy_block_(l, *v);
                    }
            }
        } else {
            for (int i = 0; i < B * N * D; i++) full[i] = (float)toy_block_(l, full[i]);
        }
        q.x = sk_shim_add_scalar(sk_shim_mul_scalar(q.x, l + 2), l + 1);
    }
    host_f32_(q.x, got, B * N * D);
    for (int i = 0; i < B * N * D; i++) assert_float_equal(got[i], full[i], 1e-3);
}

/* random-ltd draws an independent sorted subset of the configured size for
 * every block of its span (DeepSpeed's RandomLayerTokenDrop), dropped tokens
 * pass each block unchanged, draws are a function of (seed, step), and the
 * FLOPs count every block at the length it ran; drop-restore with another
 * scorer keeps one subset over the span. */
static void test_random_ltd_per_block(void **st)
{
    (void)st;
    sk_scope *sc = sk_shim_scope_begin();
    sk_select_config c;
    config_(&c, "random-ltd", "drop-restore", 0.5, 0);
    c.restore_layer = 3;
    sk_select_model m = model_();
    inputs in = inputs_(55);
    int64_t k = expected_k_(c.keep);
    sk_selector *sel = NULL;
    assert_int_equal(sk_selector_create(&sel, &c, &m, SEED), 0);
    assert_int_equal(sk_selector_wants(sel, 0), SK_SELECT_APPLY);
    assert_int_equal(sk_selector_wants(sel, 1), SK_SELECT_APPLY | SK_SELECT_RESTORE);
    assert_int_equal(sk_selector_wants(sel, 2), SK_SELECT_APPLY | SK_SELECT_RESTORE);
    assert_int_equal(sk_selector_wants(sel, 3), SK_SELECT_RESTORE);
    static int64_t s1[3][B][N], s2[3][B][N], s3[3][B][N];
    size_t per = sizeof(int64_t) * B * (size_t)(P + k);
    run_ltd_span_(sel, &in, 7, k, s1);
    for (int l = 0; l < 2; l++) /* a new draw at every block */
        for (int l2 = l + 1; l2 < 3; l2++) assert_memory_not_equal(s1[l][0], s1[l2][0], per);
    sk_select_stats ss;
    sk_selector_stats(sel, &ss);
    int64_t want[DEPTH] = {P + k, P + k, P + k, N};
    for (int l = 0; l < DEPTH; l++) assert_int_equal(ss.tokens_in[l], want[l]);
    assert_int_equal(ss.forwards, 1);
    assert_float_equal(sk_selector_flops(sel, 4.0), sk_select_flops(&m, 4.0, want), 1e-6);
    /* the same (seed, step): the same subsets */
    sk_selector *sel2 = NULL;
    assert_int_equal(sk_selector_create(&sel2, &c, &m, SEED), 0);
    run_ltd_span_(sel2, &in, 7, k, s2);
    for (int l = 0; l < 3; l++) assert_memory_equal(s1[l][0], s2[l][0], per);
    run_ltd_span_(sel2, &in, 8, k, s3); /* another step: other subsets */
    for (int l = 0; l < 3; l++) assert_memory_not_equal(s1[l][0], s3[l][0], per);
    sk_selector_stats(sel2, &ss);
    assert_int_equal(ss.forwards, 2);
    sk_selector_free(sel2);
    sk_selector_free(sel);
    /* drop-restore with another scorer: one subset for the whole span */
    snprintf(c.scorer, sizeof c.scorer, "random");
    assert_int_equal(sk_selector_create(&sel, &c, &m, SEED), 0);
    assert_int_equal(sk_selector_wants(sel, 1), 0);
    assert_int_equal(sk_selector_wants(sel, 2), 0);
    assert_int_equal(sk_selector_wants(sel, 3), SK_SELECT_RESTORE);
    sk_selector_free(sel);
    sk_shim_scope_end(sc);
}

/* Exactly tied scores (identical tokens: background patches do this) must
 * still split into disjoint kept and merged sets: the norm of identical
 * hidden states ties everywhere, and every token is counted once. */
static void test_merge_tied_scores(void **st)
{
    (void)st;
    sk_scope *sc = sk_shim_scope_begin();
    sk_select_config c;
    config_(&c, "norm", "merge", 0.5, 1);
    sk_select_model m = model_();
    inputs in = inputs_(5);
    /* a few larger tokens, then a tied group that the budget cuts through */
    float xs[B * N * D];
    for (int i = 0; i < B * N * D; i++) xs[i] = (i / D) % N < 1 + 5 ? 2.0f : 0.75f;
    in.x = sk_shim_from_host(xs, (int64_t[]){B, N, D}, 3, SK_F32, SK_CPU);
    in.keys = NULL;
    for (int f = 0; f < 2; f++) {
        c.merge_into = f ? SK_MERGE_FUSED : SK_MERGE_NEAREST;
        sk_selector *sel = NULL;
        assert_int_equal(sk_selector_create(&sel, &c, &m, SEED), 0);
        sk_seq q = seq_(&in);
        assert_int_equal(sk_selector_apply(sel, 1, 0, &q), 0);
        int64_t n2 = sk_shim_size(q.x, 1), pos[B * N];
        float sz[B * N], xo[B * N * D];
        assert_int_equal(n2, P + expected_k_(c.keep));
        host_f32_(q.sizes, sz, B * (size_t)n2);
        host_i64_(q.pos, pos, B * (size_t)n2);
        host_f32_(q.x, xo, B * (size_t)n2 * D);
        for (int i = 0; i < B * n2 * D; i++) /* means of 2 and 0.75 (a kept token merged away leaves 0/0) */
            assert_true(xo[i] >= 0.75f - 1e-5f && xo[i] <= 2.0f + 1e-5f);
        for (int b = 0; b < B; b++) {
            double tot = 0;
            for (int64_t j = 0; j < n2; j++) {
                assert_true(sz[b * n2 + j] >= 1.0f); /* each slot holds at least its own token */
                tot += sz[b * n2 + j];
            }
            assert_float_equal(tot, N, 1e-5);
            for (int64_t j = P + 1; j < n2 - f; j++) assert_true(pos[b * n2 + j] > pos[b * n2 + j - 1]);
        }
        sk_selector_free(sel);
    }
    sk_shim_scope_end(sc);
}

/* merge_weight=score: each merged row is sum_t s_t x_t / sum_t s_t over the
 * tokens merged into it (sizes still add up), for the nearest kept token
 * (head-mean key cosine) and for the fused token, against a naive loop. */
static void test_merge_score_weights(void **st)
{
    (void)st;
    for (int f = 0; f < 2; f++) {
        sk_scope *sc = sk_shim_scope_begin();
        sk_select_config c;
        config_(&c, "attn-cls", "merge", 0.5, 1);
        c.merge_weight = SK_MERGE_BY_SCORE;
        c.merge_into = f ? SK_MERGE_FUSED : SK_MERGE_NEAREST;
        sk_select_model m = model_();
        inputs in = inputs_(33 + (uint64_t)f);
        int64_t k = expected_k_(c.keep), n2 = P + k;
        float s[B * M];
        ref_scores_(sk_scorer_find("attn-cls"), &c, &m, &in, k, s);
        sk_selector *sel = NULL;
        assert_int_equal(sk_selector_create(&sel, &c, &m, SEED), 0);
        sk_seq q = seq_(&in);
        assert_int_equal(sk_selector_apply(sel, 1, 0, &q), 0);
        assert_int_equal(sk_shim_size(q.x, 1), n2);
        float x0[B * N * D], keys[B * H * N * DH], x[B * N * D], sz[B * N];
        host_merge_(&in, &q, n2, x0, keys, x, sz);
        for (int b = 0; b < B; b++) {
            int64_t kept[M], slot[M], nk = f ? k - 1 : k;
            ref_topk_(s + b * M, nk, kept);
            for (int t = 0; t < M; t++) slot[t] = -1;
            for (int64_t j = 0; j < nk; j++) slot[kept[j]] = j;
            double mu[M][DH];
            ref_unit_keys_(keys, b, mu);
            double acc[M][D] = {{0}}, wsum[M] = {0}, cnt[M] = {0};
            for (int t = 0; t < M; t++) {
                int64_t j = slot[t];
                if (j < 0 && f) j = nk; /* the fused token, last */
                if (j < 0) {
                    double best = -INFINITY;
                    for (int64_t i = 0; i < nk; i++) {
                        double dot = 0;
                        for (int e = 0; e < DH; e++) dot += mu[t][e] * mu[kept[i]][e];
                        if (dot > best) best = dot, j = i;
                    }
                }
                double w = (f && slot[t] >= 0) ? 1.0 : s[b * M + t]; /* kept tokens pass as they are when fused */
                cnt[j] += 1;
                wsum[j] += w;
                for (int d = 0; d < D; d++) acc[j][d] += w * x0[(b * N + P + t) * D + d];
            }
            for (int64_t j = 0; j < k; j++) {
                assert_float_equal(sz[b * n2 + P + j], cnt[j], 1e-6);
                for (int d = 0; d < D; d++) assert_float_equal(x[(b * n2 + P + j) * D + d], acc[j][d] / wsum[j], 1e-4);
            }
        }
        sk_selector_free(sel);
        /* only for merge, and only with nonnegative scores */
        snprintf(c.scorer, sizeof c.scorer, "tome");
        c.merge_into = SK_MERGE_NEAREST;
        assert_true(create_msg_(&c, &m, "nonnegative"));
        snprintf(c.scorer, sizeof c.scorer, "attn-cls");
        snprintf(c.strategy, sizeof c.strategy, "prune");
        assert_true(create_msg_(&c, &m, "merges none"));
        snprintf(c.strategy, sizeof c.strategy, "merge");
        c.merge_weight = 2; /* not a mode: a hand-filled struct is range-checked */
        assert_true(create_msg_(&c, &m, "select.merge_weight"));
        sk_shim_scope_end(sc);
    }
}

/* The score formulas against naive loops over the same inputs: norm of the
 * hidden state and of the head-mean key, the class token's attention
 * (attn-cls), the attention received (attn-received), and the learned
 * predictor LN -> Linear -> GELU -> Linear with its own parameters. */
static void test_scores_match_naive(void **st)
{
    (void)st;
    sk_scope *sc = sk_shim_scope_begin();
    sk_select_model m = model_();
    inputs in = inputs_(47);
    float x0[B * N * D], keys[B * H * N * DH], attn[B * H * N * N], s[B * M];
    host_f32_(in.x, x0, B * N * D);
    host_f32_(in.keys, keys, B * H * N * DH);
    host_f32_(in.attn, attn, B * H * N * N);
    static const char *const names[5] = {"norm", "norm", "attn-cls", "attn-received", "learned"};
    for (int v = 0; v < 5; v++) {
        sk_select_config c;
        defaults_(&c);
        snprintf(c.scorer, sizeof c.scorer, "%s", names[v]);
        if (v == 1) c.norm_source = SK_NORM_KEY;
        const sk_scorer_vtable *vt = sk_scorer_find(names[v]);
        assert_non_null(vt);
        /* the scorer instance, made as the selector makes it (learned: its parameters) */
        sk_generator *g = NULL;
        void *state = NULL;
        assert_int_equal(sk_generator_create(&g, SEED, SK_CPU), 0);
        sk_scorer_init init = {&m, &c, 1, g};
        if (vt->create) assert_int_equal(vt->create(&state, &init), 0);
        sk_seq q = seq_(&in);
        sk_score_args a = {expected_k_(0.5), 0, g};
        sk_tensor *t = NULL;
        assert_int_equal(vt->score(state, &q, &a, &t), 0);
        host_f32_(t, s, B * M);
        float w[6][D * D];
        int hid = 0;
        if (v == 4) {
            sk_tensor *const *pp = NULL;
            const char *const *nm = NULL;
            int np = 0;
            assert_int_equal(vt->params(state, &pp, &nm, &np), 0);
            assert_int_equal(np, 6);
            hid = (int)sk_shim_size(pp[2], 0);
            assert_true(hid * D <= D * D);
            for (int i = 0; i < 6; i++) host_f32_(pp[i], w[i], (size_t)sk_shim_numel(pp[i]));
        }
        for (int b = 0; b < B; b++)
            for (int i = 0; i < M; i++) {
                int tok = P + i;
                double ref = 0;
                if (v == 0) {
                    for (int d = 0; d < D; d++) ref += (double)x0[(b * N + tok) * D + d] * x0[(b * N + tok) * D + d];
                    ref = sqrt(ref);
                } else if (v == 1) {
                    for (int e = 0; e < DH; e++) {
                        double mk = 0;
                        for (int h = 0; h < H; h++) mk += keys[((b * H + h) * N + tok) * DH + e] / H;
                        ref += mk * mk;
                    }
                    ref = sqrt(ref);
                } else if (v == 2) {
                    for (int h = 0; h < H; h++) ref += attn[((b * H + h) * N + 0) * N + tok] / H;
                } else if (v == 3) {
                    for (int h = 0; h < H; h++)
                        for (int qr = 0; qr < N; qr++) ref += attn[((b * H + h) * N + qr) * N + tok] / (H * N);
                } else {
                    const float *xt = x0 + (b * N + tok) * D;
                    double mu = 0, var = 0, ln[D];
                    for (int d = 0; d < D; d++) mu += xt[d] / D;
                    for (int d = 0; d < D; d++) var += (xt[d] - mu) * (xt[d] - mu) / D;
                    for (int d = 0; d < D; d++) ln[d] = (xt[d] - mu) / sqrt(var + 1e-5) * w[0][d] + w[1][d];
                    ref = w[5][0];
                    for (int j = 0; j < hid; j++) {
                        double z = w[3][j];
                        for (int d = 0; d < D; d++) z += w[2][j * D + d] * ln[d];
                        ref += w[4][j] * 0.5 * z * (1.0 + erf(z / sqrt(2.0)));
                    }
                }
                assert_float_equal(s[b * M + i], ref, 1e-5 * (1 + fabs(ref)));
            }
        if (vt->destroy) vt->destroy(state);
        sk_generator_free(g);
    }
    sk_shim_scope_end(sc);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(ckpt_, sizeof ckpt_, "%s/test_select_frozen_%ld.safetensors", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    {
        sk_selector *ls = learned_();
        sk_tensor *const *p = NULL;
        const char *const *names = NULL;
        int n = 0;
        if (sk_selector_params(ls, &p, &names, &n) < 0 || n != 6) return 1;
        write_safetensors_(ckpt_, p, names, n);
        sk_selector_free(ls);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_scorer_x_strategy),
        cmocka_unit_test(test_learned_gradients),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_schedule_and_flops),
        cmocka_unit_test(test_frozen_matches_learned),
        cmocka_unit_test(test_frozen_text_surprisal),
        cmocka_unit_test(test_causal_keep),
        cmocka_unit_test(test_uniform_grid_and_pool),
        cmocka_unit_test(test_merge_fused),
        cmocka_unit_test(test_tome_matches_naive),
        cmocka_unit_test(test_tome_below_half),
        cmocka_unit_test(test_random_ltd_per_block),
        cmocka_unit_test(test_merge_tied_scores),
        cmocka_unit_test(test_merge_score_weights),
        cmocka_unit_test(test_scores_match_naive),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    remove(ckpt_);
    return failed;
}
