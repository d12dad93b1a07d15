/* bench_train.c - the `shrink train` loop (sk_train_run) on a ViT or GPT
 * with formula-generated data that bench_train_torch.py reproduces exactly.
 *
 *   bench_train vit|gpt STEPS THREADS OUT_DIR     (under mpirun for P ranks)
 *
 * prints (rank 0): "shrink <model> ranks <P> step_ms <median> samples_s <x>"
 * where step_ms is the median of the per-step wall times the trainer
 * records in metrics.jsonl (forward, backward, gradient allreduce, clip,
 * AdamW; evaluation and checkpoints are outside the step). Shapes:
 *   vit: 28x28 uint8 images, 10 classes, patch 4, width 64, depth 4, heads 4, mlp 2x, batch 128
 *   gpt: byte tokens (vocab 257), seq_len 128, width 128, depth 4, heads 4, mlp 4x, batch 32 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_mpi.h"
#include "sk_log.h"
#include "sk_train.h"

typedef struct {
    sk_loader_opts o;
    int gpt;
    sk_loader_pos pos;
    unsigned char *img;
    int64_t *lab, *tok;
    sk_batch b;
} bsrc_;

static int b_create_(void **ctx, const sk_loader_opts *o)
{
    bsrc_ *s = calloc(1, sizeof *s);
    if (!s) return sk_error_set(SK_ENOMEM, "bench: out of memory");
    s->o = *o;
    s->gpt = !strcmp(o->path, "bench:gpt");
    s->img = malloc((size_t)o->batch_size * 784);
    s->lab = malloc((size_t)o->batch_size * sizeof *s->lab);
    s->tok = malloc((size_t)(o->batch_size * (o->seq_len + 1)) * sizeof *s->tok);
    *ctx = s;
    return SK_OK;
}
static void b_free_(void *c)
{
    bsrc_ *s = c;
    free(s->img);
    free(s->lab);
    free(s->tok);
    free(s);
}
/* Sample i of the global stream: the formulas of bench_train_torch.py. */
static int b_next_(void *c, const sk_batch **out)
{
    bsrc_ *s = c;
    int64_t B = s->o.batch_size, T = s->o.seq_len + 1;
    for (int64_t r = 0; r < B; r++) {
        int64_t i = (s->pos.step * s->o.world + s->o.rank) * B + r;
        if (s->gpt)
            for (int64_t j = 0; j < T; j++) s->tok[r * T + j] = (i * 131 + j * 31 + (j * j) % 7) % 257;
        else {
            s->lab[r] = i % 10;
            for (int64_t k = 0; k < 784; k++)
                s->img[r * 784 + k] = (unsigned char)((i * 37 + k * 11 + (i % 10) * k) % 256);
        }
    }
    memset(&s->b, 0, sizeof s->b);
    s->b.n = B;
    if (s->gpt) {
        s->b.ndim = 1;
        s->b.shape[0] = T;
        s->b.type = SK_ELEM_I64;
        s->b.data = s->tok;
    } else {
        s->b.ndim = 2;
        s->b.shape[0] = s->b.shape[1] = 28;
        s->b.type = SK_ELEM_U8;
        s->b.data = s->img;
        s->b.labels = s->lab;
    }
    s->pos.step++;
    *out = &s->b;
    return SK_OK;
}
static sk_loader_pos b_tell_(void *c) { return ((bsrc_ *)c)->pos; }
static int b_seek_(void *c, sk_loader_pos p)
{
    ((bsrc_ *)c)->pos = p;
    return SK_OK;
}
static int64_t b_spe_(void *c)
{
    (void)c;
    return 1000000;
}
static int64_t b_vocab_(void *c) { return ((bsrc_ *)c)->gpt ? 257 : 0; }
static int64_t b_classes_(void *c) { return ((bsrc_ *)c)->gpt ? 0 : 10; }
static const sk_train_source bench_source_ = {b_create_, b_free_,  b_next_,    b_tell_, b_seek_,
                                              b_spe_,    b_vocab_, b_classes_, NULL,    NULL};

static int cmp_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (sk_mpi_init(&argc, &argv) < 0 || argc != 5) {
        fprintf(stderr, "usage: bench_train vit|gpt STEPS THREADS OUT_DIR\n");
        return 2;
    }
    const int rank = sk_mpi_info_get()->rank, world = sk_mpi_info_get()->world;
    sk_log_set_rank(rank, 0);
    sk_log_set_level(SK_LOG_LEVEL_WARN);
    sk_shim_tune_host_allocator((size_t)32 << 20);
    int gpt = !strcmp(argv[1], "gpt");
    sk_model_config mc;
    sk_train_config tc;
    sk_data_config dc;
    const sk_cfg_section *const dsec[3] = {&sk_model_section, &sk_train_section, &sk_data_section};
    void *const dbase[3] = {&mc, &tc, &dc};
    if (sk_cfg_defaults(dsec, 3, dbase) < 0) {
        fprintf(stderr, "bench_train: %s\n", sk_error_last());
        return 1;
    }
    if (gpt) {
        snprintf(mc.arch, sizeof mc.arch, "gpt");
        dc.seq_len = 128;
        mc.width = 128;
        mc.depth = 4;
        mc.heads = 4;
        mc.mlp_ratio = 4;
        dc.batch_size = 32;
    } else {
        mc.patch = 4;
        mc.width = 64;
        mc.depth = 4;
        mc.heads = 4;
        mc.mlp_ratio = 2;
        dc.batch_size = 128;
    }
    tc.steps = atoll(argv[2]);
    tc.warmup = 1;
    tc.eval_batches = 1;
    tc.keep_last = 1;
    snprintf(dc.eval, sizeof dc.eval, "%s", gpt ? "bench:gpt" : "bench:vit");
    sk_train_opts o = {0};
    o.model = &mc;
    o.train = &tc;
    o.data = &dc;
    o.data_path = gpt ? "bench:gpt" : "bench:vit";
    o.out_dir = argv[4];
    o.seed = 1;
    o.threads = atoi(argv[3]);
    o.source = &bench_source_;
    sk_train_result r;
    if (sk_train_run(&o, &r) < 0) {
        fprintf(stderr, "bench_train: %s\n", sk_error_last());
        sk_mpi_abort(1, sk_error_last());
        return 1;
    }
    if (rank == 0) {
        /* median per-step time from metrics.jsonl, skipping 3 warm-up steps */
        char path[4200], line[1024];
        snprintf(path, sizeof path, "%s/metrics.jsonl", argv[4]);
        FILE *f = fopen(path, "r");
        double *t = calloc((size_t)tc.steps, sizeof *t);
        int n = 0, k = 0;
        while (f && t && fgets(line, sizeof line, f)) {
            json_t *rec = json_loads(line, 0, NULL); /* step records carry "step_time", eval records not */
            const json_t *st = json_object_get(rec, "step_time");
            if (json_is_number(st) && k++ >= 3 && n < tc.steps) t[n++] = json_number_value(st);
            json_decref(rec);
        }
        if (f) fclose(f);
        if (n == 0) return 1;
        qsort(t, (size_t)n, sizeof *t, cmp_);
        double med = t[n / 2];
        printf("shrink %s ranks %d step_ms %.3f samples_s %.1f\n", argv[1], world, med * 1e3,
               (double)dc.batch_size / med);
        free(t);
    }
    sk_mpi_finalize();
    return 0;
}
