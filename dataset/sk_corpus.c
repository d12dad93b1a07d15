/* sk_corpus.c - writing, opening and reading shrink corpora (sk_corpus.h,
 * docs/FORMAT.md). Parallel writes follow HDF5 1.10's rules for filtered
 * datasets: collective H5Dwrite on every rank (empty selections included),
 * chunk-aligned per-rank ranges, fill time never, early allocation. */
#define _GNU_SOURCE /* fallocate, FALLOC_FL_KEEP_SIZE */
#include "sk_corpus.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h> /* INFINITY */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <hdf5.h>
#include <zstd.h>

#include "sk_mpi.h"
#include "sk_mpi_h5.h"
#include "sk_zstd_filter.h"

/* ---- lock and HDF5 error text ------------------------------------------ */

static pthread_mutex_t h5_mu_;
static pthread_once_t h5_once_ = PTHREAD_ONCE_INIT;

static void h5_init_(void)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&h5_mu_, &a);
    pthread_mutexattr_destroy(&a);
}

void sk_corpus_h5_lock(void)
{
    pthread_once(&h5_once_, h5_init_);
    pthread_mutex_lock(&h5_mu_);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* we report errors ourselves */
}

void sk_corpus_h5_unlock(void) { pthread_mutex_unlock(&h5_mu_); }

static herr_t walk_cb_(unsigned n, const H5E_error2_t *e, void *data)
{
    char *buf = data;
    if (n != 0 || !e->desc) return 0;
    /* HDF5's I/O errors span lines ("file write failed: time = ...\n,
     * filename = ..., error message = 'No space left on device', buf = ..."):
     * keep the operation and the system's reason, on one line */
    const char *t = strstr(e->desc, ": time =");
    const char *m = strstr(e->desc, "error message = '");
    const char *me = m ? strchr(m + 17, '\'') : NULL;
    if (t && me)
        snprintf(buf, 256, "%.*s: %.*s", (int)(t - e->desc), e->desc, (int)(me - m - 17), m + 17);
    else
        snprintf(buf, 256, "%s", e->desc);
    for (char *c = buf; *c; c++)
        if (*c == '\n') *c = ' ';
    return 0;
}

/* The innermost HDF5 error message (and the zstd reason, if any). */
static const char *h5why_(void)
{
    static _Thread_local char why[600];
    char inner[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb_, inner);
    const char *z = sk_zstd_last_error();
    if (z[0])
        snprintf(why, sizeof why, "%s (%s)", inner[0] ? inner : "HDF5 error", z);
    else
        snprintf(why, sizeof why, "%s", inner[0] ? inner : "HDF5 error");
    return why;
}

/* Why a write failed, for a message: HDF5's reason, plus the free space
 * of the file system holding `path` when it is nearly gone and the reason
 * does not say so already (MPI-IO reports a full disk as a bare "file
 * write failed", without the errno a serial write carries). Under 4 MiB
 * free after a failed write is taken as the cause and said, with the
 * number, so a reader can judge. */
static const char *h5why_write_(const char *path)
{
    static _Thread_local char why[1800];
    const char *h = h5why_();
    char dir[1024];
    struct statvfs vs;
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if (!strstr(h, "No space") && statvfs(dir, &vs) == 0 &&
        (unsigned long long)vs.f_bavail * vs.f_frsize < (4ULL << 20))
        snprintf(why, sizeof why, "%s: No space left on device (%llu bytes free on the file system of %s)", h,
                 (unsigned long long)vs.f_bavail * vs.f_frsize, dir);
    else
        snprintf(why, sizeof why, "%s", h);
    return why;
}

/* A read failure is corruption when a filter failed (zstd checksum,
 * Fletcher32) or the file ends early; SK_EIO otherwise. */
static int read_fail_code_(const char *why)
{
    if (strstr(why, "filter") || strstr(why, "zstd") || strstr(why, "checksum") || strstr(why, "truncated") ||
        strstr(why, "Fletcher"))
        return SK_ECORRUPT;
    return SK_EIO;
}

/* ---- element types ------------------------------------------------------ */

int64_t sk_corpus_sample_elems(const sk_corpus_info *in)
{
    int64_t n = 1;
    for (int i = 0; i < in->ndim; i++) n *= in->shape[i];
    return n;
}

size_t sk_elem_size(sk_elem_type t)
{
    switch (t) {
    case SK_ELEM_U8: return 1;
    case SK_ELEM_U16: return 2;
    case SK_ELEM_I32: return 4;
    case SK_ELEM_I64: return 8;
    case SK_ELEM_F32: return 4;
    }
    return 0;
}

static const char *const elem_names_[] = {"uint8", "uint16", "int32", "int64", "float32"};

const char *sk_elem_name(sk_elem_type t)
{
    return (unsigned)t < sizeof elem_names_ / sizeof *elem_names_ ? elem_names_[t] : "?";
}

int sk_elem_parse(const char *name, sk_elem_type *out)
{
    for (int i = 0; i < 5; i++)
        if (name && !strcmp(name, elem_names_[i])) {
            *out = (sk_elem_type)i;
            return SK_OK;
        }
    return sk_error_set(SK_EINVAL, "unknown element type '%s' (uint8|uint16|int32|int64|float32)", name ? name : "");
}

static hid_t h5type_(sk_elem_type t)
{ /* little-endian file and memory types */
    switch (t) {
    case SK_ELEM_U8: return H5T_STD_U8LE;
    case SK_ELEM_U16: return H5T_STD_U16LE;
    case SK_ELEM_I32: return H5T_STD_I32LE;
    case SK_ELEM_I64: return H5T_STD_I64LE;
    case SK_ELEM_F32: return H5T_IEEE_F32LE;
    }
    return H5I_INVALID_HID;
}

static int elem_from_h5_(hid_t ft, sk_elem_type *out)
{
    H5T_class_t cl = H5Tget_class(ft);
    size_t sz = H5Tget_size(ft);
    if (cl == H5T_INTEGER) {
        H5T_sign_t sg = H5Tget_sign(ft);
        if (sz == 1 && sg == H5T_SGN_NONE)
            *out = SK_ELEM_U8;
        else if (sz == 2 && sg == H5T_SGN_NONE)
            *out = SK_ELEM_U16;
        else if (sz == 4 && sg == H5T_SGN_2)
            *out = SK_ELEM_I32;
        else if (sz == 8 && sg == H5T_SGN_2)
            *out = SK_ELEM_I64;
        else
            return -1;
        return 0;
    }
    if (cl == H5T_FLOAT && sz == 4) {
        *out = SK_ELEM_F32;
        return 0;
    }
    return -1;
}

/* ---- attributes --------------------------------------------------------- */

static int attr_str_(hid_t obj, const char *name, const char *val)
{
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR), a = H5I_INVALID_HID;
    int ok = t >= 0 && s >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0 && H5Tset_cset(t, H5T_CSET_UTF8) >= 0;
    if (ok) a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    const char *v = val ? val : "";
    ok = ok && a >= 0 && H5Awrite(a, t, &v) >= 0;
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    return ok ? 0 : -1;
}

static int attr_i64_(hid_t obj, const char *name, const int64_t *v, int n)
{
    hsize_t dim = (hsize_t)n;
    hid_t s = n == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    hid_t a = s >= 0 ? H5Acreate2(obj, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int ok = a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, v) >= 0;
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    return ok ? 0 : -1;
}

/* Read a string attribute (fixed or variable length) into buf; -1 if absent. */
#define SK_CORPUS_ATTR_STR_MAX ((size_t)1 << 20) /* longest fixed-length string attribute read */

static int get_attr_str_(hid_t obj, const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    int rc = -1;
    /* one string (scalar or one element): H5Aread writes every element, so
     * a longer array would overrun the single value read here; a fixed
     * length is bounded before allocating for it */
    hssize_t npts = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (sp >= 0) H5Sclose(sp);
    if (ft >= 0 && npts == 1 && H5Tget_class(ft) == H5T_STRING &&
        (H5Tis_variable_str(ft) > 0 || H5Tget_size(ft) <= SK_CORPUS_ATTR_STR_MAX)) {
        if (H5Tis_variable_str(ft) > 0) {
            char *v = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(ft));
            if (H5Aread(a, mt, &v) >= 0) {
                snprintf(buf, len, "%s", v ? v : "");
                H5free_memory(v);
                rc = 0;
            }
            H5Tclose(mt);
        } else {
            size_t sz = H5Tget_size(ft);
            char *tmp = calloc(1, sz + 1);
            if (tmp && H5Aread(a, ft, tmp) >= 0) {
                snprintf(buf, len, "%s", tmp);
                rc = 0;
            }
            free(tmp);
        }
    }
    if (ft >= 0) H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

/* Read an integer attribute (scalar or 1-D, up to max values); returns the
 * number of values or -1. */
static int get_attr_i64_(hid_t obj, const char *name, int64_t *v, int max)
{
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t s = H5Aget_space(a), t = H5Aget_type(a);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    int rc = -1;
    if (H5Tget_class(t) == H5T_INTEGER && n >= 1 && n <= max && H5Aread(a, H5T_NATIVE_INT64, v) >= 0) rc = (int)n;
    H5Tclose(t);
    H5Sclose(s);
    H5Aclose(a);
    return rc;
}

/* A scalar variable-length string attribute, malloc'd into *out (NULL
 * when absent); SK_ECORRUPT naming it when it has another shape or type. */
static int get_attr_vstr_alloc_(const char *path, hid_t obj, const char *name, char **out)
{
    int rc = SK_OK;
    char *v = NULL;
    hid_t a = H5I_INVALID_HID, ft = H5I_INVALID_HID, sp = H5I_INVALID_HID, mt = H5I_INVALID_HID;
    *out = NULL;
    if (H5Aexists(obj, name) <= 0) return SK_OK;
    a = H5Aopen(obj, name, H5P_DEFAULT);
    ft = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    SK_FAIL_IF(ft < 0 || sp < 0 || H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) <= 0 ||
                   H5Sget_simple_extent_type(sp) != H5S_SCALAR,
               SK_ECORRUPT, "%s: attribute %s must be one variable-length string", path, name);
    mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(ft));
    SK_FAIL_IF(H5Aread(a, mt, &v) < 0, SK_ECORRUPT, "%s: cannot read attribute %s: %s", path, name, h5why_());
    *out = strdup(v ? v : "");
    SK_FAIL_IF(!*out, SK_ENOMEM, "%s: out of memory", path);
done:
    if (v) H5free_memory(v);
    if (mt >= 0) H5Tclose(mt);
    if (sp >= 0) H5Sclose(sp);
    if (ft >= 0) H5Tclose(ft);
    if (a >= 0) H5Aclose(a);
    return rc;
}

/* ---- validation of data to write --------------------------------------- */

static int64_t id_at_(const void *p, sk_elem_type t, int64_t i)
{
    switch (t) {
    case SK_ELEM_U8: return ((const uint8_t *)p)[i];
    case SK_ELEM_U16: return ((const uint16_t *)p)[i];
    case SK_ELEM_I32: return ((const int32_t *)p)[i];
    case SK_ELEM_I64: return ((const int64_t *)p)[i];
    default: return 0;
    }
}

/* Checks that need only the counts and metadata of d (for a parallel
 * slice write: the corpus-wide counts). */
