/* bench_dataset.c - corpus store benchmark, everything side by side in one
 * run (docs/BENCHMARKS.md, "Corpus store"):
 *   on-disk size: zstd (levels 1, 3) vs HDF5 deflate (1, 6) vs raw;
 *   decoded read throughput on one core: sequential reads through
 *   sk_corpus_read_* for each variant, vs the same data uncompressed in
 *   HDF5, vs a plain memory-mapped binary file (Megatron .bin style);
 *   loader: shuffled MB/s of batches with and without the prefetch thread,
 *   and the stall share of a simulated training step.
 * Data: (1) real English text, the fortunes files as byte tokens (uint16,
 * tiled; the tiling period, 2x the text bytes, is larger than a chunk, so
 * no codec sees repeats inside a chunk), (2) i.i.d. Zipf(1.1) token ids
 * over a 50257 vocabulary (uint16; a stand-in for BPE ids, no sequential
 * structure), (3) Fashion-MNIST train images (uint8, real).
 * Usage: bench_dataset [--mb N] [--dir DIR] [--step-ms MS] */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sk_corpus.h"
#include "sk_data_config.h"
#include "sk_loader.h"
#include "sk_prepare.h"

static double now_(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die_(int rc)
{
    if (rc < 0) {
        fprintf(stderr, "bench_dataset: %s\n", sk_error_last());
        exit(1);
    }
}

/* ---- data ---------------------------------------------------------------- */

static uint16_t *text_tokens_(int64_t n)
{
    const char *dir = "/usr/share/games/fortunes";
    DIR *d = opendir(dir);
    if (!d) return NULL;
    size_t cap = 8 << 20, len = 0;
    unsigned char *txt = malloc(cap);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".dat") || strstr(e->d_name, ".u8")) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unsigned char *b;
        size_t l;
        if (sk_prepare_slurp_(p, &b, &l, 0) < 0) continue;
        if (len + l > cap) txt = realloc(txt, cap = 2 * (len + l));
        memcpy(txt + len, b, l);
        len += l;
        free(b);
    }
    closedir(d);
    uint16_t *t = malloc((size_t)n * 2);
    for (int64_t i = 0; i < n; i++) t[i] = txt[(size_t)i % len];
    fprintf(stderr, "text: %zu bytes of fortunes, tiled to %lld tokens\n", len, (long long)n);
    free(txt);
    return t;
}

static uint16_t *zipf_tokens_(int64_t n, int vocab)
{
    double *cdf = malloc((size_t)vocab * sizeof *cdf), s = 0;
    for (int k = 0; k < vocab; k++) cdf[k] = (s += 1.0 / pow(k + 1, 1.1));
    uint16_t *t = malloc((size_t)n * 2);
    uint64_t x = 88172645463325252ull;
    for (int64_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double u = (double)(x >> 11) / 9007199254740992.0 * s;
        int lo = 0, hi = vocab - 1;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (cdf[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        /* scatter ranks over ids the way BPE ids are not frequency-sorted */
        t[i] = (uint16_t)(((uint64_t)lo * 40503u) % (uint64_t)vocab);
    }
    free(cdf);
    return t;
}

/* ---- measurements ---------------------------------------------------------- */

typedef struct {
    const char *name;
    sk_compress c;
    int level, shuffle;
    int64_t chunk;
} variant_;

static const variant_ variants_[] = {
    {"raw (no filter)", SK_COMPRESS_NONE, 0, 0, 1 << 20},  {"zstd 1", SK_COMPRESS_ZSTD, 1, 0, 1 << 20},
    {"zstd 3", SK_COMPRESS_ZSTD, 3, 0, 1 << 20},           {"zstd 3, 4 MiB chunks", SK_COMPRESS_ZSTD, 3, 0, 4 << 20},
    {"shuffle + zstd 3", SK_COMPRESS_ZSTD, 3, 1, 1 << 20}, {"zstd 9", SK_COMPRESS_ZSTD, 9, 0, 1 << 20},
    {"deflate 1", SK_COMPRESS_DEFLATE, 1, 0, 1 << 20},     {"shuffle + deflate 6", SK_COMPRESS_DEFLATE, 6, 1, 1 << 20},
    {"deflate 6", SK_COMPRESS_DEFLATE, 6, 0, 1 << 20},
};
#define NV (int)(sizeof variants_ / sizeof *variants_)

/* best-of-3 sequential read of the main dataset in 1 MiB pieces, GB/s */
static double read_gbs_(const char *path)
{
    sk_corpus *c = NULL;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        die_(sk_corpus_open(&c, path));
        const sk_corpus_info *in = sk_corpus_info_get(c);
        int tokens = in->kind == SK_CORPUS_TOKENS;
        size_t row = sk_elem_size(in->type) * (size_t)(tokens ? 1 : sk_corpus_sample_elems(in));
        int64_t n = tokens ? in->num_tokens : in->num_samples;
        int64_t step = (int64_t)((1 << 20) / row);
        if (step < 1) step = 1;
        void *buf = malloc((size_t)step * row);
        /* a fresh open per repetition: every chunk is decoded, none served
     * from the chunk cache of a previous pass (file pages are warm) */
        double t0 = now_();
        for (int64_t s = 0; s < n; s += step) {
            int64_t k = n - s < step ? n - s : step;
            die_(tokens ? sk_corpus_read_tokens(c, s, k, buf) : sk_corpus_read_samples(c, s, k, buf));
        }
        double gbs = (double)n * (double)row / (now_() - t0) / 1e9;
        if (gbs > best) best = gbs;
        free(buf);
        sk_corpus_free(c);
    }
    return best;
}

static double mmap_gbs_(const char *path, size_t bytes)
{
    int fd = open(path, O_RDONLY);
    const unsigned char *m = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
    unsigned char *buf = malloc(1 << 20);
    double best = 0;
    volatile unsigned sink = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_();
        for (size_t s = 0; s < bytes; s += 1 << 20) {
            size_t k = bytes - s < (1u << 20) ? bytes - s : (1u << 20);
            memcpy(buf, m + s, k);
            sink += buf[k - 1];
        }
        double gbs = (double)bytes / (now_() - t0) / 1e9;
        if (gbs > best) best = gbs;
    }
    (void)sink;
    munmap((void *)m, bytes);
    close(fd);
    free(buf);
    return best;
}

