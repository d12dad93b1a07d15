/* test_loader.c - loader order, sharding, resume, splits, prefetch and
 * error propagation (dataset/sk_loader.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_corpus.h"
#include "sk_loader.h"
#include "sk_zstd_filter.h"

#define TOK SK_TEST_TMP "/loader_tok.h5"
#define IMG SK_TEST_TMP "/loader_img.h5"
#define NTOK 50001
#define SEQ 16 /* -> 3125 windows */

static int setup_(void **st)
{
    (void)st;
    int32_t *t = malloc(NTOK * 4);
    for (int i = 0; i < NTOK; i++) t[i] = i;
    int64_t off[3] = {0, 1000, NTOK};
    sk_corpus_data d = {0};
    d.kind = SK_CORPUS_TOKENS;
    d.type = SK_ELEM_I32;
    d.vocab_size = NTOK;
    d.tokens = t;
    d.num_tokens = NTOK;
    d.offsets = off;
    d.num_docs = 2;
    sk_corpus_write_opts o = {SK_COMPRESS_ZSTD, 3, 16384, 0, 1} /* byte shuffle + zstd */;
    if (sk_corpus_write(TOK, &d, &o) < 0) return -1;
    free(t);
    const int n = 1000;
    float *img = malloc(n * 3 * 4 * 4);
    int64_t *lab = malloc(n * 8);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 12; k++) img[i * 12 + k] = (float)i + 0.001f * (float)k;
        lab[i] = i % 7;
    }
    sk_corpus_data s = {0};
    s.kind = SK_CORPUS_SAMPLES;
    s.type = SK_ELEM_F32;
    s.ndim = 2;
    s.shape[0] = 3;
    s.shape[1] = 4;
    s.samples = img;
    s.num_samples = n;
    s.labels = lab;
    s.num_classes = 7;
    int rc = sk_corpus_write(IMG, &s, &o);
    free(img);
    free(lab);
    return rc;
}

static sk_loader_opts opts_(const char *path, int rank, int world, int64_t B)
{
    sk_loader_opts o = {0};
    o.path = path;
    o.rank = rank;
    o.world = world;
    o.batch_size = B;
    o.seq_len = SEQ;
    o.seed = 1234;
    o.shuffle = 1;
    o.prefetch = 2;
    return o;
}

/* window id of a token sample (its first token / SEQ), checking contents */
static int64_t win_(const int32_t *w)
{
    for (int k = 1; k <= SEQ; k++) assert_int_equal(w[k], w[0] + k);
    assert_int_equal(w[0] % SEQ, 0);
    return w[0] / SEQ;
}

static void test_epoch_is_permutation(void **st)
{
    (void)st;
    sk_loader *l = NULL;
    sk_loader_opts o = opts_(TOK, 0, 1, 25);
    assert_int_equal(sk_loader_create(&l, &o), 0);
    assert_int_equal(sk_loader_num_samples(l), 3125);
    assert_int_equal(sk_loader_steps_per_epoch(l), 125);
    assert_int_equal(sk_loader_vocab_size(l), NTOK);
    char *seen = calloc(3125, 1);
    int64_t first0[25], first1[25];
    for (int e = 0; e < 2; e++) {
        memset(seen, 0, 3125);
        for (int s = 0; s < 125; s++) {
            const sk_batch *b;
            assert_int_equal(sk_loader_next(l, &b), 0);
            assert_int_equal(b->epoch, e);
            assert_int_equal(b->step, s);
            assert_int_equal(b->n, 25);
            assert_int_equal(b->ndim, 1);
            assert_int_equal(b->shape[0], SEQ + 1);
            assert_int_equal(b->type, SK_ELEM_I32);
            assert_null(b->labels);
            for (int j = 0; j < 25; j++) {
                int64_t w = win_((const int32_t *)b->data + j * (SEQ + 1));
                assert_false(seen[w]);
                seen[w] = 1;
                if (s == 0) (e ? first1 : first0)[j] = w;
            }
        }
    }
    assert_memory_not_equal(first0, first1, sizeof first0); /* epochs reshuffle */
    int sorted = 1;
    for (int j = 1; j < 25; j++) sorted &= first0[j] == first0[j - 1] + 1;
    assert_false(sorted);
    assert_true(sk_loader_stall_seconds(l) >= 0);
    sk_loader_free(l);
    free(seen);
    /* shuffle off: corpus order */
    o.shuffle = 0;
    assert_int_equal(sk_loader_create(&l, &o), 0);
    const sk_batch *b;
    assert_int_equal(sk_loader_next(l, &b), 0);
    assert_int_equal(sk_loader_next(l, &b), 0);
    for (int j = 0; j < 25; j++) assert_int_equal(win_((const int32_t *)b->data + j * (SEQ + 1)), 25 + j);
    sk_loader_free(l);
}

