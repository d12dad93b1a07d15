/* sk_corpus.h - shrink corpus files: HDF5 + zstd (filter 32015), format
 * specified in docs/FORMAT.md.
 *
 * defines: sk_corpus (opaque reader), sk_corpus_kind, sk_corpus_data (what
 *          a writer stores), sk_corpus_write_opts, sk_corpus_info, and
 *          sk_corpus_write / _open / _free / _info / _read_* / _verify,
 *          sk_corpus_sample_elems, sk_elem_size, sk_elem_name.
 *
 * Every function here serialises its HDF5 calls on one process-wide lock
 * (HDF5 1.10 parallel builds are not thread-safe), so readers may be used
 * from the loader's prefetch thread and the caller's thread at once.
 * Errors name the file and the HDF5 object ("x.h5: /tokens: ...").
 * Owner: dataset module.
 */
#ifndef SK_CORPUS_H
#define SK_CORPUS_H

#include <stdint.h>
#include <stdio.h>

#include "sk_error.h"
#include "sk_loader.h" /* sk_elem_type */

#ifdef __cplusplus
extern "C" {
#endif

#define SK_CORPUS_FORMAT_VERSION 1
#define SK_CORPUS_MAX_DIMS 4
#define SK_CORPUS_MAX_SCORES 8

typedef enum { SK_CORPUS_TOKENS = 0, SK_CORPUS_SAMPLES = 1 } sk_corpus_kind;

typedef enum { SK_COMPRESS_ZSTD = 0, SK_COMPRESS_NONE = 1, SK_COMPRESS_DEFLATE = 2 } sk_compress;

/* In-memory corpus handed to sk_corpus_write (all pointers borrowed). */
typedef struct {
    sk_corpus_kind kind;
    sk_elem_type type;  /* element type of tokens / samples */
    int64_t vocab_size; /* tokens: every id in [0, vocab_size) */
    int ndim;           /* samples: per-sample dims (1..4) */
    int64_t shape[SK_CORPUS_MAX_DIMS];
    /* tokens: flat array + num_docs+1 offsets (offsets[0]=0, last=num_tokens) */
    const void *tokens;
    int64_t num_tokens;
    const int64_t *offsets;
    int64_t num_docs;
    /* samples: num_samples * prod(shape) elements, C order */
    const void *samples;
    int64_t num_samples;
    /* optional: one label per document / sample in [0, num_classes) */
    const int64_t *labels;
    int64_t num_classes;
    /* optional per-document / per-sample float32 scores, /scores/<name> */
    int nscores;
    const char *score_names[SK_CORPUS_MAX_SCORES];
    const float *scores[SK_CORPUS_MAX_SCORES];
    /* attributes */
    const char *source;  /* what it was made from (file, format) */
    const char *command; /* the command line that made it */
    /* provenance of derived corpora (NULL / 0 when not derived) */
    const char *prov_source; /* the corpus it was derived from */
    const char *prov_method; /* e.g. "coreset:kcenter", "dedup" */
    const int64_t *kept;     /* indices kept from prov_source, num_kept */
    int64_t num_kept;
    const char *prov_steps; /* JSON array: every step that made this corpus, oldest first (docs/FORMAT.md) */
    /* optional arrays over the source's rows (num_source of them; in a
     * slice write, this rank's slice of them, in rank order like the rows):
     * /provenance/scores (float32, named by prov_score_name) and
     * /provenance/cluster_ids (int64: dedup's cluster of each source row) */
    int64_t num_source;
    const float *prov_scores;
    const char *prov_score_name;
    const int64_t *prov_clusters;
    /* optional pull source for the main dataset (/tokens or /samples),
     * instead of `tokens` / `samples` (leave those NULL): the writer calls
     * fill(fill_ctx, first, count, out) to put rows [first, first+count)
     * (tokens, or samples) into out, a buffer of count rows of the element
     * type. first counts from the start of d (in a slice write, of this
     * rank's slice). Each row is asked for exactly once, in ranges of whole
     * chunks of the written file (except at slice ends), about fill_window
     * bytes at a time (0: 16 MiB), so the writer holds a bounded window of
     * rows, not the corpus. A non-zero return fails the write (collectively,
     * the message kept). Token ids pulled are checked against vocab_size
     * as they arrive. Offsets, labels, scores and provenance stay arrays. */
    int (*fill)(void *fill_ctx, int64_t first, int64_t count, void *out);
    void *fill_ctx;
    int64_t fill_window;
} sk_corpus_data;

typedef struct {
    sk_compress compress; /* default (zero) zstd */
    int level;            /* zstd 1..22 (0 -> 3); deflate 1..9 (0 -> 6) */
    int64_t chunk_bytes;  /* target bytes per chunk (0 -> 1 MiB) */
    int fletcher32;       /* also add HDF5's Fletcher32 checksum filter */
    int byte_shuffle;     /* HDF5's built-in shuffle filter (ID 2) before compression */
} sk_corpus_write_opts;

/* Validate d (offsets add up, ids < vocab, labels < classes, non-empty) and
 * write it to `path` atomically: a temporary name in the same directory,
 * renamed on success, removed on failure. Collective when the MPI world
 * (sk_mpi.h) has more than one rank: every rank passes the same d and
 * writes (compresses) its own chunk-aligned share with parallel HDF5; the
 * file is identical to a one-rank write. Serial before sk_mpi_init. */
int sk_corpus_write(const char *path, const sk_corpus_data *d, const sk_corpus_write_opts *opts);

/* Like sk_corpus_write, but each rank passes only its own slice of the
 * corpus (collective; with one rank it is sk_corpus_write). The
 * slices follow each other in rank order: rank r's tokens, samples,
 * labels, scores and kept indices come after rank r-1's, and the num_*
 * fields count the slice. offsets holds the slice's num_docs + 1 values,
 * relative to the slice's first token; rank 0's offsets[0] is the
 * corpus's first entry, every other rank's offsets[0] is dropped (it is
 * the previous rank's last end). So a document may start on one rank and
 * have its end offset on another (llm.c: rank 0 holds the one document,
 * every rank some of its tokens). vocab_size and num_classes may be each
 * rank's own lower bound; the file records the maximum over ranks. A slice
 * may be empty (no rows, offsets = {0}, num_docs = 0). Every rank's rows
 * are sent to the rank that compresses their chunks (MPI point-to-point),
 * then written as sk_corpus_write does; the file is the one a single rank
 * would write from the concatenated slices. */
int sk_corpus_write_part(const char *path, const sk_corpus_data *slice, const sk_corpus_write_opts *opts);

typedef struct sk_corpus sk_corpus;

typedef struct {
    sk_corpus_kind kind;
    sk_elem_type type;
    int format_version;
    int64_t vocab_size; /* tokens */
    int ndim;           /* samples */
    int64_t shape[SK_CORPUS_MAX_DIMS];
    int64_t num_docs, num_tokens; /* tokens */
    int64_t num_samples;          /* samples; tokens: == num_docs */
    int has_labels;
    int64_t num_classes;
    int has_provenance;
    int64_t num_kept;
    int64_t num_source; /* rows of /provenance/scores or /cluster_ids (0: none stored) */
    int has_prov_scores, has_prov_clusters;
    char prov_score_name[64];
    char source[512], command[1024], prov_source[512], prov_method[128];
} sk_corpus_info;

/* Open and check a corpus (format attributes, dataset shapes and types).
 * *out owned by the caller, release with sk_corpus_free (NULL ok). */
int sk_corpus_open(sk_corpus **out, const char *path);
void sk_corpus_free(sk_corpus *c);
const sk_corpus_info *sk_corpus_info_get(const sk_corpus *c); /* borrowed */
const char *sk_corpus_path(const sk_corpus *c);               /* borrowed */
/* Elements in one sample of a samples corpus: the product of in->shape. */
int64_t sk_corpus_sample_elems(const sk_corpus_info *in);

/* Read [start, start+count) of a dataset into caller memory (element type
 * from info; offsets/labels/kept are int64). Corrupt chunks fail with
 * SK_ECORRUPT naming the file and dataset. */
int sk_corpus_read_tokens(sk_corpus *c, int64_t start, int64_t count, void *out);
int sk_corpus_read_offsets(sk_corpus *c, int64_t start, int64_t count, int64_t *out);
int sk_corpus_read_samples(sk_corpus *c, int64_t start, int64_t count, void *out);
int sk_corpus_read_labels(sk_corpus *c, int64_t start, int64_t count, int64_t *out);
int sk_corpus_read_kept(sk_corpus *c, int64_t start, int64_t count, int64_t *out);
int sk_corpus_read_prov_scores(sk_corpus *c, int64_t start, int64_t count, float *out);
int sk_corpus_read_prov_clusters(sk_corpus *c, int64_t start, int64_t count, int64_t *out);
/* The /provenance `steps` attribute (a JSON array; docs/FORMAT.md), or
 * NULL when the corpus has none. Borrowed, valid until sk_corpus_free. */
const char *sk_corpus_prov_steps(const sk_corpus *c);

/* Rows per chunk of the main dataset (/tokens: tokens, /samples: samples),
 * or 0 when it is not chunked. Reading whole chunks at multiples of it
 * decodes each chunk once, with one call. */
int64_t sk_corpus_chunk_rows(const sk_corpus *c);

/* Full consistency check: decodes every chunk of every dataset, checks
 * offsets (start 0, non-decreasing, end = num_tokens), token ids < vocab,
 * labels < num_classes, provenance indices. 0 or the first problem. */
int sk_corpus_verify(sk_corpus *c);

/* On-disk bytes of a dataset's chunks vs its decoded bytes, and a
 * description of its filter pipeline / chunking ("zstd(3)+fletcher32,
 * chunk 524288"). name is e.g. "tokens". 0 or SK_ENOTFOUND. */
int sk_corpus_storage(sk_corpus *c, const char *name, int64_t *stored, int64_t *raw, char *desc, size_t desc_len);

/* Element size in bytes / name ("uint16") of an element type; 0 / "?" if unknown. */
size_t sk_elem_size(sk_elem_type t);
const char *sk_elem_name(sk_elem_type t);
/* Parse "uint8|uint16|int32|int64|float32"; 0 or SK_EINVAL. */
int sk_elem_parse(const char *name, sk_elem_type *out);

/* Process-wide lock that all dataset code holds around HDF5 calls; for
 * code outside this file that calls HDF5 directly (recursive). */
void sk_corpus_h5_lock(void);
void sk_corpus_h5_unlock(void);

#ifdef __cplusplus
}
#endif
#endif /* SK_CORPUS_H */
