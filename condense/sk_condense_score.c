/* sk_condense_score.c - proxy scoring and the score rules of condense/
 * (sk_condense_score.h).
 *
 * Rules. top / bottom: the k highest / lowest scores (sk_pick, ties to the
 * lower index). stratified: Zheng et al., "Coverage-centric Coreset
 * Selection for High Pruning Rates" (ICLR 2023), CoresetSelection.
 * stratified_sampling of their code: `strata` equal-width bins over
 * [min, max * 1.0001) of the scores, the budget allocated by their
 * bin_allocate (bins visited from the smallest to the largest, each taking
 * min(its size, remaining budget // bins left)), then a uniform random
 * pick inside every bin. ccs: their mislabel_mask first (drop the
 * floor(ccs_beta * n) highest scores; n and the budget are of the whole
 * group, as their train.py computes both from the full set), then
 * stratified over the rest. Deliberate differences, for determinism at
 * any rank count: bins of equal size are visited in bin order (torch's
 * argsort does not promise one), and the random pick inside a bin is the
 * row-index-keyed splitmix64 order of `random`; with class_balance (and
 * labels) every class is its own group with its own min, max, bins and
 * budget (sk_condense_group_wants), where the reference is class-blind.
 * A bin index is computed in double: floor((s - min) / step), clamped to
 * the last bin (all-equal scores: one bin).
 */
#include "sk_condense_score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sk_pick.h"
#include "sk_rand.h"
#include "sk_time.h"

/* ---- per-row quantities ---------------------------------------------------- */

void sk_condense_logit_score(sk_condense_logit_kind kind, const float *logits, int64_t b, int64_t classes,
                             const int64_t *labels, float *scores)
{
    for (int64_t i = 0; i < b; i++) {
        const float *z = logits + (size_t)i * (size_t)classes;
        double mx = z[0], sum = 0;
        for (int64_t c = 1; c < classes; c++) mx = z[c] > mx ? z[c] : mx;
        for (int64_t c = 0; c < classes; c++) sum += exp((double)z[c] - mx);
        double lse = mx + log(sum), v = 0, p1 = 0, p2 = 0;
        int64_t y = labels ? labels[i] : 0;
        for (int64_t c = 0; c < classes; c++) {
            double lp = (double)z[c] - lse, p = exp(lp);
            if (kind == SK_SCORE_EL2N)
                v += (p - (c == y)) * (p - (c == y));
            else if (kind == SK_SCORE_ENTROPY)
                v -= p > 0 ? p * lp : 0;
            if (p > p1) {
                p2 = p1;
                p1 = p;
            } else if (p > p2) {
                p2 = p;
            }
        }
        switch (kind) {
        case SK_SCORE_LOSS: v = lse - (double)z[y]; break;
        case SK_SCORE_EL2N: v = sqrt(v); break;
        case SK_SCORE_ENTROPY: break;
        case SK_SCORE_MARGIN: v = 1.0 - (p1 - p2); break;
        case SK_SCORE_LEAST_CONF: v = 1.0 - p1; break;
        }
        scores[i] = (float)v;
    }
}

int sk_condense_logit_batch(void *user, sk_model *proxy, sk_tensor *x, sk_tensor *y, const int64_t *labels, int64_t b,
                            float *scores)
{
    int rc = SK_OK;
    const sk_condense_logit_kind *kind = user;
    int prev = sk_shim_set_grad_enabled(0);
    sk_model_out o;
    float *host = NULL;
    SK_TRY(sk_model_forward(proxy, x, y, NULL, 0, 0, &o));
    sk_tensor *z = sk_shim_contiguous(sk_shim_to(o.logits, SK_CPU, SK_F32));
    SK_TRY_T(z);
    int64_t classes = sk_shim_numel(z) / (b > 0 ? b : 1);
    SK_FAIL_IF(sk_shim_ndim(z) != 2 || sk_shim_size(z, 0) != b, SK_EINVAL,
               "condense: the proxy's logits are not [batch, classes]");
    host = malloc((size_t)(b * classes) * sizeof *host);
    SK_FAIL_IF(!host, SK_ENOMEM, "condense: out of memory");
    SK_TRY(sk_shim_to_host(z, host, (size_t)(b * classes) * sizeof *host));
    sk_condense_logit_score(*kind, host, b, classes, labels, scores);
done:
    free(host);
    sk_shim_set_grad_enabled(prev);
    return rc;
}

/* ---- streaming the shard --------------------------------------------------- */

/* Batches are the global [k B, (k + 1) B) of the whole corpus, not of the
 * shard: a rank scores every batch that overlaps its shard in full and
 * keeps its own rows, so each row's logits come from the same batch (same
 * rows, same size, same kernels) at any world size and the scores are
 * bit-identical across rank counts. A rank reads at most 2 (B - 1) rows
 * beyond its shard. */
