/* sk_train_driver.c - test driver for sk_train_run: `sk_train_driver
 * key=value ...` with model.* / train.* / data.* / select.* keys (the
 * sections' own tables, as `--set` in the CLI) and data=, out=, resume=,
 * seed=, threads=, dump_buffers=DIR (every rank writes the model's buffers
 * as DIR/step-<step>-rank-<rank>.safetensors at the start of each step,
 * through on_step). data=synth:images / synth:tokens uses the synthetic
 * corpus (tests/trainer/sk_synth_source.h); anything else is a corpus path
 * for the loader (data.train). data.<key>=value and select.<key>=value set
 * the [data] and [select] sections, as `--set` does in the CLI; config=FILE
 * first loads a `shrink train` YAML file (run.* keys then give seed,
 * out_dir and threads unless seed=/out=/threads= follow). Runs under
 * mpirun like `shrink train`: a failing rank prints the message and aborts
 * the job.
 *
 * Fault injection, through sk_train_opts.on_step (the library reads no
 * environment for it):
 *   SK_FAULT_RANK_EXIT=rank:step  that rank kills itself with SIGKILL at
 *                                 the start of that step (0-based);
 *   SK_FAULT_NAN_STEP=step        every rank overwrites the first
 *                                 parameter with NaN at the start of that
 *                                 step (the run must stop naming it). */
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_mpi.h"
#include "sk_data_config.h"
#include "sk_log.h"
#include "sk_run_config.h"
#include "sk_select_config.h"
#include "sk_synth_source.h"
#include "sk_train.h"
#include "sk_weights.h"

typedef struct {
    int64_t kill_step, nan_step; /* -1: none */
    const char *dump_dir;        /* dump_buffers=: NULL none */
} faults_;

static void faults_from_env_(faults_ *f, int rank)
{
    const char *e = getenv("SK_FAULT_RANK_EXIT"), *n = getenv("SK_FAULT_NAN_STEP");
    int r;
    long long s;
    f->kill_step = f->nan_step = -1;
    f->dump_dir = NULL;
    if (e && sscanf(e, "%d:%lld", &r, &s) == 2 && r == rank) f->kill_step = s;
    if (n) f->nan_step = atoll(n);
}

/* The hook's buffers as DIR/step-<step>-rank-<rank>.safetensors. */
static int dump_buffers_(const char *dir, int64_t step, const sk_train_hook *h)
{
    char path[4096];
    if (!h->buffers || !h->buffers->n) return 0;
    snprintf(path, sizeof path, "%s/step-%lld-rank-%d.safetensors", dir, (long long)step, h->rank);
    return sk_weights_write(path, (const char *const *)h->buffers->names, h->buffers->t, h->buffers->n, NULL, 0);
}

static int on_step_(void *ctx, int64_t step, sk_train_hook *h)
{
    const faults_ *f = ctx;
    int rc = 0;
    if (f->dump_dir && (rc = dump_buffers_(f->dump_dir, step, h)) < 0) return rc;
    if (step == f->kill_step) raise(SIGKILL);
    if (step == f->nan_step) {
        sk_scope *sc = sk_shim_scope_begin();
        int prev = sk_shim_set_grad_enabled(0);
        sk_tensor *bad = sk_shim_mul_scalar(h->params->t[0], NAN);
        rc = bad ? sk_shim_copy_(h->params->t[0], bad) : sk_error_last_code();
        sk_shim_set_grad_enabled(prev);
        sk_shim_scope_end(sc);
    }
    return rc;
}

int main(int argc, char **argv)
{
    sk_model_config mc;
    sk_train_config tc;
    sk_train_opts o = {0};
    sk_select_config sc;
    sk_data_config dc;
    sk_run_config run;
    faults_ faults;
    /* every default comes from the sections' key tables */
    const sk_cfg_section *const ssec[5] = {&sk_select_section, &sk_data_section, &sk_model_section, &sk_train_section,
                                           &sk_run_section};
    void *const sbase[5] = {&sc, &dc, &mc, &tc, &run};
    int have_select = 0;
    o.model = &mc;
    o.train = &tc;
    o.seed = 1234;
    o.progress = 0;
    if (sk_mpi_init(&argc, &argv) < 0) {
        fprintf(stderr, "sk_train_driver: %s\n", sk_error_last());
        return 1;
    }
    sk_log_set_rank(sk_mpi_info_get()->rank, 0);
    faults_from_env_(&faults, sk_mpi_info_get()->rank);
    o.on_step = on_step_;
    o.on_step_ctx = &faults;
    sk_shim_tune_host_allocator((size_t)32 << 20); /* as the CLI's main does */
    o.data = &dc;
    int rc = sk_cfg_defaults(ssec, 5, sbase);
    for (int i = 1; rc == 0 && i < argc; i++) {
        if (!strncmp(argv[i], "config=", 7)) {
            rc = sk_cfg_load_file(argv[i] + 7, ssec, 5, sbase);
            o.seed = (uint64_t)run.seed;
            o.out_dir = run.out_dir;
            o.threads = (int)run.threads;
            o.overwrite = run.overwrite;
            continue;
        }
        if (!strncmp(argv[i], "select.", 7) || !strncmp(argv[i], "data.", 5) || !strncmp(argv[i], "model.", 6) ||
            !strncmp(argv[i], "train.", 6) || !strncmp(argv[i], "run.", 4)) {
            rc = sk_cfg_apply_set(argv[i], ssec, 5, sbase);
            if (!strncmp(argv[i], "run.", 4)) {
                o.seed = (uint64_t)run.seed;
                o.out_dir = run.out_dir;
                o.threads = (int)run.threads;
                o.overwrite = run.overwrite;
            }
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
        if (!strcmp(k, "data"))
            o.data_path = v;
        else if (!strcmp(k, "out"))
            o.out_dir = v;
        else if (!strcmp(k, "resume"))
            o.resume = v;
        else if (!strcmp(k, "seed"))
            o.seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "threads"))
            o.threads = atoi(v);
        else if (!strcmp(k, "progress"))
            o.progress = atoi(v);
        else if (!strcmp(k, "dump_buffers"))
            faults.dump_dir = v;
        else
            rc = sk_error_set(SK_EINVAL, "unknown key '%s'", k);
        if (rc < 0) break;
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
