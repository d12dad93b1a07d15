/* sk_config.c - the config engine (see sk_config.h).
 *
 * Files are read with libyaml's event parser rather than its document
 * loader: events carry line marks, so every error names file:line, and the
 * accepted shape (sections -> keys -> scalar or list of scalars) is checked
 * while walking. Values are typed by the key table, never by YAML's own
 * implicit typing, so `lr: 3e-4` and `lr: "3e-4"` mean the same thing and
 * `steps: 1.5` is an error for an int key instead of a silent float.
 */
#include "sk_config.h"
#include "sk_error.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* ---- small helpers --------------------------------------------------------- */

static const char *type_name_(sk_cfg_type t)
{
    switch (t) {
    case SK_CFG_INT: return "int";
    case SK_CFG_FLOAT: return "float";
    case SK_CFG_BOOL: return "bool";
    case SK_CFG_STRING: return "string";
    case SK_CFG_INT_LIST: return "int list";
    case SK_CFG_FLOAT_LIST: return "float list";
    case SK_CFG_ENUM: return "enum";
    }
    return "?";
}

static int is_list_(sk_cfg_type t) { return t == SK_CFG_INT_LIST || t == SK_CFG_FLOAT_LIST; }

int sk_cfg_edit_distance(const char *a, const char *b)
{
    /* Optimal string alignment (restricted Damerau-Levenshtein): insert,
     * delete, substitute and swap of two adjacent characters each cost 1,
     * so 'lrr'->'lr' and 'setps'->'steps' are both distance 1. */
    size_t n = strlen(a), m = strlen(b);
    int *d = malloc((n + 1) * (m + 1) * sizeof *d);
    if (!d) return (int)(n > m ? n : m);
#define D_(i, j) d[(i) * (m + 1) + (j)]
    for (size_t i = 0; i <= n; i++) D_(i, 0) = (int)i;
    for (size_t j = 0; j <= m; j++) D_(0, j) = (int)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int v = D_(i - 1, j) + 1;
            if (D_(i, j - 1) + 1 < v) v = D_(i, j - 1) + 1;
            if (D_(i - 1, j - 1) + cost < v) v = D_(i - 1, j - 1) + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && D_(i - 2, j - 2) + 1 < v)
                v = D_(i - 2, j - 2) + 1;
            D_(i, j) = v;
        }
    }
    int r = D_(n, m);
#undef D_
    free(d);
    return r;
}

/* Close enough to suggest: about one typo per three characters, at least 2. */
static int near_(const char *typed, const char *cand, int *best)
{
    int d = sk_cfg_edit_distance(typed, cand);
    int limit = (int)strlen(typed) / 3;
    if (limit < 2) limit = 2;
    if (d <= limit && d < *best) {
        *best = d;
        return 1;
    }
    return 0;
}

const sk_cfg_section *sk_cfg_find_section(const sk_cfg_section *const *secs, int n, const char *name, int *index)
{
    for (int i = 0; i < n; i++) {
        if (secs[i] && strcmp(secs[i]->name, name) == 0) {
            if (index) *index = i;
            return secs[i];
        }
    }
    return NULL;
}

const sk_cfg_key *sk_cfg_find_key(const sk_cfg_section *sec, const char *name)
{
    for (int i = 0; i < sec->nkeys; i++)
        if (strcmp(sec->keys[i].name, name) == 0) return &sec->keys[i];
    return NULL;
}

/* "unknown key 'train.lrr' (did you mean 'train.lr'?)": the suggestion is the
 * closest full "section.key" over every section, so a key put in the wrong
 * section ('train.seed') is pointed at the right one ('run.seed'). */
static int unknown_key_(const sk_cfg_section *const *secs, int n, const char *sec, const char *key)
{
    char typed[2 * SK_CFG_STR_MAX], cand[2 * SK_CFG_STR_MAX], best_name[2 * SK_CFG_STR_MAX] = "";
    int best = 1 << 30;
    snprintf(typed, sizeof typed, "%s.%s", sec, key);
    /* The exact key in another section beats any typo distance. */
    for (int i = 0; i < n && !best_name[0]; i++)
        if (strcmp(secs[i]->name, sec) != 0 && sk_cfg_find_key(secs[i], key))
            snprintf(best_name, sizeof best_name, "%s.%s", secs[i]->name, key);
    for (int i = 0; i < n && !best_name[0]; i++) {
        for (int k = 0; k < secs[i]->nkeys; k++) {
            snprintf(cand, sizeof cand, "%s.%s", secs[i]->name, secs[i]->keys[k].name);
            if (near_(typed, cand, &best)) snprintf(best_name, sizeof best_name, "%s", cand);
        }
    }
    if (best_name[0]) return sk_error_set(SK_EINVAL, "unknown key '%s' (did you mean '%s'?)", typed, best_name);
    return sk_error_set(SK_EINVAL, "unknown key '%s'", typed);
}

