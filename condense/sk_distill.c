/* sk_distill.c - the state the distillation methods share (sk_distill.h):
 * per-class real images, seeded draws, synthetic leaf tensors and their
 * SGD step, per-iteration networks, the class-over-ranks gather. */
#include "sk_distill.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sk_mpi.h"
#include "sk_params.h"
#include "sk_rand.h"

uint64_t sk_distill_key(uint64_t seed, int64_t it, int64_t c)
{
    uint64_t k = sk_splitmix64(seed ^ 0x64697374696c6cULL); /* "distill" */
    k = sk_splitmix64(k ^ (uint64_t)(it + 1));
    return sk_splitmix64(k ^ (uint64_t)(c + 1));
}

/* Partial Fisher-Yates: the first b of n positions, drawn from key's stream. */
static void draw_(int64_t *perm, int64_t n, int64_t b, uint64_t key)
{
    uint64_t s = key;
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t j = 0; j < b; j++) {
        s = sk_splitmix64(s);
        int64_t r = j + (int64_t)(s % (uint64_t)(n - j)), t = perm[j];
        perm[j] = perm[r];
        perm[r] = t;
    }
}

/* The model config and the source fit distillation (before any work). */
static int check_(const sk_condense_job *job)
{
    int rc = SK_OK;
    const sk_corpus_info *in = job->info;
    const sk_model_vtable *vt = job->model ? sk_model_find(job->model->arch) : NULL;
    SK_FAIL_IF(!job->model, SK_EINVAL, "condense.method=%s needs the [model] section", job->cfg->method);
    SK_FAIL_IF(in->type != SK_ELEM_U8 && in->type != SK_ELEM_F32, SK_EINVAL,
               "%s: condense.method=%s needs uint8 or float32 images, and this corpus holds %s", job->cfg->input,
               job->cfg->method, sk_elem_name(in->type));
    SK_FAIL_IF(in->ndim != 2 && in->ndim != 3, SK_EINVAL, "%s: condense.method=%s needs images [H, W] or [C, H, W]",
               job->cfg->input, job->cfg->method);
    SK_FAIL_IF(!vt, SK_EINVAL, "model.arch = '%s': not a model", job->model->arch);
    SK_FAIL_IF(!(vt->flags & SK_MODEL_IMAGES) || !(vt->flags & SK_MODEL_CLASSIFIER) || !vt->embed, SK_EINVAL,
               "model.arch = '%s': condense.method=%s needs an image classifier with embed (e.g. convnet)",
               job->model->arch, job->cfg->method);
    SK_FAIL_IF(job->classes < 1, SK_EINVAL, "%s: condense.method=%s needs labels", job->cfg->input, job->cfg->method);
done:
    return rc;
}

/* Every label, the class sizes, and the owned classes' rows and pixels. */
static int read_classes_(sk_distill *d)
{
    int rc = SK_OK;
    const sk_condense_job *job = d->job;
    int64_t n = job->n, *lab = malloc((size_t)n * sizeof *lab), *fill = calloc((size_t)d->C, sizeof *fill);
    size_t rowb = (size_t)d->D * d->es;
    uint8_t *tmp = NULL;
    SK_FAIL_IF(!lab || !fill, SK_ENOMEM, "condense: out of memory for %lld labels", (long long)n);
    SK_TRY(sk_corpus_read_labels(job->corpus, 0, n, lab));
    for (int64_t i = 0; i < n; i++) {
        SK_FAIL_IF(lab[i] < 0 || lab[i] >= d->C, SK_ECORRUPT, "%s: label %lld of row %lld is outside [0, %lld)",
                   job->cfg->input, (long long)lab[i], (long long)i, (long long)d->C);
        d->count[lab[i]]++;
    }
    for (int64_t c = 0; c < d->C; c++) {
        SK_FAIL_IF(d->count[c] < d->ipc, SK_EINVAL, "condense.ipc = %lld: class %lld of %s has only %lld samples",
                   (long long)d->ipc, (long long)c, job->cfg->input, (long long)d->count[c]);
        if (!sk_distill_owns(d, c)) continue;
        d->rows[c] = malloc((size_t)d->count[c] * sizeof **d->rows);
        d->pix[c] = malloc((size_t)d->count[c] * rowb);
        SK_FAIL_IF(!d->rows[c] || !d->pix[c], SK_ENOMEM, "condense: out of memory for class %lld's images",
                   (long long)c);
    }
    int64_t blk = (8 << 20) / (int64_t)rowb + 1;
    tmp = malloc((size_t)blk * rowb);
    SK_FAIL_IF(!tmp, SK_ENOMEM, "condense: out of memory");
    for (int64_t b0 = 0; b0 < n; b0 += blk) {
        int64_t b1 = b0 + blk < n ? b0 + blk : n;
        SK_TRY(sk_corpus_read_samples(job->corpus, b0, b1 - b0, tmp));
        for (int64_t i = b0; i < b1; i++) {
            int64_t c = lab[i];
            if (!sk_distill_owns(d, c)) continue;
            d->rows[c][fill[c]] = i;
            memcpy(d->pix[c] + (size_t)fill[c]++ * rowb, tmp + (size_t)(i - b0) * rowb, rowb);
        }
    }
done:
    free(lab);
    free(fill);
    free(tmp);
    return rc;
}

