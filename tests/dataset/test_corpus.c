/* test_corpus.c - corpus write/read round trips, attributes, provenance,
 * corruption detection and every bad-input case of the format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "sk_corpus.h"
#include "sk_zstd_filter.h"

#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader */
#include <zstd.h>

#define TMP SK_TEST_TMP "/corpus_"

static uint16_t *mk_tokens_(int64_t n)
{
    uint16_t *t = malloc((size_t)n * 2);
    uint64_t s = 7;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        t[i] = (uint16_t)((s >> 33) % 300); /* compressible, vocab 300 */
    }
    return t;
}

static sk_corpus_data tok_data_(uint16_t *t, int64_t n, int64_t *off)
{
    sk_corpus_data d = {0};
    d.kind = SK_CORPUS_TOKENS;
    d.type = SK_ELEM_U16;
    d.vocab_size = 300;
    d.tokens = t;
    d.num_tokens = n;
    off[0] = 0;
    off[1] = n / 4;
    off[2] = n / 4; /* an empty document is legal */
    off[3] = n;
    d.offsets = off;
    d.num_docs = 3;
    d.source = "unit test";
    d.command = "test_corpus";
    return d;
}

static const sk_corpus_write_opts small_chunks_ = {SK_COMPRESS_ZSTD, 3, 8192, 0, 0};

static void test_tokens_round_trip(void **st)
{
    (void)st;
    const int64_t n = 100000;
    uint16_t *t = mk_tokens_(n), *back = malloc(n * 2);
    int64_t off[4], ob[4], kept[5] = {0, 2, 4, 6, 8};
    float sc[3] = {0.5f, 1.5f, 2.5f};
    int64_t labels[3] = {1, 0, 1};
    sk_corpus_data d = tok_data_(t, n, off);
    d.labels = labels;
    d.num_classes = 2;
    d.nscores = 1;
    d.score_names[0] = "loss";
    d.scores[0] = sc;
    d.prov_source = "parent.h5";
    d.prov_method = "test";
    d.kept = kept;
    d.num_kept = 5;
    assert_int_equal(sk_corpus_write(TMP "tok.h5", &d, &small_chunks_), 0);
    sk_corpus *c = NULL;
    assert_int_equal(sk_corpus_open(&c, TMP "tok.h5"), 0);
    const sk_corpus_info *in = sk_corpus_info_get(c);
    assert_int_equal(in->kind, SK_CORPUS_TOKENS);
    assert_int_equal(in->type, SK_ELEM_U16);
    assert_int_equal(in->vocab_size, 300);
    assert_int_equal(in->num_tokens, n);
    assert_int_equal(in->num_docs, 3);
    assert_int_equal(in->num_classes, 2);
    assert_string_equal(in->source, "unit test");
    assert_string_equal(in->command, "test_corpus");
    assert_string_equal(in->prov_source, "parent.h5");
    assert_int_equal(in->num_kept, 5);
    assert_int_equal(sk_corpus_read_tokens(c, 0, n, back), 0);
    assert_memory_equal(t, back, n * 2);
    assert_int_equal(sk_corpus_read_tokens(c, 12345, 10, back), 0);
    assert_memory_equal(t + 12345, back, 20);
    assert_int_equal(sk_corpus_read_offsets(c, 0, 4, ob), 0);
    assert_memory_equal(off, ob, sizeof off);
    int64_t kb[5];
    assert_int_equal(sk_corpus_read_kept(c, 0, 5, kb), 0);
    assert_memory_equal(kept, kb, sizeof kb);
    assert_int_equal(sk_corpus_verify(c), 0);
    int64_t stored, raw;
    char desc[128];
    assert_int_equal(sk_corpus_storage(c, "tokens", &stored, &raw, desc, sizeof desc), 0);
    assert_int_equal(raw, n * 2);
    assert_true(stored < raw); /* really compressed */
    assert_non_null(strstr(desc, "zstd(3)"));
    /* reading past the end is an error naming the dataset */
    assert_int_equal(sk_corpus_read_tokens(c, n - 5, 10, back), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "/tokens"));
    sk_corpus_free(c);
    sk_corpus_free(NULL);
    free(t);
    free(back);
}

