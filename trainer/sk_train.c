/* sk_train.c - the training loop (see sk_train.h). */
#include "sk_train.h"
#include "sk_time.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sk_ckpt.h"
#include "sk_dist.h"
#include "sk_fs.h"
#include "sk_dist_ddp.h"
#include "sk_gpt.h"
#include "sk_log.h"
#include "sk_progress.h"
#include "sk_safetensors.h"
#include "sk_select_config.h"
#include "sk_vit.h"

int sk_train_validate(const sk_model_config *m, const sk_train_config *t, const sk_data_config *d, int world)
{
    int rc = sk_model_config_check(m);
    if (rc < 0) return rc;
    if ((sk_model_find(m->arch)->flags & SK_MODEL_LM) && d->seq_len <= 0)
        return sk_error_set(SK_EINVAL, "data.seq_len = %lld: must be > 0", (long long)d->seq_len);
    if (t->steps <= 0) return sk_error_set(SK_EINVAL, "train.steps = %lld: must be > 0", (long long)t->steps);
    if (t->accum <= 0) return sk_error_set(SK_EINVAL, "train.accum = %lld: must be > 0", (long long)t->accum);
    if (d->batch_size <= 0 || d->batch_size % ((int64_t)world * t->accum))
        return sk_error_set(SK_EINVAL,
                            "data.batch_size = %lld: must be a positive multiple of ranks (%d) x train.accum (%lld)",
                            (long long)d->batch_size, world, (long long)t->accum);
    if (!(t->lr > 0) || !isfinite(t->lr)) return sk_error_set(SK_EINVAL, "train.lr = %g: must be > 0", t->lr);
    if (!(t->min_lr >= 0) || t->min_lr > t->lr)
        return sk_error_set(SK_EINVAL, "train.min_lr = %g: must be in [0, train.lr = %g]", t->min_lr, t->lr);
    if (t->warmup < 0 || t->warmup > t->steps)
        return sk_error_set(SK_EINVAL, "train.warmup = %lld: must be in [0, train.steps]", (long long)t->warmup);
    if (!(t->weight_decay >= 0)) return sk_error_set(SK_EINVAL, "train.weight_decay = %g: must be >= 0", t->weight_decay);
    if (!(t->beta1 >= 0 && t->beta1 < 1)) return sk_error_set(SK_EINVAL, "train.beta1 = %g: must be in [0, 1)", t->beta1);
    if (!(t->beta2 >= 0 && t->beta2 < 1)) return sk_error_set(SK_EINVAL, "train.beta2 = %g: must be in [0, 1)", t->beta2);
    if (!(t->eps > 0)) return sk_error_set(SK_EINVAL, "train.eps = %g: must be > 0", t->eps);
    if (!(t->clip >= 0)) return sk_error_set(SK_EINVAL, "train.clip = %g: must be >= 0", t->clip);
    if (t->eval_every < 0 || t->eval_batches < 0 || t->ckpt_every < 0 || t->keep_last < 0)
        return sk_error_set(SK_EINVAL, "train.eval_every / eval_batches / ckpt_every / keep_last must be >= 0");
    if (!d->eval[0] && !(d->eval_fraction > 0 && d->eval_fraction < 1))
        return sk_error_set(SK_EINVAL, "data.eval_fraction = %g: must be in (0, 1) when data.eval is empty",
                            d->eval_fraction);
    if (d->prefetch < 0) return sk_error_set(SK_EINVAL, "data.prefetch = %lld: must be >= 0", (long long)d->prefetch);
    if (!(t->bucket_mb > 0)) return sk_error_set(SK_EINVAL, "train.bucket_mb = %g: must be > 0", t->bucket_mb);
    if (!(t->bytes_per_token > 0))
        return sk_error_set(SK_EINVAL, "train.bytes_per_token = %g: must be > 0", t->bytes_per_token);
    return SK_OK;
}

/* ---- the loader as a source ------------------------------------------------------ */

static int ld_create_(void **ctx, const sk_loader_opts *o) { return sk_loader_create((sk_loader **)ctx, o); }
static void ld_free_(void *c) { sk_loader_free(c); }
static int ld_next_(void *c, const sk_batch **b) { return sk_loader_next(c, b); }
static sk_loader_pos ld_tell_(void *c) { return sk_loader_tell(c); }
static int ld_seek_(void *c, sk_loader_pos p) { return sk_loader_seek(c, p); }
static int64_t ld_spe_(void *c) { return sk_loader_steps_per_epoch(c); }
static int64_t ld_vocab_(void *c) { return sk_loader_vocab_size(c); }
static int64_t ld_classes_(void *c) { return sk_loader_num_classes(c); }
static const sk_train_source loader_source_ = {ld_create_, ld_free_, ld_next_, ld_tell_, ld_seek_,
                                               ld_spe_,    ld_vocab_, ld_classes_};
const sk_train_source *sk_train_source_loader(void) { return &loader_source_; }

/* ---- helpers ------------------------------------------------------------------------- */

/* Linear warmup, then cosine decay to min_lr (Loshchilov & Hutter 2017). */
static double lr_at_(const sk_train_config *t, int64_t step)
{
    if (step < t->warmup) return t->lr * (double)(step + 1) / (double)t->warmup;
    double span = (double)(t->steps - t->warmup);
    double p = span > 0 ? (double)(step - t->warmup) / span : 1.0;
    if (p > 1) p = 1;
    return t->min_lr + 0.5 * (t->lr - t->min_lr) * (1.0 + cos(3.14159265358979323846 * p));
}

