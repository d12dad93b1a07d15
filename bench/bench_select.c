/* bench_select.c - training step time of a ViT with token selection, every
 * scorer at keep 0.5 and 0.25 against the full sequence, side by side in
 * one run (rows interleaved round by round so machine load hits all rows
 * alike; the median per row is reported).
 *
 * Model: Fashion-MNIST 28x28, patch 2 -> 196 patches + class token, width
 * 128, 4 heads, 4 pre-LN blocks, MLP ratio 4, AdamW; written here over the
 * shim (the trainer's ViT had not landed). Scorers that need nothing from a
 * block apply before block 0; those that need attention or keys apply
 * before block 1 (block 0 runs full, and its attention is taken in explicit
 * form); random-ltd drops before block 0 and restores before block 3.
 * merge rows add log(size) to the attention logits (proportional attention).
 *
 * usage: bench_select [batch] [rounds] [threads] [scorers]
 * scorers: a comma-separated list to run only those rows (and the full
 * row they are compared with), e.g. "tome,random"; default all.
 * prints one row per config: step ms, ratio to full, FLOP ratio, the
 * speedup's share of the FLOP-predicted speedup, selection overhead. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sk_weights.h"
#include "sk_select.h"
#include "sk_select_config.h"

enum {
    IMG = 28,
    PATCH = 2,
    G = IMG / PATCH,
    NP_ = G * G,
    NT = NP_ + 1,
    D = 128,
    H = 4,
    DH = D / H,
    F = 4 * D,
    L = 4,
    C = 10,
    PD = PATCH * PATCH
};

#define CHECK(x)                                                            \
    do {                                                                    \
        if (!(x)) {                                                         \
            fprintf(stderr, "bench_select: %s: %s\n", #x, sk_error_last()); \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

static double now_(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Whether `name` is one of the comma-separated `list` (NULL: all). */
static int listed_(const char *list, const char *name)
{
    if (!list) return 1;
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* ---- model ---------------------------------------------------------- */
enum { B_LN1W, B_LN1B, B_QKVW, B_QKVB, B_PROJW, B_PROJB, B_LN2W, B_LN2B, B_FC1W, B_FC1B, B_FC2W, B_FC2B, BP };
typedef struct {
    sk_tensor *embw, *embb, *cls, *posemb, *blk[L][BP], *lnw, *lnb, *headw, *headb;
    sk_tensor *all[8 + L * BP];
    int n;
} vit;

static sk_tensor *param_(vit *m, sk_generator *g, const int64_t *shape, int nd, int kind)
{
    sk_tensor *t = kind == 0   ? sk_shim_zeros(shape, nd, SK_F32, SK_CPU)
                   : kind == 1 ? sk_shim_ones(shape, nd, SK_F32, SK_CPU)
                               : sk_shim_mul_scalar(sk_shim_randn(shape, nd, SK_F32, SK_CPU, g), 0.02);
    t = sk_shim_keep(sk_shim_contiguous(t));
    CHECK(t);
    CHECK(sk_shim_set_requires_grad(t, 1) == 0);
    m->all[m->n++] = t;
    return t;
}

static void vit_init_(vit *m, sk_generator *g)
{
    memset(m, 0, sizeof *m);
    m->embw = param_(m, g, (int64_t[]){D, PD}, 2, 2);
    m->embb = param_(m, g, (int64_t[]){D}, 1, 0);
    m->cls = param_(m, g, (int64_t[]){1, 1, D}, 3, 2);
    m->posemb = param_(m, g, (int64_t[]){1, NT, D}, 3, 2);
    for (int l = 0; l < L; l++) {
        sk_tensor **p = m->blk[l];
        p[B_LN1W] = param_(m, g, (int64_t[]){D}, 1, 1);
        p[B_LN1B] = param_(m, g, (int64_t[]){D}, 1, 0);
        p[B_QKVW] = param_(m, g, (int64_t[]){3 * D, D}, 2, 2);
        p[B_QKVB] = param_(m, g, (int64_t[]){3 * D}, 1, 0);
        p[B_PROJW] = param_(m, g, (int64_t[]){D, D}, 2, 2);
        p[B_PROJB] = param_(m, g, (int64_t[]){D}, 1, 0);
        p[B_LN2W] = param_(m, g, (int64_t[]){D}, 1, 1);
        p[B_LN2B] = param_(m, g, (int64_t[]){D}, 1, 0);
        p[B_FC1W] = param_(m, g, (int64_t[]){F, D}, 2, 2);
        p[B_FC1B] = param_(m, g, (int64_t[]){F}, 1, 0);
        p[B_FC2W] = param_(m, g, (int64_t[]){D, F}, 2, 2);
        p[B_FC2B] = param_(m, g, (int64_t[]){D}, 1, 0);
    }
    m->lnw = param_(m, g, (int64_t[]){D}, 1, 1);
    m->lnb = param_(m, g, (int64_t[]){D}, 1, 0);
    m->headw = param_(m, g, (int64_t[]){C, D}, 2, 2);
    m->headb = param_(m, g, (int64_t[]){C}, 1, 0);
}

/* One pre-LN block on seq (x, sizes, attn_bias); fills attn / keys when asked. */
static sk_tensor *block_(vit *m, int l, sk_seq *s, int want_attn, int want_keys)
{
    sk_tensor **p = m->blk[l];
    int64_t b = sk_shim_size(s->x, 0), n = sk_shim_size(s->x, 1);
    sk_tensor *h = sk_shim_layer_norm(s->x, p[B_LN1W], p[B_LN1B], 1e-6);
    sk_tensor *qkv =
        sk_shim_permute(sk_shim_reshape(sk_shim_linear(h, p[B_QKVW], p[B_QKVB]), (int64_t[]){b, n, 3, H, DH}, 5),
                        (int64_t[]){2, 0, 3, 1, 4}, 5); /* [3, B, H, N, DH] */
    sk_tensor *q = sk_shim_squeeze(sk_shim_slice(qkv, 0, 0, 1), 0);
    sk_tensor *k = sk_shim_squeeze(sk_shim_slice(qkv, 0, 1, 2), 0);
    sk_tensor *v = sk_shim_squeeze(sk_shim_slice(qkv, 0, 2, 3), 0);
    sk_tensor *bias = s->attn_bias;
    if (s->sizes) {
        sk_tensor *ls = sk_shim_reshape(sk_shim_log(s->sizes), (int64_t[]){b, 1, 1, n}, 4);
        bias = bias ? sk_shim_add(bias, ls) : ls;
    }
    sk_tensor *o, *probs = NULL;
    if (want_attn)
        o = sk_shim_attention_probs(q, k, v, bias, 0, &probs);
    else
        o = sk_shim_sdpa(q, k, v, bias, 0);
    s->attn = probs;
    s->keys = want_keys ? k : NULL;
    o = sk_shim_reshape(sk_shim_transpose(o, 1, 2), (int64_t[]){b, n, D}, 3);
    sk_tensor *x = sk_shim_add(s->x, sk_shim_linear(o, p[B_PROJW], p[B_PROJB]));
    h = sk_shim_layer_norm(x, p[B_LN2W], p[B_LN2B], 1e-6);
    h = sk_shim_linear(sk_shim_gelu(sk_shim_linear(h, p[B_FC1W], p[B_FC1B])), p[B_FC2W], p[B_FC2B]);
    return sk_shim_add(x, h);
}

/* Forward to the loss: patches [B, 196, 4], labels [B]. */
static sk_tensor *forward_(vit *m, sk_selector *sel, int64_t step, sk_tensor *patches, sk_tensor *labels,
                           sk_tensor *pos)
{
    int64_t b = sk_shim_size(patches, 0);
    sk_tensor *e = sk_shim_linear(patches, m->embw, m->embb);
    sk_tensor *parts[2] = {sk_shim_expand(m->cls, (int64_t[]){b, 1, D}, 3), e};
    sk_seq s = {0};
    s.x = sk_shim_add(sk_shim_cat(parts, 2, 1), m->posemb);
    s.pos = pos;
    s.n_protected = 1;
    s.training = 1;
    for (int l = 0; l < L; l++) {
        int w = sk_selector_wants(sel, l);
        if (w & SK_SELECT_RESTORE) CHECK(sk_selector_restore(sel, l, &s) == 0);
        if (w & SK_SELECT_APPLY) CHECK(sk_selector_apply(sel, l, step, &s) == 0);
        int wn = l + 1 < L ? sk_selector_wants(sel, l + 1) : 0;
        s.x = block_(m, l, &s, (wn & SK_SELECT_NEEDS_ATTN) != 0, (wn & SK_SELECT_NEEDS_KEYS) != 0);
        CHECK(s.x);
    }
    sk_tensor *cls = sk_shim_squeeze(sk_shim_slice(sk_shim_layer_norm(s.x, m->lnw, m->lnb, 1e-6), 1, 0, 1), 1);
    sk_tensor *loss = sk_shim_cross_entropy(sk_shim_linear(cls, m->headw, m->headb), labels, -100);
    sk_tensor *aux = NULL;
    CHECK(sk_selector_aux_loss(sel, &aux) == 0);
    return aux ? sk_shim_add(loss, aux) : loss;
}

/* ---- data ----------------------------------------------------------- */
#define NIMG 4096
static unsigned char images_[NIMG][IMG * IMG], labels_[NIMG];

static int load_(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "gzip -dc %s/train-images-idx3-ubyte.gz", dir);
    FILE *f = popen(cmd, "r");
    unsigned char hdr[16];
    if (!f || fread(hdr, 1, 16, f) != 16 || fread(images_, 1, sizeof images_, f) != sizeof images_) {
        if (f) pclose(f);
        return -1;
    }
    pclose(f);
    snprintf(cmd, sizeof cmd, "gzip -dc %s/train-labels-idx1-ubyte.gz", dir);
    f = popen(cmd, "r");
    if (!f || fread(hdr, 1, 8, f) != 8 || fread(labels_, 1, sizeof labels_, f) != sizeof labels_) {
        if (f) pclose(f);
        return -1;
    }
    pclose(f);
    return 0;
}

