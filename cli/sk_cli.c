/* sk_cli.c - command table, section table and argument handling for the
 * `shrink` executable (see sk_cli.h). main() lives in sk_main.c so tests
 * can drive sk_cli_main() in-process. */
#include "sk_cli.h"
#include "sk_mpi.h"
#include "sk_error.h"
#include "sk_log.h"
#include "sk_progress.h"
#include "sk_run_config.h"
#include "sk_data_config.h"
#include "sk_select_config.h"
#include "sk_train.h"
#include "sk_condense.h"
#include "sk_ablate.h"
#include "sk_shim.h"

#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sk_version(void); /* common/sk_version.c (libshrink) */

/* ---- the tables: one line per command / per config section --------------- */
/* A command: cli/cmd_<name>.c defines `const sk_cmd sk_cmd_<name>` (declared
 * in sk_cli.h); add it to commands_[] (order = order in `shrink --help`).
 * A section: include its module header and add it to sections_[] (order =
 * order in `shrink config` output and docs/CONFIG.md). */

static const sk_cmd *const commands_[] = {
    &sk_cmd_config, &sk_cmd_prepare, &sk_cmd_inspect, &sk_cmd_train, &sk_cmd_cost, &sk_cmd_condense, &sk_cmd_ablate,
};

static const sk_cfg_section *const sections_[] = {
    &sk_run_section,   &sk_log_section,    &sk_data_section,     &sk_prepare_section, &sk_model_section,
    &sk_train_section, &sk_select_section, &sk_condense_section, &sk_ablate_section,
};

#define COUNT_(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* run.device / run.dtype hold the index of their choice, "cpu|cuda" and
 * "f32|bf16" (common/ cannot see the shim): the same numbers as the shim's
 * enums. tests/cli checks the names against sk_shim_parse_device/_dtype. */
_Static_assert(SK_CPU == 0 && SK_CUDA == 1 && SK_F32 == 0 && SK_BF16 == 1,
               "run.device / run.dtype choices must follow sk_device / sk_dtype");

const sk_cmd *const *sk_cli_commands(int *n)
{
    *n = COUNT_(commands_);
    return commands_;
}

const sk_cfg_section *const *sk_cli_sections(int *n)
{
    *n = COUNT_(sections_);
    return sections_;
}

const char *sk_cmd_name_at(int i) { return i >= 0 && i < COUNT_(commands_) ? commands_[i]->name : NULL; }

const sk_cmd *sk_cmd_find(const char *name)
{
    int i = sk_cfg_choice_index(sk_cmd_name_at, name);
    return i < 0 ? NULL : commands_[i];
}

/* ---- state of the running command ------------------------------------------ */

/* run.malloc_keep: glibc serves blocks above its mmap threshold (at most
 * 32 MiB) with fresh mmaps and trims the heap top on free, so each step's
 * large tensors fault their pages in again; serve everything from the heap
 * and never trim, and the pages are reused (mallopt(3)). */
static void keep_freed_memory_(void)
{
#if defined(M_MMAP_MAX) && defined(M_TRIM_THRESHOLD)
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}

static const sk_cfg_section **cur_secs_ = NULL; /* every section filled for this run */
static void **cur_bases_ = NULL;
static int cur_n_ = 0;
static int usage_error_ = 0;

const void *sk_cli_section_values(const char *name)
{
    for (int i = 0; i < cur_n_; i++)
        if (strcmp(cur_secs_[i]->name, name) == 0) return cur_bases_[i];
    return NULL;
}

int sk_cli_usage_error(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    usage_error_ = 1;
    return sk_error_set(SK_EINVAL, "%s", buf);
}

static char cmdline_[8192];

/* argv as one shell line (single-quoting what needs it), without any
 * --resume DIR, prefixed "mpirun -np N" in a world of N > 1. */
static void save_command_line_(int argc, char **argv)
{
    size_t n = 0;
    int world = sk_mpi_info_get()->world;
    cmdline_[0] = '\0';
    if (world > 1) n += (size_t)snprintf(cmdline_, sizeof cmdline_, "mpirun -np %d", world);
    for (int i = 0; i < argc && n < sizeof cmdline_; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--resume") == 0 || strcmp(a, "--resume-latest-valid") == 0) && i + 1 < argc) {
            i++;
            continue;
        }
        if (strncmp(a, "--resume=", 9) == 0) continue;
        int plain = a[0] != '\0' &&
                    strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == strlen(a);
        n += (size_t)snprintf(cmdline_ + n, sizeof cmdline_ - n, "%s%s%s%s", n ? " " : "", plain ? "" : "'", a,
                              plain ? "" : "'");
    }
}

const char *sk_cli_command_line(void) { return cmdline_; }

int sk_cli_usage_from(int rc)
{
    if (rc < 0) usage_error_ = 1;
    return rc;
}

/* ---- help -------------------------------------------------------------------- */

