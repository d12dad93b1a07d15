/* test_comm.c - sk_mpi communicators under a real mpirun:
 * `test_comm OUT split` splits the world (3 ranks: {0,1} and {2}; 2 ranks:
 * {0} and {1}) and, in every group at once, runs the collectives against
 * their closed forms for the group's size, error agreement inside the
 * group, a parallel corpus write (sk_corpus_write_part over the group's
 * ranks) read back in full, and a tiny ViT sk_train_run on that corpus;
 * then frees the groups and checks the world is current again (facts and
 * an allreduce over every rank). `test_comm OUT alone` does the same work
 * over the whole world, unsplit. Group rank 0 writes OUT/<tag>.txt (tag
 * group<color> or alone<W>) with the training result; test_comm.py runs
 * both and checks that each group's result equals the alone run with the
 * group's size. Every rank asserts; a failure exits non-zero. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_corpus.h"
#include "sk_data_config.h"
#include "sk_log.h"
#include "sk_model_config.h"
#include "sk_mpi.h"
#include "sk_run_config.h"
#include "sk_select_config.h"
#include "sk_train.h"

static int fails_ = 0, wrank_ = 0;
#define CHECK(c)                                                                                                     \
    do {                                                                                                             \
        if (!(c)) {                                                                                                  \
            fprintf(stderr, "world rank %d: %s:%d: check failed: %s (last error: %s)\n", wrank_, __FILE__, __LINE__, \
                    #c, sk_error_last());                                                                            \
            fails_++;                                                                                                \
        }                                                                                                            \
    } while (0)

#define NS_ 160 /* samples in the corpus */
#define HW_ 16  /* 16 x 16 pixels */

/* The collectives of sk_mpi.h over the current communicator of G ranks. */
static void collectives_(int r, int G)
{
    double v[2] = {r, 1.0}, mx[1] = {r};
    CHECK(sk_mpi_allreduce_sum(v, 2) == 0 && v[0] == G * (G - 1) / 2.0 && v[1] == G);
    CHECK(sk_mpi_allreduce_max(mx, 1) == 0 && mx[0] == G - 1);
    int64_t s[1] = {(int64_t)1 << 40};
    CHECK(sk_mpi_allreduce_sum_i64(s, 1) == 0 && s[0] == (int64_t)G << 40);
    char msg[32] = "";
    if (r == G - 1) snprintf(msg, sizeof msg, "last of %d", G);
    char want[32];
    snprintf(want, sizeof want, "last of %d", G);
    CHECK(sk_mpi_bcast(msg, sizeof msg, G - 1) == 0 && !strcmp(msg, want));
    int64_t mine = 100 + r, all[8] = {0};
    CHECK(G <= 8 && sk_mpi_allgather_i64(&mine, 1, all) == 0);
    for (int q = 0; q < G && q < 8; q++) CHECK(all[q] == 100 + q);
    if (G > 1) { /* a ring inside the group: peers are group ranks */
        int next = (r + 1) % G, prev = (r + G - 1) % G, out = 1000 + r, in = -1;
        sk_mpi_msg snd = {&out, sizeof out, next}, rcv = {&in, sizeof in, prev};
        CHECK(sk_mpi_exchange(&snd, 1, &rcv, 1) == 0 && in == 1000 + prev);
    }
    /* the group's last rank fails alone: every rank of the group (and only
     * of the group: the other group's ranks are not in this call) learns it */
    int rc = r == G - 1 ? sk_error_set(SK_EIO, "group failure %d", G) : 0;
    rc = sk_mpi_agree(rc);
    CHECK(rc == SK_EIO && strstr(sk_error_last(), "group failure") != NULL);
    if (G > 1 && r != G - 1) {
        char pre[32];
        snprintf(pre, sizeof pre, "rank %d: ", G - 1);
        CHECK(!strncmp(sk_error_last(), pre, strlen(pre)));
    }
    sk_error_clear();
    CHECK(sk_mpi_check_same(7, "seven") == 0);
    CHECK(sk_mpi_barrier() == 0);
}

