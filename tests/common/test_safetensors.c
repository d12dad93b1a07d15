/* test_safetensors.c - common/sk_safetensors: write/open round trip, every
 * validation rule with a hand-made bad file whose error must name the file
 * and the tensor, and a file laid out by Python (numpy + json, as
 * huggingface/safetensors writes them) read back by C. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sk_error.h"
#include "sk_safetensors.h"

static char path_[512];

static int setup_(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(path_, sizeof path_, "%s/test_safetensors_%ld.safetensors", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    return 0;
}

static int teardown_(void **state)
{
    (void)state;
    unlink(path_);
    return 0;
}

/* A file of the given header (length prefix computed) and ndata data bytes. */
static void raw_(const char *head, size_t ndata)
{
    FILE *f = fopen(path_, "wb");
    assert_non_null(f);
    uint64_t n = strlen(head);
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(n >> (8 * i));
    assert_int_equal(fwrite(le, 1, 8, f), 8);
    assert_int_equal(fwrite(head, 1, n, f), n);
    for (size_t i = 0; i < ndata; i++) fputc((int)i, f);
    fclose(f);
}

/* Opening path_ fails with SK_ECORRUPT and a message naming the file,
 * each of want[0..nwant) (the tensors at fault) and the rule. */
static void bad_(const char *rule, const char *const *want, int nwant)
{
    sk_safetensors *st = (sk_safetensors *)1;
    assert_int_equal(sk_safetensors_open(&st, path_), SK_ECORRUPT);
    assert_null(st);
    const char *msg = sk_error_last();
    if (!strstr(msg, path_) || !strstr(msg, rule)) fail_msg("message '%s' lacks the file or '%s'", msg, rule);
    for (int i = 0; i < nwant; i++)
        if (!strstr(msg, want[i])) fail_msg("message '%s' does not name %s", msg, want[i]);
}

#define ENT_(nm, dt, shp, b, e) "\"" nm "\":{\"dtype\":\"" dt "\",\"shape\":" shp ",\"data_offsets\":[" #b "," #e "]}"

static void test_roundtrip(void **state)
{
    (void)state;
    float w[12];
    int64_t idx[2] = {-3, (int64_t)1 << 40};
    for (int i = 0; i < 12; i++) w[i] = (float)i * 0.25f - 1.0f;
    sk_safetensors_entry e[3] = {{.name = "layer.weight", .dtype = "F32", .ndim = 2, .shape = {3, 4}},
                                 {.name = "empty", .dtype = "U8", .ndim = 1, .shape = {0}},
                                 {.name = "idx", .dtype = "I64", .ndim = 1, .shape = {2}}};
    const void *data[3] = {w, "", idx};
    const char *meta[4] = {"format", "pt", "note", "a \"quoted\" value"};
    assert_int_equal(sk_safetensors_write(path_, e, data, 3, meta, 2), 0);
    FILE *f = fopen(path_, "rb");
    unsigned char le[8];
    assert_int_equal(fread(le, 1, 8, f), 8);
    fclose(f);
    assert_int_equal(le[0] % 8, 0); /* header padded to 8 bytes */
    sk_safetensors *st = NULL;
    assert_int_equal(sk_safetensors_open(&st, path_), 0);
    assert_int_equal(sk_safetensors_count(st), 3);
    assert_string_equal(sk_safetensors_at(st, 0)->name, "layer.weight");
    const sk_safetensors_entry *x = sk_safetensors_find(st, "layer.weight");
    assert_non_null(x);
    assert_string_equal(x->dtype, "F32");
    assert_int_equal(x->ndim, 2);
    assert_int_equal(x->shape[1], 4);
    float w2[12];
    assert_int_equal(sk_safetensors_read(st, x, w2, sizeof w2), 0);
    assert_memory_equal(w, w2, sizeof w);
    int64_t idx2[2];
    x = sk_safetensors_find(st, "idx");
    assert_int_equal(x->begin, 48);
    assert_int_equal(sk_safetensors_read(st, x, idx2, sizeof idx2), 0);
    assert_memory_equal(idx, idx2, sizeof idx);
    assert_int_equal(sk_safetensors_read(st, x, idx2, 8), SK_EINVAL); /* buffer too small */
    assert_non_null(strstr(sk_error_last(), "'idx'"));
    assert_int_equal(sk_safetensors_find(st, "empty")->end, 48);
    assert_null(sk_safetensors_find(st, "nope"));
    assert_string_equal(sk_safetensors_meta(st, "format"), "pt");
    assert_string_equal(sk_safetensors_meta(st, "note"), "a \"quoted\" value");
    assert_null(sk_safetensors_meta(st, "absent"));
    sk_safetensors_free(st);
    /* the writer refuses a duplicate name and an unknown dtype, leaving the old file */
    sk_safetensors_entry dup[2] = {e[0], e[0]};
    const void *d2[2] = {w, w};
    assert_int_equal(sk_safetensors_write(path_, dup, d2, 2, NULL, 0), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "'layer.weight'"));
    dup[1].name = "b";
    dup[1].dtype = "F33";
    assert_int_equal(sk_safetensors_write(path_, dup, d2, 2, NULL, 0), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "F33"));
    assert_int_equal(sk_safetensors_open(&st, path_), 0);
    assert_int_equal(sk_safetensors_count(st), 3);
    sk_safetensors_free(st);
}