static int unknown_section_(const sk_cfg_section *const *secs, int n, const char *name)
{
    char known[512] = "";
    const char *best_name = NULL;
    int best = 1 << 30;
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (near_(name, secs[i]->name, &best)) best_name = secs[i]->name;
        len += (size_t)snprintf(known + len, len < sizeof known ? sizeof known - len : 0, "%s%s", i ? ", " : "",
                                secs[i]->name);
        if (len >= sizeof known) len = sizeof known - 1;
    }
    if (best_name) return sk_error_set(SK_EINVAL, "unknown section '%s' (did you mean '%s'?)", name, best_name);
    return sk_error_set(SK_EINVAL, "unknown section '%s' (known sections: %s)", name, known);
}

/* ---- typed value parsing ---------------------------------------------------- */

/* v as text that reads back to exactly v: whole numbers below 1e15 as
 * digits ("1000000", not "1e+06"), others as the shortest %.Ng. */
static void fmt_double_(char *buf, size_t n, double v)
{
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, n, "%.0f", v);
        if (strtod(buf, NULL) == v) return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* Strict integer: optional sign, decimal digits, nothing else. */
static int parse_int_(const char *full, const char *s, int64_t *out)
{
    char *end = NULL;
    if (!*s || isspace((unsigned char)*s)) return sk_error_set(SK_EINVAL, "%s: expected an integer, got '%s'", full, s);
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0') return sk_error_set(SK_EINVAL, "%s: expected an integer, got '%s'", full, s);
    if (errno == ERANGE) return sk_error_set(SK_EINVAL, "%s: %s is out of range for a 64-bit integer", full, s);
    *out = (int64_t)v;
    return SK_OK;
}

static int parse_float_(const char *full, const char *s, double *out)
{
    char *end = NULL;
    if (!*s || isspace((unsigned char)*s)) return sk_error_set(SK_EINVAL, "%s: expected a number, got '%s'", full, s);
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0') return sk_error_set(SK_EINVAL, "%s: expected a number, got '%s'", full, s);
    if (!isfinite(v)) return sk_error_set(SK_EINVAL, "%s: expected a finite number, got '%s'", full, s);
    if (errno == ERANGE && fabs(v) == HUGE_VAL)
        return sk_error_set(SK_EINVAL, "%s: %s is out of range for a double", full, s);
    *out = v;
    return SK_OK;
}

static int parse_bool_(const char *full, const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return SK_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return SK_OK;
        }
    }
    return sk_error_set(SK_EINVAL, "%s: expected true or false, got '%s'", full, s);
}

/* Bounds apply unless min > max (SK_CFG_UNBOUNDED) or both are 0 (omitted). */
static int bounded_(const sk_cfg_key *k) { return k->min <= k->max && (k->min != 0.0 || k->max != 0.0); }

static int check_bounds_(const char *full, const sk_cfg_key *k, double v, const char *text)
{
    char b[64];
    if (!bounded_(k)) return SK_OK;
    if (k->flags & SK_CFG_EXCL_MIN ? !(v > k->min) : v < k->min) {
        fmt_double_(b, sizeof b, k->min);
        if (k->flags & SK_CFG_EXCL_MIN) return sk_error_set(SK_EINVAL, "%s: %s must be greater than %s", full, text, b);
        return sk_error_set(SK_EINVAL, "%s: %s is below the minimum %s", full, text, b);
    }
    if (k->flags & SK_CFG_EXCL_MAX ? !(v < k->max) : v > k->max) {
        fmt_double_(b, sizeof b, k->max);
        if (k->flags & SK_CFG_EXCL_MAX) return sk_error_set(SK_EINVAL, "%s: %s must be less than %s", full, text, b);
        return sk_error_set(SK_EINVAL, "%s: %s is above the maximum %s", full, text, b);
    }
    return SK_OK;
}

/* ---- choices (ENUM keys, STRING keys with a fixed or registered set) ------ */

static int has_choices_(const sk_cfg_key *k) { return k->choice_at || k->choices; }

/* The i-th allowed value of k into buf; 0 past the last. */
static int choice_name_(const sk_cfg_key *k, int i, char *buf, size_t n)
{
    if (k->choice_at) {
        const char *name = i >= 0 ? k->choice_at(i) : NULL;
        if (!name) return 0;
        snprintf(buf, n, "%s", name);
        return 1;
    }
    const char *p = k->choices;
    for (int j = 0; p && *p; j++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (j == i) {
            snprintf(buf, n, "%.*s", (int)len, p);
            return 1;
        }
        p += len + (bar ? 1 : 0);
    }
    return 0;
}

