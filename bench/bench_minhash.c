/* bench_minhash.c - MinHash signatures + LSH banding (condense/sk_minhash.c,
 * the `minhash` condense method's inner work) in MB/s of text on one core
 * (docs/BENCHMARKS.md, "MinHash"). Target of issue 12: >= 30 MB/s per core.
 * Data: every fortune file under /usr/share/games/fortunes (not .dat/.u8),
 * split into documents at "%" lines, tiled to --mb MiB. Rounds alternate
 * word shingles (the default, minhash_unit=word) and byte shingles
 * (minhash_unit=byte), --rounds of each; each row reports the median MB/s
 * and the min..max spread. Settings: 5-grams, 14 bands x 8 rows.
 * Usage: bench_minhash [--mb N] [--rounds R] */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sk_error.h"
#include "sk_minhash.h"

/* CPU time of this process: MB/s per core, not the share of a busy
 * machine the scheduler gave us (wall time is printed beside it). */
static double cpu_(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now_(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die_(const char *what)
{
    fprintf(stderr, "bench_minhash: %s: %s\n", what, sk_error_last());
    exit(1);
}

/* All fortune files concatenated. */
static size_t fortunes_(char **buf)
{
    size_t len = 0;
    FILE *ms = open_memstream(buf, &len);
    const char *dir = "/usr/share/games/fortunes";
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1024], tmp[65536];
    while (d && (e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (e->d_name[0] == '.' ||
            (nl > 4 && (!strcmp(e->d_name + nl - 4, ".dat") || !strcmp(e->d_name + nl - 3, ".u8"))))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        size_t n;
        while (f && (n = fread(tmp, 1, sizeof tmp, f)) > 0) fwrite(tmp, 1, n, ms);
        if (f) fclose(f);
    }
    if (d) closedir(d);
    fclose(ms);
    return len;
}

static int cmp_d_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    double mb = 64;
    int rounds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--mb"))
            mb = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
    }
    if (rounds < 1 || rounds > 100) rounds = 5;
    char *src = NULL;
    size_t slen = fortunes_(&src);
    if (slen == 0) {
        fprintf(stderr, "bench_minhash: no fortunes under /usr/share/games/fortunes\n");
        return 1;
    }
    size_t total = (size_t)(mb * 1048576.0);
    uint8_t *text = malloc(total);
    for (size_t at = 0; at < total; at += slen) memcpy(text + at, src, at + slen <= total ? slen : total - at);
    /* documents: split at "\n%\n" */
    size_t ndoc = 0, cap = 1 << 16;
    size_t *start = malloc(cap * sizeof *start);
    start[ndoc++] = 0;
    for (size_t i = 0; i + 2 < total; i++)
        if (text[i] == '\n' && text[i + 1] == '%' && text[i + 2] == '\n') {
            if (ndoc + 1 >= cap) start = realloc(start, (cap *= 2) * sizeof *start);
            start[ndoc++] = i + 3;
        }
    start[ndoc] = total;
    uint32_t *ids = malloc(total * sizeof *ids);
    for (size_t i = 0; i < total; i++) ids[i] = text[i];
    sk_minhash *m = NULL;
    if (sk_minhash_create(&m, 5, 14, 8, 42)) die_("create");
    uint64_t keys[14], check[2] = {0, 0};
    double *rate = malloc((size_t)rounds * 4 * sizeof *rate), *wall = rate + 2 * rounds;
    for (int r = 0; r < rounds * 2; r++) {
        int unit = r % 2; /* 0 word, 1 byte */
        double t0 = cpu_(), w0 = now_();
        for (size_t d = 0; d < ndoc; d++) {
            int64_t len = (int64_t)(start[d + 1] - start[d]);
            int rc = unit ? sk_minhash_keys_u32(m, ids + start[d], len, keys)
                          : sk_minhash_keys_text(m, text + start[d], len, keys);
            if (rc) die_("keys");
            check[unit] ^= keys[0] + keys[13];
        }
        rate[(unit ? rounds : 0) + r / 2] = (double)total / 1e6 / (cpu_() - t0);
        wall[(unit ? rounds : 0) + r / 2] = (double)total / 1e6 / (now_() - w0);
    }
    printf("# bench_minhash: %.1f MB of fortunes (%zu documents, %.0f bytes each), 5-grams, 14 bands x 8 rows, "
           "one core, %d alternating rounds of each\n",
           (double)total / 1e6, ndoc, (double)total / (double)ndoc, rounds);
    printf("%-6s %14s %8s %8s %16s\n", "unit", "CPU median", "min", "max", "wall median");
    for (int u = 0; u < 2; u++) {
        double *x = rate + u * rounds, *y = wall + u * rounds;
        qsort(x, (size_t)rounds, sizeof *x, cmp_d_);
        qsort(y, (size_t)rounds, sizeof *y, cmp_d_);
        printf("%-6s %9.1f MB/s %8.1f %8.1f %11.1f MB/s   (check %016llx)\n", u ? "byte" : "word", x[rounds / 2], x[0],
               x[rounds - 1], y[rounds / 2], (unsigned long long)check[u]);
    }
    sk_minhash_free(m);
    free(rate);
    free(ids);
    free(start);
    free(text);
    free(src);
    return 0;
}