static void test_samples_round_trip(void **st)
{
    (void)st;
    const int64_t n = 500;
    uint8_t *img = malloc(n * 28 * 28), *back = malloc(n * 28 * 28);
    int64_t *lab = malloc(n * 8), lb[500];
    for (int64_t i = 0; i < n * 784; i++) img[i] = (uint8_t)(i % 251);
    for (int64_t i = 0; i < n; i++) lab[i] = i % 10;
    sk_corpus_data d = {0};
    d.kind = SK_CORPUS_SAMPLES;
    d.type = SK_ELEM_U8;
    d.ndim = 2;
    d.shape[0] = d.shape[1] = 28;
    d.samples = img;
    d.num_samples = n;
    d.labels = lab;
    d.num_classes = 10;
    sk_corpus_write_opts o = {SK_COMPRESS_ZSTD, 5, 16384, 1, 1}; /* with fletcher32 and byte shuffle */
    assert_int_equal(sk_corpus_write(TMP "img.h5", &d, &o), 0);
    sk_corpus *c = NULL;
    assert_int_equal(sk_corpus_open(&c, TMP "img.h5"), 0);
    const sk_corpus_info *in = sk_corpus_info_get(c);
    assert_int_equal(in->kind, SK_CORPUS_SAMPLES);
    assert_int_equal(in->ndim, 2);
    assert_int_equal(in->shape[1], 28);
    assert_int_equal(in->num_samples, n);
    assert_int_equal(sk_corpus_read_samples(c, 0, n, back), 0);
    assert_memory_equal(img, back, n * 784);
    assert_int_equal(sk_corpus_read_labels(c, 0, n, lb), 0);
    assert_memory_equal(lab, lb, n * 8);
    char desc[128];
    assert_int_equal(sk_corpus_storage(c, "samples", NULL, NULL, desc, sizeof desc), 0);
    assert_non_null(strstr(desc, "fletcher32"));
    assert_null(strstr(desc, "shuffle")); /* uint8: byte shuffle is a no-op, not added */
    assert_int_equal(sk_corpus_verify(c), 0);
    sk_corpus_free(c);
    free(img);
    free(back);
    free(lab);
}

/* Flip one byte in the middle of the stored chunk #idx of /name. */
static void flip_chunk_byte_(const char *path, const char *name, int idx)
{
    sk_corpus_h5_lock();
    assert_int_equal(sk_zstd_register(), 0);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = H5Dget_space(ds);
    hsize_t off[2];
    unsigned mask;
    haddr_t addr;
    hsize_t size;
    assert_true(H5Dget_chunk_info(ds, sp, (hsize_t)idx, off, &mask, &addr, &size) >= 0);
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(f);
    sk_corpus_h5_unlock();
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, (long)(addr + size / 2), SEEK_SET);
    int ch = fgetc(fp);
    fseek(fp, (long)(addr + size / 2), SEEK_SET);
    fputc(ch ^ 0x5A, fp);
    fclose(fp);
}

static void test_corrupt_chunk_detected(void **st)
{
    (void)st;
    const int64_t n = 100000;
    uint16_t *t = mk_tokens_(n), *back = malloc(n * 2);
    int64_t off[4];
    sk_corpus_data d = tok_data_(t, n, off);
    assert_int_equal(sk_corpus_write(TMP "bad.h5", &d, &small_chunks_), 0);
    flip_chunk_byte_(TMP "bad.h5", "tokens", 2);
    sk_corpus *c = NULL;
    assert_int_equal(sk_corpus_open(&c, TMP "bad.h5"), 0);        /* metadata intact */
    assert_int_equal(sk_corpus_read_tokens(c, 0, 4096, back), 0); /* chunk 0 fine */
    int rc = sk_corpus_read_tokens(c, 0, n, back);
    assert_int_equal(rc, SK_ECORRUPT);
    assert_non_null(strstr(sk_error_last(), TMP "bad.h5"));
    assert_non_null(strstr(sk_error_last(), "/tokens"));
    assert_int_equal(sk_corpus_verify(c), SK_ECORRUPT);
    sk_corpus_free(c);

    /* the same with the Fletcher32 filter and uncompressed data */
    sk_corpus_write_opts o = {SK_COMPRESS_NONE, 0, 8192, 1, 0};
    assert_int_equal(sk_corpus_write(TMP "badf.h5", &d, &o), 0);
    flip_chunk_byte_(TMP "badf.h5", "tokens", 1);
    assert_int_equal(sk_corpus_open(&c, TMP "badf.h5"), 0);
    assert_int_equal(sk_corpus_read_tokens(c, 0, n, back), SK_ECORRUPT);
    assert_non_null(strstr(sk_error_last(), "/tokens"));
    sk_corpus_free(c);
    free(t);
    free(back);
}