static void test_missing_file(void **state)
{
    (void)state;
    sk_safetensors *st = NULL;
    assert_int_equal(sk_safetensors_open(&st, "no/such.safetensors"), SK_EIO);
    assert_non_null(strstr(sk_error_last(), "no/such.safetensors"));
}

static void test_truncated_header(void **state)
{
    (void)state;
    FILE *f = fopen(path_, "wb");
    fwrite("\x10\0\0", 1, 3, f);
    fclose(f);
    bad_("truncated", NULL, 0);
}

static void test_header_past_eof(void **state)
{
    (void)state;
    FILE *f = fopen(path_, "wb");
    fwrite("\xe8\x03\0\0\0\0\0\0{}", 1, 10, f); /* N = 1000, 2 bytes follow */
    fclose(f);
    bad_("past the end of the file", NULL, 0);
}

static void test_malformed_json(void **state)
{
    (void)state;
    raw_("{" ENT_("a", "F32", "[1]", 0, 4), 4);
    bad_("not valid JSON", NULL, 0);
    raw_("[1,2]   ", 0);
    bad_("not a JSON object", NULL, 0);
}

static void test_unknown_dtype(void **state)
{
    (void)state;
    raw_("{" ENT_("a", "F32", "[1]", 0, 4) "," ENT_("b", "F33", "[1]", 4, 8) "}", 8);
    bad_("unknown dtype", (const char *const[]){"'b'", "F33"}, 2);
}

