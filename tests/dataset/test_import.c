/* test_import.c - importers and exporters against real data (Fashion-MNIST,
 * fortunes) and hand-made bad inputs; every registered importer runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <jansson.h>

#include "sk_data_config.h"
#include "sk_prepare.h"

#define TMP SK_TEST_TMP "/import_"
#define FMNIST "/usr/share/datasets/fashion-mnist/"
#define FORTUNE "/usr/share/games/fortunes/computers"

/* The section's defaults (its key table), then format/input/output. */
static sk_prepare_config cfg_(const char *format, const char *input, const char *output)
{
    sk_prepare_config c;
    const sk_cfg_section *const secs[1] = {&sk_prepare_section};
    void *const bases[1] = {&c};
    assert_int_equal(sk_cfg_defaults(secs, 1, bases), SK_OK);
    c.format = sk_cfg_choice_index(sk_importer_name_at, format);
    snprintf(c.input, sizeof c.input, "%s", input);
    snprintf(c.output, sizeof c.output, "%s", output);
    c.command = "test_import";
    c.overwrite = 1; /* reruns write the same names (refusal: tests/dataset/test_badinput.sh) */
    return c;
}

static unsigned char *gunzip_(const char *path, size_t *len)
{
    gzFile f = gzopen(path, "rb");
    assert_non_null(f);
    size_t cap = 1 << 24, n = 0;
    unsigned char *b = malloc(cap);
    int got;
    while ((got = gzread(f, b + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)got;
        if (n == cap) b = realloc(b, cap *= 2);
    }
    gzclose(f);
    *len = n;
    return b;
}

static void write_file_(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void test_registry(void **st)
{
    (void)st;
    const char *names[] = {"idx", "text", "jsonl", "megatron", "llmc"};
    for (int i = 0; i < 5; i++) {
        const sk_importer *im = sk_importer_find(names[i]);
        assert_non_null(im);
        assert_int_equal(im->version, SK_IMPORTER_VERSION);
        assert_non_null(im->import);
    }
    assert_null(sk_importer_find("csv"));
    assert_non_null(sk_exporter_find("megatron"));
    assert_non_null(sk_exporter_find("llmc"));
    assert_null(sk_exporter_find("none"));
    /* the tables are indexed by the config enums */
    for (int i = 0; i < SK_FORMAT_COUNT; i++) assert_ptr_equal(sk_importer_find(names[i]), sk_importer_at(i));
    assert_null(sk_importer_name_at(SK_FORMAT_COUNT));
    assert_ptr_equal(sk_exporter_find("megatron"), sk_exporter_at(SK_EXPORT_MEGATRON));
    assert_ptr_equal(sk_exporter_find("llmc"), sk_exporter_at(SK_EXPORT_LLMC));
    assert_null(sk_exporter_at(SK_EXPORT_NONE));
    /* an unknown name stops at the config; a bad enum in a hand-filled struct at the run */
    sk_prepare_config c = cfg_("idx", "x", TMP "x.h5");
    const sk_cfg_section *const secs[1] = {&sk_prepare_section};
    void *const bases[1] = {&c};
    assert_int_equal(sk_cfg_apply_set("prepare.format=csv", secs, 1, bases), SK_EINVAL);
    assert_string_equal(sk_error_last(),
                        "--set prepare.format=csv: prepare.format: 'csv' is not one of idx|text|jsonl|megatron|llmc");
    c.format = SK_FORMAT_COUNT;
    assert_int_equal(sk_prepare_run(&c), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "prepare.format = 5"));
}

static void test_fashion_mnist(void **st)
{
    (void)st;
    if (access(FMNIST "t10k-images-idx3-ubyte.gz", R_OK) != 0) skip();
    sk_prepare_config c = cfg_("idx", FMNIST "t10k-images-idx3-ubyte.gz", TMP "fm.h5");
    snprintf(c.labels, sizeof c.labels, FMNIST "t10k-labels-idx1-ubyte.gz");
    assert_int_equal(sk_prepare_run(&c), 0);
    sk_corpus *k = NULL;
    assert_int_equal(sk_corpus_open(&k, TMP "fm.h5"), 0);
    const sk_corpus_info *in = sk_corpus_info_get(k);
    assert_int_equal(in->kind, SK_CORPUS_SAMPLES);
    assert_int_equal(in->num_samples, 10000);
    assert_int_equal(in->ndim, 2);
    assert_int_equal(in->shape[0], 28);
    assert_int_equal(in->num_classes, 10);
    assert_non_null(strstr(in->source, "t10k-images"));
    size_t il, ll;
    unsigned char *img = gunzip_(FMNIST "t10k-images-idx3-ubyte.gz", &il),
                  *lab = gunzip_(FMNIST "t10k-labels-idx1-ubyte.gz", &ll);
    assert_int_equal(il, 16 + 10000 * 784);
    unsigned char *back = malloc(10000 * 784);
    int64_t *lb = malloc(10000 * 8);
    assert_int_equal(sk_corpus_read_samples(k, 0, 10000, back), 0);
    assert_memory_equal(back, img + 16, 10000 * 784);
    assert_int_equal(sk_corpus_read_labels(k, 0, 10000, lb), 0);
    for (int i = 0; i < 10000; i++) assert_int_equal(lb[i], lab[8 + i]);
    assert_int_equal(sk_corpus_verify(k), 0);
    sk_corpus_free(k);
    /* inspect prints the facts */
    FILE *o = tmpfile();
    assert_int_equal(sk_inspect_print(o, TMP "fm.h5", 1), 0);
    rewind(o);
    char buf[8192] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, o);
    buf[n] = 0;
    fclose(o);
    assert_non_null(strstr(buf, "samples     10000"));
    assert_non_null(strstr(buf, "shape [28, 28]"));
    assert_non_null(strstr(buf, "verify      OK"));

    /* bad: labels for another image file, truncated IDX, wrong IDX dtype */
    snprintf(c.labels, sizeof c.labels, FMNIST "train-labels-idx1-ubyte.gz");
    snprintf(c.output, sizeof c.output, TMP "fm_bad.h5");
    assert_int_equal(sk_prepare_run(&c), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "60000 labels for 10000 images"));
    assert_int_equal(access(TMP "fm_bad.h5", F_OK), -1);
    write_file_(TMP "trunc.idx3", img, 16 + 5000);
    c = cfg_("idx", TMP "trunc.idx3", TMP "fm_bad.h5");
    assert_int_equal(sk_prepare_run(&c), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "truncated"));
    assert_non_null(strstr(sk_error_last(), TMP "trunc.idx3"));
    img[2] = 0x0D; /* float IDX */
    write_file_(TMP "float.idx3", img, 16 + 784);
    c = cfg_("idx", TMP "float.idx3", TMP "fm_bad.h5");
    assert_int_equal(sk_prepare_run(&c), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "wrong dtype"));
    free(img);
    free(lab);
    free(back);
    free(lb);
}