static void test_truncated_and_garbage(void **st)
{
    (void)st;
    const int64_t n = 100000;
    uint16_t *t = mk_tokens_(n);
    int64_t off[4];
    sk_corpus_data d = tok_data_(t, n, off);
    assert_int_equal(sk_corpus_write(TMP "trunc.h5", &d, &small_chunks_), 0);
    assert_int_equal(truncate(TMP "trunc.h5", 30000), 0);
    sk_corpus *c = NULL;
    int rc = sk_corpus_open(&c, TMP "trunc.h5");
    assert_true(rc < 0);
    assert_null(c);
    assert_non_null(strstr(sk_error_last(), TMP "trunc.h5"));
    FILE *f = fopen(TMP "garbage.h5", "wb");
    fputs("this is not an HDF5 file at all, just text.\n", f);
    fclose(f);
    assert_int_equal(sk_corpus_open(&c, TMP "garbage.h5"), SK_ECORRUPT);
    assert_non_null(strstr(sk_error_last(), "not an HDF5 file"));
    assert_int_equal(sk_corpus_open(&c, TMP "does_not_exist.h5"), SK_ENOTFOUND);
    assert_non_null(strstr(sk_error_last(), "does_not_exist.h5"));
    free(t);
}

/* Overwrite one int64 of a dataset in place (our filter registered). */
static void poke_i64_(const char *path, const char *name, hsize_t at, int64_t v)
{
    sk_corpus_h5_lock();
    sk_zstd_register();
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t fs = H5Dget_space(ds);
    hsize_t one = 1;
    hid_t ms = H5Screate_simple(1, &one, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &one, NULL);
    assert_true(H5Dwrite(ds, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, &v) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(ds);
    H5Fclose(f);
    sk_corpus_h5_unlock();
}

static void test_offsets_and_vocab_checks(void **st)
{
    (void)st;
    const int64_t n = 20000;
    uint16_t *t = mk_tokens_(n);
    int64_t off[4];
    sk_corpus_data d = tok_data_(t, n, off);
    /* writer refuses inconsistent data */
    off[3] = n + 1;
    assert_int_equal(sk_corpus_write(TMP "o.h5", &d, NULL), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "offsets end at"));
    off[3] = n;
    off[2] = 1; /* decreasing */
    assert_int_equal(sk_corpus_write(TMP "o.h5", &d, NULL), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "offsets decrease"));
    off[2] = n / 4;
    d.vocab_size = 100;
    assert_int_equal(sk_corpus_write(TMP "o.h5", &d, NULL), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "outside the vocabulary"));
    d.vocab_size = 300;
    /* a file whose last offset does not match the token count */
    assert_int_equal(sk_corpus_write(TMP "o.h5", &d, NULL), 0);
    poke_i64_(TMP "o.h5", "offsets", 3, n + 7);
    sk_corpus *c = NULL;
    assert_int_equal(sk_corpus_open(&c, TMP "o.h5"), SK_ECORRUPT);
    assert_non_null(strstr(sk_error_last(), "/offsets do not add up"));
    /* a decreasing middle offset is found by verify */
    assert_int_equal(sk_corpus_write(TMP "o2.h5", &d, NULL), 0);
    poke_i64_(TMP "o2.h5", "offsets", 1, n - 1);
    assert_int_equal(sk_corpus_open(&c, TMP "o2.h5"), 0);
    assert_int_equal(sk_corpus_verify(c), SK_ECORRUPT);
    assert_non_null(strstr(sk_error_last(), "/offsets decreases"));
    sk_corpus_free(c);
    /* a token id outside the vocabulary in a stored file */
    sk_corpus_data d64 = d;
    int64_t *t64 = malloc(n * 8);
    for (int64_t i = 0; i < n; i++) t64[i] = t[i];
    d64.type = SK_ELEM_I64;
    d64.tokens = t64;
    assert_int_equal(sk_corpus_write(TMP "v.h5", &d64, NULL), 0);
    poke_i64_(TMP "v.h5", "tokens", 777, 5000);
    assert_int_equal(sk_corpus_open(&c, TMP "v.h5"), 0);
    assert_int_equal(sk_corpus_verify(c), SK_ECORRUPT);
    assert_non_null(strstr(sk_error_last(), "/tokens[777] = 5000"));
    sk_corpus_free(c);
    free(t64);
    free(t);
}

