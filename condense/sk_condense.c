/* sk_condense.c - the method registry and the `shrink condense` driver
 * (sk_condense.h): check, open, shard, run the method, write the new
 * corpus with its provenance, reading the kept rows from the source a
 * window at a time as the writer asks for them. */
#include "sk_condense.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sk_condense_methods.h"
#include "sk_condense_score.h"
#include "sk_condense_snapshot.h"
#include "sk_fs.h"
#include "sk_log.h"
#include "sk_pick.h"
#include "sk_time.h"

/* ---- the registry -------------------------------------------------------- */

static const sk_condense_method *const methods_[] = {
    &sk_condense_random,
    &sk_condense_loss,
    &sk_condense_el2n,
    &sk_condense_grand,
    &sk_condense_entropy,
    &sk_condense_margin,
    &sk_condense_least_confidence,
    &sk_condense_forgetting,
    &sk_condense_kcenter,
    &sk_condense_herding,
    &sk_condense_facility,
    &sk_condense_exact_dedup,
    &sk_condense_minhash,
    &sk_condense_perplexity,
    &sk_condense_dm,
    &sk_condense_dc,
};

int sk_condense_count(void) { return (int)(sizeof methods_ / sizeof *methods_); }
const sk_condense_method *sk_condense_at(int i) { return i >= 0 && i < sk_condense_count() ? methods_[i] : NULL; }
const char *sk_condense_name_at(int i) { return i >= 0 && i < sk_condense_count() ? methods_[i]->name : NULL; }
const sk_condense_method *sk_condense_find(const char *name)
{
    return name ? sk_condense_at(sk_cfg_choice_index(sk_condense_name_at, name)) : NULL;
}

/* ---- helpers the methods share (sk_condense_methods.h) ------------------- */

const int64_t *sk_condense_groups(const sk_condense_job *job)
{
    return job->labels && job->cfg->class_balance ? job->labels : NULL;
}

int sk_condense_group_wants(const sk_condense_job *job, int64_t **want, int *ngroups)
{
    int rc = SK_OK;
    const int64_t *g = sk_condense_groups(job);
    int ng = g ? (int)job->classes : 1;
    int64_t *w = calloc((size_t)ng, sizeof *w);
    if (!w) rc = sk_error_set(SK_ENOMEM, "condense: out of memory");
    SK_TRY(sk_mpi_agree(rc));
    for (int64_t i = 0; i < job->end - job->begin; i++) w[g ? g[i] : 0]++;
    SK_TRY(sk_mpi_allreduce_sum_i64(w, ng));
    for (int c = 0; c < ng; c++) w[c] = sk_pick_want(job->cfg->keep, w[c]);
    *want = w;
    *ngroups = ng;
    w = NULL;
done:
    free(w);
    return rc;
}

void sk_condense_batch_cover(int64_t begin, int64_t end, int64_t B, int64_t total, int64_t *lo, int64_t *hi)
{
    *lo = begin < end ? begin / B * B : begin;
    *hi = begin < end ? (end + B - 1) / B * B : begin;
    if (*hi > total) *hi = total;
}

void sk_condense_progress(const sk_condense_job *job, const char *what, const char *unit, int64_t done, int64_t total,
                          double *last)
{
    double now = sk_now();
    if (job->rank != 0 || (now - *last < 10.0 && done < total)) return;
    *last = now;
    SK_LOG_INFO("condense %s: %s: rank 0 at %lld/%lld %s (%.0f%%)", job->cfg->method, what, (long long)done,
                (long long)total, unit, total > 0 ? 100.0 * (double)done / (double)total : 100.0);
}

int sk_condense_phase_end(const sk_condense_job *job, int rc, const char *what, int64_t rows, double t0)
{
    SK_TRY(sk_mpi_agree(rc));
    SK_TRY(sk_mpi_allreduce_sum_i64(&rows, 1));
    SK_LOG_INFO("condense %s: %s: %lld/%lld rows in %.1f s", job->cfg->method, what, (long long)rows, (long long)job->n,
                sk_now() - t0);
done:
    return rc;
}

/* ---- the driver ---------------------------------------------------------- */

/* Everything one run holds. */
typedef struct {
    const sk_condense_opts *o;
    const sk_condense_method *vt;
    sk_condense_job job;
    sk_corpus *src;
    sk_model *proxy;
    int64_t *labels; /* the shard's */
    float *given;    /* scores_from: the shard's */
    sk_condense_out out;
    uint64_t src_hash, proxy_hash;
    /* the kept slice (its rows are read from src while writing) */
    int64_t nkept;
    int64_t *kept; /* global indices */
    int64_t *klabels;
    float *kscores;
    int64_t *koff; /* tokens: nkept + 1 offsets in the slice */
    int64_t *ksrc; /* tokens: each kept document's first token in the source */
    int64_t ntok;
    char *steps;  /* provenance JSON */
    float *state; /* condense.resume_from: the state read (job.resume_u, job.resume_mom) */
} run_;

