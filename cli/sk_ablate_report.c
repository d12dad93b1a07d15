/* sk_ablate_report.c - merge the cell records of an ablation directory into
 * results.csv, table.md and gnuplot PNGs (sk_ablate.h: sk_ablate_report).
 *
 * The records are cells/<id>/cell.json (cmd_ablate.c writes them); the
 * grid's order and each cell's config hash come from plan.json, so a
 * record left from a different config is not reported. Quality is the
 * eval bits per byte of a language model (lower is better) or the eval
 * accuracy of a classifier (higher is better), whichever the records have.
 * "random at the same budget" is the random-scorer cell of the same
 * strategy (random or random-ltd; with the corpus condensed by
 * condense:random for a composed spec), or condense:random for a
 * condensation spec, at the same keep ratios and axis values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>

#include "sk_ablate.h"
#include "sk_error.h"
#include "sk_fs.h"

typedef struct {
    json_t *rec; /* the cell.json (owned) */
    int group;
} row_;

typedef struct {
    char method[192], scorer[192], strategy[192], condense[192], axes[SK_CFG_STR_MAX];
    double keep, ckeep;
    int n;
    double q_mean, q_sd, t_mean, steps, samples, kept_frac, flop, sp, sp_q1, sp_q3, rss_mib;
    int ref; /* the random group at the same budget (-1: none or itself) */
} group_;

static double get_(json_t *r, const char *k)
{
    json_t *v = json_object_get(r, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str_(json_t *r, const char *k)
{
    const char *s = json_string_value(json_object_get(r, k));
    return s ? s : "";
}

static int same_d_(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static void fmt_(char *buf, size_t n, double v, const char *f)
{
    if (isfinite(v))
        snprintf(buf, n, f, v);
    else
        snprintf(buf, n, "-");
}

/* mean and sample sd of the finite values */
static void stats_(const double *v, int n, double *mean, double *sd)
{
    double s = 0, ss = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) s += v[i], k++;
    *mean = k ? s / k : NAN;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) ss += (v[i] - *mean) * (v[i] - *mean);
    *sd = k > 1 ? sqrt(ss / (k - 1)) : NAN;
}

static int write_text_(const char *path, const char *buf, size_t len)
{
    const void *b[1] = {buf};
    size_t l[1] = {len};
    return sk_fs_write_atomic(path, b, l, 1);
}

/* x of a group in the keep plots: the fraction of the data the model sees */
static double eff_keep_(const group_ *g)
{
    double k = isnan(g->keep) ? 1.0 : g->keep, c = isnan(g->ckeep) ? 1.0 : g->ckeep;
    return k * c;
}

static int is_random_(const group_ *g)
{
    int tok_random = !g->scorer[0] || !strcmp(g->scorer, "random") || !strcmp(g->scorer, "random-ltd");
    int cd_random = !g->condense[0] || !strcmp(g->condense, "random");
    return (g->scorer[0] || g->condense[0]) && tok_random && cd_random;
}

static int find_ref_(const group_ *gs, int ng, int i)
{
    const group_ *g = &gs[i];
    if (!g->scorer[0] && !g->condense[0]) return -1;
    for (int j = 0; j < ng; j++) {
        const group_ *r = &gs[j];
        if (!is_random_(r) || !same_d_(r->keep, g->keep) || !same_d_(r->ckeep, g->ckeep) || strcmp(r->axes, g->axes))
            continue;
        if (strcmp(r->strategy, g->strategy) || !r->condense[0] != !g->condense[0]) continue;
        return j == i ? -1 : j;
    }
    return -1;
}

/* gnuplot's own messages (warnings about flat ranges, errors) go to
 * plots/gnuplot.log beside the script */
static int run_gnuplot_(const char *script)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "gnuplot '%s' > '%s.log' 2>&1", script, script);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return sk_error_set(SK_EIO, "%s: gnuplot failed (exit %d, see %s.log); is gnuplot installed?", script,
                            st == -1 ? -1 : WEXITSTATUS(st), script);
    return SK_OK;
}

