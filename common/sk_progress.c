/* sk_progress.c - progress bar / periodic lines (see sk_progress.h). */
#include "sk_progress.h"
#include "sk_error.h"
#include "sk_log.h"
#include "sk_time.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sk_progress {
    char label[32];
    int64_t total, every, last_printed;
    int bar;    /* 1: redraw with \r; 0: lines */
    int silent; /* this rank / level prints nothing */
    int finished;
    int drawn; /* a bar is on screen without its newline */
    FILE *out;
    double t0, last_draw;
    int64_t last_done;
};

static int rank_ = 0, all_ranks_ = 0;

void sk_progress_set_rank(int rank, int all_ranks)
{
    rank_ = rank;
    all_ranks_ = all_ranks;
}

int sk_progress_create(sk_progress **out, const sk_progress_opts *opts)
{
    sk_progress_opts o = {0};
    if (opts) o = *opts;
    sk_progress *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p) return sk_error_set(SK_ENOMEM, "progress: out of memory");
    snprintf(p->label, sizeof p->label, "%s", o.label ? o.label : "step");
    p->total = o.total > 0 ? o.total : 0;
    p->every = o.every > 0 ? o.every : 10;
    p->out = o.out ? o.out : stderr;
    p->bar = o.mode == SK_PROGRESS_BAR || (o.mode == SK_PROGRESS_AUTO && isatty(fileno(p->out)));
    p->silent = (rank_ != 0 && !all_ranks_) || sk_log_get_level() < SK_LOG_LEVEL_INFO;
    p->t0 = sk_now();
    p->last_draw = -1.0;
    p->last_printed = -1;
    *out = p;
    return SK_OK;
}

/* "13s", "2m05s", "1h02m". */
static void fmt_secs_(char *buf, size_t n, double s)
{
    if (s < 0) s = 0;
    long t = (long)(s + 0.5);
    if (t < 60)
        snprintf(buf, n, "%lds", t);
    else if (t < 3600)
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, n, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
}

/* "40/200 (20%) 12.3 it/s eta 13s" (no total: "40 12.3 it/s"). */
static void fmt_status_(const sk_progress *p, char *buf, size_t n, int64_t done, double now, int final)
{
    double el = now - p->t0;
    double rate = el > 0 ? (double)done / el : 0.0;
    char eta[32] = "?";
    size_t len;
    if (p->total) {
        len = (size_t)snprintf(buf, n, "%lld/%lld (%d%%)", (long long)done, (long long)p->total,
                               (int)(100.0 * (double)done / (double)p->total));
    } else {
        len = (size_t)snprintf(buf, n, "%lld", (long long)done);
    }
    if (len >= n) return;
    if (rate > 0) len += (size_t)snprintf(buf + len, n - len, " %.3g it/s", rate);
    if (len >= n) return;
    if (final) {
        fmt_secs_(eta, sizeof eta, el);
        snprintf(buf + len, n - len, " in %s", eta);
    } else if (p->total && rate > 0) {
        fmt_secs_(eta, sizeof eta, (double)(p->total - done) / rate);
        snprintf(buf + len, n - len, " eta %s", eta);
    }
}

static void draw_(sk_progress *p, int64_t done, const char *extra, double now, int final)
{
    char status[160];
    fmt_status_(p, status, sizeof status, done, now, final);
    if (p->bar) {
        char bar[32];
        int w = 24, fill = p->total ? (int)((double)w * (double)done / (double)p->total) : 0;
        if (fill > w) fill = w;
        for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
        bar[w] = '\0';
        /* \033[K clears what a longer previous line left behind. */
        fprintf(p->out, "\r%s [%s] %s%s%s\033[K%s", p->label, bar, status, extra && *extra ? " " : "",
                extra ? extra : "", final ? "\n" : "");
        p->drawn = !final;
    } else {
        fprintf(p->out, "%s %s%s%s\n", p->label, status, extra && *extra ? " " : "", extra ? extra : "");
    }
    fflush(p->out);
    p->last_draw = now;
    p->last_printed = done;
}

void sk_progress_update(sk_progress *p, int64_t done, const char *extra)
{
    if (!p || p->silent || p->finished) return;
    p->last_done = done;
    if (p->bar) {
        double now = sk_now();
        if (p->last_draw >= 0 && now - p->last_draw < 0.1) return;
        draw_(p, done, extra, now, 0);
    } else if (done % p->every == 0 && done != p->last_printed) {
        draw_(p, done, extra, sk_now(), 0);
    }
}

void sk_progress_finish(sk_progress *p, const char *extra)
{
    if (!p || p->finished) return;
    p->finished = 1;
    if (p->silent) return;
    draw_(p, p->last_done, extra, sk_now(), 1); /* "... in 16s" */
}

void sk_progress_free(sk_progress *p) { free(p); }
