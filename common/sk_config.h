/* sk_config.h - declarative config sections: defaults, YAML files, --set
 * overrides, help text, and writing the effective config back out.
 *
 * defines: sk_cfg_type, sk_cfg_int_list, sk_cfg_float_list, sk_cfg_key,
 *          sk_cfg_section, sk_cfg_defaults, sk_cfg_load_file,
 *          sk_cfg_load_string, sk_cfg_apply_set, sk_cfg_write, sk_cfg_write_value,
 *          sk_cfg_print_help, sk_cfg_print_markdown, sk_cfg_find_section,
 *          sk_cfg_find_key, sk_cfg_choice_index, sk_cfg_choice_error, sk_cfg_enum_name,
 *          sk_cfg_edit_distance.
 *
 * A config file is YAML restricted to one shape: a mapping of sections, each
 * a mapping of keys to a scalar or a (flow or block) list of scalars:
 *
 *     train:
 *       steps: 200
 *       lr: 3.0e-4
 *     select:
 *       layers: [2, 3]
 *
 * Each module declares its section once: a plain C struct plus a static
 * const table of sk_cfg_key (designated initialisers), exported as a
 * `const sk_cfg_section`. That one table drives defaults, files,
 * `--set section.key=value`, --help and docs/CONFIG.md.
 *
 * A key with a fixed set of values is an SK_CFG_ENUM: the text is parsed
 * once, into an `int` field holding the index of the name among the key's
 * choices, so the module compares C enum values, never strings:
 *
 *     typedef enum { SK_SCHED_NONE, SK_SCHED_LINEAR } sk_sched; // choices' order
 *     {.name = "schedule", .type = SK_CFG_ENUM, .offset = offsetof(cfg, schedule),
 *      .def = "none", .choices = "none|linear", .help = "..."}
 *
 * When the names live in a registry (scorers, importers, log levels), the
 * key gives `choice_at` instead of `choices`: a function returning the i-th
 * name, NULL past the last. It serves ENUM keys (the field is then the
 * registry index) and STRING keys (the field keeps the text, validated
 * against the registry), and --help / the docs list what it returns:
 *
 *     static const char *scorer_at_(int i) { ... sk_scorer_at(i)->name ... }
 *     {.name = "scorer", .type = SK_CFG_STRING, ..., .choice_at = scorer_at_}
 *
 * Every function below takes the sections as a parallel pair of arrays:
 * `secs[i]` describes the struct at `bases[i]` (caller-owned, at least
 * secs[i]->size bytes). Errors are set with sk_error_set as one line naming
 * the source (file:line, or `--set a.b=c`), the key and, for a near miss,
 * the closest valid name:
 *     configs/x.yaml:12: unknown key 'train.lrr' (did you mean 'train.lr'?)
 *     configs/x.yaml:3: train.lr: expected a number, got 'fast'
 *     --set train.steps=-5: train.steps: -5 is below the minimum 1
 * All errors are SK_EINVAL except a missing/unreadable file (SK_EIO).
 * On failure the structs may hold a partially applied config: callers stop.
 */
#ifndef SK_CONFIG_H
#define SK_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SK_CFG_INT,        /* int64_t */
    SK_CFG_FLOAT,      /* double */
    SK_CFG_BOOL,       /* int (0/1); text true/false/yes/no/on/off/1/0 */
    SK_CFG_STRING,     /* char[SK_CFG_STR_MAX], NUL-terminated */
    SK_CFG_INT_LIST,   /* sk_cfg_int_list */
    SK_CFG_FLOAT_LIST, /* sk_cfg_float_list */
    SK_CFG_ENUM        /* int: index of the value among choice_at / choices */
} sk_cfg_type;

#define SK_CFG_STR_MAX 512
#define SK_CFG_LIST_MAX 64

typedef struct {
    int n;
    int64_t v[SK_CFG_LIST_MAX];
} sk_cfg_int_list;
typedef struct {
    int n;
    double v[SK_CFG_LIST_MAX];
} sk_cfg_float_list;

enum { SK_CFG_EXCL_MIN = 1, SK_CFG_EXCL_MAX = 2 }; /* bound flags */

/* One key. Write tables with designated initialisers; omitted members are
 * 0/NULL, which means: no bounds, no flags, no choices. */