/* "a|b|c" into buf (truncated to n). */
static void choices_text_(const sk_cfg_key *k, char *buf, size_t n)
{
    char name[SK_CFG_STR_MAX];
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; len < n && choice_name_(k, i, name, sizeof name); i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? "|" : "", name);
}

/* Set `code`: "<full>: '<s>' is not one of a|b|c (did you mean 'b'?)". */
static int choice_error_(int code, const char *full, const sk_cfg_key *k, const char *s)
{
    char cand[SK_CFG_STR_MAX], best_name[SK_CFG_STR_MAX] = "", all[2048];
    int best = 1 << 30;
    for (int i = 0; choice_name_(k, i, cand, sizeof cand); i++)
        if (near_(s, cand, &best)) snprintf(best_name, sizeof best_name, "%s", cand);
    choices_text_(k, all, sizeof all);
    if (best_name[0])
        return sk_error_set(code, "%s: '%s' is not one of %s (did you mean '%s'?)", full, s, all, best_name);
    return sk_error_set(code, "%s: '%s' is not one of %s", full, s, all);
}

/* The index of s among k's choices into *index, or the one-line error. */
static int check_choice_(const char *full, const sk_cfg_key *k, const char *s, int *index)
{
    char cand[SK_CFG_STR_MAX];
    for (int i = 0; choice_name_(k, i, cand, sizeof cand); i++) {
        if (strcmp(cand, s) == 0) {
            *index = i;
            return SK_OK;
        }
    }
    return choice_error_(SK_EINVAL, full, k, s);
}

const char *sk_cfg_enum_name(const sk_cfg_key *k, int v, char *buf, size_t n)
{
    return choice_name_(k, v, buf, n) ? buf : NULL;
}

int sk_cfg_choice_index(const char *(*choice_at)(int i), const char *name)
{
    for (int i = 0; choice_at && name; i++) {
        const char *cand = choice_at(i);
        if (!cand) break;
        if (strcmp(cand, name) == 0) return i;
    }
    return -1;
}

int sk_cfg_choice_error(int code, const char *what, const char *value, const char *(*choice_at)(int i))
{
    const sk_cfg_key k = {.name = what, .type = SK_CFG_STRING, .choice_at = choice_at};
    return choice_error_(code, what, &k, value ? value : "");
}

/* Assign one scalar text to a non-list key. `full` is "section.key". */
static int assign_scalar_(const char *full, const sk_cfg_key *k, void *base, const char *s, size_t len)
{
    char *field = (char *)base + k->offset;
    int rc = SK_OK;
    if (strlen(s) != len) return sk_error_set(SK_EINVAL, "%s: value contains a NUL byte", full);
    switch (k->type) {
    case SK_CFG_INT: {
        int64_t v = 0;
        SK_TRY(parse_int_(full, s, &v));
        SK_TRY(check_bounds_(full, k, (double)v, s));
        memcpy(field, &v, sizeof v);
        break;
    }
    case SK_CFG_FLOAT: {
        double v = 0;
        SK_TRY(parse_float_(full, s, &v));
        SK_TRY(check_bounds_(full, k, v, s));
        memcpy(field, &v, sizeof v);
        break;
    }
    case SK_CFG_BOOL: {
        int v = 0;
        SK_TRY(parse_bool_(full, s, &v));
        memcpy(field, &v, sizeof v);
        break;
    }
    case SK_CFG_STRING: {
        int unused = 0;
        SK_FAIL_IF(len >= SK_CFG_STR_MAX, SK_EINVAL, "%s: string is too long (%zu bytes, max %d)", full, len,
                   SK_CFG_STR_MAX - 1);
        if (has_choices_(k)) SK_TRY(check_choice_(full, k, s, &unused));
        memcpy(field, s, len + 1);
        break;
    }
    case SK_CFG_ENUM: {
        int v = -1;
        SK_FAIL_IF(!has_choices_(k), SK_EINVAL, "%s: internal: enum key without choices", full);
        SK_TRY(check_choice_(full, k, s, &v));
        memcpy(field, &v, sizeof v);
        break;
    }
    default: rc = sk_error_set(SK_EINVAL, "%s: internal: not a scalar key", full);
    }
done:
    return rc;
}

