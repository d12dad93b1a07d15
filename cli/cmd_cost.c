/* cmd_cost.c - `shrink cost`: what a training config's token selector
 * really saves: forward+backward of the model with the selector against
 * the same model without it, in interleaved rounds until the spread is
 * small, with peak memory and the analytic FLOP ratio. A thin wrapper over
 * sk_cost_measure (trainer/sk_cost.h documents the method). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_cli.h"
#include "sk_cost.h"
#include "sk_data_config.h"
#include "sk_error.h"
#include "sk_mpi.h"
#include "sk_run_config.h"
#include "sk_select_config.h"
#include "sk_shim.h"
#include "sk_train.h"

static const sk_cfg_section *const sections_[] = {
    &sk_run_section, &sk_data_section, &sk_model_section, &sk_train_section, &sk_select_section,
};

#define USAGE_                                                                                    \
    "usage: shrink cost --config FILE [--set key=value]... [--rounds MIN:MAX] [--max-seconds S] " \
    "[--spread F] [--warmup N] [--json]"

/* "--flag VALUE" or "--flag=VALUE": the value, or NULL (i advanced past it). */
static const char *flag_value_(sk_cli_ctx *ctx, int *i, const char *flag)
{
    const char *a = ctx->argv[*i];
    size_t n = strlen(flag);
    if (strncmp(a, flag, n)) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] == '\0' && *i + 1 < ctx->argc) return ctx->argv[++*i];
    return NULL;
}

static int parse_opts_(sk_cli_ctx *ctx, sk_cost_opts *co, int *json)
{
    for (int i = 0; i < ctx->argc; i++) {
        const char *a = ctx->argv[i], *v;
        char *end = NULL;
        if (!strcmp(a, "--json")) {
            *json = 1;
        } else if ((v = flag_value_(ctx, &i, "--rounds"))) {
            long lo = strtol(v, &end, 10), hi = lo;
            if (*end == ':') hi = strtol(end + 1, &end, 10);
            if (*end || lo < 3 || hi < lo || hi > 100000)
                return sk_cli_usage_error("cost: --rounds %s: expected MIN or MIN:MAX with 3 <= MIN <= MAX", v);
            co->min_rounds = (int)lo;
            co->max_rounds = (int)hi;
        } else if ((v = flag_value_(ctx, &i, "--max-seconds"))) {
            co->max_seconds = strtod(v, &end);
            if (*end || !(co->max_seconds > 0))
                return sk_cli_usage_error("cost: --max-seconds %s: expected a number > 0", v);
        } else if ((v = flag_value_(ctx, &i, "--spread"))) {
            co->target_spread = strtod(v, &end);
            if (*end || !(co->target_spread > 0))
                return sk_cli_usage_error("cost: --spread %s: expected IQR/median target > 0, e.g. 0.05", v);
        } else if ((v = flag_value_(ctx, &i, "--warmup"))) {
            long w = strtol(v, &end, 10);
            if (*end || w < 0 || w > 100000) return sk_cli_usage_error("cost: --warmup %s: expected a count >= 0", v);
            co->warmup = (int)w;
        } else {
            return sk_cli_usage_error("cost: unexpected argument '%s' (" USAGE_ ")", a);
        }
    }
    return SK_OK;
}

/* bytes as MiB, "n/a" for -1 */
static const char *mib_(char *buf, size_t cap, int64_t b)
{
    if (b < 0)
        snprintf(buf, cap, "n/a");
    else
        snprintf(buf, cap, "%.1f MiB", (double)b / (1024.0 * 1024.0));
    return buf;
}