static int validate_head_(const char *path, const sk_corpus_data *d)
{
    if (d->kind == SK_CORPUS_TOKENS) {
        if (d->type == SK_ELEM_F32 || sk_elem_size(d->type) == 0)
            return sk_error_set(SK_EINVAL, "%s: token ids must be integers, got %s", path, sk_elem_name(d->type));
        if (d->num_docs <= 0 || d->num_tokens <= 0)
            return sk_error_set(SK_EINVAL, "%s: empty input: %lld documents, %lld tokens", path, (long long)d->num_docs,
                                (long long)d->num_tokens);
        if (d->vocab_size <= 0) return sk_error_set(SK_EINVAL, "%s: vocab_size must be > 0", path);
    } else if (d->kind == SK_CORPUS_SAMPLES) {
        if (sk_elem_size(d->type) == 0) return sk_error_set(SK_EINVAL, "%s: unknown sample element type", path);
        if (d->num_samples <= 0) return sk_error_set(SK_EINVAL, "%s: empty input: 0 samples", path);
        if (d->ndim < 1 || d->ndim > SK_CORPUS_MAX_DIMS)
            return sk_error_set(SK_EINVAL, "%s: sample rank %d not in 1..%d", path, d->ndim, SK_CORPUS_MAX_DIMS);
        for (int i = 0; i < d->ndim; i++)
            if (d->shape[i] <= 0)
                return sk_error_set(SK_EINVAL, "%s: sample dim %d is %lld", path, i, (long long)d->shape[i]);
    } else {
        return sk_error_set(SK_EINVAL, "%s: unknown corpus kind %d", path, (int)d->kind);
    }
    if (d->labels && d->num_classes <= 0)
        return sk_error_set(SK_EINVAL, "%s: labels given but num_classes is %lld", path, (long long)d->num_classes);
    if (d->nscores < 0 || d->nscores > SK_CORPUS_MAX_SCORES)
        return sk_error_set(SK_EINVAL, "%s: too many score arrays", path);
    for (int i = 0; i < d->nscores; i++)
        if (!d->score_names[i] || !d->score_names[i][0] || strchr(d->score_names[i], '/'))
            return sk_error_set(SK_EINVAL, "%s: score array %d needs a name without '/' and data", path, i);
    return SK_OK;
}

/* n token ids of type t at ids, the first at corpus position pos0: each
 * must lie in [0, vocab). */
static int check_ids_(const char *path, const void *ids, sk_elem_type t, int64_t n, int64_t vocab, int64_t pos0)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t v = id_at_(ids, t, i);
        if (v < 0 || v >= vocab)
            return sk_error_set(SK_EINVAL, "%s: token id %lld at position %lld is outside the vocabulary [0, %lld)",
                                path, (long long)v, (long long)(pos0 + i), (long long)vocab);
    }
    return SK_OK;
}

/* Checks of every value in d's arrays against the corpus-wide vocab_size
 * and num_classes; tok0 / row0 are the positions of d's first token / row
 * in the corpus (0 unless d is a slice), for the messages. */
static int validate_rows_(const char *path, const sk_corpus_data *d, int64_t vocab, int64_t classes, int64_t tok0,
                          int64_t row0)
{
    int64_t nrows = d->kind == SK_CORPUS_TOKENS ? d->num_docs : d->num_samples;
    if (d->kind == SK_CORPUS_TOKENS) {
        if ((d->num_tokens > 0 && !d->tokens && !d->fill) || !d->offsets)
            return sk_error_set(SK_EINVAL, "%s: tokens or offsets missing", path);
        for (int64_t i = 0; i < d->num_docs; i++)
            if (d->offsets[i + 1] < d->offsets[i])
                return sk_error_set(SK_EINVAL, "%s: offsets decrease at document %lld (%lld -> %lld)", path,
                                    (long long)(row0 + i), (long long)(tok0 + d->offsets[i]),
                                    (long long)(tok0 + d->offsets[i + 1]));
        if (d->tokens) { /* pulled tokens are checked as they arrive (pull_) */
            int rc = check_ids_(path, d->tokens, d->type, d->num_tokens, vocab, tok0);
            if (rc < 0) return rc;
        }
    } else if (d->num_samples > 0 && !d->samples && !d->fill) {
        return sk_error_set(SK_EINVAL, "%s: samples missing", path);
    }
    if (d->labels)
        for (int64_t i = 0; i < nrows; i++)
            if (d->labels[i] < 0 || d->labels[i] >= classes)
                return sk_error_set(SK_EINVAL, "%s: label %lld of sample %lld outside [0, %lld)", path,
                                    (long long)d->labels[i], (long long)(row0 + i), (long long)classes);
    for (int i = 0; i < d->nscores; i++)
        if (nrows > 0 && !d->scores[i])
            return sk_error_set(SK_EINVAL, "%s: score array %d needs a name without '/' and data", path, i);
    if (d->kept) {
        for (int64_t i = 0; i < d->num_kept; i++)
            if (d->kept[i] < 0)
                return sk_error_set(SK_EINVAL, "%s: provenance index %lld is negative", path, (long long)i);
    }
    return SK_OK;
}

static int validate_(const char *path, const sk_corpus_data *d)
{
    int rc = SK_OK;
    SK_TRY(validate_head_(path, d));
    if (d->kind == SK_CORPUS_TOKENS) {
        SK_FAIL_IF((!d->tokens && !d->fill) || !d->offsets, SK_EINVAL, "%s: empty input: %lld documents, %lld tokens",
                   path, (long long)d->num_docs, (long long)d->num_tokens);
        SK_FAIL_IF(d->offsets[0] != 0, SK_EINVAL, "%s: offsets[0] = %lld, must be 0", path, (long long)d->offsets[0]);
    }
    SK_TRY(validate_rows_(path, d, d->vocab_size, d->num_classes, 0, 0));
    if (d->kind == SK_CORPUS_TOKENS)
        SK_FAIL_IF(d->offsets[d->num_docs] != d->num_tokens, SK_EINVAL,
                   "%s: offsets end at %lld but there are %lld tokens", path, (long long)d->offsets[d->num_docs],
                   (long long)d->num_tokens);
done:
    return rc;
}

/* ---- writing ------------------------------------------------------------ */

/* The rows of one dataset: in a slice write (sk_corpus_write_part) this
 * rank's n rows, else all of them; held in buf, or pulled from fill. */
typedef struct {
    const void *buf;
    int64_t n;
    int (*fill)(void *, int64_t, int64_t, void *);
    void *ctx;
} piece_;

typedef struct {
    piece_ tokens, offsets, samples, labels, kept, scores[SK_CORPUS_MAX_SCORES], pscores, pclusters;
} pieces_;

typedef struct {
    const char *path; /* final path, for messages */
    hid_t file, dxpl;
    int rank, world;
    const sk_corpus_write_opts *o;
    const pieces_ *pc; /* NULL: every rank holds all the data */
    int64_t window;    /* bytes per write round of the main dataset; 0: one round (nothing is pulled) */
    sk_elem_type type; /* of the main dataset */
    int64_t vocab;     /* tokens: pulled ids must be below it; 0: samples, no check */
    int64_t tok0;      /* corpus position of this rank's first pulled token (slice writes), for messages */
} wctx_;

/* Rows [r0, r1) that `rank` compresses and writes: whole chunks, so no two
 * ranks touch one chunk (HDF5 1.10's collective filtered writes need that,
 * and a chunk's compressed bytes then do not depend on the world size). */
static void share_rows_(hsize_t n, hsize_t crow, int rank, int world, hsize_t *r0, hsize_t *r1)
{
    hsize_t nchunks = (n + crow - 1) / crow;
    *r0 = nchunks * (hsize_t)rank / (hsize_t)world * crow;
    *r1 = nchunks * (hsize_t)(rank + 1) / (hsize_t)world * crow;
    if (*r1 > n) *r1 = n;
    if (*r0 > *r1) *r0 = *r1;
}

/* Round k of rank's share in rounds of wr rows: [*a, *b) (empty past its end). */
static void window_rows_(hsize_t n, hsize_t crow, int rank, int world, hsize_t k, hsize_t wr, hsize_t *a, hsize_t *b)
{
    hsize_t r0, r1;
    share_rows_(n, crow, rank, world, &r0, &r1);
    *a = r0 + k * wr < r1 ? r0 + k * wr : r1;
    *b = *a + wr < r1 ? *a + wr : r1;
}

/* Rows [first, first+count) of piece p into out: copied from its array, or
 * pulled from its source (token ids checked: the caller validated only
 * what it held). */
static int pull_(const wctx_ *w, const piece_ *p, hsize_t first, hsize_t count, size_t rowbytes, char *out)
{
    int rc = SK_OK;
    if (count == 0) return SK_OK;
    if (!p->fill) {
        memcpy(out, (const char *)p->buf + (size_t)first * rowbytes, (size_t)count * rowbytes);
        return SK_OK;
    }
    rc = p->fill(p->ctx, (int64_t)first, (int64_t)count, out);
    if (rc < 0) return rc;
    return w->vocab > 0 ? check_ids_(w->path, out, w->type, (int64_t)count, w->vocab, w->tok0 + (int64_t)first) : SK_OK;
}

/* Slice write: gather the rows [r0, r1) this rank writes from the ranks
 * whose slices hold them (rows are numbered by concatenating the slices in
 * rank order). *out is malloc'd. Collective. */
static int gather_rows_(wctx_ *w, const piece_ *pc, hsize_t n, hsize_t crow, size_t rowbytes, hsize_t k, hsize_t wr,
                        hsize_t r0, hsize_t r1, char **out)
{
    int rc = SK_OK, ns = 0, nr = 0;
    int64_t *cnt = malloc((size_t)w->world * sizeof *cnt), mine = pc->n;
    sk_mpi_msg *msg = malloc(2 * (size_t)w->world * sizeof *msg), *recv = msg + w->world; /* sends, then receives */
    char *dst = malloc((size_t)(r1 - r0) * rowbytes + 1), *pulled = NULL; /* pulled: the rows this rank sends */
    if (!cnt || !msg || !dst) rc = sk_error_set(SK_ENOMEM, "%s: out of memory", w->path);
    SK_TRY(sk_mpi_agree(rc));
    SK_TRY(sk_mpi_allgather_i64(&mine, 1, cnt));
    hsize_t s0 = 0, total = 0; /* this rank's first row; all rows */
    for (int q = 0; q < w->world; q++) {
        if (q < w->rank) s0 += (hsize_t)cnt[q];
        total += (hsize_t)cnt[q];
    }
    SK_FAIL_IF(total != n, SK_EINVAL, "%s: slices hold %llu rows, expected %llu", w->path, (unsigned long long)total,
               (unsigned long long)n);
    if (pc->fill) { /* room for what this rank sends the others this round */
        size_t send = 0;
        for (int q = 0; q < w->world; q++) {
            hsize_t w0, w1;
            window_rows_(n, crow, q, w->world, k, wr, &w0, &w1);
            hsize_t a = s0 > w0 ? s0 : w0, b = s0 + (hsize_t)mine < w1 ? s0 + (hsize_t)mine : w1;
            if (q != w->rank && a < b) send += (size_t)(b - a) * rowbytes;
        }
        pulled = malloc(send + 1);
        if (!pulled) rc = sk_error_set(SK_ENOMEM, "%s: out of memory", w->path);
    }
    hsize_t q0 = 0; /* first row of rank q's slice */
    size_t at = 0;  /* bytes of pulled used */
    for (int q = 0; q < w->world && rc == SK_OK; q0 += (hsize_t)cnt[q], q++) {
        hsize_t w0, w1;
        window_rows_(n, crow, q, w->world, k, wr, &w0, &w1);
        /* mine -> q: my slice [s0, s0+mine) within q's rows this round */
        hsize_t a = s0 > w0 ? s0 : w0, b = s0 + (hsize_t)mine < w1 ? s0 + (hsize_t)mine : w1;
        /* q -> me: q's slice [q0, q0+cnt[q]) within my rows this round */
        hsize_t c = q0 > r0 ? q0 : r0, e = q0 + (hsize_t)cnt[q] < r1 ? q0 + (hsize_t)cnt[q] : r1;
        if (q == w->rank) {
            if (a < b) rc = pull_(w, pc, a - s0, b - a, rowbytes, dst + (size_t)(a - r0) * rowbytes);
            continue;
        }
        if (a < b) {
            char *p = (char *)pc->buf + (size_t)(a - s0) * rowbytes;
            if (pc->fill) {
                p = pulled + at;
                at += (size_t)(b - a) * rowbytes;
                rc = pull_(w, pc, a - s0, b - a, rowbytes, p);
            }
            msg[ns++] = (sk_mpi_msg){p, (size_t)(b - a) * rowbytes, q};
        }
        if (c < e) recv[nr++] = (sk_mpi_msg){dst + (size_t)(c - r0) * rowbytes, (size_t)(e - c) * rowbytes, q};
    }
    SK_TRY(sk_mpi_agree(rc)); /* a failed pull on any rank: no rank waits in the exchange */
    SK_TRY(sk_mpi_exchange(msg, ns, recv, nr));
    *out = dst;
    dst = NULL;
done:
    free(msg);
    free(cnt);
    free(dst);
    free(pulled);
    return rc;
}