static void collect_(sk_loader *l, int nb, int32_t *out, size_t per)
{
    for (int i = 0; i < nb; i++) {
        const sk_batch *b;
        assert_int_equal(sk_loader_next(l, &b), 0);
        memcpy(out + (size_t)i * per, b->data, per * 4);
    }
}

static void test_determinism_and_resume(void **st)
{
    (void)st;
    const int nb = 300; /* crosses two epoch boundaries */
    const size_t per = 10 * (SEQ + 1);
    int32_t *a = malloc(nb * per * 4), *b = malloc(nb * per * 4);
    sk_loader_opts o = opts_(TOK, 0, 1, 10);
    sk_loader *l1 = NULL, *l2 = NULL;
    assert_int_equal(sk_loader_create(&l1, &o), 0);
    o.prefetch = 0; /* synchronous gives the same batches */
    assert_int_equal(sk_loader_create(&l2, &o), 0);
    collect_(l1, nb, a, per);
    collect_(l2, nb, b, per);
    assert_memory_equal(a, b, nb * per * 4);
    sk_loader_free(l2);
    o.seed = 99;
    assert_int_equal(sk_loader_create(&l2, &o), 0);
    collect_(l2, 1, b, per);
    assert_memory_not_equal(a, b, per * 4);
    sk_loader_free(l2);
    sk_loader_free(l1);
    /* interrupted run: 137 batches, save position, resume in a new loader */
    o.seed = 1234;
    o.prefetch = 3;
    assert_int_equal(sk_loader_create(&l1, &o), 0);
    collect_(l1, 137, b, per);
    sk_loader_pos pos = sk_loader_tell(l1);
    assert_int_equal(pos.epoch, 137 / 312);
    assert_int_equal(pos.step, 137 % 312);
    sk_loader_free(l1);
    assert_int_equal(sk_loader_create(&l2, &o), 0);
    assert_int_equal(sk_loader_seek(l2, pos), 0);
    collect_(l2, nb - 137, b, per);
    assert_memory_equal(a + 137 * per, b, (nb - 137) * per * 4);
    /* seek back and forth on a running loader */
    assert_int_equal(sk_loader_seek(l2, (sk_loader_pos){0, 5}), 0);
    collect_(l2, 1, b, per);
    assert_memory_equal(a + 5 * per, b, per * 4);
    assert_int_equal(sk_loader_seek(l2, (sk_loader_pos){0, 999}), SK_EINVAL);
    sk_loader_free(l2);
    free(a);
    free(b);
}

static void test_sharding_matches_global(void **st)
{
    (void)st;
    const int nb = 200;
    const size_t row = SEQ + 1;
    sk_loader *g = NULL, *r0 = NULL, *r1 = NULL;
    sk_loader_opts o = opts_(TOK, 0, 1, 20);
    assert_int_equal(sk_loader_create(&g, &o), 0);
    o = opts_(TOK, 0, 2, 10);
    assert_int_equal(sk_loader_create(&r0, &o), 0);
    o.rank = 1;
    assert_int_equal(sk_loader_create(&r1, &o), 0);
    assert_int_equal(sk_loader_steps_per_epoch(g), sk_loader_steps_per_epoch(r0));
    for (int i = 0; i < nb; i++) {
        const sk_batch *bg, *b0, *b1;
        assert_int_equal(sk_loader_next(g, &bg), 0);
        assert_int_equal(sk_loader_next(r0, &b0), 0);
        assert_int_equal(sk_loader_next(r1, &b1), 0);
        assert_memory_equal(bg->data, b0->data, 10 * row * 4);
        assert_memory_equal((const int32_t *)bg->data + 10 * row, b1->data, 10 * row * 4);
        assert_int_equal(b0->step, bg->step);
        assert_int_equal(b1->epoch, bg->epoch);
    }
    sk_loader_free(g);
    sk_loader_free(r0);
    sk_loader_free(r1);
}

