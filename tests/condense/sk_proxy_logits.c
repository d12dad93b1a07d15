/* sk_proxy_logits.c - the raw logits of a proxy model on a corpus, for
 * tests/condense/test_scores.py and test_perplexity.py to compute
 * reference scores with numpy.
 *
 *   sk_proxy_logits MODEL.safetensors CORPUS.h5 OUT.f32
 *
 * Image corpora: every row's logits as float32, row-major [rows, classes],
 * in batches of 100 (eval mode, no autograd): the scores of condense/
 * must be these logits' functions. Token corpora (a GPT proxy of context
 * C): each document's windows one at a time, as the tests' reference
 * cuts them (starts 0, C, 2C, ... below L - 1, each of min(C, L - 1 - s)
 * + 1 tokens, padded with token 0 to C + 1), every window's [C, vocab]
 * logits in order. Exit 0 on success. */
#include <stdio.h>
#include <stdlib.h>

#include "sk_corpus.h"
#include "sk_model.h"

/* A token corpus's windows one at a time (see above). */
static int lm_windows_(sk_model *m, sk_corpus *c, const char *out)
{
    int rc = SK_OK;
    const sk_corpus_info *in = sk_corpus_info_get(c);
    int64_t C = sk_model_sample(m)->shape[0] - 1, n = in->num_docs, *off = malloc((size_t)(n + 1) * sizeof *off);
    int64_t *win = malloc((size_t)(C + 1) * sizeof *win), *tok = NULL;
    FILE *f = fopen(out, "wb");
    SK_FAIL_IF(!off || !win || !f, SK_EIO, "cannot write %s", out);
    SK_FAIL_IF(in->type != SK_ELEM_U16 && in->type != SK_ELEM_I32, SK_EINVAL, "uint16 or int32 tokens only");
    SK_TRY(sk_corpus_read_offsets(c, 0, n + 1, off));
    sk_shim_set_grad_enabled(0);
    for (int64_t i = 0; i < n; i++) {
        int64_t L = off[i + 1] - off[i];
        free(tok);
        tok = malloc((size_t)(L > 0 ? L : 1) * 4);
        SK_FAIL_IF(!tok, SK_ENOMEM, "out of memory");
        if (L > 0) SK_TRY(sk_corpus_read_tokens(c, off[i], L, tok));
        for (int64_t s = 0; s < L - 1; s += C) {
            int64_t w = (L - 1 - s < C ? L - 1 - s : C) + 1, shape[2] = {1, C + 1};
            for (int64_t j = 0; j <= C; j++)
                win[j] = j >= w ? 0 : in->type == SK_ELEM_U16 ? ((uint16_t *)tok)[s + j] : ((int32_t *)tok)[s + j];
            sk_scope *sc = sk_shim_scope_begin();
            sk_model_out o;
            rc = sk_model_forward(m, sk_shim_from_host(win, shape, 2, SK_I64, SK_CPU), NULL, NULL, 0, 0, &o);
            int64_t k = rc == SK_OK ? sk_shim_numel(o.logits) : 0;
            float *host = malloc((size_t)(k > 0 ? k : 1) * sizeof *host);
            if (rc == SK_OK)
                rc = host ? sk_shim_to_host(sk_shim_contiguous(o.logits), host, (size_t)k * sizeof *host) : SK_ENOMEM;
            if (rc == SK_OK && fwrite(host, sizeof *host, (size_t)k, f) != (size_t)k)
                rc = sk_error_set(SK_EIO, "cannot write %s", out);
            free(host);
            sk_shim_scope_end(sc);
            if (rc < 0) goto done;
        }
    }
done:
    if (f && fclose(f) != 0 && rc == SK_OK) rc = SK_EIO;
    free(off);
    free(win);
    free(tok);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = SK_OK;
    sk_model *m = NULL;
    sk_corpus *c = NULL;
    FILE *f = NULL;
    uint8_t *buf = NULL;
    int64_t *lab = NULL;
    float *host = NULL;
    if (argc != 4) return 2;
    SK_TRY(sk_model_create_from_file(&m, argv[1]));
    SK_TRY(sk_corpus_open(&c, argv[2]));
    const sk_corpus_info *in = sk_corpus_info_get(c);
    if (in->kind == SK_CORPUS_TOKENS) {
        rc = lm_windows_(m, c, argv[3]);
        goto done;
    }
    SK_FAIL_IF(in->type != SK_ELEM_U8, SK_EINVAL, "%s: uint8 samples only", argv[2]);
    int64_t n = in->num_samples, B = 100, rowe = sk_corpus_sample_elems(in);
    buf = malloc((size_t)(B * rowe));
    lab = calloc((size_t)B, sizeof *lab);
    f = fopen(argv[3], "wb");
    SK_FAIL_IF(!buf || !lab || !f, SK_EIO, "cannot write %s", argv[3]);
    sk_shim_set_grad_enabled(0);
    for (int64_t b0 = 0; b0 < n; b0 += B) {
        int64_t b = n - b0 < B ? n - b0 : B, shape[5] = {b};
        for (int i = 0; i < in->ndim; i++) shape[i + 1] = in->shape[i];
        SK_TRY(sk_corpus_read_samples(c, b0, b, buf));
        if (in->has_labels) SK_TRY(sk_corpus_read_labels(c, b0, b, lab));
        sk_scope *sc = sk_shim_scope_begin();
        sk_model_out o;
        rc = sk_model_forward(m, sk_shim_from_host(buf, shape, in->ndim + 1, SK_U8, SK_CPU),
                              sk_shim_from_host(lab, shape, 1, SK_I64, SK_CPU), NULL, 0, 0, &o);
        int64_t k = rc == SK_OK ? sk_shim_numel(o.logits) : 0;
        free(host);
        host = malloc((size_t)(k > 0 ? k : 1) * sizeof *host);
        if (rc == SK_OK)
            rc = host ? sk_shim_to_host(sk_shim_contiguous(o.logits), host, (size_t)k * sizeof *host) : SK_ENOMEM;
        sk_shim_scope_end(sc);
        if (rc < 0) goto done;
        SK_FAIL_IF(fwrite(host, sizeof *host, (size_t)k, f) != (size_t)k, SK_EIO, "cannot write %s", argv[3]);
    }
done:
    if (rc < 0) fprintf(stderr, "sk_proxy_logits: %s\n", sk_error_last());
    if (f && fclose(f) != 0 && rc == SK_OK) rc = SK_EIO;
    free(buf);
    free(lab);
    free(host);
    sk_corpus_free(c);
    sk_model_free(m);
    return rc < 0 ? 1 : 0;
}
