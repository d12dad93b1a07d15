/* test_select_config.c - the `select` section against the registries: every
 * registered scorer and strategy is a valid value and is listed by --help
 * and the docs (the names come from the registry tables, not a copy), the
 * fixed-choice keys parse into their C enums, and bad names get one line
 * with the registered names and a near miss. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sk_select_config.h"
#include "sk_select_registry.h"

static const sk_cfg_section *const secs_[1] = {&sk_select_section};

static int set_(sk_select_config *c, const char *assignment)
{
    void *const bases[1] = {c};
    return sk_cfg_apply_set(assignment, secs_, 1, bases);
}

static void defaults_(sk_select_config *c)
{
    void *const bases[1] = {c};
    assert_int_equal(sk_cfg_defaults(secs_, 1, bases), SK_OK);
}

/* The output of print(f, select section) as a malloc'd string. */
static char *capture_(void (*print)(FILE *, const sk_cfg_section *const *, int))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    print(f, secs_, 1);
    fclose(f);
    return buf;
}

/* The line of `text` that starts (after indentation) with `start`. */
static char *line_(const char *text, const char *start)
{
    const char *p = strstr(text, start);
    assert_non_null(p);
    size_t n = strcspn(p, "\n");
    char *line = malloc(n + 1);
    memcpy(line, p, n);
    line[n] = '\0';
    return line;
}

/* "|name|" occurs in "|" + choices + "|", so whole names are matched. */
static int lists_(const char *choices, const char *name)
{
    char hay[2048], needle[256];
    snprintf(hay, sizeof hay, "|%s|", choices);
    snprintf(needle, sizeof needle, "|%s|", name);
    return strstr(hay, needle) != NULL;
}

/* The allowed-values column of a help line: the one token holding '|'. */
static char *choices_of_(const char *line)
{
    const char *bar = strchr(line, '|');
    assert_non_null(bar);
    const char *a = bar;
    while (a > line && a[-1] != ' ') a--;
    size_t n = strcspn(a, " ");
    char *out = malloc(n + 1);
    memcpy(out, a, n);
    out[n] = '\0';
    return out;
}

/* Every name of a registry (name_at) is accepted by select.<key> and listed
 * on its --help line, which lists nothing else but `extra` (or NULL). */
static void check_registry_key_(const char *key, const char *(*name_at)(int), const char *extra)
{
    sk_select_config c;
    char set[256], start[64];
    char *help = capture_(sk_cfg_print_help);
    snprintf(start, sizeof start, "select.%s ", key);
    char *line = line_(help, start);
    char *choices = choices_of_(line);
    int n = 1, count = 0;
    for (const char *p = choices; *p; p++) n += *p == '|';
    for (; name_at(count); count++) {
        const char *name = name_at(count);
        defaults_(&c);
        snprintf(set, sizeof set, "select.%s=%s", key, name);
        assert_int_equal(set_(&c, set), SK_OK);
        assert_string_equal((const char *)&c + sk_cfg_find_key(&sk_select_section, key)->offset, name);
        if (!lists_(choices, name)) fail_msg("select.%s --help lacks '%s': %s", key, name, line);
    }
    assert_int_equal(n, count + (extra ? 1 : 0));
    if (extra) assert_true(lists_(choices, extra));
    free(choices);
    free(line);
    free(help);
}

static void test_every_scorer_is_a_choice(void **st)
{
    (void)st;
    assert_true(sk_scorer_count() >= 10);
    for (int i = 0; i < sk_scorer_count(); i++) assert_string_equal(sk_scorer_name_at(i), sk_scorer_at(i)->name);
    assert_null(sk_scorer_name_at(sk_scorer_count()));
    check_registry_key_("scorer", sk_scorer_name_at, "none");
}

static void test_every_strategy_is_a_choice(void **st)
{
    (void)st;
    for (int i = 0; i < sk_strategy_count(); i++) assert_string_equal(sk_strategy_name_at(i), sk_strategy_at(i)->name);
    assert_null(sk_strategy_name_at(sk_strategy_count()));
    check_registry_key_("strategy", sk_strategy_name_at, NULL);
    /* the docs table lists them too, '|' escaped */
    char *md = capture_(sk_cfg_print_markdown);
    char *mdline = line_(md, "| `select.strategy` |");
    for (int i = 0; i < sk_strategy_count(); i++) assert_non_null(strstr(mdline, sk_strategy_at(i)->name));
    assert_non_null(strstr(mdline, "\\|"));
    free(mdline);
    free(md);
}

