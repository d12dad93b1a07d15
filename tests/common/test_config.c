/* test_config.c - the config engine: defaults, YAML files, --set, every
 * bad-input class with its exact one-line message, bounds (inclusive and
 * exclusive), lists, write->load round trip, help text; plus the run/log
 * sections, the progress reporter and the monotonic clock. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sk_config.h"
#include "sk_error.h"
#include "sk_log.h"
#include "sk_progress.h"
#include "sk_run_config.h"
#include "sk_time.h"

/* ---- a test section with every type ------------------------------------ */

typedef struct {
    int64_t steps;
    double lr;
    int flag;
    char name[SK_CFG_STR_MAX];
    sk_cfg_int_list layers;
    sk_cfg_float_list ws;
    double frac;
    char mode[SK_CFG_STR_MAX];
    int sched;                 /* test_sched: index into "none|linear|cosine" */
    int fruit;                 /* index into the fruit registry */
    char pick[SK_CFG_STR_MAX]; /* a registered fruit, kept as text */
} train_t;

typedef enum { SCHED_NONE, SCHED_LINEAR, SCHED_COSINE } test_sched;

/* A registry as modules have them: names in a table, read through
 * choice_at; nfruits_ grows it in test_registry_choices. */
static const char *const fruits_[] = {"apple", "pear", "plum", "quince"};
static int nfruits_ = 3;
static const char *fruit_at_(int i) { return i >= 0 && i < nfruits_ ? fruits_[i] : NULL; }

#define T_(f) offsetof(train_t, f)
/* clang-format off */
static const sk_cfg_key train_keys_[] = {
    {.name = "steps", .type = SK_CFG_INT, .offset = T_(steps), .def = "100", .min = 1, .max = 1e6,
     .help = "optimizer steps"},
    {.name = "lr", .type = SK_CFG_FLOAT, .offset = T_(lr), .def = "3e-4", .min = 0, .max = 1,
     .flags = SK_CFG_EXCL_MIN, .help = "learning rate"},
    {.name = "flag", .type = SK_CFG_BOOL, .offset = T_(flag), .def = "false", .help = "a switch"},
    {.name = "name", .type = SK_CFG_STRING, .offset = T_(name), .def = "abc", .help = "free text"},
    {.name = "layers", .type = SK_CFG_INT_LIST, .offset = T_(layers), .def = "[2, 3]", .min = 0, .max = 63,
     .help = "layer indices"},
    {.name = "ws", .type = SK_CFG_FLOAT_LIST, .offset = T_(ws), .def = "", .help = "weights"},
    {.name = "frac", .type = SK_CFG_FLOAT, .offset = T_(frac), .def = "0.5", .min = 0, .max = 1,
     .flags = SK_CFG_EXCL_MAX, .help = "kept fraction"},
    {.name = "mode", .type = SK_CFG_STRING, .offset = T_(mode), .def = "prune", .choices = "prune|merge",
     .help = "strategy"},
    {.name = "sched", .type = SK_CFG_ENUM, .offset = T_(sched), .def = "none", .choices = "none|linear|cosine",
     .help = "an enum from a fixed list"},
    {.name = "fruit", .type = SK_CFG_ENUM, .offset = T_(fruit), .def = "pear", .choice_at = fruit_at_,
     .help = "an enum over a registry"},
    {.name = "pick", .type = SK_CFG_STRING, .offset = T_(pick), .def = "apple", .choice_at = fruit_at_,
     .help = "a string checked against a registry"},
};
/* clang-format on */
static const sk_cfg_section train_sec_ = {"train", "training", train_keys_,
                                          (int)(sizeof train_keys_ / sizeof *train_keys_), sizeof(train_t)};

typedef struct {
    int64_t seed;
} other_t;
/* clang-format off */
static const sk_cfg_key other_keys_[] = {
    {.name = "seed", .type = SK_CFG_INT, .offset = offsetof(other_t, seed), .def = "7", .help = "seed"},
};
/* clang-format on */
static const sk_cfg_section other_sec_ = {"other", "other things", other_keys_, 1, sizeof(other_t)};

static const sk_cfg_section *const secs_[] = {&train_sec_, &other_sec_};
static train_t tr_;
static other_t ot_;
static void *const bases_[] = {&tr_, &ot_};

static int setup_(void **state)
{
    (void)state;
    sk_error_clear();
    return sk_cfg_defaults(secs_, 2, bases_) == SK_OK ? 0 : -1;
}

static int load_(const char *text) { return sk_cfg_load_string("t.yaml", text, strlen(text), secs_, 2, bases_); }
static int set_(const char *a) { return sk_cfg_apply_set(a, secs_, 2, bases_); }

/* Loading `text` fails with SK_EINVAL and exactly `msg`. */
#define BAD_(text, msg)                            \
    do {                                           \
        assert_int_equal(load_(text), SK_EINVAL);  \
        assert_string_equal(sk_error_last(), msg); \
    } while (0)
