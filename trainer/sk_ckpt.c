/* sk_ckpt.c - checkpoint directories (see sk_ckpt.h). */
#include "sk_ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sk_ckpt_manifest.h"
#include "sk_fs.h"
#include "sk_log.h"
#include "sk_safetensors.h"
#include "sk_weights.h"

/* The files of a checkpoint, all listed in its MANIFEST. */
static const char *const files_[] = {"model.safetensors", "optim.safetensors", "state.json"};
#define NFILES_ ((int)(sizeof files_ / sizeof *files_))

static int rmtree_(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    return rmdir(dir);
}

static int cmp_i64_(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sorted step numbers of root/step-* directories; caller frees. */
static int list_steps_(const char *root, int64_t **out, int *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(root);
    if (!d) return SK_OK;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        long long s;
        char tail;
        if (sscanf(e->d_name, "step-%lld%c", &s, &tail) != 1) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *o2 = realloc(*out, (size_t)cap * sizeof *o2);
            if (!o2) {
                closedir(d);
                return sk_error_set(SK_ENOMEM, "%s: out of memory", root);
            }
            *out = o2;
        }
        (*out)[(*n)++] = s;
    }
    closedir(d);
    if (*n) qsort(*out, (size_t)*n, sizeof **out, cmp_i64_);
    return SK_OK;
}

/* The AdamW state of every parameter as safetensors entries
 * "<name>.exp_avg" / "<name>.exp_avg_sq" (tensors borrowed from the
 * optimizer) and "<name>.step" (I64 [1], its own step count, torch's
 * state['step']; a tensor made here holding the optimizer's count, read
 * back by steps_load_), names allocated: the same list for save and load.
 * The caller frees the lists with moments_free_ even on failure. */
#define NSTATE_ 3
static int moments_(sk_adamw *opt, const sk_params *p, const char ***names, sk_tensor ***ts)
{
    int rc = SK_OK;
    const char **n2 = *names = calloc((size_t)(NSTATE_ * p->n), sizeof *n2);
    sk_tensor **t2 = *ts = calloc((size_t)(NSTATE_ * p->n), sizeof *t2);
    SK_FAIL_IF(!n2 || !t2, SK_ENOMEM, "checkpoint: out of memory");
    for (int i = 0; i < p->n; i++) {
        static const char *const suffix[NSTATE_] = {"exp_avg", "exp_avg_sq", "step"};
        char nm[300];
        SK_TRY(sk_adamw_state(opt, i, &t2[NSTATE_ * i], &t2[NSTATE_ * i + 1]));
        int64_t st = sk_adamw_param_step(opt, i);
        t2[NSTATE_ * i + 2] = sk_shim_keep(sk_shim_from_host(&st, (int64_t[]){1}, 1, SK_I64, SK_CPU));
        SK_FAIL_IF(!t2[NSTATE_ * i + 2], sk_error_last_code(), "checkpoint: %s", sk_error_last());
        for (int j = 0; j < NSTATE_; j++) {
            snprintf(nm, sizeof nm, "%s.%s", p->names[i], suffix[j]);
            SK_FAIL_IF(!(n2[NSTATE_ * i + j] = strdup(nm)), SK_ENOMEM, "checkpoint: out of memory");
        }
    }
done:
    return rc;
}

/* state.json: the counters, the RNG state as lowercase hex and the run
 * config (JSON text from the trainer) as a nested object; *out is the
 * document (caller frees). */
