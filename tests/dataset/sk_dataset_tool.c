/* sk_dataset_tool.c - test driver for the dataset module (not the CLI):
 *   sk_dataset_tool prepare key=value...   run sk_prepare_run (MPI-aware)
 *   sk_dataset_tool inspect FILE [--verify]
 *   sk_dataset_tool digest FILE            print attributes + FNV-1a of every decoded dataset
 *   sk_dataset_tool tokens OUT N LEVEL     write a synthetic token corpus
 *   sk_dataset_tool images OUT N C H W u8|f32  a synthetic labelled image corpus: sample i has label i % 3 and
 *                                          pixel k = (i * 37 + k * 11) % 256 (u8), or that minus 20.25 (f32:
 *                                          values below 0 and fractions, for rounding and clamping)
 *   sk_dataset_tool fillwrite OUT tokens|samples mem|fill|fillall|fillbad N
 *                                          under mpirun: a synthetic corpus of N rows (with labels, scores,
 *                                          provenance), split unevenly over the ranks, written with
 *                                          sk_corpus_write_part from arrays (mem) or pulled through
 *                                          sk_corpus_data.fill (fill), or sk_corpus_write with every rank
 *                                          pulling the whole corpus (fillall); fillbad plants a token id
 *                                          outside the vocabulary. Fill modes check that every row is
 *                                          pulled once, in requests of at most the window.
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
static int set_(sk_prepare_config *c, const char *kv)
{
    char assignment[2 * SK_CFG_STR_MAX];
    const sk_cfg_section *const secs[1] = {&sk_prepare_section};
    void *const bases[1] = {c};
    snprintf(assignment, sizeof assignment, "prepare.%s", kv);
    return sk_cfg_apply_set(assignment, secs, 1, bases);
}

static uint64_t fnv_(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static int digest_(const char *path)
{
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
        size_t row = sk_elem_size(in->type) * (size_t)sk_corpus_sample_elems(in);
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

static int tokens_(const char *out, int64_t n, int level)
{
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

static int images_(const char *out, int64_t n, int64_t c, int64_t h, int64_t w, const char *type)
{
    const int f32 = !strcmp(type, "f32");
    const int64_t per = c * h * w;
    void *px = malloc((size_t)(n * per) * (f32 ? 4 : 1));
    int64_t *lab = malloc((size_t)n * sizeof *lab);
    if (!px || !lab) return sk_error_set(SK_ENOMEM, "images: out of memory");
    for (int64_t i = 0; i < n; i++) {
        lab[i] = i % 3;
        for (int64_t k = 0; k < per; k++) {
            int64_t v = (i * 37 + k * 11) % 256;
            if (f32)
                ((float *)px)[i * per + k] = (float)v - 20.25f;
            else
                ((uint8_t *)px)[i * per + k] = (uint8_t)v;
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

/* ---- fillwrite ------------------------------------------------------------ */

enum { FW_CHUNK_ = 4096, FW_WINDOW_ = 3 * FW_CHUNK_ + 100 }; /* a window of 3 chunks, not a multiple of one */

static int64_t fw_doclen_(int64_t i) { return i % 11 == 5 ? 0 : (i * 7919) % 97 + 1; }
static int64_t fw_token_(int64_t pos) { return (pos * 31 + pos / 7) % 1000; }
static uint8_t fw_pixel_(int64_t i, int64_t k) { return (uint8_t)((i * 37 + k * 11) % 256); }

typedef struct {
    int tok, bad;
    int64_t row0, tok0; /* the slice's first row / token in the corpus */
    int64_t n;          /* elements the slice pulls (tokens, or samples) */
    int64_t per;        /* pixels per sample */
    unsigned char *seen;
    int64_t biggest; /* elements in the largest request */
} fw_ctx_;

static int fw_fill_(void *ctx, int64_t first, int64_t count, void *out)
{
    fw_ctx_ *c = ctx;
    if (first < 0 || count <= 0 || first + count > c->n)
        return sk_error_set(SK_EINVAL, "fillwrite: request [%lld, %lld) outside the slice's %lld", (long long)first,
                            (long long)(first + count), (long long)c->n);
    for (int64_t i = first; i < first + count; i++) {
        if (c->seen[i]++) return sk_error_set(SK_EINVAL, "fillwrite: element %lld pulled twice", (long long)i);
        if (c->tok)
            ((uint16_t *)out)[i - first] = (uint16_t)(c->bad && c->tok0 + i == 1234 ? 1000 : fw_token_(c->tok0 + i));
        else
            for (int64_t k = 0; k < c->per; k++) ((uint8_t *)out)[(i - first) * c->per + k] = fw_pixel_(c->row0 + i, k);
    }
    if (count > c->biggest) c->biggest = count;
    return SK_OK;
}

