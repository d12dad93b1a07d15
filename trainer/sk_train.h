/* sk_train.h - the training run behind `shrink train`.
 *
 * defines: sk_train_config / sk_train_section ([train] config section), sk_train_source (where batches come
 *          from), sk_train_hook, SK_TRAIN_STOP, sk_train_opts, sk_train_result, sk_train_validate,
 *          sk_train_check, sk_train_run, sk_train_source_loader,
 *          sk_train_batch_tensors.
 *
 * sk_train_run reads top to bottom like llm.c's train loop, in four
 * phases. Set up: check the config, open the data, build the model the
 * registry names (models/sk_model.h; same seed on every rank, then a
 * broadcast from rank 0), the selector, the optimizer (AdamW or SGD). Resume from a checkpoint if
 * asked. Loop, per step: rank 0's model buffers broadcast (as PyTorch's
 * DDP broadcast_buffers does), the caller's on_step callback, warmup+cosine (or step) lr,
 * `accum` micro-batches of next batch -> forward -> backward, bucketed
 * gradient averaging over MPI, clipping with a non-finite check, the
 * update, one metrics record (JSON Lines), evaluation every eval_every
 * steps, checkpoints every ckpt_every steps. Finish: final weights and
 * summary. The trainer never asks which architecture it trains: the
 * model's flags say whether it reports bits per byte (SK_MODEL_LM) or
 * accuracy. Under MPI every rank calls it; rank 0 writes files and the
 * progress bar.
 *
 * Files under out_dir: metrics.jsonl (one record per step and per eval),
 * summary.json, model.safetensors (final weights and buffers), ckpt/step-NNNNNNNN/ (checkpoints),
 * forgetting.safetensors (train.record_forgetting).
 * A non-empty out_dir is refused unless resuming or opts.overwrite. steps in
 * summary.json is the total, steps_this_run what this run did after a resume
 * (seconds and steps_per_s cover this run only).
 *
 * SIGINT/SIGTERM during the loop: the run stops after the step in progress
 * on every rank (agreed each step), writes a checkpoint, and fails with a
 * message naming it and the command that resumes (opts.command + --resume).
 *
 * With data.prune=infobatch (trainer/sk_infobatch.h) the run counts
 * epochs: E = ceil(train.steps / full-data steps per epoch); the loader
 * takes each epoch's kept order from sk_infobatch, the loss is
 * mean(sample_loss * weight), every sample's loss is gathered over ranks
 * into the scores (when the next epoch begins and before a checkpoint, not
 * every step), the learning rate follows epoch progress (so it is the
 * schedule of a full run of train.steps), and the run ends after epoch E,
 * in fewer optimizer steps. Step records gain epoch and samples_skipped
 * (so far); summary.json gains a "prune" object: steps and samples
 * skipped, the measured mean wall and CPU time per step, and the time the
 * skipped steps would have taken at it, labelled projected (see
 * prune_summary_).
 *
 * Time: summary.json's seconds is the loop's wall time, cpu_seconds its
 * process CPU time (sk_cpu_now: every thread, MPI's busy waiting
 * included) summed over ranks, cpu_seconds_max_rank the largest rank's;
 * each step record's step_time is rank 0's wall time of the step and
 * cpu_time the step's CPU time summed over ranks. On a shared machine CPU
 * time moves less with other processes' load than wall time does.
 *
 * With train.record_forgetting (classifiers, with a separate data.eval
 * so that every row of data.train is a training sample) every training
 * forward's per-sample correctness is gathered over ranks into forgetting
 * counts (trainer/sk_forgetting.h), kept in checkpoints, and written at
 * the end as out_dir/forgetting.safetensors, stamped with the training
 * corpus's xxh64, for `shrink condense` (condense.method=forgetting).
 *
 * With a token selector, each step record also holds layer_tokens (mean
 * tokens per sample entering each block in the step's last forward on rank
 * 0, padding excluded), layer_tokens_padded (what the block computed on),
 * and flops / flops_full (sk_select_flops per sample per training step with
 * and without compression); the run ends with a side-by-side timing of the
 * same batch with and without the selector (sk_train_result), written to
 * summary.json and the final log line next to the FLOP ratio.
 */