static void test_shape_mismatch(void **state)
{
    (void)state;
    raw_("{" ENT_("a", "F32", "[2,3]", 0, 20) "}", 20);
    bad_("need 24", (const char *const[]){"'a'"}, 1);
    raw_("{" ENT_("a", "F32", "[-1]", 0, 4) "}", 4);
    bad_("shape[0]", (const char *const[]){"'a'"}, 1);
    raw_("{" ENT_("a", "F32", "[1.5]", 0, 4) "}", 4);
    bad_("shape[0]", (const char *const[]){"'a'"}, 1);
    raw_("{" ENT_("a", "F32", "[1]", 4, 0) "}", 4);
    bad_("data_offsets", (const char *const[]){"'a'"}, 1);
    raw_("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0);
    bad_("data_offsets", (const char *const[]){"'a'"}, 1);
    raw_("{\"a\":[1,2]}", 0);
    bad_("not an object", (const char *const[]){"'a'"}, 1);
}

static void test_gap(void **state)
{
    (void)state;
    raw_("{" ENT_("a", "F32", "[1]", 0, 4) "," ENT_("b", "F32", "[1]", 8, 12) "}", 12);
    bad_("gap of 4 bytes", (const char *const[]){"'a'", "'b'"}, 2);
    raw_("{" ENT_("a", "F32", "[1]", 4, 8) "}", 8);
    bad_("gap", (const char *const[]){"'a'"}, 1);
}

static void test_overlap(void **state)
{
    (void)state;
    raw_("{" ENT_("b", "F32", "[2]", 4, 12) "," ENT_("a", "F32", "[2]", 0, 8) "}", 12);
    bad_("overlaps", (const char *const[]){"'a'", "'b'"}, 2);
}

static void test_data_longer(void **state)
{
    (void)state;
    /* a header length 3 too large (the first data bytes read as header): said as such, not "not valid JSON" */
    raw_("{" ENT_("a", "F32", "[1]", 0, 4) "}   \x01\x02\x03", 1);
    bad_("runs 3 bytes past the end of the JSON header", NULL, 0);
    raw_("{" ENT_("a", "F32", "[1]", 0, 4) "}", 8);
    bad_("4 bytes longer", (const char *const[]){"'a'"}, 1);
    raw_("{}", 8);
    bad_("no tensor", NULL, 0);
    raw_("{" ENT_("a", "F32", "[2]", 0, 8) "}", 5); /* and shorter: truncated data */
    bad_("past the 5-byte data section", (const char *const[]){"'a'"}, 1);
}

/* A tensor claiming a terabyte of a 4-byte data section is refused as
 * corrupt before anything is allocated for it; 100000 nested arrays are a
 * parse error (jansson's depth limit), not a stack overflow (issue 16). */
static void test_huge_claims(void **state)
{
    (void)state;
    raw_("{" ENT_("a", "U8", "[1000000000000]", 0, 1000000000000) "}", 4);
    bad_("past the 4-byte data section", (const char *const[]){"'a'"}, 1);
    enum { D = 100000 };
    char *h = malloc(8 + 2 * D + 8);
    assert_non_null(h);
    strcpy(h, "{\"a\":");
    memset(h + 5, '[', D);
    memset(h + 5 + D, ']', D);
    strcpy(h + 5 + 2 * D, "}");
    raw_(h, 0);
    free(h);
    bad_("not valid JSON", NULL, 0);
}

static void test_duplicate_name(void **state)
{
    (void)state;
    raw_("{" ENT_("a", "F32", "[1]", 0, 4) "," ENT_("encoder.blocks.11.attn.qkv.weight", "F32", "[1]", 4, 8) "," ENT_(
             "encoder.blocks.11.attn.qkv.weight", "F32", "[1]", 8, 12) "}",
         12);
    bad_("duplicate name", (const char *const[]){"'encoder.blocks.11.attn.qkv.weight'"}, 1);
}

static void test_metadata_not_string(void **state)
{
    (void)state;
    raw_("{\"__metadata__\":{\"format\":\"pt\",\"step\":3}," ENT_("a", "F32", "[1]", 0, 4) "}", 4);
    bad_("is not a string", (const char *const[]){"'step'"}, 1);
    raw_("{\"__metadata__\":[]," ENT_("a", "F32", "[1]", 0, 4) "}", 4);
    bad_("__metadata__ is not an object", NULL, 0);
}

/* A file laid out by Python the way huggingface/safetensors does (json
 * with its default ", " / ": " separators, space padding, tensors in
 * another order than their bytes) reads back in C with numpy's values. */
static void test_python_interop(void **state)
{
    (void)state;
    if (access("/usr/bin/python3", X_OK) != 0) skip();
    static const char *const py =
        "import json, struct, sys\n"
        "import numpy as np\n"
        "ts = {'w': (np.arange(6, dtype='<f4').reshape(2, 3) * 0.5 - 1), 'idx': np.array([-1, 2**40], '<i8'),\n"
        "      'm': np.array([1, 0, 1], 'u1')}\n"
        "names = {'float32': 'F32', 'int64': 'I64', 'uint8': 'U8'}\n"
        "hdr, off, blobs = {'__metadata__': {'format': 'np'}}, 0, []\n"
        "for k in ('idx', 'w', 'm'):\n"
        "    v = ts[k]\n"
        "    blobs.append(v.tobytes())\n"
        "    hdr[k] = {'dtype': names[v.dtype.name], 'shape': list(v.shape), 'data_offsets': [off, off + v.nbytes]}\n"
        "    off += v.nbytes\n"
        "h = json.dumps(dict(sorted(hdr.items()))).encode()\n"
        "h += b' ' * (-len(h) % 8)\n"
        "open(sys.argv[1], 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))\n";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 - '%s'", path_);
    FILE *p = popen(cmd, "w");
    assert_non_null(p);
    fputs(py, p);
    assert_int_equal(pclose(p), 0);
    sk_safetensors *st = NULL;
    assert_int_equal(sk_safetensors_open(&st, path_), 0);
    assert_int_equal(sk_safetensors_count(st), 3);
    assert_string_equal(sk_safetensors_meta(st, "format"), "np");
    const sk_safetensors_entry *w = sk_safetensors_find(st, "w"), *idx = sk_safetensors_find(st, "idx");
    assert_non_null(w);
    assert_non_null(idx);
    assert_int_equal(w->ndim, 2);
    assert_int_equal(w->shape[0] * 10 + w->shape[1], 23);
    float wv[6];
    int64_t iv[2];
    assert_int_equal(sk_safetensors_read(st, w, wv, sizeof wv), 0);
    assert_int_equal(sk_safetensors_read(st, idx, iv, sizeof iv), 0);
    for (int i = 0; i < 6; i++) assert_true(wv[i] == (float)i * 0.5f - 1.0f);
    assert_true(iv[0] == -1 && iv[1] == (int64_t)1 << 40);
    assert_string_equal(sk_safetensors_find(st, "m")->dtype, "U8");
    sk_safetensors_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup_, teardown_),
        cmocka_unit_test_setup_teardown(test_missing_file, setup_, teardown_),
        cmocka_unit_test_setup_teardown(test_truncated_header, setup_, teardown_),
        cmocka_unit_test_setup_teardown(test_header_past_eof, setup_, teardown_),
        cmocka_unit_test_setup_teardown(test_huge_claims, setup_, teardown_),
        cmocka_unit_test_setup_teardown(test_malformed_json, setup_, teardown_),
        cmocka_unit_test_setup_teardown(test_unknown_dtype, setup_, teardown_),
        cmocka_unit_test_setup_teardown(test_shape_mismatch, setup_, teardown_),
        cmocka_unit_test_setup_teardown(test_gap, setup_, teardown_),
        cmocka_unit_test_setup_teardown(test_overlap, setup_, teardown_),
        cmocka_unit_test_setup_teardown(test_data_longer, setup_, teardown_),
        cmocka_unit_test_setup_teardown(test_duplicate_name, setup_, teardown_),
        cmocka_unit_test_setup_teardown(test_metadata_not_string, setup_, teardown_),
        cmocka_unit_test_setup_teardown(test_python_interop, setup_, teardown_),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