/* Class c's synthetic leaf: real images (as u = p / 127.5 - 1) or noise. */
static int init_class_(sk_distill *d, int64_t c)
{
    int rc = SK_OK;
    int64_t shape[5] = {d->ipc};
    sk_generator *g = NULL;
    sk_scope *sc = sk_shim_scope_begin();
    sk_tensor *u = NULL;
    SK_FAIL_IF(!sc, SK_ENOMEM, "condense: out of memory");
    memcpy(shape + 1, d->shape, (size_t)d->ndim * sizeof *shape);
    if (d->job->cfg->init == SK_CONDENSE_INIT_REAL) {
        int64_t *idx = d->init_rows + c * d->ipc;
        sk_tensor *x = sk_distill_real_batch(d, c, -1, d->ipc, idx);
        u = sk_shim_add_scalar(sk_shim_mul_scalar(sk_shim_to(x, SK_CPU, SK_F32), 1.0 / 127.5), -1.0);
    } else {
        SK_TRY(sk_generator_create(&g, sk_distill_key(d->job->seed, -1, c), SK_CPU));
        u = sk_shim_randn(shape, d->ndim + 1, SK_F32, SK_CPU, g);
    }
    u = sk_shim_keep(sk_shim_contiguous(u));
    SK_TRY_T(u);
    d->u[c] = u;
    SK_TRY(sk_shim_set_requires_grad(u, 1));
done:
    sk_generator_free(g);
    sk_shim_scope_end(sc);
    return rc;
}

/* Class c's leaf and momentum from job->resume_u / resume_mom (the init
 * was drawn as in the run resumed, so init_rows are its own). */
static int resume_class_(sk_distill *d, int64_t c)
{
    int rc = SK_OK;
    const sk_condense_job *job = d->job;
    size_t per = (size_t)(d->ipc * d->D), bytes = per * sizeof(float);
    sk_tensor *buf = NULL;
    SK_TRY(sk_shim_copy_from_host(d->u[c], job->resume_u + (size_t)c * per, bytes));
    if (job->resume_mom) {
        sk_sgd_opts o = {.momentum = job->cfg->momentum_img};
        SK_TRY(sk_sgd_create(&d->opt[c], &d->u[c], NULL, 1, &o));
        SK_TRY(sk_sgd_momentum_buffer(d->opt[c], 0, &buf));
        SK_TRY(sk_shim_copy_from_host(buf, job->resume_mom + (size_t)c * per, bytes));
    }
done:
    return rc;
}

