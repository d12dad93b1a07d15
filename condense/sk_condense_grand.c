/* sk_condense_grand.c - `grand`: the gradient norm ||grad_theta loss(x, y)||_2
 * of Paul, Ganguli and Dziugaite, "Deep Learning on a Data Diet" (NeurIPS
 * 2021; mansheej/data_diet computes it over all parameters), averaged
 * over condense.proxy and condense.proxies (the paper: over independently
 * initialised networks, at or near initialisation). High = hard; the
 * paper keeps the highest (rule=top). Needs labels.
 *
 * Per-sample gradients come from one forward and backward per row (a
 * batch of one, model in eval mode: batch norm uses its running
 * statistics), so this is about batch-size times slower than the logit
 * scores; condense.batch only sets how many rows are read at a time.
 */
#include <math.h>

#include "sk_condense_score.h"

static int grand_batch_(void *user, sk_model *proxy, sk_tensor *x, sk_tensor *y, const int64_t *labels, int64_t b,
                        float *scores)
{
    int rc = SK_OK;
    (void)user;
    (void)labels;
    sk_params *p = sk_model_params(proxy);
    int prev = sk_shim_set_grad_enabled(1);
    for (int i = 0; i < p->n; i++) SK_TRY(sk_shim_set_requires_grad(p->t[i], 1));
    for (int64_t r = 0; r < b; r++) {
        sk_scope *sc = sk_shim_scope_begin();
        SK_FAIL_IF(!sc, SK_ENOMEM, "grand: out of memory");
        sk_model_out o;
        double sq = 0, v = 0;
        rc = sk_shim_zero_grad(p->t, p->n);
        if (rc == SK_OK)
            rc = sk_model_forward(proxy, sk_shim_slice(x, 0, r, r + 1), sk_shim_slice(y, 0, r, r + 1), NULL, 0, 0, &o);
        if (rc == SK_OK) rc = sk_shim_backward(o.loss);
        for (int i = 0; rc == SK_OK && i < p->n; i++) {
            sk_tensor *g = NULL;
            rc = sk_shim_grad(p->t[i], &g);
            if (rc == SK_OK && g) {
                sk_tensor *s = sk_shim_sum(sk_shim_mul(g, g), NULL, 0, 0);
                rc = s ? sk_shim_item(s, &v) : (sk_error_last_code() < 0 ? sk_error_last_code() : SK_ETORCH);
                sq += v;
            }
        }
        sk_shim_scope_end(sc);
        if (rc < 0) goto done;
        scores[r] = (float)sqrt(sq);
    }
    rc = sk_shim_zero_grad(p->t, p->n);
done:
    sk_shim_set_grad_enabled(prev);
    return rc;
}

static int grand_select_(const sk_condense_job *job, sk_condense_out *out)
{
    return sk_condense_score_select(job, out, "grand", grand_batch_, NULL);
}

const sk_condense_method sk_condense_grand = {
    .version = SK_CONDENSE_VERSION,
    .name = "grand",
    .flags = SK_CONDENSE_SAMPLES | SK_CONDENSE_NEEDS_PROXY | SK_CONDENSE_SCORES | SK_CONDENSE_USES_KEEP |
             SK_CONDENSE_NEEDS_LABELS,
    .help = "GraNd: per-sample gradient norm over all proxy parameters, averaged over the proxies (Paul et al. 2021)",
    .keys = "class_balance rule ccs_beta strata proxy proxies scores_from batch",
    .check = sk_condense_score_check,
    .select = grand_select_,
};
