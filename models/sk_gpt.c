/* sk_gpt.c - GPT-style causal decoder over the shim (see sk_gpt.h). */
#include "sk_gpt.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_model.h"
#include "sk_weights.h"

struct sk_gpt {
    sk_gpt_opts o;
    sk_params p;
    sk_tensor *wte, *wpe, *lnf_w, *lnf_b;
    sk_block *blocks;
};

int sk_gpt_create(sk_gpt **out, const sk_gpt_opts *o, uint64_t seed)
{
    int rc = SK_OK;
    sk_gpt *m = NULL;
    sk_generator *g = NULL;
    *out = NULL;
    SK_FAIL_IF(o->width <= 0 || o->depth <= 0 || o->heads <= 0 || o->mlp_hidden <= 0, SK_EINVAL,
               "model: width, depth, heads and mlp hidden size must be positive");
    SK_FAIL_IF(o->width % o->heads, SK_EINVAL, "model.heads = %lld does not divide model.width = %lld",
               (long long)o->heads, (long long)o->width);
    SK_FAIL_IF(o->vocab < 2, SK_EINVAL, "model: vocabulary of %lld tokens (need >= 2)", (long long)o->vocab);
    SK_FAIL_IF(o->seq_len < 1, SK_EINVAL, "model.seq_len = %lld (need >= 1)", (long long)o->seq_len);
    m = calloc(1, sizeof *m);
    SK_FAIL_IF(!m, SK_ENOMEM, "gpt: out of memory");
    m->o = *o;
    sk_params_init(&m->p);
    SK_TRY(sk_generator_create(&g, seed, SK_CPU));
    int64_t we[2] = {o->vocab, o->width}, pe[2] = {o->seq_len, o->width};
    SK_TRY(sk_params_add(&m->p, "wte.weight", sk_params_normal(we, 2, 0.02, g), 1));
    m->wte = m->p.t[m->p.n - 1];
    SK_TRY(sk_params_add(&m->p, "wpe.weight", sk_params_normal(pe, 2, 0.01, g), 0));
    m->wpe = m->p.t[m->p.n - 1];
    SK_TRY(sk_blocks_create(&m->blocks, &m->p, (int)o->depth, o->width, o->mlp_hidden, g));
    SK_TRY(sk_block_norm_init(&m->p, "ln_f", o->width, &m->lnf_w, &m->lnf_b));
    *out = m;
    m = NULL;
done:
    sk_generator_free(g);
    sk_gpt_free(m);
    return rc;
}

void sk_gpt_free(sk_gpt *m)
{
    if (!m) return;
    sk_params_free(&m->p);
    free(m->blocks);
    free(m);
}

sk_params *sk_gpt_params(sk_gpt *m) { return &m->p; }

sk_select_model sk_gpt_select_model(const sk_gpt *m)
{
    sk_select_model s = {0};
    s.depth = (int)m->o.depth;
    s.width = (int)m->o.width;
    s.heads = (int)m->o.heads;
    s.tokens = m->o.seq_len;
    s.causal = 1;
    s.vocab = m->o.vocab;
    s.lm = &sk_gpt_frozen_lm;
    return s;
}

/* Embeddings and the block stack over windows [B, T+1] with T <= seq_len,
 * then the final norm: seq->x [B, N, D] for the N positions left after the
 * blocks, seq->pos their original positions; *h the normed states. */
static int hidden_(sk_gpt *m, const sk_tensor *windows, sk_selector *sel, int64_t step, int training, sk_seq *seq,
                   sk_tensor **h, sk_blocks_stats *st)
{
    int rc = SK_OK;
    int64_t B = sk_shim_size(windows, 0), T = sk_shim_size(windows, 1) - 1;
    sk_tensor *inp = sk_shim_slice(windows, 1, 0, T);
    sk_tensor *pos = sk_shim_arange(T, SK_CPU);
    sk_tensor *x = sk_shim_add(sk_shim_embedding(m->wte, inp), sk_shim_embedding(m->wpe, pos));
    SK_TRY_T(x);
    int64_t pe[2] = {B, T};
    memset(seq, 0, sizeof *seq);
    seq->x = x;
    seq->pos = sk_shim_contiguous(sk_shim_expand(sk_shim_unsqueeze(pos, 0), pe, 2));
    seq->causal = 1;
    seq->training = training;
    seq->windows = (sk_tensor *)windows;
    SK_TRY(sk_blocks_run(m->blocks, (int)m->o.depth, (int)m->o.heads, sel, step, seq, st));
    *h = sk_shim_layer_norm(seq->x, m->lnf_w, m->lnf_b, 1e-5);
    SK_TRY_T(*h);
done:
    return rc;
}

