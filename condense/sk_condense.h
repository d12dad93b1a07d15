/* sk_condense.h - corpus-level compression behind `shrink condense`: read a
 * corpus, decide which samples (images or documents) to keep, write a new
 * corpus with provenance that `shrink train` reads as it is.
 *
 * defines: sk_condense_config / sk_condense_section ([condense] section),
 *          sk_condense_rule, SK_CONDENSE_VERSION, the SK_CONDENSE_* flags,
 *          sk_condense_job (what a method is given), sk_condense_out (what it
 *          returns), sk_condense_method (the vtable), the registry
 *          (sk_condense_find / _count / _at / _name_at), sk_condense_opts,
 *          sk_condense_run (the driver), sk_condense_check and the snapshot
 *          paths (sk_condense_snapshot_path, sk_condense_state_path).
 *
 * Like the selectors and models: a versioned vtable per method, one file
 * each (condense/sk_condense_<name>.c), listed in a `static const` table in
 * sk_condense.c. Flags, not names, say what a method needs.
 *
 * Sharding. Rows (samples, or documents of a token corpus) are split into
 * contiguous shards in index order, rank r holding [n*r/P, n*(r+1)/P).
 * A method sees only its shard (plus O(classes) or O(chosen) global facts
 * obtained through collectives) and marks the rows it keeps. The kept set
 * must not depend on P: methods derive randomness from the row's global
 * index (sk_splitmix64(seed ^ index)), never from a rank's stream, and
 * break ties by the lower global index (condense/sk_pick.h does this for
 * every top-k). The driver then writes the kept rows in index order, so
 * the output file is the same for any rank count.
 *
 * Memory. No rank holds its shard's rows or the kept rows: methods stream
 * the shard a block at a time, and the writer pulls the kept rows from the
 * source a window of whole chunks at a time (sk_corpus_data.fill). What
 * grows with the corpus is O(rows) arrays (keep flags, scores, cluster
 * ids, kept indices, offsets; a method's keys), measured in
 * docs/BENCHMARKS.md. Long passes log progress from rank 0
 * (sk_condense_progress).
 *
 * Provenance (docs/FORMAT.md): the output's /provenance group holds the
 * kept indices, a `steps` JSON array (every step that made the corpus:
 * method, source file and its xxh64 checksum, row counts, every condense
 * key, the proxy and its checksum, the seed), and, when the method scores
 * or clusters rows, those values for every source row
 * (/provenance/scores, /provenance/cluster_ids). `condense.scores_from`
 * reads such a file back instead of scoring again.
 *
 * Distillation (SK_CONDENSE_SYNTHESIZES: dm, dc; condense/sk_distill.h)
 * does not keep rows: it writes condense.ipc new samples per class,
 * float32 pixels in the source's [0, 255] units (or the source's type,
 * condense.synthetic_dtype), labelled, class-major. Its step records the
 * synthetic row count, the iterations made and the [model] section of the
 * networks it sampled; /provenance/kept_indices holds the source row each
 * synthetic sample was initialised from (condense.init=real; absent for
 * noise). The work is split by class over ranks, and the output is the same
 * for any rank count.
 *
 * Long distillations: condense.snapshot_every = K writes, after K, 2K, ...
 * iterations, the corpus a run of that many iterations would write
 * (sk_condense_snapshot_path), and beside it and the final output a state
 * file (sk_condense_state_path; safetensors: the synthetic leaves and their
 * momentum, metadata naming the method, the iterations, the seed, the
 * source checksum and every key the method reads). condense.resume_from =
 * such a corpus continues that run: the driver refuses a state made with
 * other keys, another [model], seed or source, and the output is the one a
 * single run of condense.iterations writes, bit for bit at the same
 * run.threads, at any rank counts.
 */
#ifndef SK_CONDENSE_H
#define SK_CONDENSE_H

#include <stdint.h>

#include "sk_config.h"
#include "sk_corpus.h"
#include "sk_data_config.h"
#include "sk_model.h"
#include "sk_train.h"