/* decode a token corpus into bytes: documents joined by "\n%\n" */
static void test_fortunes_text(void **st)
{
    (void)st;
    if (access(FORTUNE, R_OK) != 0) skip();
    sk_prepare_config c = cfg_("text", FORTUNE, TMP "fort.h5");
    assert_int_equal(sk_prepare_run(&c), 0);
    sk_corpus *k = NULL;
    assert_int_equal(sk_corpus_open(&k, TMP "fort.h5"), 0);
    const sk_corpus_info *in = sk_corpus_info_get(k);
    assert_int_equal(in->vocab_size, 257);
    assert_int_equal(in->type, SK_ELEM_U16);
    int64_t nd = in->num_docs, nt = in->num_tokens;
    uint16_t *t = malloc((size_t)nt * 2);
    int64_t *off = malloc((size_t)(nd + 1) * 8);
    assert_int_equal(sk_corpus_read_tokens(k, 0, nt, t), 0);
    assert_int_equal(sk_corpus_read_offsets(k, 0, nd + 1, off), 0);
    /* rebuild the fortune file: each document, its EOD replaced by "\n%\n" */
    FILE *f = fopen(FORTUNE, "rb");
    fseek(f, 0, SEEK_END);
    long fl = ftell(f);
    rewind(f);
    char *orig = malloc((size_t)fl + 1);
    assert_int_equal(fread(orig, 1, (size_t)fl, f), (size_t)fl);
    fclose(f);
    char *re = malloc((size_t)nt + 3 * (size_t)nd + 8);
    size_t p = 0;
    int64_t npct = 0;
    for (long i = 0; i + 1 < fl; i++)
        npct += orig[i] == '\n' && orig[i + 1] == '%' && (i + 2 >= fl || orig[i + 2] == '\n');
    for (int64_t d = 0; d < nd; d++) {
        assert_int_equal(t[off[d + 1] - 1], 256); /* EOD ends every document */
        for (int64_t i = off[d]; i < off[d + 1] - 1; i++) {
            assert_true(t[i] < 256);
            re[p++] = (char)t[i];
        }
        int last_open = d == nd - 1 && !(fl >= 3 && !memcmp(orig + fl - 3, "\n%\n", 3));
        memcpy(re + p, last_open ? "\n" : "\n%\n", last_open ? 1 : 3);
        p += last_open ? 1 : 3;
    }
    /* one document per '%' line, plus a last one not closed by '%' */
    assert_int_equal(nd, npct + (fl >= 3 && memcmp(orig + fl - 3, "\n%\n", 3) ? 1 : 0));
    assert_int_equal(p, (size_t)fl);
    assert_memory_equal(re, orig, (size_t)fl);
    sk_corpus_free(k);

    /* export to Megatron and llm.c, import back, same tokens */
    sk_prepare_config e = cfg_("idx", TMP "fort.h5", TMP "fort_mg");
    e.export_ = SK_EXPORT_MEGATRON;
    assert_int_equal(sk_prepare_run(&e), 0);
    unsigned char hdr[34];
    f = fopen(TMP "fort_mg.idx", "rb");
    assert_int_equal(fread(hdr, 1, 34, f), 34);
    fclose(f);
    assert_memory_equal(hdr, "MMIDIDX\0\0", 9);
    assert_int_equal(hdr[17], 8); /* uint16 */
    uint64_t S;
    memcpy(&S, hdr + 18, 8);
    assert_int_equal(S, (uint64_t)nd);
    sk_prepare_config m = cfg_("megatron", TMP "fort_mg.bin", TMP "fort_mg.h5");
    m.vocab = 257;
    assert_int_equal(sk_prepare_run(&m), 0);
    assert_int_equal(sk_corpus_open(&k, TMP "fort_mg.h5"), 0);
    assert_int_equal(sk_corpus_info_get(k)->num_docs, nd);
    assert_int_equal(sk_corpus_info_get(k)->vocab_size, 257);
    uint16_t *t2 = malloc((size_t)nt * 2);
    int64_t *off2 = malloc((size_t)(nd + 1) * 8);
    assert_int_equal(sk_corpus_read_tokens(k, 0, nt, t2), 0);
    assert_int_equal(sk_corpus_read_offsets(k, 0, nd + 1, off2), 0);
    assert_memory_equal(t, t2, (size_t)nt * 2);
    assert_memory_equal(off, off2, (size_t)(nd + 1) * 8);
    sk_corpus_free(k);
    e = cfg_("idx", TMP "fort.h5", TMP "fort.llmc.bin");
    e.export_ = SK_EXPORT_LLMC;
    assert_int_equal(sk_prepare_run(&e), 0);
    m = cfg_("llmc", TMP "fort.llmc.bin", TMP "fort_llmc.h5");
    assert_int_equal(sk_prepare_run(&m), 0);
    assert_int_equal(sk_corpus_open(&k, TMP "fort_llmc.h5"), 0);
    assert_int_equal(sk_corpus_info_get(k)->num_docs, 1);
    assert_int_equal(sk_corpus_info_get(k)->num_tokens, nt);
    assert_int_equal(sk_corpus_read_tokens(k, 0, nt, t2), 0);
    assert_memory_equal(t, t2, (size_t)nt * 2);
    sk_corpus_free(k);

    /* bad Megatron inputs: pointer mismatch, float dtype, vocab too small */
    unsigned char *idx = NULL;
    size_t il = 0;
    assert_int_equal(sk_prepare_slurp_(TMP "fort_mg.idx", &idx, &il, 0), 0);
    int64_t bogus = 12345;
    memcpy(idx + 34 + 4 * S + 8, &bogus, 8); /* pointer of sequence 1 */
    write_file_(TMP "bad_mg.idx", idx, il);
    unsigned char *bin = NULL;
    size_t bl = 0;
    assert_int_equal(sk_prepare_slurp_(TMP "fort_mg.bin", &bin, &bl, 0), 0);
    write_file_(TMP "bad_mg.bin", bin, bl);
    m = cfg_("megatron", TMP "bad_mg", TMP "bad.h5");
    assert_int_equal(sk_prepare_run(&m), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "offsets do not add up"));
    assert_non_null(strstr(sk_error_last(), "bad_mg.idx"));
    free(idx);
    assert_int_equal(sk_prepare_slurp_(TMP "fort_mg.idx", &idx, &il, 0), 0);
    idx[17] = 7;
    write_file_(TMP "bad_mg.idx", idx, il);
    assert_int_equal(sk_prepare_run(&m), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "wrong dtype"));
    m = cfg_("megatron", TMP "fort_mg", TMP "bad.h5");
    m.vocab = 200;
    assert_int_equal(sk_prepare_run(&m), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "outside the vocabulary [0, 200)"));
    /* bad llm.c: truncated */
    write_file_(TMP "trunc.llmc.bin", bin, 1024 + 10);
    unsigned char *lb = NULL;
    size_t lbl = 0;
    assert_int_equal(sk_prepare_slurp_(TMP "fort.llmc.bin", &lb, &lbl, 0), 0);
    write_file_(TMP "trunc.llmc.bin", lb, lbl - 100);
    m = cfg_("llmc", TMP "trunc.llmc.bin", TMP "bad.h5");
    assert_int_equal(sk_prepare_run(&m), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "truncated"));
    assert_int_equal(access(TMP "bad.h5", F_OK), -1);
    free(idx);
    free(bin);
    free(lb);
    free(t);
    free(t2);
    free(off);
    free(off2);
    free(orig);
    free(re);
}