static int64_t rows_of_(const sk_corpus_info *in)
{
    return in->kind == SK_CORPUS_TOKENS ? in->num_docs : in->num_samples;
}

static void hex64_(uint64_t v, char buf[17]) { snprintf(buf, 17, "%016" PRIx64, v); }

/* The keys every method needs, and the output that must not clobber. */
static int check_paths_(const sk_condense_config *c)
{
    int rc = SK_OK;
    struct stat st;
    SK_FAIL_IF(!c->input[0], SK_EINVAL, "condense.input is not set (the corpus to condense)");
    SK_FAIL_IF(!c->output[0], SK_EINVAL, "condense.output is not set (the corpus to write)");
    SK_FAIL_IF(strcmp(c->input, c->output) == 0 || sk_fs_same_file(c->input, c->output), SK_EINVAL,
               "condense.output '%s' is the input corpus; choose another file", c->output);
    SK_FAIL_IF(stat(c->output, &st) == 0 && !c->overwrite, SK_EEXISTS,
               "condense.output '%s' exists (set condense.overwrite=true to replace it)", c->output);
    SK_FAIL_IF(c->scores_from[0] && sk_fs_same_file(c->scores_from, c->output), SK_EINVAL,
               "condense.output '%s' is the condense.scores_from file", c->output);
done:
    return rc;
}

/* The method's flags against the corpus. */
static int check_method_(const sk_condense_method *vt, const sk_condense_config *c, const sk_corpus_info *in)
{
    int rc = SK_OK;
    int tok = in->kind == SK_CORPUS_TOKENS;
    SK_FAIL_IF(tok && !(vt->flags & SK_CONDENSE_TOKENS), SK_EINVAL,
               "%s: condense.method=%s works on image/sample corpora, and this corpus holds tokens", c->input,
               vt->name);
    SK_FAIL_IF(!tok && !(vt->flags & SK_CONDENSE_SAMPLES), SK_EINVAL,
               "%s: condense.method=%s works on token corpora, and this corpus holds samples", c->input, vt->name);
    SK_FAIL_IF((vt->flags & SK_CONDENSE_NEEDS_LABELS) && !in->has_labels, SK_EINVAL,
               "%s: condense.method=%s needs labels, and this corpus has none", c->input, vt->name);
    SK_FAIL_IF(c->scores_from[0] && !(vt->flags & SK_CONDENSE_SCORES), SK_EINVAL,
               "condense.scores_from is set, but condense.method=%s uses no scores", vt->name);
    SK_FAIL_IF((vt->flags & SK_CONDENSE_NEEDS_PROXY) && !c->proxy[0] && !c->scores_from[0], SK_EINVAL,
               "condense.method=%s needs condense.proxy (a model.safetensors that shrink train wrote)", vt->name);
    SK_FAIL_IF(rows_of_(in) < 1, SK_EINVAL, "%s: the corpus is empty", c->input);
    SK_FAIL_IF((vt->flags & SK_CONDENSE_SYNTHESIZES) && c->synthetic_dtype == SK_CONDENSE_SYN_SOURCE &&
                   in->type != SK_ELEM_U8 && in->type != SK_ELEM_F32,
               SK_EINVAL, "%s: condense.synthetic_dtype=source needs uint8 or float32 images, not %s", c->input,
               sk_elem_name(in->type));
    if (vt->check) SK_TRY(vt->check(c, in));
done:
    return rc;
}

/* A proxy rebuilt from `path` fits corpus `in` (sk_condense_methods.h). */
int sk_condense_proxy_check(const sk_model *m, const char *path, const sk_condense_config *c, const sk_corpus_info *in)
{
    int rc = SK_OK;
    const sk_model_data *d = sk_model_sample(m);
    sk_model_info mi;
    sk_model_info_get(m, &mi);
    int tok = in->kind == SK_CORPUS_TOKENS;
    SK_FAIL_IF(tok != (d->kind == SK_SAMPLE_TOKENS), SK_EINVAL, "condense.proxy %s: a %s model for %s, but %s holds %s",
               path, mi.arch, d->kind == SK_SAMPLE_TOKENS ? "tokens" : "images", c->input, tok ? "tokens" : "images");
    if (tok) {
        SK_FAIL_IF(d->vocab < in->vocab_size, SK_EINVAL,
                   "condense.proxy %s: vocabulary %lld, but %s has token ids up to %lld", path, (long long)d->vocab,
                   c->input, (long long)in->vocab_size - 1);
    } else {
        int same = d->ndim == in->ndim;
        for (int i = 0; same && i < in->ndim; i++) same = d->shape[i] == in->shape[i];
        SK_FAIL_IF(!same, SK_EINVAL, "condense.proxy %s: trained on images of another shape than %s's", path, c->input);
        SK_FAIL_IF(in->has_labels && (mi.flags & SK_MODEL_CLASSIFIER) && d->classes != in->num_classes, SK_EINVAL,
                   "condense.proxy %s: %lld classes, but %s has %lld", path, (long long)d->classes, c->input,
                   (long long)in->num_classes);
    }
done:
    return rc;
}