/* Assign a list key from item texts (all parsed before anything is stored). */
static int assign_items_(const char *full, const sk_cfg_key *k, void *base, char *const *items, int n, int *bad)
{
    char *field = (char *)base + k->offset;
    char item_name[2 * SK_CFG_STR_MAX + 16];
    int rc = SK_OK;
    if (n > SK_CFG_LIST_MAX)
        return sk_error_set(SK_EINVAL, "%s: too many items (%d, max %d)", full, n, SK_CFG_LIST_MAX);
    if (k->type == SK_CFG_INT_LIST) {
        sk_cfg_int_list l = {0};
        for (int i = 0; i < n; i++) {
            snprintf(item_name, sizeof item_name, "%s[%d]", full, i);
            if (bad) *bad = i;
            SK_TRY(parse_int_(item_name, items[i], &l.v[i]));
            SK_TRY(check_bounds_(item_name, k, (double)l.v[i], items[i]));
        }
        l.n = n;
        memcpy(field, &l, sizeof l);
    } else {
        sk_cfg_float_list l = {0};
        for (int i = 0; i < n; i++) {
            snprintf(item_name, sizeof item_name, "%s[%d]", full, i);
            if (bad) *bad = i;
            SK_TRY(parse_float_(item_name, items[i], &l.v[i]));
            SK_TRY(check_bounds_(item_name, k, l.v[i], items[i]));
        }
        l.n = n;
        memcpy(field, &l, sizeof l);
    }
done:
    return rc;
}

static char *trim_(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* A list written as text: "[1, 2]", "1,2", "[]" or "". */
static int assign_list_text_(const char *full, const sk_cfg_key *k, void *base, const char *text)
{
    int rc = SK_OK, n = 0;
    char *items[SK_CFG_LIST_MAX + 1];
    char *copy = strdup(text);
    SK_FAIL_IF(!copy, SK_ENOMEM, "%s: out of memory", full);
    char *s = trim_(copy);
    size_t len = strlen(s);
    if (len && s[0] == '[') {
        SK_FAIL_IF(s[len - 1] != ']', SK_EINVAL, "%s: expected a list like [1, 2], got '%s'", full, text);
        s[len - 1] = '\0';
        s = trim_(s + 1);
    }
    if (*s) {
        char *p = s;
        for (;;) {
            char *comma = strchr(p, ',');
            if (comma) *comma = '\0';
            SK_FAIL_IF(n > SK_CFG_LIST_MAX, SK_EINVAL, "%s: too many items (max %d)", full, SK_CFG_LIST_MAX);
            items[n++] = trim_(p);
            if (!comma) break;
            p = comma + 1;
        }
    }
    SK_TRY(assign_items_(full, k, base, items, n, NULL));
done:
    free(copy);
    return rc;
}

/* Any key from text (defaults and --set). */
static int assign_text_(const char *full, const sk_cfg_key *k, void *base, const char *text)
{
    if (is_list_(k->type)) return assign_list_text_(full, k, base, text);
    return assign_scalar_(full, k, base, text, strlen(text));
}

int sk_cfg_defaults(const sk_cfg_section *const *secs, int n, void *const *bases)
{
    int rc = SK_OK;
    char full[2 * SK_CFG_STR_MAX];
    for (int i = 0; i < n; i++) {
        memset(bases[i], 0, secs[i]->size);
        for (int k = 0; k < secs[i]->nkeys; k++) {
            const sk_cfg_key *key = &secs[i]->keys[k];
            snprintf(full, sizeof full, "%s.%s", secs[i]->name, key->name);
            rc = assign_text_(full, key, bases[i], key->def ? key->def : "");
            if (rc < 0) {
                sk_error_prefix("default of ");
                return rc;
            }
        }
    }
    return rc;
}

/* ---- YAML files --------------------------------------------------------- */

typedef struct {
    yaml_parser_t parser;
    yaml_event_t ev;
    int have_ev;
    const char *name; /* file name for messages */
} reader_;

static int line_(const yaml_event_t *ev) { return (int)ev->start_mark.line + 1; }

/* Next event into r->ev (the previous one is released). */
static int next_(reader_ *r)
{
    if (r->have_ev) yaml_event_delete(&r->ev);
    r->have_ev = 0;
    if (!yaml_parser_parse(&r->parser, &r->ev)) {
        const char *problem = r->parser.problem ? r->parser.problem : "unknown error";
        if (r->parser.error == YAML_READER_ERROR)
            return sk_error_set(SK_EINVAL, "%s: YAML error: %s (byte %zu)", r->name, problem, r->parser.problem_offset);
        return sk_error_set(SK_EINVAL, "%s:%d: YAML syntax error: %s%s%s", r->name,
                            (int)r->parser.problem_mark.line + 1, problem, r->parser.context ? " " : "",
                            r->parser.context ? r->parser.context : "");
    }
    r->have_ev = 1;
    if (r->ev.type == YAML_ALIAS_EVENT)
        return sk_error_set(SK_EINVAL, "%s:%d: YAML aliases (*name) are not supported in configs", r->name,
                            line_(&r->ev));
    return SK_OK;
}

static const char *event_what_(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT: return "a scalar";
    case YAML_SEQUENCE_START_EVENT: return "a list";
    case YAML_MAPPING_START_EVENT: return "a mapping";
    default: return "something else";
    }
}

