/* sk_prepare.c - importer/exporter tables and the `shrink prepare` driver
 * (sk_prepare.h). */
#include "sk_prepare.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "sk_config.h"
#include "sk_log.h"
#include "sk_mpi.h"

/* Tables indexed by the config enums (zstd style), so prepare.format and
 * prepare.export parse straight into the entry's index. */
static const sk_importer *const importers_[SK_FORMAT_COUNT] = {
    [SK_FORMAT_IDX] = &sk_importer_idx,     [SK_FORMAT_TEXT] = &sk_importer_text,
    [SK_FORMAT_JSONL] = &sk_importer_jsonl, [SK_FORMAT_MEGATRON] = &sk_importer_megatron,
    [SK_FORMAT_LLMC] = &sk_importer_llmc,
};
static const sk_exporter *const exporters_[SK_EXPORT_COUNT] = {
    [SK_EXPORT_NONE] = NULL, /* import instead */
    [SK_EXPORT_MEGATRON] = &sk_exporter_megatron,
    [SK_EXPORT_LLMC] = &sk_exporter_llmc,
};

const sk_importer *sk_importer_at(int format)
{
    return format >= 0 && format < SK_FORMAT_COUNT && importers_[format]->version == SK_IMPORTER_VERSION
               ? importers_[format]
               : NULL;
}

const char *sk_importer_name_at(int format)
{
    return format >= 0 && format < SK_FORMAT_COUNT ? importers_[format]->name : NULL;
}

const sk_importer *sk_importer_find(const char *name)
{
    return sk_importer_at(sk_cfg_choice_index(sk_importer_name_at, name));
}

const sk_exporter *sk_exporter_at(int export_)
{
    return export_ > SK_EXPORT_NONE && export_ < SK_EXPORT_COUNT && exporters_[export_]->version == SK_EXPORTER_VERSION
               ? exporters_[export_]
               : NULL;
}

const char *sk_prepare_export_name(int export_)
{
    if (export_ == SK_EXPORT_NONE) return "none";
    return export_ > SK_EXPORT_NONE && export_ < SK_EXPORT_COUNT ? exporters_[export_]->name : NULL;
}

const char *sk_prepare_split_name(int i)
{
    static const char *const names[SK_SPLIT_MODE_COUNT] = {[SK_SPLIT_PERCENT] = "percent",
                                                           [SK_SPLIT_BLANK] = "blank-line",
                                                           [SK_SPLIT_LINE] = "line",
                                                           [SK_SPLIT_NONE] = "none"};
    return i >= 0 && i < SK_SPLIT_MODE_COUNT ? names[i] : NULL;
}

const sk_exporter *sk_exporter_find(const char *name)
{
    return sk_exporter_at(sk_cfg_choice_index(sk_prepare_export_name, name));
}

void sk_import_release(sk_corpus_data *d)
{
    if (!d) return;
    free((void *)d->tokens);
    free((void *)d->offsets);
    free((void *)d->samples);
    free((void *)d->labels);
    memset(d, 0, sizeof *d);
}

int sk_prepare_slurp_(const char *path, unsigned char **buf, size_t *len, int gz)
{
    int rc = SK_OK;
    unsigned char *b = NULL;
    size_t n = 0, cap = 0;
    *buf = NULL;
    *len = 0;
    if (!path || !path[0]) return sk_error_set(SK_EINVAL, "no input file given (prepare.input)");
    if (gz) { /* gzread reads plain files transparently */
        gzFile f = gzopen(path, "rb");
        SK_FAIL_IF(!f, SK_ENOTFOUND, "%s: cannot open: %s", path, strerror(errno ? errno : ENOENT));
        for (;;) {
            if (cap - n < (1u << 20)) {
                size_t nc = cap ? cap * 2 : (4u << 20);
                unsigned char *p = realloc(b, nc);
                if (!p) {
                    gzclose(f);
                    SK_FAIL_IF(1, SK_ENOMEM, "%s: out of memory", path);
                }
                b = p;
                cap = nc;
            }
            int got = gzread(f, b + n, (unsigned)(cap - n > (1u << 30) ? (1u << 30) : cap - n));
            if (got < 0) {
                int e;
                const char *msg = gzerror(f, &e);
                rc = sk_error_set(SK_EINVAL, "%s: corrupt gzip data: %s", path, msg);
                gzclose(f);
                goto done;
            }
            if (got == 0) break;
            n += (size_t)got;
        }
        gzclose(f);
    } else {
        FILE *f = fopen(path, "rb");
        SK_FAIL_IF(!f, SK_ENOTFOUND, "%s: cannot open: %s", path, strerror(errno));
        fseeko(f, 0, SEEK_END);
        off_t sz = ftello(f);
        fseeko(f, 0, SEEK_SET);
        b = malloc(sz > 0 ? (size_t)sz : 1);
        if (!b) {
            fclose(f);
            SK_FAIL_IF(1, SK_ENOMEM, "%s: out of memory (%lld bytes)", path, (long long)sz);
        }
        n = sz > 0 ? fread(b, 1, (size_t)sz, f) : 0;
        int err = ferror(f);
        fclose(f);
        SK_FAIL_IF(err || (sz > 0 && n != (size_t)sz), SK_EIO, "%s: read failed", path);
    }
    *buf = b;
    *len = n;
    b = NULL;
done:
    free(b);
    return rc;
}

