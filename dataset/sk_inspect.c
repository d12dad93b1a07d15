/* sk_inspect.c - `shrink inspect FILE [--verify]` (sk_prepare.h). */
#include <fcntl.h>
#include <hdf5.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sk_prepare.h"

static herr_t attr_cb_(hid_t loc, const char *name, const H5A_info_t *ai, void *data)
{
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

static void storage_line_(FILE *out, sk_corpus *c, const char *name, int64_t *tot_stored, int64_t *tot_raw)
{
    int64_t st = 0, raw = 0;
    char desc[160];
    if (sk_corpus_storage(c, name, &st, &raw, desc, sizeof desc) < 0) return;
    *tot_stored += st;
    *tot_raw += raw;
    fprintf(out, "  /%-22s %12lld B raw -> %12lld B stored (%.2fx)  %s\n", name, (long long)raw, (long long)st,
            st > 0 ? (double)raw / (double)st : 0.0, desc);
}

/* One line per condensation step of the provenance record (docs/FORMAT.md). */
static void print_steps_(FILE *out, const char *steps)
{
    json_t *root = steps ? json_loads(steps, 0, NULL) : NULL;
    size_t i;
    json_t *st;
    if (steps && !json_is_array(root)) fprintf(out, "              steps: not a JSON array\n");
    json_array_foreach(root, i, st)
    {
        const char *m = json_string_value(json_object_get(st, "method"));
        const char *src = json_string_value(json_object_get(st, "source_file"));
        const char *h = json_string_value(json_object_get(st, "source_xxh64"));
        const char *px = json_string_value(json_object_get(st, "proxy"));
        const char *sc = json_string_value(json_object_get(st, "score"));
        fprintf(out, "  step %zu      %s: %lld of %lld rows of %s (xxh64 %s), seed %lld", i + 1, m ? m : "?",
                (long long)json_integer_value(json_object_get(st, "kept_rows")),
                (long long)json_integer_value(json_object_get(st, "source_rows")), src ? src : "?", h ? h : "?",
                (long long)json_integer_value(json_object_get(st, "seed")));
        if (px) fprintf(out, ", proxy %s (xxh64 %s)", px, json_string_value(json_object_get(st, "proxy_xxh64")));
        if (sc) fprintf(out, ", score %s", sc);
        fputc('\n', out);
    }
    json_decref(root);
}

/* How many of dataset `name`'s stored chunks carry a checksum: a zstd
 * frame whose header sets Content_Checksum_flag (bit 2 of the frame header
 * descriptor, RFC 8878 3.1.1.1.1), or any chunk when Fletcher32 is in the
 * pipeline. shrink writes checksummed frames; other writers (h5py with
 * hdf5plugin, the HDF Group's plugin) usually do not. Adds to *n, *with;
 * -1 if the dataset is absent or not chunked. Caller holds the HDF5 lock. */
static int count_checksums_(hid_t f, int fd, const char *name, int64_t *n, int64_t *with)
{
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return -1;
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) return -1;
    hid_t dcpl = H5Dget_create_plist(ds), fs = H5Dget_space(ds);
    int zstd_at = -1, fletcher = 0, nf = dcpl >= 0 ? H5Pget_nfilters(dcpl) : 0;
    for (int i = 0; i < nf; i++) {
        unsigned flags, cd[8];
        size_t ncd = 8;
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, 0, NULL, NULL);
        if (id == 32015) zstd_at = i;
        if (id == H5Z_FILTER_FLETCHER32) fletcher = 1;
    }
    hsize_t nchunks = 0;
    int ok = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED && H5Dget_num_chunks(ds, fs, &nchunks) >= 0;
    for (hsize_t k = 0; ok && k < nchunks; k++) {
        hsize_t off[8];
        unsigned mask = 0;
        haddr_t addr = 0;
        hsize_t size = 0;
        int has = fletcher;
        if (!has && zstd_at >= 0 && H5Dget_chunk_info(ds, fs, k, off, &mask, &addr, &size) >= 0 &&
            !(mask & (1u << zstd_at)) && size >= 5) {
            unsigned char h[5];
            has = pread(fd, h, 5, (off_t)addr) == 5 && h[0] == 0x28 && h[1] == 0xB5 && h[2] == 0x2F && h[3] == 0xFD &&
                  (h[4] & 0x04);
        }
        (*n)++;
        *with += has;
    }
    if (fs >= 0) H5Sclose(fs);
    if (dcpl >= 0) H5Pclose(dcpl);
    H5Dclose(ds);
    return ok ? 0 : -1;
}

/* After a successful verify: say which datasets have chunks without a
 * checksum, where a flipped byte may decode to wrong data unnoticed. */
static void checksum_report_(FILE *out, const char *path)
{
    static const char *const names[] = {"tokens", "offsets", "samples", "labels", "provenance/kept_indices"};
    int fd = open(path, O_RDONLY);
    if (fd < 0) return;
    sk_corpus_h5_lock();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int64_t all = 0, all_with = 0;
    char missing[1024] = "";
    size_t ml = 0;
    for (size_t i = 0; f >= 0 && i < sizeof names / sizeof *names; i++) {
        int64_t n = 0, with = 0;
        if (count_checksums_(f, fd, names[i], &n, &with) < 0) continue;
        all += n;
        all_with += with;
        if (with < n && ml < sizeof missing - 1)
            ml += (size_t)snprintf(missing + ml, sizeof missing - ml, "%s/%s %lld of %lld", ml ? ", " : "", names[i],
                                   (long long)(n - with), (long long)n);
    }
    if (f >= 0) H5Fclose(f);
    sk_corpus_h5_unlock();
    close(fd);
    if (all_with == all)
        fprintf(out, "  verify      OK: every chunk decoded, offsets consistent, all %lld chunks checksummed\n",
                (long long)all);
    else
        fprintf(out,
                "  verify      every chunk decoded, offsets consistent; %lld of %lld chunks carry NO checksum (%s): "
                "a corrupt byte there can decode to wrong data undetected\n",
                (long long)(all - all_with), (long long)all, missing);
}

int sk_inspect_print(FILE *out, const char *path, int verify)
{
    int rc = SK_OK;
    sk_corpus *c = NULL;
    struct stat ps;
    SK_FAIL_IF(path && stat(path, &ps) == 0 && S_ISDIR(ps.st_mode), SK_EINVAL,
               "%s is a directory, expected a corpus file (.h5)", path);
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
    if (in->has_provenance) {
        fprintf(out, "  provenance  derived from %s by %s, %lld kept indices\n",
                in->prov_source[0] ? in->prov_source : "?", in->prov_method[0] ? in->prov_method : "?",
                (long long)in->num_kept);
        print_steps_(out, sk_corpus_prov_steps(c));
        if (in->has_prov_scores)
            fprintf(out, "              /provenance/scores: '%s' of all %lld source rows\n", in->prov_score_name,
                    (long long)in->num_source);
        if (in->has_prov_clusters)
            fprintf(out, "              /provenance/cluster_ids: the duplicate cluster of all %lld source rows\n",
                    (long long)in->num_source);
    } else
        fprintf(out, "  provenance  none (not derived)\n");
    if (verify) {
        SK_TRY(sk_corpus_verify(c));
        checksum_report_(out, path);
    }
done:
    sk_corpus_free(c);
    return rc;
}