/* Test-only fault injection (documented in tests/trainer): SK_FAULT_RANK_EXIT
 * = "rank:step" kills that rank with SIGKILL at the start of the step;
 * SK_FAULT_NAN_STEP = "step" poisons the first parameter with NaN. */
static int64_t fault_exit_step_(int rank)
{
    const char *e = getenv("SK_FAULT_RANK_EXIT");
    int r;
    long long s;
    if (e && sscanf(e, "%d:%lld", &r, &s) == 2 && r == rank) return s;
    return -1;
}

/* The model, either kind. */
typedef struct {
    int is_gpt;
    sk_vit *vit;
    sk_gpt *gpt;
    sk_model *gen; /* an arch reached through the sk_model registry (convnet) */
    sk_params *p;
    /* What training updates: the model's parameters, then a learned
     * selector's (borrowed view; never sk_params_free'd). Optimizer, DDP,
     * gradient clipping and checkpoints all run over it. */
    sk_params all;
    int64_t image_h, image_w, channels;
} model_;

/* Fill m->all with the model's parameters followed by the selector's
 * ("selector.<...>"), weight decay on matrices only, as in the model. */
static int all_params_(model_ *m, sk_selector *sel)
{
    int rc = SK_OK;
    sk_tensor *const *sp = NULL;
    const char *const *sn = NULL;
    int ns = 0;
    SK_TRY(sk_selector_params(sel, &sp, &sn, &ns));
    int n = m->p->n + ns;
    m->all.t = calloc((size_t)n, sizeof *m->all.t);
    m->all.names = calloc((size_t)n, sizeof *m->all.names);
    m->all.decay = calloc((size_t)n, sizeof *m->all.decay);
    SK_FAIL_IF(!m->all.t || !m->all.names || !m->all.decay, SK_ENOMEM, "train: out of memory");
    for (int i = 0; i < m->p->n; i++) {
        m->all.t[i] = m->p->t[i];
        m->all.names[i] = m->p->names[i];
        m->all.decay[i] = m->p->decay[i];
    }
    for (int i = 0; i < ns; i++) {
        m->all.t[m->p->n + i] = sp[i];
        m->all.names[m->p->n + i] = (char *)sn[i];
        m->all.decay[m->p->n + i] = sk_shim_ndim(sp[i]) > 1;
    }
    m->all.n = m->all.cap = n;
done:
    return rc;
}

static void all_params_free_(model_ *m)
{
    free(m->all.t);
    free(m->all.names);
    free(m->all.decay);
    memset(&m->all, 0, sizeof m->all);
}

typedef struct {
    double loss;   /* mean loss of the batch */
    double correct, count; /* vit: correct predictions / samples; gpt: scored targets */
    double tokens, tokens_kept;
    sk_tensor *loss_t;
} fwd_;

/* Forward one batch inside the caller's scope. */
static int forward_(model_ *m, const sk_batch *b, sk_selector *sel, int64_t step, int training, fwd_ *f)
{
    int rc = SK_OK;
    memset(f, 0, sizeof *f);
    if (m->is_gpt) {
        SK_FAIL_IF(b->type != SK_ELEM_I64 && b->type != SK_ELEM_I32 && b->type != SK_ELEM_U16, SK_EINVAL,
                   "gpt: token batches must hold integer tokens");
        int64_t shape[2] = {b->n, b->shape[0]};
        sk_dtype dt = b->type == SK_ELEM_I64 ? SK_I64 : SK_I32;
        sk_tensor *w;
        if (b->type == SK_ELEM_U16) {
            /* widen u16 tokens on the host: the shim has no u16 dtype */
            int32_t *tmp = malloc((size_t)(shape[0] * shape[1]) * sizeof *tmp);
            SK_FAIL_IF(!tmp, SK_ENOMEM, "gpt: out of memory");
            const uint16_t *src = b->data;
            for (int64_t i = 0; i < shape[0] * shape[1]; i++) tmp[i] = src[i];
            w = sk_shim_from_host(tmp, shape, 2, SK_I32, SK_CPU);
            free(tmp);
        } else {
            w = sk_shim_from_host(b->data, shape, 2, dt, SK_CPU);
        }
        w = sk_shim_to(w, SK_CPU, SK_I64);
        SK_TRY_T(w);
        sk_gpt_out o = {0};
        SK_TRY(sk_gpt_forward(m->gpt, w, sel, step, training, &o));
        f->loss_t = o.loss;
        f->count = (double)o.targets;
        f->tokens = (double)o.st.tokens_in;
        f->tokens_kept = o.st.depth ? (double)o.st.tokens_blocks / o.st.depth : 0;
    } else {
        SK_FAIL_IF(b->type != SK_ELEM_U8, SK_EINVAL, "vit: image batches must hold uint8 pixels");
        SK_FAIL_IF(!b->labels, SK_EINVAL, "vit: the corpus has no labels");
        int64_t shape[4] = {b->n, m->channels, m->image_h, m->image_w}, ls[1] = {b->n};
        sk_tensor *img = sk_shim_from_host(b->data, shape, 4, SK_U8, SK_CPU);
        sk_tensor *lab = sk_shim_from_host(b->labels, ls, 1, SK_I64, SK_CPU);
        SK_TRY_T(img);
        SK_TRY_T(lab);
        if (m->gen) { /* a ConvNet sees whole images: one "token" per sample */
            sk_model_out o = {0};
            SK_TRY(sk_model_forward(m->gen, img, lab, NULL, step, training, &o));
            f->loss_t = o.loss;
            f->correct = (double)o.correct;
            f->tokens = f->tokens_kept = (double)b->n;
        } else {
            sk_vit_out o = {0};
            SK_TRY(sk_vit_forward(m->vit, img, lab, sel, step, training, &o));
            f->loss_t = o.loss;
            f->correct = (double)o.correct;
            f->tokens = (double)o.st.tokens_in;
            f->tokens_kept = o.st.depth ? (double)o.st.tokens_blocks / o.st.depth : 0;
        }
        f->count = (double)b->n;
    }
    if (training) { /* a training-aware scorer's own objective (learned: its budget term) */
        sk_tensor *aux = NULL;
        SK_TRY(sk_selector_aux_loss(sel, &aux));
        if (aux) {
            f->loss_t = sk_shim_add(f->loss_t, aux);
            SK_TRY_T(f->loss_t);
        }
    }
    SK_TRY(sk_shim_item(f->loss_t, &f->loss));
done:
    return rc;
}

