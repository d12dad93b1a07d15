/* sk_condense_snapshot.c - snapshot paths, and the state files of long
 * distillations (sk_condense_snapshot.h). */
#include "sk_condense_snapshot.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sk_error.h"
#include "sk_safetensors.h"

#define STATE_FORMAT_ "shrink-distill-state-1"
#define MAX_SNAPSHOTS_ 10000 /* a run's snapshots: more is a mistake of snapshot_every */

/* path with a trailing ".h5" replaced by tail (or tail appended). */
static int replace_h5_(const char *path, const char *tail, char *buf, size_t cap)
{
    size_t n = strlen(path);
    if (n >= 3 && strcmp(path + n - 3, ".h5") == 0) n -= 3;
    int w = snprintf(buf, cap, "%.*s%s", (int)n, path, tail);
    if (w < 0 || (size_t)w >= cap) return sk_error_set(SK_EINVAL, "'%s': the path is too long for a snapshot", path);
    return SK_OK;
}

int sk_condense_snapshot_path(const char *output, int64_t iterations, char *buf, size_t cap)
{
    char tail[40];
    snprintf(tail, sizeof tail, ".it%" PRId64 ".h5", iterations);
    return replace_h5_(output, tail, buf, cap);
}

int sk_condense_state_path(const char *corpus, char *buf, size_t cap)
{
    return replace_h5_(corpus, ".state.safetensors", buf, cap);
}