/* In write_ds_ before the first agreement: record the error and go to it. */
#define FAIL_CREATE_(cond, code, ...)               \
    do {                                            \
        if (cond) {                                 \
            rc = sk_error_set((code), __VA_ARGS__); \
            goto done_create;                       \
        }                                           \
    } while (0)

/* Create dataset `name` of nrows x row shape, filled from src (every row,
 * or in a slice write this rank's piece of them); each rank writes its
 * chunk-aligned share of the rows. `stream`: in rounds of whole chunks of
 * about w->window bytes (every rank takes part in each round's collective
 * write, an empty one once its share is done), else in one. */
static int write_ds_(wctx_ *w, hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank_dims,
                     const hsize_t *dims, int compress, const piece_ *src, int stream)
{
    int rc = SK_OK;
    char *mine = NULL;
    hid_t dcpl = H5I_INVALID_HID, fs = H5I_INVALID_HID, ms = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    size_t esize = H5Tget_size(ftype);
    hsize_t rowel = 1;
    for (int i = 1; i < rank_dims; i++) rowel *= dims[i];
    size_t rowbytes = (size_t)rowel * esize;
    int64_t target = w->o->chunk_bytes > 0 ? w->o->chunk_bytes : (1 << 20);
    hsize_t crow = (hsize_t)(target / (int64_t)rowbytes);
    if (crow < 1) crow = 1;
    if (crow > dims[0]) crow = dims[0];
    hsize_t cdims[SK_CORPUS_MAX_DIMS + 1];
    cdims[0] = crow;
    for (int i = 1; i < rank_dims; i++) cdims[i] = dims[i];

    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    FAIL_CREATE_(dcpl < 0 || H5Pset_chunk(dcpl, rank_dims, cdims) < 0, SK_EIO, "%s: /%s: cannot set chunking: %s",
                 w->path, name, h5why_());
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    if (w->o->fletcher32)
        FAIL_CREATE_(H5Pset_fletcher32(dcpl) < 0, SK_EIO, "%s: /%s: fletcher32: %s", w->path, name, h5why_());
    if (compress && w->o->byte_shuffle && w->o->compress != SK_COMPRESS_NONE && esize > 1)
        FAIL_CREATE_(H5Pset_shuffle(dcpl) < 0, SK_EIO, "%s: /%s: shuffle: %s", w->path, name, h5why_());
    if (compress && w->o->compress == SK_COMPRESS_ZSTD) {
        unsigned lvl = (unsigned)(w->o->level > 0 ? w->o->level : SK_ZSTD_DEFAULT_LEVEL);
        FAIL_CREATE_(H5Pset_filter(dcpl, SK_ZSTD_FILTER_ID, H5Z_FLAG_MANDATORY, 1, &lvl) < 0, SK_EIO,
                     "%s: /%s: cannot set the zstd filter: %s", w->path, name, h5why_());
    } else if (compress && w->o->compress == SK_COMPRESS_DEFLATE) {
        FAIL_CREATE_(H5Pset_deflate(dcpl, (unsigned)(w->o->level > 0 ? w->o->level : 6)) < 0, SK_EIO,
                     "%s: /%s: cannot set deflate: %s", w->path, name, h5why_());
    }
    fs = H5Screate_simple(rank_dims, dims, NULL);
    ds = H5Dcreate2(loc, name, ftype, fs, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (ds < 0) rc = sk_error_set(SK_EIO, "%s: cannot create dataset /%s: %s", w->path, name, h5why_());
done_create:
    /* every rank learns of a failure here, so none enters the next collective alone */
    SK_TRY(sk_mpi_agree(rc));

    hsize_t wr = dims[0], rounds = 1; /* rows per round, rounds */
    if (stream && w->window > 0) {
        hsize_t cpw = (hsize_t)w->window / ((hsize_t)crow * rowbytes); /* whole chunks per round */
        wr = (cpw > 0 ? cpw : 1) * crow;
        rounds = 0;
        for (int q = 0; q < w->world; q++) {
            hsize_t q0, q1;
            share_rows_(dims[0], crow, q, w->world, &q0, &q1);
            if ((q1 - q0 + wr - 1) / wr > rounds) rounds = (q1 - q0 + wr - 1) / wr;
        }
    }
    for (hsize_t k = 0; k < rounds; k++) {
        hsize_t r0, r1;
        window_rows_(dims[0], crow, w->rank, w->world, k, wr, &r0, &r1);
        const char *p = NULL;
        if (w->pc) { /* every rank must reach the collective H5Dwrite, so agree first */
            rc = sk_mpi_agree(gather_rows_(w, src, dims[0], crow, rowbytes, k, wr, r0, r1, &mine));
            if (rc < 0) goto done;
            p = mine;
        } else if (src->fill) {
            mine = malloc((size_t)(r1 - r0) * rowbytes + 1);
            rc = mine ? pull_(w, src, r0, r1 - r0, rowbytes, mine)
                      : sk_error_set(SK_ENOMEM, "%s: out of memory", w->path);
            SK_TRY(sk_mpi_agree(rc));
            p = mine;
        } else {
            p = (const char *)src->buf + (size_t)r0 * rowbytes;
        }
        hsize_t start[SK_CORPUS_MAX_DIMS + 1] = {0}, count[SK_CORPUS_MAX_DIMS + 1];
        start[0] = r0;
        count[0] = r1 - r0;
        for (int i = 1; i < rank_dims; i++) count[i] = dims[i];
        if (count[0] > 0) {
            ms = H5Screate_simple(rank_dims, count, NULL);
            if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0) {
                rc = sk_error_set(SK_EIO, "%s: /%s: bad selection", w->path, name);
                H5Sselect_none(ms); /* still take part in the collective write, writing nothing */
                H5Sselect_none(fs);
            }
        } else {
            hsize_t one = 1;
            ms = H5Screate_simple(1, &one, NULL);
            H5Sselect_none(ms);
            H5Sselect_none(fs);
        }
        if (H5Dwrite(ds, mtype, ms, fs, w->dxpl, p) < 0 && rc == SK_OK)
            rc = sk_error_set(SK_EIO, "%s: cannot write /%s: %s", w->path, name, h5why_write_(w->path));
        H5Sclose(ms);
        ms = H5I_INVALID_HID;
        free(mine);
        mine = NULL;
        /* a full disk may fail the write on one rank only: all stop together */
        if (rounds > 1) SK_TRY(sk_mpi_agree(rc));
    }
    if (H5Dclose(ds) < 0 && rc == SK_OK)
        rc = sk_error_set(SK_EIO, "%s: cannot write /%s: %s", w->path, name, h5why_write_(w->path));
    ds = H5I_INVALID_HID;
    /* a full disk may fail the write on one rank only: all return the error */
    rc = sk_mpi_agree(rc);
done:
    free(mine);
    if (ds >= 0) H5Dclose(ds);
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (dcpl >= 0) H5Pclose(dcpl);
    return rc;
}

/* The rows of a dataset write_body_ writes: this rank's piece in a slice
 * write, else the caller's array (main: or its pull source). */
#define SRC_(field, array) (w->pc ? &w->pc->field : &(piece_){(array), 0, NULL, NULL})
#define MAIN_(field, array) (w->pc ? &w->pc->field : &(piece_){(array), 0, d->fill, d->fill_ctx})

static int write_body_(wctx_ *w, const sk_corpus_data *d)
{
    int rc = SK_OK;
    hid_t root = w->file, g = H5I_INVALID_HID;
    hid_t et = h5type_(d->type);
    const char *kind = d->kind == SK_CORPUS_TOKENS ? "tokens" : "samples";
    int64_t ver = SK_CORPUS_FORMAT_VERSION;
    int bad = attr_str_(root, "shrink_format", "shrink-corpus") || attr_i64_(root, "format_version", &ver, 0) ||
              attr_str_(root, "kind", kind) || attr_str_(root, "dtype", sk_elem_name(d->type)) ||
              attr_str_(root, "source", d->source) || attr_str_(root, "command", d->command);
    if (d->kind == SK_CORPUS_TOKENS)
        bad = bad || attr_i64_(root, "vocab_size", &d->vocab_size, 0);
    else
        bad = bad || attr_i64_(root, "sample_shape", d->shape, d->ndim);
    if (d->labels) bad = bad || attr_i64_(root, "num_classes", &d->num_classes, 0);
    if (bad) rc = sk_error_set(SK_EIO, "%s: cannot write attributes: %s", w->path, h5why_write_(w->path));
    SK_TRY(sk_mpi_agree(rc));

    int64_t nrows;
    if (d->kind == SK_CORPUS_TOKENS) {
        hsize_t nt = (hsize_t)d->num_tokens, no = (hsize_t)d->num_docs + 1;
        SK_TRY(write_ds_(w, root, "tokens", et, et, 1, &nt, 1, MAIN_(tokens, d->tokens), 1));
        SK_TRY(write_ds_(w, root, "offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &no, 1, SRC_(offsets, d->offsets), 0));
        nrows = d->num_docs;
    } else {
        hsize_t dims[SK_CORPUS_MAX_DIMS + 1];
        dims[0] = (hsize_t)d->num_samples;
        for (int i = 0; i < d->ndim; i++) dims[i + 1] = (hsize_t)d->shape[i];
        SK_TRY(write_ds_(w, root, "samples", et, et, d->ndim + 1, dims, 1, MAIN_(samples, d->samples), 1));
        nrows = d->num_samples;
    }
    hsize_t nr = (hsize_t)nrows;
    if (d->labels)
        SK_TRY(write_ds_(w, root, "labels", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &nr, 1, SRC_(labels, d->labels), 0));
    if (d->nscores > 0) {
        g = H5Gcreate2(root, "scores", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) rc = sk_error_set(SK_EIO, "%s: cannot create /scores: %s", w->path, h5why_());
        SK_TRY(sk_mpi_agree(rc));
        for (int i = 0; i < d->nscores; i++)
            SK_TRY(write_ds_(w, g, d->score_names[i], H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &nr, 1,
                             SRC_(scores[i], d->scores[i]), 0));
        H5Gclose(g);
        g = H5I_INVALID_HID;
    }
    if (d->prov_source || d->kept) {
        g = H5Gcreate2(root, "provenance", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0)
            rc = sk_error_set(SK_EIO, "%s: cannot create /provenance: %s", w->path, h5why_());
        else if (attr_str_(g, "source_file", d->prov_source) || attr_str_(g, "method", d->prov_method))
            rc = sk_error_set(SK_EIO, "%s: /provenance attributes: %s", w->path, h5why_());
        SK_TRY(sk_mpi_agree(rc));
        if (d->kept && d->num_kept > 0) {
            hsize_t nk = (hsize_t)d->num_kept;
            SK_TRY(write_ds_(w, g, "kept_indices", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &nk, 1, SRC_(kept, d->kept), 0));
        }
        if (d->prov_steps)
            SK_FAIL_IF(attr_str_(g, "steps", d->prov_steps), SK_EIO, "%s: /provenance steps: %s", w->path, h5why_());
        hsize_t ns = (hsize_t)d->num_source;
        if (d->prov_scores && ns > 0) {
            SK_TRY(write_ds_(w, g, "scores", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &ns, 1, SRC_(pscores, d->prov_scores),
                             0));
            hid_t ds = H5Dopen2(g, "scores", H5P_DEFAULT);
            int bad = ds < 0 || attr_str_(ds, "name", d->prov_score_name);
            if (ds >= 0) H5Dclose(ds);
            SK_FAIL_IF(bad, SK_EIO, "%s: /provenance/scores name: %s", w->path, h5why_());
        }
        if (d->prov_clusters && ns > 0)
            SK_TRY(write_ds_(w, g, "cluster_ids", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &ns, 1,
                             SRC_(pclusters, d->prov_clusters), 0));
    }
done:
    if (g >= 0) H5Gclose(g);
    return rc;
}
#undef SRC_
#undef MAIN_

/* This rank and the world's size (0 and 1 outside sk_mpi_init .. _finalize). */
static void world_shape_(int *rank, int *world)
{
    *rank = sk_mpi_info_get()->rank;
    *world = sk_mpi_info_get()->world;
}

static int check_opts_(const char *path, const sk_corpus_write_opts *o)
{
    if (o->level < 0 || (o->compress == SK_COMPRESS_ZSTD && o->level > 22) ||
        (o->compress == SK_COMPRESS_DEFLATE && o->level > 9))
        return sk_error_set(SK_EINVAL, "%s: compression level %d out of range (zstd 1..22, deflate 1..9)", path,
                            o->level);
    return SK_OK;
}

/* ---- temporary names, stale temporaries, signals ------------------------ */

/* A corpus is written to "DIR/.BASE.shrink-tmp-HOST-PID" (PID: rank 0's)
 * and renamed to DIR/BASE: hidden, recognisable, and reclaimable, since a
 * later write of the same output on the same host removes the ones whose
 * process is gone (killed with SIGKILL, or a crashed node). */
static int tmp_prefix_(const char *path, char *buf, size_t n, char *dir, size_t dn)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    int dl = (int)(base - path); /* "DIR/" or "" */
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "localhost");
    for (char *h = host; *h; h++)
        if (*h == '-' || *h == '/') *h = '_'; /* '-' separates the host from the pid */
    int r = !slash          ? snprintf(dir, dn, ".")
            : slash == path ? snprintf(dir, dn, "/")
                            : snprintf(dir, dn, "%.*s", dl - 1, path);
    if (r >= (int)dn) return -1;
    return snprintf(buf, n, "%.*s.%s.shrink-tmp-%s-", dl, path, base, host) >= (int)n ? -1 : 0;
}