/* Names of parameters (grads=0) or gradients (grads=1) that hold NaN/inf. */
static void nonfinite_list_(sk_params *p, int grads, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < p->n; i++) {
        sk_tensor *t = p->t[i], *g = NULL;
        if (grads) {
            if (sk_shim_grad(p->t[i], &g) < 0 || !g) continue;
            t = g;
        }
        int fin = 1;
        sk_shim_all_finite(t, &fin);
        sk_tensor_free(g);
        if (!fin && k + strlen(p->names[i]) + 3 < cap) k += (size_t)snprintf(buf + k, cap - k, "%s%s", k ? ", " : "", p->names[i]);
    }
    if (!k) snprintf(buf, cap, "none");
}

/* Evaluate over `nb` batches of src (rewound to the start): sums over ranks. */
static int evaluate_(model_ *m, const sk_train_source *S, void *src, int64_t nb, sk_selector *sel, int64_t step,
                     double *loss, double *acc)
{
    int rc = SK_OK;
    int prev = sk_shim_set_grad_enabled(0);
    double v[3] = {0, 0, 0}; /* loss * count, correct, count */
    sk_loader_pos zero = {0, 0};
    SK_TRY(S->seek(src, zero));
    for (int64_t i = 0; i < nb; i++) {
        const sk_batch *b;
        SK_TRY(S->next(src, &b));
        sk_scope *sc = sk_shim_scope_begin();
        fwd_ f;
        rc = forward_(m, b, sel, step, 0, &f);
        sk_shim_scope_end(sc);
        if (rc < 0) goto done;
        v[0] += f.loss * f.count;
        v[1] += f.correct;
        v[2] += f.count;
    }
    SK_TRY(sk_dist_allreduce_sum(v, 3));
    *loss = v[2] > 0 ? v[0] / v[2] : NAN;
    *acc = v[2] > 0 ? v[1] / v[2] : NAN;
done:
    sk_shim_set_grad_enabled(prev);
    return rc;
}

/* Unigram baseline for LMs: token frequencies over the training split
 * (add-one smoothed), cross-entropy on the eval batches, in bits/token. */
static int unigram_bits_(const sk_train_source *S, void *train_src, int64_t ntrain, void *eval_src, int64_t neval,
                         int64_t vocab, double *bits)
{
    int rc = SK_OK;
    double *cnt = calloc((size_t)vocab + 2, sizeof *cnt);
    sk_loader_pos zero = {0, 0};
    SK_FAIL_IF(!cnt, SK_ENOMEM, "unigram: out of memory");
    for (int pass = 0; pass < 2; pass++) {
        void *src = pass ? eval_src : train_src;
        int64_t nb = pass ? neval : ntrain;
        double tot = 0, nll = 0, n = 0, ev[2];
        if (pass) {
            SK_TRY(sk_dist_allreduce_sum(cnt, (int)vocab));
            for (int64_t v = 0; v < vocab; v++) tot += cnt[v] + 1.0;
        }
        SK_TRY(S->seek(src, zero));
        for (int64_t i = 0; i < nb; i++) {
            const sk_batch *b;
            SK_TRY(S->next(src, &b));
            int64_t T = b->shape[0];
            for (int64_t r = 0; r < b->n; r++)
                for (int64_t j = 0; j < T - 1; j++) {
                    int64_t k = r * T + j + (pass ? 1 : 0);
                    int64_t tok = b->type == SK_ELEM_I64 ? ((const int64_t *)b->data)[k]
                                  : b->type == SK_ELEM_I32 ? ((const int32_t *)b->data)[k]
                                                           : ((const uint16_t *)b->data)[k];
                    if (tok < 0 || tok >= vocab) continue;
                    if (pass) {
                        nll += -log2((cnt[tok] + 1.0) / tot);
                        n += 1;
                    } else {
                        cnt[tok] += 1;
                    }
                }
        }
        if (pass) {
            ev[0] = nll;
            ev[1] = n;
            SK_TRY(sk_dist_allreduce_sum(ev, 2));
            *bits = ev[1] > 0 ? ev[0] / ev[1] : NAN;
        }
    }
done:
    free(cnt);
    return rc;
}

