/* test_cli.c - the `shrink` command line: the command and section tables
 * (every registered entry), help output, usage errors and exit codes
 * in-process through sk_cli_main, and the real binary with good and bad
 * configs (exit code and a one-line "shrink: ..." on stderr). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_run_util.h"
#include "sk_cli.h"
#include "sk_error.h"
#include "sk_prepare.h"
#include "sk_run_config.h"
#include "sk_select_registry.h"
#include "sk_shim.h"

#ifndef SK_SHRINK_BIN
#error "SK_SHRINK_BIN must name the shrink executable"
#endif
/* In the sanitizer build, Open MPI's own allocations (MCA plugins unloaded at
 * when MPI finalises) would fail LeakSanitizer in the child; our code's leaks are
 * checked in-process above, where MPI is never started. */
#define BIN_ "ASAN_OPTIONS=detect_leaks=0 " SK_SHRINK_BIN

/* ---- in-process runs with stdout captured ------------------------------------ */

static char *captured_ = NULL;

/* sk_cli_main(argv...) with stdout captured into captured_. */
static int cli_(int argc, const char **argv)
{
    char path[] = "/tmp/sk_cli_stdout_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    int code = sk_cli_main(argc, (char **)argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(fd);
    free(captured_);
    captured_ = slurp_(path);
    unlink(path);
    return code;
}
#define CLI_(...) cli_((int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)), (const char *[]){__VA_ARGS__})

/* ---- tables ---------------------------------------------------------------- */

static void test_command_table(void **state)
{
    (void)state;
    int n, ns;
    const sk_cmd *const *cmds = sk_cli_commands(&n);
    const sk_cfg_section *const *secs = sk_cli_sections(&ns);
    assert_true(n >= 1);
    assert_non_null(sk_cmd_find("config"));
    assert_null(sk_cmd_find("no-such-command"));
    for (int i = 0; i < n; i++) {
        assert_int_equal(cmds[i]->version, SK_CMD_VERSION);
        assert_non_null(cmds[i]->name);
        assert_true(cmds[i]->summary && cmds[i]->summary[0]);
        assert_non_null(cmds[i]->run);
        assert_ptr_equal(sk_cmd_find(cmds[i]->name), cmds[i]);
        /* every section a command reads is known to config files */
        for (int s = 0; s < cmds[i]->nsections; s++)
            assert_non_null(sk_cfg_find_section(secs, ns, cmds[i]->sections[s]->name, NULL));
    }
}

/* Every registered section: unique name, defaults valid, write -> load gives
 * the same bytes, help names every key. */
static void test_section_table(void **state)
{
    (void)state;
    int n;
    const sk_cfg_section *const *secs = sk_cli_sections(&n);
    assert_ptr_equal(secs[0], &sk_run_section);
    assert_ptr_equal(secs[1], &sk_log_section);
    void **a = calloc((size_t)n, sizeof *a), **b = calloc((size_t)n, sizeof *b);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++) assert_string_not_equal(secs[i]->name, secs[j]->name);
        a[i] = calloc(1, secs[i]->size);
        b[i] = calloc(1, secs[i]->size);
    }
    if (sk_cfg_defaults(secs, n, a) != SK_OK) fail_msg("%s", sk_error_last());
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(sk_cfg_write(f, secs, n, a), SK_OK);
    fclose(f);
    if (sk_cfg_load_string("written", buf, len, secs, n, b) != SK_OK) fail_msg("%s", sk_error_last());
    for (int i = 0; i < n; i++) assert_memory_equal(a[i], b[i], secs[i]->size);
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &len);
    sk_cfg_print_help(f, secs, n);
    fclose(f);
    char full[256];
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < secs[i]->nkeys; k++) {
            snprintf(full, sizeof full, "%s.%s", secs[i]->name, secs[i]->keys[k].name);
            assert_non_null(strstr(buf, full));
        }
        free(a[i]);
        free(b[i]);
    }
    free(buf);
    free(a);
    free(b);
}

/* ---- help ------------------------------------------------------------------ */

