/* sk_train_guard.c - out_dir refusal and SIGINT/SIGTERM at step
 * boundaries (see sk_train_guard.h). The handler only stores the signal
 * number in a sig_atomic_t (the one thing async-signal-safe code may do);
 * the loop asks every rank each step with one max-allreduce, so a signal
 * delivered to any rank (Ctrl-C reaches the whole process group, a
 * scheduler's SIGTERM may reach only some) stops all of them together. */
#include "sk_train_guard.h"
#include "sk_error.h"
#include "sk_mpi.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
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