#define BAD_SET_(a, msg)                           \
    do {                                           \
        assert_int_equal(set_(a), SK_EINVAL);      \
        assert_string_equal(sk_error_last(), msg); \
    } while (0)

/* ---- good input ---------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(tr_.steps, 100);
    assert_true(tr_.lr == 3e-4);
    assert_int_equal(tr_.flag, 0);
    assert_string_equal(tr_.name, "abc");
    assert_int_equal(tr_.layers.n, 2);
    assert_int_equal(tr_.layers.v[0], 2);
    assert_int_equal(tr_.layers.v[1], 3);
    assert_int_equal(tr_.ws.n, 0);
    assert_true(tr_.frac == 0.5);
    assert_string_equal(tr_.mode, "prune");
    assert_int_equal(ot_.seed, 7);
}

static void test_good_file(void **state)
{
    (void)state;
    const char *text = "# a comment\n"
                       "train:\n"
                       "  steps: 200      # trailing comment\n"
                       "  lr: 1.0e-3\n"
                       "  flag: yes\n"
                       "  name: \"hello: world\"\n"
                       "  layers: [0, 5, 63]\n"
                       "  ws:\n"
                       "    - 0.25\n"
                       "    - -1.5e2\n"
                       "  mode: 'merge'\n"
                       "other:\n"
                       "  seed: -3\n";
    assert_int_equal(load_(text), SK_OK);
    assert_int_equal(tr_.steps, 200);
    assert_true(tr_.lr == 1e-3);
    assert_int_equal(tr_.flag, 1);
    assert_string_equal(tr_.name, "hello: world");
    assert_int_equal(tr_.layers.n, 3);
    assert_int_equal(tr_.layers.v[2], 63);
    assert_int_equal(tr_.ws.n, 2);
    assert_true(tr_.ws.v[0] == 0.25 && tr_.ws.v[1] == -150.0);
    assert_string_equal(tr_.mode, "merge");
    assert_int_equal(ot_.seed, -3);
    assert_true(tr_.frac == 0.5); /* untouched keys keep their value */
}

static void test_empty_inputs(void **state)
{
    (void)state;
    assert_int_equal(load_(""), SK_OK);
    assert_int_equal(load_("# only a comment\n"), SK_OK);
    assert_int_equal(load_("train:\nother:\n"), SK_OK); /* empty sections */
    assert_int_equal(load_("train:\n  name:\n  layers: []\n"), SK_OK);
    assert_string_equal(tr_.name, "");
    assert_int_equal(tr_.layers.n, 0);
    assert_int_equal(tr_.steps, 100);
}

static void test_bools(void **state)
{
    (void)state;
    const char *t[] = {"true", "yes", "on", "1", "True", "YES"};
    const char *f[] = {"false", "no", "off", "0", "False", "NO"};
    char buf[64];
    for (int i = 0; i < 6; i++) {
        snprintf(buf, sizeof buf, "train.flag=%s", t[i]);
        assert_int_equal(set_(buf), SK_OK);
        assert_int_equal(tr_.flag, 1);
        snprintf(buf, sizeof buf, "train.flag=%s", f[i]);
        assert_int_equal(set_(buf), SK_OK);
        assert_int_equal(tr_.flag, 0);
    }
    BAD_SET_("train.flag=maybe", "--set train.flag=maybe: train.flag: expected true or false, got 'maybe'");
    BAD_SET_("train.flag=2", "--set train.flag=2: train.flag: expected true or false, got '2'");
}

static void test_load_file_and_missing(void **state)
{
    (void)state;
    char path[] = "/tmp/sk_test_cfg_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "train:\n  steps: 5\n  stepz: 6\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char want[256];
    assert_int_equal(sk_cfg_load_file(path, secs_, 2, bases_), SK_EINVAL);
    snprintf(want, sizeof want, "%s:3: unknown key 'train.stepz' (did you mean 'train.steps'?)", path);
    assert_string_equal(sk_error_last(), want);
    assert_int_equal(tr_.steps, 5); /* applied up to the error */
    unlink(path);
    assert_int_equal(sk_cfg_load_file(path, secs_, 2, bases_), SK_EIO);
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    assert_string_equal(sk_error_last(), want);
}

/* ---- bad input: each class with its exact message ------------------------ */