static int fillwrite_(const char *out, const char *kind, const char *mode, int64_t n)
{
    int rc = SK_OK;
    const sk_mpi_info *mi = sk_mpi_info_get();
    const int tok = !strcmp(kind, "tokens"), all = !strcmp(mode, "fillall"), pulls = strncmp(mode, "fill", 4) == 0;
    const int64_t P = mi->world, r = mi->rank, per = 15;
    /* rank r's rows: [n r^2 / P^2, n (r+1)^2 / P^2), an uneven split; fillall: every rank all of them */
    int64_t a = all ? 0 : n * r * r / (P * P), b = all ? n : n * (r + 1) * (r + 1) / (P * P), m = b - a;
    int64_t tok0 = 0, ntok = 0;
    for (int64_t i = 0; i < b; i++) *(i < a ? &tok0 : &ntok) += fw_doclen_(i);
    int64_t nel = tok ? ntok : m, *off = malloc((size_t)(m + 1) * sizeof *off), *lab = malloc((size_t)(m + 1) * 8);
    int64_t *kept = malloc((size_t)(m + 1) * 8), *clu = malloc((size_t)(m + 1) * 8);
    float *sc = malloc((size_t)(m + 1) * 4);
    void *rows = pulls ? NULL : malloc((size_t)(nel + 1) * (tok ? 2 : (size_t)per));
    fw_ctx_ c = {tok, !strcmp(mode, "fillbad"), a, tok0, nel, per, calloc((size_t)nel + 1, 1), 0};
    SK_FAIL_IF(!off || !lab || !kept || !clu || !sc || (!pulls && !rows) || !c.seen, SK_ENOMEM,
               "fillwrite: out of memory");
    off[0] = 0;
    for (int64_t i = 0; i < m; i++) {
        off[i + 1] = off[i] + fw_doclen_(a + i);
        lab[i] = (a + i) % 3;
        kept[i] = 2 * (a + i) + 1;
        clu[i] = (a + i) / 4 * 4;
        sc[i] = (float)(a + i) * 0.25f - 3.0f;
    }
    for (int64_t i = 0; rows && i < nel; i++) {
        if (tok)
            ((uint16_t *)rows)[i] = (uint16_t)fw_token_(tok0 + i);
        else
            for (int64_t k = 0; k < per; k++) ((uint8_t *)rows)[i * per + k] = fw_pixel_(a + i, k);
    }
    sk_corpus_data d = {.kind = tok ? SK_CORPUS_TOKENS : SK_CORPUS_SAMPLES,
                        .type = tok ? SK_ELEM_U16 : SK_ELEM_U8,
                        .vocab_size = 1000,
                        .ndim = 2,
                        .shape = {3, 5},
                        .tokens = tok ? rows : NULL,
                        .num_tokens = tok ? ntok : 0,
                        .offsets = tok ? off : NULL,
                        .num_docs = tok ? m : 0,
                        .samples = tok ? NULL : rows,
                        .num_samples = tok ? 0 : m,
                        .labels = lab,
                        .num_classes = 3,
                        .nscores = 1,
                        .score_names = {"s"},
                        .scores = {sc},
                        .source = "synthetic",
                        .command = "sk_dataset_tool fillwrite",
                        .prov_source = "src.h5",
                        .prov_method = "test",
                        .kept = kept,
                        .num_kept = m,
                        .prov_steps = "[]",
                        .num_source = m,
                        .prov_scores = sc,
                        .prov_score_name = "s",
                        .prov_clusters = clu};
    if (pulls) {
        d.fill = fw_fill_;
        d.fill_ctx = &c;
        d.fill_window = FW_WINDOW_;
    }
    sk_corpus_write_opts o = {SK_COMPRESS_ZSTD, 3, FW_CHUNK_, 0, 0};
    SK_TRY(all ? sk_corpus_write(out, &d, &o) : sk_corpus_write_part(out, &d, &o));
    if (pulls && !all) /* a slice write pulls every element of the slice once */
        for (int64_t i = 0; i < nel; i++)
            SK_FAIL_IF(c.seen[i] != 1, SK_EINVAL, "fillwrite: rank %d pulled element %lld %d times", mi->rank,
                       (long long)i, c.seen[i]);
    int64_t esz = tok ? 2 : per;
    SK_FAIL_IF(c.biggest * esz > FW_WINDOW_, SK_EINVAL, "fillwrite: a request of %lld bytes, over the window of %d",
               (long long)(c.biggest * esz), FW_WINDOW_);
    int64_t got = 0;
    for (int64_t i = 0; i < nel; i++) got += c.seen[i];
    if (pulls)
        printf("rank %d: pulled %lld elements, largest request %lld bytes\n", mi->rank, (long long)got,
               (long long)(c.biggest * esz));
done:
    free(off);
    free(lab);
    free(kept);
    free(clu);
    free(sc);
    free(rows);
    free(c.seen);
    return rc;
}

int main(int argc, char **argv)
{
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
    } else if (!strcmp(argv[1], "fillwrite") && argc == 6) {
        rc = sk_mpi_init(&argc, &argv);
        mpi = 1;
        if (rc == SK_OK) rc = fillwrite_(argv[2], argv[3], argv[4], atoll(argv[5]));
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
