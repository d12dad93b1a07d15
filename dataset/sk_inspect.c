/* sk_inspect.c - `shrink inspect FILE [--verify]` (sk_prepare.h). */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sk_prepare.h"

static herr_t attr_cb_(hid_t loc, const char *name, const H5A_info_t *ai, void *data) {
    (void)ai;
    FILE *out = data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    fprintf(out, "    %-16s ", name);
    if (H5Tget_class(t) == H5T_STRING && n == 1 && (H5Tis_variable_str(t) > 0 || H5Tget_size(t) <= ((size_t)1 << 20))) {
        /* one string only: H5Aread writes every element of the attribute */
        char *v = NULL;
        if (H5Tis_variable_str(t) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t));
            if (H5Aread(a, mt, &v) >= 0) fprintf(out, "\"%s\"", v ? v : "");
            H5free_memory(v);
            H5Tclose(mt);
        } else {
            size_t sz = H5Tget_size(t);
            char *b = calloc(1, sz + 1);
            if (b && H5Aread(a, t, b) >= 0) fprintf(out, "\"%s\"", b);
            free(b);
        }
    } else if (H5Tget_class(t) == H5T_INTEGER && n > 0 && n <= 16) {
        int64_t v[16];
        if (H5Aread(a, H5T_NATIVE_INT64, v) >= 0)
            for (hssize_t i = 0; i < n; i++) fprintf(out, "%s%lld", i ? ", " : "", (long long)v[i]);
    } else if (H5Tget_class(t) == H5T_FLOAT && n > 0 && n <= 16) {
        double v[16];
        if (H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0)
            for (hssize_t i = 0; i < n; i++) fprintf(out, "%s%g", i ? ", " : "", v[i]);
    } else {
        fprintf(out, "(%lld values)", (long long)n);
    }
    fputc('\n', out);
    H5Sclose(s);
    H5Tclose(t);
    H5Aclose(a);
    return 0;
}

static void storage_line_(FILE *out, sk_corpus *c, const char *name, int64_t *tot_stored, int64_t *tot_raw) {
    int64_t st = 0, raw = 0;
    char desc[160];
    if (sk_corpus_storage(c, name, &st, &raw, desc, sizeof desc) < 0) return;
    *tot_stored += st;
    *tot_raw += raw;
    fprintf(out, "  /%-22s %12lld B raw -> %12lld B stored (%.2fx)  %s\n", name, (long long)raw, (long long)st,
            st > 0 ? (double)raw / (double)st : 0.0, desc);
}

int sk_inspect_print(FILE *out, const char *path, int verify) {
    int rc = SK_OK;
    sk_corpus *c = NULL;
    SK_TRY(sk_corpus_open(&c, path));
    const sk_corpus_info *in = sk_corpus_info_get(c);
    struct stat st;
    long long fsize = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    fprintf(out, "%s: shrink corpus, format version %d, %lld bytes on disk\n", path, in->format_version, fsize);
    if (in->kind == SK_CORPUS_TOKENS) {
        fprintf(out, "  kind        tokens (%s), vocab_size %lld\n", sk_elem_name(in->type), (long long)in->vocab_size);
        fprintf(out, "  documents   %lld\n  tokens      %lld (mean %.1f per document)\n", (long long)in->num_docs,
                (long long)in->num_tokens, in->num_docs ? (double)in->num_tokens / (double)in->num_docs : 0.0);
    } else {
        fprintf(out, "  kind        samples (%s), shape [", sk_elem_name(in->type));
        for (int i = 0; i < in->ndim; i++) fprintf(out, "%s%lld", i ? ", " : "", (long long)in->shape[i]);
        fprintf(out, "]\n  samples     %lld\n", (long long)in->num_samples);
    }
    if (in->has_labels) fprintf(out, "  labels      %lld classes\n", (long long)in->num_classes);
    fprintf(out, "  storage\n");
    int64_t ts = 0, tr = 0;
    const char *names[] = {"tokens", "offsets", "samples", "labels", "provenance/kept_indices"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) storage_line_(out, c, names[i], &ts, &tr);
    fprintf(out, "  total       %lld B raw -> %lld B stored, ratio %.2fx\n", (long long)tr, (long long)ts,
            ts > 0 ? (double)tr / (double)ts : 0.0);
    fprintf(out, "  attributes\n");
    sk_corpus_h5_lock();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f >= 0) {
        H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, NULL, attr_cb_, out);
        if (H5Lexists(f, "scores", H5P_DEFAULT) > 0) {
            hid_t g = H5Gopen2(f, "scores", H5P_DEFAULT);
            H5G_info_t gi;
            if (g >= 0 && H5Gget_info(g, &gi) >= 0) {
                fprintf(out, "  scores     ");
                for (hsize_t i = 0; i < gi.nlinks; i++) {
                    char nm[256];
                    H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nm, sizeof nm, H5P_DEFAULT);
                    fprintf(out, " %s", nm);
                }
                fputc('\n', out);
            }
            if (g >= 0) H5Gclose(g);
        }
        H5Fclose(f);
    }
    sk_corpus_h5_unlock();
    if (in->has_provenance)
        fprintf(out, "  provenance  derived from %s by %s, %lld kept indices\n", in->prov_source[0] ? in->prov_source : "?",
                in->prov_method[0] ? in->prov_method : "?", (long long)in->num_kept);
    else
        fprintf(out, "  provenance  none (not derived)\n");
    if (verify) {
        SK_TRY(sk_corpus_verify(c));
        fprintf(out, "  verify      OK: every chunk decoded, checksums and offsets consistent\n");
    }
done:
    sk_corpus_free(c);
    return rc;
}