static int state_dump_(const char *path, const sk_ckpt_state *st, char **out)
{
    int rc = SK_OK;
    json_error_t err;
    json_t *cfg = NULL, *root = NULL;
    char *hex = malloc(2 * st->rng_len + 1);
    SK_FAIL_IF(!hex, SK_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < st->rng_len; i++) snprintf(hex + 2 * i, 3, "%02x", st->rng[i]);
    hex[2 * st->rng_len] = '\0';
    cfg = json_loads(st->config[0] ? st->config : "{}", 0, &err);
    SK_FAIL_IF(!json_is_object(cfg), SK_EINVAL, "%s: the run config is not a JSON object: %s", path, err.text);
    root = json_pack("{s:I, s:i, s:I, s:I, s:I, s:f, s:f, s:s, s:o}", "step", (json_int_t)st->step, "world", st->world,
                     "seed", (json_int_t)st->seed, "loader_epoch", (json_int_t)st->loader_epoch, "loader_step",
                     (json_int_t)st->loader_step, "tokens", st->tokens, "tokens_kept", st->tokens_kept, "rng", hex,
                     "config", cfg);
    cfg = NULL; /* json_pack's "o" took it, even on failure */
    SK_FAIL_IF(!root || !(*out = json_dumps(root, JSON_INDENT(2))), SK_ENOMEM,
               "%s: cannot build the document (out of memory or a non-finite token counter)", path);
done:
    json_decref(cfg);
    json_decref(root);
    free(hex);
    return rc;
}

/* An integer member key of state.json, within [lo, hi]. */
static int state_int_(const char *path, const json_t *root, const char *key, int64_t lo, int64_t hi, int64_t *v)
{
    int rc = SK_OK;
    const json_t *x = json_object_get(root, key);
    SK_FAIL_IF(!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi, SK_ECORRUPT,
               "%s: \"%s\" is missing or not an integer in [%lld, %lld]", path, key, (long long)lo, (long long)hi);
    *v = (int64_t)json_integer_value(x);
done:
    return rc;
}

static int state_num_(const char *path, const json_t *root, const char *key, double *v)
{
    int rc = SK_OK;
    const json_t *x = json_object_get(root, key);
    SK_FAIL_IF(!json_is_number(x) || json_number_value(x) < 0, SK_ECORRUPT,
               "%s: \"%s\" is missing or not a non-negative number", path, key);
    *v = json_number_value(x);
done:
    return rc;
}

static int hexv_(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static int state_rng_(const char *path, const json_t *root, sk_ckpt_state *st)
{
    int rc = SK_OK;
    const char *r = json_string_value(json_object_get(root, "rng"));
    size_t n = r ? strlen(r) : 0;
    SK_FAIL_IF(!r || n % 2 || n / 2 > sizeof st->rng, SK_ECORRUPT,
               "%s: \"rng\" is missing or not a hex string of at most %zu bytes", path, sizeof st->rng);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexv_(r[2 * i]), lo = hexv_(r[2 * i + 1]);
        SK_FAIL_IF(hi < 0 || lo < 0, SK_ECORRUPT, "%s: \"rng\" has a non-hex digit at %zu", path, 2 * i);
        st->rng[i] = (unsigned char)(hi << 4 | lo);
    }
    st->rng_len = n / 2;
done:
    return rc;
}

/* Parse the state.json at path into st (every key required). */
static int state_load_(const char *path, sk_ckpt_state *st)
{
    int rc = SK_OK;
    json_error_t err;
    char *cfg = NULL;
    int64_t world = 0, seed = 0;
    json_t *root = json_load_file(path, 0, &err);
    SK_FAIL_IF(!root && json_error_code(&err) == json_error_cannot_open_file, SK_EIO, "%s: cannot open: %s", path,
               err.text);
    SK_FAIL_IF(!json_is_object(root), SK_ECORRUPT, "%s: not a JSON object: %s (line %d, column %d)", path,
               root ? "" : err.text, err.line, err.column);
    SK_TRY(state_int_(path, root, "step", 0, INT64_MAX, &st->step));
    SK_TRY(state_int_(path, root, "world", 1, INT32_MAX, &world));
    SK_TRY(state_int_(path, root, "seed", 0, INT64_MAX, &seed));
    SK_TRY(state_int_(path, root, "loader_epoch", 0, INT64_MAX, &st->loader_epoch));
    SK_TRY(state_int_(path, root, "loader_step", 0, INT64_MAX, &st->loader_step));
    SK_TRY(state_num_(path, root, "tokens", &st->tokens));
    SK_TRY(state_num_(path, root, "tokens_kept", &st->tokens_kept));
    SK_TRY(state_rng_(path, root, st));
    st->world = (int)world;
    st->seed = (uint64_t)seed;
    const json_t *c = json_object_get(root, "config");
    SK_FAIL_IF(!json_is_object(c), SK_ECORRUPT, "%s: \"config\" is missing or not an object", path);
    cfg = json_dumps(c, JSON_COMPACT);
    SK_FAIL_IF(!cfg, SK_ENOMEM, "%s: out of memory", path);
    SK_FAIL_IF(strlen(cfg) >= sizeof st->config, SK_ECORRUPT, "%s: \"config\" is longer than %zu bytes", path,
               sizeof st->config - 1);
    memcpy(st->config, cfg, strlen(cfg) + 1);
done:
    free(cfg);
    json_decref(root);
    return rc;
}