int sk_distill_begin(sk_distill *d, const sk_condense_job *job, sk_condense_out *out)
{
    int rc = SK_OK;
    const sk_corpus_info *in = job->info;
    memset(d, 0, sizeof *d);
    d->job = job;
    d->C = job->classes;
    d->ipc = job->cfg->ipc;
    d->ndim = in->ndim;
    d->D = sk_corpus_sample_elems(in);
    for (int i = 0; i < in->ndim; i++) d->shape[i] = in->shape[i];
    d->es = sk_elem_size(in->type);
    d->syn = out->syn;
    rc = check_(job);
    if (rc == SK_OK && job->cfg->dsa) {
        sk_dsa_family fam[SK_DSA_NFAMILIES];
        int nf = 0;
        size_t len = strlen(job->cfg->dsa_strategy);
        sk_dsa_params_default(&d->dsa);
        if (len >= sizeof d->dsa.strategy)
            rc = sk_error_set(SK_EINVAL, "condense.dsa_strategy: longer than %d characters",
                              (int)sizeof d->dsa.strategy - 1);
        else
            memcpy(d->dsa.strategy, job->cfg->dsa_strategy, len + 1);
        if (rc == SK_OK) rc = sk_dsa_parse(job->cfg->dsa_strategy, fam, &nf);
        if (rc < 0 && len < sizeof d->dsa.strategy)
            sk_error_prefix("condense.dsa_strategy = '%s': ", job->cfg->dsa_strategy);
    }
    if (rc == SK_OK) {
        d->data = (sk_model_data){.kind = SK_SAMPLE_IMAGE, .ndim = in->ndim, .classes = d->C};
        memcpy(d->data.shape, d->shape, sizeof d->data.shape);
        d->count = calloc((size_t)d->C, sizeof *d->count);
        d->rows = calloc((size_t)d->C, sizeof *d->rows);
        d->pix = calloc((size_t)d->C, sizeof *d->pix);
        d->u = calloc((size_t)d->C, sizeof *d->u);
        d->opt = calloc((size_t)d->C, sizeof *d->opt);
        d->perm = malloc((size_t)(job->n > 0 ? job->n : 1) * sizeof *d->perm);
        d->init_rows = out->syn_from;
        if (!d->count || !d->rows || !d->pix || !d->u || !d->opt || !d->perm)
            rc = sk_error_set(SK_ENOMEM, "condense: out of memory");
    }
    if (rc == SK_OK) rc = read_classes_(d);
    for (int64_t c = 0; rc == SK_OK && c < d->C; c++)
        if (sk_distill_owns(d, c)) rc = init_class_(d, c);
    for (int64_t c = 0; rc == SK_OK && job->resume_u && c < d->C; c++)
        if (sk_distill_owns(d, c)) rc = resume_class_(d, c);
    d->it0 = job->resume_u ? job->resume_iterations : 0;
    SK_TRY(sk_mpi_agree(rc));
    for (int64_t i = 0; i < out->syn_rows; i++) out->syn_labels[i] = i / d->ipc;
    /* the init rows of other ranks' classes come with the result (sk_distill_finish) */
done:
    return rc;
}

void sk_distill_end(sk_distill *d)
{
    for (int64_t c = 0; c < d->C; c++) {
        if (d->rows) free(d->rows[c]);
        if (d->pix) free(d->pix[c]);
        if (d->opt) sk_sgd_free(d->opt[c]); /* borrows u[c] */
        if (d->u) sk_tensor_free(d->u[c]);
    }
    free(d->count);
    free(d->rows);
    free(d->pix);
    free(d->u);
    free(d->opt);
    free(d->perm);
}

sk_tensor *sk_distill_real_batch(sk_distill *d, int64_t c, int64_t it, int64_t n, int64_t *idx)
{
    int64_t nc = d->count[c], b = n < nc ? n : nc, shape[5] = {b};
    size_t rowb = (size_t)d->D * d->es;
    uint8_t *buf = malloc((size_t)b * rowb);
    if (!buf) {
        sk_error_set(SK_ENOMEM, "condense: out of memory for a real batch");
        return NULL;
    }
    draw_(d->perm, nc, b, sk_distill_key(d->job->seed, it, c));
    for (int64_t j = 0; j < b; j++) {
        memcpy(buf + (size_t)j * rowb, d->pix[c] + (size_t)d->perm[j] * rowb, rowb);
        if (idx) idx[j] = d->rows[c][d->perm[j]];
    }
    memcpy(shape + 1, d->shape, (size_t)d->ndim * sizeof *shape);
    sk_tensor *x = sk_shim_from_host(buf, shape, d->ndim + 1, d->es == 1 ? SK_U8 : SK_F32, SK_CPU);
    free(buf);
    return x;
}

sk_tensor *sk_distill_syn_pixels(sk_distill *d, int64_t c)
{
    return sk_shim_mul_scalar(sk_shim_add_scalar(d->u[c], 1.0), 127.5);
}