static void print_main_help_(FILE *f)
{
    int n;
    const sk_cmd *const *cmds = sk_cli_commands(&n);
    fprintf(f, "usage: shrink [--help|--version] <command> [--config FILE] [--set section.key=value]... [args]\n"
               "\n"
               "Training-time data-centric compression: shrink the data a model processes.\n"
               "\n"
               "commands:\n");
    for (int i = 0; i < n; i++) fprintf(f, "  %-12s %s\n", cmds[i]->name, cmds[i]->summary);
    fprintf(f, "\n"
               "options (after the command):\n"
               "  --config FILE              YAML config (see configs/ and docs/CONFIG.md)\n"
               "  --set section.key=value    override one key; repeatable, applied after the file in order\n"
               "  --help                     the command's usage and every config key it reads\n"
               "\n"
               "Run 'shrink <command> --help' for a command's config keys, 'shrink config --keys' for all.\n"
               "Exit status: 0 ok, 1 the command failed, 2 bad command line or config.\n");
}

/* The sections a command sees in --help: run, log, then its own. */
static int help_sections_(const sk_cmd *cmd, const sk_cfg_section **out, int cap)
{
    int n = 0;
    out[n++] = &sk_run_section;
    out[n++] = &sk_log_section;
    for (int i = 0; i < cmd->nsections && n < cap; i++) {
        int dup = 0;
        for (int j = 0; j < n; j++) dup |= out[j] == cmd->sections[i];
        if (!dup) out[n++] = cmd->sections[i];
    }
    return n;
}

static void print_cmd_help_(FILE *f, const sk_cmd *cmd)
{
    const sk_cfg_section *secs[64];
    int n = help_sections_(cmd, secs, 64);
    fprintf(f, "usage: shrink %s [--config FILE] [--set section.key=value]...%s%s\n\n%s\n", cmd->name,
            cmd->usage ? " " : "", cmd->usage ? cmd->usage : "", cmd->summary);
    fprintf(f, "\nconfig keys (section.key  type  default  allowed  meaning):\n");
    sk_cfg_print_help(f, secs, n);
}

/* ---- main ------------------------------------------------------------------ */

static int suggest_command_(const char *name)
{
    int n, best = 3;
    const char *best_name = NULL;
    const sk_cmd *const *cmds = sk_cli_commands(&n);
    for (int i = 0; i < n; i++) {
        int d = sk_cfg_edit_distance(name, cmds[i]->name);
        if (d < best) {
            best = d;
            best_name = cmds[i]->name;
        }
    }
    usage_error_ = 1;
    if (best_name) return sk_error_set(SK_EINVAL, "unknown command '%s' (did you mean '%s'?)", name, best_name);
    return sk_error_set(SK_EINVAL, "unknown command '%s' (see 'shrink --help')", name);
}

