/* test_badheader.c - every importer whose file has a header (IDX, Megatron,
 * llm.c) refuses a header that claims more data than the file holds, with
 * an error naming the file, before allocating what the header claims (the
 * claims here are terabytes: an allocation would fail as "out of memory",
 * or succeed and read garbage). Each share of a 2- and 3-rank import is
 * checked too: importers make no MPI calls, so a rank's share is parsed
 * alone as under mpirun. Found by tests/fuzz (issue 16). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "sk_data_config.h"
#include "sk_prepare.h"

#define TMP SK_TEST_TMP "/badheader_"

static void write_file_(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Import `input` as `format` as every rank of worlds 1..3: each must fail
 * with SK_EINVAL (not SK_ENOMEM) naming `names` and containing `what`. */
static void refused_(const char *format, const char *input, const char *names, const char *what)
{
    sk_prepare_config c;
    const sk_cfg_section *const secs[1] = {&sk_prepare_section};
    void *const bases[1] = {&c};
    assert_int_equal(sk_cfg_defaults(secs, 1, bases), SK_OK);
    snprintf(c.input, sizeof c.input, "%s", input);
    const sk_importer *imp = sk_importer_find(format);
    assert_non_null(imp);
    for (int world = 1; world <= 3; world++)
        for (int rank = 0; rank < world; rank++) {
            sk_import_share sh = {rank, world};
            sk_corpus_data d;
            int rc = imp->import(&c, &sh, &d);
            if (rc != SK_EINVAL || !strstr(sk_error_last(), names) || !strstr(sk_error_last(), what))
                fail_msg("%s rank %d/%d: rc %d, error '%s' (want '%s' naming %s)", format, rank, world, rc,
                         sk_error_last(), what, names);
        }
}

static void be32_(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void test_idx(void **st)
{
    (void)st;
    unsigned char b[16 + 64] = {0, 0, 8, 3};
    be32_(b + 4, 1000000); /* 10^6 images of 1000 x 1000: a terabyte */
    be32_(b + 8, 1000);
    be32_(b + 12, 1000);
    write_file_(TMP "big.idx3-ubyte", b, sizeof b);
    refused_("idx", TMP "big.idx3-ubyte", TMP "big.idx3-ubyte", "promise");
    gzFile g = gzopen(TMP "big.idx3-ubyte.gz", "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, b, sizeof b), (int)sizeof b);
    gzclose(g);
    refused_("idx", TMP "big.idx3-ubyte.gz", TMP "big.idx3-ubyte.gz", "size mismatch");
    be32_(b + 4, 0xffffffffu); /* 2^96 bytes: the size itself overflows */
    be32_(b + 8, 0xffffffffu);
    be32_(b + 12, 0xffffffffu);
    write_file_(TMP "ovf.idx3-ubyte", b, sizeof b);
    refused_("idx", TMP "ovf.idx3-ubyte", TMP "ovf.idx3-ubyte", "size mismatch");
}

/* A Megatron .idx of int64 tokens (code 5) with the given lengths and pointers. */
static void mg_write_(const char *prefix, int n, const int32_t *len, const int64_t *ptr, size_t binlen)
{
    char p[512];
    unsigned char h[34 + 12 * 4 + 8 * 5] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5};
    uint64_t S = (uint64_t)n, D = (uint64_t)n + 1;
    memcpy(h + 18, &S, 8);
    memcpy(h + 26, &D, 8);
    memcpy(h + 34, len, 4 * (size_t)n);
    memcpy(h + 34 + 4 * n, ptr, 8 * (size_t)n);
    for (int64_t i = 0; i <= n; i++) memcpy(h + 34 + 12 * n + 8 * i, &i, 8);
    snprintf(p, sizeof p, "%s.idx", prefix);
    write_file_(p, h, 34 + 12 * (size_t)n + 8 * (size_t)D);
    unsigned char *bin = calloc(1, binlen + 1);
    snprintf(p, sizeof p, "%s.bin", prefix);
    write_file_(p, bin, binlen);
    free(bin);
}

static void test_megatron(void **st)
{
    (void)st;
    /* the lengths chain up, but to 2 x 16 GiB of a 64-byte .bin */
    const int32_t len[4] = {INT32_MAX, INT32_MAX, 4, 4};
    const int64_t ptr[4] = {0, (int64_t)INT32_MAX * 8, (int64_t)INT32_MAX * 16, (int64_t)INT32_MAX * 16 + 32};
    mg_write_(TMP "mg", 4, len, ptr, 64);
    refused_("megatron", TMP "mg.idx", TMP "mg.", "mg.bin (64 bytes)");
    /* pointers near INT64_MAX: the offset chain would overflow */
    const int32_t len2[2] = {8, 8};
    const int64_t ptr2[2] = {INT64_MAX - 8, INT64_MAX - 8}; /* 8 int64 tokens past INT64_MAX - 8 */
    mg_write_(TMP "mgo", 2, len2, ptr2, 64);
    refused_("megatron", TMP "mgo.idx", TMP "mgo.idx", "outside");
    /* the header claims a billion sequences in a 130-byte index */
    unsigned char h[34 + 12 + 16] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5};
    uint64_t S = 1000000000, D = 2;
    memcpy(h + 18, &S, 8);
    memcpy(h + 26, &D, 8);
    write_file_(TMP "mgs.idx", h, sizeof h);
    write_file_(TMP "mgs.bin", h, 8);
    refused_("megatron", TMP "mgs.idx", TMP "mgs.idx", "truncated index");
}

static void test_llmc(void **st)
{
    (void)st;
    int32_t h[256 + 8] = {20240520, 1, 1 << 30}; /* a billion uint16 tokens in 32 bytes */
    write_file_(TMP "big.bin", h, sizeof h);
    refused_("llmc", TMP "big.bin", TMP "big.bin",
             "header says 1073741824 tokens (2147483648 bytes) but the file has 32 bytes of tokens (truncated)");
    int32_t w[256 + 8] = {20240801, 7, INT32_MAX}; /* 2^31 - 1 uint32 tokens: 8 GiB claimed */
    write_file_(TMP "big32.bin", w, sizeof w);
    refused_("llmc", TMP "big32.bin", TMP "big32.bin",
             "(8589934588 bytes) but the file has 32 bytes of tokens (truncated)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx),
        cmocka_unit_test(test_megatron),
        cmocka_unit_test(test_llmc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
