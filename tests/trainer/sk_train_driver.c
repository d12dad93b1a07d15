/* sk_train_driver.c - test driver for sk_train_run: `sk_train_driver
 * key=value ...` with model.* / train.* keys and data=, out=, resume=,
 * seed=, threads=. data=synth:images / synth:tokens uses the synthetic
 * corpus (tests/trainer/sk_synth_source.h); anything else is a corpus path
 * for the loader (data.train). data.<key>=value and select.<key>=value set
 * the [data] and [select] sections, as `--set` does in the CLI. Runs under mpirun like `shrink train`: a failing rank
 * prints the message and aborts the job. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_mpi.h"
#include "sk_data_config.h"
#include "sk_log.h"
#include "sk_select_config.h"
#include "sk_synth_source.h"
#include "sk_train.h"

typedef struct {
    const char *name;
    char kind; /* i: int64, f: double, s: string, b: int */
    int model; /* 1: model section, 0: train */
    size_t off;
} key_;

#define M_(n, k) {"model." #n, k, 1, offsetof(sk_model_config, n)}
#define T_(n, k) {"train." #n, k, 0, offsetof(sk_train_config, n)}
static const key_ keys_[] = {
    M_(arch, 's'),   M_(width, 'i'),  M_(depth, 'i'),       M_(heads, 'i'),      M_(mlp_ratio, 'i'),
    M_(patch, 'i'),  M_(pool, 's'),   M_(vocab, 'i'),      M_(classes, 'i'),
    T_(steps, 'i'),  T_(accum, 'i'),       T_(lr, 'f'),         T_(min_lr, 'f'),
    T_(warmup, 'i'), T_(weight_decay, 'f'), T_(beta1, 'f'), T_(beta2, 'f'),      T_(eps, 'f'),
    T_(clip, 'f'),   T_(eval_every, 'i'), T_(eval_batches, 'i'),
    T_(ckpt_every, 'i'), T_(keep_last, 'i'), T_(bucket_mb, 'f'), T_(bytes_per_token, 'f'),
};

int main(int argc, char **argv)
{
    sk_model_config mc;
    sk_train_config tc;
    sk_train_opts o = {0};
    sk_select_config sc;
    sk_data_config dc;
    const sk_cfg_section *const ssec[2] = {&sk_select_section, &sk_data_section};
    void *const sbase[2] = {&sc, &dc};
    int have_select = 0;
    sk_model_config_defaults(&mc);
    sk_train_config_defaults(&tc);
    o.model = &mc;
    o.train = &tc;
    o.seed = 1234;
    o.progress = 0;
    if (sk_mpi_init(&argc, &argv) < 0) {
        fprintf(stderr, "sk_train_driver: %s\n", sk_error_last());
        return 1;
    }
    sk_log_set_rank(sk_mpi_info_get()->rank, 0);
    sk_shim_tune_host_allocator((size_t)32 << 20); /* as the CLI's main does */
    o.data = &dc;
    int rc = sk_cfg_defaults(ssec, 2, sbase);
    for (int i = 1; rc == 0 && i < argc; i++) {
        if (!strncmp(argv[i], "select.", 7) || !strncmp(argv[i], "data.", 5)) {
            rc = sk_cfg_apply_set(argv[i], ssec, 2, sbase);
            if (argv[i][0] == 's') have_select = 1;
            continue;
        }
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            rc = sk_error_set(SK_EINVAL, "argument '%s': expected key=value", argv[i]);
            break;
        }
        *eq = 0;
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "data")) o.data_path = v;
        else if (!strcmp(k, "out")) o.out_dir = v;
        else if (!strcmp(k, "resume")) o.resume = v;
        else if (!strcmp(k, "seed")) o.seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "threads")) o.threads = atoi(v);
        else if (!strcmp(k, "progress")) o.progress = atoi(v);
        else {
            size_t j;
            for (j = 0; j < sizeof keys_ / sizeof *keys_; j++)
                if (!strcmp(keys_[j].name, k)) break;
            if (j == sizeof keys_ / sizeof *keys_) {
                rc = sk_error_set(SK_EINVAL, "unknown key '%s'", k);
                break;
            }
            char *base = keys_[j].model ? (char *)&mc : (char *)&tc;
            void *f = base + keys_[j].off;
            char *end;
            switch (keys_[j].kind) {
            case 'i': *(int64_t *)f = strtoll(v, &end, 10); break;
            case 'f': *(double *)f = strtod(v, &end); break;
            case 'b': *(int *)f = atoi(v); end = (char *)v + strlen(v); break;
            default: snprintf((char *)f, SK_CFG_STR_MAX, "%s", v); end = (char *)v + strlen(v); break;
            }
            if (*end) {
                rc = sk_error_set(SK_EINVAL, "%s = '%s': not a number", k, v);
                break;
            }
        }
    }
    if (have_select) o.select = &sc;
    if (rc == 0 && o.data_path && !strncmp(o.data_path, "synth:", 6)) o.source = &sk_synth_source;
    sk_train_result r;
    if (rc == 0) rc = sk_train_run(&o, &r);
    if (rc < 0) {
        fprintf(stderr, "shrink: %s\n", sk_error_last());
        sk_mpi_abort(1, sk_error_last());
        sk_mpi_finalize();
        return 1;
    }
    if (sk_mpi_info_get()->rank == 0)
        printf("steps=%lld loss=%.6f eval_loss=%.6f eval_acc=%.6f eval_bpb=%.6f unigram_bpb=%.6f seconds=%.3f "
               "steps_per_s=%.4f\n",
               (long long)r.steps, r.loss, r.eval_loss, r.eval_acc, r.eval_bpb, r.unigram_bpb, r.seconds,
               r.steps_per_s);
    sk_mpi_finalize();
    return 0;
}