/* condense.proxy: rebuilt from its file, and fit for this corpus. */
static int open_proxy_(run_ *r)
{
    int rc = SK_OK;
    const sk_condense_config *c = r->o->cfg;
    SK_TRY(sk_model_create_from_file(&r->proxy, c->proxy));
    SK_TRY(sk_condense_proxy_check(r->proxy, c->proxy, c, r->job.info));
    if (r->job.rank == 0) rc = sk_fs_hash_file(c->proxy, &r->proxy_hash);
    SK_TRY(sk_mpi_agree(rc));
    SK_TRY(sk_mpi_bcast(&r->proxy_hash, sizeof r->proxy_hash, 0));
    r->job.proxy = r->proxy;
done:
    return rc;
}

/* The last step of a provenance record (NULL when none), borrowed from root. */
static json_t *last_step_(json_t *root)
{
    return json_is_array(root) && json_array_size(root) > 0 ? json_array_get(root, json_array_size(root) - 1) : NULL;
}

/* condense.scores_from: a corpus condensed from this very input, whose
 * /provenance/scores cover every row; the shard's scores. */
static int load_given_(run_ *r)
{
    int rc = SK_OK;
    const char *path = r->o->cfg->scores_from;
    sk_corpus *s = NULL;
    json_t *root = NULL;
    char want[17];
    hex64_(r->src_hash, want);
    SK_TRY(sk_corpus_open(&s, path));
    const sk_corpus_info *si = sk_corpus_info_get(s);
    SK_FAIL_IF(!si->has_prov_scores, SK_EINVAL, "condense.scores_from %s: the corpus stores no /provenance/scores",
               path);
    SK_FAIL_IF(si->num_source != r->job.n, SK_EINVAL, "condense.scores_from %s: %lld scores, but %s has %lld rows",
               path, (long long)si->num_source, r->o->cfg->input, (long long)r->job.n);
    const char *steps = sk_corpus_prov_steps(s);
    root = steps ? json_loads(steps, 0, NULL) : NULL;
    json_t *last = last_step_(root);
    const char *got = last ? json_string_value(json_object_get(last, "source_xxh64")) : NULL;
    SK_FAIL_IF(!got || strcmp(got, want) != 0, SK_EINVAL,
               "condense.scores_from %s: its scores are of another corpus (source checksum %s, %s has %s)", path,
               got ? got : "missing", r->o->cfg->input, want);
    int64_t n = r->job.end - r->job.begin;
    r->given = malloc((size_t)(n > 0 ? n : 1) * sizeof *r->given);
    SK_FAIL_IF(!r->given, SK_ENOMEM, "condense: out of memory");
    if (n > 0) SK_TRY(sk_corpus_read_prov_scores(s, r->job.begin, n, r->given));
    r->job.given_scores = r->given;
done:
    json_decref(root);
    sk_corpus_free(s);
    return rc;
}

static int snapshot_(void *ctx, int64_t iterations);

/* A synthesising method's output arrays: classes * ipc samples (and, with
 * condense.snapshot_every, their state and the snapshot hook). */
static int alloc_syn_(run_ *r)
{
    int rc = SK_OK;
    const sk_corpus_info *in = r->job.info;
    int64_t D = sk_corpus_sample_elems(in), m = r->job.classes * r->o->cfg->ipc;
    SK_FAIL_IF(m < 1 || m > (INT64_C(1) << 40) / (D > 0 ? D : 1), SK_EINVAL,
               "condense.ipc = %lld: %lld classes x ipc synthetic images is too many", (long long)r->o->cfg->ipc,
               (long long)r->job.classes);
    r->out.syn_rows = m;
    r->out.syn = calloc((size_t)(m * D), sizeof *r->out.syn);
    r->out.syn_labels = calloc((size_t)m, sizeof *r->out.syn_labels);
    r->out.syn_from = malloc((size_t)m * sizeof *r->out.syn_from);
    SK_FAIL_IF(!r->out.syn || !r->out.syn_labels || !r->out.syn_from, SK_ENOMEM,
               "condense: out of memory for %lld synthetic images", (long long)m);
    for (int64_t i = 0; i < m; i++) r->out.syn_from[i] = -1;
    if (r->o->cfg->snapshot_every > 0) {
        r->out.syn_state = calloc((size_t)(2 * m * D), sizeof *r->out.syn_state);
        SK_FAIL_IF(!r->out.syn_state, SK_ENOMEM, "condense: out of memory for the synthetic images' state");
        r->job.snapshot = snapshot_;
        r->job.snapshot_ctx = r;
    }
done:
    return rc;
}

