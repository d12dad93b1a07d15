/* sk_condense_lm.c - documents of a token corpus scored by a causal LM
 * proxy (a GPT that `shrink train` wrote): each document's mean over its
 * next-token targets of a logit score (sk_condense_score.h,
 * sk_condense_doc_score): the negative log-likelihood for `perplexity`
 * (exp of it, CCNet) and the per-document `loss`, and EL2N, entropy,
 * margin, least confidence with the target token as the label (the
 * formulas of sk_condense_logit_score, on the host over [batch, C, vocab]
 * logits; the loss stays in torch, without that copy).
 *
 * Windowing. The proxy takes windows of C + 1 tokens (C its context,
 * data.seq_len of its run). A document t_0 .. t_{L-1} is cut as the
 * loader cuts the token stream: windows start at 0, C, 2C, ... (stride C,
 * so the last token of one window is the first of the next) while a start
 * s < L - 1, each window t_s .. t_{min(s + C, L - 1)}; every target t_1 ..
 * t_{L-1} is scored exactly once, conditioned on the tokens since its
 * window's start (at most C of them), and never on another document. A
 * last window shorter than C + 1 is padded with token 0 after its end;
 * the model is causal, so a padded position changes no real position's
 * logits, and padded targets are not counted. The document's score is
 * sum(NLL) / (L - 1), in double. A document of fewer than 2 tokens has no
 * target: it gets the score of a uniform guess (NLL and entropy log(vocab),
 * so perplexity = the vocabulary size; EL2N sqrt(1 - 1/vocab); margin 1;
 * least confidence 1 - 1/vocab), so it is neither kept as fluent nor
 * silently dropped as garbage.
 *
 * Memory: the shard's offsets, one block of documents' tokens (up to 4M
 * tokens, or one longer document) and one batch of condense.batch windows
 * with its logits. Rank-count independence: windows are batched within
 * the corpus's global groups of documents [k B, (k + 1) B) (B =
 * condense.batch), flushed at each group's end; a rank scores every group
 * that overlaps its shard whole and keeps its own documents, so a window
 * shares its batch with the same windows at any world size (a row's float
 * result can depend on its batch, sk_condense_embed.h). A rank scores at
 * most 2 (B - 1) documents beyond its shard.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sk_condense_score.h"

typedef struct {
    sk_model *proxy;
    const char *path;
    int64_t C, B, nb; /* context, windows per batch, windows filled */
    int64_t *win;     /* [B, C + 1] tokens */
    int64_t *doc;     /* [B] the window's document (relative to the first group's) */
    int64_t *valid;   /* [B] its real targets */
    sk_condense_logit_kind kind;
    int64_t V;     /* vocabulary */
    float *nll;    /* [B, C] per-target scores */
    float *logits; /* kinds other than loss: [B, C, V] on the host */
    int64_t *tgt;  /* their targets [B * C] */
    double *sum;   /* [shard] NLL sums */
} lm_;