/* Sample i: a bright quadrant for its class (i % 4) on hashed noise. */
static void sample_(int64_t i, uint8_t *px, int64_t *label)
{
    int c = (int)(i % 4);
    *label = c;
    for (int y = 0; y < HW_; y++)
        for (int x = 0; x < HW_; x++) {
            uint32_t h = (uint32_t)(i * 2654435761u) ^ (uint32_t)(y * 40503u + x * 9973u);
            h ^= h >> 13;
            h *= 0x5bd1e995u;
            int q = (y >= HW_ / 2) * 2 + (x >= HW_ / 2);
            px[y * HW_ + x] = (uint8_t)((h & 63) + (q == c ? 160 : 20));
        }
}

/* Group rank r of G writes its share of the corpus; all read it back. */
static void corpus_(const char *path, int r, int G)
{
    int64_t lo = (int64_t)NS_ * r / G, hi = (int64_t)NS_ * (r + 1) / G, n = hi - lo;
    uint8_t *px = malloc((size_t)(n ? n : 1) * HW_ * HW_), *back = malloc((size_t)NS_ * HW_ * HW_),
            *want = malloc((size_t)NS_ * HW_ * HW_);
    int64_t *lab = malloc((size_t)(n ? n : 1) * sizeof *lab), blab[NS_], wlab[NS_];
    CHECK(px && back && want && lab);
    if (!px || !back || !want || !lab) goto out;
    for (int64_t i = 0; i < n; i++) sample_(lo + i, px + i * HW_ * HW_, &lab[i]);
    for (int64_t i = 0; i < NS_; i++) sample_(i, want + i * HW_ * HW_, &wlab[i]);
    sk_corpus_data d;
    memset(&d, 0, sizeof d);
    d.kind = SK_CORPUS_SAMPLES;
    d.type = SK_ELEM_U8;
    d.ndim = 2;
    d.shape[0] = d.shape[1] = HW_;
    d.samples = px;
    d.num_samples = n;
    d.labels = lab;
    d.num_classes = 4;
    d.source = "test_comm";
    sk_corpus_write_opts wo;
    memset(&wo, 0, sizeof wo);
    wo.chunk_bytes = 16 * HW_ * HW_; /* several chunks, so ranks compress different ones */
    CHECK(sk_corpus_write_part(path, &d, &wo) == 0);
    CHECK(sk_mpi_barrier() == 0);
    sk_corpus *c = NULL;
    CHECK(sk_corpus_open(&c, path) == 0);
    if (c) {
        CHECK(sk_corpus_read_samples(c, 0, NS_, back) == 0 && !memcmp(back, want, (size_t)NS_ * HW_ * HW_));
        CHECK(sk_corpus_read_labels(c, 0, NS_, blab) == 0 && !memcmp(blab, wlab, sizeof wlab));
    }
    sk_corpus_free(c);
out:
    free(px);
    free(back);
    free(want);
    free(lab);
}

/* A tiny ViT on the corpus; group rank 0 writes the result to txt. */
static void train_(const char *corpus, const char *out_dir, const char *txt, int r)
{
    sk_model_config mc;
    sk_train_config tc;
    sk_data_config dc;
    sk_run_config run;
    const sk_cfg_section *const sec[4] = {&sk_data_section, &sk_model_section, &sk_train_section, &sk_run_section};
    void *const base[4] = {&dc, &mc, &tc, &run};
    static const char *const sets[] = {"model.arch=vit",     "model.width=32",          "model.depth=2",
                                       "model.heads=2",      "model.patch=4",           "model.mlp_ratio=2",
                                       "data.batch_size=12", "data.eval_fraction=0.25", "train.steps=4",
                                       "train.warmup=1",     "train.lr=3e-3",           "train.eval_batches=1"};
    int ok = sk_cfg_defaults(sec, 4, base) == 0;
    for (size_t i = 0; ok && i < sizeof sets / sizeof *sets; i++) ok = sk_cfg_apply_set(sets[i], sec, 4, base) == 0;
    CHECK(ok);
    if (!ok) return;
    sk_train_opts o;
    memset(&o, 0, sizeof o);
    o.model = &mc;
    o.train = &tc;
    o.data = &dc;
    o.data_path = corpus;
    o.out_dir = out_dir;
    o.overwrite = 1;
    o.seed = 77;
    o.threads = 1; /* the same arithmetic whatever the host's ranks */
    sk_train_result res;
    int rc = sk_train_run(&o, &res);
    CHECK(rc == 0 && res.steps == 4 && isfinite(res.loss) && isfinite(res.eval_loss));
    if (rc == 0 && r == 0) {
        FILE *f = fopen(txt, "w");
        CHECK(f != NULL);
        if (f) {
            fprintf(f, "ranks=%d loss=%.9g eval_loss=%.9g eval_acc=%.9g\n", sk_mpi_info_get()->world, res.loss,
                    res.eval_loss, res.eval_acc);
            fclose(f);
        }
    }
}