static void test_main_help(void **state)
{
    (void)state;
    int n;
    const sk_cmd *const *cmds = sk_cli_commands(&n);
    assert_int_equal(CLI_("shrink", "--help"), SK_CLI_EXIT_OK);
    assert_non_null(strstr(captured_, "usage: shrink"));
    for (int i = 0; i < n; i++) assert_non_null(strstr(captured_, cmds[i]->name));
    assert_int_equal(CLI_("shrink", "--version"), SK_CLI_EXIT_OK);
    assert_non_null(strstr(captured_, "shrink 0."));
}

static void test_command_help(void **state)
{
    (void)state;
    int n;
    const sk_cmd *const *cmds = sk_cli_commands(&n);
    char full[256];
    for (int i = 0; i < n; i++) {
        assert_int_equal(CLI_("shrink", cmds[i]->name, "--help"), SK_CLI_EXIT_OK);
        snprintf(full, sizeof full, "usage: shrink %s ", cmds[i]->name);
        assert_non_null(strstr(captured_, full));
        assert_non_null(strstr(captured_, "run.seed"));
        assert_non_null(strstr(captured_, "log.level"));
        for (int s = 0; s < cmds[i]->nsections; s++) {
            for (int k = 0; k < cmds[i]->sections[s]->nkeys; k++) {
                snprintf(full, sizeof full, "%s.%s", cmds[i]->sections[s]->name, cmds[i]->sections[s]->keys[k].name);
                assert_non_null(strstr(captured_, full));
            }
        }
    }
    /* `shrink config --keys`: every key of every section */
    assert_int_equal(CLI_("shrink", "config", "--keys"), SK_CLI_EXIT_OK);
    assert_non_null(strstr(captured_, "log.all_ranks"));
    assert_int_equal(CLI_("shrink", "config", "--markdown"), SK_CLI_EXIT_OK);
    assert_non_null(strstr(captured_, "| `run.device` | enum | `cpu` | cpu\\|cuda |"));
}

/* The line of captured_ holding `what` (malloc'd). */
static char *captured_line_(const char *what)
{
    const char *p = strstr(captured_, what);
    if (!p) fail_msg("'%s' not in the output", what);
    while (p > captured_ && p[-1] != '\n') p--;
    size_t n = strcspn(p, "\n");
    char *line = malloc(n + 1);
    memcpy(line, p, n);
    line[n] = '\0';
    return line;
}

/* Names shown by --help and docs/CONFIG.md come from the registries: every
 * scorer, strategy, importer and command, and the run keys' names are the
 * shim's own (their index is the sk_device / sk_dtype value). */
static void test_names_from_registries(void **state)
{
    (void)state;
    assert_int_equal(CLI_("shrink", "train", "--help"), SK_CLI_EXIT_OK);
    char *scorers = captured_line_("  select.scorer ");
    for (int i = 0; i < sk_scorer_count(); i++) assert_non_null(strstr(scorers, sk_scorer_at(i)->name));
    char *strategies = captured_line_("  select.strategy ");
    for (int i = 0; i < sk_strategy_count(); i++) assert_non_null(strstr(strategies, sk_strategy_at(i)->name));
    free(scorers);
    free(strategies);
    assert_int_equal(CLI_("shrink", "config", "--markdown"), SK_CLI_EXIT_OK);
    char *formats = captured_line_("| `prepare.format` |");
    for (int i = 0; sk_importer_name_at(i); i++) assert_non_null(strstr(formats, sk_importer_name_at(i)));
    free(formats);
    int n;
    const sk_cmd *const *cmds = sk_cli_commands(&n);
    char row[256];
    for (int i = 0; i < n; i++) {
        snprintf(row, sizeof row, "| `%s` | %s |", cmds[i]->name, cmds[i]->summary);
        assert_non_null(strstr(captured_, row));
        assert_string_equal(sk_cmd_name_at(i), cmds[i]->name);
    }
    assert_null(sk_cmd_name_at(n));
    const char *keys[2] = {"device", "dtype"};
    for (int k = 0; k < 2; k++) {
        const sk_cfg_key *key = sk_cfg_find_key(&sk_run_section, keys[k]);
        assert_true(key && key->type == SK_CFG_ENUM && key->choices);
        char names[64], *save = NULL;
        snprintf(names, sizeof names, "%s", key->choices);
        int i = 0;
        for (char *t = strtok_r(names, "|", &save); t; t = strtok_r(NULL, "|", &save), i++) {
            sk_device d = SK_CPU;
            sk_dtype dt = SK_F32;
            int rc = k == 0 ? sk_shim_parse_device(t, &d) : sk_shim_parse_dtype(t, &dt);
            assert_int_equal(rc, SK_OK);
            assert_int_equal(k == 0 ? (int)d : (int)dt, i);
        }
        assert_true(i >= 2);
    }
}