int sk_condense_score_stream(const sk_condense_job *job, sk_model *proxy, sk_condense_batch_fn fn, void *user,
                             float *scores)
{
    int rc = SK_OK;
    const sk_corpus_info *in = job->info;
    int64_t n = job->end - job->begin, B = job->cfg->batch, rowe = sk_corpus_sample_elems(in);
    size_t es = sk_elem_size(in->type);
    int64_t cap = B < job->n ? B : job->n; /* rows of the largest batch */
    void *buf = malloc((size_t)cap * (size_t)rowe * es);
    int64_t *lab = calloc((size_t)cap, sizeof *lab);
    float *tmp = malloc((size_t)cap * sizeof *tmp);
    SK_FAIL_IF(!buf || !lab || !tmp, SK_ENOMEM, "condense: out of memory for a batch of %lld rows", (long long)B);
    SK_FAIL_IF(in->type == SK_ELEM_U16 || (unsigned)in->type > SK_ELEM_F32, SK_EUNSUPPORTED,
               "%s: samples of element type %d cannot be scored", job->cfg->input, (int)in->type);
    double last = sk_now();
    int64_t g_lo, g_hi;
    sk_condense_batch_cover(job->begin, job->end, B, job->n, &g_lo, &g_hi);
    for (int64_t g0 = g_lo; g0 < g_hi; g0 += B) {
        int64_t b = g_hi - g0 < B ? g_hi - g0 : B;
        int64_t lo = g0 > job->begin ? g0 : job->begin, hi = g0 + b < job->end ? g0 + b : job->end;
        sk_condense_progress(job, "scoring", "rows", lo - job->begin, n, &last);
        SK_TRY(sk_corpus_read_samples(job->corpus, g0, b, buf));
        /* the batch reaches beyond the shard, whose labels alone job->labels holds */
        if (job->labels) SK_TRY(sk_corpus_read_labels(job->corpus, g0, b, lab));
        sk_scope *sc = sk_shim_scope_begin();
        SK_FAIL_IF(!sc, SK_ENOMEM, "condense: out of memory");
        sk_batch batch = {.n = b, .ndim = in->ndim, .type = in->type, .data = buf, .labels = lab};
        memcpy(batch.shape, in->shape, sizeof batch.shape);
        sk_tensor *x = NULL, *y = NULL;
        rc = sk_train_batch_tensors(&batch, &x, &y);
        if (rc == SK_OK) rc = fn(user, proxy, x, y, job->labels ? lab : NULL, b, tmp);
        sk_shim_scope_end(sc);
        if (rc < 0) goto done;
        memcpy(scores + (lo - job->begin), tmp + (lo - g0), (size_t)(hi - lo) * sizeof *tmp);
    }
    sk_condense_progress(job, "scoring", "rows", n, n, &last);
done:
    free(buf);
    free(lab);
    free(tmp);
    return rc;
}

/* ---- the rules ---------------------------------------------------------- */

/* CCS's bin_allocate: bins from the smallest, each min(size, left // bins left). */
static void allocate_(const int64_t *size, int nb, int64_t budget, int64_t *out)
{
    int *ord = malloc((size_t)nb * sizeof *ord);
    if (!ord) return;
    for (int i = 0; i < nb; i++) ord[i] = i;
    for (int i = 1; i < nb; i++) { /* insertion sort by (size, index): stable */
        int v = ord[i], j = i - 1;
        while (j >= 0 && size[ord[j]] > size[v]) {
            ord[j + 1] = ord[j];
            j--;
        }
        ord[j + 1] = v;
    }
    for (int i = 0; i < nb; i++) {
        int64_t avg = budget / (nb - i), cur = size[ord[i]] < avg ? size[ord[i]] : avg;
        out[ord[i]] = cur;
        budget -= cur;
    }
    free(ord);
}

/* stratified (and ccs): per group, drop the hardest, bin the rest, allocate,
 * pick at random inside each bin. */