int sk_prepare_file_size_(const char *path, int64_t *size)
{
    struct stat st;
    if (!path || !path[0]) return sk_error_set(SK_EINVAL, "no input file given (prepare.input)");
    if (stat(path, &st) != 0) return sk_error_set(SK_ENOTFOUND, "%s: cannot open: %s", path, strerror(errno));
    *size = (int64_t)st.st_size;
    return SK_OK;
}

int sk_prepare_read_range_(const char *path, int64_t off, size_t len, unsigned char **buf)
{
    int rc = SK_OK;
    FILE *f = NULL;
    unsigned char *b = NULL;
    struct stat sb;
    *buf = NULL;
    f = fopen(path, "rb");
    SK_FAIL_IF(!f, SK_ENOTFOUND, "%s: cannot open: %s", path, strerror(errno));
    /* the range is checked against the file before allocating for it */
    SK_FAIL_IF(off < 0 || (fstat(fileno(f), &sb) == 0 &&
                           (len > (size_t)INT64_MAX - (size_t)off || off + (int64_t)len > (int64_t)sb.st_size)),
               SK_EINVAL, "%s: truncated: bytes [%lld, %lld) wanted, the file ends at %lld", path, (long long)off,
               (long long)off + (long long)len, (long long)sb.st_size);
    b = malloc(len ? len : 1);
    SK_FAIL_IF(!b, SK_ENOMEM, "%s: out of memory (%zu bytes)", path, len);
    SK_FAIL_IF(fseeko(f, (off_t)off, SEEK_SET) != 0, SK_EIO, "%s: cannot seek to byte %lld: %s", path, (long long)off,
               strerror(errno));
    size_t got = len ? fread(b, 1, len, f) : 0;
    SK_FAIL_IF(ferror(f), SK_EIO, "%s: read failed: %s", path, strerror(errno));
    SK_FAIL_IF(got != len, SK_EINVAL, "%s: truncated: bytes [%lld, %lld) wanted, the file ends at %lld", path,
               (long long)off, (long long)(off + (int64_t)len), (long long)(off + (int64_t)got));
    *buf = b;
    b = NULL;
done:
    if (f) fclose(f);
    free(b);
    return rc;
}

void sk_prepare_share_(int64_t n, const sk_import_share *s, int64_t *lo, int64_t *hi)
{
    *lo = n / s->world * s->rank + (n % s->world) * s->rank / s->world;
    *hi = n / s->world * (s->rank + 1) + (n % s->world) * (s->rank + 1) / s->world;
}

int sk_prepare_commit_(const char *tmp, const char *path, int ok)
{
    if (!ok) {
        unlink(tmp);
        return SK_ERROR;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return sk_error_set(SK_EIO, "%s: cannot rename %s into place: %s", path, tmp, strerror(e));
    }
    return SK_OK;
}

/* The input (and labels) must be files, not directories; the output must
 * not be the input (same inode: writing it would destroy the source), a
 * directory, or, unless prepare.overwrite, an existing file. `outs` are
 * the names the output takes (megatron exports: PREFIX.bin and .idx).
 * Local: no MPI calls. */
static int check_paths_(const sk_prepare_config *cfg, const char *const *outs, int nouts)
{
    struct stat in_st, lab_st, out_st;
    int have_in = stat(cfg->input, &in_st) == 0, have_lab = cfg->labels[0] && stat(cfg->labels, &lab_st) == 0;
    if (have_in && S_ISDIR(in_st.st_mode))
        return sk_error_set(SK_EINVAL, "prepare.input = %s is a directory, expected a file", cfg->input);
    if (have_lab && S_ISDIR(lab_st.st_mode))
        return sk_error_set(SK_EINVAL, "prepare.labels = %s is a directory, expected a file", cfg->labels);
    for (int i = 0; i < nouts; i++) {
        if (stat(outs[i], &out_st) != 0) continue;
        if (S_ISDIR(out_st.st_mode))
            return sk_error_set(SK_EINVAL, "prepare.output = %s is a directory, expected a file name", outs[i]);
        if ((have_in && in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino) ||
            (have_lab && lab_st.st_dev == out_st.st_dev && lab_st.st_ino == out_st.st_ino))
            return sk_error_set(SK_EINVAL, "prepare.output = %s is the input file itself (it would be destroyed)",
                                outs[i]);
        if (!cfg->overwrite)
            return sk_error_set(SK_EINVAL, "prepare.output = %s exists (set prepare.overwrite=true to replace it)",
                                outs[i]);
    }
    return SK_OK;
}

/* The file names an export to `out` writes: out itself, or for Megatron
 * PREFIX.bin and PREFIX.idx (out may name either). */
