/* sk_dataset_tool.c - test driver for the dataset module (not the CLI):
 *   sk_dataset_tool prepare key=value...   run sk_prepare_run (MPI-aware)
 *   sk_dataset_tool inspect FILE [--verify]
 *   sk_dataset_tool digest FILE            print attributes + FNV-1a of every decoded dataset
 *   sk_dataset_tool tokens OUT N LEVEL     write a synthetic token corpus
 *   sk_dataset_tool images OUT N C H W u8|f32  a synthetic labelled image corpus: sample i has label i % 3 and
 *                                          pixel k = (i * 37 + k * 11) % 256 (u8), or that minus 20.25 (f32:
 *                                          values below 0 and fractions, for rounding and clamping)
 * Used by the shell tests (h5py / h5dump interop, mpirun parallel prepare). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_corpus.h"
#include "sk_data_config.h"
#include "sk_mpi.h"
#include "sk_log.h"
#include "sk_prepare.h"

/* key=value is `--set prepare.key=value`: the section's own table parses it. */
static int set_(sk_prepare_config *c, const char *kv) {
    char assignment[2 * SK_CFG_STR_MAX];
    const sk_cfg_section *const secs[1] = {&sk_prepare_section};
    void *const bases[1] = {c};
    snprintf(assignment, sizeof assignment, "prepare.%s", kv);
    return sk_cfg_apply_set(assignment, secs, 1, bases);
}

