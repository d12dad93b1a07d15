/* sk_train.c - the training run (see sk_train.h). sk_train_run at the end
 * reads top to bottom: set up, resume, loop, finish; the loop body is
 * llm.c's (karpathy/llm.c train_gpt2.c): next batch -> forward -> backward
 * -> allreduce -> clip -> update -> log -> maybe eval -> maybe checkpoint.
 * Nothing here asks which architecture it trains: the model is an opaque
 * sk_model (models/sk_model.h) and its flags pick what is reported. */
#include "sk_train.h"
#include "sk_time.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "sk_ckpt.h"
#include "sk_cost.h"
#include "sk_corpus.h"
#include "sk_mpi.h"
#include "sk_dist_ddp.h"
#include "sk_forgetting.h"
#include "sk_dsa.h"
#include "sk_fs.h"
#include "sk_infobatch.h"
#include "sk_log.h"
#include "sk_progress.h"
#include "sk_select_config.h"
#include "sk_train_guard.h"

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
    if (!(t->weight_decay >= 0))
        return sk_error_set(SK_EINVAL, "train.weight_decay = %g: must be >= 0", t->weight_decay);
    if (!(t->beta1 >= 0 && t->beta1 < 1))
        return sk_error_set(SK_EINVAL, "train.beta1 = %g: must be in [0, 1)", t->beta1);
    if (!(t->beta2 >= 0 && t->beta2 < 1))
        return sk_error_set(SK_EINVAL, "train.beta2 = %g: must be in [0, 1)", t->beta2);
    if (!(t->eps > 0)) return sk_error_set(SK_EINVAL, "train.eps = %g: must be > 0", t->eps);
    if (!(t->momentum >= 0 && t->momentum < 1))
        return sk_error_set(SK_EINVAL, "train.momentum = %g: must be in [0, 1)", t->momentum);
    if (t->dsa) {
        sk_dsa_family fam[SK_DSA_NFAMILIES];
        int nf = 0;
        if (strlen(t->dsa_strategy) >= SK_DSA_STRATEGY_MAX)
            return sk_error_set(SK_EINVAL, "train.dsa_strategy: longer than %d characters", SK_DSA_STRATEGY_MAX - 1);
        if (sk_dsa_parse(t->dsa_strategy, fam, &nf) < 0) return sk_error_prefix("train.dsa_strategy: ");
    }
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
static int64_t ld_samples_(void *c) { return sk_loader_num_samples(c); }
static int ld_seek_order_(void *c, sk_loader_pos p, const int64_t *o, int64_t n)
{
    return sk_loader_seek_order(c, p, o, n);
}
static const sk_train_source loader_source_ = {ld_create_, ld_free_,  ld_next_,    ld_tell_,    ld_seek_,
                                               ld_spe_,    ld_vocab_, ld_classes_, ld_samples_, ld_seek_order_};
const sk_train_source *sk_train_source_loader(void) { return &loader_source_; }

/* ---- helpers ------------------------------------------------------------------------- */

/* Linear warmup, then cosine decay to min_lr (Loshchilov & Hutter 2017),
 * or the step schedule of DC/DSA's evaluate_synset: lr until half of the
 * steps, then lr x 0.1 (the reference decays after epoch Epoch // 2). */
static double lr_at_(const sk_train_config *t, int64_t step)
{
    if (step < t->warmup) return t->lr * (double)(step + 1) / (double)t->warmup;
    if (t->lr_schedule == SK_TRAIN_STEP) return step < t->steps / 2 ? t->lr : t->lr * 0.1;
    double span = (double)(t->steps - t->warmup);
    double p = span > 0 ? (double)(step - t->warmup) / span : 1.0;
    if (p > 1) p = 1;
    return t->min_lr + 0.5 * (t->lr - t->min_lr) * (1.0 + cos(3.14159265358979323846 * p));
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
        if (!fin && k + strlen(p->names[i]) + 3 < cap)
            k += (size_t)snprintf(buf + k, cap - k, "%s%s", k ? ", " : "", p->names[i]);
    }
    if (!k) snprintf(buf, cap, "none");
}

/* Unigram baseline for LMs: token frequencies over the training split
 * (add-one smoothed), cross-entropy on the eval batches, in bits/token. */
static int unigram_bits_(const sk_train_source *S, void *train_src, int64_t ntrain, void *eval_src, int64_t neval,
                         int64_t vocab, int train_ready, double *bits)
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
            SK_TRY(sk_mpi_allreduce_sum(cnt, (int)vocab));
            for (int64_t v = 0; v < vocab; v++) tot += cnt[v] + 1.0;
        }
        if (pass || !train_ready) SK_TRY(S->seek(src, zero)); /* train_ready: already at the start of a full pass */
        for (int64_t i = 0; i < nb; i++) {
            const sk_batch *b;
            SK_TRY(S->next(src, &b));
            int64_t T = b->shape[0];
            for (int64_t r = 0; r < b->n; r++)
                for (int64_t j = 0; j < T - 1; j++) {
                    int64_t k = r * T + j + (pass ? 1 : 0);
                    int64_t tok = b->type == SK_ELEM_I64   ? ((const int64_t *)b->data)[k]
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
            SK_TRY(sk_mpi_allreduce_sum(ev, 2));
            *bits = ev[1] > 0 ? ev[0] / ev[1] : NAN;
        }
    }
done:
    free(cnt);
    return rc;
}

static int cmp_double_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- one run ---------------------------------------------------------------------- */

typedef struct {
    const sk_train_opts *o;
    const sk_model_config *mc;
    const sk_train_config *tc;
    const sk_data_config *dc;
    int rank, world, threads;
    const sk_train_source *S;
    void *train_src, *eval_src;
    int64_t micro, eval_nb; /* per-rank micro-batch; eval batches per evaluation */
    int64_t start, step;    /* first step of this run (after resume); the current step */
    sk_model *model;
    sk_model_info info; /* arch, flags (LM or classifier), outputs */
    sk_params *mp;      /* the model's parameters (owned by model) */
    sk_params *buf;     /* its buffers (batch norm's running statistics; owned by model, NULL: none) */
    /* What training updates: the model's parameters, then a learned
     * selector's (borrowed view; never sk_params_free'd). Optimizer, DDP,
     * gradient clipping and checkpoints all run over it. */
    sk_params all;
    sk_selector *sel;
    sk_select_model sm;
    sk_dist_ddp *ddp;
    sk_adamw *opt;       /* train.optimizer=adamw */
    sk_sgd *sgd;         /* train.optimizer=sgd */
    sk_ckpt_optim ckopt; /* whichever of the two, for checkpoints */
    sk_generator *rng;
    sk_progress *prog;
    FILE *mf; /* metrics.jsonl (rank 0) */
    sk_ckpt_state *cks;
    sk_infobatch *ib;  /* data.prune=infobatch, else NULL */
    sk_forgetting *fg; /* train.record_forgetting, else NULL */
    int64_t epochs;    /* with ib: the epoch budget */
    int budget_spent;  /* with ib: the loop ended because the epoch budget was spent */
    int last;          /* the current step is the run's last */
    char ckroot[4096];
    int model_saved;            /* model.safetensors written (rank 0) */
    int cost_only;              /* set up for sk_cost_measure: no out_dir, no eval verification */
    int local;                  /* set up for sk_train_check: this process alone, no MPI call, nothing written */
    double t_start, c_start;    /* wall and process CPU clocks when the loop began */
    double step_wall, step_cpu; /* this run's training steps: wall seconds (this rank), CPU seconds (all ranks) */
    sk_train_result r;
} run_;

/* One optimizer step's numbers. */
typedef struct {
    double t0, lr, gnorm, loss, dt;
    double c0; /* this rank's process CPU clock at the step's start */
    /* this rank's loss, tokens, tokens_kept, samples, process CPU seconds
     * (up to the allreduce that sums these); summed over ranks after the step */
    double v[5];
} step_;

/* One forward's numbers. */
typedef struct {
    double loss;           /* mean loss of the batch */
    double correct, count; /* classifier: correct predictions / samples; LM: scored targets */
    double tokens, tokens_kept;
    sk_tensor *loss_t;
    sk_tensor *sample_loss; /* [B] (sk_model_out.sample_loss) */
    sk_tensor *logits;      /* sk_model_out.logits */
} fwd_;

/* Fill R->all with the model's parameters followed by the selector's
 * ("selector.<...>"), weight decay on matrices only, as in the model. */
static int all_params_(run_ *R)
{
    int rc = SK_OK;
    sk_tensor *const *sp = NULL;
    const char *const *sn = NULL;
    int ns = 0;
    sk_params *mp = R->mp, *all = &R->all;
    SK_TRY(sk_selector_params(R->sel, &sp, &sn, &ns));
    int n = mp->n + ns;
    all->t = calloc((size_t)n, sizeof *all->t);
    all->names = calloc((size_t)n, sizeof *all->names);
    all->decay = calloc((size_t)n, sizeof *all->decay);
    SK_FAIL_IF(!all->t || !all->names || !all->decay, SK_ENOMEM, "train: out of memory");
    for (int i = 0; i < mp->n; i++) {
        all->t[i] = mp->t[i];
        all->names[i] = mp->names[i];
        all->decay[i] = mp->decay[i];
    }
    for (int i = 0; i < ns; i++) {
        all->t[mp->n + i] = sp[i];
        all->names[mp->n + i] = (char *)sn[i];
        all->decay[mp->n + i] = sk_shim_ndim(sp[i]) > 1;
    }
    all->n = all->cap = n;
done:
    return rc;
}

