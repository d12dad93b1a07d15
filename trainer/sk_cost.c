/* sk_cost.c - interleaved timing rounds, their statistics and the peak
 * host RSS of one step (see sk_cost.h). sk_cost_measure, which builds the
 * model and selector of a training config, is in sk_train.c beside the
 * training run's own set-up. */
#define _GNU_SOURCE /* malloc_trim */
#include "sk_cost.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "sk_time.h"

void sk_cost_opts_default(sk_cost_opts *o)
{
    o->warmup = 3;
    o->min_rounds = 7;
    o->max_rounds = 200;
    o->max_seconds = 60;
    o->target_spread = 0.05;
    o->memory = 1;
}

static int cmp_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q of sorted v[0..n) with linear interpolation between order
 * statistics (Hyndman & Fan type 7, numpy's default). */
static double quantile_(const double *v, int n, double q)
{
    double h = (n - 1) * q;
    int lo = (int)floor(h);
    if (lo >= n - 1) return v[n - 1];
    return v[lo] + (h - lo) * (v[lo + 1] - v[lo]);
}

/* Median and quartiles of v[0..n) (sorted into tmp). */
static void quartiles_(const double *v, int n, double *tmp, double *q1, double *med, double *q3)
{
    memcpy(tmp, v, (size_t)n * sizeof *tmp);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_);
    *q1 = quantile_(tmp, n, 0.25);
    *med = quantile_(tmp, n, 0.5);
    *q3 = quantile_(tmp, n, 0.75);
}

int sk_cost_rounds(sk_cost_step_fn step, void *ctx, const sk_cost_opts *co, sk_cost_result *out)
{
    int rc = SK_OK, n = 0;
    double *tf = NULL, *tc = NULL, *sp = NULL, *tmp = NULL, dt[2], q1 = NAN, med = NAN, q3 = NAN, x;
    SK_FAIL_IF(co->warmup < 0 || co->min_rounds < 3 || co->max_rounds < co->min_rounds || !(co->max_seconds > 0) ||
                   !(co->target_spread > 0),
               SK_EINVAL,
               "cost: warmup %d, rounds %d..%d, max_seconds %g, target_spread %g: need warmup >= 0, "
               "3 <= min_rounds <= max_rounds, max_seconds > 0, target_spread > 0",
               co->warmup, co->min_rounds, co->max_rounds, co->max_seconds, co->target_spread);
    tf = malloc((size_t)co->max_rounds * sizeof *tf);
    tc = malloc((size_t)co->max_rounds * sizeof *tc);
    sp = malloc((size_t)co->max_rounds * sizeof *sp);
    tmp = malloc((size_t)co->max_rounds * sizeof *tmp);
    SK_FAIL_IF(!tf || !tc || !sp || !tmp, SK_ENOMEM, "cost: out of memory");
    for (int w = 0; w < co->warmup; w++)
        for (int side = 0; side < 2; side++) SK_TRY(step(ctx, side, &dt[side]));
    out->converged = 0;
    const double t0 = sk_now();
    while (n < co->max_rounds) {
        /* A B, then B A: whichever side runs second in a round changes
         * every round, so order effects cancel in the medians */
        for (int k = 0; k < 2; k++) {
            int side = (n % 2) ? 1 - k : k;
            SK_TRY(step(ctx, side, &dt[side]));
        }
        SK_FAIL_IF(!(dt[0] > 0) || !(dt[1] > 0), SK_EINVAL, "cost: a step timed %g s / %g s", dt[0], dt[1]);
        tf[n] = dt[0];
        tc[n] = dt[1];
        sp[n] = dt[0] / dt[1];
        n++;
        if (n >= co->min_rounds) {
            quartiles_(sp, n, tmp, &q1, &med, &q3);
            if ((q3 - q1) / med < co->target_spread) {
                out->converged = 1;
                break;
            }
        }
        if (sk_now() - t0 >= co->max_seconds && n >= 3) break;
    }
    quartiles_(sp, n, tmp, &q1, &med, &q3);
    out->speedup_q1 = q1;
    out->speedup_median = med;
    out->speedup_q3 = q3;
    quartiles_(tf, n, tmp, &x, &out->ms_full, &x);
    quartiles_(tc, n, tmp, &x, &out->ms_compressed, &x);
    out->ms_full *= 1e3;
    out->ms_compressed *= 1e3;
    out->rounds = n;
    out->rss_base = out->rss_full = out->rss_compressed = -1;
    if (co->memory) {
        int64_t base[2] = {-1, -1}, peak[2] = {-1, -1};
        for (int side = 0; side < 2; side++) {
            if (sk_cost_host_peak_begin(&base[side]) < 0) {
                sk_error_clear(); /* no such interface here: the figures stay -1 */
                break;
            }
            SK_TRY(step(ctx, side, &dt[side]));
            if (sk_cost_host_peak_end(&peak[side]) < 0) sk_error_clear();
        }
        out->rss_base = base[0];
        out->rss_full = peak[0];
        out->rss_compressed = peak[1];
    }
done:
    free(tf);
    free(tc);
    free(sp);
    free(tmp);
    return rc;
}

/* A "Key:   123 kB" line of /proc/self/status, in bytes. */
static int status_bytes_(const char *key, int64_t *out)
{
    int rc = SK_OK;
    char line[256];
    size_t kl = strlen(key);
    FILE *f = fopen("/proc/self/status", "r");
    *out = -1;
    SK_FAIL_IF(!f, SK_EUNSUPPORTED, "cost: cannot read /proc/self/status for %s", key);
    while (fgets(line, sizeof line, f)) {
        long long kb;
        if (!strncmp(line, key, kl) && line[kl] == ':' && sscanf(line + kl + 1, "%lld", &kb) == 1) {
            *out = (int64_t)kb * 1024;
            break;
        }
    }
    fclose(f);
    SK_FAIL_IF(*out < 0, SK_EUNSUPPORTED, "cost: /proc/self/status has no %s line", key);
done:
    return rc;
}

int sk_cost_host_peak_begin(int64_t *base)
{
    int rc = SK_OK;
    *base = -1;
#ifdef __GLIBC__
    malloc_trim(0); /* free heap pages back to the OS: the step's peak is its own */
#endif
    /* "5" resets VmHWM to the current RSS (Linux >= 4.0, proc(5)) */
    FILE *f = fopen("/proc/self/clear_refs", "w");
    SK_FAIL_IF(!f, SK_EUNSUPPORTED, "cost: cannot open /proc/self/clear_refs to reset the peak RSS");
    int bad = fputs("5", f) < 0;
    bad |= fclose(f) != 0;
    SK_FAIL_IF(bad, SK_EUNSUPPORTED, "cost: this kernel does not reset the peak RSS (/proc/self/clear_refs)");
    SK_TRY(status_bytes_("VmRSS", base));
done:
    return rc;
}

int sk_cost_host_peak_end(int64_t *peak) { return status_bytes_("VmHWM", peak); }