static int plots_(const char *dir, const group_ *gs, int ng, int lm)
{
    int rc = SK_OK;
    char path[1200], gp[1200];
    FILE *f = NULL;
    const char *qname = lm ? "eval bits per byte (lower is better)" : "eval accuracy";
    snprintf(path, sizeof path, "%s/plots", dir);
    SK_TRY(sk_fs_mkdir_p(path));
    /* keep.dat: one block per method (x = keep, quality, sd, rss MiB); random.dat: the band */
    snprintf(path, sizeof path, "%s/plots/keep.dat", dir);
    f = fopen(path, "w");
    SK_FAIL_IF(!f, SK_EIO, "%s: cannot write", path);
    int nblocks = 0;
    for (int i = 0; i < ng; i++) {
        int first = 1;
        for (int j = 0; j < i; j++) first &= strcmp(gs[j].method, gs[i].method) != 0;
        if (!first) continue;
        fprintf(f, "%s\"%s\"\n", nblocks ? "\n\n" : "", gs[i].method);
        nblocks++;
        for (int j = i; j < ng; j++)
            if (!strcmp(gs[j].method, gs[i].method))
                fprintf(f, "%.6g %.6g %.6g %.6g\n", eff_keep_(&gs[j]), gs[j].q_mean, isnan(gs[j].q_sd) ? 0 : gs[j].q_sd,
                        gs[j].rss_mib);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/plots/random.dat", dir);
    f = fopen(path, "w");
    SK_FAIL_IF(!f, SK_EIO, "%s: cannot write", path);
    const char *rm = NULL;
    for (int i = 0; i < ng; i++)
        if (is_random_(&gs[i]) && (!rm || !strcmp(gs[i].method, rm))) {
            rm = gs[i].method;
            double sd = isnan(gs[i].q_sd) ? 0 : gs[i].q_sd;
            fprintf(f, "%.6g %.6g %.6g\n", eff_keep_(&gs[i]), gs[i].q_mean - sd, gs[i].q_mean + sd);
        }
    fprintf(f, rm ? "" : "1 0 0\n");
    fclose(f);
    /* time.dat: every group; front.dat: the Pareto front (less time and better quality) */
    snprintf(path, sizeof path, "%s/plots/time.dat", dir);
    f = fopen(path, "w");
    SK_FAIL_IF(!f, SK_EIO, "%s: cannot write", path);
    for (int i = 0; i < ng; i++)
        fprintf(f, "%.6g %.6g \"%s k%g\"\n", gs[i].t_mean, gs[i].q_mean, gs[i].method, eff_keep_(&gs[i]));
    fclose(f);
    snprintf(path, sizeof path, "%s/plots/front.dat", dir);
    f = fopen(path, "w");
    SK_FAIL_IF(!f, SK_EIO, "%s: cannot write", path);
    {
        int *on = calloc((size_t)ng, sizeof *on), wrote = 0;
        SK_FAIL_IF(!on, SK_ENOMEM, "out of memory");
        for (int i = 0; i < ng; i++) {
            on[i] = isfinite(gs[i].t_mean) && isfinite(gs[i].q_mean);
            for (int j = 0; j < ng && on[i]; j++) {
                if (j == i || !isfinite(gs[j].t_mean) || !isfinite(gs[j].q_mean)) continue;
                int better = lm ? gs[j].q_mean <= gs[i].q_mean : gs[j].q_mean >= gs[i].q_mean;
                int strict =
                    gs[j].t_mean < gs[i].t_mean || (lm ? gs[j].q_mean < gs[i].q_mean : gs[j].q_mean > gs[i].q_mean);
                if (gs[j].t_mean <= gs[i].t_mean && better && strict) on[i] = 0;
            }
        }
        for (;;) { /* in order of time */
            int best = -1;
            for (int i = 0; i < ng; i++)
                if (on[i] && (best < 0 || gs[i].t_mean < gs[best].t_mean)) best = i;
            if (best < 0) break;
            fprintf(f, "%.6g %.6g\n", gs[best].t_mean, gs[best].q_mean);
            on[best] = 0;
            wrote = 1;
        }
        if (!wrote) fprintf(f, "0 0\n");
        free(on);
    }
    fclose(f);
    f = NULL;
    /* the keep axis runs past both ends of the data (log scale), so the
     * uncompressed cell at kept fraction 1 sits inside the frame, and its
     * quality is drawn across the plot as a dashed reference line (when
     * the grid has one uncompressed group: extra axes would give several) */
    double xmin = 1.0, none_q = NAN;
    int nnone = 0;
    for (int i = 0; i < ng; i++) {
        double x = eff_keep_(&gs[i]);
        if (isfinite(x) && x > 0 && x < xmin) xmin = x;
        if (!gs[i].scorer[0] && !gs[i].condense[0]) {
            nnone++;
            none_q = gs[i].q_mean;
        }
    }
    char xr[96], ref[160] = "";
    snprintf(xr, sizeof xr, "set xrange [%.6g:%.6g]\n", xmin / 1.5, 1.5);
    if (nnone == 1 && isfinite(none_q))
        snprintf(ref, sizeof ref,
                 ", \\\n     %.10g with lines dashtype 2 linecolor rgb '#404040' title 'none (uncompressed)'", none_q);
    snprintf(gp, sizeof gp, "%s/plots/plots.gp", dir);
    f = fopen(gp, "w");
    SK_FAIL_IF(!f, SK_EIO, "%s: cannot write", gp);
    fprintf(f,
            "cd '%s/plots'\n"
            "set terminal pngcairo size 900,600 noenhanced\n"
            "set key outside right\nset grid\n"
            "set output 'quality_vs_keep.png'\n"
            "set title 'quality against the fraction of data kept (random: mean +- sd band)'\n"
            "set xlabel 'kept fraction (token keep x corpus keep)'\nset ylabel '%s'\nset logscale x\n%s"
            "plot 'random.dat' using 1:2:3 with filledcurves fillcolor rgb '#d0d0d0' title 'random +- sd', \\\n"
            "     for [i=0:%d] 'keep.dat' index i using 1:2:3 with yerrorlines title columnheader(1)%s\n"
            "set output 'quality_vs_time.png'\nunset logscale x\nset autoscale x\n"
            "set title 'quality against measured training time (Pareto front)'\n"
            "set xlabel 'training loop seconds (mean over seeds)'\n"
            "plot 'time.dat' using 1:2 with points pointtype 7 title 'cells', \\\n"
            "     'time.dat' using 1:2:3 with labels offset 0,1 font ',7' notitle, \\\n"
            "     'front.dat' using 1:2 with steps linewidth 2 title 'Pareto front'\n",
            dir, qname, xr, nblocks - 1, ref);
    int has_rss = 0;
    for (int i = 0; i < ng; i++) has_rss |= isfinite(gs[i].rss_mib);
    if (has_rss) /* memory is measured with a selector's cost run (sk_cost.h); a grid without one has none */
        fprintf(f,
                "set output 'memory_vs_keep.png'\nset logscale x\n%s"
                "set title 'peak host RSS of one training step over the resident base'\n"
                "set xlabel 'kept fraction'\nset ylabel 'MiB'\n"
                "plot for [i=0:%d] 'keep.dat' index i using 1:4 with linespoints title columnheader(1)\n",
                xr, nblocks - 1);
    fclose(f);
    f = NULL;
    SK_TRY(run_gnuplot_(gp));
done:
    if (f) fclose(f);
    return rc;
}

int sk_ablate_report(const char *dir, int plots, int *missing)
{
    int rc = SK_OK, nrows = 0, ng = 0, lm = 0;
    char path[1200], *csv = NULL, *md = NULL;
    size_t csv_len = 0, md_len = 0;
    FILE *c = NULL, *m = NULL;
    json_t *plan = NULL;
    row_ *rows = NULL;
    group_ *gs = NULL;
    double *qv = NULL;
    json_error_t je;
    *missing = 0;
    snprintf(path, sizeof path, "%s/plan.json", dir);
    plan = json_load_file(path, 0, &je);
    SK_FAIL_IF(!plan, SK_EIO, "%s: %s (is this an ablate.out_dir?)", path, je.text);
    json_t *cells = json_object_get(plan, "cells");
    SK_FAIL_IF(!json_is_array(cells), SK_ECORRUPT, "%s: no cells array", path);
    size_t n = json_array_size(cells);
    rows = calloc(n + 1, sizeof *rows);
    gs = calloc(n + 1, sizeof *gs);
    qv = calloc(n + 1, sizeof *qv);
    SK_FAIL_IF(!rows || !gs || !qv, SK_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *pc = json_array_get(cells, i);
        snprintf(path, sizeof path, "%s/cells/%s/cell.json", dir, str_(pc, "id"));
        json_t *r = json_load_file(path, 0, NULL);
        if (!r || strcmp(str_(r, "hash"), str_(pc, "hash"))) {
            json_decref(r);
            (*missing)++;
            continue;
        }
        rows[nrows++].rec = r;
        lm |= isfinite(get_(r, "eval_bpb"));
    }
    const char *qk = lm ? "eval_bpb" : "eval_acc";

    /* results.csv */
    c = open_memstream(&csv, &csv_len);
    SK_FAIL_IF(!c, SK_ENOMEM, "out of memory");
    fprintf(c, "id,method,scorer,strategy,condense,keep,condense_keep,axes,seed,budget,ranks,steps,eval_acc,eval_loss,"
               "eval_bpb,loss,tokens,tokens_kept,samples,flop_ratio,speedup_median,speedup_q1,speedup_q3,ms_full,"
               "ms_compressed,rss_base,rss_full,rss_compressed,dev_full,dev_compressed,train_seconds,wall_seconds,"
               "hash\n");
    static const char *const nums[] = {
        "eval_acc",   "eval_loss",      "eval_bpb",   "loss",           "tokens",        "tokens_kept",   "samples",
        "flop_ratio", "speedup_median", "speedup_q1", "speedup_q3",     "ms_full",       "ms_compressed", "rss_base",
        "rss_full",   "rss_compressed", "dev_full",   "dev_compressed", "train_seconds", "wall_seconds"};
    for (int i = 0; i < nrows; i++) {
        json_t *r = rows[i].rec;
        char k[32], ck[32];
        fmt_(k, sizeof k, get_(r, "keep"), "%g");
        fmt_(ck, sizeof ck, get_(r, "condense_keep"), "%g");
        char seed[32], ranks[32], steps[32];
        fmt_(seed, sizeof seed, get_(r, "seed"), "%.0f");
        fmt_(ranks, sizeof ranks, get_(r, "ranks"), "%.0f");
        fmt_(steps, sizeof steps, get_(r, "steps"), "%.0f");
        fprintf(c, "%s,%s,%s,%s,%s,%s,%s,\"%s\",%s,%s,%s,%s", str_(r, "id"), str_(r, "method"), str_(r, "scorer"),
                str_(r, "strategy"), str_(r, "condense"), k, ck, str_(r, "axes"), seed, str_(r, "budget"), ranks,
                steps);
        for (size_t j = 0; j < sizeof nums / sizeof *nums; j++) {
            double v = get_(r, nums[j]);
            if (isfinite(v))
                fprintf(c, ",%.10g", v);
            else
                fputs(",", c);
        }
        fprintf(c, ",%s\n", str_(r, "hash"));
    }
    fclose(c);
    c = NULL;
    snprintf(path, sizeof path, "%s/results.csv", dir);
    SK_TRY(write_text_(path, csv, csv_len));

    /* groups: one per method x keep x corpus keep x axes, over seeds */
    for (int i = 0; i < nrows; i++) {
        json_t *r = rows[i].rec;
        int g = -1;
        for (int j = 0; j < ng && g < 0; j++)
            if (!strcmp(gs[j].method, str_(r, "method")) && same_d_(gs[j].keep, get_(r, "keep")) &&
                same_d_(gs[j].ckeep, get_(r, "condense_keep")) && !strcmp(gs[j].axes, str_(r, "axes")))
                g = j;
        if (g < 0) {
            g = ng++;
            snprintf(gs[g].method, sizeof gs[g].method, "%s", str_(r, "method"));
            snprintf(gs[g].scorer, sizeof gs[g].scorer, "%s", str_(r, "scorer"));
            snprintf(gs[g].strategy, sizeof gs[g].strategy, "%s", str_(r, "strategy"));
            snprintf(gs[g].condense, sizeof gs[g].condense, "%s", str_(r, "condense"));
            snprintf(gs[g].axes, sizeof gs[g].axes, "%s", str_(r, "axes"));
            gs[g].keep = get_(r, "keep");
            gs[g].ckeep = get_(r, "condense_keep");
        }
        rows[i].group = g;
    }
    double full_rss = NAN;
    {
        double s = 0;
        int k = 0;
        for (int i = 0; i < nrows; i++) {
            double f = get_(rows[i].rec, "rss_full"), b = get_(rows[i].rec, "rss_base");
            if (isfinite(f) && isfinite(b) && f >= 0 && b >= 0) s += (f - b) / 1048576.0, k++;
        }
        if (k) full_rss = s / k;
    }
    for (int g = 0; g < ng; g++) {
        static const char *const keys[] = {"train_seconds",  "steps",      "samples",   "flop_ratio",
                                           "speedup_median", "speedup_q1", "speedup_q3"};
        double *outs[] = {&gs[g].t_mean, &gs[g].steps, &gs[g].samples, &gs[g].flop,
                          &gs[g].sp,     &gs[g].sp_q1, &gs[g].sp_q3};
        double sd;
        int k = 0;
        for (int i = 0; i < nrows; i++)
            if (rows[i].group == g) qv[k++] = get_(rows[i].rec, qk);
        gs[g].n = k;
        stats_(qv, k, &gs[g].q_mean, &gs[g].q_sd);
        for (size_t key = 0; key < sizeof keys / sizeof *keys; key++) {
            k = 0;
            for (int i = 0; i < nrows; i++)
                if (rows[i].group == g) qv[k++] = get_(rows[i].rec, keys[key]);
            stats_(qv, k, outs[key], &sd);
        }
        k = 0;
        for (int i = 0; i < nrows; i++)
            if (rows[i].group == g) {
                double t = get_(rows[i].rec, "tokens"), kt = get_(rows[i].rec, "tokens_kept");
                qv[k++] = t > 0 ? kt / t : NAN;
            }
        stats_(qv, k, &gs[g].kept_frac, &sd);
        k = 0;
        for (int i = 0; i < nrows; i++)
            if (rows[i].group == g) {
                double cm = get_(rows[i].rec, "rss_compressed"), b = get_(rows[i].rec, "rss_base");
                qv[k++] = isfinite(cm) && cm >= 0 && b >= 0 ? (cm - b) / 1048576.0 : NAN;
            }
        stats_(qv, k, &gs[g].rss_mib, &sd);
        if (!gs[g].scorer[0]) gs[g].rss_mib = full_rss; /* no selector: the full model's step */
    }
    for (int g = 0; g < ng; g++) gs[g].ref = find_ref_(gs, ng, g);

    /* table.md */
    m = open_memstream(&md, &md_len);
    SK_FAIL_IF(!m, SK_ENOMEM, "out of memory");
    fprintf(m,
            "# Ablation: %s\n\n%d of %zu cells recorded; budget %s; mean ± sd over seeds. "
            "Δ vs random: quality minus the random baseline's at the same keep ratios%s.\n"
            "Speedup: measured forward+backward against the uncompressed model, median [IQR] (trainer/sk_cost.h); "
            "RSS: peak host memory a training step adds over the resident base.\n\n",
            dir, nrows, n, str_(plan, "budget"), lm ? " (bits per byte: negative is better)" : "");
    fprintf(
        m,
        "| method | corpus keep | token keep | axes | seeds | %s | Δ vs random | steps | samples | tokens kept | "
        "FLOP ratio | speedup [IQR] | step RSS MiB | train s |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        lm ? "eval bits/byte" : "eval accuracy");
    for (int g = 0; g < ng; g++) {
        const group_ *G = &gs[g];
        char q[64], d[64], ck[32], k[32], kf[32], fl[32], sp[64], rss[32], t[32], st[32], sa[32];
        if (isfinite(G->q_sd))
            snprintf(q, sizeof q, "%.4f ± %.4f", G->q_mean, G->q_sd);
        else
            fmt_(q, sizeof q, G->q_mean, "%.4f");
        if (G->ref >= 0)
            snprintf(d, sizeof d, "%+.4f", G->q_mean - gs[G->ref].q_mean);
        else
            snprintf(d, sizeof d, "%s", is_random_(G) ? "(random)" : "-");
        fmt_(ck, sizeof ck, G->ckeep, "%g");
        fmt_(k, sizeof k, G->keep, "%g");
        fmt_(kf, sizeof kf, G->kept_frac, "%.3f");
        fmt_(fl, sizeof fl, G->flop, "%.3f");
        if (isfinite(G->sp_q1))
            snprintf(sp, sizeof sp, "%.3f [%.3f, %.3f]", G->sp, G->sp_q1, G->sp_q3);
        else
            fmt_(sp, sizeof sp, G->sp, "%.3f");
        fmt_(rss, sizeof rss, G->rss_mib, "%.1f");
        fmt_(t, sizeof t, G->t_mean, "%.1f");
        fmt_(st, sizeof st, G->steps, "%.0f");
        fmt_(sa, sizeof sa, G->samples, "%.0f");
        fprintf(m, "| %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", G->method, ck, k,
                G->axes[0] ? G->axes : "-", G->n, q, d, st, sa, kf, fl, sp, rss, t);
    }
    fclose(m);
    m = NULL;
    snprintf(path, sizeof path, "%s/table.md", dir);
    SK_TRY(write_text_(path, md, md_len));
    if (plots && ng > 0) SK_TRY(plots_(dir, gs, ng, lm));
done:
    if (c) fclose(c);
    if (m) fclose(m);
    free(csv);
    free(md);
    for (int i = 0; i < nrows; i++) json_decref(rows[i].rec);
    free(rows);
    free(gs);
    free(qv);
    json_decref(plan);
    return rc;
}