static const char *scalar_(const yaml_event_t *ev) { return (const char *)ev->data.scalar.value; }

/* A plain empty or "~"/"null" scalar: YAML's null (`train:` with nothing). */
static int is_null_(const yaml_event_t *ev)
{
    if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *s = scalar_(ev);
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0;
}

/* The value of one key: r->ev holds the event after the key. */
static int read_value_(reader_ *r, const char *full, const sk_cfg_key *k, void *base)
{
    int rc = SK_OK, line = line_(&r->ev), start = line, n = 0, from_parser = 0, bad = -1;
    char *items[SK_CFG_LIST_MAX + 1];
    int item_line[SK_CFG_LIST_MAX + 1];
    if (r->ev.type == YAML_SCALAR_EVENT) {
        if (is_list_(k->type)) {
            rc = assign_list_text_(full, k, base, is_null_(&r->ev) ? "" : scalar_(&r->ev));
        } else {
            rc = assign_scalar_(full, k, base, scalar_(&r->ev), r->ev.data.scalar.length);
        }
    } else if (r->ev.type == YAML_SEQUENCE_START_EVENT && is_list_(k->type)) {
        for (;;) {
            rc = next_(r);
            if (rc < 0) {
                from_parser = 1; /* already "file:line: ..." */
                goto done;
            }
            if (r->ev.type == YAML_SEQUENCE_END_EVENT) break;
            line = line_(&r->ev);
            SK_FAIL_IF(r->ev.type != YAML_SCALAR_EVENT, SK_EINVAL, "%s: list items must be scalars, got %s", full,
                       event_what_(&r->ev));
            SK_FAIL_IF(n >= SK_CFG_LIST_MAX, SK_EINVAL, "%s: too many items (max %d)", full, SK_CFG_LIST_MAX);
            items[n] = strdup(scalar_(&r->ev));
            SK_FAIL_IF(!items[n], SK_ENOMEM, "%s: out of memory", full);
            item_line[n++] = line;
        }
        line = start;
        rc = assign_items_(full, k, base, items, n, &bad);
        if (rc < 0 && bad >= 0 && bad < n) line = item_line[bad]; /* the offending item's line */
    } else {
        rc = sk_error_set(SK_EINVAL, "%s: expected %s, got %s", full,
                          k->type == SK_CFG_INT      ? "an integer"
                          : k->type == SK_CFG_FLOAT  ? "a number"
                          : k->type == SK_CFG_BOOL   ? "true or false"
                          : k->type == SK_CFG_STRING ? "a string"
                          : k->type == SK_CFG_ENUM   ? "a name"
                                                     : "a list",
                          event_what_(&r->ev));
    }
done:
    for (int i = 0; i < n; i++) free(items[i]);
    if (rc < 0 && !from_parser) sk_error_prefix("%s:%d: ", r->name, line);
    return rc;
}

/* One section's mapping: r->ev is its MAPPING_START. */
static int read_section_(reader_ *r, const sk_cfg_section *const *secs, int n, int si, void *base)
{
    const sk_cfg_section *sec = secs[si];
    int rc = SK_OK;
    int *seen = calloc((size_t)(sec->nkeys ? sec->nkeys : 1), sizeof *seen);
    char full[2 * SK_CFG_STR_MAX];
    SK_FAIL_IF(!seen, SK_ENOMEM, "out of memory");
    for (;;) {
        SK_TRY(next_(r));
        if (r->ev.type == YAML_MAPPING_END_EVENT) break;
        int line = line_(&r->ev);
        if (r->ev.type != YAML_SCALAR_EVENT) {
            rc = sk_error_set(SK_EINVAL, "%s:%d: section '%s': expected a key name, got %s", r->name, line, sec->name,
                              event_what_(&r->ev));
            goto done;
        }
        const sk_cfg_key *k = sk_cfg_find_key(sec, scalar_(&r->ev));
        if (!k) {
            rc = unknown_key_(secs, n, sec->name, scalar_(&r->ev));
            sk_error_prefix("%s:%d: ", r->name, line);
            goto done;
        }
        snprintf(full, sizeof full, "%s.%s", sec->name, k->name);
        int ki = (int)(k - sec->keys);
        SK_FAIL_IF(seen[ki], SK_EINVAL, "%s:%d: duplicate key '%s' (first set on line %d)", r->name, line, full,
                   seen[ki]);
        seen[ki] = line;
        SK_TRY(next_(r));
        SK_TRY(read_value_(r, full, k, base));
    }
done:
    free(seen);
    return rc;
}