/* The filled windows through the proxy; their real targets' NLLs into sum. */
static int flush_(lm_ *L)
{
    int rc = SK_OK;
    if (L->nb == 0) return SK_OK;
    int64_t C = L->C, shape[2] = {L->nb, C + 1};
    sk_scope *sc = sk_shim_scope_begin();
    SK_FAIL_IF(!sc, SK_ENOMEM, "condense: out of memory");
    int prev = sk_shim_set_grad_enabled(0);
    sk_model_out o;
    sk_tensor *x = sk_shim_from_host(L->win, shape, 2, SK_I64, SK_CPU);
    if (!x) rc = sk_error_set(SK_ENOMEM, "condense: out of memory");
    if (rc == SK_OK) rc = sk_model_forward(L->proxy, x, NULL, NULL, 0, 0, &o);
    sk_tensor *nll = NULL;
    if (rc == SK_OK && L->kind == SK_SCORE_LOSS) { /* the loss in torch: no [B, C, vocab] copy */
        nll = sk_shim_contiguous(sk_shim_to(sk_model_nll(o.logits, sk_shim_slice(x, 1, 1, C + 1)), SK_CPU, SK_F32));
        if (!nll) rc = sk_error_last_code() < 0 ? sk_error_last_code() : SK_ETORCH;
        if (rc == SK_OK && sk_shim_numel(nll) != L->nb * C)
            rc = sk_error_set(SK_EINVAL, "condense.proxy %s: the LM's losses are not [windows, %lld]", L->path,
                              (long long)C);
        if (rc == SK_OK) rc = sk_shim_to_host(nll, L->nll, (size_t)(L->nb * C) * sizeof *L->nll);
    } else if (rc == SK_OK) { /* the other logit scores on the host, each position's target as its label */
        sk_tensor *z = sk_shim_contiguous(sk_shim_to(o.logits, SK_CPU, SK_F32));
        if (!z) rc = sk_error_last_code() < 0 ? sk_error_last_code() : SK_ETORCH;
        if (rc == SK_OK && sk_shim_numel(z) != L->nb * C * L->V)
            rc = sk_error_set(SK_EINVAL, "condense.proxy %s: the LM's logits are not [windows, %lld, %lld]", L->path,
                              (long long)C, (long long)L->V);
        if (rc == SK_OK) rc = sk_shim_to_host(z, L->logits, (size_t)(L->nb * C * L->V) * sizeof *L->logits);
        for (int64_t b = 0; rc == SK_OK && b < L->nb; b++)
            for (int64_t j = 0; j < C; j++) L->tgt[b * C + j] = L->win[b * (C + 1) + j + 1];
        if (rc == SK_OK) sk_condense_logit_score(L->kind, L->logits, L->nb * C, L->V, L->tgt, L->nll);
    }
    sk_shim_set_grad_enabled(prev);
    sk_shim_scope_end(sc);
    SK_TRY(rc);
    for (int64_t b = 0; b < L->nb; b++)
        for (int64_t j = 0; j < L->valid[b]; j++) L->sum[L->doc[b]] += L->nll[b * C + j];
    L->nb = 0;
done:
    return rc;
}

/* Token k of a block of element type t, widened. */
static int64_t tok_(const void *blk, sk_elem_type t, int64_t k)
{
    switch (t) {
    case SK_ELEM_U8: return ((const uint8_t *)blk)[k];
    case SK_ELEM_U16: return ((const uint16_t *)blk)[k];
    case SK_ELEM_I32: return ((const int32_t *)blk)[k];
    default: return ((const int64_t *)blk)[k];
    }
}

