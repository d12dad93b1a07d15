/* cmd_prepare.c - `shrink prepare`: import a dataset into a shrink corpus
 * (IDX, text, JSON Lines, Megatron, llm.c) or export a corpus (Megatron,
 * llm.c). All the work is sk_prepare_run (dataset/sk_prepare.h); under
 * mpirun each rank parses, compresses and writes its share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_cli.h"
#include "sk_data_config.h"
#include "sk_prepare.h"

static const sk_cfg_section *const prepare_sections_[] = {&sk_prepare_section};

/* The command recorded in the corpus: the invocation plus the resolved
 * `prepare` section, so the corpus says exactly how it was made. */
static char *command_text_(sk_cli_ctx *ctx)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fprintf(f, "shrink prepare");
    if (ctx->config_path) fprintf(f, " --config %s", ctx->config_path);
    fprintf(f, "\n");
    sk_cfg_write(f, prepare_sections_, 1, ctx->sections);
    fclose(f);
    return buf;
}

static int prepare_run_(sk_cli_ctx *ctx)
{
    int rc;
    char *cmd = NULL;
    sk_prepare_config cfg = *(const sk_prepare_config *)ctx->sections[0];
    if (ctx->argc > 0)
        return sk_cli_usage_error("prepare: unexpected argument '%s' (use --set prepare.key=value)", ctx->argv[0]);
    /* a missing or impossible key is a config error (exit 2), found before any work */
    if (sk_cli_usage_from(sk_prepare_validate(&cfg)) < 0) return SK_EINVAL;
    cmd = command_text_(ctx);
    cfg.command = cmd ? cmd : "shrink prepare";
    rc = sk_prepare_run(&cfg);
    free(cmd);
    return rc;
}

const sk_cmd sk_cmd_prepare = {
    SK_CMD_VERSION,
    "prepare",
    "import a dataset into a shrink corpus (HDF5 + zstd), or export one",
    "  --set prepare.format=FORMAT prepare.input=FILE prepare.output=OUT.h5\n"
    "  --set prepare.export=FORMAT prepare.input=CORPUS.h5 prepare.output=PREFIX\n"
    "  (the formats each key takes are listed with the keys below)\n"
    "  Under mpirun -np P each rank parses and compresses its share of the input; they write one corpus (parallel HDF5).",
    prepare_sections_,
    1,
    prepare_run_};