/* condense.resume_from: its state, checked against this run, for the method. */
static int resume_(run_ *r)
{
    const sk_corpus_info *in = r->job.info;
    int64_t it = 0;
    int rc = sk_condense_state_read(r->vt, r->o, r->src_hash, r->out.syn_rows, in, &r->state, &it);
    if (rc < 0) return rc;
    int64_t D = sk_corpus_sample_elems(in);
    r->job.resume_iterations = it;
    r->job.resume_u = r->state;
    r->job.resume_mom = r->o->cfg->momentum_img > 0 ? r->state + r->out.syn_rows * D : NULL;
    SK_LOG_INFO("condense %s: resuming %s after its %lld iterations", r->o->cfg->method, r->o->cfg->resume_from,
                (long long)it);
    return SK_OK;
}

/* Open the source, shard it, read the shard's labels, hash the file. */
static int setup_(run_ *r)
{
    int rc = SK_OK;
    const sk_condense_config *c = r->o->cfg;
    const sk_mpi_info *mi = sk_mpi_info_get();
    rc = check_paths_(c);
    if (rc == SK_OK) rc = sk_corpus_open(&r->src, c->input);
    if (rc == SK_OK) {
        r->vt = sk_condense_find(c->method);
        if (!r->vt) rc = sk_cfg_choice_error(SK_EINVAL, "condense.method", c->method, sk_condense_name_at);
    }
    if (rc == SK_OK) rc = check_method_(r->vt, c, sk_corpus_info_get(r->src));
    if (rc == SK_OK) rc = sk_condense_snapshot_check(r->vt, c);
    SK_TRY(sk_mpi_agree(rc));
    const sk_corpus_info *in = sk_corpus_info_get(r->src);
    r->job = (sk_condense_job){.cfg = c,
                               .model = r->o->model,
                               .train = r->o->train,
                               .data = r->o->data,
                               .corpus = r->src,
                               .info = in,
                               .n = rows_of_(in),
                               .seed = r->o->seed,
                               .rank = mi->rank,
                               .world = mi->world};
    r->job.begin = r->job.n * mi->rank / mi->world;
    r->job.end = r->job.n * (mi->rank + 1) / mi->world;
    int64_t n = r->job.end - r->job.begin;
    if (in->has_labels) {
        r->labels = malloc((size_t)(n > 0 ? n : 1) * sizeof *r->labels);
        if (!r->labels) rc = sk_error_set(SK_ENOMEM, "condense: out of memory");
        if (rc == SK_OK && n > 0) rc = sk_corpus_read_labels(r->src, r->job.begin, n, r->labels);
        r->job.labels = r->labels;
        r->job.classes = in->num_classes;
    }
    if (rc == SK_OK && mi->rank == 0) rc = sk_fs_hash_file(c->input, &r->src_hash);
    SK_TRY(sk_mpi_agree(rc));
    SK_TRY(sk_mpi_bcast(&r->src_hash, sizeof r->src_hash, 0));
    r->job.source_xxh64 = r->src_hash;
    if (c->scores_from[0])
        SK_TRY(sk_mpi_agree(load_given_(r)));
    else if (r->vt->flags & SK_CONDENSE_NEEDS_PROXY)
        SK_TRY(sk_mpi_agree(open_proxy_(r)));
    r->out.keep = calloc((size_t)(n > 0 ? n : 1), 1);
    r->out.scores = calloc((size_t)(n > 0 ? n : 1), sizeof *r->out.scores);
    r->out.clusters = calloc((size_t)(n > 0 ? n : 1), sizeof *r->out.clusters);
    if (!r->out.keep || !r->out.scores || !r->out.clusters) rc = sk_error_set(SK_ENOMEM, "condense: out of memory");
    if (rc == SK_OK && (r->vt->flags & SK_CONDENSE_SYNTHESIZES)) rc = alloc_syn_(r);
    if (rc == SK_OK && c->resume_from[0]) rc = resume_(r);
    SK_TRY(sk_mpi_agree(rc));
done:
    return rc;
}

/* The kept rows are not gathered: the writer pulls them a window at a
 * time (sk_corpus_data.fill), and pull_rows_ reads them from the source.
 * What the driver holds is O(rows) arrays: kept indices, labels, scores,
 * and for documents their offsets in the slice and in the source. */
#define PULL_SPAN_BYTES_ ((int64_t)16 << 20) /* most source bytes read at once (unless one row is longer) */

typedef struct {
    run_ *r;
    int tok;
    size_t es; /* bytes per token, or per sample */
    char *tmp; /* one source span */
    int64_t cap;
    double last; /* sk_condense_progress */
} pull_;

