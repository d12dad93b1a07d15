/* sk_cli.h - the `shrink` command line: command vtable, command table,
 * the table of config sections the CLI knows, and the CLI entry point.
 *
 * defines: SK_CMD_VERSION, sk_cli_ctx, sk_cmd, sk_cmd_find, sk_cmd_name_at, sk_cli_commands,
 *          sk_cli_sections, sk_cli_main, SK_CLI_EXIT_*.
 *
 *   shrink [--help|--version] <command> [--config FILE] [--set sec.key=value]...
 *          [--help] [command args]
 *
 * Adding a command: write cli/cmd_<name>.c exporting `const sk_cmd
 * sk_cmd_<name>;` and add one line to `commands_[]` in cli/sk_cli.c.
 * A command prints its results to stdout on rank 0 only (check
 * sk_mpi_info_get()->rank), logs with SK_LOG_* and reports progress with
 * sk_progress (both rank-0 by default), and returns errors, never exits.
 * Adding a config section: export `const sk_cfg_section` from your module and
 * add one line to `sections_[]` in cli/sk_cli.c (so `shrink config` and every
 * config file know it), and list it in your command's `sections`.
 *
 * Config order: every known section is filled from its defaults, then the
 * --config file, then each --set in command-line order. A config file may
 * hold sections another command reads; only names no section knows are
 * errors. The CLI applies `log` (level, rank-0 logging, progress) and part
 * of `run` itself before the command runs: run.threads (if > 0) sets the
 * shim's intra-op threads, and run.device=cuda fails early when no CUDA
 * device is usable, else selects the GPU of this rank's local index.
 * run.seed, run.dtype and run.out_dir are for the commands to use.
 */
#ifndef SK_CLI_H
#define SK_CLI_H

#include "sk_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SK_CMD_VERSION 1

/* Exit codes of `shrink`. */
enum {
    SK_CLI_EXIT_OK = 0,
    SK_CLI_EXIT_RUNTIME = 1, /* the command failed */
    SK_CLI_EXIT_USAGE = 2    /* bad command line or config (nothing ran) */
};

typedef struct {
    const char *config_path; /* --config FILE, or NULL */
    void *const *sections;   /* filled section structs, parallel to cmd->sections (borrowed) */
    int argc;                /* what follows the command that is not --config/--set: */
    char **argv;             /* positional args and command flags (FILE, --verify, --resume DIR) */
    const char *const *sets; /* the --set assignments in command-line order (borrowed), for a command
                                  that rebuilds configs of its own (ablate: base file, then its file, then these) */
    int nsets;
} sk_cli_ctx;

typedef struct {
    unsigned version;    /* SK_CMD_VERSION */
    const char *name;    /* "train" */
    const char *summary; /* one line for `shrink --help` */
    const char *usage;   /* extra usage text for `shrink <cmd> --help` (flags, positionals), or NULL */
    const sk_cfg_section *const *sections;
    int nsections;               /* config sections this command reads */
    int (*run)(sk_cli_ctx *ctx); /* 0 or SK_E* with the message set; never exits */
} sk_cmd;

/* The commands (cli/cmd_<name>.c); declared here so the table in sk_cli.c
 * needs one line per command. */
extern const sk_cmd sk_cmd_config;   /* cli/cmd_config.c */
extern const sk_cmd sk_cmd_prepare;  /* cli/cmd_prepare.c (dataset) */
extern const sk_cmd sk_cmd_inspect;  /* cli/cmd_inspect.c (dataset) */
extern const sk_cmd sk_cmd_train;    /* cli/cmd_train.c (trainer) */
extern const sk_cmd sk_cmd_cost;     /* cli/cmd_cost.c (trainer/sk_cost.h) */
extern const sk_cmd sk_cmd_condense; /* cli/cmd_condense.c (condense) */
extern const sk_cmd sk_cmd_ablate;   /* cli/cmd_ablate.c (trainer, condense) */

/* The command called `name`, or NULL (no error set). */
const sk_cmd *sk_cmd_find(const char *name);
/* The name of command i of the table, NULL past the last. */
const char *sk_cmd_name_at(int i);

/* The command table (static, borrowed); *n gets its length. */
const sk_cmd *const *sk_cli_commands(int *n);

/* Every config section the CLI knows (static, borrowed), run and log first;
 * *n gets its length. `shrink config` prints all of them. */
const sk_cfg_section *const *sk_cli_sections(int *n);

/* Section `name` filled for this run, or NULL: lets a command read a section
 * (e.g. "run") that it did not list. Valid only while a command runs. */
const void *sk_cli_section_values(const char *name);

/* For a command's run(): report a bad command line (unknown flag, missing
 * FILE). Sets the message like sk_error_set and makes `shrink` exit with
 * SK_CLI_EXIT_USAGE instead of SK_CLI_EXIT_RUNTIME. Returns SK_EINVAL. */
int sk_cli_usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* For a command's run(): the error `rc` (message already set) is a usage
 * error (a config value or a combination of keys that cannot work, found
 * by a command's own validation): `shrink` exits SK_CLI_EXIT_USAGE.
 * Returns rc. sk_cli_main is the one place that maps errors to exit codes:
 * usage errors (flags, config files, --set, key checks) exit 2, anything
 * that fails while the command works exits 1. */
int sk_cli_usage_from(int rc);

/* This run's command line as a shell line (argv, quoted where needed,
 * without --resume DIR, with "mpirun -np N" in front when N > 1 ranks):
 * what a resume hint tells the user to run. Static, valid after sk_cli_main
 * started. */
const char *sk_cli_command_line(void);

/* The whole CLI after MPI init: parse argv, fill sections, apply run/log,
 * run the command. Prints help/version/command output to stdout. Returns an
 * SK_CLI_EXIT_* code; on failure it prints nothing and leaves the message in
 * sk_error_last(): main() prints it as "shrink: <message>" in a world of one
 * and aborts the MPI job with it otherwise. */
int sk_cli_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif /* SK_CLI_H */