static void test_jsonl_and_empty(void **st)
{
    (void)st;
    const char *js = "{\"id\": 1, \"meta\": {\"text\": \"nested, not this\"}, \"text\": \"h\\u00e9llo\\n\\\"w\\\"\"}\n"
                     "\n"
                     "{\"text\": \"second\", \"x\": [1, {\"text\": 2}]}\n";
    write_file_(TMP "a.jsonl", js, strlen(js));
    sk_prepare_config c = cfg_("jsonl", TMP "a.jsonl", TMP "js.h5");
    assert_int_equal(sk_prepare_run(&c), 0);
    sk_corpus *k = NULL;
    assert_int_equal(sk_corpus_open(&k, TMP "js.h5"), 0);
    const sk_corpus_info *in = sk_corpus_info_get(k);
    assert_int_equal(in->num_docs, 2);
    const char *want = "h\xc3\xa9llo\n\"w\"";
    size_t wl = strlen(want);
    assert_int_equal(in->num_tokens, (int64_t)(wl + 1 + 6 + 1));
    uint16_t t[64];
    assert_int_equal(sk_corpus_read_tokens(k, 0, in->num_tokens, t), 0);
    for (size_t i = 0; i < wl; i++) assert_int_equal(t[i], (unsigned char)want[i]);
    assert_int_equal(t[wl], 256);
    sk_corpus_free(k);
    /* missing key, malformed line, empty file */
    const char *bad = "{\"body\": \"x\"}\n";
    write_file_(TMP "b.jsonl", bad, strlen(bad));
    c = cfg_("jsonl", TMP "b.jsonl", TMP "bad.h5");
    assert_int_equal(sk_prepare_run(&c), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "b.jsonl:1: no string field \"text\""));
    write_file_(TMP "c.jsonl", "{\"text\": \"unterminated}\n", 24);
    c = cfg_("jsonl", TMP "c.jsonl", TMP "bad.h5");
    assert_int_equal(sk_prepare_run(&c), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "c.jsonl:1: malformed JSON"));
    /* an unclosed object, trailing garbage and a bare word, each on line 3 */
    static const char *const broken[3][2] = {
        {"unclosed", "{\"text\": \"x\""}, {"trailing", "{\"text\": \"x\"} {\"text\": \"y\"}"}, {"bare", "hello"}};
    for (int i = 0; i < 3; i++) {
        char path[256], text[256], want[300];
        snprintf(path, sizeof path, TMP "%s.jsonl", broken[i][0]);
        snprintf(text, sizeof text, "{\"text\": \"a\"}\n\n%s\n{\"text\": \"b\"}\n", broken[i][1]);
        write_file_(path, text, strlen(text));
        c = cfg_("jsonl", path, TMP "bad.h5");
        assert_int_equal(sk_prepare_run(&c), SK_EINVAL);
        snprintf(want, sizeof want, "%s:3: malformed JSON", path);
        if (!strstr(sk_error_last(), want)) fail_msg("'%s' lacks '%s'", sk_error_last(), want);
    }
    write_file_(TMP "empty.txt", "", 0);
    c = cfg_("text", TMP "empty.txt", TMP "bad.h5");
    assert_int_equal(sk_prepare_run(&c), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "empty input"));
    /* a configurable boundary: blank lines */
    write_file_(TMP "p.txt", "one\ntwo\n\nthree\n", 15);
    c = cfg_("text", TMP "p.txt", TMP "p.h5");
    c.boundary[0] = '\0';
    c.eod = 0;
    assert_int_equal(sk_prepare_run(&c), 0);
    assert_int_equal(sk_corpus_open(&k, TMP "p.h5"), 0);
    assert_int_equal(sk_corpus_info_get(k)->num_docs, 2);
    assert_int_equal(sk_corpus_info_get(k)->num_tokens, 7 + 5);
    assert_int_equal(sk_corpus_info_get(k)->vocab_size, 256);
    sk_corpus_free(k);
    /* unwritable output and a missing input */
    c = cfg_("text", TMP "p.txt", SK_TEST_TMP "/nope/p.h5");
    assert_int_equal(sk_prepare_run(&c), SK_EIO);
    assert_non_null(strstr(sk_error_last(), "/nope/p.h5"));
    c = cfg_("text", TMP "missing.txt", TMP "m.h5");
    assert_int_equal(sk_prepare_run(&c), SK_ENOTFOUND);
    assert_non_null(strstr(sk_error_last(), "missing.txt"));
    c = cfg_("text", TMP "p.txt", TMP "m.h5");
    c.level = 30;
    assert_int_equal(sk_prepare_run(&c), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "prepare.level"));
}

