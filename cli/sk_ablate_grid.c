/* sk_ablate_grid.c - the ablation grid: the base config, method specs, the
 * baselines every grid gets, the cells and their effective configs, and
 * the checks made before the first cell runs (sk_ablate.h). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "sk_ablate.h"
#include "sk_cli.h"
#include "sk_condense.h"
#include "sk_corpus.h"
#include "sk_data_config.h"
#include "sk_error.h"
#include "sk_run_config.h"
#include "sk_select_config.h"
#include "sk_select_registry.h"
#include "sk_shim.h"
#include "sk_train.h"

int sk_ablate_sec(const sk_ablate_plan *p, const char *name)
{
    for (int i = 0; i < p->nsec; i++)
        if (!strcmp(p->secs[i]->name, name)) return i;
    return -1;
}

static void *sec_(const sk_ablate_plan *p, void **bases, const char *name)
{
    int i = sk_ablate_sec(p, name);
    return i < 0 ? NULL : bases[i];
}

static void free_bases_(void **b, int n)
{
    if (!b) return;
    for (int i = 0; i < n; i++) free(b[i]);
    free(b);
}

/* A deep copy of a set of section structs (plain data: memcpy is a copy). */
static int copy_bases_(const sk_ablate_plan *p, void **src, void ***out)
{
    void **b = calloc((size_t)p->nsec, sizeof *b);
    if (!b) return sk_error_set(SK_ENOMEM, "out of memory");
    for (int i = 0; i < p->nsec; i++) {
        b[i] = malloc(p->secs[i]->size ? p->secs[i]->size : 1);
        if (!b[i]) {
            free_bases_(b, p->nsec);
            return sk_error_set(SK_ENOMEM, "out of memory");
        }
        memcpy(b[i], src[i], p->secs[i]->size);
    }
    *out = b;
    return SK_OK;
}

