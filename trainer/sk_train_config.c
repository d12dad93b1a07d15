/* sk_train_config.c - the [model] and [train] config sections (the data
 * the trainer reads is the dataset module's [data] section): one table
 * each drives defaults, files, --set and --help (common/sk_config.h).
 * sk_model_config_defaults / sk_train_config_defaults in sk_train.c must
 * agree with the defaults here (a unit test checks). */
#include <stddef.h>

#include "sk_train.h"

#define MK_(name, type, field, def, lo, hi, flags, choices, help) \
    {name, type, offsetof(sk_model_config, field), def, lo, hi, flags, choices, help}
static const sk_cfg_key model_keys_[] = {
    MK_("arch", SK_CFG_STRING, arch, "vit", 1, 0, 0, "vit|gpt|convnet",
        "model: vit or convnet (images) or gpt (tokens)"),
    MK_("width", SK_CFG_INT, width, "128", 1, 65536, 0, NULL, "hidden size D"),
    MK_("depth", SK_CFG_INT, depth, "4", 1, 64, 0, NULL, "transformer blocks"),
    MK_("heads", SK_CFG_INT, heads, "4", 1, 1024, 0, NULL, "attention heads (must divide width)"),
    MK_("mlp_ratio", SK_CFG_INT, mlp_ratio, "4", 1, 64, 0, NULL, "MLP hidden size = mlp_ratio * width"),
    MK_("patch", SK_CFG_INT, patch, "7", 1, 4096, 0, NULL, "vit: patch side in pixels (must divide the image)"),
    MK_("pool", SK_CFG_STRING, pool, "cls", 1, 0, 0, "cls|mean", "vit: class-token or mean pooling"),
    MK_("vocab", SK_CFG_INT, vocab, "0", 0, 1 << 24, 0, NULL, "gpt: vocabulary size (0: the corpus's)"),
    MK_("classes", SK_CFG_INT, classes, "0", 0, 1 << 24, 0, NULL, "vit, convnet: label classes (0: the corpus's)"),
    MK_("norm", SK_CFG_STRING, norm, "instance", 1, 0, 0, "instance|batch|none", "convnet: norm after each conv"),
    MK_("pooling", SK_CFG_STRING, pooling, "avg", 1, 0, 0, "avg|max|none", "convnet: 2x2 pooling after each conv"),
};
#undef MK_

#define TK_(name, type, field, def, lo, hi, flags, help) \
    {name, type, offsetof(sk_train_config, field), def, lo, hi, flags, NULL, help}
static const sk_cfg_key train_keys_[] = {
    TK_("steps", SK_CFG_INT, steps, "1000", 1, 1e12, 0, "optimizer steps"),
    TK_("accum", SK_CFG_INT, accum, "1", 1, 1e6, 0, "gradient accumulation micro-steps per step"),
    TK_("lr", SK_CFG_FLOAT, lr, "1e-3", 0, 10, SK_CFG_EXCL_MIN, "peak learning rate"),
    TK_("min_lr", SK_CFG_FLOAT, min_lr, "1e-5", 0, 10, 0, "final learning rate of the cosine schedule"),
    TK_("warmup", SK_CFG_INT, warmup, "100", 0, 1e12, 0, "linear warmup steps"),
    TK_("weight_decay", SK_CFG_FLOAT, weight_decay, "0.05", 0, 10, 0, "AdamW decoupled weight decay (matrices only)"),
    TK_("beta1", SK_CFG_FLOAT, beta1, "0.9", 0, 1, SK_CFG_EXCL_MAX, "AdamW beta1"),
    TK_("beta2", SK_CFG_FLOAT, beta2, "0.999", 0, 1, SK_CFG_EXCL_MAX, "AdamW beta2"),
    TK_("eps", SK_CFG_FLOAT, eps, "1e-8", 0, 1, SK_CFG_EXCL_MIN, "AdamW epsilon"),
    TK_("clip", SK_CFG_FLOAT, clip, "1.0", 0, 1e9, 0, "clip the global gradient norm (0: off)"),
    TK_("eval_every", SK_CFG_INT, eval_every, "0", 0, 1e12, 0, "steps between evaluations (0: at the end only)"),
    TK_("eval_batches", SK_CFG_INT, eval_batches, "0", 0, 1e12, 0, "batches per evaluation (0: the whole eval split)"),
    TK_("ckpt_every", SK_CFG_INT, ckpt_every, "0", 0, 1e12, 0, "steps between checkpoints (0: at the end only)"),
    TK_("keep_last", SK_CFG_INT, keep_last, "3", 0, 1e6, 0, "checkpoints kept (0: all)"),
    TK_("bucket_mb", SK_CFG_FLOAT, bucket_mb, "1.0", 0, 1e4, SK_CFG_EXCL_MIN, "gradient allreduce bucket size in MiB"),
    TK_("bytes_per_token", SK_CFG_FLOAT, bytes_per_token, "1.0", 0, 1e6, SK_CFG_EXCL_MIN, "bytes per token, for bits per byte (1 for byte-level corpora)"),
};
#undef TK_

const sk_cfg_section sk_model_section = {"model", "model architecture (trainer)", model_keys_,
                                         (int)(sizeof model_keys_ / sizeof *model_keys_), sizeof(sk_model_config)};
const sk_cfg_section sk_train_section = {"train", "training loop (trainer)", train_keys_,
                                         (int)(sizeof train_keys_ / sizeof *train_keys_), sizeof(sk_train_config)};