/* condense.rule: how score-based methods turn scores into a kept set. */
typedef enum {
    SK_CONDENSE_RULE_TOP = 0,    /* the highest scores (the hardest samples) */
    SK_CONDENSE_RULE_BOTTOM,     /* the lowest (the easiest) */
    SK_CONDENSE_RULE_STRATIFIED, /* evenly across score strata */
    SK_CONDENSE_RULE_CCS         /* drop the hardest ccs_beta, then stratified (Zheng et al., ICLR 2023) */
} sk_condense_rule;

/* [condense] */
typedef struct {
    char method[SK_CFG_STR_MAX];      /* registry name */
    char input[SK_CFG_STR_MAX];       /* source corpus */
    char output[SK_CFG_STR_MAX];      /* the corpus written */
    double keep;                      /* fraction of rows kept, (0, 1] */
    int class_balance;                /* with labels: keep that fraction of every class */
    int rule;                         /* sk_condense_rule */
    double ccs_beta;                  /* ccs: fraction of the hardest rows dropped first */
    int64_t strata;                   /* stratified / ccs: score strata */
    char proxy[SK_CFG_STR_MAX];       /* a model.safetensors written by shrink (scores, embeddings) */
    char proxies[SK_CFG_STR_MAX];     /* score methods: more proxies, comma separated; scores are averaged */
    char scores_from[SK_CFG_STR_MAX]; /* a condensed corpus whose /provenance/scores are reused */
    char
        forgetting_from[SK_CFG_STR_MAX]; /* forgetting: forgetting.safetensors files of shrink train, comma separated */
    int ppl_band;                        /* perplexity: sk_condense_ppl_band */
    double ppl_low, ppl_high;            /* perplexity: the band kept (quantiles or perplexities) */
    int64_t batch;                       /* rows per proxy forward, per rank */
    int64_t sim_cache_mb;                /* facility-location: MiB per rank for a class's similarities */
    int overwrite;                       /* replace an existing output */
    int64_t minhash_ngram;               /* minhash: units per shingle */
    int minhash_unit;                    /* minhash: sk_condense_minhash_unit */
    int64_t minhash_bands;               /* minhash: LSH bands */
    int64_t minhash_rows;                /* minhash: permutations per band */
    int64_t minhash_seed;                /* minhash: permutation seed; -1: run.seed */
    /* distillation (SK_CONDENSE_SYNTHESIZES methods: dm, dc) */
    int64_t ipc;                       /* synthetic images per class */
    int64_t iterations;                /* updates of the synthetic images (dc: outer iterations) */
    double lr_img;                     /* SGD learning rate of the images; <= 0: the method's reference value */
    double momentum_img;               /* SGD momentum of the images */
    int init;                          /* sk_condense_init */
    int64_t batch_real;                /* real images drawn per class and iteration */
    int synthetic_dtype;               /* sk_condense_syn_dtype */
    int64_t outer_loop, inner_loop;    /* dc: per iteration; -1: get_loops(ipc) of the reference */
    double lr_net;                     /* dc: SGD learning rate of the network's inner training */
    int64_t batch_train;               /* dc: synthetic images per inner training batch */
    int dsa;                           /* dm, dc: differentiable Siamese augmentation (trainer/sk_dsa.h) */
    char dsa_strategy[SK_CFG_STR_MAX]; /* its families, '_' separated */
    int64_t snapshot_every;            /* dm, dc: a snapshot and its state every this many iterations; 0: none */
    char resume_from[SK_CFG_STR_MAX];  /* dm, dc: a snapshot (or an output with a state) to continue */
} sk_condense_config;

/* condense.ppl_band: how `perplexity` keeps documents. */
typedef enum {
    SK_CONDENSE_PPL_NONE = 0, /* condense.keep and condense.rule (bottom: the lowest perplexity) */
    SK_CONDENSE_PPL_QUANTILE, /* ranks in [ppl_low, ppl_high) quantiles of the perplexities */
    SK_CONDENSE_PPL_ABSOLUTE  /* perplexities in [ppl_low, ppl_high] */
} sk_condense_ppl_band;
/* condense.init: where synthetic images start. */
typedef enum {
    SK_CONDENSE_INIT_REAL = 0, /* real images of their class, drawn by the seed */
    SK_CONDENSE_INIT_NOISE     /* standard normal in the model's input scale */
} sk_condense_init;