/* Batch `i` as patches [B, 196, 4] (row-major patches, pixels in [0, 1]). */
static void batch_(int bsz, int i, float *px, int64_t *lab)
{
    for (int b = 0; b < bsz; b++) {
        int idx = (i * bsz + b) % NIMG;
        lab[b] = labels_[idx];
        for (int pr = 0; pr < G; pr++)
            for (int pc = 0; pc < G; pc++)
                for (int dy = 0; dy < PATCH; dy++)
                    for (int dx = 0; dx < PATCH; dx++)
                        px[((size_t)b * NP_ + pr * G + pc) * PD + dy * PATCH + dx] =
                            images_[idx][(pr * PATCH + dy) * IMG + pc * PATCH + dx] / 255.0f;
    }
}

/* ---- configs -------------------------------------------------------- */
typedef struct {
    const char *scorer, *strategy;
    double keep;
    int layer;
    sk_selector *sel;
    sk_adamw *opt;
    vit m;
    double *ms, sel_s, flop_ratio;
    int64_t tokens[L];
} row;

int main(int argc, char **argv)
{
    int bsz = argc > 1 ? atoi(argv[1]) : 32;
    int rounds = argc > 2 ? atoi(argv[2]) : 7;
    int threads = argc > 3 ? atoi(argv[3]) : 2;
    const char *only = argc > 4 ? argv[4] : NULL;
    const char *dir = getenv("SK_FASHION_MNIST") ? getenv("SK_FASHION_MNIST") : "/usr/share/datasets/fashion-mnist";
    sk_shim_set_num_threads(threads);
    sk_shim_tune_host_allocator((size_t)64 << 20);
    int real = load_(dir) == 0;
    if (!real) {
        fprintf(stderr, "bench_select: %s not readable, using random pixels\n", dir);
        srand(1);
        for (int i = 0; i < NIMG; i++) {
            labels_[i] = (unsigned char)(rand() % C);
            for (int j = 0; j < IMG * IMG; j++) images_[i][j] = (unsigned char)(rand() & 255);
        }
    }
    static const struct {
        const char *sc, *st;
        int layer;
    } kinds[] = {
        {"random", "prune", 0},        {"uniform", "prune", 0}, {"pool", "merge", 0},
        {"norm", "prune", 0},          {"learned", "prune", 0}, {"attn-cls", "prune", 1},
        {"attn-received", "prune", 1}, {"tome", "merge", 1},    {"random-ltd", "drop-restore", 0},
        {"frozen", "prune", 0},
    };
    enum { NK = sizeof kinds / sizeof kinds[0] };
    static const double keeps[2] = {0.5, 0.25};
    row rows[1 + 2 * NK];
    int nr = 0;
    rows[nr++] = (row){"none", "-", 1.0, -1, NULL, NULL, {0}, NULL, 0, 0, {0}};
    for (int kk = 0; kk < 2; kk++)
        for (int i = 0; i < NK; i++)
            if (listed_(only, kinds[i].sc))
                rows[nr++] =
                    (row){kinds[i].sc, kinds[i].st, keeps[kk], kinds[i].layer, NULL, NULL, {0}, NULL, 0, 0, {0}};

    sk_select_model sm = {0};
    sm.depth = L;
    sm.width = D;
    sm.heads = H;
    sm.tokens = NT;
    sm.n_protected = 1;
    sm.grid_h = G;
    sm.grid_w = G;
    /* frozen loads a scorer network: the predictor of a (fresh) learned
     * scorer at layer 0, written where the rows below can find it */
    char frozen_path[64];
    snprintf(frozen_path, sizeof frozen_path, "/tmp/bench_select_frozen_%ld.safetensors", (long)getpid());
    {
        sk_select_config c;
        const sk_cfg_section *secs[1] = {&sk_select_section};
        void *bases[1] = {&c};
        CHECK(sk_cfg_defaults(secs, 1, bases) == 0);
        snprintf(c.scorer, sizeof c.scorer, "learned");
        c.layers.n = 1;
        c.layers.v[0] = 0;
        sk_selector *ls = NULL;
        sk_tensor *const *sp = NULL;
        const char *const *nm = NULL;
        int ns = 0;
        CHECK(sk_selector_create(&ls, &c, &sm, 7) == 0);
        CHECK(sk_selector_params(ls, &sp, &nm, &ns) == 0);
        CHECK(sk_weights_write(frozen_path, nm, sp, ns, NULL, 0) == 0);
        sk_selector_free(ls);
    }
    for (int r = 0; r < nr; r++) {
        row *w = &rows[r];
        sk_generator *g = NULL;
        CHECK(sk_generator_create(&g, 42, SK_CPU) == 0);
        vit_init_(&w->m, g);
        sk_generator_free(g);
        sk_select_config c;
        const sk_cfg_section *secs[1] = {&sk_select_section};
        void *bases[1] = {&c};
        CHECK(sk_cfg_defaults(secs, 1, bases) == 0);
        snprintf(c.scorer, sizeof c.scorer, "%s", w->scorer);
        snprintf(c.strategy, sizeof c.strategy, "%s", strcmp(w->strategy, "-") ? w->strategy : "prune");
        c.keep = w->keep;
        c.layers.n = 1;
        c.layers.v[0] = w->layer < 0 ? 0 : w->layer;
        snprintf(c.checkpoint, sizeof c.checkpoint, "%s", frozen_path);
        CHECK(sk_selector_create(&w->sel, &c, &sm, 7) == 0);
        sk_tensor *ps[64 + 8 + L * BP];
        int np = 0;
        for (int i = 0; i < w->m.n; i++) ps[np++] = w->m.all[i];
        sk_tensor *const *sp = NULL;
        const char *const *nm = NULL;
        int ns = 0;
        CHECK(sk_selector_params(w->sel, &sp, &nm, &ns) == 0);
        for (int i = 0; i < ns; i++) ps[np++] = sp[i];
        sk_adamw_opts o = {1e-3, 0.9, 0.999, 1e-8, 0.0};
        CHECK(sk_adamw_create(&w->opt, ps, NULL, np, &o) == 0);
        w->ms = calloc((size_t)rounds, sizeof *w->ms);
    }
    float *px = malloc(sizeof(float) * (size_t)bsz * NP_ * PD);
    int64_t *lab = malloc(sizeof(int64_t) * (size_t)bsz);
    sk_tensor *pos = sk_shim_keep(
        sk_shim_contiguous(sk_shim_expand(sk_shim_unsqueeze(sk_shim_arange(NT, SK_CPU), 0), (int64_t[]){bsz, NT}, 2)));
    int warm = 2;
    for (int it = 0; it < warm + rounds; it++) {
        batch_(bsz, it, px, lab);
        for (int r = 0; r < nr; r++) {
            row *w = &rows[r];
            sk_scope *sc = sk_shim_scope_begin();
            double t0 = now_();
            sk_tensor *xp = sk_shim_from_host(px, (int64_t[]){bsz, NP_, PD}, 3, SK_F32, SK_CPU);
            sk_tensor *yl = sk_shim_from_host(lab, (int64_t[]){bsz}, 1, SK_I64, SK_CPU);
            sk_tensor *loss = forward_(&w->m, w->sel, it, xp, yl, pos);
            CHECK(loss);
            CHECK(sk_shim_backward(loss) == 0);
            CHECK(sk_adamw_step(w->opt, 1e-3) == 0);
            sk_tensor *const *sp = NULL;
            const char *const *nm = NULL;
            int ns = 0;
            CHECK(sk_selector_params(w->sel, &sp, &nm, &ns) == 0);
            CHECK(sk_shim_zero_grad(w->m.all, w->m.n) == 0);
            if (ns) CHECK(sk_shim_zero_grad(sp, ns) == 0);
            double dt = now_() - t0;
            sk_shim_scope_end(sc);
            if (it >= warm) {
                sk_select_stats st;
                sk_selector_stats(w->sel, &st);
                w->ms[it - warm] = dt * 1e3;
                w->sel_s += w->sel ? st.select_seconds : 0.0;
                for (int l = 0; l < L; l++) w->tokens[l] = w->sel ? st.tokens_in[l] : NT;
            }
        }
    }
    double full_f = sk_select_flops(&sm, 4.0, NULL), full_ms = 0;
    printf("# bench_select: ViT %dx%d patch %d -> %d tokens + cls, width %d, %d heads, %d blocks, batch %d, "
           "%d threads, median of %d interleaved rounds, %s data\n",
           IMG, IMG, PATCH, NP_, D, H, L, bsz, threads, rounds, real ? "Fashion-MNIST" : "random");
    printf(
        "| scorer | strategy | keep | layer | tokens/block | step ms | time ratio | FLOP ratio | speedup / FLOP speedup | select %% |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (int r = 0; r < nr; r++) {
        row *w = &rows[r];
        double tot = 0;
        for (int i = 0; i < rounds; i++) tot += w->ms[i];
        qsort(w->ms, (size_t)rounds, sizeof *w->ms, cmp_);
        double med = w->ms[rounds / 2];
        if (r == 0) full_ms = med;
        double fr = sk_select_flops(&sm, 4.0, w->tokens) / full_f;
        double tr = med / full_ms;
        printf("| %s | %s | %.2f | %d | %lld/%lld/%lld/%lld | %.1f | %.3f | %.3f | %.2f | %.2f |\n", w->scorer,
               w->strategy, w->keep, w->layer, (long long)w->tokens[0], (long long)w->tokens[1],
               (long long)w->tokens[2], (long long)w->tokens[3], med, tr, fr, (1.0 / tr) / (1.0 / fr),
               100.0 * w->sel_s * 1e3 / tot);
        sk_selector_free(w->sel);
        sk_adamw_free(w->opt);
        for (int i = 0; i < w->m.n; i++) sk_tensor_free(w->m.all[i]);
        free(w->ms);
    }
    unlink(frozen_path);
    sk_tensor_free(pos);
    free(px);
    free(lab);
    return 0;
}