static int stratified_(const sk_condense_job *job, const float *s, const int64_t *g, int ng, const int64_t *want,
                       int ccs, uint8_t *keep)
{
    int rc = SK_OK;
    int64_t n = job->end - job->begin, S = job->cfg->strata;
    size_t nbins = (size_t)ng * (size_t)S;
    uint8_t *elig = malloc((size_t)(n > 0 ? n : 1));
    uint64_t *keys = malloc((size_t)(n > 0 ? n : 1) * sizeof *keys);
    int64_t *bin = malloc((size_t)(n > 0 ? n : 1) * sizeof *bin), *size = calloc(nbins, sizeof *size);
    int64_t *budget = calloc(nbins, sizeof *budget), *drop = calloc((size_t)ng, sizeof *drop);
    int64_t *count = calloc((size_t)ng, sizeof *count);
    double *lo = malloc((size_t)ng * sizeof *lo), *hi = malloc((size_t)ng * sizeof *hi);
    if (!elig || !keys || !bin || !size || !budget || !drop || !count || !lo || !hi)
        rc = sk_error_set(SK_ENOMEM, "condense: out of memory for %lld strata", (long long)nbins);
    SK_TRY(sk_mpi_agree(rc));
    memset(elig, 1, (size_t)(n > 0 ? n : 1));
    if (ccs) { /* mislabel_mask: the floor(beta * n_group) highest scores go */
        for (int64_t i = 0; i < n; i++) {
            count[g ? g[i] : 0]++;
            keys[i] = sk_pick_key_desc(s[i]);
        }
        SK_TRY(sk_mpi_allreduce_sum_i64(count, ng));
        for (int c = 0; c < ng; c++) drop[c] = (int64_t)floor(job->cfg->ccs_beta * (double)count[c]);
        memset(keep, 0, (size_t)n);
        SK_TRY(sk_pick_smallest(keys, g, ng, NULL, n, drop, keep));
        for (int64_t i = 0; i < n; i++) {
            elig[i] = !keep[i];
            keep[i] = 0;
        }
    }
    for (int c = 0; c < ng; c++) {
        lo[c] = INFINITY;
        hi[c] = -INFINITY;
    }
    for (int64_t i = 0; i < n; i++) {
        if (!elig[i]) continue;
        int c = g ? (int)g[i] : 0;
        lo[c] = s[i] < lo[c] ? s[i] : lo[c];
        hi[c] = s[i] > hi[c] ? s[i] : hi[c];
    }
    SK_TRY(sk_mpi_allreduce_min(lo, ng));
    SK_TRY(sk_mpi_allreduce_max(hi, ng));
    for (int64_t i = 0; i < n; i++) {
        if (!elig[i]) continue;
        int c = g ? (int)g[i] : 0;
        double step = (hi[c] * 1.0001 - lo[c]) / (double)S;
        int64_t k = step > 0 ? (int64_t)floor(((double)s[i] - lo[c]) / step) : 0;
        k = k < 0 ? 0 : k >= S ? S - 1 : k;
        bin[i] = (int64_t)c * S + k;
        size[bin[i]]++;
        keys[i] = sk_condense_row_key(job->seed, job->begin + i);
    }
    SK_TRY(sk_mpi_allreduce_sum_i64(size, (int)nbins));
    for (int c = 0; c < ng; c++) allocate_(size + (size_t)c * S, (int)S, want[c], budget + (size_t)c * S);
    rc = sk_pick_smallest(keys, bin, (int)nbins, elig, n, budget, keep);
done:
    free(elig);
    free(keys);
    free(bin);
    free(size);
    free(budget);
    free(drop);
    free(count);
    free(lo);
    free(hi);
    return rc;
}

int sk_condense_score_check(const sk_condense_config *cfg, const sk_corpus_info *in)
{
    int rc = SK_OK;
    int64_t groups = cfg->class_balance && in->has_labels ? in->num_classes : 1;
    int strat = cfg->rule == SK_CONDENSE_RULE_STRATIFIED || cfg->rule == SK_CONDENSE_RULE_CCS;
    SK_FAIL_IF(strat && groups * cfg->strata > 65536, SK_EINVAL,
               "condense.strata=%lld: %lld groups x strata must be at most 65536", (long long)cfg->strata,
               (long long)groups);
done:
    return rc;
}

int sk_condense_label_score_check(const sk_condense_config *cfg, const sk_corpus_info *in)
{
    if (in->kind != SK_CORPUS_TOKENS && !in->has_labels)
        return sk_error_set(SK_EINVAL, "%s: condense.method=%s needs labels, and this corpus has none", cfg->input,
                            cfg->method);
    return sk_condense_score_check(cfg, in);
}

int sk_condense_apply_rule(const sk_condense_job *job, const float *s, uint8_t *keep)
{
    int rc = SK_OK;
    int64_t n = job->end - job->begin, *want = NULL;
    int ng = 0, rule = job->cfg->rule;
    const int64_t *g = sk_condense_groups(job);
    uint64_t *keys = NULL;
    SK_TRY(sk_condense_group_wants(job, &want, &ng));
    if (rule == SK_CONDENSE_RULE_STRATIFIED || rule == SK_CONDENSE_RULE_CCS) {
        rc = stratified_(job, s, g, ng, want, rule == SK_CONDENSE_RULE_CCS, keep);
        goto done;
    }
    keys = malloc((size_t)(n > 0 ? n : 1) * sizeof *keys);
    if (!keys) rc = sk_error_set(SK_ENOMEM, "condense: out of memory");
    SK_TRY(sk_mpi_agree(rc));
    for (int64_t i = 0; i < n; i++)
        keys[i] = rule == SK_CONDENSE_RULE_TOP ? sk_pick_key_desc(s[i]) : sk_pick_key_asc(s[i]);
    rc = sk_pick_smallest(keys, g, ng, NULL, n, want, keep);
done:
    free(keys);
    free(want);
    return rc;
}

