/* sk_prepare.h - `shrink prepare`: importers (IDX, text, JSON Lines,
 * Megatron .bin/.idx, llm.c .bin) into shrink corpora, exporters back out,
 * and `shrink inspect`.
 *
 * defines: sk_prepare_config (the `prepare` config section struct),
 *          sk_importer / sk_exporter (versioned vtables, found by name),
 *          sk_importer_find, sk_exporter_find, sk_importer_list,
 *          sk_import_release, sk_prepare_run, sk_inspect_print.
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

/* The `prepare` section (field types follow the config engine contract). */
typedef struct {
    char format[SK_PREPARE_STR_MAX];    /* idx|text|jsonl|megatron|llmc (import) */
    char input[SK_PREPARE_STR_MAX];     /* input file (megatron: prefix or .bin/.idx path) */
    char labels[SK_PREPARE_STR_MAX];    /* idx: labels file ("" = none) */
    char output[SK_PREPARE_STR_MAX];    /* output corpus (export: output file / prefix) */
    char export_[SK_PREPARE_STR_MAX];   /* none|megatron|llmc: export `input` (a corpus) instead */
    int64_t level;                      /* zstd level 1..22 */
    int64_t chunk_kib;                  /* target chunk size in KiB */
    char boundary[SK_PREPARE_STR_MAX];  /* text: a line equal to this ends a document ("" = blank line) */
    char jsonl_key[SK_PREPARE_STR_MAX]; /* jsonl: string field holding the text */
    int eod;                            /* text/jsonl: append token 256 after each document */
    int64_t vocab;                      /* megatron/llmc: vocabulary size (0 = max id + 1) */
    int fletcher32;                     /* add HDF5 Fletcher32 checksums too */
    int byteshuffle;                    /* HDF5 shuffle filter before zstd (multi-byte dtypes; default on) */
    const char *command;                /* recorded in the corpus `command` attribute (not a config key; borrowed, may be NULL) */
} sk_prepare_config;

/* Fill cfg with the documented defaults (same as the config table). */
void sk_prepare_config_defaults(sk_prepare_config *cfg);

/* The share of the input an importer reads: rank `rank` of `world`. */
typedef struct {
    int rank, world;
} sk_import_share;

#define SK_IMPORTER_VERSION 2
typedef struct {
    unsigned version;  /* SK_IMPORTER_VERSION */
    const char *name;  /* prepare.format value */
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
    unsigned version;  /* SK_EXPORTER_VERSION */
    const char *name;  /* prepare.export value */
    const char *help;
    /* write corpus c to `out` (atomically: temp names then rename) */
    int (*export_)(sk_corpus *c, const char *out);
} sk_exporter;

const sk_importer *sk_importer_find(const char *name); /* NULL if unknown */
const sk_exporter *sk_exporter_find(const char *name);
/* NULL-terminated tables, for --help and tests */
const sk_importer *const *sk_importer_list(void);
const sk_exporter *const *sk_exporter_list(void);

/* Free the arrays an importer allocated (tokens, offsets, samples, labels)
 * and zero *d. NULL is fine. */
void sk_import_release(sk_corpus_data *d);

/* Run `shrink prepare`: import (collective over the MPI world, sk_mpi.h:
 * each rank parses and writes its share) or, with cfg->export_ != "none",
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
