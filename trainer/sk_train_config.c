/* sk_train_config.c - the [train] config section (the model's is
 * models/sk_model_config.c, the data's the dataset module's [data]): one
 * table drives defaults, files, --set and --help (common/sk_config.h). */
#include <stddef.h>

#include "sk_train.h"

/* clang-format off */
#define TK_(n_, t_, field, d_, lo, hi, f_, h_) \
    {.name = n_, .type = t_, .offset = offsetof(sk_train_config, field), .def = d_, .min = lo, .max = hi, \
     .flags = f_, .help = h_}
/* clang-format on */
/* clang-format off */
static const sk_cfg_key train_keys_[] = {
    TK_("steps", SK_CFG_INT, steps, "1000", 1, 1e12, 0, "optimizer steps"),
    TK_("accum", SK_CFG_INT, accum, "1", 1, 1e6, 0, "gradient accumulation micro-steps per step"),
    {.name = "optimizer", .type = SK_CFG_ENUM, .offset = offsetof(sk_train_config, optimizer), .def = "adamw",
     .choices = "adamw|sgd",
     .help = "adamw (torch.optim.AdamW) or sgd (torch.optim.SGD with train.momentum, the DC/DSA evaluation's)"},
    TK_("lr", SK_CFG_FLOAT, lr, "1e-3", 0, 10, SK_CFG_EXCL_MIN, "peak learning rate"),
    {.name = "lr_schedule", .type = SK_CFG_ENUM, .offset = offsetof(sk_train_config, lr_schedule), .def = "cosine",
     .choices = "cosine|step",
     .help = "after warmup: cosine to min_lr, or step (lr x 0.1 from step steps/2 on, as DC/DSA's evaluate_synset)"},
    TK_("min_lr", SK_CFG_FLOAT, min_lr, "1e-5", 0, 10, 0, "final learning rate of the cosine schedule"),
    TK_("warmup", SK_CFG_INT, warmup, "100", 0, 1e12, 0, "linear warmup steps"),
    TK_("weight_decay", SK_CFG_FLOAT, weight_decay, "0.05", 0, 10, 0,
        "weight decay: adamw decoupled, matrices only; sgd coupled L2 on every parameter (as torch.optim.SGD over "
        "net.parameters() in DC/DSA)"),
    TK_("momentum", SK_CFG_FLOAT, momentum, "0.9", 0, 1, SK_CFG_EXCL_MAX, "SGD momentum (train.optimizer=sgd)"),
    TK_("beta1", SK_CFG_FLOAT, beta1, "0.9", 0, 1, SK_CFG_EXCL_MAX, "AdamW beta1"),
    TK_("beta2", SK_CFG_FLOAT, beta2, "0.999", 0, 1, SK_CFG_EXCL_MAX, "AdamW beta2"),
    TK_("eps", SK_CFG_FLOAT, eps, "1e-8", 0, 1, SK_CFG_EXCL_MIN, "AdamW epsilon"),
    TK_("clip", SK_CFG_FLOAT, clip, "1.0", 0, 1e9, 0, "clip the global gradient norm (0: off)"),
    TK_("eval_every", SK_CFG_INT, eval_every, "0", 0, 1e12, 0, "steps between evaluations (0: at the end only)"),
    TK_("eval_batches", SK_CFG_INT, eval_batches, "0", 0, 1e12, 0, "batches per evaluation (0: the whole eval split)"),
    TK_("ckpt_every", SK_CFG_INT, ckpt_every, "0", 0, 1e12, 0, "steps between checkpoints (0: at the end only)"),
    TK_("keep_last", SK_CFG_INT, keep_last, "3", 0, 1e6, 0, "checkpoints kept (0: all)"),
    TK_("bucket_mb", SK_CFG_FLOAT, bucket_mb, "1.0", 0, 1e4, SK_CFG_EXCL_MIN, "gradient allreduce bucket size in MiB"),
    TK_("record_forgetting", SK_CFG_BOOL, record_forgetting, "false", 0, 0, 0,
        "classifiers: count each training sample's forgetting events (correct -> misclassified between "
        "presentations; Toneva et al. 2019) into run.out_dir/forgetting.safetensors for condense.method=forgetting; "
        "needs data.eval"),
    TK_("dsa", SK_CFG_BOOL, dsa, "false", 0, 0, 0,
        "augment each training batch with differentiable Siamese augmentation (images only; one draw per sample, "
        "ParamDiffAug's defaults, trainer/sk_dsa.h)"),
    TK_("dsa_strategy", SK_CFG_STRING, dsa_strategy, "color_crop_cutout_flip_scale_rotate", 0, 0, 0,
        "DSA families joined by '_' (color, crop, cutout, flip, scale, rotate); one drawn per batch, as the "
        "reference's aug_mode 'S'"),
    TK_("bytes_per_token", SK_CFG_FLOAT, bytes_per_token, "1.0", 0, 1e6, SK_CFG_EXCL_MIN, "bytes per token, for bits per byte (1 for byte-level corpora)"),
};
/* clang-format on */
#undef TK_

const sk_cfg_section sk_train_section = {"train", "training loop (trainer)", train_keys_,
                                         (int)(sizeof train_keys_ / sizeof *train_keys_), sizeof(sk_train_config)};