/* Remove DIR/.BASE.shrink-tmp-HOST-PID files whose PID is dead (rank 0). */
static void remove_stale_(const char *prefix, const char *dir)
{
    const char *slash = strrchr(prefix, '/');
    const char *pbase = slash ? slash + 1 : prefix;
    size_t pl = strlen(pbase);
    DIR *dd = opendir(dir);
    if (!dd) return;
    for (struct dirent *e; (e = readdir(dd)) != NULL;) {
        if (strncmp(e->d_name, pbase, pl) != 0) continue;
        char *end = NULL;
        long pid = strtol(e->d_name + pl, &end, 10);
        if (pid <= 0 || !end || *end || (kill((pid_t)pid, 0) == 0 || errno != ESRCH)) continue;
        char full[8192];
        if (snprintf(full, sizeof full, "%s/%s", dir, e->d_name) >= (int)sizeof full) continue;
        if (unlink(full) == 0)
            fprintf(stderr, "shrink: removed %s, a temporary left by process %ld, which is gone\n", full, pid);
    }
    closedir(dd);
}

/* SIGINT / SIGTERM while a temporary exists: remove it, then die of the
 * signal as before (unlink is async-signal-safe). */
static char sig_tmp_[4096];
static volatile sig_atomic_t sig_armed_;
static struct sigaction sig_old_int_, sig_old_term_;

static void on_signal_(int sig)
{
    if (sig_armed_) unlink(sig_tmp_);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void signals_arm_(const char *tmp)
{
    snprintf(sig_tmp_, sizeof sig_tmp_, "%s", tmp);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal_;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &sig_old_int_);
    sigaction(SIGTERM, &sa, &sig_old_term_);
    sig_armed_ = 1;
}

static void signals_disarm_(void)
{
    if (!sig_armed_) return;
    sigaction(SIGINT, &sig_old_int_, NULL);
    sigaction(SIGTERM, &sig_old_term_, NULL);
    sig_armed_ = 0;
}

/* Re-open the closed temporary and check every chunk decodes; an error
 * names the final path and says the write went wrong. */
static int verify_written_(const char *path, const char *tmp)
{
    sk_corpus *c = NULL;
    int rc = sk_corpus_open(&c, tmp);
    if (rc == SK_OK) rc = sk_corpus_verify(c);
    sk_corpus_free(c);
    if (rc < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", sk_error_last());
        rc = sk_error_set(SK_EIO, "%s: the data written does not read back (is the disk full?): %s", path, why);
    }
    return rc;
}

/* Rank 0, after every data write succeeded and before the close. HDF5
 * keeps the metadata (object headers, B-trees, heaps) in its cache and
 * writes it only when the file closes, into holes below the data written
 * and past it; a disk that fills up exactly then fails the flush on the
 * rank that writes it alone, and the others wait for it in HDF5's barrier
 * for ever. Allocating the blocks of every hole and SK_CLOSE_ROOM bytes
 * past the end (FALLOC_FL_KEEP_SIZE: the size does not change; the
 * metadata of a shrink corpus is a few KiB plus its attributes, which are
 * written at creation) makes that failure happen here, where it is agreed
 * like any other write error; trim_close_ gives back what the close did
 * not use. A file system without fallocate (EOPNOTSUPP) is left as it
 * was. HDF5's own EOA would be the exact bound, but H5Fget_eoa refuses
 * the MPI-IO driver and its EOF is unknown after a write. */
#define SK_CLOSE_ROOM ((off_t)256 << 10)
static int reserve_close_(const char *path, const char *tmp)
{
    struct stat st;
    int fd = open(tmp, O_WRONLY);
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        return sk_error_set(SK_EIO, "%s: cannot open %s: %s", path, tmp, strerror(e));
    }
    int e = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, st.st_size + SK_CLOSE_ROOM) == 0 ? 0 : errno;
    close(fd);
    if (e == 0 || e == EOPNOTSUPP || e == ENOSYS) return SK_OK;
    return sk_error_set(SK_EIO,
                        "%s: no room to close the file (%lld bytes of data written, %lld more kept for its "
                        "metadata): %s",
                        path, (long long)st.st_size, (long long)SK_CLOSE_ROOM, strerror(e));
}

/* After the close, rank 0: free the blocks reserve_close_ kept past the
 * end (a truncation that shrinks the file frees every block past its new
 * size; one to the same size would not). Best effort: the data is whole
 * either way. */
static void trim_close_(const char *tmp)
{
    struct stat st;
    if (stat(tmp, &st) == 0 && truncate(tmp, st.st_size + 1) == 0 && truncate(tmp, st.st_size) != 0) {
        /* one zero byte past HDF5's end of allocation is harmless */
    }
}

/* Write validated d (in a slice write: the corpus-wide counts, rows from
 * pc) to a temporary name and rename it into place. window: bytes per
 * write round of the main dataset when some rank pulls its rows (0: none
 * does); tok0: this rank's first token in the corpus (slice writes). */
