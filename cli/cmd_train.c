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
#include "sk_mpi.h"
#include "sk_error.h"

static const sk_cfg_section *const sections_[] = {
    &sk_run_section, &sk_data_section, &sk_model_section, &sk_train_section, &sk_select_section,
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
        const char *a = ctx->argv[i];
        if (!strcmp(a, "--resume") || !strcmp(a, "--resume-latest-valid")) {
            if (i + 1 >= ctx->argc || ctx->argv[i + 1][0] == '-')
                return sk_cli_usage_error("train: %s needs a checkpoint DIR (e.g. --resume %s/ckpt)", a, run->out_dir);
            o.resume = ctx->argv[++i];
            o.resume_latest_valid = a[8] != '\0';
        } else if (!strncmp(a, "--resume=", 9) && a[9]) {
            o.resume = a + 9;
        } else {
            return sk_cli_usage_error("train: unexpected argument '%s' (usage: shrink train --config FILE "
                                      "[--set key=value]... [--resume DIR])",
                                      a);
        }
    }
    if ((sk_device)run->device != SK_CPU)
        return sk_cli_usage_error("run.device = cuda: the trainer runs on CPU in this version (use run.device=cpu)");
    if ((sk_dtype)run->dtype != SK_F32)
        return sk_cli_usage_error("run.dtype = %s: the trainer trains in f32 in this version (use run.dtype=f32)",
                                  sk_shim_dtype_name((sk_dtype)run->dtype));
    /* cross-key checks are config errors (exit 2), found before any work */
    if (sk_cli_usage_from(sk_train_validate(o.model, o.train, o.data, sk_mpi_info_get()->world)) < 0) return SK_EINVAL;
    sk_error_clear();
    o.seed = (uint64_t)run->seed;
    o.out_dir = run->out_dir;
    o.overwrite = run->overwrite;
    o.command = sk_cli_command_line();
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
    "                 or from one step-NNNNNNNN directory; same world size gives bit-identical results;\n"
    "                 a checkpoint whose files fail its MANIFEST checksums is an error naming the file\n"
    "  --resume-latest-valid DIR   the same, falling back to the newest intact checkpoint under DIR\n"
    "outputs in run.out_dir: metrics.jsonl, summary.json, model.safetensors, ckpt/step-*/",
    sections_,
    (int)(sizeof sections_ / sizeof *sections_),
    run_,
};