static void busy_ms_(double ms)
{
    double t0 = now_();
    volatile double x = 0;
    while ((now_() - t0) * 1e3 < ms) x += 1;
}

/* MB/s of one shuffled epoch of batches from a fresh loader, no compute */
static double epoch_mbs_(const sk_loader_opts *o)
{
    sk_loader *l = NULL;
    die_(sk_loader_create(&l, o));
    int64_t steps = sk_loader_steps_per_epoch(l);
    const sk_batch *b;
    double t0 = now_();
    size_t bytes = 0;
    for (int64_t s = 0; s < steps; s++) {
        die_(sk_loader_next(l, &b));
        size_t row = sk_elem_size(b->type);
        for (int i = 0; i < b->ndim; i++) row *= (size_t)b->shape[i];
        bytes += row * (size_t)b->n;
    }
    double mbs = (double)bytes / (now_() - t0) / 1e6;
    sk_loader_free(l);
    return mbs;
}

/* loader: shuffled; MB/s of batches without compute with prefetch 4 and
 * with none (the read path alone, no thread hand-off per batch), and the
 * stall share (prefetch 4) with a step of step_ms */
static void loader_bench_(const char *path, int64_t batch, int64_t seq, double step_ms, double *mbs, double *sync_mbs,
                          double *stall_pct)
{
    sk_loader *l = NULL;
    sk_loader_opts o = {0};
    o.path = path;
    o.world = 1;
    o.batch_size = batch;
    o.seq_len = seq;
    o.seed = 1;
    o.shuffle = 1;
    o.prefetch = 0;
    *sync_mbs = epoch_mbs_(&o);
    o.prefetch = 4;
    *mbs = epoch_mbs_(&o);
    const sk_batch *b;
    die_(sk_loader_create(&l, &o));
    int nsteps = 100;
    die_(sk_loader_next(l, &b)); /* warm: the first batch is always a wait */
    double s0 = sk_loader_stall_seconds(l), t0 = now_();
    for (int s = 0; s < nsteps; s++) {
        busy_ms_(step_ms);
        die_(sk_loader_next(l, &b));
    }
    double total = now_() - t0;
    *stall_pct = 100.0 * (sk_loader_stall_seconds(l) - s0) / total;
    sk_loader_free(l);
}