static char *trim_(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* ---- method specs ------------------------------------------------------------ */

static const char *scorer_name_at_(int i) { return sk_scorer_name_at(i); }

/* Parse one spec into m; errors name the spec. */
static int parse_method_(const char *spec, sk_ablate_method *m)
{
    char buf[192];
    memset(m, 0, sizeof *m);
    if (strlen(spec) >= sizeof buf) return sk_error_set(SK_EINVAL, "ablate.methods: spec '%.40s...' is too long", spec);
    snprintf(m->spec, sizeof m->spec, "%s", spec);
    snprintf(buf, sizeof buf, "%s", spec);
    if (!strcmp(buf, "none")) return SK_OK;
    char *tok = buf;
    if (!strncmp(buf, "condense:", 9)) {
        char *name = buf + 9, *plus = strchr(name, '+');
        if (plus) *plus = '\0';
        if (!sk_condense_find(name)) {
            char what[256];
            snprintf(what, sizeof what, "ablate.methods: '%s': condense method", spec);
            return sk_cfg_choice_error(SK_EINVAL, what, name, sk_condense_name_at);
        }
        snprintf(m->condense, sizeof m->condense, "%s", name);
        if (!plus) return SK_OK;
        tok = plus + 1;
    }
    char *slash = strchr(tok, '/');
    if (!slash || !slash[1] || slash == tok)
        return sk_error_set(SK_EINVAL,
                            "ablate.methods: '%s' is not none, SCORER/STRATEGY, condense:METHOD or "
                            "condense:METHOD+SCORER/STRATEGY",
                            spec);
    *slash = '\0';
    if (!sk_scorer_find(tok)) {
        char what[256];
        snprintf(what, sizeof what, "ablate.methods: '%s': scorer", spec);
        return sk_cfg_choice_error(SK_EINVAL, what, tok, scorer_name_at_);
    }
    if (!sk_strategy_find(slash + 1)) {
        char what[256];
        snprintf(what, sizeof what, "ablate.methods: '%s': strategy", spec);
        return sk_cfg_choice_error(SK_EINVAL, what, slash + 1, sk_strategy_name_at);
    }
    snprintf(m->scorer, sizeof m->scorer, "%s", tok);
    snprintf(m->strategy, sizeof m->strategy, "%s", slash + 1);
    return SK_OK;
}

static int find_method_(const sk_ablate_plan *p, const char *spec)
{
    for (int i = 0; i < p->nmethods; i++)
        if (!strcmp(p->methods[i].spec, spec)) return i;
    return -1;
}

static int add_method_(sk_ablate_plan *p, const char *spec, int added, int notes)
{
    if (strlen(spec) >= sizeof p->methods[0].spec)
        return sk_error_set(SK_EINVAL, "ablate.methods: spec '%.40s...' is too long", spec);
    int rc = SK_OK;
    sk_ablate_method m;
    SK_TRY(parse_method_(spec, &m));
    if (find_method_(p, m.spec) >= 0) {
        SK_FAIL_IF(!added, SK_EINVAL, "ablate.methods: '%s' is listed twice", spec);
        goto done;
    }
    sk_ablate_method *nm = realloc(p->methods, (size_t)(p->nmethods + 1) * sizeof *nm);
    SK_FAIL_IF(!nm, SK_ENOMEM, "out of memory");
    p->methods = nm;
    m.added = added;
    p->methods[p->nmethods++] = m;
    if (added && notes)
        fprintf(stderr,
                "ablate: note: added '%s' to the grid (every grid has the uncompressed cell and the "
                "random baseline at each budget)\n",
                spec);
done:
    return rc;
}

static int is_random_scorer_(const char *s) { return !strcmp(s, "random") || !strcmp(s, "random-ltd"); }

/* The baseline rule of sk_ablate.h: none, random/S per token strategy,
 * condense:random, condense:random+random/S. */
static int add_baselines_(sk_ablate_plan *p, int notes)
{
    int rc = SK_OK, n = p->nmethods;
    char spec[512];
    if (find_method_(p, "none") < 0) SK_TRY(add_method_(p, "none", 1, notes));
    for (int i = 0; i < n; i++) {
        const sk_ablate_method *m = &p->methods[i];
        int have = 0;
        if (m->scorer[0]) {
            for (int j = 0; j < p->nmethods; j++) {
                const sk_ablate_method *r = &p->methods[j];
                have |= !strcmp(r->strategy, m->strategy) && is_random_scorer_(r->scorer) &&
                        !strcmp(r->condense, m->condense[0] ? "random" : "");
            }
            if (!have) {
                if (m->condense[0])
                    snprintf(spec, sizeof spec, "condense:random+random/%s", m->strategy);
                else
                    snprintf(spec, sizeof spec, "random/%s", m->strategy);
                SK_TRY(add_method_(p, spec, 1, notes));
            }
        } else if (m->condense[0] && find_method_(p, "condense:random") < 0) {
            SK_TRY(add_method_(p, "condense:random", 1, notes));
        }
    }
done:
    return rc;
}

static int parse_methods_(sk_ablate_plan *p, int notes)
{
    int rc = SK_OK;
    char *copy = strdup(p->cfg.methods), *save = NULL;
    SK_FAIL_IF(!copy, SK_ENOMEM, "out of memory");
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *s = trim_(t);
        if (*s) SK_TRY(add_method_(p, s, 0, notes));
    }
    SK_FAIL_IF(p->nmethods == 0, SK_EINVAL, "ablate.methods is empty: the grid has no method to compare");
    SK_FAIL_IF(p->cfg.seeds.n == 0, SK_EINVAL, "ablate.seeds is empty: the grid has no cell");
    for (int i = 0; i < p->nmethods; i++) {
        SK_FAIL_IF(p->methods[i].scorer[0] && p->cfg.keep.n == 0, SK_EINVAL,
                   "ablate.keep is empty but ablate.methods has the token spec '%s'", p->methods[i].spec);
        SK_FAIL_IF(p->methods[i].condense[0] && p->cfg.condense_keep.n == 0, SK_EINVAL,
                   "ablate.condense_keep is empty but ablate.methods has the condense spec '%s'", p->methods[i].spec);
    }
    SK_TRY(add_baselines_(p, notes));
done:
    free(copy);
    return rc;
}