#ifndef SK_TRAIN_H
#define SK_TRAIN_H

#include <stdint.h>

#include "sk_config.h"
#include "sk_data_config.h"
#include "sk_loader.h"
#include "sk_model.h"
#include "sk_select.h"

/* train.optimizer and train.lr_schedule (the order of their choices). */
typedef enum { SK_TRAIN_ADAMW = 0, SK_TRAIN_SGD = 1 } sk_train_optimizer;
typedef enum { SK_TRAIN_COSINE = 0, SK_TRAIN_STEP = 1 } sk_train_schedule;

/* [train] */
typedef struct sk_train_config {
    int64_t steps;     /* optimizer steps */
    int64_t accum;     /* micro-steps per step (gradient accumulation) */
    int optimizer;     /* sk_train_optimizer */
    double lr, min_lr; /* peak and final learning rate (min_lr: cosine only) */
    int64_t warmup;    /* linear warmup steps, then the schedule */
    int lr_schedule;   /* sk_train_schedule: cosine to min_lr, or step: lr x 0.1 from steps / 2 on */
    double weight_decay, beta1, beta2, eps;
    double momentum;        /* SGD momentum */
    double clip;            /* global grad-norm clip (0: off) */
    int64_t eval_every;     /* steps between evaluations (0: only at the end) */
    int64_t eval_batches;   /* eval batches per evaluation (0: the whole eval split) */
    int64_t ckpt_every;     /* steps between checkpoints (0: only at the end) */
    int64_t keep_last;      /* checkpoints kept */
    double bucket_mb;       /* gradient bucket size for the MPI allreduce */
    double bytes_per_token; /* for bits per byte; 1 for byte-level corpora */
    int record_forgetting;  /* classifiers: count forgetting events per training sample (trainer/sk_forgetting.h) */
    int dsa;                /* augment every training batch with DSA (trainer/sk_dsa.h; image corpora) */
    char dsa_strategy[SK_CFG_STR_MAX]; /* its families, e.g. color_crop_cutout_flip_scale_rotate */
} sk_train_config;

/* The [train] config section (key table in sk_train_config.c); [model] is
 * models/sk_model_config.h. */
extern const sk_cfg_section sk_train_section;

/* Where batches come from: the corpus loader (sk_train_source_loader) or a
 * caller's synthetic source with the same contract (tests). */
typedef struct {
    int (*create)(void **ctx, const sk_loader_opts *o);
    void (*free)(void *ctx);
    int (*next)(void *ctx, const sk_batch **out);
    sk_loader_pos (*tell)(void *ctx);
    int (*seek)(void *ctx, sk_loader_pos pos);
    int64_t (*steps_per_epoch)(void *ctx);
    int64_t (*vocab_size)(void *ctx);
    int64_t (*num_classes)(void *ctx);
    /* optional (NULL: data.prune is refused for the source): samples in
     * the split, and sk_loader_seek_order for a source created with
     * external_order (online sample pruning, sk_infobatch.h) */
    int64_t (*num_samples)(void *ctx);
    int (*seek_order)(void *ctx, sk_loader_pos pos, const int64_t *order, int64_t n);
} sk_train_source;

/* The sk_loader-backed source. */
const sk_train_source *sk_train_source_loader(void);

/* What sk_train_opts.on_step sees (borrowed for the call). */
typedef struct {
    sk_params *params;  /* everything training updates: the model's parameters, then the selector's.
                          A callback may overwrite values (under its own shim scope, grad mode off),
                          e.g. poison one with NaN to exercise the non-finite checks. */
    sk_params *buffers; /* the model's buffers (sk_model_buffers; NULL: none), rank 0's on every rank at this
                           point (broadcast before each step) */
    int rank, world;
} sk_train_hook;

/* on_step's answer asking the run to stop (see sk_train_opts.on_step). */
#define SK_TRAIN_STOP 1