static void config_json_(const sk_model_config *m, const sk_train_config *t, const sk_data_config *d, char *buf,
                         size_t cap)
{
    snprintf(buf, cap,
             "{\"model\": {\"arch\": \"%s\", \"width\": %lld, \"depth\": %lld, \"heads\": %lld, \"mlp_ratio\": %lld, "
             "\"patch\": %lld, \"pool\": \"%s\", \"vocab\": %lld, \"classes\": %lld}, "
             "\"data\": {\"batch_size\": %lld, \"seq_len\": %lld, \"shuffle\": %d}, "
             "\"train\": {\"steps\": %lld, \"accum\": %lld, \"lr\": %.17g, \"min_lr\": %.17g, "
             "\"warmup\": %lld, \"weight_decay\": %.17g, \"beta1\": %.17g, \"beta2\": %.17g, \"eps\": %.17g, "
             "\"clip\": %.17g}}",
             m->arch, (long long)m->width, (long long)m->depth, (long long)m->heads, (long long)m->mlp_ratio,
             (long long)m->patch, m->pool, (long long)m->vocab, (long long)m->classes, (long long)d->batch_size,
             (long long)d->seq_len, d->shuffle, (long long)t->steps, (long long)t->accum, t->lr, t->min_lr,
             (long long)t->warmup, t->weight_decay, t->beta1, t->beta2, t->eps, t->clip);
}

/* On resume, drop the records a killed run wrote after its last checkpoint,
 * so metrics.jsonl keeps one record per step (rewritten atomically). */