static void test_unknown_names(void **state)
{
    (void)state;
    BAD_("train:\n  steps: 1\n  lrr: 0.1\n", "t.yaml:3: unknown key 'train.lrr' (did you mean 'train.lr'?)");
    BAD_("train:\n  setps: 1\n", "t.yaml:2: unknown key 'train.setps' (did you mean 'train.steps'?)");
    /* a key in the wrong section points at the right one */
    BAD_("train:\n  seed: 1\n", "t.yaml:2: unknown key 'train.seed' (did you mean 'other.seed'?)");
    BAD_("train:\n  completely_else: 1\n", "t.yaml:2: unknown key 'train.completely_else'");
    BAD_("trian:\n  steps: 1\n", "t.yaml:1: unknown section 'trian' (did you mean 'train'?)");
    BAD_("\n\nzzzzzzzz:\n  a: 1\n", "t.yaml:3: unknown section 'zzzzzzzz' (known sections: train, other)");
}

static void test_wrong_types(void **state)
{
    (void)state;
    BAD_("train:\n  lr: fast\n", "t.yaml:2: train.lr: expected a number, got 'fast'");
    BAD_("train:\n  steps: 1.5\n", "t.yaml:2: train.steps: expected an integer, got '1.5'");
    BAD_("train:\n  steps: 1e3\n", "t.yaml:2: train.steps: expected an integer, got '1e3'");
    BAD_("train:\n  steps: 0x10\n", "t.yaml:2: train.steps: expected an integer, got '0x10'");
    BAD_("train:\n  steps: 99999999999999999999\n",
         "t.yaml:2: train.steps: 99999999999999999999 is out of range for a 64-bit integer");
    BAD_("train:\n  lr: .nan\n", "t.yaml:2: train.lr: expected a number, got '.nan'");
    BAD_("train:\n  lr: nan\n", "t.yaml:2: train.lr: expected a finite number, got 'nan'");
    BAD_("train:\n  lr: 1e999\n", "t.yaml:2: train.lr: expected a finite number, got '1e999'");
    BAD_("train:\n  steps: [1, 2]\n", "t.yaml:2: train.steps: expected an integer, got a list");
    BAD_("train:\n  name:\n    a: 1\n", "t.yaml:3: train.name: expected a string, got a mapping");
    BAD_("train:\n  layers: [1, x]\n", "t.yaml:2: train.layers[1]: expected an integer, got 'x'");
    BAD_("train:\n  layers: [[1], 2]\n", "t.yaml:2: train.layers: list items must be scalars, got a list");
    BAD_("train:\n  mode: prine\n", "t.yaml:2: train.mode: 'prine' is not one of prune|merge (did you mean 'prune'?)");
    BAD_("train:\n  mode: xyzzyq\n", "t.yaml:2: train.mode: 'xyzzyq' is not one of prune|merge");
}

static void test_bounds(void **state)
{
    (void)state;
    BAD_("train:\n  steps: 0\n", "t.yaml:2: train.steps: 0 is below the minimum 1");
    BAD_("train:\n  steps: 1000001\n", "t.yaml:2: train.steps: 1000001 is above the maximum 1000000");
    assert_int_equal(load_("train:\n  steps: 1\n"), SK_OK);                    /* inclusive */
    assert_int_equal(load_("train:\n  steps: 1000000\n"), SK_OK);              /* inclusive */
    BAD_("train:\n  lr: 0\n", "t.yaml:2: train.lr: 0 must be greater than 0"); /* exclusive min */
    BAD_("train:\n  lr: -1e-9\n", "t.yaml:2: train.lr: -1e-9 must be greater than 0");
    assert_int_equal(load_("train:\n  lr: 1\n"), SK_OK); /* inclusive max */
    assert_int_equal(load_("train:\n  lr: 1e-300\n"), SK_OK);
    BAD_("train:\n  frac: 1\n", "t.yaml:2: train.frac: 1 must be less than 1"); /* exclusive max */
    assert_int_equal(load_("train:\n  frac: 0\n"), SK_OK);
    BAD_("train:\n  layers: [1, 64]\n", "t.yaml:2: train.layers[1]: 64 is above the maximum 63");
    BAD_("train:\n  layers:\n    - 1\n    - -1\n", "t.yaml:4: train.layers[1]: -1 is below the minimum 0");
}

static void test_lists(void **state)
{
    (void)state;
    char big[1024] = "train:\n  layers: [";
    for (int i = 0; i < SK_CFG_LIST_MAX; i++) strcat(big, i ? ", 1" : "1");
    strcat(big, "]\n");
    assert_int_equal(load_(big), SK_OK);
    assert_int_equal(tr_.layers.n, SK_CFG_LIST_MAX);
    big[strlen(big) - 2] = '\0';
    strcat(big, ", 1]\n");
    BAD_(big, "t.yaml:2: train.layers: too many items (max 64)");
    /* a failed list leaves the previous value whole */
    assert_int_equal(tr_.layers.n, SK_CFG_LIST_MAX);
    assert_int_equal(set_("train.layers=4,5"), SK_OK);
    assert_int_equal(tr_.layers.n, 2);
    assert_int_equal(tr_.layers.v[1], 5);
    assert_int_equal(set_("train.layers=[ 7 ]"), SK_OK);
    assert_int_equal(tr_.layers.n, 1);
    assert_int_equal(tr_.layers.v[0], 7);
    assert_int_equal(set_("train.layers=[]"), SK_OK);
    assert_int_equal(tr_.layers.n, 0);
    assert_int_equal(set_("train.ws=0.5, 1e-3"), SK_OK);
    assert_int_equal(tr_.ws.n, 2);
    assert_true(tr_.ws.v[1] == 1e-3);
    assert_int_equal(set_("train.ws="), SK_OK);
    assert_int_equal(tr_.ws.n, 0);
    BAD_SET_("train.layers=[1,2", "--set train.layers=[1,2: train.layers: expected a list like [1, 2], got '[1,2'");
    BAD_SET_("train.layers=1,,2", "--set train.layers=1,,2: train.layers[1]: expected an integer, got ''");
}