static uint64_t fnv_(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static int digest_(const char *path) {
    int rc = SK_OK;
    sk_corpus *c = NULL;
    void *buf = NULL;
    SK_TRY(sk_corpus_open(&c, path));
    const sk_corpus_info *in = sk_corpus_info_get(c);
    printf("kind=%d type=%s vocab=%lld ndim=%d docs=%lld tokens=%lld samples=%lld classes=%lld source=%s command=%s\n",
           in->kind, sk_elem_name(in->type), (long long)in->vocab_size, in->ndim, (long long)in->num_docs,
           (long long)in->num_tokens, (long long)in->num_samples, (long long)in->num_classes, in->source, in->command);
    uint64_t h = 1469598103934665603ull;
    if (in->kind == SK_CORPUS_TOKENS) {
        size_t nb = (size_t)in->num_tokens * sk_elem_size(in->type);
        buf = malloc(nb + (size_t)(in->num_docs + 1) * 8);
        SK_TRY(sk_corpus_read_tokens(c, 0, in->num_tokens, buf));
        h = fnv_(h, buf, nb);
        printf("tokens %016llx\n", (unsigned long long)h);
        SK_TRY(sk_corpus_read_offsets(c, 0, in->num_docs + 1, buf));
        printf("offsets %016llx\n", (unsigned long long)fnv_(h, buf, (size_t)(in->num_docs + 1) * 8));
    } else {
        size_t row = sk_elem_size(in->type);
        for (int i = 0; i < in->ndim; i++) row *= (size_t)in->shape[i];
        buf = malloc(row * (size_t)in->num_samples + 8 * (size_t)in->num_samples);
        SK_TRY(sk_corpus_read_samples(c, 0, in->num_samples, buf));
        printf("samples %016llx\n", (unsigned long long)fnv_(h, buf, row * (size_t)in->num_samples));
    }
    if (in->has_labels) {
        SK_TRY(sk_corpus_read_labels(c, 0, in->num_samples, buf));
        printf("labels %016llx\n", (unsigned long long)fnv_(h, buf, 8 * (size_t)in->num_samples));
    }
done:
    free(buf);
    sk_corpus_free(c);
    return rc;
}

static int tokens_(const char *out, int64_t n, int level) {
    uint16_t *t = malloc((size_t)n * 2);
    int64_t off[4] = {0, n / 3, n / 2, n};
    for (int64_t i = 0; i < n; i++) t[i] = (uint16_t)((i * 7 + i / 13) % 1000);
    sk_corpus_data d = {0};
    d.kind = SK_CORPUS_TOKENS;
    d.type = SK_ELEM_U16;
    d.vocab_size = 1000;
    d.tokens = t;
    d.num_tokens = n;
    d.offsets = off;
    d.num_docs = 3;
    d.source = "synthetic";
    d.command = "sk_dataset_tool tokens";
    sk_corpus_write_opts o = {SK_COMPRESS_ZSTD, level, 4096, 0, 0};
    int rc = sk_corpus_write(out, &d, &o);
    free(t);
    return rc;
}

static int images_(const char *out, int64_t n, int64_t c, int64_t h, int64_t w, const char *type) {
    const int f32 = !strcmp(type, "f32");
    const int64_t per = c * h * w;
    void *px = malloc((size_t)(n * per) * (f32 ? 4 : 1));
    int64_t *lab = malloc((size_t)n * sizeof *lab);
    if (!px || !lab) return sk_error_set(SK_ENOMEM, "images: out of memory");
    for (int64_t i = 0; i < n; i++) {
        lab[i] = i % 3;
        for (int64_t k = 0; k < per; k++) {
            int64_t v = (i * 37 + k * 11) % 256;
            if (f32) ((float *)px)[i * per + k] = (float)v - 20.25f;
            else ((uint8_t *)px)[i * per + k] = (uint8_t)v;
        }
    }
    sk_corpus_data d = {0};
    d.kind = SK_CORPUS_SAMPLES;
    d.type = f32 ? SK_ELEM_F32 : SK_ELEM_U8;
    d.ndim = c == 1 ? 2 : 3;
    int64_t shape[3] = {c, h, w};
    memcpy(d.shape, c == 1 ? shape + 1 : shape, (size_t)d.ndim * sizeof *shape);
    d.samples = px;
    d.num_samples = n;
    d.labels = lab;
    d.num_classes = 3;
    d.source = "synthetic";
    d.command = "sk_dataset_tool images";
    sk_corpus_write_opts o = {SK_COMPRESS_ZSTD, 3, 4096, 0, 0};
    int rc = sk_corpus_write(out, &d, &o);
    free(px);
    free(lab);
    return rc;
}

int main(int argc, char **argv) {
    int rc = SK_OK, mpi = 0;
    if (argc < 3) {
        fprintf(stderr, "usage: sk_dataset_tool prepare|inspect|digest|tokens|images ...\n");
        return 2;
    }
    if (!strcmp(argv[1], "prepare")) {
        rc = sk_mpi_init(&argc, &argv);
        mpi = 1;
        sk_log_set_rank(sk_mpi_info_get()->rank, 0);
        sk_prepare_config c;
        const sk_cfg_section *const secs[1] = {&sk_prepare_section};
        void *const bases[1] = {&c};
        rc = sk_cfg_defaults(secs, 1, bases);
        c.command = "sk_dataset_tool prepare";
        for (int i = 2; i < argc && rc == SK_OK; i++) rc = set_(&c, argv[i]);
        if (rc == SK_OK) rc = sk_prepare_run(&c);
    } else if (!strcmp(argv[1], "inspect")) {
        rc = sk_inspect_print(stdout, argv[2], argc > 3 && !strcmp(argv[3], "--verify"));
    } else if (!strcmp(argv[1], "digest")) {
        rc = digest_(argv[2]);
    } else if (!strcmp(argv[1], "images") && argc == 8) {
        rc = images_(argv[2], atoll(argv[3]), atoll(argv[4]), atoll(argv[5]), atoll(argv[6]), argv[7]);
    } else if (!strcmp(argv[1], "tokens") && argc == 5) {
        rc = tokens_(argv[2], atoll(argv[3]), atoi(argv[4]));
    } else {
        fprintf(stderr, "sk_dataset_tool: unknown command %s\n", argv[1]);
        return 2;
    }
    if (rc < 0) {
        if (mpi && sk_mpi_info_get()->world > 1) sk_mpi_abort(1, sk_error_last()); /* does not return */
        fprintf(stderr, "sk_dataset_tool: %s\n", sk_error_last());
    }
    if (mpi) sk_mpi_finalize();
    return rc < 0 ? 1 : 0;
}