/* A bad name: the registered names and the closest one, in one line. */
static void test_unknown_names(void **st)
{
    (void)st;
    sk_select_config c;
    char want[2048], list[1024] = "none";
    defaults_(&c);
    for (int i = 0; i < sk_scorer_count(); i++) {
        strcat(list, "|");
        strcat(list, sk_scorer_at(i)->name);
    }
    assert_int_equal(set_(&c, "select.scorer=tom"), SK_EINVAL);
    snprintf(want, sizeof want, "--set select.scorer=tom: select.scorer: 'tom' is not one of %s (did you mean 'tome'?)",
             list);
    assert_string_equal(sk_error_last(), want);
    assert_string_equal(c.scorer, "none"); /* unchanged */
    assert_int_equal(set_(&c, "select.strategy=prun"), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "(did you mean 'prune'?)"));
    /* lookup outside a config: the same words, SK_ENOTFOUND */
    assert_null(sk_scorer_find("nope"));
    assert_int_equal(sk_error_last_code(), SK_ENOTFOUND);
    snprintf(want, sizeof want, "scorer: 'nope' is not one of %s", list + strlen("none|"));
    assert_memory_equal(sk_error_last(), want, strlen(want));
    assert_null(sk_strategy_find("merg"));
    assert_non_null(strstr(sk_error_last(), "strategy: 'merg' is not one of prune|"));
    assert_non_null(strstr(sk_error_last(), "(did you mean 'merge'?)"));
}

/* Each fixed-choice key: defaults, every name -> its enum value, and the
 * effective config writes the name back. */
static void test_enum_keys(void **st)
{
    (void)st;
    sk_select_config c;
    defaults_(&c);
    assert_int_equal(c.schedule, SK_SCHEDULE_NONE);
    assert_int_equal(c.norm_source, SK_NORM_HIDDEN);
    assert_int_equal(c.merge_into, SK_MERGE_NEAREST);
    assert_int_equal(c.merge_weight, SK_MERGE_BY_SIZE);
    static const struct {
        const char *set;
        size_t offset;
        int want;
    } cases[] = {
        {"select.schedule=none", offsetof(sk_select_config, schedule), SK_SCHEDULE_NONE},
        {"select.schedule=linear", offsetof(sk_select_config, schedule), SK_SCHEDULE_LINEAR},
        {"select.schedule=cosine", offsetof(sk_select_config, schedule), SK_SCHEDULE_COSINE},
        {"select.norm_source=hidden", offsetof(sk_select_config, norm_source), SK_NORM_HIDDEN},
        {"select.norm_source=key", offsetof(sk_select_config, norm_source), SK_NORM_KEY},
        {"select.merge_into=nearest", offsetof(sk_select_config, merge_into), SK_MERGE_NEAREST},
        {"select.merge_into=fused", offsetof(sk_select_config, merge_into), SK_MERGE_FUSED},
        {"select.merge_weight=size", offsetof(sk_select_config, merge_weight), SK_MERGE_BY_SIZE},
        {"select.merge_weight=score", offsetof(sk_select_config, merge_weight), SK_MERGE_BY_SCORE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int v = -1;
        assert_int_equal(set_(&c, cases[i].set), SK_OK);
        memcpy(&v, (const char *)&c + cases[i].offset, sizeof v);
        if (v != cases[i].want) fail_msg("%s gave %d, want %d", cases[i].set, v, cases[i].want);
    }
    assert_int_equal(set_(&c, "select.merge_weight=mass"), SK_EINVAL);
    assert_string_equal(sk_error_last(),
                        "--set select.merge_weight=mass: select.merge_weight: 'mass' is not one of size|score");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    void *const bases[1] = {&c};
    assert_int_equal(sk_cfg_write(f, secs_, 1, bases), SK_OK);
    fclose(f);
    assert_non_null(strstr(buf, "  schedule: \"cosine\""));
    assert_non_null(strstr(buf, "  merge_weight: \"score\""));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_scorer_is_a_choice),
        cmocka_unit_test(test_every_strategy_is_a_choice),
        cmocka_unit_test(test_unknown_names),
        cmocka_unit_test(test_enum_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