static void test_structure_errors(void **state)
{
    (void)state;
    BAD_("train:\n  steps: 1\n  steps: 2\n", "t.yaml:3: duplicate key 'train.steps' (first set on line 2)");
    BAD_("train:\n  steps: 1\nother:\n  seed: 1\ntrain:\n  lr: 0.1\n",
         "t.yaml:5: duplicate section 'train' (first on line 1)");
    BAD_("train:\n  steps: 1\n lr: 2\n",
         "t.yaml:3: YAML syntax error: did not find expected key while parsing a block mapping");
    BAD_("train:\n  layers: [1, 2\n",
         "t.yaml:3: YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence");
    BAD_("train: 5\n", "t.yaml:1: section 'train' must be a mapping of keys, got a scalar");
    BAD_("- train\n", "t.yaml:1: expected a mapping of sections (e.g. 'train:'), got a list");
    BAD_("just text\n", "t.yaml:1: expected a mapping of sections (e.g. 'train:'), got a scalar");
    BAD_("train:\n  steps: 1\n---\nother:\n  seed: 2\n", "t.yaml:3: only one YAML document is allowed in a config");
    BAD_("train:\n  steps: &a 5\nother:\n  seed: *a\n", "t.yaml:4: YAML aliases (*name) are not supported in configs");
    BAD_("train:\n  [a]: 1\n", "t.yaml:2: section 'train': expected a key name, got a list");
    char longs[SK_CFG_STR_MAX + 64];
    memset(longs, 'x', sizeof longs);
    memcpy(longs, "train.name=", 11);
    longs[sizeof longs - 1] = '\0';
    assert_int_equal(set_(longs), SK_EINVAL);
    char want[128];
    snprintf(want, sizeof want, "train.name: string is too long (%zu bytes, max %d)", strlen(longs) - 11,
             SK_CFG_STR_MAX - 1);
    assert_non_null(strstr(sk_error_last(), want));
}

/* ---- --set ----------------------------------------------------------------- */

static void test_set_precedence(void **state)
{
    (void)state;
    /* defaults -> file -> --set, later wins */
    assert_int_equal(tr_.steps, 100);
    assert_int_equal(load_("train:\n  steps: 200\n  lr: 0.01\n"), SK_OK);
    assert_int_equal(tr_.steps, 200);
    assert_int_equal(set_("train.steps=300"), SK_OK);
    assert_int_equal(set_("train.steps=400"), SK_OK);
    assert_int_equal(tr_.steps, 400);
    assert_true(tr_.lr == 0.01);
    assert_int_equal(set_("train.name=a=b"), SK_OK); /* value may hold '=' */
    assert_string_equal(tr_.name, "a=b");
}

static void test_set_errors(void **state)
{
    (void)state;
    BAD_SET_("train.steps=-5", "--set train.steps=-5: train.steps: -5 is below the minimum 1");
    BAD_SET_("train.lrr=1", "--set train.lrr=1: unknown key 'train.lrr' (did you mean 'train.lr'?)");
    BAD_SET_("trian.lr=1", "--set trian.lr=1: unknown key 'trian.lr' (did you mean 'train.lr'?)");
    BAD_SET_("nope.qqqqqqq=1", "--set nope.qqqqqqq=1: unknown section 'nope' (known sections: train, other)");
    BAD_SET_("train.steps", "--set train.steps: expected section.key=value");
    BAD_SET_("steps=3", "--set steps=3: expected section.key=value");
    BAD_SET_(".steps=3", "--set .steps=3: expected section.key=value");
    BAD_SET_("train.=3", "--set train.=3: expected section.key=value");
    BAD_SET_("train.steps= 5", "--set train.steps= 5: train.steps: expected an integer, got ' 5'");
    BAD_SET_("train.steps=", "--set train.steps=: train.steps: expected an integer, got ''");
    /* config files are UTF-8 (libyaml), so --set values are too: what shrink config writes reads back */
    BAD_SET_("train.name=a\xd3\xf5", "--set train.name=a\xd3\xf5"
                                     ": value is not valid UTF-8 (config files are UTF-8 too)");
    BAD_SET_("train.name=\xed\xa0\x80", "--set train.name=\xed\xa0\x80"
                                        ": value is not valid UTF-8 (config files are UTF-8 too)");
}

