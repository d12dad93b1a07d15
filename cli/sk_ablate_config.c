/* sk_ablate_config.c - key table of the `ablate` section (sk_ablate.h). */
#include <stddef.h>

#include "sk_ablate.h"

#define OFF(f) offsetof(sk_ablate_config, f)

/* clang-format off */
static const sk_cfg_key ablate_keys_[] = {
    {.name = "base", .type = SK_CFG_STRING, .offset = OFF(base), .def = "",
     .help = "training config the cells start from; this file's own sections and --set apply on top (\"\": none)"},
    {.name = "methods", .type = SK_CFG_STRING, .offset = OFF(methods), .def = "none, random/prune",
     .help = "comma-separated: none | SCORER/STRATEGY | condense:METHOD | condense:METHOD+SCORER/STRATEGY"},
    {.name = "keep", .type = SK_CFG_FLOAT_LIST, .offset = OFF(keep), .def = "[0.5]", .min = 0.0, .max = 1.0,
     .flags = SK_CFG_EXCL_MIN, .help = "token keep ratios (select.keep) of every SCORER/STRATEGY spec"},
    {.name = "condense_keep", .type = SK_CFG_FLOAT_LIST, .offset = OFF(condense_keep), .def = "[0.5]", .min = 0.0,
     .max = 1.0, .flags = SK_CFG_EXCL_MIN, .help = "corpus keep fractions (condense.keep) of every condense: spec"},
    {.name = "grid", .type = SK_CFG_STRING, .offset = OFF(grid), .def = "",
     .help = "extra axes, ';'-separated, each section.key=v1|v2|... (any training key)"},
    {.name = "seeds", .type = SK_CFG_INT_LIST, .offset = OFF(seeds), .def = "[1]", .min = 0, .max = 9007199254740992.0,
     .help = "run.seed of each repetition: every cell of a seed has the same init and data order"},
    {.name = "budget", .type = SK_CFG_ENUM, .offset = OFF(budget), .def = "steps", .choices = "steps|epochs",
     .help = "steps: train.steps for every cell; epochs: ablate.epochs over each cell's (condensed) corpus"},
    {.name = "epochs", .type = SK_CFG_FLOAT, .offset = OFF(epochs), .def = "1", .min = 0.0, .max = 1e6,
     .flags = SK_CFG_EXCL_MIN, .help = "budget=epochs: train.steps = ceil(epochs x training rows / data.batch_size)"},
    {.name = "out_dir", .type = SK_CFG_STRING, .offset = OFF(out_dir), .def = "runs/ablate",
     .help = "cells/<id>/ (one run each), corpora/, plan.json, results.csv, table.md, plots/"},
    {.name = "ranks_per_cell", .type = SK_CFG_INT, .offset = OFF(ranks_per_cell), .def = "0", .min = 0, .max = 1e6,
     .help = "ranks per group (must divide the world; 0: one group of all ranks); groups claim cells as they free up"},
    {.name = "cost", .type = SK_CFG_BOOL, .offset = OFF(cost), .def = "true",
     .help = "measure each compressed cell's forward+backward speedup and peak memory against the uncompressed model"},
    {.name = "cost_seconds", .type = SK_CFG_FLOAT, .offset = OFF(cost_seconds), .def = "20", .min = 0.0, .max = 1e5,
     .flags = SK_CFG_EXCL_MIN, .help = "cost: most seconds of timed rounds per cell"},
    {.name = "plots", .type = SK_CFG_BOOL, .offset = OFF(plots), .def = "true",
     .help = "render plots/*.png with gnuplot"},
};
/* clang-format on */

const sk_cfg_section sk_ablate_section = {"ablate", "grids of methods x budgets x seeds (shrink ablate)", ablate_keys_,
                                          (int)(sizeof ablate_keys_ / sizeof *ablate_keys_), sizeof(sk_ablate_config)};