/* ---- the select slot ------------------------------------------------------ */

int sk_condense_next_path(const char **list, char *buf, size_t cap)
{
    const char *p = *list;
    while (*p == ' ' || *p == ',') p++;
    if (!*p) return 0;
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    while (len > 0 && p[len - 1] == ' ') len--;
    if (len >= cap) len = cap - 1;
    memcpy(buf, p, len);
    buf[len] = 0;
    *list = e ? e + 1 : p + strlen(p);
    return 1;
}

/* One proxy's scores of the shard added into acc: fn over the samples of
 * an image corpus (a classifier), or each document's mean logit score
 * (user: its sk_condense_logit_kind, NULL: the loss) of a token corpus
 * (an LM, sk_condense_doc_score). */
static int add_proxy_(const sk_condense_job *job, sk_model *m, const char *path, sk_condense_batch_fn fn, void *user,
                      float *tmp, double *acc)
{
    int rc = SK_OK;
    int64_t n = job->end - job->begin;
    sk_model_info mi;
    sk_model_info_get(m, &mi);
    if (job->info->kind == SK_CORPUS_TOKENS) {
        const sk_condense_logit_kind *kind = user;
        SK_TRY(sk_condense_doc_score(job, m, path, kind ? *kind : SK_SCORE_LOSS, tmp));
    } else {
        SK_FAIL_IF(!(mi.flags & SK_MODEL_CLASSIFIER), SK_EINVAL,
                   "condense.proxy %s: a %s model is not a classifier; score methods need class logits", path, mi.arch);
        SK_TRY(sk_condense_score_stream(job, m, fn, user, tmp));
    }
    for (int64_t i = 0; i < n; i++) {
        SK_FAIL_IF(!isfinite(tmp[i]), SK_EINVAL, "condense.proxy %s: row %lld scores %g (not finite)", path,
                   (long long)(job->begin + i), (double)tmp[i]);
        acc[i] += tmp[i];
    }
done:
    return rc;
}

int sk_condense_score_fill(const sk_condense_job *job, sk_condense_out *out, const char *name, sk_condense_batch_fn fn,
                           void *user)
{
    int rc = SK_OK;
    int64_t n = job->end - job->begin;
    double *acc = NULL;
    sk_model *extra = NULL;
    out->score_name = name;
    if (job->given_scores) {
        memcpy(out->scores, job->given_scores, (size_t)n * sizeof *out->scores);
        for (int64_t i = 0; i < n && rc == SK_OK; i++)
            if (!isfinite(out->scores[i]))
                rc = sk_error_set(SK_EINVAL, "condense.scores_from %s: row %lld has score %g (not finite)",
                                  job->cfg->scores_from, (long long)(job->begin + i), (double)out->scores[i]);
    } else {
        int np = 1;
        char path[SK_CFG_STR_MAX];
        acc = calloc((size_t)(n > 0 ? n : 1), sizeof *acc);
        if (!acc) rc = sk_error_set(SK_ENOMEM, "condense: out of memory");
        if (rc == SK_OK) rc = add_proxy_(job, job->proxy, job->cfg->proxy, fn, user, out->scores, acc);
        for (const char *l = job->cfg->proxies; rc == SK_OK && sk_condense_next_path(&l, path, sizeof path); np++) {
            rc = sk_model_create_from_file(&extra, path);
            if (rc == SK_OK) rc = sk_condense_proxy_check(extra, path, job->cfg, job->info);
            if (rc == SK_OK) rc = add_proxy_(job, extra, path, fn, user, out->scores, acc);
            sk_model_free(extra);
            extra = NULL;
        }
        for (int64_t i = 0; rc == SK_OK && i < n; i++) out->scores[i] = (float)(acc[i] / np);
    }
    free(acc);
    return sk_mpi_agree(rc);
}

int sk_condense_score_select(const sk_condense_job *job, sk_condense_out *out, const char *name,
                             sk_condense_batch_fn fn, void *user)
{
    int rc = sk_condense_score_fill(job, out, name, fn, user);
    return rc < 0 ? rc : sk_condense_apply_rule(job, out->scores, out->keep);
}