static void test_wrong_dtype_empty_unwritable(void **st)
{
    (void)st;
    float ft[10] = {0};
    int64_t off[2] = {0, 10};
    sk_corpus_data d = {0};
    d.kind = SK_CORPUS_TOKENS;
    d.type = SK_ELEM_F32;
    d.vocab_size = 10;
    d.tokens = ft;
    d.num_tokens = 10;
    d.offsets = off;
    d.num_docs = 1;
    assert_int_equal(sk_corpus_write(TMP "f.h5", &d, NULL), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "must be integers"));
    /* a file that claims float32 tokens */
    sk_corpus_h5_lock();
    hid_t f = H5Fcreate(TMP "f.h5", H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n10 = 10, n2 = 2;
    hid_t s10 = H5Screate_simple(1, &n10, NULL), s2 = H5Screate_simple(1, &n2, NULL), sc = H5Screate(H5S_SCALAR);
    hid_t ds = H5Dcreate2(f, "tokens", H5T_IEEE_F32LE, s10, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, ft);
    H5Dclose(ds);
    ds = H5Dcreate2(f, "offsets", H5T_STD_I64LE, s2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, off);
    H5Dclose(ds);
    const char *kv[][2] = {{"shrink_format", "shrink-corpus"}, {"kind", "tokens"}, {"dtype", "float32"}};
    for (int i = 0; i < 3; i++) {
        hid_t ty = H5Tcopy(H5T_C_S1);
        H5Tset_size(ty, H5T_VARIABLE);
        hid_t a = H5Acreate2(f, kv[i][0], ty, sc, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, ty, &kv[i][1]);
        H5Aclose(a);
        H5Tclose(ty);
    }
    int64_t one = 1, ten = 10;
    hid_t a = H5Acreate2(f, "format_version", H5T_STD_I64LE, sc, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &one);
    H5Aclose(a);
    a = H5Acreate2(f, "vocab_size", H5T_STD_I64LE, sc, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &ten);
    H5Aclose(a);
    H5Sclose(s10);
    H5Sclose(s2);
    H5Sclose(sc);
    H5Fclose(f);
    sk_corpus_h5_unlock();
    sk_corpus *c = NULL;
    assert_int_equal(sk_corpus_open(&c, TMP "f.h5"), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "wrong dtype"));
    assert_non_null(strstr(sk_error_last(), "/tokens"));

    /* empty input */
    uint16_t t[1] = {0};
    int64_t zoff[1] = {0};
    sk_corpus_data e = {0};
    e.kind = SK_CORPUS_TOKENS;
    e.type = SK_ELEM_U16;
    e.vocab_size = 10;
    e.tokens = t;
    e.offsets = zoff;
    assert_int_equal(sk_corpus_write(TMP "e.h5", &e, NULL), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "empty input"));
    assert_int_equal(access(TMP "e.h5", F_OK), -1);

    /* unwritable output: no file and no temporary left behind */
    uint16_t tk[4] = {1, 2, 3, 4};
    int64_t of[2] = {0, 4};
    e.tokens = tk;
    e.num_tokens = 4;
    e.offsets = of;
    e.num_docs = 1;
    assert_int_equal(sk_corpus_write(SK_TEST_TMP "/no/such/dir/x.h5", &e, NULL), SK_EIO);
    assert_non_null(strstr(sk_error_last(), "/no/such/dir/x.h5"));
    /* bad level */
    sk_corpus_write_opts o = {SK_COMPRESS_ZSTD, 40, 0, 0, 0};
    assert_int_equal(sk_corpus_write(TMP "l.h5", &e, &o), SK_EINVAL);
    /* a good write leaves exactly the output, no temporaries */
    assert_int_equal(sk_corpus_write(TMP "ok.h5", &e, NULL), 0);
    DIR *dir = opendir(SK_TEST_TMP);
    struct dirent *de;
    /* only this suite's files: other suites write into the same folder concurrently (ctest -j) */
    while ((de = readdir(dir)))
        if (strstr(de->d_name, "corpus_")) assert_null(strstr(de->d_name, ".shrink-tmp-"));
    closedir(dir);
}