/* ---- write -> load round trip ---------------------------------------------- */

static void test_round_trip(void **state)
{
    (void)state;
    assert_int_equal(set_("train.steps=123456"), SK_OK);
    assert_int_equal(set_("train.lr=0.1"), SK_OK);
    assert_int_equal(set_("train.flag=true"), SK_OK);
    assert_int_equal(set_("train.layers=0,63,7"), SK_OK);
    assert_int_equal(set_("train.ws=[0.3, -2.5e-310, 1e300, 0]"), SK_OK);
    assert_int_equal(set_("train.frac=0.30000000000000004"), SK_OK);
    assert_int_equal(set_("other.seed=-9223372036854775808"), SK_OK);
    assert_int_equal(set_("train.sched=cosine"), SK_OK);
    assert_int_equal(set_("train.fruit=plum"), SK_OK);
    assert_int_equal(set_("train.pick=pear"), SK_OK);
    /* a string YAML would otherwise mangle */
    strcpy(tr_.name, "quote \" back\\slash: #hash\n\ttab 'single' \x01 ~");
    /* and what YAML reads as line breaks or unprintable: U+0085 (NEL), U+0080, U+009F, U+2028, U+2029, a BOM,
     * U+FFFF, U+FFFE (fuzz_config, issue 16) */
    strcat(tr_.name, " a\xc2\x85"
                     "b\xc2\x80"
                     "c\xc2\x9f\xe2\x80\xa8\xe2\x80\xa9\xef\xbb\xbf\xc3\xa9\xef\xbf\xbf\xef\xbf\xbe\xf0\x9f\x98\x80");
    train_t t0 = tr_;
    other_t o0 = ot_;

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(sk_cfg_write(f, secs_, 2, bases_), SK_OK);
    fclose(f);

    assert_int_equal(sk_cfg_defaults(secs_, 2, bases_), SK_OK);
    assert_int_not_equal(tr_.steps, t0.steps);
    int rc = sk_cfg_load_string("written", buf, len, secs_, 2, bases_);
    if (rc) fprintf(stderr, "%s\n---\n%s\n", sk_error_last(), buf);
    assert_int_equal(rc, SK_OK);
    assert_memory_equal(&tr_, &t0, sizeof t0);
    assert_memory_equal(&ot_, &o0, sizeof o0);
    free(buf);
}

/* ---- help ------------------------------------------------------------------ */

static char *capture_(void (*fn)(FILE *, const sk_cfg_section *const *, int))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(f, secs_, 2);
    fclose(f);
    return buf;
}

static void test_help(void **state)
{
    (void)state;
    char *h = capture_(sk_cfg_print_help);
    char *md = capture_(sk_cfg_print_markdown);
    char full[128];
    for (int s = 0; s < 2; s++) {
        for (int k = 0; k < secs_[s]->nkeys; k++) {
            snprintf(full, sizeof full, "%s.%s", secs_[s]->name, secs_[s]->keys[k].name);
            assert_non_null(strstr(h, full));
            assert_non_null(strstr(md, full));
            assert_non_null(strstr(h, secs_[s]->keys[k].help));
        }
    }
    assert_non_null(strstr(h, "(0, 1]"));       /* exclusive min */
    assert_non_null(strstr(h, "[0, 1)"));       /* exclusive max */
    assert_non_null(strstr(h, "prune|merge"));  /* choices */
    assert_non_null(strstr(h, "default 3e-4")); /* default */
    assert_non_null(strstr(md, "prune\\|merge"));
    free(h);
    free(md);
}