static int metrics_truncate_(const char *path, int64_t upto)
{
    int rc = SK_OK;
    char tmp[4200], line[4096];
    FILE *in = fopen(path, "r"), *out = NULL;
    if (!in) return SK_OK; /* nothing written yet */
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    out = fopen(tmp, "w");
    SK_FAIL_IF(!out, SK_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    while (fgets(line, sizeof line, in)) {
        long long st = 0;
        if (sscanf(line, "{\"step\": %lld", &st) == 1 && st > upto) continue;
        fputs(line, out);
    }
    int cerr = fclose(out);
    out = NULL;
    SK_FAIL_IF(cerr != 0, SK_EIO, "%s: write failed", tmp);
    SK_FAIL_IF(rename(tmp, path) != 0, SK_EIO, "%s: rename failed: %s", path, strerror(errno));
done:
    if (out) fclose(out);
    fclose(in);
    return rc;
}

static int cmp_double_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The honest speedup: forward+backward on one batch, with and without the
 * selector, interleaved (one warm-up pair first) so drift in machine load
 * hits both; no optimizer update, grads zeroed after. Also the analytic FLOP
 * ratio of that batch. Every rank measures; the times are averaged. */
static int measure_speedup_(model_ *m, const sk_train_source *S, void *src, sk_selector *sel,
                            const sk_select_model *sm, double mlp_ratio, int64_t step, sk_train_result *r)
{
    int rc = SK_OK;
    double t[2][SK_TRAIN_SPEEDUP_REPS], med[3];
    const sk_batch *b;
    SK_TRY(S->next(src, &b));
    for (int rep = -1; rep < SK_TRAIN_SPEEDUP_REPS; rep++) {
        for (int k = 0; k < 2; k++) {
            sk_scope *sc = sk_shim_scope_begin();
            SK_FAIL_IF(!sc, SK_ENOMEM, "train: out of memory");
            fwd_ f;
            double t0 = sk_now();
            rc = forward_(m, b, k ? NULL : sel, step, 1, &f);
            if (rc >= 0) rc = sk_shim_backward(f.loss_t);
            double dt = sk_now() - t0;
            if (rc >= 0) rc = sk_shim_zero_grad(m->all.t, m->all.n);
            if (rc >= 0 && k == 0 && rep < 0) { /* the FLOPs of the compressed pass, scorers included */
                double fl = sk_selector_flops(sel, mlp_ratio);
                r->flop_ratio = fl > 0 ? sk_select_flops(sm, mlp_ratio, NULL) / fl : NAN;
            }
            sk_shim_scope_end(sc);
            if (rc < 0) goto done;
            if (rep >= 0) t[k][rep] = dt;
        }
    }
    for (int k = 0; k < 2; k++) {
        qsort(t[k], SK_TRAIN_SPEEDUP_REPS, sizeof t[k][0], cmp_double_);
        med[k] = t[k][SK_TRAIN_SPEEDUP_REPS / 2];
    }
    med[2] = 1.0;
    SK_TRY(sk_dist_allreduce_sum(med, 3));
    r->step_time_select = med[0] / med[2];
    r->step_time_full = med[1] / med[2];
    r->measured_speedup = r->step_time_full / r->step_time_select;
done:
    return rc;
}

/* Per-layer token counts and analytic FLOPs of the last forward, as JSON
 * fields appended to a step record. */
static void layer_json_(const sk_selector *sel, const sk_select_model *sm, double mlp_ratio, char *buf, size_t cap)
{
    sk_select_stats ss;
    sk_selector_stats(sel, &ss);
    size_t k = (size_t)snprintf(buf, cap, ", \"layer_tokens\": [");
    for (int l = 0; l < sm->depth && k < cap; l++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%.6g", l ? ", " : "", ss.tokens_real[l]);
    if (k < cap) k += (size_t)snprintf(buf + k, cap - k, "], \"layer_tokens_padded\": [");
    for (int l = 0; l < sm->depth && k < cap; l++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", l ? ", " : "", (long long)ss.tokens_in[l]);
    if (k < cap)
        snprintf(buf + k, cap - k, "], \"flops\": %.6g, \"flops_full\": %.6g",
                 sk_selector_flops(sel, mlp_ratio), sk_select_flops(sm, mlp_ratio, NULL));
}

/* ---- the run ----------------------------------------------------------------------------- */

int sk_train_run(const sk_train_opts *o, sk_train_result *res)
{
    int rc = SK_OK;
    const sk_model_config *mc = o->model;
    const sk_train_config *tc = o->train;
    const sk_data_config *dc = o->data;
    const sk_dist_info *di = sk_dist_info_get();
    const int rank = di->rank, world = di->world;
    const sk_train_source *S = o->source ? o->source : sk_train_source_loader();
    void *train_src = NULL, *eval_src = NULL;
    model_ m = {0};
    sk_selector *sel = NULL;
    sk_adamw *opt = NULL;
    sk_progress *prog = NULL;
    sk_dist_ddp *ddp = NULL;
    sk_generator *rng = NULL;
    FILE *mf = NULL;
    sk_ckpt_state *cks = NULL;
    char path[4096], ckroot[4096];
    sk_train_result r;
    memset(&r, 0, sizeof r);
    r.eval_loss = r.eval_acc = r.eval_bpb = r.unigram_bpb = NAN;
    r.step_time_select = r.step_time_full = r.measured_speedup = r.flop_ratio = NAN;
    sk_select_model sm;
    memset(&sm, 0, sizeof sm);
    char lj[4096];

    /* 1. Everything that can be checked before any work. */
    SK_FAIL_IF(!mc || !tc || !dc, SK_EINVAL, "train: model, train or data config is NULL");
    SK_TRY(sk_train_validate(mc, tc, dc, world));
    const char *data_path = o->data_path && o->data_path[0] ? o->data_path : dc->train;
    SK_FAIL_IF(!o->source && !data_path[0], SK_EINVAL, "data.train: no training corpus given");
    SK_FAIL_IF(!o->out_dir || !o->out_dir[0], SK_EINVAL, "run.out_dir: no output directory given");
    const int is_gpt = !strcmp(mc->arch, "gpt");
    SK_TRY(sk_dist_check_same((int64_t)o->seed, "run.seed"));
    SK_TRY(sk_dist_check_same(tc->steps, "train.steps"));

    /* 2. Threads: the cores of this host shared by its ranks. */
    int threads = o->threads;
    if (threads <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = (int)(cores / (di->local_size > 0 ? di->local_size : 1));
        if (threads < 1) threads = 1;
    }
    sk_shim_set_num_threads(threads);

    /* 3. Data: per-rank micro-batches of the global batch. */
    int64_t micro = dc->batch_size / world / tc->accum;
    sk_loader_opts lo, le;
    sk_data_loader_opts(dc, SK_SPLIT_TRAIN, rank, world, o->seed, &lo);
    lo.path = data_path;
    lo.batch_size = micro;
    SK_TRY(S->create(&train_src, &lo));
    sk_data_loader_opts(dc, SK_SPLIT_EVAL, rank, world, o->seed, &le);
    if (!dc->eval[0]) le.path = data_path;
    rc = S->create(&eval_src, &le);
    if (rc < 0) { /* a small eval split may not fill a full global batch */
        le.batch_size = micro;
        sk_error_clear();
        SK_TRY(S->create(&eval_src, &le));
    }
    int64_t eval_nb = S->steps_per_epoch(eval_src);
    if (tc->eval_batches > 0 && tc->eval_batches < eval_nb) eval_nb = tc->eval_batches;
    SK_FAIL_IF(eval_nb <= 0, SK_EINVAL, "train: the eval split holds less than one batch");

    /* 4. Model: same init seed on every rank, then rank 0's copy wins. */
    {
        const sk_batch *b;
        sk_loader_pos p0 = S->tell(train_src);
        SK_TRY(S->next(train_src, &b));
        if (is_gpt) {
            SK_FAIL_IF(b->ndim != 1 || b->shape[0] != dc->seq_len + 1, SK_EINVAL,
                       "data: token windows of %lld tokens, data.seq_len + 1 = %lld", (long long)b->shape[0],
                       (long long)(dc->seq_len + 1));
            sk_gpt_opts go = {mc->vocab ? mc->vocab : S->vocab_size(train_src), dc->seq_len, mc->width, mc->depth,
                              mc->heads, mc->mlp_ratio * mc->width};
            SK_FAIL_IF(go.vocab < 2, SK_EINVAL, "model.vocab: the corpus reports no vocabulary; set model.vocab");
            SK_FAIL_IF(mc->vocab && S->vocab_size(train_src) > mc->vocab, SK_EINVAL,
                       "model.vocab = %lld is smaller than the corpus vocabulary %lld", (long long)mc->vocab,
                       (long long)S->vocab_size(train_src));
            SK_TRY(sk_gpt_create(&m.gpt, &go, o->seed));
            m.p = sk_gpt_params(m.gpt);
        } else {
            SK_FAIL_IF(b->ndim != 2 && b->ndim != 3, SK_EINVAL, "data: vit needs image samples, got %d dims", b->ndim);
            m.channels = b->ndim == 3 ? b->shape[0] : 1;
            m.image_h = b->shape[b->ndim - 2];
            m.image_w = b->shape[b->ndim - 1];
            int64_t classes = mc->classes ? mc->classes : S->num_classes(train_src);
            if (!strcmp(mc->arch, "convnet")) {
                sk_model_data md = {SK_SAMPLE_IMAGE, b->ndim, {0}, 0, classes};
                for (int i = 0; i < b->ndim; i++) md.shape[i] = b->shape[i];
                SK_TRY(sk_model_create(&m.gen, mc, &md, o->seed));
                m.p = sk_model_params(m.gen);
            } else {
                sk_vit_opts vo = {m.image_h, m.image_w, m.channels, mc->patch, mc->width, mc->depth, mc->heads,
                                  mc->mlp_ratio * mc->width, classes, !strcmp(mc->pool, "cls")};
                SK_TRY(sk_vit_create(&m.vit, &vo, o->seed));
                m.p = sk_vit_params(m.vit);
            }
        }
        SK_TRY(S->seek(train_src, p0));
    }
    m.is_gpt = is_gpt;
    /* a token selector (scorer other than none) on a model without the hook: the registry's message */
    if (o->select && m.gen && o->select->scorer[0] && strcmp(o->select->scorer, "none"))
        SK_TRY(sk_model_select_model(m.gen, &sm));
    if (o->select && !m.gen) {
        sm = is_gpt ? sk_gpt_select_model(m.gpt) : sk_vit_select_model(m.vit);
        /* a scope for the scorers' init temporaries (they keep their parameters) */
        sk_scope *sc = sk_shim_scope_begin();
        SK_FAIL_IF(!sc, SK_ENOMEM, "train: out of memory");
        rc = sk_selector_create(&sel, o->select, &sm, sk_dist_seed(o->seed, rank, 2));
        sk_shim_scope_end(sc);
        if (rc < 0) goto done;
    }
    SK_TRY(all_params_(&m, sel));
    SK_TRY(sk_dist_ddp_create(&ddp, m.all.t, (const char *const *)m.all.names, m.all.n,
                              (size_t)(tc->bucket_mb * 1024 * 1024)));
    SK_TRY(sk_dist_ddp_broadcast(ddp));
    sk_adamw_opts ao = {tc->lr, tc->beta1, tc->beta2, tc->eps, tc->weight_decay};
    SK_TRY(sk_adamw_create(&opt, m.all.t, m.all.decay, m.all.n, &ao));
    SK_TRY(sk_generator_create(&rng, sk_dist_seed(o->seed, rank, 1), SK_CPU));

    /* 5. Resume. */
    cks = calloc(1, sizeof *cks);
    SK_FAIL_IF(!cks, SK_ENOMEM, "train: out of memory");
    int64_t start = 0;
    snprintf(ckroot, sizeof ckroot, "%s/ckpt", o->out_dir);
    if (o->resume && o->resume[0]) {
        char ckdir[4096];
        SK_TRY(sk_ckpt_latest(o->resume, ckdir, sizeof ckdir));
        rc = sk_ckpt_load(ckdir, &m.all, opt, cks);
        if (rc < 0) {
            sk_error_prefix("--resume %s: ", ckdir);
            goto done;
        }
        SK_FAIL_IF(cks->seed != o->seed, SK_EINVAL, "--resume %s: checkpoint has run.seed %llu, this run %llu", ckdir,
                   (unsigned long long)cks->seed, (unsigned long long)o->seed);
        SK_FAIL_IF(cks->step > tc->steps, SK_EINVAL, "--resume %s: checkpoint is at step %lld > train.steps = %lld",
                   ckdir, (long long)cks->step, (long long)tc->steps);
        if (cks->world != world)
            SK_LOG_WARN("resuming a %d-rank checkpoint on %d ranks: same data order and state, but the gradient "
                        "reduction order differs, so results are not bit-identical to a %d-rank run",
                        cks->world, world, cks->world);
        if (cks->rng_len) SK_TRY(sk_generator_set_state(rng, cks->rng, cks->rng_len));
        sk_loader_pos p = {cks->loader_epoch, cks->loader_step};
        SK_TRY(S->seek(train_src, p));
        start = cks->step;
        r.tokens = cks->tokens;
        r.tokens_kept = cks->tokens_kept;
        SK_LOG_INFO("resumed from %s at step %lld", ckdir, (long long)start);
    }

    /* 6. Outputs (rank 0). */
    if (rank == 0) {
        SK_TRY(sk_fs_mkdir_p(o->out_dir));
        snprintf(path, sizeof path, "%s/metrics.jsonl", o->out_dir);
        if (start > 0) SK_TRY(metrics_truncate_(path, start));
        mf = fopen(path, start > 0 ? "a" : "w");
        SK_FAIL_IF(!mf, SK_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    SK_LOG_INFO("%s: %lld parameters, %d rank(s) x %d thread(s), batch %lld = %d x %lld x %lld accum", mc->arch,
                (long long)sk_params_numel(m.p), world, threads, (long long)dc->batch_size, world, (long long)micro,
                (long long)tc->accum);

    /* 7. The loop. */
    const int64_t kill_at = fault_exit_step_(rank);
    const char *nan_env = getenv("SK_FAULT_NAN_STEP");
    const int64_t nan_at = nan_env ? atoll(nan_env) : -1;
    double t_start = sk_now(), loss = NAN;
    int64_t step;
    if (o->progress > 0 && rank == 0) {
        /* counts from the resumed step so rate and ETA cover this run only */
        sk_progress_opts po = {.label = "step", .total = tc->steps - start, .every = o->progress};
        SK_TRY(sk_progress_create(&prog, &po));
    }
    for (step = start; step < tc->steps; step++) {
        if (step == kill_at) raise(SIGKILL);
        double t0 = sk_now(), lr = lr_at_(tc, step);
        double v[4] = {0, 0, 0, 0}; /* loss, tokens, tokens_kept, samples */
        sk_scope *sc = sk_shim_scope_begin();
        SK_FAIL_IF(!sc, SK_ENOMEM, "train: out of memory");
        if (step == nan_at) {
            sk_tensor *bad = sk_shim_mul_scalar(m.p->t[0], NAN);
            int prev = sk_shim_set_grad_enabled(0);
            rc = sk_shim_copy_(m.p->t[0], bad);
            sk_shim_set_grad_enabled(prev);
        }
        if (rc >= 0) rc = sk_shim_zero_grad(m.all.t, m.all.n);
        for (int64_t a = 0; rc >= 0 && a < tc->accum; a++) {
            const sk_batch *b;
            fwd_ f;
            rc = S->next(train_src, &b);
            if (rc >= 0) rc = forward_(&m, b, sel, step, 1, &f);
            if (rc >= 0 && !isfinite(f.loss)) {
                char bad[1024];
                nonfinite_list_(&m.all, 0, bad, sizeof bad);
                rc = sk_error_set(SK_ENUMERIC,
                                  "step %lld: training loss is %g on rank %d (micro-batch %lld); non-finite "
                                  "parameters: %s",
                                  (long long)step, f.loss, rank, (long long)a, bad);
            }
            /* the last micro-batch's backward starts the gradient allreduces */
            if (rc >= 0 && a == tc->accum - 1) rc = sk_dist_ddp_arm(ddp);
            if (rc >= 0) rc = sk_shim_backward(sk_shim_mul_scalar(f.loss_t, 1.0 / (double)tc->accum));
            v[0] += f.loss / (double)tc->accum;
            v[1] += f.tokens;
            v[2] += f.tokens_kept;
            v[3] += f.count;
        }
        if (rc >= 0) rc = sk_dist_ddp_allreduce_grads(ddp);
        double gnorm = 0;
        if (rc >= 0) rc = sk_shim_clip_grad_norm(m.all.t, m.all.n, tc->clip, &gnorm);
        if (rc >= 0 && !isfinite(gnorm)) {
            char bad[1024];
            nonfinite_list_(&m.all, 1, bad, sizeof bad);
            rc = sk_error_set(SK_ENUMERIC, "step %lld: gradient norm is %g; non-finite gradients: %s", (long long)step,
                              gnorm, bad);
        }
        if (rc >= 0) rc = sk_adamw_step(opt, lr);
        sk_shim_scope_end(sc);
        if (rc < 0) goto done;
        SK_TRY(sk_dist_allreduce_sum(v, 4));
        loss = v[0] / world;
        r.tokens += v[1];
        r.tokens_kept += v[2];
        double dt = sk_now() - t0;
        if (mf) {
            sk_dist_ddp_stats ds;
            sk_dist_ddp_stats_get(ddp, &ds);
            lj[0] = 0;
            if (sel) layer_json_(sel, &sm, (double)mc->mlp_ratio, lj, sizeof lj);
            fprintf(mf,
                    "{\"step\": %lld, \"loss\": %.6g, \"lr\": %.6g, \"grad_norm\": %.6g, \"tokens\": %.0f, "
                    "\"tokens_kept\": %.0f, \"step_time\": %.6f, \"comm_time\": %.6f, \"buckets_overlapped\": %d%s}\n",
                    (long long)(step + 1), loss, lr, gnorm, r.tokens, r.tokens_kept, dt, ds.total_s,
                    ds.launched_in_backward, lj);
        }
        if (prog) {
            char extra[96];
            snprintf(extra, sizeof extra, "loss %.4f %.0f tok/s", loss, v[1] / dt);
            if (step + 1 == tc->steps) sk_progress_finish(prog, extra);
            else sk_progress_update(prog, step + 1 - start, extra);
        }
        int last = step + 1 == tc->steps;
        if ((tc->eval_every > 0 && (step + 1) % tc->eval_every == 0) || last) {
            double el, ea;
            SK_TRY(evaluate_(&m, S, eval_src, eval_nb, sel, step, &el, &ea));
            r.eval_loss = el;
            if (is_gpt) r.eval_bpb = el / log(2.0) / tc->bytes_per_token;
            else r.eval_acc = ea;
            if (mf) {
                if (is_gpt)
                    fprintf(mf, "{\"step\": %lld, \"eval_loss\": %.6g, \"eval_bpb\": %.6g}\n", (long long)(step + 1),
                            el, r.eval_bpb);
                else
                    fprintf(mf, "{\"step\": %lld, \"eval_loss\": %.6g, \"eval_acc\": %.6g}\n", (long long)(step + 1),
                            el, ea);
            }
            SK_LOG_INFO("step %lld: eval loss %.4f %s %.4f", (long long)(step + 1), el, is_gpt ? "bpb" : "acc",
                        is_gpt ? r.eval_bpb : ea);
        }
        if (mf) fflush(mf);
        if ((tc->ckpt_every > 0 && (step + 1) % tc->ckpt_every == 0) || last) {
            if (rank == 0) {
                sk_loader_pos p = S->tell(train_src);
                cks->step = step + 1;
                cks->world = world;
                cks->seed = o->seed;
                cks->loader_epoch = p.epoch;
                cks->loader_step = p.step;
                cks->tokens = r.tokens;
                cks->tokens_kept = r.tokens_kept;
                SK_TRY(sk_generator_get_state(rng, cks->rng, sizeof cks->rng, &cks->rng_len));
                config_json_(mc, tc, dc, cks->config, sizeof cks->config);
                SK_TRY(sk_ckpt_save(ckroot, &m.all, opt, cks, (int)tc->keep_last));
            }
        }
    }
    r.seconds = sk_now() - t_start;
    r.steps = step;
    r.loss = loss;
    r.steps_per_s = step > start ? (double)(step - start) / r.seconds : 0;

    /* 8. The measured speedup of the selector, then final weights and summary (rank 0). */
    if (sel) SK_TRY(measure_speedup_(&m, S, train_src, sel, &sm, (double)mc->mlp_ratio, step, &r));
    if (is_gpt) {
        int64_t uni_nb = S->steps_per_epoch(train_src); /* one epoch, capped for huge corpora */
        if (uni_nb > 10000) uni_nb = 10000;
        SK_TRY(unigram_bits_(S, train_src, uni_nb, eval_src, eval_nb,
                             sk_shim_size(m.p->t[0], 0), &r.unigram_bpb));
        r.unigram_bpb /= tc->bytes_per_token;
    }
    if (rank == 0) {
        snprintf(path, sizeof path, "%s/model.safetensors", o->out_dir);
        /* a GPT's file records its architecture, so it can serve as a frozen proxy LM (sk_gpt_lm.c) */
        char mbuf[SK_GPT_META_N][24];
        const char *meta[2 + 2 * SK_GPT_META_N] = {"format", "pt"};
        if (is_gpt) sk_gpt_meta(m.gpt, mbuf, meta + 2);
        SK_TRY(sk_safetensors_write(path, (const char *const *)m.all.names, m.all.t, m.all.n, meta,
                                         is_gpt ? 1 + SK_GPT_META_N : 1));
        snprintf(path, sizeof path, "%s/summary.json", o->out_dir);
        FILE *sf = fopen(path, "w");
        SK_FAIL_IF(!sf, SK_EIO, "%s: cannot open: %s", path, strerror(errno));
        char num[10][32];
        const double nv[10] = {r.loss, r.eval_loss, r.eval_acc, r.eval_bpb, r.unigram_bpb, r.steps_per_s,
                               r.flop_ratio, r.measured_speedup, r.step_time_select, r.step_time_full};
        for (int i = 0; i < 10; i++) { /* JSON has no NaN: not-applicable metrics are null */
            if (isfinite(nv[i])) snprintf(num[i], sizeof num[i], "%.6g", nv[i]);
            else snprintf(num[i], sizeof num[i], "null");
        }
        fprintf(sf,
                "{\"arch\": \"%s\", \"ranks\": %d, \"steps\": %lld, \"seconds\": %.3f, \"steps_per_s\": %s, "
                "\"loss\": %s, \"eval_loss\": %s, \"eval_acc\": %s, \"eval_bpb\": %s, \"unigram_bpb\": %s, "
                "\"tokens\": %.0f, \"tokens_kept\": %.0f, \"flop_ratio\": %s, \"measured_speedup\": %s, "
                "\"step_time_select\": %s, \"step_time_full\": %s}\n",
                mc->arch, world, (long long)r.steps, r.seconds, num[5], num[0], num[1], num[2], num[3], num[4],
                r.tokens, r.tokens_kept, num[6], num[7], num[8], num[9]);
        fclose(sf);
        SK_LOG_INFO("done: %lld steps in %.1f s (%.2f steps/s); eval loss %.4f%s", (long long)r.steps, r.seconds,
                    r.steps_per_s, r.eval_loss, "");
        if (is_gpt) SK_LOG_INFO("eval bits/byte %.4f (unigram model %.4f)", r.eval_bpb, r.unigram_bpb);
        else SK_LOG_INFO("eval accuracy %.4f", r.eval_acc);
        if (sel)
            SK_LOG_INFO("selector: FLOP ratio %.2fx, measured speedup %.2fx (fwd+bwd %.4f s with, %.4f s without)",
                        r.flop_ratio, r.measured_speedup, r.step_time_select, r.step_time_full);
    }
    if (res) *res = r;
done:
    sk_progress_free(prog);
    if (mf) fclose(mf);
    free(cks);
    sk_generator_free(rng);
    sk_adamw_free(opt);
    sk_dist_ddp_free(ddp);
    sk_selector_free(sel);
    all_params_free_(&m);
    sk_vit_free(m.vit);
    sk_gpt_free(m.gpt);
    sk_model_free(m.gen);
    if (eval_src) S->free(eval_src);
    if (train_src) S->free(train_src);
    return rc;
}