/* ---- extra axes: "section.key=a|b; section.key=c" ------------------------------ */

static int parse_axes_(sk_ablate_plan *p)
{
    int rc = SK_OK;
    char *copy = strdup(p->cfg.grid), *save = NULL;
    SK_FAIL_IF(!copy, SK_ENOMEM, "out of memory");
    for (char *t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
        char *s = trim_(t), *eq = strchr(s, '='), *vsave = NULL;
        if (!*s) continue;
        SK_FAIL_IF(!eq, SK_EINVAL, "ablate.grid: axis '%s' is not section.key=v1|v2|...", s);
        SK_FAIL_IF(p->naxes >= SK_ABLATE_MAX_AXES, SK_EINVAL, "ablate.grid: more than %d axes", SK_ABLATE_MAX_AXES);
        *eq = '\0';
        int a = p->naxes++;
        snprintf(p->axis_key[a], sizeof p->axis_key[a], "%s", trim_(s));
        SK_FAIL_IF(!strcmp(p->axis_key[a], "run.seed"), SK_EINVAL, "ablate.grid: run.seed is ablate.seeds' axis");
        SK_FAIL_IF(!strncmp(p->axis_key[a], "ablate.", 7) || !strncmp(p->axis_key[a], "run.out_dir", 11), SK_EINVAL,
                   "ablate.grid: '%s' cannot be an axis (it is not a training key)", p->axis_key[a]);
        for (char *v = strtok_r(eq + 1, "|", &vsave); v; v = strtok_r(NULL, "|", &vsave)) {
            SK_FAIL_IF(p->axis_n[a] >= SK_CFG_LIST_MAX, SK_EINVAL, "ablate.grid: %s has too many values",
                       p->axis_key[a]);
            p->axis_val[a][p->axis_n[a]] = strdup(trim_(v));
            SK_FAIL_IF(!p->axis_val[a][p->axis_n[a]], SK_ENOMEM, "out of memory");
            p->axis_n[a]++;
        }
        SK_FAIL_IF(p->axis_n[a] == 0, SK_EINVAL, "ablate.grid: axis %s has no values", p->axis_key[a]);
    }
done:
    free(copy);
    return rc;
}

/* ---- hashing ------------------------------------------------------------------ */

/* XXH64 of the config text of the named sections (run.out_dir and
 * run.overwrite left out: where a cell runs is not what it is; run.seed
 * too with `noseed`). */
static int hash_sections_seed_(const sk_ablate_plan *p, void **bases, const char *const *names, int n, int noseed,
                               uint64_t *out)
{
    int rc = SK_OK;
    char *buf = NULL;
    size_t len = 0;
    const sk_cfg_section *secs[16];
    void *b[16];
    sk_run_config run;
    FILE *f = open_memstream(&buf, &len);
    SK_FAIL_IF(!f, SK_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        int s = sk_ablate_sec(p, names[i]);
        secs[i] = p->secs[s];
        b[i] = bases[s];
        if (!strcmp(names[i], "run")) {
            memcpy(&run, bases[s], sizeof run);
            run.out_dir[0] = '\0';
            run.overwrite = 0;
            if (noseed) run.seed = 0;
            b[i] = &run;
        }
    }
    rc = sk_cfg_write(f, secs, n, b);
    fclose(f);
    f = NULL;
    SK_TRY(rc);
    *out = XXH64(buf, len, 0);
done:
    free(buf);
    return rc;
}

static int hash_sections_(const sk_ablate_plan *p, void **bases, const char *const *names, int n, uint64_t *out)
{
    return hash_sections_seed_(p, bases, names, n, 0, out);
}