typedef struct {
    const char *name;    /* key within the section, e.g. "lr" */
    sk_cfg_type type;    /* field C type: see sk_cfg_type */
    size_t offset;       /* offsetof(section struct, field) */
    const char *def;     /* default as config text ("3e-4", "true", "[2, 3]", "", an ENUM name) */
    double min, max;     /* bounds for numbers and list items; min > max or both 0: unbounded */
    unsigned flags;      /* SK_CFG_EXCL_MIN / SK_CFG_EXCL_MAX */
    const char *choices; /* ENUM/STRING: allowed values "a|b|c" (NULL: see choice_at) */
    const char *help;    /* one line */
    /* ENUM/STRING: the i-th allowed value, NULL past the last (a registry's
     * names); used instead of `choices` when set. NULL with choices NULL:
     * a STRING takes any text (an ENUM must have one of the two). */
    const char *(*choice_at)(int i);
} sk_cfg_key;

typedef struct {
    const char *name; /* section name, e.g. "train" */
    const char *help;
    const sk_cfg_key *keys;
    int nkeys;
    size_t size; /* sizeof the section struct */
} sk_cfg_section;

/* "No bounds" in a positional key initializer: min > max (designated
 * initialisers simply omit .min and .max). */
#define SK_CFG_UNBOUNDED 1.0, 0.0

/* Zero each struct, then set every key to its default. A default that does
 * not parse or is out of bounds is a programming error reported as
 * "<section>.<key>: default ..." (tests run this over every section). */
int sk_cfg_defaults(const sk_cfg_section *const *secs, int n, void *const *bases);

/* Apply a YAML config file on top of the current values (keys not in the
 * file keep their value). Unknown sections/keys, duplicates, wrong types,
 * out-of-range values and YAML syntax errors fail with "path:line: ...".
 * A missing or unreadable file fails with SK_EIO "path: <strerror>". */
int sk_cfg_load_file(const char *path, const sk_cfg_section *const *secs, int n, void *const *bases);

/* Same as sk_cfg_load_file on text in memory; `name` stands in for the path
 * in messages (e.g. "<string>"). */
int sk_cfg_load_string(const char *name, const char *text, size_t len, const sk_cfg_section *const *secs, int n,
                       void *const *bases);

/* Apply one override "section.key=value" (value parsed as in a file; lists
 * as "[1, 2]" or "1,2"; an empty value sets a string to "" / a list to []).
 * Errors are prefixed "--set <assignment>: ". */
int sk_cfg_apply_set(const char *assignment, const sk_cfg_section *const *secs, int n, void *const *bases);

/* Write the current values as YAML that sk_cfg_load_file reads back to the
 * same values (floats with 17 significant digits, strings quoted). Every key
 * of every section is written, with its help as a comment. */
int sk_cfg_write(FILE *f, const sk_cfg_section *const *secs, int n, void *const *bases);
/* The value of key k in base (a section's struct) as sk_cfg_write writes it, into f. */
void sk_cfg_write_value(FILE *f, const sk_cfg_key *k, const void *base);

/* Human help for every key: "section.key  type  default  bounds/choices  help".
 * This is the one place defaults are documented. */
void sk_cfg_print_help(FILE *f, const sk_cfg_section *const *secs, int n);

/* Same content as a Markdown table per section (docs/CONFIG.md). */
void sk_cfg_print_markdown(FILE *f, const sk_cfg_section *const *secs, int n);

/* Lookups by name; NULL when absent (no error set). */
const sk_cfg_section *sk_cfg_find_section(const sk_cfg_section *const *secs, int n, const char *name, int *index);
const sk_cfg_key *sk_cfg_find_key(const sk_cfg_section *sec, const char *name);

/* The name of value v of ENUM key k (its v-th choice) into buf (n bytes);
 * NULL when v is not a valid index. For writers of a config's values
 * (checkpoint records, safetensors metadata). */
const char *sk_cfg_enum_name(const sk_cfg_key *k, int v, char *buf, size_t n);

/* Index of `name` among choice_at(0), choice_at(1), ...; -1 when it is not
 * one of them (no error set). The one name lookup registries share. */
int sk_cfg_choice_index(const char *(*choice_at)(int i), const char *name);

/* Set and return `code` with the message a config key gives for a bad
 * value: "<what>: '<value>' is not one of a|b|c (did you mean 'b'?)". */
int sk_cfg_choice_error(int code, const char *what, const char *value, const char *(*choice_at)(int i));

/* Damerau-Levenshtein (optimal string alignment) distance, for "did you
 * mean" suggestions. Exposed for tests. */
int sk_cfg_edit_distance(const char *a, const char *b);

#ifdef __cplusplus
}
#endif
#endif /* SK_CONFIG_H */