int sk_condense_doc_score(const sk_condense_job *job, sk_model *proxy, const char *path, sk_condense_logit_kind kind,
                          float *mean)
{
    int rc = SK_OK;
    const sk_corpus_info *in = job->info;
    const sk_model_data *d = sk_model_sample(proxy);
    sk_model_info mi;
    sk_model_info_get(proxy, &mi);
    int64_t n = job->end - job->begin, *off = NULL, cap = 0, B = job->cfg->batch, g_lo, g_hi;
    sk_condense_batch_cover(job->begin, job->end, B, job->n, &g_lo, &g_hi); /* the document groups */
    int64_t ng = g_hi - g_lo, at = job->begin - g_lo; /* documents read; the shard's first among them */
    char *blk = NULL;
    lm_ L = {.proxy = proxy, .path = path, .B = B, .kind = kind, .V = d->vocab};
    SK_FAIL_IF(!(mi.flags & SK_MODEL_LM) || d->kind != SK_SAMPLE_TOKENS || d->ndim != 1 || d->shape[0] < 2, SK_EINVAL,
               "condense.proxy %s: a %s model is not a causal LM over token windows", path, mi.arch);
    SK_FAIL_IF(in->kind != SK_CORPUS_TOKENS, SK_EINVAL, "%s: not a token corpus", job->cfg->input);
    L.C = d->shape[0] - 1;
    size_t es = sk_elem_size(in->type);
    off = malloc((size_t)(ng + 1) * sizeof *off);
    L.win = calloc((size_t)(L.B * (L.C + 1)), sizeof *L.win);
    L.doc = malloc((size_t)L.B * sizeof *L.doc);
    L.valid = malloc((size_t)L.B * sizeof *L.valid);
    L.nll = malloc((size_t)(L.B * L.C) * sizeof *L.nll);
    L.sum = calloc((size_t)(ng > 0 ? ng : 1), sizeof *L.sum);
    if (kind != SK_SCORE_LOSS) {
        L.logits = malloc((size_t)(L.B * L.C * L.V) * sizeof *L.logits);
        L.tgt = malloc((size_t)(L.B * L.C) * sizeof *L.tgt);
        SK_FAIL_IF(!L.logits || !L.tgt, SK_ENOMEM,
                   "condense: out of memory for the logits of %lld windows x %lld tokens x %lld (lower condense.batch)",
                   (long long)L.B, (long long)L.C, (long long)L.V);
    }
    SK_FAIL_IF(!off || !L.win || !L.doc || !L.valid || !L.nll || !L.sum, SK_ENOMEM,
               "condense: out of memory for %lld windows of %lld tokens", (long long)L.B, (long long)L.C + 1);
    SK_TRY(sk_corpus_read_offsets(job->corpus, g_lo, ng + 1, off));
    for (int64_t b0 = 0; b0 < ng;) {
        int64_t b1 = b0 + 1;
        while (b1 < ng && off[b1 + 1] - off[b0] <= (4 << 20)) b1++;
        int64_t len = off[b1] - off[b0];
        if (len > cap) {
            free(blk);
            blk = malloc((size_t)len * es);
            cap = len;
            SK_FAIL_IF(!blk, SK_ENOMEM, "condense: out of memory for %lld tokens", (long long)len);
        }
        if (len > 0) SK_TRY(sk_corpus_read_tokens(job->corpus, off[b0], len, blk));
        for (int64_t i = b0; i < b1; i++) {
            if ((g_lo + i) % B == 0) SK_TRY(flush_(&L)); /* a group's first document */
            int64_t base = off[i] - off[b0], Ld = off[i + 1] - off[i];
            for (int64_t s = 0; s < Ld - 1; s += L.C) {
                int64_t w = (Ld - 1 - s < L.C ? Ld - 1 - s : L.C) + 1, *row = L.win + L.nb * (L.C + 1);
                for (int64_t j = 0; j <= L.C; j++) {
                    int64_t t = j < w ? tok_(blk, in->type, base + s + j) : 0;
                    SK_FAIL_IF(t < 0 || t >= d->vocab, SK_EINVAL,
                               "%s: document %lld holds token %lld, outside condense.proxy %s's vocabulary of %lld",
                               job->cfg->input, (long long)(g_lo + i), (long long)t, path, (long long)d->vocab);
                    row[j] = t;
                }
                L.doc[L.nb] = i;
                L.valid[L.nb++] = w - 1;
                if (L.nb == L.B) SK_TRY(flush_(&L));
            }
        }
        b0 = b1;
    }
    SK_TRY(flush_(&L));
    for (int64_t i = 0; i < n; i++) {
        int64_t T = off[at + i + 1] - off[at + i] - 1;
        double uni = kind == SK_SCORE_LOSS || kind == SK_SCORE_ENTROPY ? log((double)d->vocab)
                     : kind == SK_SCORE_EL2N                           ? sqrt(1.0 - 1.0 / (double)d->vocab)
                     : kind == SK_SCORE_MARGIN                         ? 1.0
                                                                       : 1.0 - 1.0 / (double)d->vocab;
        mean[i] = T > 0 ? (float)(L.sum[at + i] / (double)T) : (float)uni;
    }
done:
    free(off);
    free(blk);
    free(L.win);
    free(L.doc);
    free(L.valid);
    free(L.nll);
    free(L.sum);
    free(L.logits);
    free(L.tgt);
    return rc;
}