/* A temporary left by a dead process (SIGKILL during a write) is named
 * .BASE.shrink-tmp-HOST-PID and removed by the next write of BASE; one of
 * a live process is left alone. */
static void test_write_stale_tmp(void **st)
{
    (void)st;
    sk_corpus_data e = {.kind = SK_CORPUS_TOKENS, .type = SK_ELEM_U16, .vocab_size = 10};
    uint16_t tk[4] = {1, 2, 3, 4};
    int64_t of[2] = {0, 4};
    e.tokens = tk;
    e.num_tokens = 4;
    e.offsets = of;
    e.num_docs = 1;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    for (char *h = host; *h; h++)
        if (*h == '-' || *h == '/') *h = '_';
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, NULL, 0);
    char stale[4096], live[4096];
    snprintf(stale, sizeof stale, SK_TEST_TMP "/.corpus_stale.h5.shrink-tmp-%s-%ld", host, (long)dead);
    snprintf(live, sizeof live, SK_TEST_TMP "/.corpus_stale.h5.shrink-tmp-%s-%ld", host, (long)getppid());
    FILE *f = fopen(stale, "w");
    assert_non_null(f);
    fclose(f);
    f = fopen(live, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(sk_corpus_write(SK_TEST_TMP "/corpus_stale.h5", &e, NULL), 0);
    assert_int_equal(access(stale, F_OK), -1);
    assert_int_equal(access(live, F_OK), 0);
    unlink(live);
}

/* The stored chunks follow filter 32015's conventions (one frame, content
 * size recorded, cd_values = {level}); and chunks written the way the HDF
 * Group's reference plugin writes them (plain ZSTD_compress, no checksum)
 * are read back. */