int sk_ckpt_state_read(const char *path, sk_ckpt_state *st)
{
    memset(st, 0, sizeof *st);
    return state_load_(path, st);
}

static void moments_free_(const sk_params *p, const char **names, sk_tensor **ts)
{
    for (int i = 0; names && i < NSTATE_ * p->n; i++) free((void *)names[i]);
    for (int i = 0; ts && i < p->n; i++) sk_tensor_free(ts[NSTATE_ * i + 2]); /* the step tensors made here */
    free(names);
    free(ts);
}

/* The per-parameter step counts read into the "<name>.step" tensors. */
static int steps_load_(sk_adamw *opt, const sk_params *p, sk_tensor **ts)
{
    for (int i = 0; i < p->n; i++) {
        int64_t st = 0;
        int rc = sk_shim_to_host(ts[NSTATE_ * i + 2], &st, sizeof st);
        if (rc < 0) return rc;
        rc = sk_adamw_set_param_step(opt, i, st);
        if (rc < 0) return sk_error_prefix("checkpoint: %s.step: ", p->names[i]);
    }
    return SK_OK;
}

/* The SGD momentum buffers as entries "<name>.momentum_buffer" (tensors
 * borrowed from the optimizer): with st == NULL (saving) those of the
 * params that have one, else (loading) those the file st holds, each then
 * created in the optimizer to be read into. Names allocated; the caller
 * frees them with buffers_free_ even on failure. */
static int buffers_(sk_sgd *opt, const sk_params *p, const sk_safetensors *st, const char ***names, sk_tensor ***ts,
                    int *n)
{
    int rc = SK_OK;
    const char **n2 = *names = calloc((size_t)p->n + 1, sizeof *n2);
    sk_tensor **t2 = *ts = calloc((size_t)p->n + 1, sizeof *t2);
    *n = 0;
    SK_FAIL_IF(!n2 || !t2, SK_ENOMEM, "checkpoint: out of memory");
    for (int i = 0; i < p->n; i++) {
        char nm[300];
        snprintf(nm, sizeof nm, "%s.momentum_buffer", p->names[i]);
        if (st ? !sk_safetensors_find(st, nm) : !sk_sgd_has_buffer(opt, i)) continue;
        rc = sk_sgd_momentum_buffer(opt, i, &t2[*n]);
        if (rc < 0) {
            sk_error_prefix("checkpoint: %s: ", nm);
            goto done;
        }
        SK_FAIL_IF(!(n2[*n] = strdup(nm)), SK_ENOMEM, "checkpoint: out of memory");
        ++*n;
    }
done:
    return rc;
}

static void buffers_free_(const char **names, sk_tensor **ts, int n)
{
    for (int i = 0; names && i < n; i++) free((void *)names[i]);
    free(names);
    free(ts);
}

static const char *optim_name_(const sk_ckpt_optim *o) { return o->sgd ? "sgd" : "adamw"; }

