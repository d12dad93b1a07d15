/* sk_prepare.h - `shrink prepare`: importers (IDX, text, JSON Lines,
 * Megatron .bin/.idx, llm.c .bin) into shrink corpora, exporters back out,
 * and `shrink inspect`.
 *
 * defines: sk_prepare_config (the `prepare` config section struct),
 *          sk_prepare_format / sk_prepare_export (its two fixed-choice
 *          keys), sk_importer / sk_exporter (versioned vtables in tables
 *          indexed by those enums), sk_importer_at/_name_at/_find,
 *          sk_exporter_at/_find, sk_prepare_export_name, sk_import_release,
 *          sk_prepare_validate, sk_prepare_run, sk_inspect_print.
 *
 * Under MPI each rank's importer reads only its share of the input (IDX:
 * its images; text / JSON Lines: the documents starting in its byte range;
 * Megatron: its sequences; llm.c: its tokens) and hands that slice to
 * sk_corpus_write_part, which moves rows to the rank that compresses their
 * chunks. Owner: dataset module.
 */
#ifndef SK_PREPARE_H
#define SK_PREPARE_H

#include <stdint.h>
#include <stdio.h>

#include "sk_corpus.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SK_PREPARE_STR_MAX 512 /* == SK_CFG_STR_MAX of the config engine */

/* prepare.format: which importer (the index into the importer table, whose
 * names are the key's choices). */
typedef enum {
    SK_FORMAT_IDX,
    SK_FORMAT_TEXT,
    SK_FORMAT_JSONL,
    SK_FORMAT_MEGATRON,
    SK_FORMAT_LLMC,
    SK_FORMAT_COUNT
} sk_prepare_format;

/* prepare.export: none (import), or which exporter. */
typedef enum { SK_EXPORT_NONE, SK_EXPORT_MEGATRON, SK_EXPORT_LLMC, SK_EXPORT_COUNT } sk_prepare_export;

/* prepare.split: how `text` input is cut into documents. */
typedef enum {
    SK_SPLIT_PERCENT, /* a line equal to prepare.boundary ("%": fortune files; "" = a blank line) */
    SK_SPLIT_BLANK,   /* a blank line (a line with nothing but an optional '\r') */
    SK_SPLIT_LINE,    /* every line is a document */
    SK_SPLIT_NONE,    /* the whole file is one document */
    SK_SPLIT_MODE_COUNT
} sk_prepare_split;
/* The name of split mode i ("percent", "blank-line", "line", "none"), NULL
 * past the last: the choice_at of prepare.split. */
const char *sk_prepare_split_name(int i);

/* The `prepare` section (field types follow the config engine contract;
 * defaults: sk_cfg_defaults over sk_prepare_section, sk_data_config.h). */
typedef struct {
    int format;                         /* sk_prepare_format (import) */
    char input[SK_PREPARE_STR_MAX];     /* input file (megatron: prefix or .bin/.idx path) */
    char labels[SK_PREPARE_STR_MAX];    /* idx: labels file ("" = none) */
    char output[SK_PREPARE_STR_MAX];    /* output corpus (export: output file / prefix) */
    int export_;                        /* sk_prepare_export: export `input` (a corpus) instead */
    int64_t level;                      /* zstd level 1..22 */
    int64_t chunk_kib;                  /* target chunk size in KiB */
    char boundary[SK_PREPARE_STR_MAX];  /* text: a line equal to this ends a document ("" = blank line) */
    char jsonl_key[SK_PREPARE_STR_MAX]; /* jsonl: string field holding the text */
    int eod;                            /* text/jsonl: append token 256 after each document */
    int64_t vocab;                      /* megatron/llmc: vocabulary size (0 = max id + 1) */
    int fletcher32;                     /* add HDF5 Fletcher32 checksums too */
    int byteshuffle;                    /* HDF5 shuffle filter before zstd (multi-byte dtypes; default on) */
    int overwrite;                      /* replace an existing prepare.output (else refused) */
    int split;                          /* sk_prepare_split (text) */
    const char *command; /* recorded in the corpus `command` attribute (not a config key; borrowed, may be NULL) */
} sk_prepare_config;

