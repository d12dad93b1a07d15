/* sk_ckpt.h - checkpoints: training-state directories (files in models/sk_weights.h).
 *
 * defines: sk_ckpt_state, sk_ckpt_optim, sk_ckpt_save, sk_ckpt_latest, sk_ckpt_latest_valid,
 *          sk_ckpt_verify, sk_ckpt_load, sk_ckpt_state_read.
 *
 * A checkpoint is a directory <root>/step-<8 digits>/ holding
 *   model.safetensors  parameters under their model names, then the
 *                      model's buffers (batch norm's running statistics,
 *                      sk_model_buffers), also by name,
 *   optim.safetensors  metadata "optimizer" ("adamw" or "sgd"; absent in
 *                      checkpoints from before SGD: adamw). AdamW: moments
 *                      "<name>.exp_avg" / "<name>.exp_avg_sq" and each
 *                      parameter's own step count "<name>.step" (I64 [1],
 *                      torch's state['step']), metadata adamw_step
 *                      (optimizer steps taken). SGD: the momentum buffer
 *                      "<name>.momentum_buffer" of each parameter that has
 *                      one (sk_sgd_has_buffer; none with momentum 0),
 *   state.json         step, world size, seed, loader position, RNG state,
 *                      token counters and the model/train config,
 *   MANIFEST           written last: size and xxh3-64 checksum of each of
 *                      the three files above (trainer/sk_ckpt_manifest.h).
 * It is written under a temporary name and renamed into place (a killed
 * writer leaves only a "tmp-" directory, which resume ignores); after that
 * all but the newest keep_last step directories are removed.
 */
#ifndef SK_CKPT_H
#define SK_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "sk_params.h"

typedef struct {
    int64_t step; /* optimizer steps completed */
    int world;    /* ranks that wrote it */
    uint64_t seed;
    int64_t loader_epoch, loader_step; /* position of the next training batch */
    double tokens, tokens_kept;        /* counters so far */
    unsigned char rng[8192];           /* trainer generator state (mt19937: ~5 KB) */
    size_t rng_len;
    char config[4096]; /* model + train config as JSON (for the record and for checks) */
} sk_ckpt_state;

/* The optimizer whose state a checkpoint holds: exactly one of the two is
 * set (borrowed). */
typedef struct {
    sk_adamw *adamw;
    sk_sgd *sgd;
} sk_ckpt_optim;

/* Rank 0 only: write checkpoint `st->step` under root (created if needed):
 * p (what the optimizer updates: its state covers p only) and buf (the
 * model's buffers; NULL or empty: none) into model.safetensors. */
int sk_ckpt_save(const char *root, const sk_params *p, const sk_params *buf, const sk_ckpt_optim *opt,
                 const sk_ckpt_state *st, int keep_last);
/* Resolve dir to a checkpoint directory: dir itself when it holds a
 * state.json, else its newest step-* subdirectory. */
int sk_ckpt_latest(const char *dir, char *out, size_t cap);
/* Read a checkpoint directory into p, buf (NULL or empty: none; a buffer
 * missing from the file is SK_ENOTFOUND naming it), opt (NULL: skipped; a
 * checkpoint of the other optimizer is SK_EINVAL naming both) and st. */
int sk_ckpt_load(const char *ckdir, sk_params *p, sk_params *buf, const sk_ckpt_optim *opt, sk_ckpt_state *st);
/* Check a checkpoint directory against its MANIFEST (every file present,
 * same size and checksum): SK_ECORRUPT naming the file otherwise. The
 * trainer calls it before sk_ckpt_load. */
int sk_ckpt_verify(const char *ckdir);
/* As sk_ckpt_latest, but the newest step-* directory that passes
 * sk_ckpt_verify, warning for each newer one skipped (--resume-latest-valid);
 * SK_ECORRUPT when none does. A dir that is itself a checkpoint is only
 * verified. */
int sk_ckpt_latest_valid(const char *dir, char *out, size_t cap);
/* Parse one state.json file into st (zeroed first; every key required and
 * range-checked; errors name the file): what sk_ckpt_load reads first. */
int sk_ckpt_state_read(const char *path, sk_ckpt_state *st);

#endif /* SK_CKPT_H */
