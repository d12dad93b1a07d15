/* sk_condense_forgetting.c - `forgetting`: each sample's forgetting events
 * (Toneva et al., "An Empirical Study of Example Forgetting during Deep
 * Neural Network Learning", ICLR 2019; mtoneva/example_forgetting) as
 * recorded by `shrink train` with train.record_forgetting
 * (trainer/sk_forgetting.h): the number of correct -> misclassified
 * transitions between its presentations, never-learned samples given the
 * run's largest presentation count (the reference's npresentations).
 * With several files of condense.forgetting_from (independent runs) a
 * row's score is the sum of its counts, as sort_examples_by_forgetting
 * sums over runs. High = forgettable (hard); the paper removes the
 * unforgettable ones, i.e. keeps rule=top. No proxy is run.
 *
 * A file is taken only if it is of this very corpus: its
 * shrink.source_xxh64 (the training corpus's sk_fs_hash_file, written by
 * the trainer) equals the input's, and it holds one count per row. Every
 * rank reads the n floats (O(rows), as the other score arrays) and keeps
 * its shard's; the rules are the shared ones (sk_condense_score.h).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_condense_score.h"
#include "sk_safetensors.h"

/* One file's counts of the shard added into acc. */
static int add_file_(const sk_condense_job *job, const char *path, float *all, double *acc)
{
    int rc = SK_OK;
    sk_safetensors *st = NULL;
    char want[17];
    snprintf(want, sizeof want, "%016" PRIx64, job->source_xxh64);
    rc = sk_safetensors_open(&st, path);
    if (rc < 0) {
        sk_error_prefix("condense.forgetting_from: ");
        goto done;
    }
    const char *kind = sk_safetensors_meta(st, "shrink.kind"), *h = sk_safetensors_meta(st, "shrink.source_xxh64");
    const char *rows = sk_safetensors_meta(st, "shrink.rows");
    const sk_safetensors_entry *e = sk_safetensors_find(st, "forgetting");
    SK_FAIL_IF(!kind || strcmp(kind, "forgetting") != 0 || !e, SK_EINVAL,
               "condense.forgetting_from %s: not a forgetting file of shrink train (train.record_forgetting)", path);
    SK_FAIL_IF(!h || strcmp(h, want) != 0, SK_EINVAL,
               "condense.forgetting_from %s: its counts are of another corpus (source checksum %s, %s has %s)", path,
               h ? h : "missing", job->cfg->input, want);
    SK_FAIL_IF(strcmp(e->dtype, "F32") != 0 || e->ndim != 1 || e->shape[0] != job->n || !rows ||
                   strtoll(rows, NULL, 10) != job->n,
               SK_EINVAL, "condense.forgetting_from %s: %lld counts, but %s has %lld rows", path,
               (long long)(e->ndim == 1 ? e->shape[0] : -1), job->cfg->input, (long long)job->n);
    SK_TRY(sk_safetensors_read(st, e, all, (size_t)job->n * sizeof *all));
    for (int64_t i = job->begin; i < job->end; i++) {
        SK_FAIL_IF(!isfinite(all[i]) || all[i] < 0, SK_EINVAL, "condense.forgetting_from %s: row %lld has count %g",
                   path, (long long)i, (double)all[i]);
        acc[i - job->begin] += all[i];
    }
done:
    sk_safetensors_free(st);
    return rc;
}

static int forgetting_select_(const sk_condense_job *job, sk_condense_out *out)
{
    int rc = SK_OK;
    int64_t n = job->end - job->begin;
    float *all = NULL;
    double *acc = NULL;
    char path[SK_CFG_STR_MAX];
    out->score_name = "forgetting";
    if (job->given_scores) {
        memcpy(out->scores, job->given_scores, (size_t)n * sizeof *out->scores);
    } else {
        all = malloc((size_t)job->n * sizeof *all);
        acc = calloc((size_t)(n > 0 ? n : 1), sizeof *acc);
        if (!all || !acc) rc = sk_error_set(SK_ENOMEM, "forgetting: out of memory for %lld counts", (long long)job->n);
        for (const char *l = job->cfg->forgetting_from; rc == SK_OK && sk_condense_next_path(&l, path, sizeof path);)
            rc = add_file_(job, path, all, acc);
        for (int64_t i = 0; rc == SK_OK && i < n; i++) out->scores[i] = (float)acc[i];
    }
    SK_TRY(sk_mpi_agree(rc));
    rc = sk_condense_apply_rule(job, out->scores, out->keep);
done:
    free(all);
    free(acc);
    return rc;
}

static int forgetting_check_(const sk_condense_config *cfg, const sk_corpus_info *in)
{
    int rc = SK_OK;
    const char *l = cfg->forgetting_from;
    char path[SK_CFG_STR_MAX];
    SK_FAIL_IF(
        !cfg->scores_from[0] && !sk_condense_next_path(&l, path, sizeof path), SK_EINVAL,
        "condense.method=forgetting needs condense.forgetting_from (the forgetting.safetensors that shrink train "
        "wrote with train.record_forgetting=true on %s)",
        cfg->input);
    SK_TRY(sk_condense_score_check(cfg, in));
done:
    return rc;
}

const sk_condense_method sk_condense_forgetting = {
    .version = SK_CONDENSE_VERSION,
    .name = "forgetting",
    .flags = SK_CONDENSE_SAMPLES | SK_CONDENSE_SCORES | SK_CONDENSE_USES_KEEP,
    .help = "forgetting events recorded by shrink train (train.record_forgetting; Toneva et al. 2019), summed "
            "over the files of condense.forgetting_from",
    .keys = "forgetting_from class_balance rule ccs_beta strata scores_from",
    .check = forgetting_check_,
    .select = forgetting_select_,
};
