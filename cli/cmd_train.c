/* cmd_train.c - `shrink train`: train a ViT or GPT on a shrink corpus, under
 * mpirun for data parallelism. A thin wrapper over sk_train_run
 * (trainer/sk_train.h), which documents the loop and its outputs. */
#include <string.h>

#include "sk_cli.h"
#include "sk_data_config.h"
#include "sk_run_config.h"
#include "sk_train.h"
#include "sk_select_config.h"
#include "sk_shim.h"

static const sk_cfg_section *const sections_[] = {
    &sk_run_section, &sk_data_section, &sk_model_section, &sk_train_section,
    &sk_select_section,
};

static int run_(sk_cli_ctx *ctx)
{
    const sk_run_config *run = ctx->sections[0];
    sk_train_opts o;
    memset(&o, 0, sizeof o);
    o.data = ctx->sections[1];
    o.model = ctx->sections[2];
    o.train = ctx->sections[3];
    o.select = ctx->sections[4];
    for (int i = 0; i < ctx->argc; i++) {
        if (!strcmp(ctx->argv[i], "--resume") && i + 1 < ctx->argc) {
            o.resume = ctx->argv[++i];
        } else {
            return sk_error_set(SK_EINVAL, "train: unexpected argument '%s' (usage: shrink train --config FILE "
                                           "[--set key=value]... [--resume DIR])", ctx->argv[i]);
        }
    }
    if ((sk_device)run->device != SK_CPU)
        return sk_error_set(SK_EUNSUPPORTED, "run.device = cuda: the trainer runs on CPU in this version");
    if ((sk_dtype)run->dtype != SK_F32)
        return sk_error_set(SK_EUNSUPPORTED, "run.dtype = %s: the trainer trains in f32 in this version",
                            sk_shim_dtype_name((sk_dtype)run->dtype));
    o.seed = (uint64_t)run->seed;
    o.out_dir = run->out_dir;
    o.threads = (int)run->threads;
    const sk_log_config *log = sk_cli_section_values("log");
    o.progress = log ? log->every : 10;
    return sk_train_run(&o, NULL);
}

const sk_cmd sk_cmd_train = {
    SK_CMD_VERSION,
    "train",
    "train a ViT or GPT on a corpus (data parallel under mpirun), with optional token selectors",
    "  --resume DIR   continue from the newest checkpoint under DIR (e.g. <run.out_dir>/ckpt)\n"
    "                 or from one step-NNNNNNNN directory; same world size gives bit-identical results\n"
    "outputs in run.out_dir: metrics.jsonl, summary.json, model.safetensors, ckpt/step-*/",
    sections_,
    (int)(sizeof sections_ / sizeof *sections_),
    run_,
};