/* ---- usage errors: exit 2 and a one-line message ---------------------------------- */

static void test_usage_errors(void **state)
{
    (void)state;
    assert_int_equal(CLI_("shrink", "confg"), SK_CLI_EXIT_USAGE);
    assert_string_equal(sk_error_last(), "unknown command 'confg' (did you mean 'config'?)");
    assert_int_equal(CLI_("shrink", "--frobnicate"), SK_CLI_EXIT_USAGE);
    assert_string_equal(sk_error_last(), "unknown option '--frobnicate' before the command (see 'shrink --help')");
    assert_int_equal(CLI_("shrink", "config", "--config"), SK_CLI_EXIT_USAGE);
    assert_string_equal(sk_error_last(), "--config needs a FILE");
    assert_int_equal(CLI_("shrink", "config", "--set"), SK_CLI_EXIT_USAGE);
    assert_string_equal(sk_error_last(), "--set needs section.key=value");
    assert_int_equal(CLI_("shrink", "config", "--bogus"), SK_CLI_EXIT_USAGE);
    assert_string_equal(sk_error_last(), "config: unexpected argument '--bogus' (see 'shrink config --help')");
    assert_int_equal(CLI_("shrink", "config", "--set", "run.threads=-1"), SK_CLI_EXIT_USAGE);
    assert_string_equal(sk_error_last(), "--set run.threads=-1: run.threads: -1 is below the minimum 0");
    assert_int_equal(CLI_("shrink", "config", "--config", SK_CLI_TEST_DATA "/cli_bad_key.yaml"), SK_CLI_EXIT_USAGE);
    assert_string_equal(sk_error_last(),
                        SK_CLI_TEST_DATA "/cli_bad_key.yaml:3: unknown key 'run.sed' (did you mean 'run.seed'?)");
    assert_int_equal(CLI_("shrink", "config", "--config", "a.yaml", "--config", "b.yaml"), SK_CLI_EXIT_USAGE);
    assert_string_equal(sk_error_last(), "--config given twice ('a.yaml' and 'b.yaml')");
    /* run.device=cuda is checked before the command: an error without a GPU */
    if (sk_shim_cuda_available()) {
        assert_int_equal(CLI_("shrink", "config", "--set", "run.device=cuda"), SK_CLI_EXIT_OK);
    } else {
        assert_int_equal(CLI_("shrink", "config", "--set", "run.device=cuda"), SK_CLI_EXIT_USAGE);
        assert_string_equal(sk_error_last(), "run.device is 'cuda' but no CUDA device is usable in this "
                                             "build/machine (use run.device=cpu)");
    }
    assert_int_equal(CLI_("shrink", "config", "--set", "run.threads=1"), SK_CLI_EXIT_OK);
    assert_int_equal(sk_shim_get_num_threads(), 1);
    assert_int_equal(CLI_("shrink", "config", "--config", SK_CLI_TEST_DATA), SK_CLI_EXIT_USAGE);
    assert_string_equal(sk_error_last(), SK_CLI_TEST_DATA ": Is a directory");
    assert_int_equal(CLI_("shrink", "config", "--config", "/nonexistent/x.yaml"), SK_CLI_EXIT_USAGE);
    assert_string_equal(sk_error_last(), "/nonexistent/x.yaml: No such file or directory");
}