/* condense.synthetic_dtype: what the synthetic corpus stores. */
typedef enum {
    SK_CONDENSE_SYN_F32 = 0, /* float32 pixels in the source's [0, 255] units, unclamped */
    SK_CONDENSE_SYN_SOURCE   /* the source's element type: rounded to nearest, clamped to [0, 255] for uint8 */
} sk_condense_syn_dtype;

/* condense.minhash_unit: what a shingle is made of. */
typedef enum {
    SK_CONDENSE_MINHASH_WORD = 0, /* words of a byte-level text corpus */
    SK_CONDENSE_MINHASH_BYTE      /* tokens (bytes of a byte-level corpus) */
} sk_condense_minhash_unit;

extern const sk_cfg_section sk_condense_section;

/* What a method is (sk_condense_method.flags). */
enum {
    SK_CONDENSE_SAMPLES = 1u << 0,      /* works on sample (image) corpora */
    SK_CONDENSE_TOKENS = 1u << 1,       /* works on token corpora (rows are documents) */
    SK_CONDENSE_NEEDS_PROXY = 1u << 2,  /* scores or embeds rows with condense.proxy (job.proxy) */
    SK_CONDENSE_SCORES = 1u << 3,       /* writes one score per row (out.scores); takes condense.scores_from */
    SK_CONDENSE_USES_KEEP = 1u << 4,    /* honours condense.keep (dedup keeps what is not a duplicate) */
    SK_CONDENSE_NEEDS_LABELS = 1u << 5, /* refuses a corpus without labels */
    SK_CONDENSE_SYNTHESIZES = 1u << 6   /* makes new samples (out.syn) instead of marking kept rows; reads
                                           condense.ipc and the [model] section; SAMPLES and NEEDS_LABELS too */
};

/* What a method is given (borrowed for the call; the same on every rank
 * except the shard). */
typedef struct {
    const sk_condense_config *cfg;
    const sk_model_config *model; /* [model], [train], [data]: for methods that train or build models */
    const sk_train_config *train;
    const sk_data_config *data;
    sk_corpus *corpus; /* the source, open on every rank */
    const sk_corpus_info *info;
    int64_t n;             /* rows in the corpus */
    int64_t begin, end;    /* this rank's shard [begin, end) */
    const int64_t *labels; /* labels[i - begin] of the shard's rows; NULL without labels */
    int64_t classes;       /* 0 without labels */
    uint64_t seed;         /* run.seed */
    uint64_t source_xxh64; /* sk_fs_hash_file of the source (provenance's source_xxh64) */
    int rank, world;
    const float *given_scores; /* condense.scores_from: the shard's stored scores, else NULL */
    sk_model *proxy;           /* NEEDS_PROXY: condense.proxy, checked against the corpus; else NULL */
    /* SK_CONDENSE_SYNTHESIZES: condense.resume_from's state, checked by the
     * driver against this run (NULL / 0 without): the iterations it made and
     * the images' state after them, [syn_rows, <shape>] each, class-major. */
    int64_t resume_iterations;
    const float *resume_u;   /* the synthetic leaves in the model's input scale */
    const float *resume_mom; /* their SGD momentum buffers; NULL when condense.momentum_img is 0 */
    /* condense.snapshot_every: the method calls this (collectively) after
     * every such iteration count below condense.iterations, with out.syn,
     * out.syn_from and (rank 0's) out.syn_state as after a run of that
     * many; the driver writes the snapshot. NULL when snapshots are off. */
    int (*snapshot)(void *ctx, int64_t iterations);
    void *snapshot_ctx;
} sk_condense_job;

/* What a method fills (arrays of end - begin rows, allocated and zeroed by
 * the driver). */
