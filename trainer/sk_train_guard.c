/* sk_train_guard.c - out_dir refusal and SIGINT/SIGTERM at step
 * boundaries (see sk_train_guard.h). The handler only stores the signal
 * number in a sig_atomic_t (the one thing async-signal-safe code may do);
 * the loop asks every rank each step with one max-allreduce, so a signal
 * delivered to any rank (Ctrl-C reaches the whole process group, a
 * scheduler's SIGTERM may reach only some) stops all of them together. */
#include "sk_train_guard.h"
#include "sk_error.h"
#include "sk_log.h"
#include "sk_mpi.h"

#include <jansson.h>
#include <stdio.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

int sk_train_guard_out_dir(const char *dir, int resuming, int overwrite)
{
    int rc = SK_OK;
    if (sk_mpi_info_get()->rank == 0 && !resuming && !overwrite) {
        DIR *d = opendir(dir);
        if (d) {
            struct dirent *e;
            const char *first = NULL;
            while (!first && (e = readdir(d)) != NULL)
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) first = e->d_name;
            if (first)
                rc = sk_error_set(SK_EEXISTS,
                                  "run.out_dir = %s: not empty (holds '%s'): an earlier run's outputs would be "
                                  "replaced; choose another run.out_dir, continue it with --resume %s/ckpt, or set "
                                  "run.overwrite=true",
                                  dir, first, dir);
            closedir(d);
        } else if (errno != ENOENT) {
            rc = sk_error_set(errno == ENOTDIR ? SK_EEXISTS : SK_EIO, "run.out_dir = %s: %s", dir,
                              errno == ENOTDIR ? "exists and is not a directory" : strerror(errno));
        }
    }
    return sk_mpi_agree(rc);
}

/* A JSON value as short text for a message. */
static void value_text_(const json_t *v, char *buf, size_t cap)
{
    if (!v) {
        snprintf(buf, cap, "(absent)");
        return;
    }
    char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(10));
    snprintf(buf, cap, "%s", t ? t : "?");
    free(t);
}

static int shape_key_(const char *sec, const char *key, int lm)
{
    return !strcmp(sec, "model") || (lm && !strcmp(sec, "data") && !strcmp(key, "seq_len"));
}

/* One side's keys against the other's; `reverse` reports keys only in the
 * checkpoint. Appends refusals to bad (len *bl). */
static void diff_side_(const json_t *a, const json_t *b, int reverse, int lm, char *bad, size_t cap, size_t *bl,
                       int *nbad)
{
    const char *sec;
    const json_t *sa;
    json_object_foreach((json_t *)a, sec, sa) {
        const json_t *sb = json_object_get(b, sec);
        const char *key;
        const json_t *va;
        if (!json_is_object(sa)) continue;
        json_object_foreach((json_t *)sa, key, va) {
            const json_t *vb = json_is_object(sb) ? json_object_get(sb, key) : NULL;
            if (reverse && vb) continue; /* seen from the other side */
            if (vb && json_equal(va, vb)) continue;
            char was[128], now[128];
            value_text_(reverse ? va : vb, was, sizeof was);
            value_text_(reverse ? vb : va, now, sizeof now);
            if (shape_key_(sec, key, lm)) {
                if (*bl < cap)
                    *bl += (size_t)snprintf(bad + *bl, cap - *bl, "%s%s.%s: checkpoint %s, this run %s",
                                            *nbad ? "; " : "", sec, key, was, now);
                ++*nbad;
            } else {
                SK_LOG_WARN("resuming with %s.%s = %s (the checkpoint was trained with %s)", sec, key, now, was);
            }
        }
    }
}

int sk_train_guard_config_diff(const char *ckdir, const char *now, int lm)
{
    int rc = SK_OK;
    char path[4200], bad[2048] = "";
    size_t bl = 0;
    int nbad = 0;
    json_error_t err;
    json_t *st = NULL, *cur = NULL;
    snprintf(path, sizeof path, "%s/state.json", ckdir);
    st = json_load_file(path, 0, &err);
    SK_FAIL_IF(!st, SK_ECORRUPT, "%s: malformed JSON: %s (line %d, column %d)", path, err.text, err.line,
               err.column);
    const json_t *old = json_object_get(st, "config");
    SK_FAIL_IF(!json_is_object(old), SK_ECORRUPT, "%s: \"config\" is missing or not an object", path);
    cur = json_loads(now, 0, &err);
    SK_FAIL_IF(!json_is_object(cur), SK_EINVAL, "train: this run's config JSON: %s", err.text);
    diff_side_(cur, old, 0, lm, bad, sizeof bad, &bl, &nbad);
    diff_side_(old, cur, 1, lm, bad, sizeof bad, &bl, &nbad);
    SK_FAIL_IF(nbad, SK_EINVAL,
               "--resume %s: %d key(s) that shape the model differ from the checkpoint's: %s (resume with the "
               "checkpoint's values, or start a new run)",
               ckdir, nbad, bad);
done:
    json_decref(st);
    json_decref(cur);
    return rc;
}

static volatile sig_atomic_t caught_ = 0;
static struct sigaction old_int_, old_term_;
static int installed_ = 0;

static void on_signal_(int sig) { caught_ = sig; }

void sk_train_guard_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal_;
    sigemptyset(&sa.sa_mask);
    caught_ = 0;
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
    installed_ = 1;
}

void sk_train_guard_signals_restore(void)
{
    if (!installed_) return;
    sigaction(SIGINT, &old_int_, NULL);
    sigaction(SIGTERM, &old_term_, NULL);
    installed_ = 0;
}

int sk_train_guard_stop_requested(void)
{
    double v = (double)caught_;
    int rc = sk_mpi_allreduce_max(&v, 1);
    return rc < 0 ? rc : (int)v;
}
