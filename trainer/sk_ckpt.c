/* sk_ckpt.c - checkpoint directories (see sk_ckpt.h). */
#include "sk_ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sk_fs.h"
#include "sk_safetensors.h"

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
            if (!o2) { closedir(d); return sk_error_set(SK_ENOMEM, "%s: out of memory", root); }
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

int sk_ckpt_save(const char *root, const sk_params *p, sk_adamw *opt, const sk_ckpt_state *st, int keep_last)
{
    int rc = SK_OK;
    char tmp[4096], fin[4096], path[8192];
    const char **names2 = NULL;
    sk_tensor **t2 = NULL;
    int64_t *steps = NULL;
    int nsteps = 0;
    char *js = NULL;
    size_t jn = 0;
    FILE *ms = NULL;
    SK_TRY(sk_fs_mkdir_p(root));
    snprintf(tmp, sizeof tmp, "%s/tmp-step-%08lld", root, (long long)st->step);
    snprintf(fin, sizeof fin, "%s/step-%08lld", root, (long long)st->step);
    rmtree_(tmp);
    SK_TRY(sk_fs_mkdir_p(tmp));
    snprintf(path, sizeof path, "%s/model.safetensors", tmp);
    char stepbuf[32];
    snprintf(stepbuf, sizeof stepbuf, "%lld", (long long)st->step);
    const char *meta[4] = {"format", "pt", "step", stepbuf};
    SK_TRY(sk_safetensors_write(path, (const char *const *)p->names, p->t, p->n, meta, 2));
    /* Optimizer moments. */
    SK_TRY(moments_(opt, p, &names2, &t2));
    char ostep[32];
    snprintf(ostep, sizeof ostep, "%lld", (long long)sk_adamw_step_count(opt));
    const char *ometa[2] = {"adamw_step", ostep};
    snprintf(path, sizeof path, "%s/optim.safetensors", tmp);
    SK_TRY(sk_safetensors_write(path, names2, t2, NSTATE_ * p->n, ometa, 1));
    /* state.json */
    ms = open_memstream(&js, &jn);
    SK_FAIL_IF(!ms, SK_ENOMEM, "checkpoint: out of memory");
    fprintf(ms, "{\n  \"step\": %lld,\n  \"world\": %d,\n  \"seed\": %llu,\n", (long long)st->step, st->world,
            (unsigned long long)st->seed);
    fprintf(ms, "  \"loader_epoch\": %lld,\n  \"loader_step\": %lld,\n", (long long)st->loader_epoch,
            (long long)st->loader_step);
    fprintf(ms, "  \"tokens\": %.17g,\n  \"tokens_kept\": %.17g,\n  \"rng\": \"", st->tokens, st->tokens_kept);
    for (size_t i = 0; i < st->rng_len; i++) fprintf(ms, "%02x", st->rng[i]);
    fprintf(ms, "\",\n  \"config\": %s\n}\n", st->config[0] ? st->config : "{}");
    int closed = fclose(ms);
    ms = NULL; /* closed even when fclose fails: never closed twice at done */
    SK_FAIL_IF(closed != 0, SK_ENOMEM, "checkpoint: out of memory");
    snprintf(path, sizeof path, "%s/state.json", tmp);
    {
        const void *part = js;
        SK_TRY(sk_fs_write_atomic(path, &part, &jn, 1));
    }
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
    moments_free_(p, names2, t2);
    free(steps);
    if (ms) fclose(ms);
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

static int json_num_(const char *js, const char *key, double *v)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(js, pat);
    if (!p) return -1;
    *v = strtod(p + strlen(pat), NULL);
    return 0;
}

int sk_ckpt_load(const char *ckdir, sk_params *p, sk_adamw *opt, sk_ckpt_state *st)
{
    int rc = SK_OK;
    char path[8192];
    char *js = NULL;
    const char **names2 = NULL;
    sk_tensor **t2 = NULL;
    FILE *f = NULL;
    memset(st, 0, sizeof *st);
    snprintf(path, sizeof path, "%s/state.json", ckdir);
    f = fopen(path, "rb");
    SK_FAIL_IF(!f, SK_EIO, "%s: cannot open: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    js = malloc((size_t)len + 1);
    SK_FAIL_IF(!js, SK_ENOMEM, "%s: out of memory", path);
    SK_FAIL_IF(fread(js, 1, (size_t)len, f) != (size_t)len, SK_EIO, "%s: read failed", path);
    js[len] = 0;
    double v[7];
    static const char *const keys[7] = {"step", "world", "seed", "loader_epoch", "loader_step", "tokens", "tokens_kept"};
    for (int i = 0; i < 7; i++)
        SK_FAIL_IF(json_num_(js, keys[i], &v[i]) < 0, SK_ECORRUPT, "%s: missing \"%s\"", path, keys[i]);
    st->step = (int64_t)v[0];
    st->world = (int)v[1];
    /* The seed may exceed double precision: parse it as an integer. */
    const char *sp = strstr(js, "\"seed\":");
    st->seed = strtoull(sp + 7, NULL, 10);
    st->loader_epoch = (int64_t)v[3];
    st->loader_step = (int64_t)v[4];
    st->tokens = v[5];
    st->tokens_kept = v[6];
    const char *r = strstr(js, "\"rng\": \"");
    SK_FAIL_IF(!r, SK_ECORRUPT, "%s: missing \"rng\"", path);
    r += 8;
    while (st->rng_len < sizeof st->rng && r[0] != '"' && r[1]) {
        unsigned x;
        SK_FAIL_IF(sscanf(r, "%2x", &x) != 1, SK_ECORRUPT, "%s: bad \"rng\"", path);
        st->rng[st->rng_len++] = (unsigned char)x;
        r += 2;
    }
    const char *c = strstr(js, "\"config\": ");
    if (c) {
        snprintf(st->config, sizeof st->config, "%s", c + 10);
        char *end = strrchr(st->config, '}'); /* drop the closing brace of state.json */
        if (end) *end = 0;
        end = strrchr(st->config, '}');
        if (end) end[1] = 0;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", ckdir);
    SK_TRY(sk_safetensors_read(path, (const char *const *)p->names, p->t, p->n));
    if (opt) {
        SK_TRY(moments_(opt, p, &names2, &t2));
        snprintf(path, sizeof path, "%s/optim.safetensors", ckdir);
        SK_TRY(sk_safetensors_read(path, names2, t2, NSTATE_ * p->n));
        SK_TRY(steps_load_(opt, p, t2));
        SK_TRY(sk_adamw_set_step_count(opt, st->step));
    }
done:
    if (f) fclose(f);
    moments_free_(p, names2, t2);
    free(js);
    return rc;
}
