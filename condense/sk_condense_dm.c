/* sk_condense_dm.c - `dm`: dataset distillation by distribution matching
 * (Zhao and Bilen, "Dataset Condensation with Distribution Matching",
 * WACV 2023; VICO-UoE/DatasetCondensation main_DM.py).
 *
 * Each iteration samples a freshly initialised network (the [model]
 * section, a ConvNet in the paper) and, for every class c, embeds a batch
 * of condense.batch_real real images of c and c's synthetic images; the
 * loss is sum_c ||mean emb(real_c) - mean emb(syn_c)||^2 and one SGD step
 * (condense.lr_img, reference 1.0; momentum 0.5) moves the synthetic
 * images. The network is not trained: only its random features matter.
 * As in the reference, the real embeddings carry no gradient, the network's
 * parameters none either, and the synthetic images start from real images
 * of their class (condense.init=real) or noise.
 *
 * condense.dsa (the DSA paper's DM setting, as main_DM.py --dsa): one
 * sk_dsa draw per class and iteration augments the real and the synthetic
 * batch alike (sk_distill_pair).
 *
 * Where we differ: the reference runs Iteration + 1 updates, we run
 * condense.iterations; images live in the model's [-1, 1] input scale, not
 * mean/std normalised (sk_distill.h); the embed is the model's evaluation
 * embed (for instance norm, the paper's default, the same as training mode).
 * Classes are distilled on rank c % world (sk_distill.h): a class's term
 * alone moves its images, so each class is stepped on its own, which is
 * the reference's single backward of the sum term by term.
 */
#include "sk_condense_methods.h"
#include "sk_distill.h"
#include "sk_log.h"
#include "sk_params.h"

/* One class's loss at iteration it on net; backward puts its gradient on u_c. */
static int dm_class_(sk_distill *d, sk_model *net, int64_t c, int64_t it, double *loss)
{
    int rc = SK_OK;
    int64_t dim0 = 0;
    sk_tensor *fr = NULL, *fs = NULL, *real, *sp = NULL, *l;
    real = sk_distill_real_batch(d, c, it, d->job->cfg->batch_real, NULL);
    SK_TRY_T(real);
    SK_TRY(sk_distill_pair(d, c, it, real, &real, &sp));
    int prev = sk_shim_set_grad_enabled(0);
    rc = sk_model_embed(net, real, &fr);
    sk_shim_set_grad_enabled(prev);
    SK_TRY(rc);
    SK_TRY(sk_model_embed(net, sp, &fs));
    l = sk_shim_sub(sk_shim_mean(fr, &dim0, 1, 0), sk_shim_mean(fs, &dim0, 1, 0));
    l = sk_shim_sum(sk_shim_mul(l, l), NULL, 0, 0);
    SK_TRY_T(l);
    SK_TRY(sk_shim_backward(l));
    SK_TRY(sk_shim_item(l, loss));
done:
    return rc;
}

static int dm_select_(const sk_condense_job *job, sk_condense_out *out)
{
    int rc = SK_OK;
    const sk_condense_config *cfg = job->cfg;
    double lr = cfg->lr_img > 0 ? cfg->lr_img : 1.0;
    sk_distill d;
    sk_model *net = NULL;
    SK_TRY(sk_distill_begin(&d, job, out));
    for (int64_t it = d.it0; it < cfg->iterations; it++) {
        double loss = 0, lc = 0;
        rc = sk_distill_net(&d, it, &net);
        if (rc == SK_OK) {
            sk_params *P = sk_model_params(net);
            for (int i = 0; rc == SK_OK && i < P->n; i++) rc = sk_shim_set_requires_grad(P->t[i], 0);
        }
        for (int64_t c = 0; rc == SK_OK && c < d.C; c++) {
            if (!sk_distill_owns(&d, c)) continue;
            sk_scope *sc = sk_shim_scope_begin();
            rc = sc ? dm_class_(&d, net, c, it, &lc) : sk_error_set(SK_ENOMEM, "condense: out of memory");
            sk_shim_scope_end(sc);
            if (rc == SK_OK) rc = sk_distill_step(&d, c, lr, cfg->momentum_img);
            loss += lc;
        }
        sk_model_free(net);
        net = NULL;
        SK_TRY(sk_mpi_agree(rc));
        if (it % 100 == 0 || it == cfg->iterations - 1) {
            SK_TRY(sk_mpi_allreduce_sum(&loss, 1));
            SK_LOG_INFO("dm: iteration %lld of %lld, loss %.6g", (long long)it + 1, (long long)cfg->iterations, loss);
        }
        SK_TRY(sk_distill_after(&d, out, it + 1));
    }
    out->iterations = cfg->iterations;
    rc = sk_distill_finish(&d, out);
done:
    sk_model_free(net);
    sk_distill_end(&d);
    return rc;
}

const sk_condense_method sk_condense_dm = {
    .version = SK_CONDENSE_VERSION,
    .name = "dm",
    .flags = SK_CONDENSE_SAMPLES | SK_CONDENSE_NEEDS_LABELS | SK_CONDENSE_SYNTHESIZES,
    .help = "distribution matching (Zhao & Bilen, WACV 2023): synthetic images whose mean embedding under "
            "random networks matches their class's",
    .keys =
        "ipc iterations lr_img momentum_img init batch_real synthetic_dtype dsa dsa_strategy snapshot_every resume_from",
    .select = dm_select_,
};