static void test_samples_labels_splits(void **st)
{
    (void)st;
    sk_loader *tr = NULL, *ev = NULL;
    sk_loader_opts o = opts_(IMG, 0, 1, 16);
    o.split = SK_SPLIT_TRAIN;
    o.eval_fraction = 0.1;
    assert_int_equal(sk_loader_create(&tr, &o), 0);
    o.split = SK_SPLIT_EVAL;
    assert_int_equal(sk_loader_create(&ev, &o), 0);
    assert_int_equal(sk_loader_num_samples(tr), 900);
    assert_int_equal(sk_loader_num_samples(ev), 100);
    assert_int_equal(sk_loader_num_classes(tr), 7);
    assert_int_equal(sk_loader_vocab_size(tr), 0);
    for (int s = 0; s < 6; s++) {
        const sk_batch *b;
        assert_int_equal(sk_loader_next(tr, &b), 0);
        assert_int_equal(b->ndim, 2);
        assert_int_equal(b->shape[0], 3);
        assert_int_equal(b->shape[1], 4);
        assert_int_equal(b->type, SK_ELEM_F32);
        assert_non_null(b->labels);
        for (int j = 0; j < 16; j++) {
            const float *x = (const float *)b->data + j * 12;
            int id = (int)x[0];
            assert_true(id < 900);
            assert_int_equal(b->labels[j], id % 7);
            assert_true(x[11] > (float)id); /* row not torn */
        }
        assert_int_equal(sk_loader_next(ev, &b), 0);
        for (int j = 0; j < 16; j++) {
            int id = (int)((const float *)b->data)[j * 12];
            assert_true(id >= 900);
            assert_int_equal(b->labels[j], id % 7);
        }
    }
    sk_loader_free(tr);
    sk_loader_free(ev);
}

/* data.eval_split=random: the held-out 100 of 1000 samples are a seeded
 * random subset (not the tail), disjoint from the 900 training ones; over
 * an epoch each split sees each of its samples once; another seed draws
 * another subset. */
static void test_random_split(void **st)
{
    (void)st;
    static unsigned char seen[2][1000];
    memset(seen, 0, sizeof seen);
    int tail = 0;
    for (int side = 0; side < 2; side++) {
        sk_loader *l = NULL;
        sk_loader_opts o = opts_(IMG, 0, 1, 10);
        o.split = side ? SK_SPLIT_EVAL : SK_SPLIT_TRAIN;
        o.eval_fraction = 0.1;
        o.split_random = 1;
        o.shuffle = side == 0;
        assert_int_equal(sk_loader_create(&l, &o), 0);
        assert_int_equal(sk_loader_num_samples(l), side ? 100 : 900);
        for (int s = 0; s < (side ? 10 : 90); s++) {
            const sk_batch *b;
            assert_int_equal(sk_loader_next(l, &b), 0);
            for (int j = 0; j < 10; j++) {
                int id = (int)((const float *)b->data)[j * 12];
                assert_true(id >= 0 && id < 1000);
                assert_int_equal(b->labels[j], id % 7);
                assert_int_equal(seen[side][id], 0); /* once per epoch */
                seen[side][id] = 1;
                tail += side && id >= 900;
            }
        }
        sk_loader_free(l);
    }
    for (int i = 0; i < 1000; i++) assert_int_equal(seen[0][i] + seen[1][i], 1); /* a partition */
    assert_true(tail < 40); /* about 10 of the tail's 100, not all of them */
    /* another seed: another subset */
    sk_loader *l = NULL;
    sk_loader_opts o = opts_(IMG, 0, 1, 10);
    o.split = SK_SPLIT_EVAL;
    o.eval_fraction = 0.1;
    o.split_random = 1;
    o.shuffle = 0;
    o.seed += 1;
    assert_int_equal(sk_loader_create(&l, &o), 0);
    int same = 0;
    for (int s = 0; s < 10; s++) {
        const sk_batch *b;
        assert_int_equal(sk_loader_next(l, &b), 0);
        for (int j = 0; j < 10; j++) same += seen[1][(int)((const float *)b->data)[j * 12]];
    }
    assert_true(same < 50);
    sk_loader_free(l);
}