int main(int argc, char **argv)
{
    if (sk_mpi_init(&argc, &argv) < 0 || argc != 3 || (strcmp(argv[2], "split") && strcmp(argv[2], "alone"))) {
        fprintf(stderr, "usage: mpirun -np 2|3 test_comm OUT split|alone (%s)\n", sk_error_last());
        return 2;
    }
    const char *outd = argv[1];
    const int split = !strcmp(argv[2], "split");
    const sk_mpi_info *wi = sk_mpi_world_info();
    const int W = wi->world;
    wrank_ = sk_mpi_world_rank();
    sk_log_set_level(SK_LOG_LEVEL_WARN);
    CHECK(sk_mpi_comm_current() == NULL && sk_mpi_info_get()->world == W && sk_mpi_info_get()->rank == wrank_);
    sk_comm *c = NULL;
    char tag[32];
    int color = -1;
    if (split) {
        color = W == 3 ? (wrank_ < 2 ? 0 : 1) : wrank_;
        CHECK(sk_mpi_comm_split(&c, color, wrank_) == 0 && c != NULL);
        CHECK(sk_mpi_comm_use(c) == 0 && sk_mpi_comm_current() == c);
        snprintf(tag, sizeof tag, "group%d", color);
        const int want = W == 3 && color == 0 ? 2 : 1;
        const sk_mpi_info *gi = sk_mpi_info_get();
        CHECK(gi->world == want && gi->rank == (W == 3 && color == 0 ? wrank_ : 0));
        CHECK(gi == sk_mpi_info_get() && sk_mpi_comm_info(c)->world == want);
        CHECK(gi->local_rank >= 0 && gi->local_rank < gi->local_size && gi->local_size <= want);
        /* the world's facts stay at hand */
        CHECK(sk_mpi_world_info()->world == W && sk_mpi_world_rank() == wi->rank);
        /* a rank may join no group */
        sk_comm *none = NULL;
        CHECK(sk_mpi_comm_split(&none, -1, 0) == 0 && none == NULL);
    } else {
        snprintf(tag, sizeof tag, "alone%d", W);
    }
    const int G = sk_mpi_info_get()->world, r = sk_mpi_info_get()->rank;
    char path[4096], dir[4096], txt[4096];
    collectives_(r, G);
    snprintf(path, sizeof path, "%s/%s.h5", outd, tag);
    corpus_(path, r, G);
    snprintf(dir, sizeof dir, "%s/%s-train", outd, tag);
    snprintf(txt, sizeof txt, "%s/%s.txt", outd, tag);
    train_(path, dir, txt, r);
    if (split) {
        /* the world again, for every rank */
        sk_mpi_comm_free(c);
        CHECK(sk_mpi_comm_current() == NULL && sk_mpi_info_get()->world == W && sk_mpi_info_get()->rank == wrank_);
        collectives_(wrank_, W);
    }
    int bad = fails_;
    double sum[1] = {bad};
    CHECK(sk_mpi_allreduce_sum(sum, 1) == 0);
    sk_mpi_finalize();
    if (sum[0] == 0 && wrank_ == 0) printf("ok %s\n", argv[2]);
    return sum[0] == 0 ? 0 : 1;
}