/* hidden_ and the output projection tied to the token embedding:
 * *logits [B, N, vocab]. */
static int logits_(sk_gpt *m, const sk_tensor *windows, sk_selector *sel, int64_t step, int training, sk_seq *seq,
                   sk_tensor **logits, sk_blocks_stats *st)
{
    int rc = SK_OK;
    sk_tensor *h = NULL;
    SK_TRY(hidden_(m, windows, sel, step, training, seq, &h, st));
    *logits = sk_shim_linear(h, m->wte, NULL);
    SK_TRY_T(*logits);
done:
    return rc;
}

int sk_gpt_forward(sk_gpt *m, const sk_tensor *windows, sk_selector *sel, int64_t step, int training, sk_gpt_out *out)
{
    int rc = SK_OK;
    int64_t B = sk_shim_size(windows, 0), T = sk_shim_size(windows, 1) - 1;
    SK_FAIL_IF(B <= 0 || T != m->o.seq_len, SK_EINVAL, "gpt: got windows of %lld tokens, model.seq_len + 1 = %lld",
               (long long)(T + 1), (long long)(m->o.seq_len + 1));
    sk_seq seq;
    sk_tensor *logits = NULL;
    SK_TRY(logits_(m, windows, sel, step, training, &seq, &logits, &out->st));
    sk_tensor *tgt = sk_shim_slice(windows, 1, 1, T + 1);
    int64_t N = sk_shim_size(seq.x, 1);
    /* Score each processed position against its own next token. */
    if (N != T) tgt = sk_shim_gather(tgt, 1, seq.pos);
    int64_t l2[2] = {B * N, m->o.vocab}, t1[1] = {B * N};
    out->loss = sk_shim_cross_entropy(sk_shim_reshape(logits, l2, 2), sk_shim_reshape(tgt, t1, 1), -100);
    SK_TRY_T(out->loss);
    out->sample_loss = sk_model_nll(logits, tgt); /* [B, N] */
    int64_t d1 = 1;
    out->sample_loss = sk_shim_mean(out->sample_loss, &d1, 1, 0);
    SK_TRY_T(out->sample_loss);
    out->logits = logits;
    out->targets = B * N;
done:
    return rc;
}

int sk_gpt_token_nll(sk_gpt *m, const sk_tensor *windows, sk_tensor **nll)
{
    int rc = SK_OK;
    *nll = NULL;
    int64_t B = sk_shim_size(windows, 0), T = sk_shim_size(windows, 1) - 1;
    SK_FAIL_IF(sk_shim_ndim(windows) != 2 || B <= 0 || T < 1 || T > m->o.seq_len, SK_EINVAL,
               "gpt: token loss of windows of %lld tokens, this model takes 2..%lld", (long long)(T + 1),
               (long long)(m->o.seq_len + 1));
    int prev = sk_shim_set_grad_enabled(0);
    sk_seq seq;
    sk_tensor *logits = NULL;
    sk_blocks_stats st;
    rc = logits_(m, windows, NULL, 0, 0, &seq, &logits, &st);
    sk_shim_set_grad_enabled(prev);
    if (rc < 0) goto done;
    sk_tensor *tgt = sk_shim_unsqueeze(sk_shim_slice(windows, 1, 1, T + 1), -1);
    *nll = sk_shim_neg(sk_shim_squeeze(sk_shim_gather(sk_shim_log_softmax(logits, -1), 2, tgt), -1));
    SK_TRY_T(*nll);
done:
    return rc;
}