static void test_bad_options_and_corruption(void **st)
{
    (void)st;
    sk_loader *l = NULL;
    sk_loader_opts o = opts_(TOK, 0, 1, 4000);
    assert_int_equal(sk_loader_create(&l, &o), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "larger than"));
    assert_null(l);
    o = opts_(TOK, 2, 2, 1);
    assert_int_equal(sk_loader_create(&l, &o), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "rank 2 out of range"));
    o = opts_(TOK, 0, 1, 1);
    o.split = SK_SPLIT_EVAL;
    o.eval_fraction = 1.5;
    assert_int_equal(sk_loader_create(&l, &o), SK_EINVAL);
    o = opts_(SK_TEST_TMP "/loader_missing.h5", 0, 1, 1);
    assert_int_equal(sk_loader_create(&l, &o), SK_ENOTFOUND);
    assert_non_null(strstr(sk_error_last(), "loader_missing.h5"));
    sk_loader_free(NULL);

    /* a corrupt chunk surfaces from the prefetch thread through next() */
    FILE *in = fopen(TOK, "rb"), *out = fopen(SK_TEST_TMP "/loader_bad.h5", "wb");
    int ch;
    while ((ch = fgetc(in)) != EOF) fputc(ch, out);
    fclose(in);
    fclose(out);
    sk_corpus_h5_lock();
    sk_zstd_register();
    hid_t f = H5Fopen(SK_TEST_TMP "/loader_bad.h5", H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "tokens", H5P_DEFAULT), sp = H5Dget_space(ds);
    hsize_t co[1], size;
    unsigned mask;
    haddr_t addr;
    assert_true(H5Dget_chunk_info(ds, sp, 5, co, &mask, &addr, &size) >= 0);
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(f);
    sk_corpus_h5_unlock();
    FILE *fp = fopen(SK_TEST_TMP "/loader_bad.h5", "r+b");
    fseek(fp, (long)(addr + 10), SEEK_SET);
    ch = fgetc(fp);
    fseek(fp, (long)(addr + 10), SEEK_SET);
    fputc(ch ^ 0xFF, fp);
    fclose(fp);
    o = opts_(SK_TEST_TMP "/loader_bad.h5", 0, 1, 100);
    o.shuffle = 0;
    assert_int_equal(sk_loader_create(&l, &o), 0);
    int rc = 0;
    for (int i = 0; i < 31 && rc == 0; i++) {
        const sk_batch *b;
        rc = sk_loader_next(l, &b);
    }
    assert_int_equal(rc, SK_ECORRUPT);
    assert_non_null(strstr(sk_error_last(), "loader_bad.h5"));
    assert_non_null(strstr(sk_error_last(), "/tokens"));
    sk_loader_free(l);
}

/* Big rows (64 KiB): 16 samples per shuffle block, so 1100 samples take the
 * grouped path (2 full groups of 32 blocks + leftovers + tail). */
