/* cmd_condense.c - `shrink condense`: write a smaller corpus (a coreset, a
 * deduplicated corpus) from a corpus, with provenance. A thin wrapper over
 * sk_condense_run (condense/sk_condense.h), which documents the methods'
 * contract and the output. Under mpirun each rank scores its shard. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_cli.h"
#include "sk_condense.h"
#include "sk_mpi.h"
#include "sk_run_config.h"

static const sk_cfg_section *const sections_[] = {
    &sk_run_section, &sk_condense_section, &sk_model_section, &sk_train_section, &sk_data_section,
};

/* The invocation plus the resolved condense section: recorded in the corpus. */
static char *command_text_(sk_cli_ctx *ctx)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fprintf(f, "shrink condense");
    if (ctx->config_path) fprintf(f, " --config %s", ctx->config_path);
    fclose(f);
    return buf;
}

static int run_(sk_cli_ctx *ctx)
{
    int rc = SK_OK;
    char *cmd = NULL;
    const sk_run_config *run = ctx->sections[0];
    if (ctx->argc > 0)
        return sk_cli_usage_error("condense: unexpected argument '%s' (use --set condense.key=value)", ctx->argv[0]);
    cmd = command_text_(ctx);
    sk_condense_opts o = {.cfg = ctx->sections[1],
                          .model = ctx->sections[2],
                          .train = ctx->sections[3],
                          .data = ctx->sections[4],
                          .seed = (uint64_t)run->seed,
                          .command = cmd};
    sk_condense_result res;
    SK_TRY(sk_condense_run(&o, &res));
    const sk_condense_method *vt = sk_condense_find(o.cfg->method);
    if (sk_mpi_info_get()->rank == 0 && vt && (vt->flags & SK_CONDENSE_SYNTHESIZES))
        printf("condense: made %lld synthetic samples from %lld rows with %s in %.2f s (method %.2f s) -> %s\n",
               (long long)res.kept, (long long)res.rows, o.cfg->method, res.seconds_total, res.seconds, o.cfg->output);
    else if (sk_mpi_info_get()->rank == 0)
        printf("condense: kept %lld of %lld rows (%.1f%%) with %s in %.2f s (method %.2f s) -> %s\n",
               (long long)res.kept, (long long)res.rows, 100.0 * (double)res.kept / (double)res.rows, o.cfg->method,
               res.seconds_total, res.seconds, o.cfg->output);
done:
    free(cmd);
    return rc;
}

const sk_cmd sk_cmd_condense = {
    SK_CMD_VERSION,
    "condense",
    "write a condensed corpus (coreset, deduplicated, distilled) with provenance; shards over mpirun ranks",
    "  --set condense.method=NAME condense.input=CORPUS.h5 condense.output=OUT.h5 condense.keep=FRACTION\n"
    "  The kept set is the same for any number of ranks; `shrink inspect OUT.h5` shows its provenance.",
    sections_,
    (int)(sizeof sections_ / sizeof *sections_),
    run_,
};