static int read_stream_(reader_ *r, const sk_cfg_section *const *secs, int n, void *const *bases)
{
    int rc = SK_OK;
    int *seen = calloc((size_t)(n ? n : 1), sizeof *seen);
    SK_FAIL_IF(!seen, SK_ENOMEM, "out of memory");
    SK_TRY(next_(r)); /* STREAM_START */
    SK_TRY(next_(r));
    if (r->ev.type == YAML_STREAM_END_EVENT) goto done; /* empty file */
    /* DOCUMENT_START */
    SK_TRY(next_(r));
    if (r->ev.type == YAML_MAPPING_START_EVENT) {
        for (;;) {
            SK_TRY(next_(r));
            if (r->ev.type == YAML_MAPPING_END_EVENT) break;
            int line = line_(&r->ev);
            SK_FAIL_IF(r->ev.type != YAML_SCALAR_EVENT, SK_EINVAL, "%s:%d: expected a section name, got %s", r->name,
                       line, event_what_(&r->ev));
            int si = -1;
            const char *name = scalar_(&r->ev);
            if (!sk_cfg_find_section(secs, n, name, &si)) {
                rc = unknown_section_(secs, n, name);
                sk_error_prefix("%s:%d: ", r->name, line);
                goto done;
            }
            SK_FAIL_IF(seen[si], SK_EINVAL, "%s:%d: duplicate section '%s' (first on line %d)", r->name, line, name,
                       seen[si]);
            seen[si] = line;
            SK_TRY(next_(r));
            if (r->ev.type == YAML_MAPPING_START_EVENT) {
                SK_TRY(read_section_(r, secs, n, si, bases[si]));
            } else if (!is_null_(&r->ev)) {
                rc = sk_error_set(SK_EINVAL, "%s:%d: section '%s' must be a mapping of keys, got %s", r->name,
                                  line_(&r->ev), secs[si]->name, event_what_(&r->ev));
                goto done;
            }
        }
    } else if (!is_null_(&r->ev)) {
        rc = sk_error_set(SK_EINVAL, "%s:%d: expected a mapping of sections (e.g. 'train:'), got %s", r->name,
                          line_(&r->ev), event_what_(&r->ev));
        goto done;
    }
    SK_TRY(next_(r)); /* DOCUMENT_END */
    SK_TRY(next_(r));
    SK_FAIL_IF(r->ev.type != YAML_STREAM_END_EVENT, SK_EINVAL, "%s:%d: only one YAML document is allowed in a config",
               r->name, line_(&r->ev));
done:
    free(seen);
    return rc;
}

int sk_cfg_load_string(const char *name, const char *text, size_t len, const sk_cfg_section *const *secs, int n,
                       void *const *bases)
{
    reader_ r;
    memset(&r, 0, sizeof r);
    r.name = name ? name : "<string>";
    if (!yaml_parser_initialize(&r.parser)) return sk_error_set(SK_ENOMEM, "%s: cannot start the YAML parser", r.name);
    yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
    int rc = read_stream_(&r, secs, n, bases);
    if (r.have_ev) yaml_event_delete(&r.ev);
    yaml_parser_delete(&r.parser);
    return rc;
}

int sk_cfg_load_file(const char *path, const sk_cfg_section *const *secs, int n, void *const *bases)
{
    int rc = SK_OK;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return sk_error_set(SK_EIO, "%s: %s", path, strerror(errno));
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            SK_FAIL_IF(!nb, SK_ENOMEM, "%s: out of memory", path);
            buf = nb;
        }
        errno = 0;
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    SK_FAIL_IF(ferror(f), SK_EIO, "%s: %s", path, strerror(errno)); /* e.g. a directory */
    rc = sk_cfg_load_string(path, buf ? buf : "", len, secs, n, bases);
done:
    free(buf);
    fclose(f);
    return rc;
}

/* ---- --set --------------------------------------------------------------- */

/* 1 if s is well-formed UTF-8 (RFC 3629: shortest forms, no surrogates,
 * at most U+10FFFF), as libyaml requires of a config file. */