static const char *const train_secs_[] = {"run", "data", "model", "train", "select", "condense"};

int sk_ablate_cell_finish(sk_ablate_plan *p, sk_ablate_cell *c, int64_t rows)
{
    int rc = SK_OK;
    sk_train_config *t = sec_(p, c->bases, "train");
    const sk_data_config *d = sec_(p, c->bases, "data");
    if (p->cfg.budget == SK_ABLATE_BUDGET_EPOCHS) {
        double steps = ceil(p->cfg.epochs * (double)rows / (double)d->batch_size);
        SK_FAIL_IF(steps < 1, SK_EINVAL,
                   "cell %s: ablate.epochs = %g over %lld training rows with data.batch_size "
                   "= %lld is less than one step",
                   c->id, p->cfg.epochs, (long long)rows, (long long)d->batch_size);
        t->steps = (int64_t)steps;
    }
    SK_TRY(hash_sections_(p, c->bases, train_secs_, c->corpus[0] ? 6 : 5, &c->hash));
done:
    return rc;
}

/* ---- corpus rows --------------------------------------------------------------- */

int sk_ablate_corpus_rows(const char *path, const void *data, int64_t *rows)
{
    int rc = SK_OK;
    const sk_data_config *d = data;
    sk_corpus *c = NULL;
    SK_TRY(sk_corpus_open(&c, path));
    const sk_corpus_info *in = sk_corpus_info_get(c);
    double n = in->kind == SK_CORPUS_TOKENS ? (double)in->num_tokens / (double)(d->seq_len > 0 ? d->seq_len : 1)
                                            : (double)in->num_samples;
    if (!d->eval[0]) n *= 1.0 - d->eval_fraction;
    *rows = (int64_t)n;
done:
    sk_corpus_free(c);
    return rc;
}

/* ---- cells --------------------------------------------------------------------- */

static void id_part_(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(dst);
    for (; *s && n + 1 < cap; s++) dst[n++] = (isalnum((unsigned char)*s) || *s == '.' || *s == '-') ? *s : '-';
    dst[n] = '\0';
}

static int set_(const char *id, const char *assign, const sk_ablate_plan *p, void **bases)
{
    int rc = sk_cfg_apply_set(assign, p->secs, p->nsec, bases);
    if (rc < 0) sk_error_prefix("cell %s: ", id);
    return rc;
}