static void print_(const sk_train_opts *o, const sk_cost_result *r, int json)
{
    if (json) {
        printf("{\"speedup_median\": %.6g, \"speedup_q1\": %.6g, \"speedup_q3\": %.6g, \"ms_full\": %.6g, "
               "\"ms_compressed\": %.6g, \"flop_ratio\": %.6g, \"rss_base\": %lld, \"rss_full\": %lld, "
               "\"rss_compressed\": %lld, \"dev_full\": %lld, \"dev_compressed\": %lld, \"rounds\": %d, "
               "\"converged\": %s}\n",
               r->speedup_median, r->speedup_q1, r->speedup_q3, r->ms_full, r->ms_compressed, r->flop_ratio,
               (long long)r->rss_base, (long long)r->rss_full, (long long)r->rss_compressed, (long long)r->dev_full,
               (long long)r->dev_compressed, r->rounds, r->converged ? "true" : "false");
        return;
    }
    char a[32], b[32], c[32];
    printf("cost of select.scorer = %s, strategy %s, keep %g on model.arch = %s (%d rank%s)\n", o->select->scorer,
           o->select->strategy, o->select->keep, o->model->arch, sk_mpi_info_get()->world,
           sk_mpi_info_get()->world > 1 ? "s" : "");
    printf("  forward+backward: %.3f ms full, %.3f ms compressed (medians of %d interleaved rounds%s)\n", r->ms_full,
           r->ms_compressed, r->rounds, r->converged ? "" : "; spread target not reached");
    printf("  measured speedup: %.3fx (interquartile range %.3f - %.3f)\n", r->speedup_median, r->speedup_q1,
           r->speedup_q3);
    printf("  analytic FLOP ratio: %.3fx\n", r->flop_ratio);
    printf("  host RSS: %s before a step; peak during a step %s full, %s compressed\n", mib_(a, sizeof a, r->rss_base),
           mib_(b, sizeof b, r->rss_full), mib_(c, sizeof c, r->rss_compressed));
    printf("  device memory peak: %s full, %s compressed\n", mib_(a, sizeof a, r->dev_full),
           mib_(b, sizeof b, r->dev_compressed));
}

static int run_(sk_cli_ctx *ctx)
{
    int rc = SK_OK, json = 0;
    const sk_run_config *run = ctx->sections[0];
    sk_train_opts o;
    sk_cost_opts co;
    sk_cost_result r;
    memset(&o, 0, sizeof o);
    sk_cost_opts_default(&co);
    o.data = ctx->sections[1];
    o.model = ctx->sections[2];
    o.train = ctx->sections[3];
    o.select = ctx->sections[4];
    SK_TRY(parse_opts_(ctx, &co, &json));
    if ((sk_device)run->device != SK_CPU)
        return sk_cli_usage_error("run.device = cuda: the trainer runs on CPU in this version (use run.device=cpu)");
    if (!strcmp(o.select->scorer, "none"))
        return sk_cli_usage_error("select.scorer = none: nothing to measure; set the token selector to compare "
                                  "against the full model (e.g. --set select.scorer=random --set select.keep=0.5)");
    if (sk_cli_usage_from(sk_train_validate(o.model, o.train, o.data, sk_mpi_info_get()->world)) < 0) return SK_EINVAL;
    sk_error_clear();
    o.seed = (uint64_t)run->seed;
    o.threads = (int)run->threads;
    SK_TRY(sk_cost_measure(&o, &co, &r));
    if (sk_mpi_info_get()->rank == 0) print_(&o, &r, json);
done:
    return rc;
}

const sk_cmd sk_cmd_cost = {
    SK_CMD_VERSION,
    "cost",
    "measure a token selector's real cost: forward+backward speedup (median, IQR), peak memory, FLOP ratio",
    "  --rounds MIN[:MAX]  timed rounds before the spread is judged, and at most (default 7:200)\n"
    "  --max-seconds S     stop the timed rounds after S seconds (default 60)\n"
    "  --spread F          stop once IQR/median of the per-round speedup < F (default 0.05)\n"
    "  --warmup N          untimed pairs first (default 3)\n"
    "  --json              one JSON object instead of text\n"
    "the same config as shrink train; the full side is the same model without select.*",
    sections_,
    (int)(sizeof sections_ / sizeof *sections_),
    run_,
};