static void test_edit_distance(void **state)
{
    (void)state;
    assert_int_equal(sk_cfg_edit_distance("", ""), 0);
    assert_int_equal(sk_cfg_edit_distance("lr", "lr"), 0);
    assert_int_equal(sk_cfg_edit_distance("lrr", "lr"), 1);
    assert_int_equal(sk_cfg_edit_distance("setps", "steps"), 1); /* transposition */
    assert_int_equal(sk_cfg_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(sk_cfg_edit_distance("", "abc"), 3);
}

static void test_lookup(void **state)
{
    (void)state;
    int i = -1;
    assert_ptr_equal(sk_cfg_find_section(secs_, 2, "other", &i), &other_sec_);
    assert_int_equal(i, 1);
    assert_null(sk_cfg_find_section(secs_, 2, "x", NULL));
    assert_ptr_equal(sk_cfg_find_key(&train_sec_, "lr"), &train_keys_[1]);
    assert_null(sk_cfg_find_key(&train_sec_, "LR"));
}

/* A default that breaks its own bounds is caught (a table bug). */
static void test_bad_default(void **state)
{
    (void)state;
    static const sk_cfg_key k[] = {{.name = "n", .type = SK_CFG_INT, .def = "0", .min = 1, .max = 10, .help = "n"}};
    static const sk_cfg_section s = {"bad", "", k, 1, sizeof(int64_t)};
    const sk_cfg_section *ss[] = {&s};
    int64_t v;
    void *b[] = {&v};
    assert_int_equal(sk_cfg_defaults(ss, 1, b), SK_EINVAL);
    assert_string_equal(sk_error_last(), "default of bad.n: 0 is below the minimum 1");
    /* an ENUM needs its names */
    static const sk_cfg_key e[] = {{.name = "e", .type = SK_CFG_ENUM, .def = "a", .help = "e"}};
    static const sk_cfg_section se = {"bad", "", e, 1, sizeof(int)};
    const sk_cfg_section *sse[] = {&se};
    assert_int_equal(sk_cfg_defaults(sse, 1, b), SK_EINVAL);
    assert_string_equal(sk_error_last(), "default of bad.e: internal: enum key without choices");
}

/* ---- ENUM keys and registry-backed choices ------------------------------------ */

/* An ENUM parses once into the index of its name: defaults, files and --set. */
static void test_enum_parse(void **state)
{
    (void)state;
    assert_int_equal(tr_.sched, SCHED_NONE);
    assert_int_equal(tr_.fruit, 1); /* "pear" */
    assert_string_equal(tr_.pick, "apple");
    assert_int_equal(set_("train.sched=cosine"), SK_OK);
    assert_int_equal(tr_.sched, SCHED_COSINE);
    assert_int_equal(load_("train:\n  sched: linear\n  fruit: plum\n  pick: \"pear\"\n"), SK_OK);
    assert_int_equal(tr_.sched, SCHED_LINEAR);
    assert_int_equal(tr_.fruit, 2);
    assert_string_equal(tr_.pick, "pear");
}

/* Unknown values: one line naming the key, the valid names and a near miss. */
static void test_enum_errors(void **state)
{
    (void)state;
    BAD_SET_("train.sched=cosin",
             "--set train.sched=cosin: train.sched: 'cosin' is not one of none|linear|cosine (did you mean 'cosine'?)");
    BAD_("train:\n  fruit: kiwi\n", "t.yaml:2: train.fruit: 'kiwi' is not one of apple|pear|plum");
    BAD_("train:\n  pick: plumm\n",
         "t.yaml:2: train.pick: 'plumm' is not one of apple|pear|plum (did you mean 'plum'?)");
    BAD_("train:\n  sched: [none]\n", "t.yaml:2: train.sched: expected a name, got a list");
    BAD_SET_("train.sched=", "--set train.sched=: train.sched: '' is not one of none|linear|cosine");
    BAD_SET_("train.sched=1", "--set train.sched=1: train.sched: '1' is not one of none|linear|cosine");
    assert_int_equal(tr_.sched, SCHED_NONE); /* a rejected value leaves the field */
}

/* sk_cfg_write writes the name back; the file loads to the same index. A
 * field holding no valid index is written as a number that fails to load. */
static void test_enum_write(void **state)
{
    (void)state;
    assert_int_equal(set_("train.sched=linear"), SK_OK);
    assert_int_equal(set_("train.fruit=apple"), SK_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(sk_cfg_write(f, secs_, 2, bases_), SK_OK);
    fclose(f);
    assert_non_null(strstr(buf, "  sched: \"linear\"  # an enum from a fixed list\n"));
    assert_non_null(strstr(buf, "  fruit: \"apple\""));
    assert_int_equal(sk_cfg_defaults(secs_, 2, bases_), SK_OK);
    assert_int_equal(sk_cfg_load_string("written", buf, len, secs_, 2, bases_), SK_OK);
    assert_int_equal(tr_.sched, SCHED_LINEAR);
    assert_int_equal(tr_.fruit, 0);
    free(buf);
    tr_.sched = 7;
    buf = NULL;
    f = open_memstream(&buf, &len);
    assert_int_equal(sk_cfg_write(f, secs_, 2, bases_), SK_OK);
    fclose(f);
    assert_non_null(strstr(buf, "  sched: 7  #"));
    assert_int_equal(sk_cfg_load_string("w", buf, len, secs_, 2, bases_), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "train.sched: '7' is not one of none|linear|cosine"));
    free(buf);
}

/* The --help line of key `full` into line; 0 if absent. */
static int help_line_(const char *h, const char *full, char *line, size_t n)
{
    char pat[128];
    snprintf(pat, sizeof pat, "  %s ", full);
    const char *p = strstr(h, pat);
    if (!p) return 0;
    size_t len = strcspn(p, "\n");
    snprintf(line, n, "%.*s", (int)len, p);
    return 1;
}

/* Choices read through choice_at follow the registry: an entry added to it
 * is accepted and listed by --help and the docs without touching the key. */
static void test_registry_choices(void **state)
{
    (void)state;
    char *h = capture_(sk_cfg_print_help);
    char *md = capture_(sk_cfg_print_markdown);
    char line[1024];
    assert_true(help_line_(h, "train.fruit", line, sizeof line));
    assert_non_null(strstr(line, " enum "));
    assert_non_null(strstr(line, "default pear "));
    assert_non_null(strstr(line, " apple|pear|plum "));
    assert_true(help_line_(h, "train.pick", line, sizeof line));
    assert_non_null(strstr(line, " string "));
    assert_non_null(strstr(line, " apple|pear|plum "));
    assert_null(strstr(h, "quince"));
    assert_non_null(strstr(md, "| `train.fruit` | enum | `pear` | apple\\|pear\\|plum |"));
    assert_non_null(strstr(md, "| `train.pick` | string | `apple` | apple\\|pear\\|plum |"));
    free(h);
    free(md);
    BAD_SET_("train.pick=quince", "--set train.pick=quince: train.pick: 'quince' is not one of apple|pear|plum");
    nfruits_ = 4;
    assert_int_equal(set_("train.pick=quince"), SK_OK);
    assert_int_equal(set_("train.fruit=quince"), SK_OK);
    assert_int_equal(tr_.fruit, 3);
    h = capture_(sk_cfg_print_help);
    assert_non_null(strstr(h, "apple|pear|plum|quince"));
    free(h);
    nfruits_ = 3;
    /* the lookup and the message registries share */
    assert_int_equal(sk_cfg_choice_index(fruit_at_, "plum"), 2);
    assert_int_equal(sk_cfg_choice_index(fruit_at_, "quince"), -1);
    assert_int_equal(sk_cfg_choice_index(fruit_at_, NULL), -1);
    assert_int_equal(sk_cfg_choice_error(SK_ENOTFOUND, "fruit", "peer", fruit_at_), SK_ENOTFOUND);
    assert_string_equal(sk_error_last(), "fruit: 'peer' is not one of apple|pear|plum (did you mean 'pear'?)");
    assert_int_equal(sk_error_last_code(), SK_ENOTFOUND);
}

/* ---- run / log sections ------------------------------------------------------ */

static void test_run_log_sections(void **state)
{
    (void)state;
    const sk_cfg_section *s[] = {&sk_run_section, &sk_log_section};
    sk_run_config run;
    sk_log_config log;
    void *b[] = {&run, &log};
    assert_int_equal(sk_cfg_defaults(s, 2, b), SK_OK);
    assert_int_equal(run.device, 0); /* "cpu": SK_CPU (tests/cli checks the shim agrees) */
    assert_int_equal(run.dtype, 0);  /* "f32": SK_F32 */
    assert_int_equal(run.threads, 0);
    assert_int_equal(log.level, SK_LOG_LEVEL_INFO);
    assert_int_equal(log.all_ranks, 0);
    assert_true(log.every >= 1);
    assert_int_equal(sk_cfg_apply_set("log.level=debug", s, 2, b), SK_OK);
    assert_int_equal(sk_log_config_apply(&log, 0), SK_OK);
    assert_int_equal(sk_log_get_level(), SK_LOG_LEVEL_DEBUG);
    assert_int_equal(sk_cfg_apply_set("log.level=warn", s, 2, b), SK_OK);
    assert_int_equal(sk_log_config_apply(&log, 0), SK_OK);
    assert_int_equal(sk_log_get_level(), SK_LOG_LEVEL_WARN);
    sk_log_set_level(SK_LOG_LEVEL_INFO);
    for (int l = 0; sk_log_level_name(l); l++) { /* the choices are the logger's names, in its order */
        char set[64];
        snprintf(set, sizeof set, "log.level=%s", sk_log_level_name(l));
        assert_int_equal(sk_cfg_apply_set(set, s, 2, b), SK_OK);
        assert_int_equal(log.level, l);
    }
    assert_int_equal(sk_cfg_apply_set("log.level=loud", s, 2, b), SK_EINVAL);
    assert_string_equal(sk_error_last(), "--set log.level=loud: log.level: 'loud' is not one of error|warn|info|debug");
    assert_int_equal(sk_cfg_apply_set("run.device=cuda", s, 2, b), SK_OK);
    assert_int_equal(run.device, 1);
    assert_int_equal(sk_cfg_apply_set("run.dtype=f16", s, 2, b), SK_EINVAL);
    assert_string_equal(sk_error_last(),
                        "--set run.dtype=f16: run.dtype: 'f16' is not one of f32|bf16 (did you mean 'bf16'?)");
    assert_int_equal(sk_cfg_apply_set("log.every=0", s, 2, b), SK_EINVAL);
}

/* ---- progress and clock -------------------------------------------------------- */

static char *progress_run_(int mode, int64_t total, int64_t every, int64_t steps)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sk_progress *p = NULL;
    sk_progress_opts o = {"step", total, every, mode, f};
    assert_int_equal(sk_progress_create(&p, &o), SK_OK);
    for (int64_t i = 1; i <= steps; i++) sk_progress_update(p, i, "loss 0.51");
    sk_progress_finish(p, "loss 0.50");
    sk_progress_free(p);
    fclose(f);
    return buf;
}