static int add_cell_(sk_ablate_plan *p, int method, double ckeep, double keep, const int *axis, int64_t seed,
                     int group_ranks)
{
    int rc = SK_OK;
    char a[SK_CFG_STR_MAX + 64];
    const sk_ablate_method *m = &p->methods[method];
    sk_ablate_cell *nc = realloc(p->cells, (size_t)(p->ncells + 1) * sizeof *nc);
    SK_FAIL_IF(!nc, SK_ENOMEM, "out of memory");
    p->cells = nc;
    sk_ablate_cell *c = &p->cells[p->ncells++];
    memset(c, 0, sizeof *c);
    c->index = p->ncells - 1;
    c->method = method;
    c->keep = keep;
    c->ckeep = ckeep;
    c->seed = seed;
    snprintf(c->id, sizeof c->id, "%03d-", c->index);
    id_part_(c->id, sizeof c->id, m->spec);
    if (!isnan(ckeep)) snprintf(c->id + strlen(c->id), sizeof c->id - strlen(c->id), "-c%g", ckeep);
    if (!isnan(keep)) snprintf(c->id + strlen(c->id), sizeof c->id - strlen(c->id), "-k%g", keep);
    for (int i = 0; i < p->naxes; i++) {
        c->axis[i] = axis[i];
        size_t n = strlen(c->axes);
        snprintf(c->axes + n, sizeof c->axes - n, "%s%s=%s", i ? ";" : "", p->axis_key[i], p->axis_val[i][axis[i]]);
        id_part_(c->id, sizeof c->id, "-");
        id_part_(c->id, sizeof c->id, p->axis_val[i][axis[i]]);
    }
    snprintf(c->id + strlen(c->id), sizeof c->id - strlen(c->id), "-s%lld", (long long)seed);
    SK_TRY(copy_bases_(p, p->base, &c->bases));
    for (int i = 0; i < p->naxes; i++) {
        snprintf(a, sizeof a, "%s=%s", p->axis_key[i], p->axis_val[i][axis[i]]);
        SK_TRY(set_(c->id, a, p, c->bases));
    }
    snprintf(a, sizeof a, "run.seed=%lld", (long long)seed);
    SK_TRY(set_(c->id, a, p, c->bases));
    snprintf(a, sizeof a, "select.scorer=%s", m->scorer[0] ? m->scorer : "none");
    SK_TRY(set_(c->id, a, p, c->bases));
    if (m->scorer[0]) {
        snprintf(a, sizeof a, "select.strategy=%s", m->strategy);
        SK_TRY(set_(c->id, a, p, c->bases));
        snprintf(a, sizeof a, "select.keep=%.17g", keep);
        SK_TRY(set_(c->id, a, p, c->bases));
    }
    sk_data_config *d = sec_(p, c->bases, "data");
    int64_t rows = 0;
    SK_FAIL_IF(!d->train[0], SK_EINVAL, "cell %s: data.train is empty (the base config names no training corpus)",
               c->id);
    rc = sk_ablate_corpus_rows(d->train, d, &rows);
    if (rc < 0) {
        sk_error_prefix("cell %s: data.train: ", c->id);
        goto done;
    }
    if (m->condense[0]) {
        sk_condense_config *cc = sec_(p, c->bases, "condense");
        uint64_t h = 0;
        snprintf(a, sizeof a, "condense.method=%s", m->condense);
        SK_TRY(set_(c->id, a, p, c->bases));
        snprintf(a, sizeof a, "condense.keep=%.17g", ckeep);
        SK_TRY(set_(c->id, a, p, c->bases));
        snprintf(cc->input, sizeof cc->input, "%s", d->train);
        cc->output[0] = '\0';
        cc->overwrite = 0;
        /* one corpus per distinct condense config and seed, shared by every cell that uses it */
        const char *names[] = {"run", "condense"};
        SK_TRY(hash_sections_(p, c->bases, names, 2, &h));
        char name[160] = "";
        id_part_(name, sizeof name, m->condense);
        int w = snprintf(c->corpus, sizeof c->corpus, "%s/corpora/%s-c%g-s%lld-%016llx.h5", p->cfg.out_dir, name, ckeep,
                         (long long)seed, (unsigned long long)h);
        SK_FAIL_IF(w < 0 || (size_t)w >= sizeof c->corpus, SK_EINVAL, "ablate.out_dir is too long");
        snprintf(cc->output, sizeof cc->output, "%s", c->corpus);
        snprintf(d->train, sizeof d->train, "%s", c->corpus);
        rows = (int64_t)ceil((double)rows * ckeep); /* an estimate until the corpus exists */
    }
    /* the checks `shrink train` makes (cmd_train.c), for a group of group_ranks */
    const sk_run_config *run = sec_(p, c->bases, "run");
    SK_FAIL_IF((sk_device)run->device != SK_CPU, SK_EINVAL,
               "cell %s: run.device = cuda: the trainer runs on CPU in "
               "this version",
               c->id);
    SK_FAIL_IF((sk_dtype)run->dtype != SK_F32, SK_EINVAL, "cell %s: run.dtype: the trainer trains in f32", c->id);
    SK_TRY(sk_ablate_cell_finish(p, c, rows));
    rc = sk_train_validate(sec_(p, c->bases, "model"), sec_(p, c->bases, "train"), d, group_ranks);
    if (rc < 0) sk_error_prefix("cell %s: ", c->id);
done:
    return rc;
}