/* ---- `shrink config`: defaults <- file <- --set, printed YAML loads back -------- */

static void test_config_command(void **state)
{
    (void)state;
    int code = CLI_("shrink", "config", "--config", SK_CLI_TEST_DATA "/cli_good.yaml", "--set", "run.seed=7",
                    "--set=log.every=3", "--set", "run.seed=9");
    if (code) fail_msg("%s", sk_error_last());
    /* the output holds every registered section: load it back into all */
    int n;
    const sk_cfg_section *const *secs = sk_cli_sections(&n);
    void **b = calloc((size_t)n, sizeof *b);
    for (int i = 0; i < n; i++) b[i] = calloc(1, secs[i]->size);
    assert_int_equal(sk_cfg_defaults(secs, n, b), SK_OK);
    if (sk_cfg_load_string("stdout", captured_, strlen(captured_), secs, n, b)) fail_msg("%s", sk_error_last());
    sk_run_config run = *(sk_run_config *)b[0]; /* run and log come first */
    sk_log_config log = *(sk_log_config *)b[1];
    for (int i = 0; i < n; i++) free(b[i]);
    free(b);
    assert_int_equal(run.seed, 9);                 /* last --set wins */
    assert_string_equal(run.out_dir, "runs/test"); /* from the file */
    assert_int_equal(run.overwrite, 1);            /* from the file */
    assert_int_equal(log.every, 3);                /* --set= form over the file's 5 */
    assert_int_equal(log.all_ranks, 0);            /* default */
    /* the effective config is also readable while a command runs */
    assert_null(sk_cli_section_values("run"));
    /* bf16 is refused up front, as a config error, on a build without CUDA */
    code = CLI_("shrink", "config", "--set", "run.dtype=bf16");
    if (sk_shim_cuda_available()) {
        assert_int_equal(code, 0);
    } else {
        assert_int_equal(code, SK_CLI_EXIT_USAGE);
        assert_non_null(strstr(sk_error_last(), "run.dtype = bf16 needs a CUDA build"));
    }
}

/* ---- the real binary --------------------------------------------------------- */

static void test_binary(void **state)
{
    (void)state;
    run_result r = run_(BIN_ " config --config " SK_CLI_TEST_DATA "/cli_bad_value.yaml");
    assert_int_equal(r.status, SK_CLI_EXIT_USAGE);
    assert_string_equal(r.err, "shrink: " SK_CLI_TEST_DATA
                               "/cli_bad_value.yaml:2: log.level: 'loud' is not one of error|warn|info|debug\n");
    assert_string_equal(r.out, "");
    run_free_(&r);

    r = run_(BIN_ " config --config " SK_CLI_TEST_DATA "/cli_bad_key.yaml");
    assert_int_equal(r.status, SK_CLI_EXIT_USAGE);
    assert_int_equal(count_lines_(r.err), 1);
    assert_non_null(strstr(r.err, "cli_bad_key.yaml:3: unknown key 'run.sed' (did you mean 'run.seed'?)"));
    run_free_(&r);

    r = run_(BIN_ " config --config " SK_CLI_TEST_DATA "/cli_good.yaml --set log.level=debug");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "  seed: 42"));
    assert_non_null(strstr(r.err, "shrink debug: running 'config'"));
    run_free_(&r);

    r = run_(BIN_ " config --config " SK_CLI_TEST_DATA "/cli_good.yaml");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, ""); /* info level: config logs nothing */
    run_free_(&r);

    r = run_(BIN_);
    assert_int_equal(r.status, SK_CLI_EXIT_USAGE);
    assert_non_null(strstr(r.err, "shrink: no command given (see 'shrink --help')\n"));
    run_free_(&r);

    r = run_(BIN_ " --help");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "commands:"));
    run_free_(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_table),
        cmocka_unit_test(test_section_table),
        cmocka_unit_test(test_main_help),
        cmocka_unit_test(test_command_help),
        cmocka_unit_test(test_names_from_registries),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_config_command),
        cmocka_unit_test(test_binary),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(captured_);
    return rc;
}