/* The architecture keys written as safetensors metadata, so a saved GPT
 * can be rebuilt from its file alone (sk_gpt_frozen_lm). */
static const struct {
    const char *key;
    size_t off;
} meta_keys_[SK_GPT_META_N] = {
    {"shrink.gpt.vocab", offsetof(sk_gpt_opts, vocab)}, {"shrink.gpt.seq_len", offsetof(sk_gpt_opts, seq_len)},
    {"shrink.gpt.width", offsetof(sk_gpt_opts, width)}, {"shrink.gpt.depth", offsetof(sk_gpt_opts, depth)},
    {"shrink.gpt.heads", offsetof(sk_gpt_opts, heads)}, {"shrink.gpt.mlp_hidden", offsetof(sk_gpt_opts, mlp_hidden)},
};

void sk_gpt_meta(const sk_gpt *m, char buf[SK_GPT_META_N][24], const char *kv[2 * SK_GPT_META_N])
{
    for (int i = 0; i < SK_GPT_META_N; i++) {
        snprintf(buf[i], sizeof buf[i], "%lld", (long long)*(const int64_t *)((const char *)&m->o + meta_keys_[i].off));
        kv[2 * i] = meta_keys_[i].key;
        kv[2 * i + 1] = buf[i];
    }
}

int sk_gpt_opts_from_file(const char *path, sk_gpt_opts *o)
{
    int rc = SK_OK;
    const char *keys[SK_GPT_META_N];
    char vals[SK_GPT_META_N][64];
    memset(o, 0, sizeof *o);
    for (int i = 0; i < SK_GPT_META_N; i++) keys[i] = meta_keys_[i].key;
    rc = sk_weights_read_meta(path, keys, SK_GPT_META_N, vals[0], sizeof vals[0]);
    if (rc == SK_ENOTFOUND) {
        sk_error_prefix("no GPT architecture metadata (not the model.safetensors of a shrink GPT run): ");
        goto done;
    }
    if (rc < 0) goto done;
    for (int i = 0; i < SK_GPT_META_N; i++) {
        const char *v = vals[i];
        char *e = NULL;
        long long x = strtoll(v, &e, 10);
        SK_FAIL_IF(e == v || *e || x < 1, SK_ECORRUPT, "%s: metadata '%s' = '%s' is not a positive integer", path,
                   meta_keys_[i].key, v);
        *(int64_t *)((char *)o + meta_keys_[i].off) = x;
    }
done:
    return rc;
}

double sk_gpt_forward_flops(const sk_gpt *m, int64_t T)
{
    double t = (double)T, d = (double)m->o.width, h = (double)m->o.mlp_hidden, v = (double)m->o.vocab;
    return (double)m->o.depth * (8.0 * t * d * d + 4.0 * t * t * d + 4.0 * t * d * h) + 2.0 * t * d * v;
}

int sk_gpt_embed(sk_gpt *m, const sk_tensor *windows, sk_tensor **feat)
{
    int rc = SK_OK;
    int64_t T = sk_shim_size(windows, 1) - 1, d1[1] = {1};
    SK_FAIL_IF(sk_shim_ndim(windows) != 2 || T < 1 || T > m->o.seq_len, SK_EINVAL,
               "gpt: features of windows of %lld tokens, this model takes 2..%lld", (long long)(T + 1),
               (long long)(m->o.seq_len + 1));
    sk_seq seq;
    sk_tensor *h = NULL;
    sk_blocks_stats st;
    SK_TRY(hidden_(m, windows, NULL, 0, 0, &seq, &h, &st));
    *feat = sk_shim_mean(h, d1, 1, 0);
    SK_TRY_T(*feat);
done:
    return rc;
}

/* ---- the registry entry (sk_model.h) ---------------------------------------- */

static int vt_check_(const sk_model_config *c) { return sk_blocks_check_config(c); }

