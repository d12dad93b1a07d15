/* cmd_inspect.c - `shrink inspect FILE... [--verify]`: counts, shapes,
 * dtype, compression ratio, attributes, provenance; --verify decodes every
 * chunk and checks offsets, ids and labels (sk_inspect_print in
 * dataset/sk_prepare.h). */
#include <stdio.h>
#include <string.h>

#include "sk_cli.h"
#include "sk_prepare.h"

static int inspect_run_(sk_cli_ctx *ctx) {
    int verify = 0, nfiles = 0;
    for (int i = 0; i < ctx->argc; i++) {
        if (!strcmp(ctx->argv[i], "--verify")) verify = 1;
        else if (ctx->argv[i][0] == '-') return sk_error_set(SK_EINVAL, "inspect: unknown flag '%s' (--verify)", ctx->argv[i]);
        else nfiles++;
    }
    if (nfiles == 0) return sk_error_set(SK_EINVAL, "inspect: no corpus file given (shrink inspect FILE [--verify])");
    for (int i = 0; i < ctx->argc; i++) {
        if (ctx->argv[i][0] == '-') continue;
        int rc = sk_inspect_print(stdout, ctx->argv[i], verify);
        if (rc < 0) return rc;
    }
    return SK_OK;
}

const sk_cmd sk_cmd_inspect = {SK_CMD_VERSION, "inspect", "describe a shrink corpus; --verify checks every chunk",
                               "  shrink inspect FILE... [--verify]", NULL, 0, inspect_run_};