static int build_cells_(sk_ablate_plan *p, int group_ranks)
{
    int rc = SK_OK;
    int axis[SK_ABLATE_MAX_AXES] = {0};
    const double none[1] = {NAN};
    for (int s = 0; s < p->cfg.seeds.n; s++) {
        for (int mi = 0; mi < p->nmethods; mi++) {
            const sk_ablate_method *m = &p->methods[mi];
            const double *cks = m->condense[0] ? p->cfg.condense_keep.v : none;
            const double *ks = m->scorer[0] ? p->cfg.keep.v : none;
            int ncks = m->condense[0] ? p->cfg.condense_keep.n : 1, nks = m->scorer[0] ? p->cfg.keep.n : 1;
            for (int ci = 0; ci < ncks; ci++) {
                for (int ki = 0; ki < nks; ki++) {
                    memset(axis, 0, sizeof axis);
                    for (;;) {
                        SK_TRY(add_cell_(p, mi, cks[ci], ks[ki], axis, p->cfg.seeds.v[s], group_ranks));
                        int i = 0;
                        while (i < p->naxes && ++axis[i] == p->axis_n[i]) axis[i++] = 0;
                        if (i == p->naxes) break;
                    }
                }
            }
        }
    }
done:
    return rc;
}

/* ---- what can be checked without training -------------------------------------- */

void sk_ablate_cell_opts(const sk_ablate_plan *p, const sk_ablate_cell *c, sk_train_opts *o)
{
    const sk_run_config *run = sec_(p, c->bases, "run");
    memset(o, 0, sizeof *o);
    o->model = sec_(p, c->bases, "model");
    o->train = sec_(p, c->bases, "train");
    o->data = sec_(p, c->bases, "data");
    o->select = sec_(p, c->bases, "select");
    o->seed = (uint64_t)run->seed;
    o->threads = (int)run->threads;
}

int sk_ablate_cell_check(const sk_ablate_plan *p, const sk_ablate_cell *c, int group_ranks)
{
    int rc = SK_OK;
    const sk_condense_config *cc = sec_(p, c->bases, "condense");
    sk_train_opts o;
    sk_ablate_cell_opts(p, c, &o);
    /* a corpus still to be condensed: its source stands in (same sample kind and shape; the
     * condensed one is checked again once it exists, sk_ablate_cell_finish's caller) */
    const char *via = "";
    if (c->corpus[0] && access(c->corpus, F_OK) != 0) {
        sk_condense_opts co = {
            .cfg = cc, .model = o.model, .train = o.train, .data = sec_(p, p->base, "data"), .seed = o.seed};
        rc = sk_condense_check(&co);
        if (rc < 0) {
            sk_error_prefix("cell %s: ", c->id);
            return rc;
        }
        o.data_path = cc->input;
        via = " (checked on the corpus it is condensed from)";
    }
    rc = sk_train_check(&o, group_ranks);
    if (rc < 0) sk_error_prefix("cell %s%s: ", c->id, via);
    return rc;
}

int sk_ablate_plan_check(const sk_ablate_plan *p, int a, int b, int group_ranks, int *checked)
{
    int rc = SK_OK, n = 0;
    uint64_t *seen = calloc((size_t)(b > a ? b - a : 1), sizeof *seen);
    SK_FAIL_IF(!seen, SK_ENOMEM, "out of memory");
    for (int i = a; i < b; i++) {
        const sk_ablate_cell *c = &p->cells[i];
        uint64_t h = 0;
        int dup = 0;
        /* cells that differ in run.seed alone build the same model and selector from the same
         * files: one check answers for all of them */
        SK_TRY(hash_sections_seed_(p, c->bases, train_secs_, 6, 1, &h));
        for (int j = 0; j < n && !dup; j++) dup = seen[j] == h;
        if (dup) continue;
        seen[n++] = h;
        SK_TRY(sk_ablate_cell_check(p, c, group_ranks));
    }
    if (checked) *checked = n;
done:
    free(seen);
    return rc;
}