static void test_grouped_permutation(void **st)
{
    (void)st;
    const int n = 1100, rowb = 256 * 256;
    uint8_t *x = calloc((size_t)n, (size_t)rowb);
    for (int i = 0; i < n; i++) {
        x[(size_t)i * rowb] = (uint8_t)(i & 255);
        x[(size_t)i * rowb + 1] = (uint8_t)(i >> 8);
        x[(size_t)i * rowb + rowb - 1] = (uint8_t)(i & 255);
    }
    sk_corpus_data d = {0};
    d.kind = SK_CORPUS_SAMPLES;
    d.type = SK_ELEM_U8;
    d.ndim = 2;
    d.shape[0] = d.shape[1] = 256;
    d.samples = x;
    d.num_samples = n;
    sk_corpus_write_opts o = {SK_COMPRESS_ZSTD, 1, 1 << 20, 0, 0};
    assert_int_equal(sk_corpus_write(SK_TEST_TMP "/loader_big.h5", &d, &o), 0);
    free(x);
    sk_loader *l = NULL, *r1 = NULL;
    sk_loader_opts lo = opts_(SK_TEST_TMP "/loader_big.h5", 0, 1, 20);
    assert_int_equal(sk_loader_create(&l, &lo), 0);
    lo = opts_(SK_TEST_TMP "/loader_big.h5", 1, 2, 10);
    assert_int_equal(sk_loader_create(&r1, &lo), 0);
    assert_int_equal(sk_loader_steps_per_epoch(l), 55);
    char *seen = calloc((size_t)n, 1);
    for (int e = 0; e < 2; e++) {
        memset(seen, 0, (size_t)n);
        for (int s = 0; s < 55; s++) {
            const sk_batch *b, *b1;
            assert_int_equal(sk_loader_next(l, &b), 0);
            assert_int_equal(sk_loader_next(r1, &b1), 0);
            assert_memory_equal((const uint8_t *)b->data + 10 * (size_t)rowb, b1->data, 10 * (size_t)rowb);
            int blocks[20], nblk = 0;
            for (int j = 0; j < 20; j++) {
                const uint8_t *r = (const uint8_t *)b->data + (size_t)j * rowb;
                int id = r[0] | r[1] << 8;
                assert_true(id < n);
                assert_int_equal(r[rowb - 1], id & 255);
                assert_false(seen[id]);
                seen[id] = 1;
                int blk = id / 16, dup = 0;
                for (int k = 0; k < nblk; k++) dup |= blocks[k] == blk;
                if (!dup) blocks[nblk++] = blk;
            }
            if (s == 0) assert_true(nblk >= 8); /* a batch mixes many blocks */
        }
    }
    free(seen);
    sk_loader_free(l);
    sk_loader_free(r1);
}

/* The decoded-chunk cache changes speed only: a one-chunk cache (a miss at
 * almost every window, windows straddling chunks evicting their first
 * chunk) and one holding the whole corpus give the batches of the default
 * cache, for tokens and for samples with labels, across epochs and after
 * a seek. */
static void test_chunk_cache_sizes(void **st)
{
    (void)st;
    const char *paths[2] = {TOK, IMG};
    for (int c = 0; c < 2; c++) {
        const int64_t B = c ? 8 : 10, nb = c ? 250 : 624; /* two epochs */
        const size_t per = (size_t)B * (c ? 12 : SEQ + 1);
        int32_t *ref = malloc((size_t)nb * per * 4), *got = malloc((size_t)nb * per * 4);
        int64_t *lref = malloc((size_t)nb * (size_t)B * 8), *lgot = malloc((size_t)nb * (size_t)B * 8);
        const int64_t sizes[3] = {0, 1, (int64_t)1 << 30};
        for (int k = 0; k < 3; k++) {
            sk_loader_opts o = opts_(paths[c], 0, 1, B);
            o.cache_bytes = sizes[k];
            o.prefetch = k; /* 0, 1, 2: synchronous and threaded */
            sk_loader *l = NULL;
            assert_int_equal(sk_loader_create(&l, &o), 0);
            int32_t *out = k ? got : ref;
            int64_t *lout = k ? lgot : lref;
            for (int64_t i = 0; i < nb; i++) {
                const sk_batch *b;
                if (k == 1 && i == nb / 2) { /* resume mid-epoch 1 in the tiny cache */
                    sk_loader_pos pos = sk_loader_tell(l);
                    assert_int_equal(sk_loader_seek(l, (sk_loader_pos){0, 3}), 0);
                    assert_int_equal(sk_loader_next(l, &b), 0);
                    assert_memory_equal(b->data, ref + 3 * per, per * 4);
                    assert_int_equal(sk_loader_seek(l, pos), 0);
                }
                assert_int_equal(sk_loader_next(l, &b), 0);
                memcpy(out + (size_t)i * per, b->data, per * 4);
                for (int64_t j = 0; j < B; j++) {
                    if (c == 0) {
                        win_((const int32_t *)b->data + j * (SEQ + 1));
                    } else {
                        int id = (int)((const float *)b->data)[j * 12];
                        assert_int_equal(b->labels[j], id % 7);
                        lout[i * B + j] = b->labels[j];
                    }
                }
            }
            sk_loader_free(l);
            if (k) {
                assert_memory_equal(ref, got, (size_t)nb * per * 4);
                if (c) assert_memory_equal(lref, lgot, (size_t)nb * (size_t)B * 8);
            }
        }
        free(ref);
        free(got);
        free(lref);
        free(lgot);
    }
}