typedef struct {
    const sk_model_config *model;
    const sk_train_config *train;
    const sk_data_config *data;     /* [data]: corpora, global batch, seq_len (gpt context), shuffle */
    const sk_select_config *select; /* NULL: no token selection */
    const char *data_path;          /* training corpus (NULL: data->train) */
    const char *out_dir;            /* outputs; created if needed */
    const char *resume;             /* checkpoint root or step directory, or NULL */
    int resume_latest_valid;        /* resume from the newest checkpoint that passes its MANIFEST check */
    int overwrite;                  /* 0: refuse a non-empty out_dir unless resuming (run.overwrite) */
    const char *command;            /* the command line, for the resume hint after SIGINT/SIGTERM (or NULL) */
    uint64_t seed;
    int threads;                   /* intra-op threads per rank (0: cores / ranks on this host) */
    int64_t progress;              /* rank-0 progress on stderr (sk_progress: a bar on a terminal, else one
                                       line every `progress` steps); 0: none */
    const sk_train_source *source; /* NULL: sk_train_source_loader() */
    /* Optional, called on every rank at the start of each step (0-based
     * index, before its first batch is read). Returns 0 to go on,
     * SK_TRAIN_STOP to end the loop before this step (the run then
     * finishes with the steps done: weights and summary, no extra
     * evaluation or checkpoint; every rank must agree), or a negative SK_E*
     * set with sk_error_set to fail the run. Tests inject faults through
     * it (tests/trainer/sk_train_driver.c: kill a rank, NaN a weight). */
    int (*on_step)(void *ctx, int64_t step, sk_train_hook *h);
    void *on_step_ctx;
} sk_train_opts;

typedef struct {
    int64_t steps;                        /* steps completed */
    double loss;                          /* last training loss */
    double eval_loss, eval_acc, eval_bpb; /* last evaluation (acc: classifiers, bpb: LMs; NaN if n/a) */
    double unigram_bpb;                   /* LMs: unigram model's bits per byte on the eval split */
    double seconds;                       /* wall time of the training loop */
    /* process CPU time of the training loop (sk_cpu_now: every thread,
     * MPI's busy waiting included), summed over ranks and the largest rank's */
    double cpu_seconds, cpu_seconds_max;
    double steps_per_s;
    double tokens, tokens_kept;
    /* With a selector (NaN without): side by side at the end of the run on
     * one batch, forward+backward step time with and without the selector
     * (median of SK_TRAIN_SPEEDUP_REPS interleaved passes, no update), their
     * ratio, and the analytic FLOP ratio full / compressed of that batch. */
    double step_time_select, step_time_full, measured_speedup, flop_ratio;
    /* data.prune (0 without): samples trained on and skipped (global, this
     * whole run including resumed parts), epochs finished */
    int64_t samples_trained, samples_skipped, epochs;
} sk_train_result;

#define SK_TRAIN_SPEEDUP_REPS 5

/* Check config values and cross-key constraints for `world` ranks before
 * any work; the message names the key. */
int sk_train_validate(const sk_model_config *m, const sk_train_config *t, const sk_data_config *d, int world);
/* What sk_train_run sets up before its first step, for rank 0 of a group
 * of `world` ranks, then freed: the config checks, the training and eval
 * sources opened (o->source or the corpus loader), the model built for
 * the corpus's samples (a token corpus for an LM, images otherwise), the
 * eval corpus's shape, type and classes against it, and the selector
 * created against the model (so a frozen scorer's select.checkpoint is
 * read and checked by the scorer's own loader). No MPI call, nothing
 * written, o->out_dir not looked at, data.eval not read in full, no
 * optimizer. A caller checks a run before starting it (`shrink ablate`
 * checks every cell of its grid); the message names the key or file. */
int sk_train_check(const sk_train_opts *o, int world);
/* Run (collective under MPI). res may be NULL. */
int sk_train_run(const sk_train_opts *o, sk_train_result *res);

/* A batch as tensors in the caller's shim scope (released with it): x
 * [n, <sample shape>] in the batch's element type (uint16 tokens widened
 * to int32 on the host: the shim has no uint16), *y the int64 labels [n],
 * or NULL when b->labels is NULL. The model casts and reshapes x as it
 * needs (sk_model.h). Only data, labels, n, ndim, shape and type of b are
 * read. The training loop and condense's proxy passes build their inputs
 * with it. */
int sk_train_batch_tensors(const sk_batch *b, sk_tensor **x, sk_tensor **y);

#endif /* SK_TRAIN_H */