static int vt_create_(void **self, const sk_model_config *c, const sk_model_data *d, uint64_t seed)
{
    *self = NULL;
    if (d->kind != SK_SAMPLE_TOKENS || d->ndim != 1 || d->shape[0] < 2)
        return sk_error_set(SK_EINVAL, "data: gpt needs token windows of at least 2 tokens, got %d-dim samples",
                            d->ndim);
    sk_gpt_opts go = {c->vocab ? c->vocab : d->vocab, d->shape[0] - 1, c->width, c->depth, c->heads,
                      c->mlp_ratio * c->width};
    if (go.vocab < 2) return sk_error_set(SK_EINVAL, "model.vocab: the corpus reports no vocabulary; set model.vocab");
    if (c->vocab && d->vocab > c->vocab)
        return sk_error_set(SK_EINVAL, "model.vocab = %lld is smaller than the corpus vocabulary %lld",
                            (long long)c->vocab, (long long)d->vocab);
    return sk_gpt_create((sk_gpt **)self, &go, seed);
}

static void vt_destroy_(void *self) { sk_gpt_free(self); }
static sk_params *vt_params_(void *self) { return sk_gpt_params(self); }

static void vt_info_(const void *self, sk_model_info *out)
{
    const sk_gpt *m = self;
    out->outputs = m->o.vocab;
    out->features = m->o.width;
}

/* Token windows in any integer dtype -> int64, the embedding's index type. */
static int windows_(const sk_tensor *x, sk_tensor **w)
{
    sk_dtype dt = sk_shim_dtype(x);
    if (sk_shim_ndim(x) != 2 || (dt != SK_I64 && dt != SK_I32))
        return sk_error_set(SK_EINVAL, "gpt: token batches must hold integer tokens [B, seq_len + 1]");
    *w = sk_shim_to(x, SK_CPU, SK_I64);
    return *w ? SK_OK : sk_error_last_code();
}

static int vt_forward_(void *self, const sk_tensor *x, const sk_tensor *y, sk_selector *sel, int64_t step, int training,
                       sk_model_out *out)
{
    int rc = SK_OK;
    sk_tensor *w = NULL;
    (void)y; /* the targets are the windows shifted by one */
    SK_TRY(windows_(x, &w));
    sk_gpt_out o = {0};
    SK_TRY(sk_gpt_forward(self, w, sel, step, training, &o));
    out->loss = o.loss;
    out->sample_loss = o.sample_loss;
    out->logits = o.logits;
    out->count = o.targets;
    out->tokens_in = o.st.tokens_in;
    out->tokens_blocks = o.st.tokens_blocks;
    out->depth = o.st.depth;
done:
    return rc;
}

static int vt_embed_(void *self, const sk_tensor *x, sk_tensor **feat)
{
    int rc = SK_OK;
    sk_tensor *w = NULL;
    SK_TRY(windows_(x, &w));
    SK_TRY(sk_gpt_embed(self, w, feat));
done:
    return rc;
}

static int vt_select_model_(const void *self, sk_select_model *out)
{
    *out = sk_gpt_select_model(self);
    return SK_OK;
}

static double vt_flops_(const void *self)
{
    const sk_gpt *m = self;
    return sk_gpt_forward_flops(m, m->o.seq_len);
}

/* The shrink.gpt.* keys, so the file also serves as a frozen proxy LM. */
static int vt_extra_meta_(const void *self, char (*buf)[24], const char **kv, int cap)
{
    if (cap < SK_GPT_META_N) return 0;
    sk_gpt_meta(self, buf, kv);
    return SK_GPT_META_N;
}

const sk_model_vtable sk_model_gpt = {
    .version = SK_MODEL_VERSION,
    .name = "gpt",
    .flags = SK_MODEL_LM | SK_MODEL_TOKENS,
    .help = "GPT causal decoder (token windows)",
    .keys = "width depth heads mlp_ratio vocab",
    .check = vt_check_,
    .create = vt_create_,
    .destroy = vt_destroy_,
    .params = vt_params_,
    .info = vt_info_,
    .forward = vt_forward_,
    .embed = vt_embed_,
    .select_model = vt_select_model_,
    .forward_flops = vt_flops_,
    .extra_meta = vt_extra_meta_,
};
