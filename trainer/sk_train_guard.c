/* sk_train_guard.c - out_dir refusal and stop signals at step
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
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Keys a resume cannot change: the model's (tensor shapes), an LM's
 * window, the ones that decide which state tensors a checkpoint holds
 * (infobatch's per-sample scores, the forgetting counts) and, when either
 * side trains a scorer network (`learned`, whose weights are in the
 * checkpoint, one per select.layers entry), the scorer and its layers. */
static int shape_key_(const char *sec, const char *key, int lm, int learned)
{
    return !strcmp(sec, "model") ||
           (!strcmp(sec, "data") && ((lm && !strcmp(key, "seq_len")) || !strcmp(key, "prune"))) ||
           (!strcmp(sec, "train") && !strcmp(key, "record_forgetting")) ||
           (learned && !strcmp(sec, "select") && (!strcmp(key, "scorer") || !strcmp(key, "layers")));
}

/* 1 when config `c` trains a scorer network (select.scorer = learned). */
static int learned_(const json_t *c)
{
    const char *s = json_string_value(json_object_get(json_object_get(c, "select"), "scorer"));
    return s && !strcmp(s, "learned");
}

/* An "off" value (none, false, 0, ""): what a key a checkpoint predates
 * (written before shrink stored it) was in effect. */
static int off_value_(const json_t *v)
{
    return json_is_false(v) ||
           (json_is_string(v) && (!*json_string_value(v) || !strcmp(json_string_value(v), "none"))) ||
           (json_is_number(v) && json_number_value(v) == 0);
}

/* One side's keys against the other's; `reverse` reports keys only in the
 * checkpoint. Appends refusals to bad (len *bl). */
