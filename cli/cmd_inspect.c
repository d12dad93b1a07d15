/* cmd_inspect.c - `shrink inspect FILE... [--verify]`: counts, shapes,
 * dtype, compression ratio, attributes, provenance; --verify decodes every
 * chunk and checks offsets, ids and labels (sk_inspect_print in
 * dataset/sk_prepare.h). `shrink inspect FILE --png OUT.png [--per-class N]
 * [--scale S]` draws the corpus's images instead: one row per class
 * (sk_png_corpus_grid in dataset/sk_png.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_cli.h"
#include "sk_png.h"
#include "sk_prepare.h"

/* The value after flag argv[*i] as a positive integer. */
static int count_arg_(sk_cli_ctx *ctx, int *i, int64_t *out)
{
    const char *flag = ctx->argv[*i];
    char *end = NULL;
    if (*i + 1 >= ctx->argc) return sk_cli_usage_error("inspect: %s needs a value", flag);
    long long v = strtoll(ctx->argv[++*i], &end, 10);
    if (!*ctx->argv[*i] || *end || v <= 0 || v > 100000)
        return sk_cli_usage_error("inspect: %s %s: not a count in [1, 100000]", flag, ctx->argv[*i]);
    *out = v;
    return SK_OK;
}

static int inspect_run_(sk_cli_ctx *ctx)
{
    int verify = 0, nfiles = 0, grid_flags = 0, rc;
    const char *png = NULL, *file = NULL;
    sk_png_grid_opts go = {10, 1};
    for (int i = 0; i < ctx->argc; i++) {
        const char *a = ctx->argv[i];
        if (!strcmp(a, "--verify"))
            verify = 1;
        else if (!strcmp(a, "--png")) {
            if (i + 1 >= ctx->argc || !ctx->argv[i + 1][0])
                return sk_cli_usage_error("inspect: --png needs an output file name");
            png = ctx->argv[++i];
        } else if (!strcmp(a, "--per-class")) {
            if ((rc = count_arg_(ctx, &i, &go.per_class)) < 0) return rc;
            grid_flags = 1;
        } else if (!strcmp(a, "--scale")) {
            if ((rc = count_arg_(ctx, &i, &go.scale)) < 0) return rc;
            grid_flags = 1;
        } else if (a[0] == '-')
            return sk_cli_usage_error("inspect: unknown flag '%s' (--verify, --png FILE, --per-class N, --scale S)", a);
        else {
            nfiles++;
            file = a;
        }
    }
    if (nfiles == 0) return sk_cli_usage_error("inspect: no corpus file given (shrink inspect FILE [--verify])");
    if (grid_flags && !png) return sk_cli_usage_error("inspect: --per-class and --scale go with --png FILE");
    if (png) {
        int64_t rows = 0, cols = 0;
        if (nfiles != 1) return sk_cli_usage_error("inspect: --png draws one corpus, %d given", nfiles);
        if ((rc = sk_png_corpus_grid(file, png, &go, &rows, &cols)) < 0) return rc;
        printf("%s: %lld rows (classes) x %lld images -> %s\n", file, (long long)rows, (long long)cols, png);
        return SK_OK;
    }
    for (int i = 0; i < ctx->argc; i++) { /* files and --verify only, here */
        if (ctx->argv[i][0] == '-') continue;
        rc = sk_inspect_print(stdout, ctx->argv[i], verify);
        if (rc < 0) return rc;
    }
    return SK_OK;
}

const sk_cmd sk_cmd_inspect = {SK_CMD_VERSION,
                               "inspect",
                               "describe a shrink corpus; --verify checks every chunk; --png draws its images",
                               "  shrink inspect FILE... [--verify]\n"
                               "  shrink inspect FILE --png OUT.png [--per-class N] [--scale S]   one row per class",
                               NULL,
                               0,
                               inspect_run_};