int sk_train_batch_tensors(const sk_batch *b, sk_tensor **x, sk_tensor **y)
{
    static const sk_dtype dtype_[] = {[SK_ELEM_U8] = SK_U8,
                                      [SK_ELEM_U16] = SK_I32,
                                      [SK_ELEM_I32] = SK_I32,
                                      [SK_ELEM_I64] = SK_I64,
                                      [SK_ELEM_F32] = SK_F32};
    int rc = SK_OK;
    int64_t shape[5] = {b->n}, numel = b->n;
    int32_t *wide = NULL;
    const void *data = b->data;
    *x = *y = NULL;
    SK_FAIL_IF((unsigned)b->type > SK_ELEM_F32 || b->ndim < 1 || b->ndim > 4, SK_EINVAL,
               "train: batch of element type %d with %d dims", (int)b->type, b->ndim);
    for (int i = 0; i < b->ndim; i++) {
        shape[i + 1] = b->shape[i];
        numel *= b->shape[i];
    }
    if (b->type == SK_ELEM_U16) {
        wide = malloc((size_t)numel * sizeof *wide);
        SK_FAIL_IF(!wide, SK_ENOMEM, "train: out of memory");
        const uint16_t *src = b->data;
        for (int64_t i = 0; i < numel; i++) wide[i] = src[i];
        data = wide;
    }
    *x = sk_shim_from_host(data, shape, b->ndim + 1, dtype_[b->type], SK_CPU);
    SK_TRY_T(*x);
    if (b->labels) {
        *y = sk_shim_from_host(b->labels, shape, 1, SK_I64, SK_CPU);
        SK_TRY_T(*y);
    }
done:
    free(wide);
    return rc;
}

/* ---- online sample pruning (sk_infobatch.h) ------------------------------------------ */

/* InfoBatch's rescaled loss: mean over the batch of sample_loss * weight
 * (1 / (1 - r) for the kept well-learned samples, else 1). */
static int weighted_loss_(run_ *R, const sk_batch *b, fwd_ *f)
{
    int rc = SK_OK;
    float *w = malloc((size_t)b->n * sizeof *w);
    SK_FAIL_IF(!w, SK_ENOMEM, "train: out of memory");
    SK_FAIL_IF(!f->sample_loss || !b->index, SK_EINVAL,
               "data.prune: the model or the source gives no per-sample losses");
    for (int64_t j = 0; j < b->n; j++) w[j] = sk_infobatch_weight(R->ib, b->index[j]);
    int64_t shape[1] = {b->n};
    f->loss_t = sk_shim_mean(
        sk_shim_mul(f->sample_loss, sk_shim_from_host(w, shape, 1, SK_F32, sk_shim_device(f->sample_loss))), NULL, 0,
        0);
    SK_TRY_T(f->loss_t);
done:
    free(w);
    return rc;
}

/* The loader at pos, in the order of pos.epoch (entered first if new). */
static int prune_seek_(run_ *R, sk_loader_pos pos)
{
    int rc = SK_OK;
    const int64_t *order;
    int64_t n;
    if (sk_infobatch_current(R->ib) != pos.epoch) {
        SK_TRY(sk_infobatch_begin(R->ib, pos.epoch, &order, &n));
        SK_LOG_INFO("epoch %lld: %lld samples, %lld skipped", (long long)pos.epoch, (long long)n,
                    (long long)sk_infobatch_skipped_epoch(R->ib));
    }
    order = sk_infobatch_order(R->ib, &n);
    SK_TRY(R->S->seek_order(R->train_src, pos, order, n));
done:
    return rc;
}

/* Set up pruning over the training split: the epoch budget and epoch 0. */
static int prune_setup_(run_ *R)
{
    int rc = SK_OK;
    const sk_data_config *d = R->dc;
    SK_FAIL_IF(!R->S->num_samples || !R->S->seek_order, SK_EINVAL,
               "data.prune = infobatch: this batch source cannot take an epoch order");
    int64_t n = R->S->num_samples(R->train_src), spe = R->S->steps_per_epoch(R->train_src) / R->tc->accum;
    SK_FAIL_IF(spe < 1, SK_EINVAL, "data.prune = infobatch: an epoch holds less than one step of train.accum = %lld",
               (long long)R->tc->accum);
    R->epochs = (R->tc->steps + spe - 1) / spe;
    SK_TRY(sk_infobatch_create(&R->ib, n, d->prune_ratio, d->prune_delta, R->epochs, R->o->seed));
    SK_TRY(prune_seek_(R, (sk_loader_pos){0, 0}));
    SK_LOG_INFO("infobatch: r = %g, delta = %g over %lld epochs of %lld samples (%lld full steps each)", d->prune_ratio,
                d->prune_delta, (long long)R->epochs, (long long)n, (long long)spe);
done:
    return rc;
}

/* With pruning the learning rate follows epoch progress: the step of a
 * full-data run of train.steps at the same fraction of the epochs. */
static int64_t lr_step_(const run_ *R)
{
    if (!R->ib) return R->step;
    sk_loader_pos p = R->S->tell(R->train_src);
    int64_t n, G = R->micro * R->world;
    sk_infobatch_order(R->ib, &n);
    double in = p.epoch == sk_infobatch_current(R->ib) && n >= G ? (double)p.step / (double)(n / G) : 0;
    double frac = ((double)p.epoch + in) / (double)R->epochs;
    int64_t s = (int64_t)(frac * (double)R->tc->steps);
    return s < R->tc->steps ? s : R->tc->steps - 1;
}

/* The training split in corpus order, for passes after training (an
 * externally ordered loader cannot seek without an order). */
static int prune_full_pass_(run_ *R)
{
    int rc = SK_OK;
    int64_t n = sk_infobatch_size(R->ib), *all = malloc((size_t)n * sizeof *all);
    SK_FAIL_IF(!all, SK_ENOMEM, "train: out of memory");
    for (int64_t i = 0; i < n; i++) all[i] = i;
    rc = R->S->seek_order(R->train_src, (sk_loader_pos){0, 0}, all, n);
done:
    free(all);
    return rc;
}

/* After a step: the epoch budget is spent once the next batch is in epoch E. */
static int prune_done_(const run_ *R) { return R->ib && R->S->tell(R->train_src).epoch >= R->epochs; }

/* The batch's per-sample losses for the scores (every rank; gathered over
 * ranks when the next epoch begins or a checkpoint is written). */
static int prune_record_(run_ *R, const sk_batch *b, const fwd_ *f)
{
    int rc = SK_OK;
    float *l = malloc((size_t)b->n * sizeof *l);
    SK_FAIL_IF(!l, SK_ENOMEM, "train: out of memory");
    SK_TRY(sk_shim_to_host(sk_shim_to(f->sample_loss, SK_CPU, SK_F32), l, (size_t)b->n * sizeof *l));
    SK_TRY(sk_infobatch_record(R->ib, b->index, l, b->n));
done:
    free(l);
    return rc;
}

/* train.record_forgetting: the batch's per-sample correctness (the
 * training forward's argmax == label, as the model counts `correct`),
 * gathered over ranks into the forgetting counts. */
static int forget_record_(run_ *R, const sk_batch *b, const fwd_ *f)
{
    int rc = SK_OK;
    int64_t *pred = malloc((size_t)b->n * sizeof *pred);
    uint8_t *ok = malloc((size_t)b->n);
    SK_FAIL_IF(!pred || !ok, SK_ENOMEM, "train: out of memory");
    SK_FAIL_IF(!f->logits || !b->labels || !b->index, SK_EINVAL,
               "train.record_forgetting: the batch has no logits, labels or sample indices");
    sk_tensor *am = sk_shim_to(sk_shim_argmax(f->logits, 1, 0), SK_CPU, SK_I64);
    SK_TRY_T(am);
    SK_TRY(sk_shim_to_host(am, pred, (size_t)b->n * sizeof *pred));
    for (int64_t j = 0; j < b->n; j++) ok[j] = pred[j] == b->labels[j];
    SK_TRY(sk_forgetting_record(R->fg, b->index, ok, b->n));
done:
    free(pred);
    free(ok);
    return rc;
}

/* train.dsa: the batch's images, one DSA draw per sample from this rank's
 * generator (checkpointed with the run, so a resumed run draws the same),
 * applied in the models' input units; float32 pixels out. */
static int augment_(run_ *R, const sk_batch *b, sk_tensor **x)
{
    int rc = SK_OK;
    sk_dsa_params p;
    sk_dsa_draw *d = NULL;
    sk_tensor *y = NULL;
    int64_t shape[SK_SHIM_MAX_DIMS],
        s4[4] = {b->n, b->ndim == 3 ? b->shape[0] : 1, b->shape[b->ndim - 2], b->shape[b->ndim - 1]};
    int nd = sk_shim_shape(*x, shape);
    sk_dsa_params_default(&p);
    size_t sl = strlen(R->tc->dsa_strategy);
    SK_FAIL_IF(sl >= sizeof p.strategy, SK_EINVAL, "train.dsa_strategy: longer than %zu characters",
               sizeof p.strategy - 1);
    memcpy(p.strategy, R->tc->dsa_strategy, sl + 1);
    SK_TRY(sk_dsa_draw_create(&d, &p, s4[0], s4[2], s4[3], R->rng));
    SK_TRY(sk_dsa_apply_draw_pixels(d, sk_shim_reshape(*x, s4, 4), &y));
    *x = sk_shim_reshape(y, shape, nd);
    SK_TRY_T(*x);
done:
    sk_dsa_draw_free(d);
    return rc;
}

/* Forward one batch inside the caller's scope, plus a training-aware
 * scorer's own objective (learned: its budget term) when training. */