int sk_distill_step(sk_distill *d, int64_t c, double lr, double momentum)
{
    int rc = SK_OK;
    if (!d->opt[c]) {
        sk_sgd_opts o = {.lr = lr, .momentum = momentum};
        SK_TRY(sk_sgd_create(&d->opt[c], &d->u[c], NULL, 1, &o));
    }
    SK_TRY(sk_sgd_step(d->opt[c], lr));
    SK_TRY(sk_shim_zero_grad(&d->u[c], 1));
done:
    return rc;
}

/* x as [B, C, H, W] in the model's input scale (floating). */
static sk_tensor *to_unit_(const sk_distill *d, const sk_tensor *x)
{
    int64_t s4[4] = {sk_shim_size(x, 0), d->ndim == 3 ? d->shape[0] : 1, d->shape[d->ndim - 2], d->shape[d->ndim - 1]};
    return sk_shim_reshape(sk_shim_add_scalar(sk_shim_mul_scalar(sk_shim_to(x, SK_CPU, SK_F32), 1.0 / 127.5), -1.0), s4,
                           4);
}

static uint64_t dsa_seed_(uint64_t key) { return sk_splitmix64(key ^ 0x647361ULL); /* "dsa" */ }

int sk_distill_pair(sk_distill *d, int64_t c, int64_t s, const sk_tensor *real, sk_tensor **real_pix,
                    sk_tensor **syn_pix)
{
    int rc = SK_OK;
    sk_generator *g = NULL;
    sk_dsa_draw *dr = NULL;
    sk_tensor *a = NULL, *b = NULL;
    int64_t s4[4] = {d->ipc, d->ndim == 3 ? d->shape[0] : 1, d->shape[d->ndim - 2], d->shape[d->ndim - 1]};
    *real_pix = *syn_pix = NULL;
    if (!d->job->cfg->dsa) {
        *real_pix = (sk_tensor *)real;
        *syn_pix = sk_distill_syn_pixels(d, c);
        SK_TRY_T(*syn_pix);
        return SK_OK;
    }
    SK_TRY(sk_generator_create(&g, dsa_seed_(sk_distill_key(d->job->seed, s, c)), SK_CPU));
    SK_TRY(sk_dsa_draw_create(&dr, &d->dsa, 1, s4[2], s4[3], g));
    SK_TRY(sk_dsa_apply_draw(dr, to_unit_(d, real), &a));
    SK_TRY(sk_dsa_apply_draw(dr, sk_shim_reshape(d->u[c], s4, 4), &b));
    *real_pix = sk_shim_mul_scalar(sk_shim_add_scalar(a, 1.0), 127.5);
    *syn_pix = sk_shim_mul_scalar(sk_shim_add_scalar(b, 1.0), 127.5);
    SK_TRY_T(*real_pix);
    SK_TRY_T(*syn_pix);
done:
    sk_dsa_draw_free(dr);
    sk_generator_free(g);
    return rc;
}

sk_tensor *sk_distill_augment(sk_distill *d, const sk_tensor *x, uint64_t key)
{
    sk_generator *g = NULL;
    sk_tensor *a = NULL;
    if (!d->job->cfg->dsa) return (sk_tensor *)x;
    if (sk_generator_create(&g, dsa_seed_(key), SK_CPU) < 0) return NULL;
    int rc = sk_dsa_apply(&d->dsa, to_unit_(d, x), g, &a);
    sk_generator_free(g);
    return rc < 0 ? NULL : sk_shim_mul_scalar(sk_shim_add_scalar(a, 1.0), 127.5);
}

int sk_distill_net(sk_distill *d, int64_t it, sk_model **net)
{
    return sk_model_create(net, d->job->model, &d->data, sk_distill_key(d->job->seed, it, -1));
}

int sk_distill_share(sk_distill *d)
{
    int rc = SK_OK;
    size_t per = (size_t)(d->ipc * d->D);
    for (int64_t c = 0; c < d->C; c++) {
        if (sk_distill_owns(d, c)) {
            sk_scope *sc = sk_shim_scope_begin();
            int prev = sk_shim_set_grad_enabled(0);
            sk_tensor *p = sk_shim_contiguous(sk_distill_syn_pixels(d, c));
            rc = p ? sk_shim_to_host(p, d->syn + (size_t)c * per, per * sizeof(float)) : SK_ETORCH;
            sk_shim_set_grad_enabled(prev);
            sk_shim_scope_end(sc);
        }
        SK_TRY(sk_mpi_agree(rc));
        SK_TRY(sk_mpi_bcast(d->syn + (size_t)c * per, per * sizeof(float), (int)(c % d->job->world)));
    }
done:
    return rc;
}