/* optim.safetensors for opt. */
static int optim_save_(const char *path, const sk_params *p, const sk_ckpt_optim *opt)
{
    int rc = SK_OK;
    const char **names2 = NULL;
    sk_tensor **t2 = NULL;
    int n = 0;
    SK_FAIL_IF(!opt || !opt->adamw == !opt->sgd, SK_EINVAL, "checkpoint: exactly one optimizer must be given");
    if (opt->sgd) {
        const char *meta[2] = {"optimizer", "sgd"};
        SK_TRY(buffers_(opt->sgd, p, NULL, &names2, &t2, &n));
        rc = sk_weights_write(path, names2, t2, n, meta, 1);
        goto done;
    }
    char ostep[32];
    snprintf(ostep, sizeof ostep, "%lld", (long long)sk_adamw_step_count(opt->adamw));
    const char *ometa[4] = {"optimizer", "adamw", "adamw_step", ostep};
    SK_TRY(moments_(opt->adamw, p, &names2, &t2));
    rc = sk_weights_write(path, names2, t2, NSTATE_ * p->n, ometa, 2);
done:
    if (opt && opt->sgd)
        buffers_free_(names2, t2, n);
    else
        moments_free_(p, names2, t2);
    return rc;
}

/* optim.safetensors into opt, after checking it holds that optimizer. */
static int optim_load_(const char *path, const sk_params *p, const sk_ckpt_optim *opt, int64_t step)
{
    int rc = SK_OK;
    const char **names2 = NULL;
    sk_tensor **t2 = NULL;
    int n = 0;
    sk_safetensors *st = NULL;
    SK_FAIL_IF(!opt->adamw == !opt->sgd, SK_EINVAL, "checkpoint: exactly one optimizer must be given");
    SK_TRY(sk_safetensors_open(&st, path));
    const char *was = sk_safetensors_meta(st, "optimizer");
    if (!was) was = "adamw"; /* written before the optimizer was recorded */
    SK_FAIL_IF(strcmp(was, optim_name_(opt)), SK_EINVAL,
               "%s: the checkpoint holds %s state, this run's train.optimizer is %s", path, was, optim_name_(opt));
    if (opt->sgd) {
        SK_TRY(buffers_(opt->sgd, p, st, &names2, &t2, &n));
        SK_TRY(sk_weights_read(path, names2, t2, n));
        goto done;
    }
    SK_TRY(moments_(opt->adamw, p, &names2, &t2));
    SK_TRY(sk_weights_read(path, names2, t2, NSTATE_ * p->n));
    SK_TRY(steps_load_(opt->adamw, p, t2));
    SK_TRY(sk_adamw_set_step_count(opt->adamw, step));
done:
    sk_safetensors_free(st);
    if (opt->sgd)
        buffers_free_(names2, t2, n);
    else
        moments_free_(p, names2, t2);
    return rc;
}

int sk_ckpt_save(const char *root, const sk_params *p, const sk_params *buf, const sk_ckpt_optim *opt,
                 const sk_ckpt_state *st, int keep_last)
{
    int rc = SK_OK;
    sk_params pb = {0};
    char tmp[4096], fin[4096], path[8192];
    int64_t *steps = NULL;
    int nsteps = 0;
    char *js = NULL;
    SK_TRY(sk_fs_mkdir_p(root));
    snprintf(tmp, sizeof tmp, "%s/tmp-step-%08lld", root, (long long)st->step);
    snprintf(fin, sizeof fin, "%s/step-%08lld", root, (long long)st->step);
    rmtree_(tmp);
    SK_TRY(sk_fs_mkdir_p(tmp));
    snprintf(path, sizeof path, "%s/model.safetensors", tmp);
    char stepbuf[32];
    snprintf(stepbuf, sizeof stepbuf, "%lld", (long long)st->step);
    const char *meta[4] = {"format", "pt", "step", stepbuf};
    SK_TRY(sk_params_join(&pb, p, buf));
    SK_TRY(sk_weights_write(path, (const char *const *)pb.names, pb.t, pb.n, meta, 2));
    snprintf(path, sizeof path, "%s/optim.safetensors", tmp);
    SK_TRY(optim_save_(path, p, opt));
    snprintf(path, sizeof path, "%s/state.json", tmp);
    SK_TRY(state_dump_(path, st, &js));
    {
        const void *part = js;
        size_t jn = strlen(js);
        SK_TRY(sk_fs_write_atomic(path, &part, &jn, 1));
    }
    SK_TRY(sk_ckpt_manifest_write(tmp, files_, NFILES_)); /* last: its presence means complete */
    rmtree_(fin);
    SK_FAIL_IF(rename(tmp, fin) != 0, SK_EIO, "%s: rename failed: %s", fin, strerror(errno));
    /* keep-last-k */
    if (keep_last > 0) {
        SK_TRY(list_steps_(root, &steps, &nsteps));
        for (int i = 0; i + keep_last < nsteps; i++) {
            snprintf(path, sizeof path, "%s/step-%08lld", root, (long long)steps[i]);
            rmtree_(path);
        }
    }
done:
    sk_params_view_free(&pb);
    free(steps);
    free(js);
    return rc;
}

