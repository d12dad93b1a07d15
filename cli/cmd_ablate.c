/* cmd_ablate.c - `shrink ablate`: run a grid of compression methods x
 * budgets x seeds (sk_ablate.h builds and checks it) cell by cell through
 * sk_train_run in this process, and report.
 *
 * Order of work: every cell's config is built and checked, then set up
 * as the trainer would short of training (sk_ablate_plan_check; nothing
 * runs and nothing is written if one fails); ablate.out_dir/plan.json is
 * written, or compared with the one there (a different base config is
 * refused unless --force); the
 * condensed corpora the cells need are made by the whole world, each once
 * (a lock file per corpus, so separate processes of a job array wait for
 * each other instead of writing it twice); then the world splits into
 * groups of ablate.ranks_per_cell ranks (sk_mpi_comm_split) and each
 * group's leader claims the next cell nobody holds: an fcntl write lock on
 * cells/<id>.lock, taken without waiting and kept while the cell runs. The
 * kernel drops it when a process dies, so a killed cell is claimed again
 * by the next run, which resumes it from its newest valid checkpoint. A
 * finished cell is cells/<id>/cell.json with the XXH64 of its effective
 * config; a cell whose record has that hash is skipped. At the end world
 * rank 0 merges every record there into results.csv, table.md and plots
 * (sk_ablate_report.c), also those other processes wrote. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "sk_ablate.h"
#include "sk_cli.h"
#include "sk_condense.h"
#include "sk_cost.h"
#include "sk_data_config.h"
#include "sk_error.h"
#include "sk_fs.h"
#include "sk_mpi.h"
#include "sk_run_config.h"
#include "sk_select_config.h"
#include "sk_time.h"
#include "sk_train.h"
#include "sk_train_guard.h"

#define USAGE_ \
    "usage: shrink ablate --config FILE [--set key=value]... [--cells A:B] [--force] [--dry-run] | --report DIR"

static void *sec_(const sk_ablate_plan *p, void **bases, const char *name)
{
    int i = sk_ablate_sec(p, name);
    return i < 0 ? NULL : bases[i];
}

static int world_root_(void) { return sk_mpi_world_rank() == 0; }

#define PATH_N_ 4096

/* snprintf into a PATH_N_ buffer; a path that does not fit is an error */
static int path_(char *buf, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int path_(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, PATH_N_, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATH_N_) return sk_error_set(SK_EINVAL, "path too long under ablate.out_dir: %.60s...", buf);
    return SK_OK;
}

/* ---- files -------------------------------------------------------------------- */

static int write_json_(const char *path, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    if (!s) return sk_error_set(SK_ENOMEM, "%s: out of memory", path);
    const void *bufs[2] = {s, "\n"};
    size_t lens[2] = {strlen(s), 1};
    int rc = sk_fs_write_atomic(path, bufs, lens, 2);
    free(s);
    return rc;
}

static json_t *num_(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static void hex_(char *buf, uint64_t h) { snprintf(buf, 17, "%016llx", (unsigned long long)h); }

/* A lock on `path` (created if missing): an fcntl write lock over the whole
 * file, waiting for it when `wait`. Returns the fd, -1 when another process
 * holds it (no wait), or a negative SK_E* (< -1) on error. */
static int lock_(const char *path, int wait)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return sk_error_set(SK_EIO, "%s: %s", path, strerror(errno)) - 100;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    while (fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl) < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        close(fd);
        if (!wait && (e == EACCES || e == EAGAIN)) return -1;
        return sk_error_set(SK_EIO, "%s: lock: %s", path, strerror(e)) - 100;
    }
    return fd;
}