/* Class c's (owned) leaf and momentum buffer (zeros before its first
 * step) into out->syn_state. */
static int state_to_host_(sk_distill *d, sk_condense_out *out, int64_t c)
{
    int rc = SK_OK;
    size_t per = (size_t)(d->ipc * d->D), bytes = per * sizeof(float);
    float *u = out->syn_state + (size_t)c * per, *m = out->syn_state + (size_t)out->syn_rows * (size_t)d->D + c * per;
    sk_tensor *buf = NULL;
    SK_TRY(sk_shim_to_host(d->u[c], u, bytes));
    if (d->opt[c] && sk_sgd_has_buffer(d->opt[c], 0)) {
        SK_TRY(sk_sgd_momentum_buffer(d->opt[c], 0, &buf));
        SK_TRY(sk_shim_to_host(buf, m, bytes));
    }
done:
    return rc;
}

/* Every class's state into rank 0's out->syn_state: rank 0 alone writes
 * the state file, so the owners send theirs there and nowhere else.
 * Collective. */
static int gather_state_(sk_distill *d, sk_condense_out *out)
{
    int rc = SK_OK, world = d->job->world, rank = d->job->rank, n = 0;
    size_t per = (size_t)(d->ipc * d->D), bytes = per * sizeof(float);
    sk_mpi_msg *msg = NULL;
    for (int64_t c = 0; rc == SK_OK && c < d->C; c++)
        if (sk_distill_owns(d, c)) rc = state_to_host_(d, out, c);
    SK_TRY(sk_mpi_agree(rc));
    if (world == 1) goto done;
    msg = malloc((size_t)(2 * d->C) * sizeof *msg);
    rc = msg ? SK_OK : sk_error_set(SK_ENOMEM, "condense: out of memory");
    SK_TRY(sk_mpi_agree(rc));
    for (int64_t c = 0; c < d->C; c++) {
        int owner = (int)(c % world);
        if (owner == 0 || (rank != 0 && rank != owner)) continue;
        int peer = rank == 0 ? owner : 0;
        msg[n++] = (sk_mpi_msg){.buf = out->syn_state + (size_t)c * per, .bytes = bytes, .peer = peer};
        msg[n++] = (sk_mpi_msg){
            .buf = out->syn_state + (size_t)(out->syn_rows * d->D) + (size_t)c * per, .bytes = bytes, .peer = peer};
    }
    rc = rank == 0 ? sk_mpi_exchange(NULL, 0, msg, n) : sk_mpi_exchange(msg, n, NULL, 0);
    SK_TRY(sk_mpi_agree(rc));
done:
    free(msg);
    return rc;
}

int sk_distill_after(sk_distill *d, sk_condense_out *out, int64_t done)
{
    int rc = SK_OK;
    const sk_condense_config *cfg = d->job->cfg;
    if (!d->job->snapshot || cfg->snapshot_every <= 0 || done % cfg->snapshot_every != 0 || done >= cfg->iterations)
        return SK_OK;
    SK_TRY(sk_distill_finish(d, out));
    SK_TRY(sk_mpi_agree(d->job->snapshot(d->job->snapshot_ctx, done)));
done:
    return rc;
}

int sk_distill_finish(sk_distill *d, sk_condense_out *out)
{
    int rc = SK_OK;
    SK_TRY(sk_distill_share(d));
    if (out->syn_state) SK_TRY(gather_state_(d, out));
    for (int64_t c = 0; c < d->C; c++)
        SK_TRY(
            sk_mpi_bcast(out->syn_from + c * d->ipc, (size_t)d->ipc * sizeof *out->syn_from, (int)(c % d->job->world)));
    for (int64_t i = 0; i < (int64_t)((size_t)out->syn_rows * (size_t)d->D); i++)
        SK_FAIL_IF(!isfinite(out->syn[i]), SK_ENUMERIC,
                   "condense.method=%s: a synthetic pixel became non-finite (lower condense.lr_img)",
                   d->job->cfg->method);
done:
    return rc;
}