/* Every key of both sections lies inside its struct; format and export
 * offer exactly the registered importers / exporters (plus "none"). */
static void test_config_tables(void **st)
{
    (void)st;
    const sk_cfg_section *secs[] = {&sk_prepare_section, &sk_data_section};
    for (int i = 0; i < 2; i++) {
        assert_true(secs[i]->nkeys > 0);
        for (int k = 0; k < secs[i]->nkeys; k++) assert_true(secs[i]->keys[k].offset < secs[i]->size);
    }
    const sk_cfg_key *fmt = sk_cfg_find_key(&sk_prepare_section, "format");
    const sk_cfg_key *exp = sk_cfg_find_key(&sk_prepare_section, "export");
    assert_true(fmt && fmt->type == SK_CFG_ENUM && fmt->choice_at == sk_importer_name_at);
    assert_true(exp && exp->type == SK_CFG_ENUM && exp->choice_at == sk_prepare_export_name);
    sk_prepare_config c;
    void *const bases[1] = {&c};
    for (int i = 0; i < SK_FORMAT_COUNT; i++) {
        char set[64];
        snprintf(set, sizeof set, "prepare.format=%s", sk_importer_at(i)->name);
        assert_int_equal(sk_cfg_apply_set(set, (const sk_cfg_section *const *)secs, 1, bases), SK_OK);
        assert_int_equal(c.format, i);
    }
    for (int i = SK_EXPORT_NONE; i < SK_EXPORT_COUNT; i++) {
        char set[64];
        snprintf(set, sizeof set, "prepare.export=%s", i == SK_EXPORT_NONE ? "none" : sk_exporter_at(i)->name);
        assert_int_equal(sk_cfg_apply_set(set, (const sk_cfg_section *const *)secs, 1, bases), SK_OK);
        assert_int_equal(c.export_, i);
    }
    /* data -> loader options */
    sk_data_config d = {0};
    strcpy(d.train, "t.h5");
    d.batch_size = 8;
    d.seq_len = 32;
    d.shuffle = 1;
    d.eval_fraction = 0.1;
    sk_loader_opts o;
    sk_data_loader_opts(&d, SK_SPLIT_EVAL, 1, 2, 7, &o);
    assert_string_equal(o.path, "t.h5");
    assert_int_equal(o.split, SK_SPLIT_EVAL);
    assert_int_equal(o.shuffle, 0);
    assert_int_equal(o.rank, 1);
    strcpy(d.eval, "e.h5");
    sk_data_loader_opts(&d, SK_SPLIT_EVAL, 0, 1, 7, &o);
    assert_string_equal(o.path, "e.h5");
    assert_int_equal(o.split, SK_SPLIT_ALL);
    sk_data_loader_opts(&d, SK_SPLIT_TRAIN, 0, 1, 7, &o);
    assert_string_equal(o.path, "t.h5");
    assert_int_equal(o.split, SK_SPLIT_ALL);
    assert_int_equal(o.shuffle, 1);
}