static int export_names_(const sk_prepare_config *cfg, char names[2][SK_PREPARE_STR_MAX + 8])
{
    if (cfg->export_ != SK_EXPORT_MEGATRON) {
        snprintf(names[0], sizeof names[0], "%s", cfg->output);
        return 1;
    }
    size_t n = strlen(cfg->output);
    if (n >= 4 && (!strcmp(cfg->output + n - 4, ".bin") || !strcmp(cfg->output + n - 4, ".idx"))) n -= 4;
    snprintf(names[0], sizeof names[0], "%.*s.bin", (int)n, cfg->output);
    snprintf(names[1], sizeof names[1], "%.*s.idx", (int)n, cfg->output);
    return 2;
}

static int do_export_(const sk_prepare_config *cfg, const sk_exporter *ex)
{
    int rc = SK_OK;
    sk_corpus *c = NULL;
    char names[2][SK_PREPARE_STR_MAX + 8];
    const char *outs[2] = {names[0], names[1]};
    SK_TRY(check_paths_(cfg, outs, export_names_(cfg, names)));
    SK_TRY(sk_corpus_open(&c, cfg->input));
    SK_TRY(ex->export_(c, cfg->output));
    SK_LOG_INFO("exported %s to %s (%s)", cfg->input, cfg->output, ex->name);
done:
    sk_corpus_free(c);
    return rc;
}

int sk_prepare_validate(const sk_prepare_config *cfg)
{
    int rc = SK_OK;
    SK_FAIL_IF(cfg->level < 1 || cfg->level > 22, SK_EINVAL, "prepare.level = %lld, must be in 1..22",
               (long long)cfg->level);
    SK_FAIL_IF(cfg->chunk_kib < 1, SK_EINVAL, "prepare.chunk_kib = %lld, must be >= 1", (long long)cfg->chunk_kib);
    SK_FAIL_IF(!cfg->input[0], SK_EINVAL, "prepare.input is empty (set prepare.input=FILE)");
    if (cfg->export_ != SK_EXPORT_NONE) {
        SK_FAIL_IF(!sk_exporter_at(cfg->export_), SK_EINVAL, "prepare.export = %d is not an exporter", cfg->export_);
        SK_FAIL_IF(!cfg->output[0], SK_EINVAL, "prepare.output is empty (export target; set prepare.output=PREFIX)");
    } else {
        SK_FAIL_IF(!sk_importer_at(cfg->format), SK_EINVAL, "prepare.format = %d is not an importer", cfg->format);
        SK_FAIL_IF(!cfg->output[0], SK_EINVAL, "prepare.output is empty (set prepare.output=OUT.h5)");
    }
done:
    return rc;
}

int sk_prepare_run(const sk_prepare_config *cfg)
{
    int rc = SK_OK;
    const int rank = sk_mpi_info_get()->rank, world = sk_mpi_info_get()->world;
    sk_corpus_data d;
    memset(&d, 0, sizeof d);
    SK_TRY(sk_prepare_validate(cfg));
    if (cfg->export_ != SK_EXPORT_NONE) {
        if (rank == 0) rc = do_export_(cfg, sk_exporter_at(cfg->export_));
        goto done;
    }
    const sk_importer *im = sk_importer_at(cfg->format);
    const sk_import_share share = {rank, world};
    const char *out = cfg->output;
    SK_TRY(sk_mpi_agree(check_paths_(cfg, &out, 1)));
    /* a rank whose share fails must not leave the others in a collective */
    SK_TRY(sk_mpi_agree(im->import(cfg, &share, &d)));
    int64_t tot[3] = {d.num_docs, d.num_tokens, d.num_samples};
    SK_TRY(sk_mpi_allreduce_sum_i64(tot, 3));
    SK_FAIL_IF(d.kind == SK_CORPUS_TOKENS && tot[0] == 0, SK_EINVAL, "%s: empty input: no %s documents found",
               cfg->input, im->name);
    if (rank == 0 && cfg->format == SK_FORMAT_TEXT && cfg->split != SK_SPLIT_NONE && tot[0] == 1)
        SK_LOG_WARN("%s: the whole file became one document (prepare.split=%s found no boundary); "
                    "set prepare.split=line, blank-line or none to say how it splits",
                    cfg->input, sk_prepare_split_name(cfg->split));
    char source[2 * SK_PREPARE_STR_MAX + 32];
    snprintf(source, sizeof source, "%s:%s%s%s", im->name, cfg->input, cfg->labels[0] ? " labels:" : "", cfg->labels);
    d.source = source;
    d.command = cfg->command;
    sk_corpus_write_opts o = {SK_COMPRESS_ZSTD, (int)cfg->level, cfg->chunk_kib * 1024, cfg->fletcher32,
                              cfg->byteshuffle};
    SK_TRY(sk_corpus_write_part(cfg->output, &d, &o));
    if (d.kind == SK_CORPUS_TOKENS)
        SK_LOG_INFO("wrote %s: %lld documents, %lld tokens", cfg->output, (long long)tot[0], (long long)tot[1]);
    else
        SK_LOG_INFO("wrote %s: %lld samples", cfg->output, (long long)tot[2]);
done:
    sk_import_release(&d);
    return rc;
}