static int write_file_(const char *path, const sk_corpus_data *d, const sk_corpus_write_opts *opts, const pieces_ *pc,
                       int64_t window, int64_t tok0)
{
    int rc = SK_OK, rank = 0, world = 1;
    hid_t fapl = H5I_INVALID_HID, file = H5I_INVALID_HID, dxpl = H5I_INVALID_HID;
    char tmp[4096] = "", prefix[4000], dir[4000];
    const sk_corpus_write_opts o = *opts;
    world_shape_(&rank, &world);
    sk_corpus_h5_lock(); /* first: every exit below unlocks */
    /* the same temporary name on every rank: rank 0's host and pid */
    long pid = (long)getpid();
    int bad = tmp_prefix_(path, prefix, sizeof prefix, dir, sizeof dir);
    SK_TRY(sk_mpi_bcast(&pid, sizeof pid, 0));
    SK_TRY(sk_mpi_bcast(prefix, sizeof prefix, 0));
    SK_FAIL_IF(bad || snprintf(tmp, sizeof tmp, "%s%ld", prefix, pid) >= (int)sizeof tmp, SK_EINVAL,
               "%s: path too long", path);
    if (rank == 0) remove_stale_(prefix, dir);
    signals_arm_(tmp);

    SK_TRY(sk_zstd_register());
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    dxpl = H5Pcreate(H5P_DATASET_XFER);
    SK_TRY(sk_mpi_h5_collective(fapl, dxpl));
    file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (file < 0) {
        rc = sk_error_set(SK_EIO, "%s: cannot create output (temporary %s): %s%s%s", path, tmp, h5why_(),
                          errno ? ": " : "", errno ? strerror(errno) : "");
        tmp[0] = '\0'; /* nothing was created */
        goto done;
    }
    wctx_ w = {path, file, dxpl, rank, world, &o, pc, window, d->type, d->kind == SK_CORPUS_TOKENS ? d->vocab_size : 0,
               tok0};
    rc = sk_mpi_agree(write_body_(&w, d));
    /* the close's metadata flush must find room (see reserve_close_) */
    if (rc == SK_OK) rc = sk_mpi_agree(rank == 0 ? reserve_close_(path, tmp) : SK_OK);
    /* Closing flushes metadata (rank 0 writes it, then every rank meets in
     * a barrier inside HDF5): a flush that fails on a full disk skips that
     * barrier on rank 0 and leaves the others in it for ever, and in a
     * world of one leaves the file open until MPI finalisation, where HDF5
     * crashes closing it. After a failure, free the space this file took
     * first, so the close has room for its few metadata bytes. */
    if (rc < 0 && rank == 0 && truncate(tmp, 0) != 0) { /* the error is already set */
    }
    if (rc < 0) sk_mpi_barrier();
    if (H5Fclose(file) < 0 && rc == SK_OK) rc = sk_error_set(SK_EIO, "%s: closing failed: %s", path, h5why_());
    file = H5I_INVALID_HID;
    /* Open MPI's OMPIO can drop a failed collective write (ENOSPC) without
     * an error, leaving holes: with more than one rank, rank 0 decodes every
     * chunk before the rename (a world of one sees its write errors) */
    if (rc == SK_OK && rank == 0 && world > 1) rc = verify_written_(path, tmp);
    /* every rank has closed the file (and none failed) before rank 0 renames it */
    SK_TRY(sk_mpi_agree(rc));
    if (rank == 0) trim_close_(tmp);
    if (rank == 0 && rename(tmp, path) != 0)
        rc = sk_error_set(SK_EIO, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
    SK_TRY(sk_mpi_agree(rc));
    if (rc == SK_OK) tmp[0] = '\0';
done:
    if (file >= 0) H5Fclose(file);
    if (fapl >= 0) H5Pclose(fapl);
    if (dxpl >= 0) H5Pclose(dxpl);
    if (tmp[0] && rank == 0) unlink(tmp); /* never leave half-written output */
    signals_disarm_();
    sk_corpus_h5_unlock();
    return rc;
}

/* Bytes per write round of pulled rows: what the caller asked for, or 16 MiB. */
static int64_t window_bytes_(int64_t asked) { return asked > 0 ? asked : (int64_t)16 << 20; }

int sk_corpus_write(const char *path, const sk_corpus_data *d, const sk_corpus_write_opts *opts)
{
    int rc = SK_OK;
    sk_corpus_write_opts o = {0};
    if (opts) o = *opts;
    if (!path || !d) return sk_error_set(SK_EINVAL, "sk_corpus_write: NULL path or data");
    SK_TRY(check_opts_(path, &o));
    SK_TRY(validate_(path, d));
    rc = write_file_(path, d, &o, NULL, d->fill ? window_bytes_(d->fill_window) : 0, 0);
done:
    return rc;
}

/* What each rank tells the others about its slice before a slice write. */
enum {
    H_KIND,
    H_TYPE,
    H_NDIM,
    H_SHAPE,
    H_NTOK = H_SHAPE + SK_CORPUS_MAX_DIMS,
    H_NDOC,
    H_NSAMP,
    H_VOCAB,
    H_CLASSES,
    H_LABELS,
    H_NKEPT,
    H_KEPT,
    H_NSCORES,
    H_OFF_FIRST,
    H_OFF_LAST,
    H_NSOURCE,
    H_PSCORES,
    H_PCLUSTERS,
    H_WINDOW,
    H_N
};

int sk_corpus_write_part(const char *path, const sk_corpus_data *d, const sk_corpus_write_opts *opts)
{
    int rc = SK_OK, rank, world;
    int64_t *all = NULL, *off = NULL;
    sk_corpus_write_opts o = {0};
    if (opts) o = *opts;
    world_shape_(&rank, &world);
    if (world == 1) return sk_corpus_write(path, d, opts);
    if (!path || !d) return sk_error_set(SK_EINVAL, "sk_corpus_write_part: NULL path or data");
    const int tok = d->kind == SK_CORPUS_TOKENS;
    int64_t h[H_N] = {0};
    h[H_KIND] = d->kind;
    h[H_TYPE] = d->type;
    h[H_NDIM] = d->ndim;
    for (int i = 0; i < SK_CORPUS_MAX_DIMS; i++) h[H_SHAPE + i] = d->shape[i];
    h[H_NTOK] = d->num_tokens;
    h[H_NDOC] = d->num_docs;
    h[H_NSAMP] = d->num_samples;
    h[H_VOCAB] = d->vocab_size;
    h[H_CLASSES] = d->num_classes;
    h[H_LABELS] = d->labels != NULL;
    h[H_NKEPT] = d->num_kept;
    h[H_KEPT] = d->kept != NULL || d->prov_source != NULL;
    h[H_NSCORES] = d->nscores;
    h[H_NSOURCE] = d->num_source;
    h[H_PSCORES] = d->prov_scores != NULL;
    h[H_PCLUSTERS] = d->prov_clusters != NULL;
    h[H_WINDOW] = d->fill ? window_bytes_(d->fill_window) : 0;
    if (tok && d->offsets) { /* the first and last offset this rank contributes, relative to its first token */
        h[H_OFF_FIRST] = rank == 0 || d->num_docs == 0 ? d->offsets[0] : d->offsets[1];
        h[H_OFF_LAST] = d->offsets[d->num_docs];
    }
    all = malloc((size_t)world * H_N * sizeof *all);
    if (!all) rc = sk_error_set(SK_ENOMEM, "%s: out of memory", path);
    SK_TRY(sk_mpi_agree(rc));
    SK_TRY(sk_mpi_allgather_i64(h, H_N, all));

    /* the corpus-wide view: sums of the counts, maxima of the bounds */
    sk_corpus_data g = *d;
    g.num_tokens = g.num_docs = g.num_samples = g.num_kept = g.num_source = 0;
    int64_t tok0 = 0, row0 = 0, prev_end = -1, have_labels = 0, have_kept = 0, window = 0;
    for (int q = 0; q < world; q++) {
        const int64_t *a = all + (size_t)q * H_N;
        for (int i = H_KIND; i < H_NTOK; i++)
            if (a[i] != h[i] && rc == SK_OK)
                rc = sk_error_set(SK_EINVAL, "%s: rank %d's slice has another kind, dtype or shape than rank %d's",
                                  path, q, rank);
        if ((a[H_PSCORES] != h[H_PSCORES] || a[H_PCLUSTERS] != h[H_PCLUSTERS]) && rc == SK_OK)
            rc = sk_error_set(SK_EINVAL, "%s: ranks %d and %d pass different provenance arrays", path, q, rank);
        if (a[H_NSCORES] != h[H_NSCORES] && rc == SK_OK)
            rc = sk_error_set(SK_EINVAL, "%s: ranks %d and %d pass different score arrays", path, q, rank);
        if (q < rank) {
            tok0 += a[H_NTOK];
            row0 += tok ? a[H_NDOC] : a[H_NSAMP];
        }
        /* offsets ascend across slices: a rank's first value is at least the previous rank's last */
        int contributes = q == 0 || a[H_NDOC] > 0;
        if (tok && contributes) {
            int64_t first = g.num_tokens + a[H_OFF_FIRST];
            if (q == 0 && first != 0 && rc == SK_OK)
                rc = sk_error_set(SK_EINVAL, "%s: offsets[0] = %lld, must be 0", path, (long long)first);
            if (first < prev_end && rc == SK_OK)
                rc = sk_error_set(SK_EINVAL, "%s: offsets decrease between the slices of ranks %d and %d", path, q - 1,
                                  q);
            prev_end = g.num_tokens + a[H_OFF_LAST];
        }
        g.num_tokens += a[H_NTOK];
        g.num_docs += a[H_NDOC];
        g.num_samples += a[H_NSAMP];
        g.num_kept += a[H_NKEPT];
        g.num_source += a[H_NSOURCE];
        if (a[H_VOCAB] > g.vocab_size) g.vocab_size = a[H_VOCAB];
        if (a[H_CLASSES] > g.num_classes) g.num_classes = a[H_CLASSES];
        have_labels |= a[H_LABELS];
        if (a[H_WINDOW] > window) window = a[H_WINDOW]; /* one rank pulling: every rank writes in rounds */
        have_kept |= a[H_KEPT];
    }
    /* write_body_ only asks whether labels / provenance exist; the rows come from the pieces */
    static const int64_t none_ = 0;
    if (have_labels && !g.labels) g.labels = &none_;
    if (have_kept && !g.kept) g.kept = &none_;
    if (rc == SK_OK) rc = check_opts_(path, &o);
    if (rc == SK_OK) rc = validate_head_(path, &g);
    if (rc == SK_OK && tok && prev_end != g.num_tokens)
        rc = sk_error_set(SK_EINVAL, "%s: offsets end at %lld but there are %lld tokens", path, (long long)prev_end,
                          (long long)g.num_tokens);
    if (rc == SK_OK && (tok ? d->num_docs : d->num_samples) > 0 && have_labels && !d->labels)
        rc = sk_error_set(SK_EINVAL, "%s: rank %d passes no labels but another rank does", path, rank);
    if (rc == SK_OK) rc = validate_rows_(path, d, g.vocab_size, g.num_classes, tok0, row0);
    pieces_ pc;
    memset(&pc, 0, sizeof pc);
    if (rc == SK_OK && tok) { /* offsets become corpus positions; ranks other than 0 drop their leading entry */
        int64_t k0 = rank == 0 ? 0 : 1, n = d->num_docs + 1 - k0;
        off = malloc((size_t)(n > 0 ? n : 1) * sizeof *off);
        if (!off) rc = sk_error_set(SK_ENOMEM, "%s: out of memory", path);
        for (int64_t i = 0; off && i < n; i++) off[i] = tok0 + d->offsets[k0 + i];
        pc.tokens = (piece_){d->tokens, d->num_tokens, d->fill, d->fill_ctx};
        pc.offsets = (piece_){off, n, NULL, NULL};
    }
    int64_t nrows = tok ? d->num_docs : d->num_samples;
    pc.samples = (piece_){d->samples, tok ? 0 : d->num_samples, tok ? NULL : d->fill, d->fill_ctx};
    pc.labels = (piece_){d->labels, d->labels ? nrows : 0, NULL, NULL};
    pc.kept = (piece_){d->kept, d->kept ? d->num_kept : 0, NULL, NULL};
    for (int i = 0; i < d->nscores; i++) pc.scores[i] = (piece_){d->scores[i], nrows, NULL, NULL};
    pc.pscores = (piece_){d->prov_scores, d->prov_scores ? d->num_source : 0, NULL, NULL};
    pc.pclusters = (piece_){d->prov_clusters, d->prov_clusters ? d->num_source : 0, NULL, NULL};
    SK_TRY(sk_mpi_agree(rc));
    rc = write_file_(path, &g, &o, &pc, window, tok0);
done:
    free(all);
    free(off);
    return rc;
}

/* ---- reading ------------------------------------------------------------ */

struct sk_corpus {
    char *path;
    hid_t file;
    hid_t tokens, offsets, samples, labels, kept, pscores, pclusters; /* H5I_INVALID_HID when absent */
    char *prov_steps;                                                 /* /provenance steps attribute, or NULL */
    sk_corpus_info info;
    /* direct chunk decoding of /tokens (see read_direct_) */
    hsize_t main_chunk; /* rows per chunk of /tokens or /samples (0: not chunked) */
    hsize_t tok_chunk;  /* elements per chunk when the pipeline is [shuffle,] zstd, else 0 */
    int tok_shuffled;   /* HDF5 byte shuffle precedes zstd */
    void *ubuf;         /* shuffled bytes before unshuffling */
    size_t ucap;
    ZSTD_DCtx *dctx;
    void *zbuf;
    size_t zcap;
    int64_t fsize;        /* the file's size, bounding its layouts */
    char layout_err[600]; /* the first impossible layout open_ds_ saw */
    struct {
        hid_t ds;
        size_t bytes;
    } zx[12]; /* each dataset open_ds_ opened: its chunk size if its pipeline is [shuffle,] zstd, else 0 */
    int nzx;
};

/* A chunk's decoded size when ds's pipeline is [zstd] or [shuffle, zstd]
 * (size-preserving before zstd), else 0: what sk_zstd_expect checks. */
static size_t zstd_chunk_bytes_(hid_t ds)
{
    size_t n = 0;
    hid_t dcpl = H5Dget_create_plist(ds), ty = H5Dget_type(ds);
    hsize_t cd[H5S_MAX_RANK];
    unsigned fl, cv[8];
    size_t ncv = 8;
    int nf = dcpl >= 0 ? H5Pget_nfilters(dcpl) : -1;
    int nd = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED ? H5Pget_chunk(dcpl, H5S_MAX_RANK, cd) : -1;
    if (nd > 0 && ty >= 0 && (nf == 1 || nf == 2) &&
        (nf == 1 || H5Pget_filter2(dcpl, 0, &fl, &ncv, cv, 0, NULL, NULL) == H5Z_FILTER_SHUFFLE)) {
        ncv = 8;
        if (H5Pget_filter2(dcpl, (unsigned)nf - 1, &fl, &ncv, cv, 0, NULL, NULL) == SK_ZSTD_FILTER_ID) {
            n = H5Tget_size(ty);
            for (int i = 0; i < nd; i++) n *= (size_t)cd[i]; /* under 4 GiB: check_layout_ */
        }
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    if (ty >= 0) H5Tclose(ty);
    return n;
}

/* H5Dread with every zstd chunk held to its dataset's chunk size. */
static herr_t h5read_(const sk_corpus *c, hid_t ds, hid_t mt, hid_t ms, hid_t fs, void *out)
{
    int k = 0;
    while (k < c->nzx && c->zx[k].ds != ds) k++;
    sk_zstd_expect(k < c->nzx ? c->zx[k].bytes : zstd_chunk_bytes_(ds));
    herr_t e = H5Dread(ds, mt, ms, fs, H5P_DEFAULT, out);
    sk_zstd_expect(0);
    return e;
}

/* A dataset's layout must fit the file before anything is read or sized
 * from its dims (issue 16: sizes read from a file are checked against the
 * file's size). Every stored chunk of a dataset has a record in the file's
 * chunk index (at least 16 bytes in any index HDF5 1.10 writes; shrink
 * allocates every chunk), so a layout whose chunk count the file cannot
 * hold is corrupt: HDF5 would build a selection per chunk for each H5Dread
 * (a 1-element chunk of a mutated file: millions of them, seconds and
 * gigabytes per read; found by fuzz_corpus). A contiguous (uncompressed)
 * dataset holds its dims' bytes in the file, so dims claiming more bytes
 * than the file has are corrupt too (HDF5 would return fill values for
 * storage that was never written, and readers size buffers and loops from
 * the dims). A chunk must stay under the 4 GiB that H5Pset_chunk allows
 * when a file is written: a reader allocates a whole chunk to decode it.
 * Records the message in c->layout_err (open_body_ fails with it). */
static void check_layout_(sk_corpus *c, hid_t ds, const char *name)
{
    hid_t dcpl = H5Dget_create_plist(ds), sp = H5Dget_space(ds), ty = H5Dget_type(ds);
    hsize_t cd[H5S_MAX_RANK], dims[H5S_MAX_RANK];
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    H5D_layout_t lay = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
    size_t es = ty >= 0 ? H5Tget_size(ty) : 0;
    if (nd > 0 && H5Sget_simple_extent_dims(sp, dims, NULL) == nd) {
        double bytes = (double)es;
        for (int i = 0; i < nd; i++) bytes *= (double)dims[i];
        if (lay == H5D_CHUNKED && H5Pget_chunk(dcpl, nd, cd) == nd) {
            double n = 1, cb = (double)es;
            for (int i = 0; i < nd; i++) n *= cd[i] ? (double)((dims[i] + cd[i] - 1) / cd[i]) : INFINITY;
            for (int i = 0; i < nd; i++) cb *= (double)cd[i];
            if (cb >= 4294967296.0)
                snprintf(c->layout_err, sizeof c->layout_err,
                         "%s: /%s: chunks of %.0f bytes, over HDF5's cap of 4 GiB per chunk (corrupt layout)", c->path,
                         name, cb);
            else if (n > (double)c->fsize / 16 + 1)
                snprintf(c->layout_err, sizeof c->layout_err,
                         "%s: /%s: a chunk layout of %.0f chunks cannot be stored in a file of %lld bytes (corrupt "
                         "layout)",
                         c->path, name, n, (long long)c->fsize);
        } else if (lay == H5D_CONTIGUOUS && bytes > (double)c->fsize) {
            snprintf(c->layout_err, sizeof c->layout_err,
                     "%s: /%s: its dims claim %.0f bytes of uncompressed data, more than the file's %lld bytes "
                     "(corrupt or truncated)",
                     c->path, name, bytes, (long long)c->fsize);
        }
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    if (sp >= 0) H5Sclose(sp);
    if (ty >= 0) H5Tclose(ty);
}

static hid_t open_ds_(sk_corpus *c, const char *name)
{
    if (H5Lexists(c->file, name, H5P_DEFAULT) <= 0) return H5I_INVALID_HID;
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    /* a big chunk cache: the loader revisits chunks for shuffled windows */
    H5Pset_chunk_cache(dapl, 12421, (size_t)64 << 20, 1.0);
    hid_t ds = H5Dopen2(c->file, name, dapl);
    H5Pclose(dapl);
    if (ds >= 0 && !c->layout_err[0]) check_layout_(c, ds, name);
    if (ds >= 0 && !c->layout_err[0] && c->nzx < (int)(sizeof c->zx / sizeof *c->zx)) {
        c->zx[c->nzx].ds = ds;
        c->zx[c->nzx++].bytes = zstd_chunk_bytes_(ds);
    }
    return ds;
}

/* dims of a dataset; returns rank or -1 */
static int ds_dims_(hid_t ds, hsize_t *dims)
{
    hid_t s = H5Dget_space(ds);
    int r = H5Sget_simple_extent_ndims(s);
    if (r > 0 && r <= SK_CORPUS_MAX_DIMS + 1)
        H5Sget_simple_extent_dims(s, dims, NULL);
    else
        r = -1;
    H5Sclose(s);
    return r;
}

static int check_int_ds_(sk_corpus *c, hid_t ds, const char *name, hsize_t want)
{
    hsize_t dims[SK_CORPUS_MAX_DIMS + 1];
    hid_t t = H5Dget_type(ds);
    int isint = H5Tget_class(t) == H5T_INTEGER;
    H5Tclose(t);
    if (!isint) return sk_error_set(SK_EINVAL, "%s: /%s: wrong dtype, must be integer", c->path, name);
    if (ds_dims_(ds, dims) != 1 || dims[0] != want)
        return sk_error_set(SK_ECORRUPT, "%s: /%s: expected %llu values in one dimension", c->path, name,
                            (unsigned long long)want);
    return SK_OK;
}

/* /provenance/scores and /cluster_ids: 1-D, of one length (the source's rows). */
static int open_source_arrays_(sk_corpus *c)
{
    int rc = SK_OK;
    sk_corpus_info *in = &c->info;
    hsize_t dims[H5S_MAX_RANK];
    c->pscores = open_ds_(c, "provenance/scores");
    c->pclusters = open_ds_(c, "provenance/cluster_ids");
    if (c->pscores >= 0) {
        SK_FAIL_IF(ds_dims_(c->pscores, dims) != 1, SK_ECORRUPT, "%s: /provenance/scores must be 1-D", c->path);
        in->num_source = (int64_t)dims[0];
        in->has_prov_scores = 1;
        hid_t ds = c->pscores;
        get_attr_str_(ds, "name", in->prov_score_name, sizeof in->prov_score_name);
    }
    if (c->pclusters >= 0) {
        SK_FAIL_IF(ds_dims_(c->pclusters, dims) != 1 || (in->has_prov_scores && (int64_t)dims[0] != in->num_source),
                   SK_ECORRUPT, "%s: /provenance/cluster_ids must be 1-D, as long as /provenance/scores", c->path);
        in->num_source = (int64_t)dims[0];
        in->has_prov_clusters = 1;
    }
done:
    return rc;
}

static int open_body_(sk_corpus *c)
{
    int rc = SK_OK;
    sk_corpus_info *in = &c->info;
    char s[64];
    hsize_t dims[SK_CORPUS_MAX_DIMS + 1];
    struct stat st;
    SK_FAIL_IF(stat(c->path, &st) != 0, SK_ENOTFOUND, "%s: cannot open corpus: %s", c->path, strerror(errno));
    SK_FAIL_IF(S_ISDIR(st.st_mode), SK_EINVAL, "%s is a directory, expected a corpus file (.h5)", c->path);
    c->fsize = (int64_t)st.st_size;
    SK_FAIL_IF(H5Fis_hdf5(c->path) <= 0, SK_ECORRUPT, "%s: not an HDF5 file (bad or missing signature)", c->path);
    c->file = H5Fopen(c->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    SK_FAIL_IF(c->file < 0, SK_ECORRUPT, "%s: cannot open HDF5 file: %s", c->path, h5why_());
    SK_FAIL_IF(get_attr_str_(c->file, "shrink_format", s, sizeof s) < 0 || strcmp(s, "shrink-corpus"), SK_EINVAL,
               "%s: not a shrink corpus (root attribute shrink_format missing)", c->path);
    int64_t v = 0;
    SK_FAIL_IF(get_attr_i64_(c->file, "format_version", &v, 1) != 1, SK_EINVAL, "%s: attribute format_version missing",
               c->path);
    SK_FAIL_IF(v != SK_CORPUS_FORMAT_VERSION, SK_EVERSION, "%s: format_version %lld, this build reads %d", c->path,
               (long long)v, SK_CORPUS_FORMAT_VERSION);
    in->format_version = (int)v;
    SK_FAIL_IF(get_attr_str_(c->file, "kind", s, sizeof s) < 0, SK_EINVAL,
               "%s: attribute kind missing or not one string", c->path);
    if (!strcmp(s, "tokens"))
        in->kind = SK_CORPUS_TOKENS;
    else if (!strcmp(s, "samples"))
        in->kind = SK_CORPUS_SAMPLES;
    else
        SK_FAIL_IF(1, SK_EINVAL, "%s: attribute kind = '%s', must be tokens|samples", c->path, s);
    SK_FAIL_IF(get_attr_str_(c->file, "dtype", s, sizeof s) < 0, SK_EINVAL,
               "%s: attribute dtype missing or not one string", c->path);
    rc = sk_elem_parse(s, &in->type);
    if (rc < 0) {
        sk_error_prefix("%s: attribute dtype: ", c->path);
        goto done;
    }
    get_attr_str_(c->file, "source", in->source, sizeof in->source);
    get_attr_str_(c->file, "command", in->command, sizeof in->command);
    const char *main_name = in->kind == SK_CORPUS_TOKENS ? "tokens" : "samples";
    hid_t m = open_ds_(c, main_name);
    SK_FAIL_IF(m < 0, SK_ECORRUPT, "%s: dataset /%s missing", c->path, main_name);
    if (in->kind == SK_CORPUS_TOKENS)
        c->tokens = m;
    else
        c->samples = m;
    hid_t ft = H5Dget_type(m);
    sk_elem_type got;
    int bad = elem_from_h5_(ft, &got) < 0 || got != in->type;
    H5Tclose(ft);
    SK_FAIL_IF(bad, SK_EINVAL, "%s: /%s: wrong dtype, attribute says %s", c->path, main_name, sk_elem_name(in->type));
    int r = ds_dims_(m, dims);
    hid_t mdcpl = H5Dget_create_plist(m);
    hsize_t mcd[SK_CORPUS_MAX_DIMS + 1];
    if (r > 0 && H5Pget_layout(mdcpl) == H5D_CHUNKED && H5Pget_chunk(mdcpl, SK_CORPUS_MAX_DIMS + 1, mcd) == r)
        c->main_chunk = mcd[0];
    H5Pclose(mdcpl);
    if (in->kind == SK_CORPUS_TOKENS) {
        SK_FAIL_IF(in->type == SK_ELEM_F32, SK_EINVAL, "%s: /tokens: wrong dtype float32, token ids must be integers",
                   c->path);
        SK_FAIL_IF(r != 1, SK_ECORRUPT, "%s: /tokens must be one-dimensional", c->path);
        in->num_tokens = (int64_t)dims[0];
        /* direct decoding for the pipelines we write: [zstd] or [shuffle, zstd] */
        hid_t dcpl = H5Dget_create_plist(m);
        unsigned fl, cd[4];
        size_t ncd = 4;
        hsize_t cdim;
        int nf = H5Pget_nfilters(dcpl);
        if (H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 1, &cdim) == 1 && (nf == 1 || nf == 2)) {
            int ok = 1;
            if (nf == 2) {
                ncd = 4;
                ok = H5Pget_filter2(dcpl, 0, &fl, &ncd, cd, 0, NULL, NULL) == H5Z_FILTER_SHUFFLE;
                c->tok_shuffled = ok;
            }
            ncd = 4;
            if (ok && H5Pget_filter2(dcpl, (unsigned)nf - 1, &fl, &ncd, cd, 0, NULL, NULL) == SK_ZSTD_FILTER_ID)
                c->tok_chunk = cdim;
        }
        H5Pclose(dcpl);
        SK_FAIL_IF(get_attr_i64_(c->file, "vocab_size", &in->vocab_size, 1) != 1 || in->vocab_size <= 0, SK_EINVAL,
                   "%s: attribute vocab_size missing or not positive", c->path);
        c->offsets = open_ds_(c, "offsets");
        SK_FAIL_IF(c->offsets < 0, SK_ECORRUPT, "%s: dataset /offsets missing", c->path);
        SK_FAIL_IF(ds_dims_(c->offsets, dims) != 1 || dims[0] < 2, SK_ECORRUPT,
                   "%s: /offsets must be one-dimensional with at least 2 entries", c->path);
        SK_TRY(check_int_ds_(c, c->offsets, "offsets", dims[0]));
        in->num_docs = (int64_t)dims[0] - 1;
        in->num_samples = in->num_docs;
        /* cheap consistency: first and last offsets */
        int64_t ends[2];
        hsize_t st0 = 0, one = 1, stl = dims[0] - 1;
        hid_t fs = H5Dget_space(c->offsets), ms = H5Screate_simple(1, &one, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &st0, NULL, &one, NULL);
        herr_t e1 = h5read_(c, c->offsets, H5T_NATIVE_INT64, ms, fs, &ends[0]);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &stl, NULL, &one, NULL);
        herr_t e2 = e1 >= 0 ? h5read_(c, c->offsets, H5T_NATIVE_INT64, ms, fs, &ends[1]) : -1;
        H5Sclose(ms);
        H5Sclose(fs);
        if (e1 < 0 || e2 < 0) {
            const char *why = h5why_();
            SK_FAIL_IF(1, read_fail_code_(why), "%s: /offsets: cannot read: %s", c->path, why);
        }
        SK_FAIL_IF(ends[0] != 0 || ends[1] != in->num_tokens, SK_ECORRUPT,
                   "%s: /offsets do not add up: first %lld (must be 0), last %lld (must be %lld tokens)", c->path,
                   (long long)ends[0], (long long)ends[1], (long long)in->num_tokens);
    } else {
        SK_FAIL_IF(r < 2, SK_ECORRUPT, "%s: /samples must have at least 2 dimensions", c->path);
        in->num_samples = (int64_t)dims[0];
        in->ndim = r - 1;
        int64_t shp[SK_CORPUS_MAX_DIMS];
        int n = get_attr_i64_(c->file, "sample_shape", shp, SK_CORPUS_MAX_DIMS);
        SK_FAIL_IF(n != in->ndim, SK_EINVAL, "%s: attribute sample_shape missing or of the wrong rank", c->path);
        uint64_t row = sk_elem_size(in->type);
        for (int i = 0; i < n; i++) {
            SK_FAIL_IF(shp[i] != (int64_t)dims[i + 1], SK_ECORRUPT, "%s: /samples shape disagrees with sample_shape",
                       c->path);
            SK_FAIL_IF(shp[i] <= 0 || __builtin_mul_overflow(row, (uint64_t)shp[i], &row) || row > ((uint64_t)1 << 40),
                       SK_ECORRUPT, "%s: sample_shape[%d] = %lld: each sample needs 1 byte to 1 TiB", c->path, i,
                       (long long)shp[i]);
            in->shape[i] = shp[i];
        }
    }
    c->labels = open_ds_(c, "labels");
    if (c->labels >= 0) {
        SK_TRY(check_int_ds_(c, c->labels, "labels", (hsize_t)in->num_samples));
        in->has_labels = 1;
        SK_FAIL_IF(get_attr_i64_(c->file, "num_classes", &in->num_classes, 1) != 1 || in->num_classes <= 0, SK_EINVAL,
                   "%s: /labels present but attribute num_classes missing", c->path);
    }
    if (H5Lexists(c->file, "provenance", H5P_DEFAULT) > 0) {
        hid_t g = H5Gopen2(c->file, "provenance", H5P_DEFAULT);
        in->has_provenance = g >= 0;
        if (g >= 0) {
            get_attr_str_(g, "source_file", in->prov_source, sizeof in->prov_source);
            get_attr_str_(g, "method", in->prov_method, sizeof in->prov_method);
            rc = get_attr_vstr_alloc_(c->path, g, "steps", &c->prov_steps);
            H5Gclose(g);
            if (rc < 0) goto done;
        }
        c->kept = open_ds_(c, "provenance/kept_indices");
        if (c->kept >= 0) {
            SK_FAIL_IF(ds_dims_(c->kept, dims) != 1, SK_ECORRUPT, "%s: /provenance/kept_indices must be 1-D", c->path);
            in->num_kept = (int64_t)dims[0];
        }
        SK_TRY(open_source_arrays_(c));
    }
done:
    return rc;
}

int sk_corpus_open(sk_corpus **out, const char *path)
{
    int rc = SK_OK;
    *out = NULL;
    if (!path || !path[0]) return sk_error_set(SK_EINVAL, "corpus path is empty");
    sk_corpus *c = calloc(1, sizeof *c);
    if (!c) return sk_error_set(SK_ENOMEM, "%s: out of memory", path);
    c->file = c->tokens = c->offsets = c->samples = c->labels = c->kept = c->pscores = c->pclusters = H5I_INVALID_HID;
    c->path = strdup(path);
    sk_corpus_h5_lock();
    rc = sk_zstd_register();
    if (rc == SK_OK) rc = c->path ? open_body_(c) : sk_error_set(SK_ENOMEM, "out of memory");
    /* the root cause, whatever else the corrupt layout made open_body_ say */
    if (c->layout_err[0]) rc = sk_error_set(SK_ECORRUPT, "%s", c->layout_err);
    sk_corpus_h5_unlock();
    if (rc < 0) {
        sk_corpus_free(c);
        return rc;
    }
    *out = c;
    return SK_OK;
}

void sk_corpus_free(sk_corpus *c)
{
    if (!c) return;
    sk_corpus_h5_lock();
    hid_t ds[] = {c->tokens, c->offsets, c->samples, c->labels, c->kept, c->pscores, c->pclusters};
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++)
        if (ds[i] >= 0) H5Dclose(ds[i]);
    free(c->prov_steps);
    if (c->file >= 0) H5Fclose(c->file);
    sk_corpus_h5_unlock();
    ZSTD_freeDCtx(c->dctx);
    free(c->zbuf);
    free(c->ubuf);
    free(c->path);
    free(c);
}

const sk_corpus_info *sk_corpus_info_get(const sk_corpus *c) { return &c->info; }
int64_t sk_corpus_chunk_rows(const sk_corpus *c) { return (int64_t)c->main_chunk; }
const char *sk_corpus_path(const sk_corpus *c) { return c->path; }

/* Read rows [start, start+count) of a dataset (all trailing dims). */
static int read_rows_(sk_corpus *c, hid_t ds, const char *name, hid_t mtype, int64_t start, int64_t count, void *out)
{
    int rc = SK_OK;
    hsize_t dims[SK_CORPUS_MAX_DIMS + 1];
    if (ds < 0) return sk_error_set(SK_ENOTFOUND, "%s: dataset /%s does not exist", c->path, name);
    if (count == 0) return SK_OK;
    sk_corpus_h5_lock();
    hid_t fs = H5Dget_space(ds), ms = H5I_INVALID_HID;
    int r = H5Sget_simple_extent_ndims(fs);
    SK_FAIL_IF(r < 1 || r > SK_CORPUS_MAX_DIMS + 1, SK_ECORRUPT, "%s: /%s has %d dimensions, at most %d allowed",
               c->path, name, r, SK_CORPUS_MAX_DIMS + 1);
    H5Sget_simple_extent_dims(fs, dims, NULL);
    SK_FAIL_IF(start < 0 || count < 0 || (hsize_t)(start + count) > dims[0], SK_EINVAL,
               "%s: /%s: rows [%lld, %lld) outside [0, %llu)", c->path, name, (long long)start,
               (long long)(start + count), (unsigned long long)dims[0]);
    hsize_t st[SK_CORPUS_MAX_DIMS + 1] = {0}, cnt[SK_CORPUS_MAX_DIMS + 1];
    st[0] = (hsize_t)start;
    cnt[0] = (hsize_t)count;
    for (int i = 1; i < r; i++) cnt[i] = dims[i];
    ms = H5Screate_simple(r, cnt, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, cnt, NULL);
    if (h5read_(c, ds, mtype, ms, fs, out) < 0) {
        const char *why = h5why_();
        rc = sk_error_set(read_fail_code_(why), "%s: /%s: cannot read rows [%lld, %lld): %s", c->path, name,
                          (long long)start, (long long)(start + count), why);
    }
done:
    if (ms >= 0) H5Sclose(ms);
    H5Sclose(fs);
    sk_corpus_h5_unlock();
    return rc;
}

/* Undo HDF5's byte shuffle of 2-byte elements: lo[i] | hi[i] << 8
 * (little-endian). restrict and the fixed 32-element inner loop let GCC's
 * -O2 (cheap cost model, no epilogue) vectorise it: the byte-at-a-time loop
 * took a third of a shuffled loader epoch (perf). */
static void unshuffle2_(uint16_t *restrict d, const unsigned char *restrict lo, const unsigned char *restrict hi,
                        size_t n)
{
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (size_t k = 0; k < 32; k++) d[i + k] = (uint16_t)(lo[i + k] | hi[i + k] << 8);
    for (; i < n; i++) d[i] = (uint16_t)(lo[i] | hi[i] << 8);
}

/* Whole chunks of a zstd-only /tokens are fetched raw (H5Dread_chunk) and
 * decoded straight into the caller's buffer with one reused ZSTD_DCtx:
 * the same bytes HDF5's pipeline would produce, without its per-chunk
 * allocation and copy. The frame checksum is verified as usual. Edges that
 * are not whole chunks go through H5Dread. */
static int read_direct_(sk_corpus *c, int64_t start, int64_t count, char *out)
{
    int rc = SK_OK;
    const size_t es = sk_elem_size(c->info.type);
    const int64_t C = (int64_t)c->tok_chunk;
    int64_t first = (start + C - 1) / C * C, last = (start + count) / C * C; /* whole chunks in [first, last) */
    if (first >= last) return read_rows_(c, c->tokens, "tokens", h5type_(c->info.type), start, count, out);
    if (first > start) SK_TRY(read_rows_(c, c->tokens, "tokens", h5type_(c->info.type), start, first - start, out));
    sk_corpus_h5_lock();
    if (!c->dctx) c->dctx = ZSTD_createDCtx();
    for (int64_t e = first; e < last && rc == SK_OK; e += C) {
        hsize_t off = (hsize_t)e, zs = 0;
        uint32_t mask = 0;
        char *dst = out + (size_t)(e - start) * es;
        const size_t want = (size_t)C * es;
        if (H5Dget_chunk_storage_size(c->tokens, &off, &zs) < 0 || zs == 0) {
            rc = sk_error_set(SK_ECORRUPT, "%s: /tokens: chunk at element %lld missing: %s", c->path, (long long)e,
                              h5why_());
            break;
        }
        if (zs > (hsize_t)c->fsize) { /* the chunk index's size is read from the file: checked before allocating */
            rc = sk_error_set(SK_ECORRUPT,
                              "%s: /tokens: chunk at element %lld claims %llu bytes, more than the file's %lld",
                              c->path, (long long)e, (unsigned long long)zs, (long long)c->fsize);
            break;
        }
        if (zs > c->zcap) {
            void *p = realloc(c->zbuf, (size_t)zs);
            if (!p) {
                rc = sk_error_set(SK_ENOMEM, "out of memory");
                break;
            }
            c->zbuf = p;
            c->zcap = (size_t)zs;
        }
        if (H5Dread_chunk(c->tokens, H5P_DEFAULT, &off, &mask, c->zbuf) < 0) {
            const char *why = h5why_();
            rc = sk_error_set(read_fail_code_(why), "%s: /tokens: cannot read chunk at element %lld: %s", c->path,
                              (long long)e, why);
            break;
        }
        if (mask != 0) { /* a filter was skipped for this chunk: let HDF5 undo the rest */
            rc = read_rows_(c, c->tokens, "tokens", h5type_(c->info.type), e, C, dst);
            continue;
        }
        char *zdst = dst;
        if (c->tok_shuffled && es > 1) {
            if (want > c->ucap) {
                void *p = realloc(c->ubuf, want);
                if (!p) {
                    rc = sk_error_set(SK_ENOMEM, "out of memory");
                    break;
                }
                c->ubuf = p;
                c->ucap = want;
            }
            zdst = c->ubuf;
        }
        size_t got = c->dctx ? ZSTD_decompressDCtx(c->dctx, zdst, want, c->zbuf, (size_t)zs) : 0;
        if (!c->dctx || ZSTD_isError(got) || got != want) {
            rc = sk_error_set(SK_ECORRUPT, "%s: /tokens: corrupt chunk at element %lld: zstd decode: %s", c->path,
                              (long long)e,
                              !c->dctx            ? "no context"
                              : ZSTD_isError(got) ? ZSTD_getErrorName(got)
                                                  : "wrong size");
            break;
        }
        if (zdst != dst) { /* undo HDF5's shuffle: byte k of element i sits at k*C + i */
            const unsigned char *u = (const unsigned char *)zdst;
            unsigned char *d = (unsigned char *)dst;
            if (es == 2)
                unshuffle2_((uint16_t *)(void *)d, u, u + C, (size_t)C);
            else
                for (size_t k = 0; k < es; k++)
                    for (int64_t i = 0; i < C; i++) d[(size_t)i * es + k] = u[k * (size_t)C + (size_t)i];
        }
    }
    sk_corpus_h5_unlock();
    if (rc < 0) goto done;
    if (last < start + count)
        SK_TRY(read_rows_(c, c->tokens, "tokens", h5type_(c->info.type), last, start + count - last,
                          out + (size_t)(last - start) * es));
done:
    return rc;
}

int sk_corpus_read_tokens(sk_corpus *c, int64_t start, int64_t count, void *out)
{
    if (c->tok_chunk > 0 && start >= 0 && count > 0 && start + count <= c->info.num_tokens)
        return read_direct_(c, start, count, out);
    return read_rows_(c, c->tokens, "tokens", h5type_(c->info.type), start, count, out);
}
int sk_corpus_read_offsets(sk_corpus *c, int64_t start, int64_t count, int64_t *out)
{
    return read_rows_(c, c->offsets, "offsets", H5T_NATIVE_INT64, start, count, out);
}
int sk_corpus_read_samples(sk_corpus *c, int64_t start, int64_t count, void *out)
{
    return read_rows_(c, c->samples, "samples", h5type_(c->info.type), start, count, out);
}
int sk_corpus_read_labels(sk_corpus *c, int64_t start, int64_t count, int64_t *out)
{
    return read_rows_(c, c->labels, "labels", H5T_NATIVE_INT64, start, count, out);
}
int sk_corpus_read_kept(sk_corpus *c, int64_t start, int64_t count, int64_t *out)
{
    return read_rows_(c, c->kept, "provenance/kept_indices", H5T_NATIVE_INT64, start, count, out);
}
int sk_corpus_read_prov_scores(sk_corpus *c, int64_t start, int64_t count, float *out)
{
    return read_rows_(c, c->pscores, "provenance/scores", H5T_NATIVE_FLOAT, start, count, out);
}
int sk_corpus_read_prov_clusters(sk_corpus *c, int64_t start, int64_t count, int64_t *out)
{
    return read_rows_(c, c->pclusters, "provenance/cluster_ids", H5T_NATIVE_INT64, start, count, out);
}
const char *sk_corpus_prov_steps(const sk_corpus *c) { return c->prov_steps; }

int sk_corpus_storage(sk_corpus *c, const char *name, int64_t *stored, int64_t *raw, char *desc, size_t desc_len)
{
    int rc = SK_OK;
    sk_corpus_h5_lock();
    hid_t ds = H5Lexists(c->file, name, H5P_DEFAULT) > 0 ? H5Dopen2(c->file, name, H5P_DEFAULT) : H5I_INVALID_HID;
    hid_t dcpl = H5I_INVALID_HID, t = H5I_INVALID_HID, s = H5I_INVALID_HID;
    SK_FAIL_IF(ds < 0, SK_ENOTFOUND, "%s: dataset /%s does not exist", c->path, name);
    dcpl = H5Dget_create_plist(ds);
    t = H5Dget_type(ds);
    s = H5Dget_space(ds);
    if (stored) *stored = (int64_t)H5Dget_storage_size(ds);
    if (raw) *raw = (int64_t)H5Sget_simple_extent_npoints(s) * (int64_t)H5Tget_size(t);
    if (desc && desc_len) {
        size_t used = 0;
        desc[0] = '\0';
        int nf = H5Pget_nfilters(dcpl);
        for (int i = 0; i < nf; i++) {
            unsigned fl, cd[8];
            size_t ncd = 8;
            char fname[64] = "";
            H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &fl, &ncd, cd, sizeof fname, fname, NULL);
            const char *nm = id == SK_ZSTD_FILTER_ID       ? "zstd"
                             : id == H5Z_FILTER_DEFLATE    ? "deflate"
                             : id == H5Z_FILTER_FLETCHER32 ? "fletcher32"
                             : id == H5Z_FILTER_SHUFFLE    ? "shuffle"
                                                           : "filter";
            if (ncd > 0 && id != H5Z_FILTER_FLETCHER32 && id != H5Z_FILTER_SHUFFLE)
                used += (size_t)snprintf(desc + used, used < desc_len ? desc_len - used : 0, "%s%s(%u)", i ? "+" : "",
                                         nm, cd[0]);
            else
                used += (size_t)snprintf(desc + used, used < desc_len ? desc_len - used : 0, "%s%s", i ? "+" : "", nm);
        }
        if (nf == 0) used += (size_t)snprintf(desc, desc_len, "uncompressed");
        hsize_t cd[SK_CORPUS_MAX_DIMS + 1];
        if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
            int r = H5Pget_chunk(dcpl, SK_CORPUS_MAX_DIMS + 1, cd);
            if (used < desc_len)
                used += (size_t)snprintf(desc + used, desc_len - used, ", chunk %llu", (unsigned long long)cd[0]);
            for (int i = 1; i < r && used < desc_len; i++)
                used += (size_t)snprintf(desc + used, desc_len - used, "x%llu", (unsigned long long)cd[i]);
        }
    }