/* The JSON Lines scanner accepts exactly what jansson accepts (an object
 * whose "text" is a string) and yields the same bytes: a differential test
 * over valid lines and single-byte mutations of them. */
static int jansson_text_(const char *line, char *out, size_t cap, size_t *n)
{
    json_t *o = json_loads(line, JSON_ALLOW_NUL, NULL);
    const json_t *v = json_object_get(o, "text");
    int ok = json_is_string(v) && json_string_length(v) < cap;
    if (ok) memcpy(out, json_string_value(v), *n = json_string_length(v));
    json_decref(o);
    return ok;
}

static void test_jsonl_matches_jansson(void **st)
{
    (void)st;
    static const char *const seeds[] = {
        "{\"text\": \"a\\u00e9\\ud83d\\ude00\\/\\\\\\\"\\b\\f\\n\\r\\t\\u0000z\"}",
        "{\"id\": -12.5e+3, \"ok\": [true, false, null, {}, [], {\"text\": 1}], \"text\": \"x y\"}",
        " {\"a\": {\"b\": [1, 2, {\"c\": \"\\\"}\"}]}, \"text\" : \"\"}\t\r",
        "{\"text\": \"t\", \"n\": 0, \"m\": 1E5, \"k\": -0.0}",
    };
    static const char alphabet[] = "{}[]\",:\\ 0123456789.-+eEtrufalsnx/ubfn";
    uint64_t x = 0x9E3779B97F4A7C15ull;
    const char *path = TMP "diff.jsonl";
    int accepted = 0, rejected = 0;
    for (int t = 0; t < 3000; t++) {
        char line[256];
        snprintf(line, sizeof line, "%s", seeds[t % 4]);
        size_t n = strlen(line);
        for (int m = t < 4 ? 0 : 1 + t % 2; m > 0; m--) { /* 1 or 2 edits: replace, delete or insert */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t at = (size_t)(x % n);
            char c = alphabet[(x >> 20) % (sizeof alphabet - 1)];
            int op = (int)((x >> 40) % 3);
            if (op == 0)
                line[at] = c;
            else if (op == 1)
                memmove(line + at, line + at + 1, n-- - at);
            else if (n + 1 < sizeof line)
                memmove(line + at + 1, line + at, ++n - at), line[at] = c;
        }
        char want[256];
        size_t wn = 0;
        int ok = jansson_text_(line, want, sizeof want, &wn);
        char text[300];
        snprintf(text, sizeof text, "%s\n", line);
        write_file_(path, text, strlen(text));
        sk_prepare_config c = cfg_("jsonl", path, TMP "unused.h5");
        c.eod = 0;
        sk_corpus_data d;
        int rc = sk_importer_find("jsonl")->import(&c, &(sk_import_share){0, 1}, &d);
        if ((rc == 0) != ok)
            fail_msg("line <%s>: jansson %s, the scanner %s (%s)", line, ok ? "accepts" : "rejects",
                     rc == 0 ? "accepts" : "rejects", rc == 0 ? "" : sk_error_last());
        if (ok) {
            assert_int_equal(d.num_tokens, (int64_t)wn);
            const uint16_t *tok = d.tokens;
            for (size_t i = 0; i < wn; i++) assert_int_equal(tok[i], (unsigned char)want[i]);
            sk_import_release(&d);
            accepted++;
        } else {
            assert_non_null(strstr(sk_error_last(), "diff.jsonl:1: "));
            rejected++;
        }
    }
    assert_true(accepted > 200 && rejected > 200); /* both sides exercised */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),        cmocka_unit_test(test_config_tables),
        cmocka_unit_test(test_fashion_mnist),   cmocka_unit_test(test_fortunes_text),
        cmocka_unit_test(test_jsonl_and_empty), cmocka_unit_test(test_jsonl_matches_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
