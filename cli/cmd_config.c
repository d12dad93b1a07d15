/* cmd_config.c - `shrink config`: print the effective config (defaults, then
 * --config FILE, then --set) of every section as YAML that loads back, so
 * users can validate a config and see what a run will use.
 *
 *   shrink config [--config FILE] [--set k=v]...     effective config (YAML)
 *   shrink config --keys                             every key: type, default, bounds, help
 *   shrink config --markdown                         the same as Markdown (docs/CONFIG.md)
 *
 * Only rank 0 prints, so `mpirun -np N shrink config` prints once.
 */
#include "sk_cli.h"
#include "sk_mpi.h"
#include "sk_error.h"

#include <stdio.h>
#include <string.h>

/* The command table (sk_cli.c) as Markdown, so the docs list what exists. */
static void print_commands_markdown_(FILE *f)
{
    int n;
    const sk_cmd *const *cmds = sk_cli_commands(&n);
    fprintf(f, "### Commands\n\n| command | what it does |\n|---|---|\n");
    for (int i = 0; i < n; i++) fprintf(f, "| `%s` | %s |\n", cmds[i]->name, cmds[i]->summary);
    fputc('\n', f);
}

static int run_config_(sk_cli_ctx *ctx)
{
    int mode = 0; /* 0 values, 1 keys, 2 markdown */
    for (int i = 0; i < ctx->argc; i++) {
        if (strcmp(ctx->argv[i], "--keys") == 0)
            mode = 1;
        else if (strcmp(ctx->argv[i], "--markdown") == 0)
            mode = 2;
        else
            return sk_cli_usage_error("config: unexpected argument '%s' (see 'shrink config --help')", ctx->argv[i]);
    }
    int n;
    const sk_cfg_section *const *secs = sk_cli_sections(&n);
    void *bases[64];
    if (n > 64) n = 64;
    for (int i = 0; i < n; i++) {
        bases[i] = (void *)sk_cli_section_values(secs[i]->name);
        if (!bases[i]) return sk_error_set(SK_ENOTFOUND, "config: section '%s' was not filled", secs[i]->name);
    }
    if (sk_mpi_info_get()->rank != 0) return SK_OK;
    if (mode == 1) {
        sk_cfg_print_help(stdout, secs, n);
    } else if (mode == 2) {
        print_commands_markdown_(stdout);
        sk_cfg_print_markdown(stdout, secs, n);
    } else {
        printf("# effective shrink config%s%s\n", ctx->config_path ? ": " : " (defaults)",
               ctx->config_path ? ctx->config_path : "");
        return sk_cfg_write(stdout, secs, n, bases);
    }
    fflush(stdout);
    return SK_OK;
}

const sk_cmd sk_cmd_config = {
    SK_CMD_VERSION,
    "config",
    "print the effective config (defaults <- --config <- --set) as YAML",
    "[--keys | --markdown]\n"
    "  (none)      print every section's values as YAML (reloadable with --config)\n"
    "  --keys      list every key of every section: type, default, allowed values, meaning\n"
    "  --markdown  the same list as Markdown tables (docs/CONFIG.md)",
    NULL,
    0,
    run_config_,
};