/* The keys that only say how long to run or where to write. */
static int run_key_(const char *k, size_t n)
{
    static const char *const keys[] = {"iterations", "synthetic_dtype", "snapshot_every", "resume_from"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (strlen(keys[i]) == n && strncmp(keys[i], k, n) == 0) return 1;
    return 0;
}

/* The metadata "keys" text of this run (sk_condense_snapshot.h); caller frees. */
static char *keys_text_(const sk_condense_method *vt, const sk_condense_opts *o)
{
    char *buf = NULL, name[64];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    for (const char *p = vt->keys; *p;) {
        size_t n = strcspn(p, " ");
        if (n > 0 && n < sizeof name && !run_key_(p, n)) {
            memcpy(name, p, n);
            name[n] = '\0';
            const sk_cfg_key *k = sk_cfg_find_key(&sk_condense_section, name);
            if (k) {
                fprintf(f, "condense.%s: ", name);
                sk_cfg_write_value(f, k, o->cfg);
                fputc('\n', f);
            }
        }
        p += n;
        p += strspn(p, " ");
    }
    for (int i = 0; o->model && i < sk_model_section.nkeys; i++) {
        fprintf(f, "model.%s: ", sk_model_section.keys[i].name);
        sk_cfg_write_value(f, &sk_model_section.keys[i], o->model);
        fputc('\n', f);
    }
    fclose(f);
    return buf;
}

static int check_free_(const char *path, const char *what, int overwrite)
{
    struct stat st;
    if (stat(path, &st) == 0 && !overwrite)
        return sk_error_set(SK_EEXISTS,
                            "condense.snapshot_every: %s '%s' exists (set condense.overwrite=true to "
                            "replace it)",
                            what, path);
    return SK_OK;
}

int sk_condense_snapshot_check(const sk_condense_method *vt, const sk_condense_config *c)
{
    int rc = SK_OK;
    char path[SK_CFG_STR_MAX + 64];
    int syn = (vt->flags & SK_CONDENSE_SYNTHESIZES) != 0;
    SK_FAIL_IF(!syn && c->snapshot_every > 0, SK_EINVAL,
               "condense.snapshot_every is set, but condense.method=%s makes no synthetic images (dm, dc do)",
               vt->name);
    SK_FAIL_IF(!syn && c->resume_from[0], SK_EINVAL,
               "condense.resume_from is set, but condense.method=%s makes no synthetic images (dm, dc do)", vt->name);
    if (c->snapshot_every <= 0) return SK_OK;
    int64_t count = (c->iterations - 1) / c->snapshot_every;
    SK_FAIL_IF(count > MAX_SNAPSHOTS_, SK_EINVAL,
               "condense.snapshot_every = %lld: %lld snapshots of %lld iterations, more than %d",
               (long long)c->snapshot_every, (long long)count, (long long)c->iterations, MAX_SNAPSHOTS_);
    SK_TRY(sk_condense_state_path(c->output, path, sizeof path));
    SK_TRY(check_free_(path, "the output's state file", c->overwrite));
    for (int64_t it = c->snapshot_every; it < c->iterations; it += c->snapshot_every) {
        SK_TRY(sk_condense_snapshot_path(c->output, it, path, sizeof path));
        SK_TRY(check_free_(path, "snapshot", c->overwrite));
        SK_TRY(sk_condense_state_path(path, path, sizeof path));
        SK_TRY(check_free_(path, "state file", c->overwrite));
    }
done:
    return rc;
}

int sk_condense_state_write(const char *corpus, const sk_condense_method *vt, const sk_condense_opts *o,
                            uint64_t source_xxh64, int64_t iterations, const float *state, int64_t rows,
                            const sk_corpus_info *in)
{
    int rc = SK_OK;
    char path[SK_CFG_STR_MAX + 64], its[32], seed[32], hash[17];
    char *keys = keys_text_(vt, o);
    SK_FAIL_IF(!keys, SK_ENOMEM, "condense: out of memory");
    SK_TRY(sk_condense_state_path(corpus, path, sizeof path));
    snprintf(its, sizeof its, "%" PRId64, iterations);
    snprintf(seed, sizeof seed, "%" PRIu64, o->seed);
    snprintf(hash, sizeof hash, "%016" PRIx64, source_xxh64);
    sk_safetensors_entry e[2] = {{.name = "u", .dtype = "F32", .ndim = in->ndim + 1},
                                 {.name = "momentum", .dtype = "F32", .ndim = in->ndim + 1}};
    size_t per = (size_t)rows * (size_t)sk_corpus_sample_elems(in);
    for (int i = 0; i < 2; i++) {
        e[i].shape[0] = rows;
        for (int j = 0; j < in->ndim; j++) e[i].shape[j + 1] = in->shape[j];
    }
    const void *data[2] = {state, state + per};
    const char *meta[] = {"format", STATE_FORMAT_, "method",       vt->name, "iterations", its,
                          "seed",   seed,          "source_xxh64", hash,     "keys",       keys};
    rc = sk_safetensors_write(path, e, data, 2, meta, (int)(sizeof meta / sizeof *meta) / 2);
    if (rc < 0) sk_error_prefix("condense: state file %s: ", path);
done:
    free(keys);
    return rc;
}

/* The first line where a (the state's) and b (this run's) differ, as a message. */
static int keys_differ_(const char *file, const char *a, const char *b)
{
    while (*a || *b) {
        size_t na = strcspn(a, "\n"), nb = strcspn(b, "\n");
        if (na != nb || strncmp(a, b, na) != 0)
            return sk_error_set(SK_EINVAL, "condense.resume_from %s: made with %.*s, this run has %.*s", file, (int)na,
                                na ? a : "(nothing)", (int)nb, nb ? b : "(nothing)");
        a += na + (a[na] == '\n');
        b += nb + (b[nb] == '\n');
    }
    return SK_OK;
}

/* Metadata key k of st equals want, or an error naming what differs. */
static int meta_is_(const sk_safetensors *st, const char *file, const char *k, const char *want, const char *what)
{
    const char *v = sk_safetensors_meta(st, k);
    if (v && strcmp(v, want) == 0) return SK_OK;
    return sk_error_set(SK_EINVAL, "condense.resume_from %s: made with %s %s, this run has %s", file, what,
                        v ? v : "(missing)", want);
}

int sk_condense_state_read(const sk_condense_method *vt, const sk_condense_opts *o, uint64_t source_xxh64, int64_t rows,
                           const sk_corpus_info *in, float **state, int64_t *iterations)
{
    int rc = SK_OK;
    const sk_condense_config *c = o->cfg;
    char path[SK_CFG_STR_MAX + 64], seed[32], hash[17], *end = NULL;
    char *keys = keys_text_(vt, o);
    sk_safetensors *st = NULL;
    size_t per = (size_t)rows * (size_t)sk_corpus_sample_elems(in);
    float *buf = NULL;
    *state = NULL;
    SK_FAIL_IF(!keys, SK_ENOMEM, "condense: out of memory");
    SK_TRY(sk_condense_state_path(c->resume_from, path, sizeof path));
    rc = sk_safetensors_open(&st, path);
    if (rc < 0) {
        sk_error_prefix("condense.resume_from %s: its state file (written with condense.snapshot_every): ",
                        c->resume_from);
        goto done;
    }
    const char *fmt = sk_safetensors_meta(st, "format");
    SK_FAIL_IF(!fmt || strcmp(fmt, STATE_FORMAT_) != 0, SK_ECORRUPT, "condense.resume_from %s: %s is not a state file",
               c->resume_from, path);
    snprintf(seed, sizeof seed, "%" PRIu64, o->seed);
    snprintf(hash, sizeof hash, "%016" PRIx64, source_xxh64);
    SK_TRY(meta_is_(st, c->resume_from, "method", c->method, "condense.method"));
    SK_TRY(meta_is_(st, c->resume_from, "seed", seed, "run.seed"));
    SK_TRY(meta_is_(st, c->resume_from, "source_xxh64", hash, "a source of checksum"));
    const char *got = sk_safetensors_meta(st, "keys");
    SK_TRY(keys_differ_(c->resume_from, got ? got : "", keys));
    const char *its = sk_safetensors_meta(st, "iterations");
    long long n = its ? strtoll(its, &end, 10) : -1;
    SK_FAIL_IF(!its || *end || n < 1, SK_ECORRUPT, "condense.resume_from %s: iterations '%s' is not a count",
               c->resume_from, its ? its : "(missing)");
    SK_FAIL_IF(n >= c->iterations, SK_EINVAL,
               "condense.resume_from %s: made %lld iterations; condense.iterations = %lld must be more", c->resume_from,
               n, (long long)c->iterations);
    buf = malloc(2 * per * sizeof *buf);
    SK_FAIL_IF(!buf, SK_ENOMEM, "condense: out of memory for the resumed state");
    static const char *const names[2] = {"u", "momentum"};
    for (int i = 0; i < 2; i++) {
        const sk_safetensors_entry *e = sk_safetensors_find(st, names[i]);
        int same = e && strcmp(e->dtype, "F32") == 0 && e->ndim == in->ndim + 1 && e->shape[0] == rows;
        for (int j = 0; same && j < in->ndim; j++) same = e->shape[j + 1] == in->shape[j];
        SK_FAIL_IF(!same, SK_EINVAL, "condense.resume_from %s: '%s' of %s is not F32 [%lld, <the input's shape>]",
                   c->resume_from, names[i], path, (long long)rows);
        SK_TRY(sk_safetensors_read(st, e, buf + (size_t)i * per, per * sizeof *buf));
    }
    *state = buf;
    *iterations = n;
    buf = NULL;
done:
    free(buf);
    free(keys);
    sk_safetensors_free(st);
    return rc;
}