static int utf8_valid_(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s++, n = c < 0x80                 ? 0
                               : c >= 0xc2 && c <= 0xdf ? 1
                               : c >= 0xe0 && c <= 0xef ? 2
                               : c >= 0xf0 && c <= 0xf4 ? 3
                                                        : 9;
        if (n == 9) return 0;
        uint32_t cp = n == 0 ? c : c & (0x3fu >> n);
        for (unsigned i = 0; i < n; i++, s++) {
            if ((*s & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (*s & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
    }
    return 1;
}

int sk_cfg_apply_set(const char *assignment, const sk_cfg_section *const *secs, int n, void *const *bases)
{
    int rc = SK_OK, si = -1;
    char full[2 * SK_CFG_STR_MAX];
    const char *eq = strchr(assignment, '=');
    const char *dot = eq ? memchr(assignment, '.', (size_t)(eq - assignment)) : NULL;
    if (!eq || !dot || dot == assignment || dot + 1 == eq || (size_t)(eq - assignment) >= sizeof full) {
        rc = sk_error_set(SK_EINVAL, "expected section.key=value");
        goto done;
    }
    snprintf(full, sizeof full, "%.*s", (int)(eq - assignment), assignment);
    full[dot - assignment] = '\0';
    const char *sec_name = full, *key_name = full + (dot - assignment) + 1;
    const sk_cfg_section *sec = sk_cfg_find_section(secs, n, sec_name, &si);
    if (!sec) {
        /* Suggest the closest full key ("trian.lr" -> "train.lr"), else the section. */
        rc = unknown_key_(secs, n, sec_name, key_name);
        if (!strstr(sk_error_last(), "did you mean")) rc = unknown_section_(secs, n, sec_name);
        goto done;
    }
    const sk_cfg_key *k = sk_cfg_find_key(sec, key_name);
    if (!k) {
        rc = unknown_key_(secs, n, sec_name, key_name);
        goto done;
    }
    full[dot - assignment] = '.';
    if (!utf8_valid_(eq + 1)) {
        rc = sk_error_set(SK_EINVAL, "value is not valid UTF-8 (config files are UTF-8 too)");
        goto done;
    }
    rc = assign_text_(full, k, bases[si], eq + 1);
done:
    if (rc < 0) sk_error_prefix("--set %s: ", assignment);
    return rc;
}

/* ---- writing --------------------------------------------------------------- */

/* 1 if YAML reads code point c in a double-quoted scalar as itself: its
 * printable set (YAML 1.1 5.1) less U+0085, U+2028 and U+2029, which it
 * reads as line breaks (folded to spaces), and the BOM, which it drops. */
static int yaml_plain_(uint32_t c)
{
    return (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xd7ff && c != 0x2028 && c != 0x2029) ||
           (c >= 0xe000 && c <= 0xfffd && c != 0xfeff) || (c >= 0x10000 && c <= 0x10ffff);
}

/* s (UTF-8: files are read by libyaml, --set values are checked) as a YAML
 * double-quoted scalar that reads back to the same bytes: every code point
 * YAML would not read as itself escaped. */
static void write_quoted_(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned n = *p < 0x80 ? 0 : *p < 0xe0 ? 1 : *p < 0xf0 ? 2 : 3, k = 1;
        uint32_t c = n ? *p & (0x3fu >> n) : *p;
        for (; k <= n && (p[k] & 0xc0) == 0x80; k++) c = c << 6 | (p[k] & 0x3f);
        if (k <= n) { /* not UTF-8 (cannot come from a file or --set) */
            fputs("\\ufffd", f);
            p += k;
            continue;
        }
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", (int)c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (yaml_plain_(c))
            fwrite(p, 1, n + 1, f);
        else if (c < 0x100)
            fprintf(f, "\\x%02x", (unsigned)c);
        else if (c < 0x10000)
            fprintf(f, "\\u%04x", (unsigned)c);
        else
            fprintf(f, "\\U%08x", (unsigned)c);
        p += n + 1;
    }
    fputc('"', f);
}

void sk_cfg_write_value(FILE *f, const sk_cfg_key *k, const void *base)
{
    const char *field = (const char *)base + k->offset;
    char num[64];
    switch (k->type) {
    case SK_CFG_INT: {
        int64_t v = 0;
        memcpy(&v, field, sizeof v);
        fprintf(f, "%lld", (long long)v);
        break;
    }
    case SK_CFG_FLOAT: {
        double v = 0;
        memcpy(&v, field, sizeof v);
        fmt_double_(num, sizeof num, v);
        fputs(num, f);
        break;
    }
    case SK_CFG_BOOL: {
        int v = 0;
        memcpy(&v, field, sizeof v);
        fputs(v ? "true" : "false", f);
        break;
    }
    case SK_CFG_STRING: write_quoted_(f, field); break;
    case SK_CFG_ENUM: {
        int v = 0;
        char name[SK_CFG_STR_MAX];
        memcpy(&v, field, sizeof v);
        if (choice_name_(k, v, name, sizeof name))
            write_quoted_(f, name);
        else
            fprintf(f, "%d", v); /* not a valid index: loading it back fails, naming the key */
        break;
    }
    case SK_CFG_INT_LIST: {
        const sk_cfg_int_list *l = (const sk_cfg_int_list *)(const void *)field;
        fputc('[', f);
        for (int i = 0; i < l->n; i++) fprintf(f, "%s%lld", i ? ", " : "", (long long)l->v[i]);
        fputc(']', f);
        break;
    }
    case SK_CFG_FLOAT_LIST: {
        const sk_cfg_float_list *l = (const sk_cfg_float_list *)(const void *)field;
        fputc('[', f);
        for (int i = 0; i < l->n; i++) {
            fmt_double_(num, sizeof num, l->v[i]);
            fprintf(f, "%s%s", i ? ", " : "", num);
        }
        fputc(']', f);
        break;
    }
    }
}

int sk_cfg_write(FILE *f, const sk_cfg_section *const *secs, int n, void *const *bases)
{
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s:%s%s\n", secs[i]->name, secs[i]->help ? "  # " : "", secs[i]->help ? secs[i]->help : "");
        for (int k = 0; k < secs[i]->nkeys; k++) {
            const sk_cfg_key *key = &secs[i]->keys[k];
            fprintf(f, "  %s: ", key->name);
            sk_cfg_write_value(f, key, bases[i]);
            if (key->help) fprintf(f, "  # %s", key->help);
            fputc('\n', f);
        }
    }
    fflush(f);
    if (ferror(f)) return sk_error_set(SK_EIO, "writing the config failed: %s", strerror(errno));
    return SK_OK;
}

/* ---- help ------------------------------------------------------------------ */

static void fmt_bound_(char *buf, size_t n, double v) { fmt_double_(buf, n, v); }

/* "[1, inf)", "(0, 1]", "cpu|cuda" or "" into buf. */
static void constraint_(char *buf, size_t n, const sk_cfg_key *k)
{
    char lo[64], hi[64];
    buf[0] = '\0';
    if (k->type == SK_CFG_STRING || k->type == SK_CFG_ENUM) {
        choices_text_(k, buf, n);
        return;
    }
    if (k->type == SK_CFG_BOOL) {
        snprintf(buf, n, "true|false");
        return;
    }
    if (!bounded_(k)) return;
    fmt_bound_(lo, sizeof lo, k->min);
    fmt_bound_(hi, sizeof hi, k->max);
    snprintf(buf, n, "%c%s, %s%c", (k->flags & SK_CFG_EXCL_MIN) ? '(' : '[', lo, hi,
             (k->flags & SK_CFG_EXCL_MAX) ? ')' : ']');
}

static const char *default_text_(const sk_cfg_key *k)
{
    if (!k->def || !*k->def) return k->type == SK_CFG_STRING ? "\"\"" : is_list_(k->type) ? "[]" : "";
    return k->def;
}

void sk_cfg_print_help(FILE *f, const sk_cfg_section *const *secs, int n)
{
    char full[2 * SK_CFG_STR_MAX], cons[2048];
    int wname = 0, wtype = 0, wdef = 0, wcons = 0;
    /* Column widths over every key, so all sections line up. */
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < secs[i]->nkeys; k++) {
            const sk_cfg_key *key = &secs[i]->keys[k];
            int len = snprintf(full, sizeof full, "%s.%s", secs[i]->name, key->name);
            if (len > wname) wname = len;
            if ((int)strlen(type_name_(key->type)) > wtype) wtype = (int)strlen(type_name_(key->type));
            if ((int)strlen(default_text_(key)) > wdef) wdef = (int)strlen(default_text_(key));
            constraint_(cons, sizeof cons, key);
            if ((int)strlen(cons) > wcons) wcons = (int)strlen(cons);
        }
    }
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s:%s%s\n", secs[i]->name, secs[i]->help ? " " : "", secs[i]->help ? secs[i]->help : "");
        for (int k = 0; k < secs[i]->nkeys; k++) {
            const sk_cfg_key *key = &secs[i]->keys[k];
            snprintf(full, sizeof full, "%s.%s", secs[i]->name, key->name);
            constraint_(cons, sizeof cons, key);
            fprintf(f, "  %-*s  %-*s  default %-*s  %-*s  %s\n", wname, full, wtype, type_name_(key->type), wdef,
                    default_text_(key), wcons, cons, key->help ? key->help : "");
        }
    }
}

void sk_cfg_print_markdown(FILE *f, const sk_cfg_section *const *secs, int n)
{
    char cons[2048];
    for (int i = 0; i < n; i++) {
        fprintf(f, "### `%s`%s%s\n\n", secs[i]->name, secs[i]->help ? ": " : "", secs[i]->help ? secs[i]->help : "");
        fprintf(f, "| key | type | default | allowed | description |\n|---|---|---|---|---|\n");
        for (int k = 0; k < secs[i]->nkeys; k++) {
            const sk_cfg_key *key = &secs[i]->keys[k];
            constraint_(cons, sizeof cons, key);
            fprintf(f, "| `%s.%s` | %s | `%s` | ", secs[i]->name, key->name, type_name_(key->type), default_text_(key));
            /* '|' inside a table cell must be escaped. */
            for (const char *c = cons[0] ? cons : "any"; *c; c++) fputs(*c == '|' ? "\\|" : (char[2]){*c, 0}, f);
            fprintf(f, " | %s |\n", key->help ? key->help : "");
        }
        fputc('\n', f);
    }
}