static int count_(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub)) n++;
    return n;
}

static void test_progress_lines(void **state)
{
    (void)state;
    sk_progress_set_rank(0, 0);
    char *out = progress_run_(SK_PROGRESS_LINES, 20, 5, 20);
    assert_int_equal(count_(out, "\n"), 5); /* steps 5, 10, 15, 20 + final */
    assert_non_null(strstr(out, "step 5/20 (25%) "));
    assert_non_null(strstr(out, "step 20/20 (100%) "));
    assert_non_null(strstr(out, " it/s eta "));
    assert_non_null(strstr(out, " loss 0.51\n"));
    assert_non_null(strstr(out, " in 0s loss 0.50\n"));
    assert_null(strchr(out, '\r'));
    free(out);
    /* AUTO on a stream that is not a terminal: plain lines */
    out = progress_run_(SK_PROGRESS_AUTO, 4, 2, 4);
    assert_null(strchr(out, '\r'));
    assert_non_null(strstr(out, "step 2/4 (50%) "));
    free(out);
    /* unknown total: count only */
    out = progress_run_(SK_PROGRESS_LINES, 0, 3, 6);
    assert_non_null(strstr(out, "step 3 "));
    assert_null(strstr(out, "%"));
    free(out);
}

static void test_progress_bar_and_ranks(void **state)
{
    (void)state;
    sk_progress_set_rank(0, 0);
    char *out = progress_run_(SK_PROGRESS_BAR, 10, 1, 10);
    assert_true(out[0] == '\r');
    assert_int_equal(count_(out, "\n"), 1); /* only the final line ends */
    assert_non_null(strstr(out, "[########################] 10/10 (100%)"));
    free(out);
    /* non-zero rank: silent unless all ranks print */
    sk_progress_set_rank(1, 0);
    out = progress_run_(SK_PROGRESS_LINES, 10, 1, 10);
    assert_string_equal(out, "");
    free(out);
    sk_progress_set_rank(1, 1);
    out = progress_run_(SK_PROGRESS_LINES, 10, 1, 10);
    assert_int_equal(count_(out, "\n"), 11);
    free(out);
    /* below info level: silent */
    sk_progress_set_rank(0, 0);
    sk_log_set_level(SK_LOG_LEVEL_WARN);
    out = progress_run_(SK_PROGRESS_LINES, 10, 1, 10);
    assert_string_equal(out, "");
    free(out);
    sk_log_set_level(SK_LOG_LEVEL_INFO);
}