done:
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (ds >= 0) H5Dclose(ds);
    sk_corpus_h5_unlock();
    return rc;
}

/* ---- verify ------------------------------------------------------------- */

/* Read a dataset in pieces of `step` rows through `fn`. */
static int verify_int_range_(sk_corpus *c, hid_t ds, const char *name, int64_t n, int64_t lo, int64_t hi, int monotone)
{
    int rc = SK_OK;
    const int64_t step = 1 << 18;
    int64_t *buf = malloc((size_t)step * sizeof *buf), prev = INT64_MIN;
    SK_FAIL_IF(!buf, SK_ENOMEM, "out of memory");
    for (int64_t s = 0; s < n; s += step) {
        int64_t k = n - s < step ? n - s : step;
        SK_TRY(read_rows_(c, ds, name, H5T_NATIVE_INT64, s, k, buf));
        for (int64_t i = 0; i < k; i++) {
            SK_FAIL_IF(buf[i] < lo || buf[i] >= hi, SK_ECORRUPT, "%s: /%s[%lld] = %lld outside [%lld, %lld)", c->path,
                       name, (long long)(s + i), (long long)buf[i], (long long)lo, (long long)hi);
            SK_FAIL_IF(monotone && buf[i] < prev, SK_ECORRUPT, "%s: /%s decreases at %lld (%lld -> %lld)", c->path,
                       name, (long long)(s + i), (long long)prev, (long long)buf[i]);
            prev = buf[i];
        }
    }
done:
    free(buf);
    return rc;
}