/* Value of "--opt VALUE" or "--opt=VALUE" at argv[*i]; NULL if not this option. */
static const char *opt_value_(int argc, char **argv, int *i, const char *opt, int *missing)
{
    size_t n = strlen(opt);
    const char *a = argv[*i];
    *missing = 0;
    if (strncmp(a, opt, n) != 0) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

int sk_cli_main(int argc, char **argv)
{
    int rc = SK_OK, code = SK_CLI_EXIT_USAGE;
    int nall = 0, nsets = 0, nrest = 0, want_help = 0;
    const sk_cfg_section *all[64];
    void *bases[64] = {0};
    void *cmd_bases[64] = {0};
    const char **sets = NULL;
    char **rest = NULL;
    const char *config_path = NULL;
    const sk_cmd *cmd = NULL;
    int missing = 0;

    usage_error_ = 0;
    sk_error_clear();
    save_command_line_(argc, argv);
    if (argc < 2) {
        print_main_help_(stderr);
        rc = sk_error_set(SK_EINVAL, "no command given (see 'shrink --help')");
        goto done;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        if (argc > 2 && strcmp(argv[1], "help") == 0 && sk_cmd_find(argv[2])) {
            print_cmd_help_(stdout, sk_cmd_find(argv[2]));
        } else {
            print_main_help_(stdout);
        }
        code = SK_CLI_EXIT_OK;
        goto done;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("shrink %s\n", sk_version());
        code = SK_CLI_EXIT_OK;
        goto done;
    }
    if (argv[1][0] == '-') {
        rc = sk_error_set(SK_EINVAL, "unknown option '%s' before the command (see 'shrink --help')", argv[1]);
        goto done;
    }
    cmd = sk_cmd_find(argv[1]);
    if (!cmd) {
        rc = suggest_command_(argv[1]);
        goto done;
    }
    if (cmd->version != SK_CMD_VERSION) {
        rc = sk_error_set(SK_EVERSION, "command '%s' has vtable version %u, this shrink wants %u", cmd->name,
                          cmd->version, SK_CMD_VERSION);
        goto done;
    }

    /* Split the command's arguments: --config/--set/--help are ours, the rest
     * (positionals and command flags) goes to the command in order. */
    sets = calloc((size_t)argc, sizeof *sets);
    rest = calloc((size_t)argc + 1, sizeof *rest);
    SK_FAIL_IF(!sets || !rest, SK_ENOMEM, "out of memory");
    for (int i = 2; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--") == 0) {
            while (++i < argc) rest[nrest++] = argv[i];
            break;
        }
        if ((v = opt_value_(argc, argv, &i, "--config", &missing)) != NULL) {
            SK_FAIL_IF(config_path, SK_EINVAL, "--config given twice ('%s' and '%s')", config_path, v);
            config_path = v;
        } else if (missing) {
            SK_FAIL_IF(1, SK_EINVAL, "--config needs a FILE");
        } else if ((v = opt_value_(argc, argv, &i, "--set", &missing)) != NULL) {
            sets[nsets++] = v;
        } else if (missing) {
            SK_FAIL_IF(1, SK_EINVAL, "--set needs section.key=value");
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            want_help = 1;
        } else {
            rest[nrest++] = argv[i];
        }
    }
    if (want_help) {
        print_cmd_help_(stdout, cmd);
        code = SK_CLI_EXIT_OK;
        goto done;
    }

    /* Every known section plus any the command lists that the table lacks:
     * one config file serves every command. */
    {
        int n;
        const sk_cfg_section *const *known = sk_cli_sections(&n);
        for (int i = 0; i < n && nall < 64; i++) all[nall++] = known[i];
        for (int i = 0; i < cmd->nsections && nall < 64; i++) {
            int dup = 0;
            for (int j = 0; j < nall; j++) dup |= all[j] == cmd->sections[i];
            if (!dup) all[nall++] = cmd->sections[i];
        }
    }
    for (int i = 0; i < nall; i++) {
        bases[i] = calloc(1, all[i]->size ? all[i]->size : 1);
        SK_FAIL_IF(!bases[i], SK_ENOMEM, "out of memory");
    }
    SK_TRY(sk_cfg_defaults(all, nall, bases));
    if (config_path) SK_TRY(sk_cfg_load_file(config_path, all, nall, bases));
    for (int i = 0; i < nsets; i++) SK_TRY(sk_cfg_apply_set(sets[i], all, nall, bases));

    cur_secs_ = all;
    cur_bases_ = bases;
    cur_n_ = nall;
    {
        const sk_log_config *log = sk_cli_section_values("log");
        const sk_mpi_info *d = sk_mpi_info_get();
        SK_TRY(sk_log_config_apply(log, d->rank));
        sk_progress_set_rank(d->rank, log->all_ranks);
        /* run: settings every command shares; seed and dtype stay with the
         * commands that create generators and models. */
        const sk_run_config *run = sk_cli_section_values("run");
        if (run->threads > 0) sk_shim_set_num_threads((int)run->threads);
        if (run->malloc_keep) keep_freed_memory_();
        if ((sk_device)run->device == SK_CUDA) {
            SK_FAIL_IF(!sk_shim_cuda_available(), SK_EUNSUPPORTED,
                       "run.device is 'cuda' but no CUDA device is usable in this build/machine (use run.device=cpu)");
            sk_shim_set_cuda_index(sk_mpi_world_info()->local_rank); /* one GPU per rank on a host */
        }
        /* bf16 compute exists only on CUDA builds: refuse it here, before
         * any command runs, rather than offering a value that fails later. */
        SK_FAIL_IF((sk_dtype)run->dtype == SK_BF16 && !sk_shim_cuda_available(), SK_EUNSUPPORTED,
                   "run.dtype = bf16 needs a CUDA build and device; this build/machine computes in f32 only "
                   "(use run.dtype=f32)");
    }
    for (int i = 0; i < cmd->nsections; i++) {
        for (int j = 0; j < nall; j++)
            if (all[j] == cmd->sections[i]) cmd_bases[i] = bases[j];
    }

    {
        sk_cli_ctx ctx = {config_path, cmd_bases, nrest, rest, sets, nsets};
        SK_LOG_DEBUG("running '%s'%s%s", cmd->name, config_path ? " with " : "", config_path ? config_path : "");
        rc = cmd->run(&ctx);
        if (rc < 0) {
            code = usage_error_ ? SK_CLI_EXIT_USAGE : SK_CLI_EXIT_RUNTIME;
            if (!sk_error_last()[0]) sk_error_set(rc, "%s failed: %s", cmd->name, sk_strerror(rc));
            goto done;
        }
        code = SK_CLI_EXIT_OK;
    }

done:
    if (rc < 0 && code == SK_CLI_EXIT_OK) code = SK_CLI_EXIT_USAGE;
    cur_secs_ = NULL;
    cur_bases_ = NULL;
    cur_n_ = 0;
    for (int i = 0; i < nall; i++) free(bases[i]);
    free(sets);
    free(rest);
    return code;
}