static void test_now(void **state)
{
    (void)state;
    double a = sk_now();
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    double b = sk_now();
    assert_true(b - a >= 0.019);
    assert_true(b - a < 5.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, setup_),
        cmocka_unit_test_setup(test_good_file, setup_),
        cmocka_unit_test_setup(test_empty_inputs, setup_),
        cmocka_unit_test_setup(test_bools, setup_),
        cmocka_unit_test_setup(test_load_file_and_missing, setup_),
        cmocka_unit_test_setup(test_unknown_names, setup_),
        cmocka_unit_test_setup(test_wrong_types, setup_),
        cmocka_unit_test_setup(test_bounds, setup_),
        cmocka_unit_test_setup(test_lists, setup_),
        cmocka_unit_test_setup(test_structure_errors, setup_),
        cmocka_unit_test_setup(test_set_precedence, setup_),
        cmocka_unit_test_setup(test_set_errors, setup_),
        cmocka_unit_test_setup(test_round_trip, setup_),
        cmocka_unit_test_setup(test_enum_parse, setup_),
        cmocka_unit_test_setup(test_enum_errors, setup_),
        cmocka_unit_test_setup(test_enum_write, setup_),
        cmocka_unit_test_setup(test_registry_choices, setup_),
        cmocka_unit_test_setup(test_help, setup_),
        cmocka_unit_test(test_edit_distance),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_bad_default),
        cmocka_unit_test(test_run_log_sections),
        cmocka_unit_test(test_progress_lines),
        cmocka_unit_test(test_progress_bar_and_ranks),
        cmocka_unit_test(test_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