static void test_filter_conventions(void **st)
{
    (void)st;
    const int64_t n = 50000;
    uint16_t *t = mk_tokens_(n), *back = malloc(n * 2);
    int64_t off[4];
    sk_corpus_data d = tok_data_(t, n, off);
    sk_corpus_write_opts o = {SK_COMPRESS_ZSTD, 7, 8192, 0, 0};
    assert_int_equal(sk_corpus_write(TMP "conv.h5", &d, &o), 0);
    sk_corpus_h5_lock();
    hid_t f = H5Fopen(TMP "conv.h5", H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "tokens", H5P_DEFAULT), dcpl = H5Dget_create_plist(ds);
    unsigned flags, cd[4];
    size_t ncd = 4;
    assert_int_equal(H5Pget_nfilters(dcpl), 1);
    assert_int_equal(H5Pget_filter2(dcpl, 0, &flags, &ncd, cd, 0, NULL, NULL), 32015);
    assert_int_equal(ncd, 1);
    assert_int_equal(cd[0], 7);
    H5Pclose(dcpl);
    hsize_t co = 4096, zs = 0;
    uint32_t mask = 1;
    assert_true(H5Dget_chunk_storage_size(ds, &co, &zs) >= 0);
    unsigned char *z = malloc((size_t)zs);
    assert_true(H5Dread_chunk(ds, H5P_DEFAULT, &co, &mask, z) >= 0);
    assert_int_equal(mask, 0);
    assert_int_equal(ZSTD_getFrameContentSize(z, (size_t)zs), 4096 * 2);
    assert_int_equal(ZSTD_findFrameCompressedSize(z, (size_t)zs), zs); /* exactly one frame */
    ZSTD_frameHeader fh;
    assert_int_equal(ZSTD_getFrameHeader(&fh, z, (size_t)zs), 0);
    assert_int_equal(fh.checksumFlag, 1);
    free(z);
    /* overwrite chunk 1 with a reference-style frame of other data */
    uint16_t other[4096];
    for (int i = 0; i < 4096; i++) other[i] = (uint16_t)(299 - i % 300);
    size_t cap = ZSTD_compressBound(sizeof other);
    unsigned char *ref = malloc(cap);
    size_t rs = ZSTD_compress(ref, cap, other, sizeof other, 3);
    assert_false(ZSTD_isError(rs));
    assert_true(H5Dwrite_chunk(ds, H5P_DEFAULT, 0, &co, rs, ref) >= 0);
    H5Dclose(ds);
    H5Fclose(f);
    sk_corpus_h5_unlock();
    sk_corpus *c = NULL;
    assert_int_equal(sk_corpus_open(&c, TMP "conv.h5"), 0);
    assert_int_equal(sk_corpus_read_tokens(c, 0, n, back), 0); /* direct chunk path */
    assert_memory_equal(back + 4096, other, sizeof other);
    assert_memory_equal(back, t, 4096 * 2);
    assert_int_equal(sk_corpus_read_tokens(c, 4000, 200, back), 0); /* HDF5 pipeline path */
    assert_memory_equal(back, t + 4000, 96 * 2);
    assert_memory_equal(back + 96, other, 104 * 2);
    sk_corpus_free(c);
    free(ref);
    free(t);
    free(back);
}

/* byte shuffle + zstd: whole-chunk direct decoding unshuffles correctly
 * for 2- and 8-byte ids; partial reads agree. */
static void test_shuffle_round_trip(void **st)
{
    (void)st;
    const int64_t n = 70000;
    uint16_t *t = mk_tokens_(n), *back = malloc(n * 2);
    int64_t off[4], *t64 = malloc(n * 8), *b64 = malloc(n * 8);
    for (int64_t i = 0; i < n; i++) t64[i] = t[i];
    sk_corpus_data d = tok_data_(t, n, off);
    sk_corpus_write_opts o = {SK_COMPRESS_ZSTD, 3, 8192, 0, 1};
    for (int w = 0; w < 2; w++) {
        if (w) {
            d.type = SK_ELEM_I64;
            d.tokens = t64;
        }
        assert_int_equal(sk_corpus_write(TMP "shuf.h5", &d, &o), 0);
        sk_corpus *c = NULL;
        assert_int_equal(sk_corpus_open(&c, TMP "shuf.h5"), 0);
        char desc[128];
        assert_int_equal(sk_corpus_storage(c, "tokens", NULL, NULL, desc, sizeof desc), 0);
        assert_non_null(strstr(desc, "shuffle+zstd(3)"));
        void *b = w ? (void *)b64 : (void *)back;
        assert_int_equal(sk_corpus_read_tokens(c, 0, n, b), 0);
        assert_memory_equal(b, w ? (void *)t64 : (void *)t, (size_t)n * (w ? 8 : 2));
        assert_int_equal(sk_corpus_read_tokens(c, 1000, 20000, b), 0);
        assert_memory_equal(b, w ? (void *)(t64 + 1000) : (void *)(t + 1000), (size_t)20000 * (w ? 8 : 2));
        assert_int_equal(sk_corpus_verify(c), 0);
        sk_corpus_free(c);
    }
    free(t);
    free(back);
    free(t64);
    free(b64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_round_trip),        cmocka_unit_test(test_filter_conventions),
        cmocka_unit_test(test_shuffle_round_trip),       cmocka_unit_test(test_samples_round_trip),
        cmocka_unit_test(test_corrupt_chunk_detected),   cmocka_unit_test(test_truncated_and_garbage),
        cmocka_unit_test(test_offsets_and_vocab_checks), cmocka_unit_test(test_wrong_dtype_empty_unwritable),
        cmocka_unit_test(test_write_stale_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