static int forward_(run_ *R, const sk_batch *b, sk_selector *sel, int64_t step, int training, fwd_ *f)
{
    int rc = SK_OK;
    sk_tensor *x = NULL, *y = NULL;
    sk_model_out o;
    memset(f, 0, sizeof *f);
    SK_TRY(sk_train_batch_tensors(b, &x, &y));
    if (training && R->tc->dsa) SK_TRY(augment_(R, b, &x));
    SK_TRY(sk_model_forward(R->model, x, y, sel, step, training, &o));
    f->loss_t = o.loss;
    f->sample_loss = o.sample_loss;
    f->logits = o.logits;
    if (training && R->ib) SK_TRY(weighted_loss_(R, b, f));
    f->correct = (double)o.correct;
    f->count = (double)o.count;
    f->tokens = (double)o.tokens_in;
    f->tokens_kept = o.depth ? (double)o.tokens_blocks / o.depth : 0;
    if (training) {
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

/* Evaluate over R->eval_nb batches of the eval split (rewound to the
 * start): loss and accuracy summed over ranks. */
static int evaluate_(run_ *R, double *loss, double *acc)
{
    int rc = SK_OK;
    int prev = sk_shim_set_grad_enabled(0);
    double v[3] = {0, 0, 0}; /* loss * count, correct, count */
    sk_loader_pos zero = {0, 0};
    SK_TRY(R->S->seek(R->eval_src, zero));
    for (int64_t i = 0; i < R->eval_nb; i++) {
        const sk_batch *b;
        SK_TRY(R->S->next(R->eval_src, &b));
        sk_scope *sc = sk_shim_scope_begin();
        fwd_ f;
        rc = forward_(R, b, R->sel, R->step, 0, &f);
        sk_shim_scope_end(sc);
        if (rc < 0) goto done;
        v[0] += f.loss * f.count;
        v[1] += f.correct;
        v[2] += f.count;
    }
    SK_TRY(sk_mpi_allreduce_sum(v, 3));
    *loss = v[2] > 0 ? v[0] / v[2] : NAN;
    *acc = v[2] > 0 ? v[1] / v[2] : NAN;
done:
    sk_shim_set_grad_enabled(prev);
    return rc;
}

/* The honest speedup: forward+backward on one batch, with and without the
 * selector, interleaved (one warm-up pair first) so drift in machine load
 * hits both; no optimizer update, grads zeroed after. Also the analytic FLOP
 * ratio of that batch. Every rank measures; the times are averaged. */
static int measure_speedup_(run_ *R)
{
    int rc = SK_OK;
    double t[2][SK_TRAIN_SPEEDUP_REPS], med[3], mlp_ratio = (double)R->mc->mlp_ratio;
    sk_train_result *r = &R->r;
    const sk_batch *b;
    SK_TRY(R->S->next(R->train_src, &b));
    for (int rep = -1; rep < SK_TRAIN_SPEEDUP_REPS; rep++) {
        for (int k = 0; k < 2; k++) {
            sk_scope *sc = sk_shim_scope_begin();
            SK_FAIL_IF(!sc, SK_ENOMEM, "train: out of memory");
            fwd_ f;
            double t0 = sk_now();
            rc = forward_(R, b, k ? NULL : R->sel, R->step, 1, &f);
            if (rc >= 0) rc = sk_shim_backward(f.loss_t);
            double dt = sk_now() - t0;
            if (rc >= 0) rc = sk_shim_zero_grad(R->all.t, R->all.n);
            if (rc >= 0 && k == 0 && rep < 0) { /* the FLOPs of the compressed pass, scorers included */
                double fl = sk_selector_flops(R->sel, mlp_ratio);
                r->flop_ratio = fl > 0 ? sk_select_flops(&R->sm, mlp_ratio, NULL) / fl : NAN;
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
    SK_TRY(sk_mpi_allreduce_sum(med, 3));
    r->step_time_select = med[0] / med[2];
    r->step_time_full = med[1] / med[2];
    r->measured_speedup = r->step_time_full / r->step_time_select;
done:
    return rc;
}

/* ---- the JSON documents (jansson) ----------------------------------------------------------- */

/* Reals print with 6 significant digits, as the records always have. */
#define JSON_FLAGS_ JSON_REAL_PRECISION(6)

/* JSON has no NaN or inf: a metric that does not apply is null. */
static json_t *real_(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* Token counters are whole numbers in the records (rounded as printf's %.0f). */
static json_t *count_(double v) { return isfinite(v) ? json_integer((json_int_t)llrint(v)) : json_null(); }

/* Write one JSON Lines record and drop the reference. */
static int put_record_(FILE *f, json_t *j, const char *what)
{
    int rc = SK_OK;
    SK_FAIL_IF(!j, SK_ENOMEM, "train: %s: out of memory", what);
    SK_FAIL_IF(json_dumpf(j, f, JSON_FLAGS_) < 0 || fputc('\n', f) == EOF, SK_EIO, "train: %s: write failed", what);
done:
    json_decref(j);
    return rc;
}

/* Per-layer token counts and analytic FLOPs of the last forward, added to
 * a step record. */
static void layer_fields_(const run_ *R, json_t *rec)
{
    sk_select_stats ss;
    double mlp_ratio = (double)R->mc->mlp_ratio;
    json_t *real = json_array(), *padded = json_array();
    sk_selector_stats(R->sel, &ss);
    for (int l = 0; l < R->sm.depth; l++) {
        json_array_append_new(real, json_real(ss.tokens_real[l]));
        json_array_append_new(padded, json_integer((json_int_t)ss.tokens_in[l]));
    }
    json_object_set_new(rec, "layer_tokens", real);
    json_object_set_new(rec, "layer_tokens_padded", padded);
    json_object_set_new(rec, "flops", real_(sk_selector_flops(R->sel, mlp_ratio)));
    json_object_set_new(rec, "flops_full", real_(sk_select_flops(&R->sm, mlp_ratio, NULL)));
}

/* The step's record in metrics.jsonl (rank 0). */
static int step_record_(run_ *R, const step_ *s)
{
    sk_dist_ddp_stats ds;
    sk_dist_ddp_stats_get(R->ddp, &ds);
    json_t *rec = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:i}", "step", (json_int_t)(R->step + 1), "loss",
                            real_(s->loss), "lr", real_(s->lr), "grad_norm", real_(s->gnorm), "tokens",
                            count_(R->r.tokens), "tokens_kept", count_(R->r.tokens_kept), "step_time", real_(s->dt),
                            "comm_time", real_(ds.total_s), "buckets_overlapped", ds.launched_in_backward);
    if (rec) json_object_set_new(rec, "cpu_time", real_(s->v[4])); /* summed over ranks */
    if (rec && R->sel) layer_fields_(R, rec);
    if (rec && R->ib) { /* the epoch of the step's last batch, samples skipped so far (all epochs entered) */
        json_object_set_new(rec, "epoch", json_integer((json_int_t)sk_infobatch_current(R->ib)));
        json_object_set_new(rec, "samples_skipped", json_integer((json_int_t)sk_infobatch_skipped_total(R->ib)));
    }
    return put_record_(R->mf, rec, "metrics.jsonl");
}

/* The model + data + train config as JSON, kept in each checkpoint's
 * state.json (reals with every digit, so a value reads back exactly) and
 * compared on resume (sk_train_guard_config_diff): every key here that a
 * resume changes is named. */
static int config_json_(const run_ *R, char *buf, size_t cap)
{
    int rc = SK_OK;
    const sk_train_config *t = R->tc;
    const sk_data_config *d = R->dc;
    json_t *j = json_pack(
        "{s:o, s:{s:s, s:s, s:I, s:I, s:i, s:f, s:s, s:s, s:f, s:f}, s:{s:I, s:I, s:f, s:f, s:I, s:f, s:f, "
        "s:f, s:f, s:f, s:s, s:s, s:f, s:b, s:s, s:b}}",
        "model", sk_model_config_to_json(R->mc), "data", "train", d->train, "eval", d->eval, "batch_size",
        (json_int_t)d->batch_size, "seq_len", (json_int_t)d->seq_len, "shuffle", d->shuffle, "eval_fraction",
        d->eval[0] ? 0.0 : d->eval_fraction, "eval_split",
        d->eval[0]      ? ""
        : d->eval_split ? "random"
                        : "tail",
        "prune", d->prune == SK_DATA_PRUNE_INFOBATCH ? "infobatch" : "none", "prune_ratio", d->prune_ratio,
        "prune_delta", d->prune_delta, "train", "steps", (json_int_t)t->steps, "accum", (json_int_t)t->accum, "lr",
        t->lr, "min_lr", t->min_lr, "warmup", (json_int_t)t->warmup, "weight_decay", t->weight_decay, "beta1", t->beta1,
        "beta2", t->beta2, "eps", t->eps, "clip", t->clip, "optimizer", t->optimizer == SK_TRAIN_SGD ? "sgd" : "adamw",
        "lr_schedule", t->lr_schedule == SK_TRAIN_STEP ? "step" : "cosine", "momentum", t->momentum, "dsa", t->dsa,
        "dsa_strategy", t->dsa ? t->dsa_strategy : "", "record_forgetting", t->record_forgetting);
    SK_FAIL_IF(!j, SK_ENOMEM, "train: config JSON: out of memory");
    const sk_select_config *sc = R->o->select;
    json_t *sel = NULL;
    if (!sc || !strcmp(sc->scorer, "none")) {
        sel = json_pack("{s:s}", "scorer", "none");
    } else {
        json_t *layers = json_array();
        for (int i = 0; layers && i < sc->layers.n; i++) json_array_append_new(layers, json_integer(sc->layers.v[i]));
        sel = json_pack("{s:s, s:s, s:f, s:f, s:I, s:o, s:I, s:s}", "scorer", sc->scorer, "strategy", sc->strategy,
                        "keep", sc->keep, "tau", sc->tau, "budget", (json_int_t)sc->budget, "layers", layers,
                        "restore_layer", (json_int_t)sc->restore_layer, "checkpoint", sc->checkpoint);
    }
    SK_FAIL_IF(!sel || json_object_set_new(j, "select", sel) < 0, SK_ENOMEM, "train: config JSON: out of memory");
    size_t n = json_dumpb(j, buf, cap, JSON_REAL_PRECISION(17));
    SK_FAIL_IF(n == 0 || n >= cap, SK_EINVAL, "train: the config JSON does not fit the checkpoint's %zu bytes", cap);
    buf[n] = 0;
done:
    json_decref(j);
    return rc;
}

/* On resume, drop the records a killed run wrote after its last checkpoint,
 * so metrics.jsonl keeps one record per step (rewritten atomically). A
 * line that is not a JSON object with an integer "step" (a record cut by
 * the kill) is dropped too. */
static int metrics_truncate_(const char *path, int64_t upto)
{
    int rc = SK_OK;
    char tmp[4200], *line = NULL;
    size_t cap = 0;
    FILE *in = fopen(path, "r"), *out = NULL;
    if (!in) return SK_OK; /* nothing written yet */
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    out = fopen(tmp, "w");
    SK_FAIL_IF(!out, SK_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    while (getline(&line, &cap, in) > 0) {
        json_error_t err;
        json_t *rec = json_loads(line, 0, &err);
        json_t *st = json_object_get(rec, "step");
        int keep = json_is_integer(st) && json_integer_value(st) <= upto;
        json_decref(rec);
        if (keep) fputs(line, out);
    }
    int cerr = fclose(out);
    out = NULL;
    SK_FAIL_IF(cerr != 0, SK_EIO, "%s: write failed", tmp);
    SK_FAIL_IF(rename(tmp, path) != 0, SK_EIO, "%s: rename failed: %s", path, strerror(errno));
done:
    free(line);
    if (out) fclose(out);
    fclose(in);
    return rc;
}

/* summary.json: the run's result, keys in this order, not-applicable
 * metrics null (rank 0; written under a temporary name, then renamed). */
/* summary.json's pruning fields. Measured: this run's loop wall time and
 * process CPU time (the summary's seconds / cpu_seconds), and the mean
 * wall and CPU time of its training steps (step_seconds: rank 0's step
 * times; step_cpu_seconds: every rank's CPU summed; evaluations and
 * checkpoints excluded, since a full run pays them too). Projected: what
 * the steps_skipped = full_steps - steps steps a full-data run of
 * train.steps takes would have cost at that mean step time
 * (wall_/cpu_seconds_saved_projected), and full_seconds_projected = this
 * run's loop time plus that. A skipped step is assumed to cost what a
 * trained one did; the saving measured against a real full run is in
 * docs/RESULTS.md ("InfoBatch vs full training"). */
static int prune_summary_(const run_ *R, json_t *j)
{
    const sk_train_result *r = &R->r;
    /* steps skipped are known once the epoch budget is spent (a run stopped
     * early by on_step has not skipped the steps it did not reach): NaN, null */
    const int64_t here = r->steps - R->start;
    const double skipped = R->budget_spent ? (double)(R->tc->steps - r->steps) : NAN;
    double sw = here > 0 ? R->step_wall / (double)here : NAN, sc = here > 0 ? R->step_cpu / (double)here : NAN;
    json_t *p = json_pack(
        "{s:s, s:f, s:f, s:I, s:I, s:I, s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "method", "infobatch", "ratio",
        R->dc->prune_ratio, "delta", R->dc->prune_delta, "epochs", (json_int_t)r->epochs, "full_steps",
        (json_int_t)R->tc->steps, "steps", (json_int_t)r->steps, "steps_skipped", count_(skipped), "samples_trained",
        (json_int_t)r->samples_trained, "samples_skipped", (json_int_t)r->samples_skipped, "step_seconds", real_(sw),
        "step_cpu_seconds", real_(sc), "wall_seconds_saved_projected", real_(sw * skipped),
        "cpu_seconds_saved_projected", real_(sc * skipped), "full_seconds_projected", real_(r->seconds + sw * skipped));
    if (!p || json_object_set_new(j, "prune", p) < 0) return sk_error_set(SK_ENOMEM, "summary: out of memory");
    return SK_OK;
}

static int write_summary_(const run_ *R, const char *path)
{
    int rc = SK_OK;
    const sk_train_result *r = &R->r;
    json_t *j = json_pack(
        "{s:s, s:i, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "arch",
        R->info.arch, "ranks", R->world, "steps", (json_int_t)r->steps, "steps_this_run",
        (json_int_t)(r->steps - R->start), "seconds", real_(r->seconds), "cpu_seconds", real_(r->cpu_seconds),
        "cpu_seconds_max_rank", real_(r->cpu_seconds_max), "steps_per_s", real_(r->steps_per_s), "loss", real_(r->loss),
        "eval_loss", real_(r->eval_loss), "eval_acc", real_(r->eval_acc), "eval_bpb", real_(r->eval_bpb), "unigram_bpb",
        real_(r->unigram_bpb), "tokens", count_(r->tokens), "tokens_kept", count_(r->tokens_kept), "flop_ratio",
        real_(r->flop_ratio), "measured_speedup", real_(r->measured_speedup), "step_time_select",
        real_(r->step_time_select), "step_time_full", real_(r->step_time_full));
    if (j && R->ib && (rc = prune_summary_(R, j)) < 0) {
        json_decref(j);
        return rc;
    }
    char *text = j ? json_dumps(j, JSON_FLAGS_) : NULL;
    SK_FAIL_IF(!text, SK_ENOMEM, "%s: out of memory", path);
    size_t n = strlen(text);
    text[n] = '\n'; /* json_dumps' terminator becomes the final newline */
    const void *bufs[1] = {text};
    const size_t lens[1] = {n + 1};
    SK_TRY(sk_fs_write_atomic(path, bufs, lens, 1));
done:
    free(text);
    json_decref(j);
    return rc;
}

/* ---- set up ------------------------------------------------------------------------------- */

/* Everything that can be checked before any work. */
static int check_(run_ *R)
{
    int rc = SK_OK;
    const sk_train_opts *o = R->o;
    SK_FAIL_IF(!R->mc || !R->tc || !R->dc, SK_EINVAL, "train: model, train or data config is NULL");
    SK_TRY(sk_train_validate(R->mc, R->tc, R->dc, R->world));
    SK_FAIL_IF(!o->source && !(o->data_path && o->data_path[0]) && !R->dc->train[0], SK_EINVAL,
               "data.train: no training corpus given");
    if (!R->cost_only && !R->local) {
        SK_FAIL_IF(!o->out_dir || !o->out_dir[0], SK_EINVAL, "run.out_dir: no output directory given");
        SK_TRY(sk_train_guard_out_dir(o->out_dir, o->resume && o->resume[0], o->overwrite));
    }
    if (R->local) goto done;
    SK_TRY(sk_mpi_check_same((int64_t)o->seed, "run.seed"));
    SK_TRY(sk_mpi_check_same(R->tc->steps, "train.steps"));
done:
    return rc;
}

/* Intra-op threads: the cores of this host shared by its ranks. */
static void set_threads_(run_ *R)
{
    int threads = R->o->threads;
    if (threads <= 0) {
        /* every rank on the host, not only the current communicator's:
         * groups of a split world (sk_mpi_comm_use) share the cores too */
        const sk_mpi_info *di = sk_mpi_world_info();
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = (int)(cores / (di->local_size > 0 ? di->local_size : 1));
        if (threads < 1) threads = 1;
    }
    sk_shim_set_num_threads(threads);
    R->threads = threads;
}

/* The train and eval splits: per-rank micro-batches of the global batch. */
static int open_data_(run_ *R)
{
    int rc = SK_OK;
    const sk_train_opts *o = R->o;
    const sk_data_config *dc = R->dc;
    const sk_train_source *S = R->S;
    const char *data_path = o->data_path && o->data_path[0] ? o->data_path : dc->train;
    sk_loader_opts lo, le;
    R->micro = dc->batch_size / R->world / R->tc->accum;
    sk_data_loader_opts(dc, SK_SPLIT_TRAIN, R->rank, R->world, o->seed, &lo);
    lo.path = data_path;
    lo.batch_size = R->micro;
    lo.external_order = dc->prune == SK_DATA_PRUNE_INFOBATCH;
    if ((rc = S->create(&R->train_src, &lo)) < 0) { /* name the key: the path alone may not say which */
        sk_error_prefix("data.train: ");
        goto done;
    }
    if (lo.external_order) SK_TRY(prune_setup_(R));
    sk_data_loader_opts(dc, SK_SPLIT_EVAL, R->rank, R->world, o->seed, &le);
    if (!dc->eval[0]) le.path = data_path;
    rc = S->create(&R->eval_src, &le);
    if (rc < 0) { /* a small eval split may not fill a full global batch */
        le.batch_size = R->micro;
        sk_error_clear();
        if ((rc = S->create(&R->eval_src, &le)) < 0) {
            sk_error_prefix(dc->eval[0] ? "data.eval: " : "data.train (its held-out split): ");
            goto done;
        }
    }
    R->eval_nb = S->steps_per_epoch(R->eval_src);
    if (R->tc->eval_batches > 0 && R->tc->eval_batches < R->eval_nb) R->eval_nb = R->tc->eval_batches;
    SK_FAIL_IF(R->eval_nb <= 0, SK_EINVAL, "train: the eval split holds less than one batch");
done:
    return rc;
}

/* "[28,28]" */
static void shape_text_(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && i < 4 && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

static const char *train_name_(const run_ *R)
{
    return R->o->data_path && R->o->data_path[0] ? R->o->data_path : R->dc->train;
}

/* Before step 1: the eval corpus must hold what the model was built for
 * (same sample shape and element type, no token or class the training
 * corpus lacks), so a wrong data.eval fails now, not after training. */
static int check_eval_(run_ *R)
{
    int rc = SK_OK;
    const sk_train_source *S = R->S;
    const sk_batch *b, *e;
    const char *en = R->dc->eval[0] ? R->dc->eval : NULL;
    if (!en) return SK_OK; /* the held-out split of data.train */
    sk_loader_pos t0 = S->tell(R->train_src), e0 = S->tell(R->eval_src);
    int64_t tshape[4], tdim;
    sk_elem_type tt;
    SK_TRY(S->next(R->train_src, &b));
    tdim = b->ndim;
    tt = b->type;
    memcpy(tshape, b->shape, sizeof tshape);
    /* with data.prune the loader is externally ordered: back to t0 in its epoch's order */
    SK_TRY(R->ib ? prune_seek_(R, t0) : S->seek(R->train_src, t0));
    SK_TRY(S->next(R->eval_src, &e));
    if (e->ndim != tdim || memcmp(e->shape, tshape, (size_t)tdim * sizeof *tshape)) {
        char a[96], c[96];
        shape_text_(a, sizeof a, (int)tdim, tshape);
        shape_text_(c, sizeof c, e->ndim, e->shape);
        SK_FAIL_IF(1, SK_EINVAL, "data.eval = %s: samples of shape %s (%s), data.train = %s has %s (%s)", en, c,
                   e->ndim == 1 ? "tokens" : "images", train_name_(R), a, tdim == 1 ? "tokens" : "images");
    }
    /* images: uint8 and float32 pixels are both [0, 255] units (a distilled
     * float32 corpus trains, the uint8 test set evaluates; docs/FORMAT.md) */
    int pix = tdim >= 2 && (e->type == SK_ELEM_U8 || e->type == SK_ELEM_F32) && (tt == SK_ELEM_U8 || tt == SK_ELEM_F32);
    SK_FAIL_IF(e->type != tt && !pix, SK_EINVAL, "data.eval = %s: elements are %s, data.train = %s has %s", en,
               sk_elem_name(e->type), train_name_(R), sk_elem_name(tt));
    SK_FAIL_IF((R->info.flags & SK_MODEL_LM) && S->vocab_size(R->eval_src) > R->info.outputs, SK_EINVAL,
               "data.eval = %s: vocabulary of %lld tokens, the model's is %lld (data.train = %s)", en,
               (long long)S->vocab_size(R->eval_src), (long long)R->info.outputs, train_name_(R));
    SK_FAIL_IF((R->info.flags & SK_MODEL_CLASSIFIER) && S->num_classes(R->eval_src) > R->info.outputs, SK_EINVAL,
               "data.eval = %s: %lld classes, the model has %lld (data.train = %s)", en,
               (long long)S->num_classes(R->eval_src), (long long)R->info.outputs, train_name_(R));
    SK_TRY(S->seek(R->eval_src, e0));
done:
    return rc;
}

/* data.eval read in full before step 1 (rank 0 decodes every chunk and
 * checks its checksums, offsets and ids: sk_corpus_verify), so a corrupt
 * eval file fails now, not after training. Eval corpora are small next
 * to training corpora; the held-out split of data.train is not re-read.
 * Collective (the verdict is agreed). */
static int verify_eval_(run_ *R)
{
    int rc = SK_OK;
    sk_corpus *c = NULL;
    const char *en = R->dc->eval;
    if (en[0] && R->S == sk_train_source_loader() && R->rank == 0) {
        rc = sk_corpus_open(&c, en);
        if (rc == SK_OK) rc = sk_corpus_verify(c);
        if (rc < 0) sk_error_prefix("data.eval = %s: ", en);
    }
    sk_corpus_free(c);
    return sk_mpi_agree(rc);
}

/* The model for the corpus's samples (read off its first batch): same
 * init seed on every rank (rank 0's copy wins at the DDP broadcast). */
static int build_model_(run_ *R)
{
    int rc = SK_OK;
    const sk_batch *b;
    const sk_train_source *S = R->S;
    const int64_t seq_len = R->dc->seq_len;
    sk_loader_pos p0 = S->tell(R->train_src);
    SK_TRY(S->next(R->train_src, &b));
    char shp[96];
    shape_text_(shp, sizeof shp, b->ndim, b->shape);
    SK_FAIL_IF(R->tc->dsa && (b->ndim < 2 || b->ndim > 3), SK_EINVAL,
               "train.dsa = true: data.train = %s holds %s (samples of shape %s); DSA augments images ([H, W] or "
               "[C, H, W])",
               train_name_(R), b->ndim == 1 ? "token sequences" : "samples that are not images", shp);
    SK_FAIL_IF((sk_model_find(R->mc->arch)->flags & SK_MODEL_LM) && b->ndim != 1, SK_EINVAL,
               "data.train = %s holds images (samples of shape %s); model.arch = %s needs a token corpus",
               train_name_(R), shp, R->mc->arch);
    SK_FAIL_IF(!(sk_model_find(R->mc->arch)->flags & SK_MODEL_LM) && b->ndim == 1, SK_EINVAL,
               "data.train = %s holds token sequences; model.arch = %s needs an image corpus", train_name_(R),
               R->mc->arch);
    SK_FAIL_IF((sk_model_find(R->mc->arch)->flags & SK_MODEL_LM) && (b->ndim != 1 || b->shape[0] != seq_len + 1),
               SK_EINVAL, "data: token windows of %lld tokens, data.seq_len + 1 = %lld", (long long)b->shape[0],
               (long long)(seq_len + 1));
    sk_model_data d;
    memset(&d, 0, sizeof d);
    d.kind = b->ndim == 1 ? SK_SAMPLE_TOKENS : SK_SAMPLE_IMAGE;
    d.ndim = b->ndim;
    memcpy(d.shape, b->shape, sizeof d.shape);
    d.vocab = S->vocab_size(R->train_src);
    d.classes = S->num_classes(R->train_src);
    SK_TRY(sk_model_create(&R->model, R->mc, &d, R->o->seed));
    sk_model_info_get(R->model, &R->info);
    R->mp = sk_model_params(R->model);
    R->buf = sk_model_buffers(R->model);
    SK_TRY(R->ib ? prune_seek_(R, p0) : S->seek(R->train_src, p0));
done:
    return rc;
}

/* The token selector the [select] section describes, if any; a model
 * without a selector hook refuses one (sk_model_select_model). */
static int build_selector_(run_ *R)
{
    int rc = SK_OK;
    const sk_select_config *sc = R->o->select;
    if (!sc || !strcmp(sc->scorer, "none")) return SK_OK;
    SK_TRY(sk_model_select_model(R->model, &R->sm));
    /* a scope for the scorers' init temporaries (they keep their parameters) */
    sk_scope *scope = sk_shim_scope_begin();
    SK_FAIL_IF(!scope, SK_ENOMEM, "train: out of memory");
    rc = sk_selector_create(&R->sel, sc, &R->sm, sk_mpi_seed(R->o->seed, R->rank, 2));
    sk_shim_scope_end(scope);
done:
    return rc;
}

/* Gradient buckets over everything trained, rank 0's weights broadcast,
 * the optimizer (train.optimizer) and this rank's generator. */
static int build_optimizer_(run_ *R)
{
    int rc = SK_OK;
    const sk_train_config *tc = R->tc;
    SK_TRY(all_params_(R));
    SK_TRY(sk_dist_ddp_create(&R->ddp, R->all.t, (const char *const *)R->all.names, R->all.n,
                              (size_t)(tc->bucket_mb * 1024 * 1024)));
    SK_TRY(sk_dist_ddp_broadcast(R->ddp));
    if (tc->optimizer == SK_TRAIN_SGD) {
        /* every parameter decayed: DC/DSA's torch.optim.SGD(net.parameters(), weight_decay=...) */
        sk_sgd_opts so = {tc->lr, tc->momentum, 0.0, tc->weight_decay, 0};
        SK_TRY(sk_sgd_create(&R->sgd, R->all.t, NULL, R->all.n, &so));
    } else {
        sk_adamw_opts ao = {tc->lr, tc->beta1, tc->beta2, tc->eps, tc->weight_decay};
        SK_TRY(sk_adamw_create(&R->opt, R->all.t, R->all.decay, R->all.n, &ao));
    }
    R->ckopt = (sk_ckpt_optim){R->opt, R->sgd};
    SK_TRY(sk_generator_create(&R->rng, sk_mpi_seed(R->o->seed, R->rank, 1), SK_CPU));
    R->cks = calloc(1, sizeof *R->cks);
    SK_FAIL_IF(!R->cks, SK_ENOMEM, "train: out of memory");
done:
    return rc;
}

/* train.record_forgetting: a classifier on a corpus file whose every row
 * is a training sample (data.eval separate), so the counts are per row. */
static int forget_setup_(run_ *R)
{
    int rc = SK_OK;
    if (!R->tc->record_forgetting) return SK_OK;
    SK_FAIL_IF(
        !(R->info.flags & SK_MODEL_CLASSIFIER), SK_EINVAL,
        "train.record_forgetting: model.arch = %s is not a classifier (forgetting events count misclassifications)",
        R->info.arch);
    SK_FAIL_IF(!R->dc->eval[0], SK_EINVAL,
               "train.record_forgetting needs data.eval (a separate eval corpus), so that every row of data.train = %s "
               "is a training sample the counts cover",
               train_name_(R));
    SK_FAIL_IF(R->o->source || !R->S->num_samples, SK_EINVAL,
               "train.record_forgetting: the batch source is not a corpus file");
    SK_TRY(sk_forgetting_create(&R->fg, R->S->num_samples(R->train_src)));
done:
    return rc;
}

static int setup_(run_ *R)
{
    int rc = SK_OK;
    SK_TRY(check_(R));
    if (!R->local) set_threads_(R);
    SK_TRY(open_data_(R));
    SK_TRY(build_model_(R));
    SK_TRY(forget_setup_(R));
    SK_TRY(check_eval_(R));
    if (!R->cost_only && !R->local) SK_TRY(verify_eval_(R));
    SK_TRY(build_selector_(R));
    if (R->local) goto done; /* sk_train_check: no collective, nothing to train */
    SK_TRY(build_optimizer_(R));
done:
    return rc;
}

/* The tensors a checkpoint holds beside parameters and optimizer: the
 * model's buffers, then InfoBatch's and the forgetting counts' state when
 * on. *v is a view (sk_params_view_free); *use is what to pass. */
static int ckpt_extra_(run_ *R, sk_params *v, sk_params **use)
{
    int rc = SK_OK;
    sk_params a = {0};
    *use = R->buf;
    if (!R->ib && !R->fg) return SK_OK;
    sk_params *ibp = R->ib ? sk_infobatch_ckpt(R->ib) : NULL, *fgp = R->fg ? sk_forgetting_ckpt(R->fg) : NULL;
    SK_FAIL_IF((R->ib && !ibp) || (R->fg && !fgp), sk_error_last_code() < 0 ? sk_error_last_code() : SK_ENOMEM,
               "train: checkpoint state: %s", sk_error_last());
    SK_TRY(sk_params_join(&a, R->buf, ibp));
    SK_TRY(sk_params_join(v, &a, fgp));
    *use = v;
done:
    sk_params_view_free(&a);
    return rc;
}

/* ---- resume ------------------------------------------------------------------------------- */

/* --resume DIR: the newest checkpoint, verified against its MANIFEST (a
 * damaged one is an error naming the file); with --resume-latest-valid the
 * newest intact one. Every rank checks; the answer is agreed. */
static int resolve_ckpt_(const sk_train_opts *o, char *ckdir, size_t cap)
{
    int rc;
    if (o->resume_latest_valid) {
        rc = sk_ckpt_latest_valid(o->resume, ckdir, cap);
    } else {
        rc = sk_ckpt_latest(o->resume, ckdir, cap);
        if (rc == SK_OK && (rc = sk_ckpt_verify(ckdir)) < 0) {
            char msg[2048];
            snprintf(msg, sizeof msg, "%s", sk_error_last());
            sk_error_set(rc,
                         "--resume %s: %s; --resume-latest-valid %s resumes from the newest intact checkpoint "
                         "instead",
                         ckdir, msg, o->resume);
        }
    }
    return sk_mpi_agree(rc);
}

/* Continue from --resume's newest checkpoint: weights, optimizer, RNG,
 * loader position and counters; then open metrics.jsonl (rank 0), cut
 * back to the resumed step. */
static int resume_(run_ *R)
{
    int rc = SK_OK;
    const sk_train_opts *o = R->o;
    sk_ckpt_state *cks = R->cks;
    char path[4096];
    snprintf(R->ckroot, sizeof R->ckroot, "%s/ckpt", o->out_dir);
    if (o->resume && o->resume[0]) {
        char ckdir[4096];
        SK_TRY(resolve_ckpt_(o, ckdir, sizeof ckdir));
        SK_TRY(config_json_(R, cks->config, sizeof cks->config));
        SK_TRY(sk_train_guard_config_diff(ckdir, cks->config, (R->info.flags & SK_MODEL_LM) != 0));
        sk_params v = {0}, *extra = NULL;
        rc = ckpt_extra_(R, &v, &extra);
        if (rc >= 0) rc = sk_ckpt_load(ckdir, &R->all, extra, &R->ckopt, cks);
        sk_params_view_free(&v);
        if (rc >= 0 && R->ib) rc = sk_infobatch_ckpt_restore(R->ib);
        if (rc >= 0 && R->fg) rc = sk_forgetting_ckpt_restore(R->fg);
        if (rc < 0) {
            sk_error_prefix("--resume %s: ", ckdir);
            goto done;
        }
        SK_FAIL_IF(cks->seed != o->seed, SK_EINVAL, "--resume %s: checkpoint has run.seed %llu, this run %llu", ckdir,
                   (unsigned long long)cks->seed, (unsigned long long)o->seed);
        SK_FAIL_IF(cks->step > R->tc->steps, SK_EINVAL, "--resume %s: checkpoint is at step %lld > train.steps = %lld",
                   ckdir, (long long)cks->step, (long long)R->tc->steps);
        if (cks->world != R->world)
            SK_LOG_WARN("resuming a %d-rank checkpoint on %d ranks: same data order and state, but the gradient "
                        "reduction order differs, so results are not bit-identical to a %d-rank run",
                        cks->world, R->world, cks->world);
        if (cks->rng_len) SK_TRY(sk_generator_set_state(R->rng, cks->rng, cks->rng_len));
        sk_loader_pos p = {cks->loader_epoch, cks->loader_step};
        SK_TRY(R->ib ? prune_seek_(R, p) : R->S->seek(R->train_src, p));
        R->start = cks->step;
        R->r.tokens = cks->tokens;
        R->r.tokens_kept = cks->tokens_kept;
        SK_LOG_INFO("resumed from %s at step %lld", ckdir, (long long)R->start);
    }
    if (R->rank == 0) {
        SK_TRY(sk_fs_mkdir_p(o->out_dir));
        snprintf(path, sizeof path, "%s/metrics.jsonl", o->out_dir);
        if (R->start > 0) SK_TRY(metrics_truncate_(path, R->start));
        R->mf = fopen(path, R->start > 0 ? "a" : "w");
        SK_FAIL_IF(!R->mf, SK_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    SK_LOG_INFO("%s: %lld parameters, %d rank(s) x %d thread(s), batch %lld = %d x %lld x %lld accum", R->info.arch,
                (long long)sk_params_numel(R->mp), R->world, R->threads, (long long)R->dc->batch_size, R->world,
                (long long)R->micro, (long long)R->tc->accum);
done:
    return rc;
}

/* ---- the loop ------------------------------------------------------------------------------- */

/* The caller's per-step callback (sk_train_opts.on_step). */
static int on_step_(run_ *R, int *stop)
{
    *stop = 0;
    if (!R->o->on_step) return SK_OK;
    sk_train_hook h = {&R->all, R->buf, R->rank, R->world};
    int rc = R->o->on_step(R->o->on_step_ctx, R->step, &h);
    if (rc < 0) return rc;
    *stop = rc == SK_TRAIN_STOP;
    return SK_OK;
}

/* Rank 0's buffers to every rank, as PyTorch's DistributedDataParallel
 * does with broadcast_buffers=True: before the first forward after a
 * synchronised backward (with no_sync accumulation, once per step, before
 * its first micro-batch) and before the evaluation forwards that follow.
 * Training forwards of batch norm read only their batch, so the ranks
 * differ only in what evaluation and the saved file would see; this keeps
 * those rank 0's. No-op on one rank or without buffers. */
static int sync_buffers_(run_ *R)
{
    return R->buf && R->buf->n ? sk_dist_ddp_broadcast_buffers(R->buf->t, R->buf->n) : SK_OK;
}

/* Micro-batch a of the step: next batch -> forward -> backward. */
static int micro_step_(run_ *R, int64_t a, step_ *s)
{
    int rc = SK_OK;
    const int64_t accum = R->tc->accum;
    const sk_batch *b;
    fwd_ f;
    if (R->ib && R->S->tell(R->train_src).epoch != sk_infobatch_current(R->ib))
        SK_TRY(prune_seek_(R, R->S->tell(R->train_src)));
    SK_TRY(R->S->next(R->train_src, &b));
    SK_TRY(forward_(R, b, R->sel, R->step, 1, &f));
    if (R->ib) SK_TRY(prune_record_(R, b, &f));
    if (R->fg) SK_TRY(forget_record_(R, b, &f));
    if (!isfinite(f.loss)) {
        char bad[1024];
        nonfinite_list_(&R->all, 0, bad, sizeof bad);
        SK_FAIL_IF(1, SK_ENUMERIC,
                   "step %lld: training loss is %g on rank %d (micro-batch %lld); non-finite parameters: %s",
                   (long long)R->step, f.loss, R->rank, (long long)a, bad);
    }
    /* the last micro-batch's backward starts the gradient allreduces */
    if (a == accum - 1) SK_TRY(sk_dist_ddp_arm(R->ddp));
    SK_TRY(sk_shim_backward(sk_shim_mul_scalar(f.loss_t, 1.0 / (double)accum)));
    s->v[0] += f.loss / (double)accum;
    s->v[1] += f.tokens;
    s->v[2] += f.tokens_kept;
    s->v[3] += f.count;
done:
    return rc;
}

/* Clip the global gradient norm; a non-finite norm stops the run naming
 * the gradients at fault. */
static int clip_(run_ *R, step_ *s)
{
    int rc = sk_shim_clip_grad_norm(R->all.t, R->all.n, R->tc->clip, &s->gnorm);
    if (rc < 0) return rc;
    if (isfinite(s->gnorm)) return SK_OK;
    char bad[1024];
    nonfinite_list_(&R->all, 1, bad, sizeof bad);
    return sk_error_set(SK_ENUMERIC, "step %lld: gradient norm is %g; non-finite gradients: %s", (long long)R->step,
                        s->gnorm, bad);
}

/* One optimizer step: `accum` micro-batches, then the gradient allreduce,
 * clipping and the optimizer's update; the step's temporaries live in one scope. */
static int train_step_(run_ *R, step_ *s)
{
    int rc = SK_OK;
    memset(s, 0, sizeof *s);
    s->t0 = sk_now();
    s->c0 = sk_cpu_now();
    s->lr = lr_at_(R->tc, lr_step_(R));
    sk_scope *sc = sk_shim_scope_begin();
    SK_FAIL_IF(!sc, SK_ENOMEM, "train: out of memory");
    rc = sk_shim_zero_grad(R->all.t, R->all.n);
    for (int64_t a = 0; rc >= 0 && a < R->tc->accum; a++) rc = micro_step_(R, a, s);
    if (rc >= 0) rc = sk_dist_ddp_allreduce_grads(R->ddp);
    if (rc >= 0) rc = clip_(R, s);
    if (rc >= 0) rc = R->sgd ? sk_sgd_step(R->sgd, s->lr) : sk_adamw_step(R->opt, s->lr);
    sk_shim_scope_end(sc);
    if (rc < 0) goto done;
    s->v[4] = sk_cpu_now() - s->c0;
    SK_TRY(sk_mpi_allreduce_sum(s->v, 5));
    s->loss = s->v[0] / R->world;
    R->r.tokens += s->v[1];
    R->r.tokens_kept += s->v[2];
    R->r.loss = s->loss;
    s->dt = sk_now() - s->t0;
    R->step_wall += s->dt;
    R->step_cpu += s->v[4];
done:
    return rc;
}

/* The step's metrics record and progress line (rank 0). */
static int log_step_(run_ *R, const step_ *s)
{
    int rc = SK_OK;
    if (R->mf) SK_TRY(step_record_(R, s));
    if (R->prog) {
        char extra[96];
        snprintf(extra, sizeof extra, "loss %.4f %.0f tok/s", s->loss, s->v[1] / s->dt);
        if (R->last)
            sk_progress_finish(R->prog, extra);
        else
            sk_progress_update(R->prog, R->step + 1 - R->start, extra);
    }
done:
    return rc;
}

/* Every `every` steps and after the last one. */
static int due_(int64_t every, int64_t step, int last) { return (every > 0 && (step + 1) % every == 0) || last; }

/* Evaluate on the eval split: an LM reports bits per byte, a classifier
 * accuracy (the model's flags say which). */
static int eval_(run_ *R)
{
    int rc = SK_OK;
    const int lm = (R->info.flags & SK_MODEL_LM) != 0;
    double el, ea;
    SK_TRY(sync_buffers_(R));
    SK_TRY(evaluate_(R, &el, &ea));
    R->r.eval_loss = el;
    if (lm) R->r.eval_bpb = el / log(2.0) / R->tc->bytes_per_token;
    if (R->info.flags & SK_MODEL_CLASSIFIER) R->r.eval_acc = ea;
    if (R->mf) {
        json_t *rec = json_pack("{s:I, s:o, s:o}", "step", (json_int_t)(R->step + 1), "eval_loss", real_(el),
                                lm ? "eval_bpb" : "eval_acc", real_(lm ? R->r.eval_bpb : ea));
        SK_TRY(put_record_(R->mf, rec, "metrics.jsonl"));
    }
    SK_LOG_INFO("step %lld: eval loss %.4f %s %.4f", (long long)(R->step + 1), el, lm ? "bpb" : "acc",
                lm ? R->r.eval_bpb : ea);
done:
    return rc;
}

/* A checkpoint after this step (called on every rank; rank 0 writes it). */
static int checkpoint_(run_ *R)
{
    int rc = SK_OK;
    sk_ckpt_state *cks = R->cks;
    sk_params v = {0}, *extra = NULL;
    /* every rank: the losses recorded since the last gather into the scores it stores */
    if (R->ib) SK_TRY(sk_infobatch_flush(R->ib));
    if (R->rank != 0) return SK_OK;
    sk_loader_pos p = R->S->tell(R->train_src);
    cks->step = R->step + 1;
    cks->world = R->world;
    cks->seed = R->o->seed;
    cks->loader_epoch = p.epoch;
    cks->loader_step = p.step;
    cks->tokens = R->r.tokens;
    cks->tokens_kept = R->r.tokens_kept;
    SK_TRY(sk_generator_get_state(R->rng, cks->rng, sizeof cks->rng, &cks->rng_len));
    SK_TRY(config_json_(R, cks->config, sizeof cks->config));
    if (R->ib) SK_TRY(sk_infobatch_ckpt_store(R->ib));
    if (R->fg) SK_TRY(sk_forgetting_ckpt_store(R->fg));
    SK_TRY(ckpt_extra_(R, &v, &extra));
    SK_TRY(sk_ckpt_save(R->ckroot, &R->all, extra, &R->ckopt, cks, (int)R->tc->keep_last));
done:
    sk_params_view_free(&v);
    return rc;
}

/* The final weights with the architecture in their metadata (rank 0),
 * once: written after the last step, before its evaluation, so a failing
 * evaluation never loses a trained model. */
static int save_model_(run_ *R)
{
    char path[4096];
    if (R->rank != 0 || R->model_saved) return SK_OK;
    snprintf(path, sizeof path, "%s/model.safetensors", R->o->out_dir);
    int rc = sk_model_save(R->model, path, &R->all);
    R->model_saved = rc == SK_OK;
    return rc;
}

/* After each step, on every rank: if any rank caught a stop signal, write
 * a checkpoint of the steps done (unless this step just wrote one; every
 * rank waits for rank 0's write through the agreement) and fail saying
 * where it is and how to resume. */
static int interrupted_(run_ *R, int have_ckpt)
{
    int sig = sk_train_guard_stop_requested();
    if (sig <= 0) return sig;
    if (!have_ckpt) {
        int rc = sk_mpi_agree(checkpoint_(R));
        if (rc < 0) return rc;
    } else {
        int rc = sk_mpi_barrier();
        if (rc < 0) return rc;
    }
    return sk_error_set(SK_ERROR,
                        "interrupted by %s after step %lld of %lld: checkpoint written to %s/step-%08lld; resume with: "
                        "%s --resume %s",
                        sk_train_guard_signal_name(sig), (long long)(R->step + 1), (long long)R->tc->steps, R->ckroot,
                        (long long)(R->step + 1),
                        R->o->command && R->o->command[0] ? R->o->command : "the same command", R->ckroot);
}

static int loop_(run_ *R)
{
    int rc = SK_OK;
    const sk_train_config *tc = R->tc;
    R->t_start = sk_now();
    R->c_start = sk_cpu_now();
    if (R->o->progress > 0 && R->rank == 0) {
        /* counts from the resumed step so rate and ETA cover this run only */
        sk_progress_opts po = {.label = "step", .total = tc->steps - R->start, .every = R->o->progress};
        SK_TRY(sk_progress_create(&R->prog, &po));
    }
    for (R->step = R->start; R->step < tc->steps; R->step++) {
        step_ s;
        int stop;
        SK_TRY(sync_buffers_(R));
        SK_TRY(on_step_(R, &stop));
        if (stop) break;
        SK_TRY(train_step_(R, &s));
        R->last = R->step + 1 == tc->steps || prune_done_(R);
        SK_TRY(log_step_(R, &s));
        if (R->last) SK_TRY(save_model_(R)); /* before the final evaluation, which may fail */
        if (due_(tc->eval_every, R->step, R->last) && (rc = eval_(R)) < 0) {
            if (R->model_saved) {
                char msg[2048];
                snprintf(msg, sizeof msg, "%s", sk_error_last());
                sk_error_set(rc, "%s (the trained model is saved: %s/model.safetensors)", msg, R->o->out_dir);
            }
            goto done;
        }
        if (R->mf) fflush(R->mf);
        int ck = due_(tc->ckpt_every, R->step, R->last);
        if (ck) SK_TRY(checkpoint_(R));
        SK_TRY(interrupted_(R, ck));
        if (R->last) {
            R->step++;
            break;
        }
    }
    R->r.seconds = sk_now() - R->t_start;
    {
        double c[2] = {sk_cpu_now() - R->c_start, 0}; /* summed over ranks, and the busiest rank's */
        c[1] = c[0];
        SK_TRY(sk_mpi_allreduce_sum(&c[0], 1));
        SK_TRY(sk_mpi_allreduce_max(&c[1], 1));
        R->r.cpu_seconds = c[0];
        R->r.cpu_seconds_max = c[1];
    }
    R->r.steps = R->step;
    R->r.steps_per_s = R->step > R->start ? (double)(R->step - R->start) / R->r.seconds : 0;
    if (R->ib) {
        R->r.samples_trained = R->step * R->dc->batch_size;
        R->r.samples_skipped = sk_infobatch_skipped_total(R->ib);
        R->r.epochs = R->S->tell(R->train_src).epoch;
        R->budget_spent = prune_done_(R);
    }
done:
    return rc;
}

/* ---- finish ------------------------------------------------------------------------------- */

/* out_dir/forgetting.safetensors (rank 0), stamped with the training
 * corpus's checksum so condense refuses it for another corpus. */
static int write_forgetting_(run_ *R)
{
    int rc = SK_OK;
    char path[4096];
    uint64_t h = 0;
    SK_TRY(sk_fs_hash_file(train_name_(R), &h));
    snprintf(path, sizeof path, "%s/%s", R->o->out_dir, SK_FORGETTING_FILE);
    SK_TRY(sk_forgetting_write(R->fg, path, train_name_(R), h, R->step));
    SK_LOG_INFO("forgetting events of %lld samples: %s", (long long)R->S->num_samples(R->train_src), path);
done:
    return rc;
}

/* The selector's measured speedup, an LM's unigram baseline, then (rank 0)
 * the final weights with the architecture in their metadata, summary.json
 * and the closing log lines. */
static int finish_(run_ *R)
{
    int rc = SK_OK;
    sk_train_result *r = &R->r;
    const int lm = (R->info.flags & SK_MODEL_LM) != 0;
    char path[4096];
    if (R->sel && R->ib) SK_TRY(prune_full_pass_(R));
    if (R->sel) SK_TRY(measure_speedup_(R));
    if (lm) {
        int64_t uni_nb = R->S->steps_per_epoch(R->train_src); /* one epoch, capped for huge corpora */
        if (uni_nb > 10000) uni_nb = 10000;
        if (R->ib) SK_TRY(prune_full_pass_(R));
        SK_TRY(unigram_bits_(R->S, R->train_src, uni_nb, R->eval_src, R->eval_nb, R->info.outputs, R->ib != NULL,
                             &r->unigram_bpb));
        r->unigram_bpb /= R->tc->bytes_per_token;
    }
    if (R->rank != 0) return SK_OK;
    SK_TRY(save_model_(R)); /* (a run stopped by on_step did not pass the last step) */
    if (R->fg) SK_TRY(write_forgetting_(R));
    snprintf(path, sizeof path, "%s/summary.json", R->o->out_dir);
    SK_TRY(write_summary_(R, path));
    if (R->start > 0)
        SK_LOG_INFO("done: %lld steps this run (resumed at step %lld; %lld steps in total) in %.1f s (%.2f steps/s); "
                    "eval loss %.4f",
                    (long long)(r->steps - R->start), (long long)R->start, (long long)r->steps, r->seconds,
                    r->steps_per_s, r->eval_loss);
    else
        SK_LOG_INFO("done: %lld steps in %.1f s (%.2f steps/s); eval loss %.4f", (long long)r->steps, r->seconds,
                    r->steps_per_s, r->eval_loss);
    if (lm)
        SK_LOG_INFO("eval bits/byte %.4f (unigram model %.4f)", r->eval_bpb, r->unigram_bpb);
    else
        SK_LOG_INFO("eval accuracy %.4f", r->eval_acc);
    if (R->sel)
        SK_LOG_INFO("selector: FLOP ratio %.2fx, measured speedup %.2fx (fwd+bwd %.4f s with, %.4f s without)",
                    r->flop_ratio, r->measured_speedup, r->step_time_select, r->step_time_full);
done:
    return rc;
}

static void teardown_(run_ *R)
{
    sk_progress_free(R->prog);
    if (R->mf) fclose(R->mf);
    free(R->cks);
    sk_infobatch_free(R->ib);
    sk_forgetting_free(R->fg);
    sk_generator_free(R->rng);
    sk_adamw_free(R->opt);
    sk_sgd_free(R->sgd);
    sk_dist_ddp_free(R->ddp);
    sk_selector_free(R->sel);
    free(R->all.t);
    free(R->all.names);
    free(R->all.decay);
    sk_model_free(R->model);
    if (R->eval_src) R->S->free(R->eval_src);
    if (R->train_src) R->S->free(R->train_src);
}

/* A run's state for o on this rank of the current communicator (NULL: out of memory). */
static run_ *run_new_(const sk_train_opts *o)
{
    run_ *R = calloc(1, sizeof *R);
    if (!R) return NULL;
    const sk_mpi_info *di = sk_mpi_info_get();
    R->o = o;
    R->mc = o->model;
    R->tc = o->train;
    R->dc = o->data;
    R->rank = di->rank;
    R->world = di->world;
    R->S = o->source ? o->source : sk_train_source_loader();
    return R;
}

/* ---- cost (sk_cost.h) ---------------------------------------------------------------------- */

typedef struct {
    run_ *R;
    const sk_batch *b;
} cost_ctx_;

/* One forward+backward of side 0 (no selector) or 1 (the selector) on the
 * batch, timed to the end of the device's work; gradients zeroed after. */
static int cost_step_(void *ctx, int side, double *seconds)
{
    int rc = SK_OK;
    cost_ctx_ *c = ctx;
    run_ *R = c->R;
    fwd_ f;
    sk_scope *sc = sk_shim_scope_begin();
    if (!sc) return sk_error_set(SK_ENOMEM, "cost: out of memory");
    double t0 = sk_now();
    rc = forward_(R, c->b, side ? R->sel : NULL, R->step, 1, &f);
    if (rc >= 0) rc = sk_shim_backward(f.loss_t);
    if (rc >= 0) rc = sk_shim_synchronize(sk_shim_device(f.loss_t));
    *seconds = sk_now() - t0;
    if (rc >= 0) rc = sk_shim_zero_grad(R->all.t, R->all.n);
    sk_shim_scope_end(sc);
    return rc;
}

/* Device memory of one step per side (CUDA models), -1s elsewhere. */
static int cost_device_(cost_ctx_ *c, sk_cost_result *out)
{
    int rc = SK_OK;
    double dt;
    int64_t *dev[2] = {&out->dev_full, &out->dev_compressed};
    out->dev_full = out->dev_compressed = -1;
    if (sk_shim_device(c->R->mp->t[0]) != SK_CUDA) return SK_OK;
    for (int side = 0; side < 2; side++) {
        SK_TRY(sk_shim_synchronize(SK_CUDA));
        SK_TRY(sk_shim_cuda_peak_reset());
        SK_TRY(cost_step_(c, side, &dt));
        SK_TRY(sk_shim_cuda_peak_bytes(dev[side]));
    }
done:
    return rc;
}

/* Every rank's figures averaged (a -1 anywhere stays -1), the most rounds,
 * converged only if every rank converged. */
static int cost_reduce_(sk_cost_result *r)
{
    int rc = SK_OK;
    int64_t *mem[] = {&r->rss_base, &r->rss_full, &r->rss_compressed, &r->dev_full, &r->dev_compressed};
    double v[12] = {r->speedup_median, r->speedup_q1, r->speedup_q3, r->ms_full, r->ms_compressed, r->flop_ratio};
    double lo[6], hi[1] = {r->rounds}, conv[1] = {r->converged};
    for (int i = 0; i < 5; i++) {
        v[6 + i] = (double)*mem[i];
        lo[i] = (double)*mem[i];
    }
    v[11] = 1;
    lo[5] = 0;
    SK_TRY(sk_mpi_allreduce_sum(v, 12));
    SK_TRY(sk_mpi_allreduce_min(lo, 6));
    SK_TRY(sk_mpi_allreduce_max(hi, 1));
    SK_TRY(sk_mpi_allreduce_min(conv, 1));
    r->speedup_median = v[0] / v[11];
    r->speedup_q1 = v[1] / v[11];
    r->speedup_q3 = v[2] / v[11];
    r->ms_full = v[3] / v[11];
    r->ms_compressed = v[4] / v[11];
    r->flop_ratio = v[5] / v[11];
    for (int i = 0; i < 5; i++) *mem[i] = lo[i] < 0 ? -1 : (int64_t)llround(v[6 + i] / v[11]);
    r->rounds = (int)hi[0];
    r->converged = (int)conv[0];
done:
    return rc;
}

int sk_cost_measure(const sk_train_opts *o, const sk_cost_opts *co, sk_cost_result *out)
{
    int rc = SK_OK;
    sk_cost_opts dflt;
    run_ *R = NULL;
    if (!co) {
        sk_cost_opts_default(&dflt);
        co = &dflt;
    }
    memset(out, 0, sizeof *out);
    out->flop_ratio = NAN;
    SK_FAIL_IF(!o->select || !strcmp(o->select->scorer, "none"), SK_EINVAL,
               "select.scorer: none: the cost of compression needs a token selector to compare against the full "
               "model");
    R = run_new_(o);
    SK_FAIL_IF(!R, SK_ENOMEM, "cost: out of memory");
    R->cost_only = 1;
    rc = setup_(R);
    SK_TRY(sk_mpi_agree(rc));
    /* the keep ratio training ends with (a schedule has reached it) */
    R->step = R->tc->steps > 0 ? R->tc->steps - 1 : 0;
    cost_ctx_ c = {R, NULL};
    rc = R->S->next(R->train_src, &c.b);
    if (rc >= 0) rc = sk_cost_rounds(cost_step_, &c, co, out);
    if (rc >= 0) {
        double mlp_ratio = (double)R->mc->mlp_ratio, fl = sk_selector_flops(R->sel, mlp_ratio);
        out->flop_ratio = fl > 0 ? sk_select_flops(&R->sm, mlp_ratio, NULL) / fl : NAN;
    }
    if (rc >= 0 && co->memory)
        rc = cost_device_(&c, out);
    else
        out->dev_full = out->dev_compressed = -1;
    SK_TRY(sk_mpi_agree(rc));
    SK_TRY(cost_reduce_(out));
done:
    if (R) teardown_(R);
    free(R);
    return rc;
}

/* ---- a check without a run ---------------------------------------------------------------- */

int sk_train_check(const sk_train_opts *o, int world)
{
    int rc = SK_OK;
    run_ *R = run_new_(o);
    if (!R) return sk_error_set(SK_ENOMEM, "train: out of memory");
    SK_FAIL_IF(world < 1, SK_EINVAL, "train: check for a group of %d ranks", world);
    R->local = 1;
    R->rank = 0;
    R->world = world;
    SK_TRY(setup_(R));
done:
    teardown_(R);
    free(R);
    return rc;
}

/* ---- the run ------------------------------------------------------------------------------- */

int sk_train_run(const sk_train_opts *o, sk_train_result *res)
{
    int rc = SK_OK;
    run_ *R = run_new_(o);
    if (!R) return sk_error_set(SK_ENOMEM, "train: out of memory");
    R->r.loss = R->r.eval_loss = R->r.eval_acc = R->r.eval_bpb = R->r.unigram_bpb = NAN;
    R->r.step_time_select = R->r.step_time_full = R->r.measured_speedup = R->r.flop_ratio = NAN;

    SK_TRY(setup_(R));
    SK_TRY(resume_(R));
    SK_TRY(sk_train_guard_signals_install());
    rc = loop_(R);
    sk_train_guard_signals_restore();
    if (rc < 0) goto done;
    SK_TRY(finish_(R));
    if (res) *res = R->r;
done:
    teardown_(R);
    free(R);
    return rc;
}
