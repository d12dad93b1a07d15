/* test_cli_mpi.c - `shrink` under a real `mpirun -np 2`: only rank 0
 * prints command output and logs (unless log.all_ranks), and a config
 * error on every rank ends the job with a non-zero exit instead of a hang
 * (each run is wrapped in `timeout`, whose 124 would mean a hang). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli_run_util.h"

#ifndef SK_SHRINK_BIN
#error "SK_SHRINK_BIN must name the shrink executable"
#endif

#define MPIRUN_ "timeout 60 " SK_MPIEXEC " --oversubscribe -np 2 "

static int setup_(void **state)
{
    (void)state;
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    /* Sanitizer build: Open MPI's own allocations would fail LeakSanitizer in
     * the ranks (our code's leaks are checked by the in-process cli test). */
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
    return 0;
}

static void test_rank0_prints(void **state)
{
    (void)state;
    run_result r =
        run_(MPIRUN_ SK_SHRINK_BIN " config --config " SK_CLI_TEST_DATA "/cli_good.yaml --set log.level=debug");
    if (r.status != 0) fail_msg("exit %d, stderr:\n%s", r.status, r.err);
    assert_int_equal(count_sub_(r.out, "# effective shrink config"), 1); /* command output once */
    assert_int_equal(count_sub_(r.out, "  seed: 42"), 1);
    assert_int_equal(count_sub_(r.err, "running 'config'"), 1);               /* log line once ... */
    assert_int_equal(count_sub_(r.err, "shrink debug: running 'config'"), 1); /* ... from rank 0 */
    assert_null(strstr(r.err, "shrink[1]"));
    run_free_(&r);
}

static void test_all_ranks_log(void **state)
{
    (void)state;
    run_result r = run_(MPIRUN_ SK_SHRINK_BIN " config --set log.level=debug --set log.all_ranks=true");
    if (r.status != 0) fail_msg("exit %d, stderr:\n%s", r.status, r.err);
    assert_int_equal(count_sub_(r.out, "# effective shrink config"), 1);
    assert_int_equal(count_sub_(r.err, "running 'config'"), 2);
    assert_non_null(strstr(r.err, "shrink[0] debug: running 'config'"));
    assert_non_null(strstr(r.err, "shrink[1] debug: running 'config'"));
    run_free_(&r);
}

static void test_config_error_aborts(void **state)
{
    (void)state;
    run_result r = run_(MPIRUN_ SK_SHRINK_BIN " config --set run.seed=x");
    assert_int_not_equal(r.status, 0);
    assert_int_not_equal(r.status, 124); /* timeout: the job hung */
    assert_non_null(strstr(r.err, "--set run.seed=x: run.seed: expected an integer, got 'x'"));
    assert_string_equal(r.out, "");
    run_free_(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank0_prints),
        cmocka_unit_test(test_all_ranks_log),
        cmocka_unit_test(test_config_error_aborts),
    };
    return cmocka_run_group_tests(tests, setup_, NULL);
}