static void run_set_(const char *label, const char *dir, sk_corpus_data *d, size_t raw_bytes, double step_ms,
                     int64_t batch, int64_t seq)
{
    char path[NV][600], bin[600];
    printf("\n### %s (%.1f MB decoded)\n\n", label, (double)raw_bytes / 1e6);
    printf(
        "| variant | stored MB | vs raw | vs deflate 6 | write s | seq. read GB/s (1 core) | loader MB/s (shuffled, prefetch 4) | loader MB/s (shuffled, no prefetch) | loader stall, %.0f ms step |\n",
        step_ms);
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    int64_t stored[NV];
    double wsec[NV];
    for (int v = 0; v < NV; v++) {
        snprintf(path[v], sizeof path[v], "%s/bench_%s_%d.h5", dir,
                 label[0] == 'F'   ? "img"
                 : label[0] == 'E' ? "txt"
                                   : "zipf",
                 v);
        sk_corpus_write_opts o = {variants_[v].c, variants_[v].level, variants_[v].chunk, 0, variants_[v].shuffle};
        double t0 = now_();
        die_(sk_corpus_write(path[v], d, &o));
        wsec[v] = now_() - t0;
        sk_corpus *c = NULL;
        die_(sk_corpus_open(&c, path[v]));
        die_(sk_corpus_storage(c, d->kind == SK_CORPUS_TOKENS ? "tokens" : "samples", &stored[v], NULL, NULL, 0));
        sk_corpus_free(c);
    }
    for (int v = 0; v < NV; v++) {
        double gbs = read_gbs_(path[v]), lmbs, smbs, stall;
        loader_bench_(path[v], batch, seq, step_ms, &lmbs, &smbs, &stall);
        printf("| %s | %.2f | %.1f%% | %+.1f%% | %.2f | %.2f | %.0f | %.0f | %.3f%% |\n", variants_[v].name,
               (double)stored[v] / 1e6, 100.0 * (double)stored[v] / (double)raw_bytes,
               100.0 * ((double)stored[v] / (double)stored[NV - 1] - 1.0), wsec[v], gbs, lmbs, smbs, stall);
        fflush(stdout);
    }
    /* plain binary, memory-mapped (Megatron .bin style) */
    snprintf(bin, sizeof bin, "%s/bench_plain.bin", dir);
    FILE *f = fopen(bin, "wb");
    fwrite(d->kind == SK_CORPUS_TOKENS ? d->tokens : d->samples, 1, raw_bytes, f);
    fclose(f);
    printf("| mmap plain .bin | %.2f | 100.0%% | | | %.2f | | | |\n", (double)raw_bytes / 1e6,
           mmap_gbs_(bin, raw_bytes));
    unlink(bin);
    for (int v = 0; v < NV; v++) unlink(path[v]);
}

int main(int argc, char **argv)
{
    int64_t mb = 128;
    const char *dir = "/tmp";
    double step_ms = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--mb"))
            mb = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--step-ms"))
            step_ms = atof(argv[i + 1]);
    }
    int64_t n = mb * (1 << 20) / 2;
    int64_t off[2] = {0, n};
    sk_corpus_data d = {0};
    d.kind = SK_CORPUS_TOKENS;
    d.type = SK_ELEM_U16;
    d.num_tokens = n;
    d.offsets = off;
    d.num_docs = 1;
    d.source = "bench_dataset";

    uint16_t *t = text_tokens_(n);
    if (t) {
        d.tokens = t;
        d.vocab_size = 257;
        run_set_("English text, byte tokens", dir, &d, (size_t)n * 2, step_ms, 16, 1024);
        free(t);
    }
    t = zipf_tokens_(n, 50257);
    d.tokens = t;
    d.vocab_size = 50257;
    run_set_("Zipf(1.1) token ids, vocab 50257", dir, &d, (size_t)n * 2, step_ms, 16, 1024);
    free(t);

    sk_prepare_config pc;
    const sk_cfg_section *const psec[1] = {&sk_prepare_section};
    void *const pbase[1] = {&pc};
    die_(sk_cfg_defaults(psec, 1, pbase));
    snprintf(pc.input, sizeof pc.input, "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
    snprintf(pc.labels, sizeof pc.labels, "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz");
    sk_corpus_data img;
    if (access(pc.input, R_OK) == 0 && sk_importer_idx.import(&pc, &(sk_import_share){0, 1}, &img) == 0) {
        run_set_("Fashion-MNIST train images", dir, &img, (size_t)img.num_samples * 784, step_ms, 256, 0);
        sk_import_release(&img);
    }
    return 0;
}