/* Kept row d's first element in the slice / in the source (tokens:
 * koff, ksrc; samples: one row each, at its source index). */
static int64_t slice_at_(const pull_ *p, int64_t d) { return p->tok ? p->r->koff[d] : d; }
static int64_t source_at_(const pull_ *p, int64_t d) { return p->tok ? p->r->ksrc[d] : p->r->kept[d]; }

/* sk_corpus_data.fill: elements [first, first+count) of the kept slice.
 * Kept rows whose source span fits PULL_SPAN_BYTES_ are read with one
 * call (the source decodes whole chunks), then copied out. */
static int pull_rows_(void *ctx, int64_t first, int64_t count, void *out)
{
    int rc = SK_OK;
    pull_ *p = ctx;
    run_ *r = p->r;
    const int64_t nk = r->nkept, end = first + count, span = PULL_SPAN_BYTES_ / (int64_t)p->es;
    int64_t lo = 0, hi = nk; /* k: the last kept row starting at or before first */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (slice_at_(p, mid) <= first)
            lo = mid;
        else
            hi = mid;
    }
    for (int64_t k = lo, pos = first; pos < end;) {
        int64_t s0 = source_at_(p, k) + (pos - slice_at_(p, k)), j = k + 1;
        while (j < nk && slice_at_(p, j) < end) {
            int64_t stop = slice_at_(p, j + 1) < end ? slice_at_(p, j + 1) : end;
            if (source_at_(p, j) + (stop - slice_at_(p, j)) - s0 > span) break;
            j++;
        }
        int64_t stop = slice_at_(p, j) < end ? slice_at_(p, j) : end; /* rows [k, j) cover [pos, stop) */
        int64_t s1 = source_at_(p, j - 1) + (stop - slice_at_(p, j - 1));
        if (s1 - s0 > p->cap) {
            free(p->tmp);
            p->cap = s1 - s0;
            p->tmp = malloc((size_t)p->cap * p->es);
            SK_FAIL_IF(!p->tmp, SK_ENOMEM, "condense: out of memory reading %lld rows of %s", (long long)p->cap,
                       r->o->cfg->input);
        }
        SK_TRY(p->tok ? sk_corpus_read_tokens(r->src, s0, s1 - s0, p->tmp)
                      : sk_corpus_read_samples(r->src, s0, s1 - s0, p->tmp));
        sk_condense_progress(&r->job, "writing", p->tok ? "tokens" : "rows", stop, p->tok ? r->ntok : nk, &p->last);
        for (int64_t d = k; d < j; d++) {
            int64_t a = pos > slice_at_(p, d) ? pos : slice_at_(p, d);
            int64_t b = slice_at_(p, d + 1) < end ? slice_at_(p, d + 1) : end;
            if (b > a)
                memcpy((char *)out + (size_t)(a - first) * p->es,
                       p->tmp + (size_t)(source_at_(p, d) + (a - slice_at_(p, d)) - s0) * p->es,
                       (size_t)(b - a) * p->es);
        }
        pos = stop;
        k = j;
    }
done:
    return rc;
}

/* Kept indices, labels and scores of the shard; for documents their
 * lengths (slice offsets koff) and source starts (ksrc). */
static int gather_(run_ *r)
{
    int rc = SK_OK;
    int64_t n = r->job.end - r->job.begin, k = 0, *off = NULL;
    int tok = r->job.info->kind == SK_CORPUS_TOKENS;
    for (int64_t i = 0; i < n; i++) r->nkept += r->out.keep[i] != 0;
    size_t m = (size_t)(r->nkept > 0 ? r->nkept : 1);
    r->kept = malloc(m * sizeof *r->kept);
    r->klabels = malloc(m * sizeof *r->klabels);
    r->kscores = malloc(m * sizeof *r->kscores);
    SK_FAIL_IF(!r->kept || !r->klabels || !r->kscores, SK_ENOMEM, "condense: out of memory");
    if (tok) {
        off = malloc((size_t)(n + 1) * sizeof *off);
        r->koff = malloc((m + 1) * sizeof *r->koff);
        r->ksrc = malloc(m * sizeof *r->ksrc);
        SK_FAIL_IF(!off || !r->koff || !r->ksrc, SK_ENOMEM, "condense: out of memory");
        SK_TRY(sk_corpus_read_offsets(r->src, r->job.begin, n + 1, off));
        r->koff[0] = 0;
    }
    for (int64_t i = 0; i < n; i++) {
        if (!r->out.keep[i]) continue;
        if (tok) {
            r->ksrc[k] = off[i];
            r->koff[k + 1] = r->koff[k] + (off[i + 1] - off[i]);
        }
        r->kept[k] = r->job.begin + i;
        r->klabels[k] = r->labels ? r->labels[i] : 0;
        r->kscores[k++] = r->out.scores[i];
    }
    r->ntok = tok ? r->koff[r->nkept] : 0;
done:
    free(off);
    return rc;
}

