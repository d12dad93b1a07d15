/* sk_ablate.h - `shrink ablate`: a grid of compression methods x budgets x
 * seeds over one base training config, run cell by cell through
 * sk_train_run (and sk_condense_run for condensed corpora), recorded so a
 * re-run skips finished cells, and merged into one report.
 *
 * defines: sk_ablate_config / sk_ablate_section (the [ablate] keys),
 *          sk_ablate_method, sk_ablate_cell, sk_ablate_plan,
 *          sk_ablate_plan_build / _free, sk_ablate_plan_check,
 *          sk_ablate_cell_opts, sk_ablate_cell_check, sk_ablate_cell_finish,
 *          sk_ablate_report.
 *
 * Where this lives and why: the grid drives both the trainer and condense,
 * the two top modules, and nothing below may depend on either of them
 * together; the CLI is the one layer above both (README layout), so the
 * grid, its records and its report are part of cli/ (sk_ablate_grid.c,
 * sk_ablate_report.c, cmd_ablate.c), not a new module. Nothing else needs
 * them.
 *
 * A grid (docs/ABLATE.md): methods x keep ratios x extra axes x seeds.
 *   ablate.methods  comma-separated specs: `none` (uncompressed),
 *                   `SCORER/STRATEGY` (token selection at each ablate.keep),
 *                   `condense:METHOD` (a corpus condensed by `shrink condense`
 *                   at each ablate.condense_keep, trained on as it is) and
 *                   `condense:METHOD+SCORER/STRATEGY` (both).
 *   ablate.grid     extra axes: `section.key=v1|v2|...` separated by `;`,
 *                   any key of the training sections.
 * `none` and the random baselines are always in the grid: `none`, for
 * every token strategy S used `random/S` (`random-ltd/S` counts), for
 * condensation `condense:random`, for composed specs
 * `condense:random+random/S`; each one added is announced.
 * A cell's effective config: the base (ablate.base, then this file's own
 * sections, then --set), then its axis values, its method keys, run.seed =
 * its seed, and with ablate.budget=epochs train.steps = ceil(ablate.epochs
 * x training rows of its corpus / data.batch_size). Every cell of one seed
 * thus has the same model initialisation, data order and budget; only the
 * method differs. It passes the checks `shrink train` makes before it
 * trains (every key's type, bounds and registry names; run.device/dtype;
 * sk_train_validate for the group's rank count) when the plan is built,
 * and then everything the trainer sets up before its first step
 * (sk_ablate_plan_check: the corpora opened, the model built for the
 * corpus's samples, the selector created against it, so a selector's
 * layers are checked against the depth and a frozen scorer's
 * select.checkpoint is read and checked by the scorer's own loader) before
 * any cell runs; errors name the cell and the key, and `shrink ablate`
 * exits 2 with nothing written. What fails only while a cell trains (a
 * non-finite loss, a full disk, a signal) is recorded in
 * cells/<id>/error.txt, the other cells go on, the command exits 1.
 */
#ifndef SK_ABLATE_H
#define SK_ABLATE_H

#include <stdint.h>

#include "sk_config.h"
#include "sk_train.h"

typedef enum { SK_ABLATE_BUDGET_STEPS, SK_ABLATE_BUDGET_EPOCHS } sk_ablate_budget;

/* [ablate] */
typedef struct {
    char base[SK_CFG_STR_MAX];       /* a training config file under this file's sections ("": none) */
    char methods[SK_CFG_STR_MAX];    /* comma-separated method specs */
    sk_cfg_float_list keep;          /* token keep ratios */
    sk_cfg_float_list condense_keep; /* corpus keep fractions for condense:* specs */
    char grid[SK_CFG_STR_MAX];       /* extra axes "section.key=a|b; section.key=c|d" */
    sk_cfg_int_list seeds;           /* run.seed of each repetition */
    int budget;                      /* sk_ablate_budget */
    double epochs;                   /* budget=epochs: epochs over each cell's training corpus */
    char out_dir[SK_CFG_STR_MAX];    /* cells/, corpora/, results.csv, table.md, plots/ */
    int64_t ranks_per_cell;          /* ranks training one cell (0: all of them) */
    int cost;                        /* measure speedup / memory per cell (trainer/sk_cost.h) */
    double cost_seconds;             /* cost: most seconds of timed rounds per cell */
    int plots;                       /* render PNGs with gnuplot */
} sk_ablate_config;

extern const sk_cfg_section sk_ablate_section;