int sk_corpus_verify(sk_corpus *c)
{
    int rc = SK_OK;
    const sk_corpus_info *in = &c->info;
    if (in->kind == SK_CORPUS_TOKENS) {
        SK_TRY(verify_int_range_(c, c->offsets, "offsets", in->num_docs + 1, 0, in->num_tokens + 1, 1));
        /* tokens read as int64 so one range check covers every dtype */
        SK_TRY(verify_int_range_(c, c->tokens, "tokens", in->num_tokens, 0, in->vocab_size, 0));
    } else {
        size_t row = sk_elem_size(in->type) * (size_t)sk_corpus_sample_elems(in);
        int64_t step = (int64_t)((64u << 20) / row);
        if (step < 1) step = 1;
        void *buf = malloc((size_t)step * row);
        SK_FAIL_IF(!buf, SK_ENOMEM, "out of memory");
        for (int64_t s = 0; s < in->num_samples && rc == SK_OK; s += step)
            rc = sk_corpus_read_samples(c, s, in->num_samples - s < step ? in->num_samples - s : step, buf);
        free(buf);
        if (rc < 0) goto done;
    }
    if (in->has_labels) SK_TRY(verify_int_range_(c, c->labels, "labels", in->num_samples, 0, in->num_classes, 0));
    if (c->kept >= 0) SK_TRY(verify_int_range_(c, c->kept, "provenance/kept_indices", in->num_kept, 0, INT64_MAX, 0));
    if (H5Lexists(c->file, "scores", H5P_DEFAULT) > 0) {
        /* decode every score array too */
        sk_corpus_h5_lock();
        hid_t g = H5Gopen2(c->file, "scores", H5P_DEFAULT);
        H5G_info_t gi;
        hsize_t nobj = (g >= 0 && H5Gget_info(g, &gi) >= 0) ? gi.nlinks : 0;
        const int64_t step = 1 << 18; /* in pieces: num_samples comes from the file's dims */
        float *buf = malloc((size_t)step * sizeof *buf);
        if (!buf) rc = sk_error_set(SK_ENOMEM, "%s: /scores: out of memory", c->path);
        for (hsize_t i = 0; i < nobj && rc == SK_OK; i++) {
            char nm[256];
            H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nm, sizeof nm, H5P_DEFAULT);
            hid_t ds = H5Dopen2(g, nm, H5P_DEFAULT);
            char full[300];
            hsize_t sd[SK_CORPUS_MAX_DIMS + 1];
            snprintf(full, sizeof full, "scores/%s", nm);
            if (ds < 0)
                rc = sk_error_set(SK_ECORRUPT, "%s: /%s unreadable", c->path, full);
            else if (ds_dims_(ds, sd) != 1 || sd[0] != (hsize_t)in->num_samples)
                rc = sk_error_set(SK_ECORRUPT, "%s: /%s must hold one value per sample (%lld) in one dimension",
                                  c->path, full, (long long)in->num_samples);
            else
                for (int64_t s0 = 0; s0 < in->num_samples && rc == SK_OK; s0 += step)
                    rc = read_rows_(c, ds, full, H5T_NATIVE_FLOAT, s0,
                                    in->num_samples - s0 < step ? in->num_samples - s0 : step, buf);
            if (ds >= 0) H5Dclose(ds);
        }
        free(buf);
        if (g >= 0) H5Gclose(g);
        sk_corpus_h5_unlock();
    }
done:
    return rc;
}