/* The condense section as YAML text (every key, as `shrink config` writes it). */
static char *section_text_(const sk_condense_config *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    const sk_cfg_section *secs[] = {&sk_condense_section};
    void *bases[] = {(void *)c};
    sk_cfg_write(f, secs, 1, bases);
    fclose(f);
    return buf;
}

/* The files of a comma-separated list with their xxh64 checksums, as
 * [{"file", "xxh64"}] (condense.proxies, condense.forgetting_from). */
static int files_json_(const char *list, json_t **out)
{
    int rc = SK_OK;
    char path[SK_CFG_STR_MAX], h[17];
    json_t *a = json_array();
    SK_FAIL_IF(!a, SK_ENOMEM, "condense: out of memory");
    while (sk_condense_next_path(&list, path, sizeof path)) {
        uint64_t v = 0;
        SK_TRY(sk_fs_hash_file(path, &v));
        hex64_(v, h);
        json_array_append_new(a, json_pack("{s:s, s:s}", "file", path, "xxh64", h));
    }
    *out = a;
    a = NULL;
done:
    json_decref(a);
    return rc;
}

/* The [model] section as YAML text: the networks a distillation sampled. */
static char *model_text_(const sk_model_config *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = m ? open_memstream(&buf, &len) : NULL;
    if (!f) return NULL;
    const sk_cfg_section *secs[] = {&sk_model_section};
    void *bases[] = {(void *)m};
    sk_cfg_write(f, secs, 1, bases);
    fclose(f);
    return buf;
}

/* The provenance record: the source's steps, then this one. */
static int steps_(run_ *r, int64_t total_kept)
{
    int rc = SK_OK;
    const sk_condense_config *c = r->o->cfg;
    const char *prev = sk_corpus_prov_steps(r->src);
    json_t *root = prev ? json_loads(prev, 0, NULL) : json_array();
    char *params = section_text_(c), h[17], ph[17];
    if (root && !json_is_array(root)) {
        json_decref(root);
        root = NULL;
    }
    SK_FAIL_IF(!root, SK_ECORRUPT, "%s: /provenance steps is not a JSON array", c->input);
    hex64_(r->src_hash, h);
    hex64_(r->proxy_hash, ph);
    json_t *st = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s?}", "method", c->method, "source_file", c->input,
                           "source_xxh64", h, "source_rows", (json_int_t)r->job.n, "kept_rows", (json_int_t)total_kept,
                           "seed", (json_int_t)r->o->seed, "config", params);
    SK_FAIL_IF(!st, SK_ENOMEM, "condense: out of memory");
    if (r->proxy) {
        json_object_set_new(st, "proxy", json_string(c->proxy));
        json_object_set_new(st, "proxy_xxh64", json_string(ph));
    }
    json_t *files = NULL;
    if (r->proxy && c->proxies[0]) {
        if ((rc = files_json_(c->proxies, &files)) < 0) {
            json_decref(st);
            goto done;
        }
        json_object_set_new(st, "proxies", files);
    }
    if (!c->scores_from[0] && c->forgetting_from[0] && !strcmp(r->vt->name, "forgetting")) {
        if ((rc = files_json_(c->forgetting_from, &files)) < 0) {
            json_decref(st);
            goto done;
        }
        json_object_set_new(st, "forgetting_from", files);
    }
    if (c->scores_from[0]) json_object_set_new(st, "scores_from", json_string(c->scores_from));
    if (r->out.score_name) json_object_set_new(st, "score", json_string(r->out.score_name));
    if (r->o->command) json_object_set_new(st, "command", json_string(r->o->command));
    if (r->vt->flags & SK_CONDENSE_SYNTHESIZES) {
        char *model = model_text_(r->o->model);
        json_object_set_new(st, "synthetic_rows", json_integer((json_int_t)r->out.syn_rows));
        json_object_set_new(st, "iterations", json_integer((json_int_t)r->out.iterations));
        json_object_set_new(st, "synthetic_dtype",
                            json_string(r->o->cfg->synthetic_dtype == SK_CONDENSE_SYN_F32
                                            ? "float32"
                                            : sk_elem_name(r->job.info->type)));
        if (model) json_object_set_new(st, "model", json_string(model));
        free(model);
    }
    if (c->resume_from[0]) {
        json_object_set_new(st, "resumed_from", json_string(c->resume_from));
        json_object_set_new(st, "resumed_iterations", json_integer((json_int_t)r->job.resume_iterations));
    }
    json_array_append_new(root, st);
    free(r->steps); /* a snapshot's, before the output's */
    r->steps = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII);
    SK_FAIL_IF(!r->steps, SK_ENOMEM, "condense: out of memory");
done:
    json_decref(root);
    free(params);
    return rc;
}

