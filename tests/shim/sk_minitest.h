/* sk_minitest.h - the handful of cmocka names test_shim.c uses, for a machine
 * with libtorch but no libcmocka (an SK_SHIM_ONLY build, scripts/gpu-check.sh).
 * Same meaning as cmocka's: a failed assertion reports file:line and ends that
 * test (longjmp back to the runner); the other tests still run; the runner
 * returns the number that failed. Nothing more of cmocka is provided. */
#ifndef SK_MINITEST_H
#define SK_MINITEST_H

#include <math.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct CMUnitTest {
    const char *name;
    void (*fn)(void **state);
};
#define cmocka_unit_test(f) \
    {                       \
#f, f               \
    }

static jmp_buf sk_mt_jmp_;

static void sk_mt_fail_(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: %s\n", file, line, what);
    longjmp(sk_mt_jmp_, 1);
}

static void sk_mt_int_(intmax_t a, intmax_t b, const char *file, int line, const char *what)
{
    if (a == b) return;
    fprintf(stderr, "%s:%d: %jd != %jd\n", file, line, a, b);
    sk_mt_fail_(file, line, what);
}

/* cmocka's rule: equal, or within epsilon (so inf == inf passes). */
static void sk_mt_float_(double a, double b, double eps, const char *file, int line, const char *what)
{
    if (a == b || fabs(a - b) <= eps) return;
    fprintf(stderr, "%s:%d: %g != %g (epsilon %g)\n", file, line, a, b, eps);
    sk_mt_fail_(file, line, what);
}

#define SK_MT_CHECK_(cond, what)                            \
    do {                                                    \
        if (!(cond)) sk_mt_fail_(__FILE__, __LINE__, what); \
    } while (0)
#define assert_true(c) SK_MT_CHECK_((c), "assert_true(" #c ")")
#define assert_null(p) SK_MT_CHECK_((p) == NULL, "assert_null(" #p ")")
#define assert_non_null(p) SK_MT_CHECK_((p) != NULL, "assert_non_null(" #p ")")
#define assert_string_equal(a, b) SK_MT_CHECK_(strcmp((a), (b)) == 0, "assert_string_equal(" #a ", " #b ")")
#define assert_int_equal(a, b) \
    sk_mt_int_((intmax_t)(a), (intmax_t)(b), __FILE__, __LINE__, "assert_int_equal(" #a ", " #b ")")
#define assert_float_equal(a, b, eps) \
    sk_mt_float_((a), (b), (eps), __FILE__, __LINE__, "assert_float_equal(" #a ", " #b ")")

static int sk_mt_run_(const char *group, const struct CMUnitTest *tests, size_t n, int (*setup)(void **),
                      int (*teardown)(void **))
{
    void *state = NULL;
    if (setup && setup(&state)) {
        fprintf(stderr, "%s: group setup failed\n", group);
        return 1;
    }
    volatile int failed = 0;
    for (volatile size_t i = 0; i < n; i++) {
        if (setjmp(sk_mt_jmp_) == 0) {
            tests[i].fn(&state);
            printf("[       OK ] %s\n", tests[i].name);
        } else {
            printf("[  FAILED  ] %s\n", tests[i].name);
            failed++;
        }
    }
    if (teardown) teardown(&state);
    printf("%s: %zu test(s) run, %d failed\n", group, n, failed);
    return failed;
}
#define cmocka_run_group_tests_name(group, tests, setup, teardown) \
    sk_mt_run_((group), (tests), sizeof(tests) / sizeof((tests)[0]), (setup), (teardown))

#endif