int sk_ckpt_latest(const char *dir, char *out, size_t cap)
{
    int rc = SK_OK;
    int64_t *steps = NULL;
    int n = 0;
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/state.json", dir);
    if (stat(p, &sb) == 0) {
        snprintf(out, cap, "%s", dir);
        return SK_OK;
    }
    SK_FAIL_IF(stat(dir, &sb) != 0, SK_ENOTFOUND, "--resume %s: no such directory", dir);
    SK_TRY(list_steps_(dir, &steps, &n));
    SK_FAIL_IF(n == 0, SK_ENOTFOUND, "--resume %s: no checkpoint (no state.json, no step-* directory)", dir);
    snprintf(out, cap, "%s/step-%08lld", dir, (long long)steps[n - 1]);
done:
    free(steps);
    return rc;
}

int sk_ckpt_load(const char *ckdir, sk_params *p, sk_params *buf, const sk_ckpt_optim *opt, sk_ckpt_state *st)
{
    int rc = SK_OK;
    char path[8192];
    memset(st, 0, sizeof *st);
    snprintf(path, sizeof path, "%s/state.json", ckdir);
    SK_TRY(state_load_(path, st));
    snprintf(path, sizeof path, "%s/model.safetensors", ckdir);
    SK_TRY(sk_weights_read(path, (const char *const *)p->names, p->t, p->n));
    if (buf && buf->n) SK_TRY(sk_weights_read(path, (const char *const *)buf->names, buf->t, buf->n));
    if (opt) {
        snprintf(path, sizeof path, "%s/optim.safetensors", ckdir);
        SK_TRY(optim_load_(path, p, opt, st->step));
    }
done:
    return rc;
}

int sk_ckpt_verify(const char *ckdir) { return sk_ckpt_manifest_check(ckdir, files_, NFILES_); }

int sk_ckpt_latest_valid(const char *dir, char *out, size_t cap)
{
    int rc = SK_OK;
    int64_t *steps = NULL;
    int n = 0;
    char p[4096], first_err[1024] = "";
    struct stat sb;
    snprintf(p, sizeof p, "%s/state.json", dir);
    if (stat(p, &sb) == 0) { /* one checkpoint named: nothing to fall back to */
        snprintf(out, cap, "%s", dir);
        return sk_ckpt_verify(dir);
    }
    SK_FAIL_IF(stat(dir, &sb) != 0, SK_ENOTFOUND, "--resume %s: no such directory", dir);
    SK_TRY(list_steps_(dir, &steps, &n));
    SK_FAIL_IF(n == 0, SK_ENOTFOUND, "--resume %s: no checkpoint (no state.json, no step-* directory)", dir);
    for (int i = n - 1; i >= 0; i--) {
        snprintf(out, cap, "%s/step-%08lld", dir, (long long)steps[i]);
        if (sk_ckpt_verify(out) == SK_OK) {
            if (i < n - 1) SK_LOG_WARN("--resume-latest-valid: resuming from %s, an older checkpoint", out);
            goto done;
        }
        if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", sk_error_last());
        SK_LOG_WARN("--resume-latest-valid: skipping %s: %s", out, sk_error_last());
    }
    rc = sk_error_set(SK_ECORRUPT, "--resume-latest-valid %s: no intact checkpoint among %d (newest: %s)", dir, n,
                      first_err);
done:
    free(steps);
    return rc;
}