/* External order (sk_loader_seek_order): the batches follow the given
 * order, sharded over 1, 2 and 3 ranks as the global batch (so the kept
 * sequence is the same for any rank count), b->index holds the split
 * indices, the loader stops at the end of the ordered epoch, resumes at a
 * step inside it, and refuses bad orders. */
static void test_external_order(void **st)
{
    (void)st;
    const int64_t G = 12, n = 100; /* 8 global batches, 4 samples dropped */
    int64_t order[100], seen[3][96];
    for (int64_t i = 0; i < n; i++) order[i] = (i * 37 + 11) % 900; /* in the train split of 900 */
    for (int world = 1; world <= 3; world++) {
        for (int r = 0; r < world; r++) {
            sk_loader *l = NULL;
            sk_loader_opts o = opts_(IMG, r, world, G / world);
            o.split = SK_SPLIT_TRAIN;
            o.eval_fraction = 0.1;
            o.external_order = 1;
            o.prefetch = r % 2 ? 0 : 2; /* synchronous and prefetching */
            assert_int_equal(sk_loader_create(&l, &o), 0);
            const sk_batch *b;
            assert_int_not_equal(sk_loader_next(l, &b), 0); /* no order yet */
            assert_int_not_equal(sk_loader_seek(l, (sk_loader_pos){0, 0}), 0);
            assert_int_equal(sk_loader_seek_order(l, (sk_loader_pos){3, 0}, order, n), 0);
            for (int64_t s = 0; s < n / G; s++) {
                assert_int_equal(sk_loader_next(l, &b), 0);
                assert_int_equal(b->epoch, 3);
                assert_int_equal(b->step, s);
                for (int64_t j = 0; j < b->n; j++) {
                    int64_t id = (int64_t)((const float *)b->data)[j * 12];
                    assert_int_equal(b->index[j], id);
                    assert_int_equal(b->labels[j], id % 7);
                    seen[world - 1][s * G + r * b->n + j] = id;
                }
            }
            sk_loader_pos p = sk_loader_tell(l);
            assert_int_equal(p.epoch, 4);
            assert_int_equal(p.step, 0);
            assert_int_not_equal(sk_loader_next(l, &b), 0); /* epoch 4 has no order */
            /* resume inside the epoch */
            assert_int_equal(sk_loader_seek_order(l, (sk_loader_pos){3, 5}, order, n), 0);
            assert_int_equal(sk_loader_next(l, &b), 0);
            assert_int_equal(b->step, 5);
            assert_int_equal(b->index[0], order[5 * G + r * b->n]);
            /* bad orders */
            int64_t bad[12];
            memcpy(bad, order, sizeof bad);
            bad[3] = 900; /* the eval split */
            assert_int_not_equal(sk_loader_seek_order(l, (sk_loader_pos){0, 0}, bad, 12), 0);
            assert_int_not_equal(sk_loader_seek_order(l, (sk_loader_pos){0, 0}, order, G - 1), 0);
            assert_int_not_equal(sk_loader_seek_order(l, (sk_loader_pos){0, 8}, order, n), 0);
            sk_loader_free(l);
        }
    }
    for (int64_t i = 0; i < 96; i++) {
        assert_int_equal(seen[0][i], order[i]);
        assert_int_equal(seen[1][i], order[i]);
        assert_int_equal(seen[2][i], order[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epoch_is_permutation),
        cmocka_unit_test(test_determinism_and_resume),
        cmocka_unit_test(test_sharding_matches_global),
        cmocka_unit_test(test_samples_labels_splits),
        cmocka_unit_test(test_random_split),
        cmocka_unit_test(test_bad_options_and_corruption),
        cmocka_unit_test(test_grouped_permutation),
        cmocka_unit_test(test_chunk_cache_sizes),
        cmocka_unit_test(test_external_order),
    };
    return cmocka_run_group_tests(tests, setup_, NULL);
}