/* One method spec, parsed. condense "" = none; scorer "" = no token selection. */
typedef struct {
    char spec[192];
    char condense[192];
    char scorer[192];
    char strategy[192];
    int added; /* put in the grid by the baseline rule */
} sk_ablate_method;

#define SK_ABLATE_MAX_AXES 8

typedef struct {
    int index;                    /* position in the grid (what --cells A:B slices) */
    char id[256];                 /* NNN-method-kKEEP-cCKEEP-axes-sSEED, a directory name */
    int method;                   /* into plan->methods */
    double keep, ckeep;           /* token / corpus keep (NaN: not used) */
    int axis[SK_ABLATE_MAX_AXES]; /* value index per axis */
    char axes[SK_CFG_STR_MAX];    /* "train.lr=1e-3;model.depth=2" ("" without axes) */
    int64_t seed;
    void **bases;                /* effective sections, parallel to plan->secs (owned) */
    char corpus[SK_CFG_STR_MAX]; /* condensed corpus it trains on ("": data.train as it is) */
    uint64_t hash;               /* XXH64 of its effective config (run.out_dir left out) */
} sk_ablate_cell;

typedef struct {
    const sk_cfg_section **secs; /* every CLI section (owned array, borrowed entries) */
    int nsec;
    void **base;          /* the base config (owned) */
    sk_ablate_config cfg; /* the [ablate] values */
    uint64_t base_hash;   /* XXH64 of the base's training sections */
    sk_ablate_method *methods;
    int nmethods;
    int naxes;
    char axis_key[SK_ABLATE_MAX_AXES][128];
    char *axis_val[SK_ABLATE_MAX_AXES][SK_CFG_LIST_MAX];
    int axis_n[SK_ABLATE_MAX_AXES];
    sk_ablate_cell *cells;
    int ncells;
    int64_t base_rows; /* training rows of data.train (epochs budget) */
} sk_ablate_plan;

/* Build the plan from the ablate file `path` (may be NULL: defaults and
 * sets only) and the --set assignments: load, expand, add baselines
 * (notes on stderr when `notes`), build and check every cell's config for
 * a group of `group_ranks` ranks. *out is the caller's (sk_ablate_plan_free). */
int sk_ablate_plan_build(sk_ablate_plan **out, const char *path, const char *const *sets, int nsets, int group_ranks,
                         int notes);
void sk_ablate_plan_free(sk_ablate_plan *p);

/* The training options of cell c: its model, train, data and select
 * sections (borrowed from c), run.seed and run.threads; everything else
 * zero (no out_dir, no resume). */
void sk_ablate_cell_opts(const sk_ablate_plan *p, const sk_ablate_cell *c, sk_train_opts *o);

/* Check cell c as sk_train_check does (trainer/sk_train.h) for a group of
 * `group_ranks` ranks: this process alone, no MPI call, nothing written. A
 * cell whose condensed corpus does not exist yet has its condensation
 * checked (sk_condense_check: the method against the corpus, its proxy)
 * and its training checked on the corpus it will be condensed from. The
 * message starts "cell <id>: ". */
int sk_ablate_cell_check(const sk_ablate_plan *p, const sk_ablate_cell *c, int group_ranks);

/* sk_ablate_cell_check for cells [a, b) of the plan, once per config that
 * differs in more than run.seed, stopping at the first failure; *checked
 * (may be NULL) gets the number of checks made. */
int sk_ablate_plan_check(const sk_ablate_plan *p, int a, int b, int group_ranks, int *checked);

/* Set a cell's train.steps for budget=epochs from `rows` training rows of
 * its corpus, then (re)compute cell->hash. */
int sk_ablate_cell_finish(sk_ablate_plan *p, sk_ablate_cell *c, int64_t rows);

/* The index of section `name` in p->secs (-1: none). */
int sk_ablate_sec(const sk_ablate_plan *p, const char *name);

/* Training rows of corpus `path` under data config `data` (samples, or
 * tokens / seq_len windows, less the held-out fraction without data.eval). */
int sk_ablate_corpus_rows(const char *path, const void *data, int64_t *rows);

/* Merge every cells/<id>/cell.json under dir (written by one or many
 * `shrink ablate` processes) with dir/plan.json into dir/results.csv and
 * dir/table.md, and with `plots` the PNGs in dir/plots/ (gnuplot). Files are
 * written atomically. *missing gets the cells of the plan without a record. */
int sk_ablate_report(const char *dir, int plots, int *missing);

#endif /* SK_ABLATE_H */