static int exists_(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The hash a finished cell recorded (0: no record). */
static uint64_t recorded_hash_(const char *dir, const sk_ablate_cell *c)
{
    char path[PATH_N_];
    uint64_t h = 0;
    (void)path_(path, "%s/cells/%s/cell.json", dir, c->id);
    json_t *j = json_load_file(path, 0, NULL);
    const char *s = j ? json_string_value(json_object_get(j, "hash")) : NULL;
    if (s) h = strtoull(s, NULL, 16);
    json_decref(j);
    return h;
}

/* ---- plan.json ------------------------------------------------------------------ */

static int write_plan_(const sk_ablate_plan *p, int force)
{
    int rc = SK_OK;
    char path[PATH_N_], h[17];
    json_t *j = NULL, *cells = NULL;
    (void)path_(path, "%s/plan.json", p->cfg.out_dir);
    hex_(h, p->base_hash);
    json_t *old = json_load_file(path, 0, NULL);
    if (old) {
        char oh[32];
        const char *o = json_string_value(json_object_get(old, "base_hash"));
        snprintf(oh, sizeof oh, "%s", o ? o : "?");
        json_decref(old);
        SK_FAIL_IF(strcmp(oh, h) && !force, SK_EINVAL,
                   "%s: ablate.out_dir holds a grid of a different base config (base hash %s, this one %s): "
                   "use another ablate.out_dir, or --force to rerun every cell whose config changed",
                   path, oh, h);
    }
    j = json_object();
    cells = json_array();
    SK_FAIL_IF(!j || !cells, SK_ENOMEM, "out of memory");
    json_object_set_new(j, "base_hash", json_string(h));
    json_object_set_new(j, "budget", json_string(p->cfg.budget == SK_ABLATE_BUDGET_EPOCHS ? "epochs" : "steps"));
    for (int i = 0; i < p->ncells; i++) {
        const sk_ablate_cell *c = &p->cells[i];
        json_t *o = json_object();
        char ch[17];
        hex_(ch, c->hash);
        json_object_set_new(o, "id", json_string(c->id));
        json_object_set_new(o, "method", json_string(p->methods[c->method].spec));
        json_object_set_new(o, "hash", json_string(ch));
        json_array_append_new(cells, o);
    }
    json_object_set_new(j, "cells", cells);
    cells = NULL;
    SK_TRY(write_json_(path, j));
done:
    json_decref(cells);
    json_decref(j);
    return rc;
}

/* ---- one cell ------------------------------------------------------------------- */

static int has_checkpoint_(const char *run_dir)
{
    char ck[PATH_N_];
    (void)path_(ck, "%s/ckpt", run_dir);
    return exists_(ck);
}

/* The leader's part of starting a cell: its directory, its config hash
 * and config.yaml; *resume = 1 when a run of this very config left a
 * checkpoint (cells/<id>/hash), else the cell starts over. */
static int prepare_cell_(const sk_ablate_plan *p, const sk_ablate_cell *c, const char *dir, const char *run_dir,
                         const char *hash, int *resume)
{
    int rc = SK_OK;
    char path[PATH_N_], old[32] = "";
    FILE *f = NULL;
    SK_TRY(sk_fs_mkdir_p(dir));
    (void)path_(path, "%s/hash", dir);
    f = fopen(path, "r");
    if (f) {
        if (!fgets(old, sizeof old, f)) old[0] = '\0';
        fclose(f);
        f = NULL;
    }
    *resume = !strncmp(old, hash, 16) && has_checkpoint_(run_dir);
    const void *b[1] = {hash};
    size_t l[1] = {16};
    SK_TRY(sk_fs_write_atomic(path, b, l, 1));
    (void)path_(path, "%s/config.yaml", dir);
    f = fopen(path, "w");
    SK_FAIL_IF(!f, SK_EIO, "%s: %s", path, strerror(errno));
    rc = sk_cfg_write(f, (const sk_cfg_section *const *)p->secs, p->nsec, c->bases);
    int cl = fclose(f);
    f = NULL;
    SK_FAIL_IF(cl != 0 && rc == 0, SK_EIO, "%s: write failed", path);
done:
    if (f) fclose(f);
    return rc;
}

/* Everything a cell does on every rank of its group; the leader writes the
 * record. */
static int run_cell_(const sk_ablate_plan *p, sk_ablate_cell *c, int leader, const char *command)
{
    int rc = SK_OK;
    char dir[PATH_N_], run_dir[PATH_N_], path[PATH_N_], hash[17];
    json_t *j = NULL, *prev = NULL;
    double t0 = sk_now();
    const sk_ablate_method *m = &p->methods[c->method];
    sk_train_result res;
    sk_cost_result cost;
    int have_cost = 0;
    hex_(hash, c->hash);
    (void)path_(dir, "%s/cells/%s", p->cfg.out_dir, c->id);
    (void)path_(run_dir, "%s/run", dir);
    /* the leader prepares the directory; every rank leaves here together on failure */
    int resume = 0;
    if (leader) rc = prepare_cell_(p, c, dir, run_dir, hash, &resume);
    rc = sk_mpi_agree(rc);
    if (rc == 0) rc = sk_mpi_bcast(&resume, sizeof resume, 0);
    if (rc < 0) return rc;

    sk_train_opts o;
    sk_ablate_cell_opts(p, c, &o);
    o.out_dir = run_dir;
    o.overwrite = 1; /* a cell's run directory is the grid's: an attempt killed before its first checkpoint */
    char ckpt[PATH_N_];
    (void)path_(ckpt, "%s/ckpt", run_dir);
    o.resume = resume ? ckpt : NULL;
    o.resume_latest_valid = resume;
    o.command = NULL; /* the hint to resume is "run shrink ablate again", not train --resume */
    (void)command;
    o.progress = 0;
    if (leader)
        fprintf(stderr, "ablate: cell %d %s: %s on %d rank%s (%lld steps)\n", c->index, resume ? "resumes" : "starts",
                c->id, sk_mpi_info_get()->world, sk_mpi_info_get()->world > 1 ? "s" : "", (long long)o.train->steps);
    /* a cell killed after its final checkpoint resumes into no step and no evaluation: its quality is the
     * summary the finished run wrote before the kill */
    if (leader && resume) {
        (void)path_(path, "%s/summary.json", run_dir);
        prev = json_load_file(path, 0, NULL);
    }
    SK_TRY(sk_train_run(&o, &res));
    if (prev && !isfinite(res.eval_loss) && res.steps == o.train->steps) {
        json_t *v;
        if ((v = json_object_get(prev, "eval_loss")) && json_is_number(v)) res.eval_loss = json_number_value(v);
        if ((v = json_object_get(prev, "eval_acc")) && json_is_number(v)) res.eval_acc = json_number_value(v);
        if ((v = json_object_get(prev, "eval_bpb")) && json_is_number(v)) res.eval_bpb = json_number_value(v);
        if ((v = json_object_get(prev, "loss")) && json_is_number(v)) res.loss = json_number_value(v);
        if ((v = json_object_get(prev, "seconds")) && json_is_number(v)) res.seconds = json_number_value(v);
    }
    if (m->scorer[0] && p->cfg.cost) {
        sk_cost_opts co;
        sk_cost_opts_default(&co);
        co.max_seconds = p->cfg.cost_seconds;
        SK_TRY(sk_cost_measure(&o, &co, &cost));
        have_cost = 1;
    }
    if (!leader) goto done;

    j = json_object();
    SK_FAIL_IF(!j, SK_ENOMEM, "out of memory");
    json_object_set_new(j, "id", json_string(c->id));
    json_object_set_new(j, "index", json_integer(c->index));
    json_object_set_new(j, "hash", json_string(hash));
    json_object_set_new(j, "method", json_string(m->spec));
    json_object_set_new(j, "scorer", json_string(m->scorer));
    json_object_set_new(j, "strategy", json_string(m->strategy));
    json_object_set_new(j, "condense", json_string(m->condense));
    json_object_set_new(j, "keep", num_(c->keep));
    json_object_set_new(j, "condense_keep", num_(c->ckeep));
    json_object_set_new(j, "axes", json_string(c->axes));
    json_object_set_new(j, "seed", json_integer(c->seed));
    json_object_set_new(j, "budget", json_string(p->cfg.budget == SK_ABLATE_BUDGET_EPOCHS ? "epochs" : "steps"));
    json_object_set_new(j, "ranks", json_integer(sk_mpi_info_get()->world));
    json_object_set_new(j, "steps", json_integer(res.steps));
    json_object_set_new(j, "corpus", json_string(o.data->train));
    json_object_set_new(j, "loss", num_(res.loss));
    json_object_set_new(j, "eval_loss", num_(res.eval_loss));
    json_object_set_new(j, "eval_acc", num_(res.eval_acc));
    json_object_set_new(j, "eval_bpb", num_(res.eval_bpb));
    json_object_set_new(j, "tokens", num_(res.tokens));
    json_object_set_new(j, "tokens_kept", num_(res.tokens_kept));
    json_object_set_new(j, "samples",
                        json_integer(res.samples_trained > 0 ? res.samples_trained : res.steps * o.data->batch_size));
    json_object_set_new(j, "train_seconds", num_(res.seconds));
    json_object_set_new(j, "flop_ratio", num_(have_cost ? cost.flop_ratio : m->scorer[0] ? res.flop_ratio : 1.0));
    if (have_cost) {
        json_object_set_new(j, "speedup_median", num_(cost.speedup_median));
        json_object_set_new(j, "speedup_q1", num_(cost.speedup_q1));
        json_object_set_new(j, "speedup_q3", num_(cost.speedup_q3));
        json_object_set_new(j, "ms_full", num_(cost.ms_full));
        json_object_set_new(j, "ms_compressed", num_(cost.ms_compressed));
        json_object_set_new(j, "cost_rounds", json_integer(cost.rounds));
        json_object_set_new(j, "cost_converged", json_boolean(cost.converged));
        json_object_set_new(j, "rss_base", json_integer(cost.rss_base));
        json_object_set_new(j, "rss_full", json_integer(cost.rss_full));
        json_object_set_new(j, "rss_compressed", json_integer(cost.rss_compressed));
        json_object_set_new(j, "dev_full", json_integer(cost.dev_full));
        json_object_set_new(j, "dev_compressed", json_integer(cost.dev_compressed));
    } else if (!m->scorer[0]) {
        json_object_set_new(j, "speedup_median", json_real(1.0)); /* the model itself, per step */
    }
    json_object_set_new(j, "wall_seconds", json_real(sk_now() - t0));
    (void)path_(path, "%s/cell.json", dir);
    SK_TRY(write_json_(path, j));
    fprintf(stderr, "ablate: cell %d done: %s in %.1f s\n", c->index, c->id, sk_now() - t0);
done:
    json_decref(j);
    json_decref(prev);
    /* the leader's record may fail where the others succeeded: the group leaves with one answer */
    return sk_mpi_agree(rc);
}

/* ---- condensed corpora (the whole world, before the groups form) ------------------- */

static int make_corpora_(sk_ablate_plan *p, int a, int b, int group_ranks, const char *command)
{
    int rc = SK_OK, fd = -1;
    char lock[PATH_N_];
    for (int i = a; i < b; i++) {
        sk_ablate_cell *c = &p->cells[i];
        if (!c->corpus[0]) continue;
        int have = 0;
        if (world_root_()) {
            (void)path_(lock, "%s.lock", c->corpus);
            fd = lock_(lock, 1);
            if (fd < -1)
                rc = fd + 100;
            else
                have = exists_(c->corpus);
        }
        SK_TRY(sk_mpi_agree(rc));
        SK_TRY(sk_mpi_bcast(&have, sizeof have, 0));
        if (!have) {
            if (world_root_()) fprintf(stderr, "ablate: condensing %s for cell %s\n", c->corpus, c->id);
            sk_condense_opts co = {.cfg = sec_(p, c->bases, "condense"),
                                   .model = sec_(p, c->bases, "model"),
                                   .train = sec_(p, c->bases, "train"),
                                   .data = sec_(p, p->base, "data"),
                                   .seed = (uint64_t)((sk_run_config *)sec_(p, c->bases, "run"))->seed,
                                   .command = command};
            rc = sk_condense_run(&co, NULL);
            if (rc < 0) {
                sk_error_prefix("cell %s: condense: ", c->id);
                goto done;
            }
        }
        if (fd >= 0) close(fd);
        fd = -1;
        /* the real row count: the epochs budget and the hash follow it */
        int64_t rows = 0;
        rc = sk_ablate_corpus_rows(c->corpus, sec_(p, c->bases, "data"), &rows);
        if (rc < 0) {
            sk_error_prefix("cell %s: ", c->id);
            goto done;
        }
        SK_TRY(sk_ablate_cell_finish(p, c, rows));
        rc = sk_train_validate(sec_(p, c->bases, "model"), sec_(p, c->bases, "train"), sec_(p, c->bases, "data"),
                               group_ranks);
        if (rc < 0) {
            sk_error_prefix("cell %s: ", c->id);
            goto done;
        }
        /* the pre-flight checked it on the source corpus; now on what it trains on */
        if (world_root_()) rc = sk_ablate_cell_check(p, c, group_ranks);
        SK_TRY(sk_mpi_agree(rc));
    }
done:
    if (fd >= 0) close(fd);
    return rc;
}

/* ---- the cells ------------------------------------------------------------------- */

/* The group's loop: the leader claims cells in grid order, tells the group
 * which one (-1: none left), all train it. *failed counts failed cells. */
static int run_cells_(sk_ablate_plan *p, int a, int b, const char *command, int *failed)
{
    int rc = SK_OK, leader = sk_mpi_info_get()->rank == 0, next = a;
    char lock[PATH_N_];
    (void)command;
    for (;;) {
        int pick = -1, fd = -1;
        if (leader) {
            for (; next < b && pick < 0 && rc == 0; next++) {
                sk_ablate_cell *c = &p->cells[next];
                if (recorded_hash_(p->cfg.out_dir, c) == c->hash) continue;
                (void)path_(lock, "%s/cells/%s.lock", p->cfg.out_dir, c->id);
                fd = lock_(lock, 0);
                if (fd < -1) {
                    rc = fd + 100;
                    fd = -1;
                    break;
                }
                if (fd < 0) continue;                               /* another group or process holds it */
                if (recorded_hash_(p->cfg.out_dir, c) == c->hash) { /* finished while we looked */
                    close(fd);
                    fd = -1;
                    continue;
                }
                pick = next;
            }
        }
        /* the leader's answer reaches the whole group, a failure too */
        SK_TRY(sk_mpi_agree(rc));
        SK_TRY(sk_mpi_bcast(&pick, sizeof pick, 0));
        if (pick < 0) break;
        rc = run_cell_(p, &p->cells[pick], leader, command);
        if (rc < 0) {
            /* the cell failed on every rank of the group alike (the trainer agrees on errors): note it
             * beside the cell and go on with the next one */
            (*failed)++;
            if (leader) {
                char path[PATH_N_];
                (void)path_(path, "%s/cells/%s/error.txt", p->cfg.out_dir, p->cells[pick].id);
                const char *msg = sk_error_last();
                const void *bb[2] = {msg, "\n"};
                size_t ll[2] = {strlen(msg), 1};
                fprintf(stderr, "ablate: cell %d %s failed: %s\n", pick, p->cells[pick].id, msg);
                (void)sk_fs_write_atomic(path, bb, ll, 2);
            }
            /* Ctrl-C / SIGTERM: the trainer stopped the cell with a checkpoint; stop the grid too */
            int sig = sk_train_guard_stop_requested();
            if (sig != 0) {
                if (fd >= 0) close(fd);
                return sk_error_set(SK_ERROR,
                                    "ablate: stopped by a signal; run the same command again to resume "
                                    "(finished cells are kept, cell %s resumes from its checkpoint)",
                                    p->cells[pick].id);
            }
            sk_error_clear();
            rc = SK_OK;
        }
        if (fd >= 0) close(fd);
    }
done:
    return rc;
}

static int parse_slice_(const char *v, int n, int *a, int *b)
{
    char *end = NULL;
    long lo = strtol(v, &end, 10), hi = n;
    if (end == v || *end != ':') return sk_cli_usage_error("ablate: --cells %s: expected A:B (cells A to B-1)", v);
    const char *h = end + 1;
    if (*h) {
        hi = strtol(h, &end, 10);
        if (*end) return sk_cli_usage_error("ablate: --cells %s: expected A:B (cells A to B-1)", v);
    }
    if (lo < 0 || hi > n || lo >= hi)
        return sk_cli_usage_error("ablate: --cells %s: the grid has cells 0 to %d; A:B needs 0 <= A < B <= %d", v,
                                  n - 1, n);
    *a = (int)lo;
    *b = (int)hi;
    return SK_OK;
}

static int run_(sk_cli_ctx *ctx)
{
    int rc = SK_OK, force = 0, dry = 0, missing = 0, failed = 0, a = 0, b = 0;
    const char *report = NULL, *cells = NULL;
    sk_ablate_plan *p = NULL;
    sk_comm *group = NULL;
    for (int i = 0; i < ctx->argc; i++) {
        const char *s = ctx->argv[i];
        if (!strcmp(s, "--force"))
            force = 1;
        else if (!strcmp(s, "--dry-run"))
            dry = 1;
        else if (!strcmp(s, "--report") && i + 1 < ctx->argc)
            report = ctx->argv[++i];
        else if (!strncmp(s, "--report=", 9))
            report = s + 9;
        else if (!strcmp(s, "--cells") && i + 1 < ctx->argc)
            cells = ctx->argv[++i];
        else if (!strncmp(s, "--cells=", 8))
            cells = s + 8;
        else
            return sk_cli_usage_error("ablate: unexpected argument '%s' (" USAGE_ ")", s);
    }
    if (report) {
        if (ctx->config_path || cells || force)
            return sk_cli_usage_error("ablate: --report DIR merges results; it takes no --config, --cells or --force");
        if (world_root_()) rc = sk_ablate_report(report, 1, &missing);
        SK_TRY(sk_mpi_agree(rc));
        if (world_root_())
            printf("ablate: report in %s/results.csv, table.md, plots/ (%d cell%s of the plan without a record)\n",
                   report, missing, missing == 1 ? "" : "s");
        goto done;
    }
    if (!ctx->config_path) return sk_cli_usage_error("ablate: --config FILE is required (" USAGE_ ")");
    const sk_ablate_config *acfg = sk_cli_section_values("ablate");
    int world = sk_mpi_world_info()->world;
    int g = acfg && acfg->ranks_per_cell > 0 ? (int)acfg->ranks_per_cell : world;
    if (world % g)
        return sk_cli_usage_error("ablate.ranks_per_cell = %d does not divide the %d ranks of this job "
                                  "(use a divisor of %d, or 0 for one group of all ranks)",
                                  g, world, world);
    if (sk_cli_usage_from(sk_ablate_plan_build(&p, ctx->config_path, ctx->sets, ctx->nsets, g, world_root_())) < 0)
        goto done_usage;
    if (p->cfg.ranks_per_cell > 0 && p->cfg.ranks_per_cell != g) { /* set in ablate.base: check cells again */
        g = (int)p->cfg.ranks_per_cell;
        sk_ablate_plan_free(p);
        p = NULL;
        if (world % g)
            return sk_cli_usage_error("ablate.ranks_per_cell = %d (from ablate.base) does not divide the %d ranks "
                                      "of this job",
                                      g, world);
        if (sk_cli_usage_from(sk_ablate_plan_build(&p, ctx->config_path, ctx->sets, ctx->nsets, g, 0)) < 0)
            goto done_usage;
    }
    b = p->ncells;
    if (cells && parse_slice_(cells, p->ncells, &a, &b) < 0) goto done_usage;
    {
        /* every cell set up as the trainer would, short of training, before anything is written: world
         * rank 0 checks, every rank leaves with its verdict (no rank waits in a collective for one that
         * failed) */
        double t0 = sk_now();
        int checked = 0;
        if (world_root_()) rc = sk_ablate_plan_check(p, a, b, g, &checked);
        if (sk_cli_usage_from(sk_mpi_agree(rc)) < 0) goto done_usage;
        if (world_root_())
            fprintf(stderr, "ablate: cells %d:%d checked (%d distinct config%s set up as for training) in %.1f s\n", a,
                    b, checked, checked == 1 ? "" : "s", sk_now() - t0);
    }
    if (dry) { /* the checked grid, nothing written */
        if (world_root_())
            for (int i = a; i < b; i++)
                printf("%s  %s  steps %lld%s%s\n", p->cells[i].id, p->methods[p->cells[i].method].spec,
                       (long long)((sk_train_config *)sec_(p, p->cells[i].bases, "train"))->steps,
                       p->cells[i].corpus[0] ? " (estimated: the corpus is condensed first) on " : "",
                       p->cells[i].corpus);
        goto done;
    }
    if (world_root_()) {
        char d[PATH_N_];
        (void)path_(d, "%s/corpora", p->cfg.out_dir);
        rc = sk_fs_mkdir_p(d);
        (void)path_(d, "%s/cells", p->cfg.out_dir);
        if (rc == 0) rc = sk_fs_mkdir_p(d);
        if (rc == 0) rc = write_plan_(p, force);
        if (rc < 0)
            sk_cli_usage_from(rc);
        else
            printf("ablate: %d cells (%d methods x budgets x seeds), running %d:%d in %d group%s of %d rank%s -> %s\n",
                   p->ncells, p->nmethods, a, b, world / g, world / g > 1 ? "s" : "", g, g > 1 ? "s" : "",
                   p->cfg.out_dir);
        fflush(stdout);
    }
    SK_TRY(sk_mpi_agree(rc));
    SK_TRY(make_corpora_(p, a, b, g, sk_cli_command_line()));
    SK_TRY(sk_mpi_comm_split(&group, sk_mpi_world_rank() / g, sk_mpi_world_rank()));
    SK_TRY(sk_mpi_comm_use(group));
    rc = run_cells_(p, a, b, sk_cli_command_line(), &failed);
    sk_mpi_comm_use(NULL);
    SK_TRY(sk_mpi_agree(rc));
    {
        int64_t nf = sk_mpi_world_rank() % g ? 0 : failed; /* each group's leader counts its group's */
        SK_TRY(sk_mpi_allreduce_sum_i64(&nf, 1));
        failed = (int)nf;
    }
    if (world_root_()) rc = sk_ablate_report(p->cfg.out_dir, p->cfg.plots, &missing);
    SK_TRY(sk_mpi_agree(rc));
    if (world_root_())
        printf("ablate: report in %s/results.csv, table.md, plots/ (%d of %d cells recorded)\n", p->cfg.out_dir,
               p->ncells - missing, p->ncells);
    SK_FAIL_IF(failed > 0, SK_ERROR, "ablate: %d cell%s failed (see %s/cells/*/error.txt); re-run to retry them",
               failed, failed > 1 ? "s" : "", p->cfg.out_dir);
    goto done;
done_usage:
    rc = SK_EINVAL;
done:
    sk_mpi_comm_use(NULL);
    sk_mpi_comm_free(group);
    sk_ablate_plan_free(p);
    return rc;
}

/* ablate, then every section a cell's training or condensation reads (so --help lists their keys) */
static const sk_cfg_section *const sections_[] = {
    &sk_run_section,   &sk_ablate_section, &sk_data_section,     &sk_model_section,
    &sk_train_section, &sk_select_section, &sk_condense_section,
};

const sk_cmd sk_cmd_ablate = {
    SK_CMD_VERSION,
    "ablate",
    "run a fair grid of compression methods x budgets x seeds and report quality next to measured cost",
    "[--cells A:B] [--force] [--dry-run] | --report DIR\n"
    "  --config FILE  an ablate config (configs/ablate-*.yaml): ablate.base or inline training sections,\n"
    "                 plus the ablate section (methods, keep, condense_keep, grid, seeds, budget, out_dir)\n"
    "  --cells A:B    run cells A to B-1 of the grid only (a job array's share; B empty: to the end)\n"
    "  --force        run in an ablate.out_dir made from a different base config (changed cells rerun)\n"
    "  --dry-run      check every cell's config and list the cells (id, method, steps); run nothing\n"
    "  --report DIR   merge the cell records under DIR (from any number of runs) into the report\n"
    "outputs in ablate.out_dir: plan.json, cells/<id>/{config.yaml,cell.json,run/}, corpora/, results.csv,\n"
    "table.md, plots/*.png; finished cells are skipped, killed ones resume from their last checkpoint\n"
    "(docs/ABLATE.md)",
    sections_,
    (int)(sizeof sections_ / sizeof *sections_),
    run_,
};