static void diff_side_(const json_t *a, const json_t *b, int reverse, int lm, int learned, char *bad, size_t cap,
                       size_t *bl, int *nbad)
{
    const char *sec;
    const json_t *sa;
    json_object_foreach((json_t *)a, sec, sa)
    {
        const json_t *sb = json_object_get(b, sec);
        const char *key;
        const json_t *va;
        if (!json_is_object(sa)) continue;
        json_object_foreach((json_t *)sa, key, va)
        {
            const json_t *vb = json_is_object(sb) ? json_object_get(sb, key) : NULL;
            if (reverse && vb) continue; /* seen from the other side */
            if (vb && json_equal(va, vb)) continue;
            if (!vb && !reverse && off_value_(va) && strcmp(sec, "model")) continue; /* an older checkpoint's */
            char was[640], now[640];
            value_text_(reverse ? va : vb, was, sizeof was);
            value_text_(reverse ? vb : va, now, sizeof now);
            if (shape_key_(sec, key, lm, learned)) {
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
    SK_FAIL_IF(!st, SK_ECORRUPT, "%s: malformed JSON: %s (line %d, column %d)", path, err.text, err.line, err.column);
    const json_t *old = json_object_get(st, "config");
    SK_FAIL_IF(!json_is_object(old), SK_ECORRUPT, "%s: \"config\" is missing or not an object", path);
    cur = json_loads(now, 0, &err);
    SK_FAIL_IF(!json_is_object(cur), SK_EINVAL, "train: this run's config JSON: %s", err.text);
    const int learned = learned_(cur) || learned_(old);
    diff_side_(cur, old, 0, lm, learned, bad, sizeof bad, &bl, &nbad);
    diff_side_(old, cur, 1, lm, learned, bad, sizeof bad, &bl, &nbad);
    SK_FAIL_IF(nbad, SK_EINVAL,
               "--resume %s: %d key(s) that shape the model or the checkpoint's state differ from the checkpoint's: "
               "%s (resume with the "
               "checkpoint's values, or start a new run)",
               ckdir, nbad, bad);
done:
    json_decref(st);
    json_decref(cur);
    return rc;
}

/* The stop signals: SIGINT/SIGTERM (Ctrl-C, schedulers, and what mpirun
 * sends its ranks when it is interrupted or a rank died), SIGUSR1/SIGUSR2
 * (which Open MPI's mpirun forwards to every rank as they are, without
 * the SIGKILL it sends one second after a SIGTERM: `kill -USR1 <mpirun
 * pid>` is the clean stop of a whole job; docs/RELIABILITY.md). */
static const int stop_sigs_[] = {SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
#define NSTOP_ (int)(sizeof stop_sigs_ / sizeof stop_sigs_[0])

static volatile sig_atomic_t caught_ = 0;
static struct sigaction old_[NSTOP_];
static int installed_ = 0;
/* Filled before the handler is installed, only read inside it. */
static int rank_ = 0, world_ = 1;
static pid_t parent_ = 0;
static int64_t *peers_ = NULL; /* world_ x {pid, host id} */
static int64_t host_ = 0;

const char *sk_train_guard_signal_name(int sig)
{
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    default: return "a signal";
    }
}

/* Async-signal-safe text building for the handler: no stdio, no malloc. */
static void put_(char *b, size_t *n, size_t cap, const char *s)
{
    while (*s && *n + 1 < cap) b[(*n)++] = *s++;
}

static void put_int_(char *b, size_t *n, size_t cap, long long v)
{
    char t[24];
    int k = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do t[k++] = (char)('0' + u % 10);
    while ((u /= 10) && k < 22);
    if (v < 0) t[k++] = '-';
    while (k && *n + 1 < cap) b[(*n)++] = t[--k];
}

/* 1 when `pid` is gone or a zombie (kill(2) and a read of /proc/PID/stat
 * are both async-signal-safe). The launcher reaps a rank that died before
 * it signals the others, so a dead peer reads as gone. */
static int peer_gone_(pid_t pid)
{
    if (kill(pid, 0) < 0) return errno == ESRCH;
    char path[48], st[256];
    size_t n = 0;
    put_(path, &n, sizeof path, "/proc/");
    put_int_(path, &n, sizeof path, (long long)pid);
    put_(path, &n, sizeof path, "/stat");
    path[n] = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t r = read(fd, st, sizeof st - 1);
    close(fd);
    if (r <= 0) return 0;
    for (ssize_t i = r - 1; i > 0; i--) /* "PID (comm) S ..." */
        if (st[i] == ')') return i + 2 < r && (st[i + 2] == 'Z' || st[i + 2] == 'X');
    return 0;
}

/* The first stop signal says at once, on stderr, who sent it and what
 * happens next: a rank may be stuck in a collective with a dead peer and
 * be SIGKILLed by the launcher before it reaches the step boundary, so
 * this line is the only word it gets out. A SIGTERM from the rank's parent
 * (mpirun/orted) is the launcher's: it means mpirun was interrupted or a
 * rank ended; peers on this host that are already gone are named. */
static void on_signal_(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (caught_) return;
    caught_ = sig;
    int saved = errno;
    char b[1024];
    size_t n = 0, cap = sizeof b;
    /* (in a world of 1 the parent is usually a shell, not a launcher: its pid is printed instead) */
    int launcher = si && si->si_pid != 0 && si->si_pid == parent_ && world_ > 1;
    put_(b, &n, cap, "shrink[");
    put_int_(b, &n, cap, rank_);
    put_(b, &n, cap, "] rank ");
    put_int_(b, &n, cap, rank_);
    put_(b, &n, cap, launcher ? ": stopped by the launcher (" : ": ");
    put_(b, &n, cap, sk_train_guard_signal_name(sig));
    if (!launcher && si && si->si_pid > 0) {
        put_(b, &n, cap, " from pid ");
        put_int_(b, &n, cap, (long long)si->si_pid);
    }
    put_(b, &n, cap, launcher ? ")" : "");
    int dead = 0;
    for (int r = 0; peers_ && r < world_; r++) {
        if (r == rank_ || peers_[2 * r + 1] != host_ || !peer_gone_((pid_t)peers_[2 * r])) continue;
        put_(b, &n, cap, dead++ ? ", rank " : ": rank ");
        put_int_(b, &n, cap, r);
        put_(b, &n, cap, " (pid ");
        put_int_(b, &n, cap, peers_[2 * r]);
        put_(b, &n, cap, ")");
    }
    if (dead)
        put_(b, &n, cap,
             dead > 1 ? " have already ended (killed or crashed): the job cannot go on\n"
                      : " has already ended (killed or crashed): the job cannot go on\n");
    else if (launcher && sig == SIGTERM && world_ > 1)
        put_(b, &n, cap,
             ": another rank ended or mpirun was interrupted (see the launcher's message for which); "
             "stopping after the step in progress to write a checkpoint, unless the launcher's "
             "SIGKILL comes first (kill -USR1 <mpirun pid> stops a job without it)\n");
    else
        put_(b, &n, cap, ": stopping after the step in progress to write a checkpoint\n");
    ssize_t w = write(STDERR_FILENO, b, n);
    (void)w;
    errno = saved;
}

static int64_t host_id_(void)
{
    char h[256] = "";
    gethostname(h, sizeof h - 1);
    uint64_t x = 1469598103934665603ULL; /* FNV-1a: only compared for equality */
    for (const char *p = h; *p; p++) x = (x ^ (unsigned char)*p) * 1099511628211ULL;
    return (int64_t)(x >> 1);
}

int sk_train_guard_signals_install(void)
{
    int rc = SK_OK;
    const sk_mpi_info *mi = sk_mpi_info_get();
    int64_t mine[2];
    rank_ = mi->rank;
    world_ = mi->world;
    parent_ = getppid();
    host_ = host_id_();
    free(peers_);
    peers_ = calloc((size_t)world_ * 2, sizeof *peers_);
    SK_FAIL_IF(!peers_, SK_ENOMEM, "train: out of memory for %d ranks' process ids", world_);
    mine[0] = (int64_t)getpid();
    mine[1] = host_;
    SK_TRY(sk_mpi_allgather_i64(mine, 2, peers_));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal_;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    caught_ = 0;
    for (int i = 0; i < NSTOP_; i++) sigaction(stop_sigs_[i], &sa, &old_[i]);
    installed_ = 1;
done:
    if (rc < 0) {
        free(peers_);
        peers_ = NULL;
    }
    return rc;
}

void sk_train_guard_signals_restore(void)
{
    if (installed_)
        for (int i = 0; i < NSTOP_; i++) sigaction(stop_sigs_[i], &old_[i], NULL);
    installed_ = 0;
    free(peers_);
    peers_ = NULL;
}

int sk_train_guard_stop_requested(void)
{
    double v = (double)caught_;
    int rc = sk_mpi_allreduce_max(&v, 1);
    return rc < 0 ? rc : (int)v;
}