static int write_(run_ *r)
{
    int rc = SK_OK;
    const sk_corpus_info *in = r->job.info;
    const sk_condense_config *c = r->o->cfg;
    char method[SK_CFG_STR_MAX + 16], source[2 * SK_CFG_STR_MAX + 32];
    int64_t total = r->nkept;
    int tok = in->kind == SK_CORPUS_TOKENS;
    size_t es = sk_elem_size(in->type) * (size_t)(tok ? 1 : sk_corpus_sample_elems(in));
    pull_ pull = {.r = r, .tok = tok, .es = es, .last = sk_now()}; /* before any goto: done frees its buffer */
    SK_TRY(sk_mpi_allreduce_sum_i64(&total, 1));
    rc = steps_(r, total);
    SK_TRY(sk_mpi_agree(rc));
    SK_LOG_INFO("condense %s: writing %lld of %lld rows to %s", c->method, (long long)total, (long long)r->job.n,
                c->output);
    snprintf(method, sizeof method, "condense:%s", c->method);
    snprintf(source, sizeof source, "condense:%s of %s", c->method, c->input);
    int scored = r->out.score_name != NULL;
    sk_corpus_data d = {.kind = in->kind,
                        .type = in->type,
                        .vocab_size = in->vocab_size,
                        .ndim = in->ndim,
                        .num_tokens = tok ? r->ntok : 0,
                        .offsets = r->koff,
                        .num_docs = tok ? r->nkept : 0,
                        .num_samples = tok ? 0 : r->nkept,
                        .fill = pull_rows_,
                        .fill_ctx = &pull,
                        .labels = in->has_labels ? r->klabels : NULL,
                        .num_classes = in->num_classes,
                        .nscores = scored,
                        .source = source,
                        .command = r->o->command ? r->o->command : "shrink condense",
                        .prov_source = c->input,
                        .prov_method = method,
                        .kept = r->kept,
                        .num_kept = r->nkept,
                        .prov_steps = r->steps,
                        .num_source = r->job.end - r->job.begin,
                        .prov_scores = scored ? r->out.scores : NULL,
                        .prov_score_name = r->out.score_name,
                        .prov_clusters = r->out.has_clusters ? r->out.clusters : NULL};
    memcpy(d.shape, in->shape, sizeof d.shape);
    if (scored) {
        d.score_names[0] = r->out.score_name;
        d.scores[0] = r->kscores;
    }
    if (c->overwrite && r->job.rank == 0) remove(c->output); /* the write renames into place; an old file goes first */
    SK_TRY(sk_mpi_barrier());
    rc = sk_corpus_write_part(c->output, &d, NULL);
done:
    free(pull.tmp);
    return rc;
}

/* A synthesising method's samples to path: rank 0 writes them all (every
 * rank holds the same out.syn), the others an empty slice of the
 * collective write. float32 as made, or quantised to the source's type.
 * With out.syn_state, rank 0 then writes the state file beside it (and
 * removes the corpus if that fails). */