/* ---- the plan ------------------------------------------------------------------- */

static int load_(sk_ablate_plan *p, void **bases, const char *base, const char *path, const char *const *sets,
                 int nsets)
{
    int rc = SK_OK;
    SK_TRY(sk_cfg_defaults(p->secs, p->nsec, bases));
    if (base && *base) {
        rc = sk_cfg_load_file(base, p->secs, p->nsec, bases);
        if (rc < 0) {
            sk_error_prefix("ablate.base: ");
            goto done;
        }
    }
    if (path) SK_TRY(sk_cfg_load_file(path, p->secs, p->nsec, bases));
    for (int i = 0; i < nsets; i++) SK_TRY(sk_cfg_apply_set(sets[i], p->secs, p->nsec, bases));
done:
    return rc;
}

int sk_ablate_plan_build(sk_ablate_plan **out, const char *path, const char *const *sets, int nsets, int group_ranks,
                         int notes)
{
    int rc = SK_OK, n = 0;
    char base_path[SK_CFG_STR_MAX];
    sk_ablate_plan *p = calloc(1, sizeof *p);
    *out = NULL;
    SK_FAIL_IF(!p, SK_ENOMEM, "out of memory");
    const sk_cfg_section *const *all = sk_cli_sections(&n);
    p->secs = calloc((size_t)n, sizeof *p->secs);
    p->base = calloc((size_t)n, sizeof *p->base);
    SK_FAIL_IF(!p->secs || !p->base, SK_ENOMEM, "out of memory");
    p->nsec = n;
    for (int i = 0; i < n; i++) {
        p->secs[i] = all[i];
        p->base[i] = calloc(1, all[i]->size ? all[i]->size : 1);
        SK_FAIL_IF(!p->base[i], SK_ENOMEM, "out of memory");
    }
    SK_FAIL_IF(sk_ablate_sec(p, "ablate") < 0, SK_EINVAL, "internal: the ablate section is not registered");
    /* first pass: where the base config is; second: base, this file, --set */
    SK_TRY(load_(p, p->base, NULL, path, sets, nsets));
    memcpy(base_path, ((sk_ablate_config *)sec_(p, p->base, "ablate"))->base, sizeof base_path);
    SK_TRY(load_(p, p->base, base_path, path, sets, nsets));
    memcpy(&p->cfg, sec_(p, p->base, "ablate"), sizeof p->cfg);
    SK_FAIL_IF(!p->cfg.out_dir[0], SK_EINVAL, "ablate.out_dir is empty");
    SK_FAIL_IF(group_ranks <= 0, SK_EINVAL, "internal: group of %d ranks", group_ranks);
    SK_TRY(hash_sections_(p, p->base, train_secs_, 6, &p->base_hash));
    /* the base itself must pass before any cell is built from it */
    {
        const sk_data_config *d = sec_(p, p->base, "data");
        rc = sk_train_validate(sec_(p, p->base, "model"), sec_(p, p->base, "train"), d, group_ranks);
        if (rc < 0) {
            sk_error_prefix("base config: ");
            goto done;
        }
    }
    SK_TRY(parse_methods_(p, notes));
    SK_TRY(parse_axes_(p));
    SK_TRY(build_cells_(p, group_ranks));
    *out = p;
    p = NULL;
done:
    sk_ablate_plan_free(p);
    return rc;
}

void sk_ablate_plan_free(sk_ablate_plan *p)
{
    if (!p) return;
    for (int i = 0; i < p->ncells; i++) free_bases_(p->cells[i].bases, p->nsec);
    free(p->cells);
    free(p->methods);
    for (int a = 0; a < p->naxes; a++)
        for (int v = 0; v < p->axis_n[a]; v++) free(p->axis_val[a][v]);
    free_bases_(p->base, p->nsec);
    free(p->secs);
    free(p);
}