/* The share of the input an importer reads: rank `rank` of `world`. */
typedef struct {
    int rank, world;
} sk_import_share;

#define SK_IMPORTER_VERSION 2
typedef struct {
    unsigned version; /* SK_IMPORTER_VERSION */
    const char *name; /* prepare.format value */
    const char *help;
    /* optional: 1 if `path` looks like this format */
    int (*detect)(const char *path);
    /* parse this rank's share of cfg->input (and cfg->labels) into *out, a
     * slice as sk_corpus_write_part takes it (world 1: the whole input);
     * arrays malloc'd, freed by sk_import_release. Makes no MPI calls, so
     * sk_prepare_run can agree on errors before anything collective.
     * Errors name the input file. */
    int (*import)(const sk_prepare_config *cfg, const sk_import_share *share, sk_corpus_data *out);
} sk_importer;

#define SK_EXPORTER_VERSION 1
typedef struct {
    unsigned version; /* SK_EXPORTER_VERSION */
    const char *name; /* prepare.export value */
    const char *help;
    /* write corpus c to `out` (atomically: temp names then rename) */
    int (*export_)(sk_corpus *c, const char *out);
} sk_exporter;

/* The registries, in the idiom of the others (sk_scorer_*): the entry for
 * an enum value (NULL out of range, and for SK_EXPORT_NONE), the name of
 * entry i (NULL past the last: the choice_at of prepare.format), and lookup
 * by name (NULL if unknown, no error set). sk_prepare_export_name gives
 * "none" then the exporters' names: the choice_at of prepare.export. */
const sk_importer *sk_importer_at(int format);
const char *sk_importer_name_at(int format);
const sk_importer *sk_importer_find(const char *name);
const sk_exporter *sk_exporter_at(int export_);
const char *sk_prepare_export_name(int export_);
const sk_exporter *sk_exporter_find(const char *name);

/* Free the arrays an importer allocated (tokens, offsets, samples, labels)
 * and zero *d. NULL is fine. */
void sk_import_release(sk_corpus_data *d);

/* The checks of cfg's keys alone (prepare.level, chunk_kib, a non-empty
 * input and output, a known format / export), made before any file is
 * touched: SK_EINVAL naming the key. sk_prepare_run makes them first;
 * `shrink prepare` calls it too, to exit with the usage code. */
int sk_prepare_validate(const sk_prepare_config *cfg);

/* Run `shrink prepare`: import (collective over the MPI world, sk_mpi.h:
 * each rank parses and writes its share) or, with cfg->export_ != SK_EXPORT_NONE,
 * export (rank 0). Serial before sk_mpi_init. */
int sk_prepare_run(const sk_prepare_config *cfg);

/* `shrink inspect`: print counts, shapes, dtype, compression, attributes
 * and provenance of `path` to out; verify=1 also runs sk_corpus_verify. */
int sk_inspect_print(FILE *out, const char *path, int verify);

/* ---- shared helpers for importers/exporters (dataset-internal) ---------- */
/* Read a whole file (gz-compressed or plain) into a malloc'd buffer. */
int sk_prepare_slurp_(const char *path, unsigned char **buf, size_t *len, int gz);
/* Read bytes [off, off+len) of a plain file into a malloc'd buffer; fails
 * naming the file when it is shorter. */
int sk_prepare_read_range_(const char *path, int64_t off, size_t len, unsigned char **buf);
/* Size of a plain file in bytes. */
int sk_prepare_file_size_(const char *path, int64_t *size);
/* This rank's part [*lo, *hi) of n items split evenly in rank order. */
void sk_prepare_share_(int64_t n, const sk_import_share *s, int64_t *lo, int64_t *hi);
/* Rename tmp -> path or remove tmp and fail; used by exporters. */
int sk_prepare_commit_(const char *tmp, const char *path, int ok);

extern const sk_importer sk_importer_idx, sk_importer_text, sk_importer_jsonl, sk_importer_megatron, sk_importer_llmc;
extern const sk_exporter sk_exporter_megatron, sk_exporter_llmc;

#ifdef __cplusplus
}
#endif
#endif /* SK_PREPARE_H */