static int write_syn_(run_ *r, const char *path)
{
    int rc = SK_OK;
    const sk_corpus_info *in = r->job.info;
    const sk_condense_config *c = r->o->cfg;
    char method[SK_CFG_STR_MAX + 16], source[2 * SK_CFG_STR_MAX + 32];
    int64_t D = sk_corpus_sample_elems(in), m = r->out.syn_rows, mine = r->job.rank == 0 ? m : 0;
    int quant = c->synthetic_dtype == SK_CONDENSE_SYN_SOURCE && in->type == SK_ELEM_U8;
    int from_real = c->init == SK_CONDENSE_INIT_REAL;
    uint8_t *q = NULL;
    rc = steps_(r, m);
    if (rc == SK_OK && quant) {
        q = malloc((size_t)(m * D));
        if (!q) rc = sk_error_set(SK_ENOMEM, "condense: out of memory");
        for (int64_t i = 0; q && i < m * D; i++) {
            float v = nearbyintf(r->out.syn[i]);
            q[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    SK_TRY(sk_mpi_agree(rc));
    snprintf(method, sizeof method, "condense:%s", c->method);
    snprintf(source, sizeof source, "condense:%s of %s", c->method, c->input);
    sk_corpus_data d = {.kind = SK_CORPUS_SAMPLES,
                        .type = quant ? SK_ELEM_U8 : SK_ELEM_F32,
                        .ndim = in->ndim,
                        .samples = quant ? (const void *)q : (const void *)r->out.syn,
                        .num_samples = mine,
                        .labels = r->out.syn_labels,
                        .num_classes = in->num_classes,
                        .source = source,
                        .command = r->o->command ? r->o->command : "shrink condense",
                        .prov_source = c->input,
                        .prov_method = method,
                        .kept = from_real ? r->out.syn_from : NULL,
                        .num_kept = from_real ? mine : 0,
                        .prov_steps = r->steps};
    memcpy(d.shape, in->shape, sizeof d.shape);
    if (c->overwrite && r->job.rank == 0) remove(path);
    SK_TRY(sk_mpi_barrier());
    SK_TRY(sk_corpus_write_part(path, &d, NULL));
    if (r->out.syn_state) {
        if (r->job.rank == 0) {
            rc = sk_condense_state_write(path, r->vt, r->o, r->src_hash, r->out.iterations, r->out.syn_state, m, in);
            if (rc < 0) remove(path);
        }
        rc = sk_mpi_agree(rc);
    }
done:
    free(q);
    return rc;
}

/* job.snapshot: the corpus and state of a run of `iterations`. */
static int snapshot_(void *ctx, int64_t iterations)
{
    run_ *r = ctx;
    char path[SK_CFG_STR_MAX + 64];
    int rc = sk_condense_snapshot_path(r->o->cfg->output, iterations, path, sizeof path);
    if (rc < 0) return rc;
    r->out.iterations = iterations;
    SK_LOG_INFO("condense %s: snapshot after %lld iterations -> %s", r->o->cfg->method, (long long)iterations, path);
    return write_syn_(r, path);
}

static void free_(run_ *r)
{
    sk_corpus_free(r->src);
    sk_model_free(r->proxy);
    free(r->labels);
    free(r->given);
    free(r->out.keep);
    free(r->out.scores);
    free(r->out.clusters);
    free(r->out.syn);
    free(r->out.syn_labels);
    free(r->out.syn_from);
    free(r->kept);
    free(r->klabels);
    free(r->kscores);
    free(r->koff);
    free(r->ksrc);
    free(r->steps);
    free(r->out.syn_state);
    free(r->state);
}

int sk_condense_run(const sk_condense_opts *o, sk_condense_result *res)
{
    int rc = SK_OK;
    run_ r = {.o = o};
    double t0 = sk_now();
    SK_TRY(setup_(&r));
    double t1 = sk_now();
    SK_TRY(sk_mpi_agree(r.vt->select(&r.job, &r.out)));
    double t2 = sk_now();
    int syn = (r.vt->flags & SK_CONDENSE_SYNTHESIZES) != 0;
    if (syn) {
        SK_TRY(write_syn_(&r, o->cfg->output));
    } else {
        SK_TRY(sk_mpi_agree(gather_(&r)));
        SK_TRY(write_(&r));
    }
    if (res) {
        int64_t v[2] = {r.job.n, syn ? (r.job.rank == 0 ? r.out.syn_rows : 0) : r.nkept};
        SK_TRY(sk_mpi_allreduce_sum_i64(v + 1, 1));
        *res = (sk_condense_result){.rows = v[0], .kept = v[1], .seconds = t2 - t1, .seconds_total = sk_now() - t0};
    }
done:
    free_(&r);
    return rc;
}

/* ---- a check without a run ------------------------------------------------- */

int sk_condense_check(const sk_condense_opts *o)
{
    int rc = SK_OK;
    const sk_condense_config *c = o->cfg;
    sk_corpus *src = NULL, *given = NULL;
    sk_model *proxy = NULL;
    SK_FAIL_IF(!c->input[0], SK_EINVAL, "condense.input is not set (the corpus to condense)");
    const sk_condense_method *vt = sk_condense_find(c->method);
    if (!vt) {
        rc = sk_cfg_choice_error(SK_EINVAL, "condense.method", c->method, sk_condense_name_at);
        goto done;
    }
    SK_TRY(sk_corpus_open(&src, c->input));
    const sk_corpus_info *in = sk_corpus_info_get(src);
    SK_TRY(check_method_(vt, c, in));
    if (c->scores_from[0]) {
        /* what load_given_ checks first; the source checksum is the driver's (it hashes the whole file) */
        SK_TRY(sk_corpus_open(&given, c->scores_from));
        const sk_corpus_info *si = sk_corpus_info_get(given);
        SK_FAIL_IF(!si->has_prov_scores, SK_EINVAL, "condense.scores_from %s: the corpus stores no /provenance/scores",
                   c->scores_from);
        SK_FAIL_IF(si->num_source != rows_of_(in), SK_EINVAL,
                   "condense.scores_from %s: %lld scores, but %s has %lld rows", c->scores_from,
                   (long long)si->num_source, c->input, (long long)rows_of_(in));
    } else if (vt->flags & SK_CONDENSE_NEEDS_PROXY) {
        rc = sk_model_create_from_file(&proxy, c->proxy);
        if (rc < 0) {
            sk_error_prefix("condense.proxy: ");
            goto done;
        }
        SK_TRY(sk_condense_proxy_check(proxy, c->proxy, c, in));
    }
done:
    sk_model_free(proxy);
    sk_corpus_free(given);
    sk_corpus_free(src);
    return rc;
}