typedef struct {
    uint8_t *keep;          /* 1: row begin + i is kept */
    float *scores;          /* SK_CONDENSE_SCORES: the row's score */
    const char *score_name; /* its name ("el2n"); static */
    int64_t *clusters;      /* dedup: each row's cluster (the lowest index in it); set has_clusters */
    int has_clusters;
    /* SK_CONDENSE_SYNTHESIZES (allocated by the driver; keep and the other
     * per-row arrays are then unused): syn_rows = classes * ipc synthetic
     * samples, class-major (class c's are rows [c ipc, (c + 1) ipc)), as
     * float32 pixels in the source's units, the same on every rank when
     * select returns (the driver writes rank 0's). */
    int64_t syn_rows;
    float *syn;          /* [syn_rows, <sample shape>] */
    int64_t *syn_labels; /* [syn_rows] */
    int64_t *syn_from;   /* [syn_rows] the source row each one started from; -1 (noise init) */
    int64_t iterations;  /* the updates made (recorded in the provenance) */
    /* condense.snapshot_every > 0 (allocated by the driver, else NULL): the
     * state a resume needs, filled by the method with out.syn, complete on
     * rank 0 (which writes the state file): [2, syn_rows, <shape>], the
     * leaves u, then their momentum buffers (zeros when
     * condense.momentum_img is 0). */
    float *syn_state;
} sk_condense_out;

/* 1: selection methods; 2: SK_CONDENSE_SYNTHESIZES and out.syn* (entries
 * that do not synthesise are unchanged). */
#define SK_CONDENSE_VERSION 2

typedef struct sk_condense_method {
    int version;      /* SK_CONDENSE_VERSION */
    const char *name; /* condense.method */
    unsigned flags;   /* SK_CONDENSE_* */
    const char *help; /* one line for --help and docs */
    const char *keys; /* the condense.* keys it reads beyond input/output/keep, space separated (docs) */
    /* optional: refuse settings or corpora the method cannot take, before
     * any work; the message names the key or the file. The driver has
     * already checked the flags (kind, labels). */
    int (*check)(const sk_condense_config *cfg, const sk_corpus_info *in);
    /* required: mark the shard's kept rows (and fill scores / clusters);
     * a SYNTHESIZES method fills out.syn* instead.
     * Collective: every rank calls it; a rank that fails must still reach
     * the collectives its peers enter (sk_mpi_agree first). */
    int (*select)(const sk_condense_job *job, sk_condense_out *out);
} sk_condense_method;

/* ---- the registry -------------------------------------------------------- */

const sk_condense_method *sk_condense_find(const char *name); /* NULL if unknown */
int sk_condense_count(void);
const sk_condense_method *sk_condense_at(int i);
const char *sk_condense_name_at(int i); /* condense.method's choices */

/* ---- the driver ---------------------------------------------------------- */

typedef struct {
    const sk_condense_config *cfg;
    const sk_model_config *model;
    const sk_train_config *train;
    const sk_data_config *data;
    uint64_t seed;
    const char *command; /* recorded in the output (the invocation and its config) */
} sk_condense_opts;

typedef struct {
    int64_t rows, kept; /* source rows, rows kept (synthesised rows for SYNTHESIZES methods) */
    double seconds;     /* wall time of the method's select (scoring included) */
    double seconds_total;
} sk_condense_result;

/* Check everything (keys, method against the corpus, output != input,
 * existing output, scores_from's length and source checksum), run the
 * method, write the output atomically. Collective. res may be NULL. */
int sk_condense_run(const sk_condense_opts *o, sk_condense_result *res);

/* What sk_condense_run checks before any work that one process can check
 * alone: condense.method registered, the input corpus readable and fit for
 * the method (kind, labels, sk_condense_method.check), condense.proxy
 * rebuilt from its file and fit for the corpus (or condense.scores_from's
 * scores present, one per row). The output path and the checksums are the
 * driver's. No MPI call, nothing written; the message names the key or
 * the file. (`shrink ablate` checks the corpora its cells condense.) */
int sk_condense_check(const sk_condense_opts *o);

/* Snapshots (condense.snapshot_every): the corpus a run would have written
 * after `iterations` goes to `output` with its ".h5" (if any) replaced by
 * ".it<iterations>.h5"; a state file sits beside each snapshot and beside
 * the final output, the corpus path with ".h5" replaced by
 * ".state.safetensors". SK_EINVAL when buf (cap bytes) is too small. */
int sk_condense_snapshot_path(const char *output, int64_t iterations, char *buf, size_t cap);
int sk_condense_state_path(const char *corpus, char *buf, size_t cap);

#endif /* SK_CONDENSE_H */
