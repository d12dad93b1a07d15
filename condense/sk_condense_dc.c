/* sk_condense_dc.c - `dc`: dataset condensation by gradient matching
 * (Zhao, Mopuri and Bilen, "Dataset Condensation with Gradient Matching",
 * ICLR 2021; VICO-UoE/DatasetCondensation main.py, utils.py match_loss /
 * distance_wb / get_loops).
 *
 * Each of condense.iterations outer iterations builds a freshly initialised
 * network (the [model] section) and alternates condense.outer_loop times:
 * 1. for every class c, the cross-entropy gradients of the network's
 *    parameters on a real batch of c (no graph) and on c's synthetic images
 *    (create_graph: sk_shim_autograd_grad), their distance
 *      D = sum over parameters of distance_wb(g_syn, g_real),
 *      distance_wb = sum over output channels o of
 *                    1 - <g_syn[o], g_real[o]> / (|g_syn[o]| |g_real[o]| + 1e-6)
 *    (a 4-D conv weight [out, in, kh, kw] as [out, in kh kw], a matrix as it
 *    is; 1-D biases and norm parameters count 0, as the reference's 'ours'
 *    distance), backpropagated to the images, one SGD step of them
 *    (condense.lr_img, reference 0.1; momentum 0.5);
 * 2. unless it was the last, condense.inner_loop epochs of plain SGD
 *    (condense.lr_net, 0.01) of the network on the whole synthetic set
 *    (detached), in batches of condense.batch_train shuffled by the seed.
 * outer_loop / inner_loop default to the reference's get_loops(ipc).
 *
 * Draws (sk_distill.h): the network of outer iteration it from
 * sk_distill_key(seed, it, -1); the real batch of class c in step
 * s = it * outer_loop + ol from sk_distill_key(seed, s, c), the inner
 * epochs' order of step s, epoch e from sk_distill_key(seed, s * inner_loop
 * + e, -2). Classes run on rank c % world; before the inner training every
 * rank receives every class's images (sk_distill_share), and the inner
 * training's batches are cut into C pieces whose gradients rank k % world
 * makes and every rank sums in piece order (inner_), so the ranks share
 * that work too and the result does not depend on the rank count.
 *
 * condense.dsa (DSA, Zhao & Bilen ICML 2021, = main.py --method DSA): one
 * sk_dsa draw per class and step augments the real and the synthetic batch
 * alike (sk_distill_pair), and the inner training augments every synthetic
 * image with its own draw (the reference's epoch(aug=True), DiffAugment
 * with seed -1), seeded by the epoch's key and the batch.
 *
 * Where we differ: the reference's batch-norm handling (real statistics
 * frozen for the synthetic pass) is not reproduced; the default instance
 * norm has no batch statistics, so for it the two agree. The reference
 * iterates Iteration + 1 times; we iterate condense.iterations. The inner
 * step's gradient is the rows-weighted sum of its pieces' (inner_), the
 * reference's whole-batch gradient up to float rounding.
 */
#include <stdlib.h>
#include <string.h>

#include "sk_condense_methods.h"
#include "sk_distill.h"
#include "sk_log.h"
#include "sk_mpi.h"
#include "sk_params.h"

/* get_loops(ipc) of utils.py: (outer_loop, inner_loop). */
static int loops_(int64_t ipc, int64_t *outer, int64_t *inner)
{
    static const int64_t t[][3] = {{1, 1, 1}, {10, 10, 50}, {20, 20, 25}, {30, 30, 20}, {40, 40, 15}, {50, 50, 10}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (t[i][0] == ipc) {
            *outer = t[i][1];
            *inner = t[i][2];
            return 1;
        }
    return 0;
}

static int dc_check_(const sk_condense_config *cfg, const sk_corpus_info *in)
{
    int64_t o, i;
    (void)in;
    if ((cfg->outer_loop < 0 || cfg->inner_loop < 0) && !loops_(cfg->ipc, &o, &i))
        return sk_error_set(SK_EINVAL,
                            "condense.ipc = %lld: the reference's get_loops has no loop counts for it; set "
                            "condense.outer_loop and condense.inner_loop",
                            (long long)cfg->ipc);
    if (cfg->outer_loop == 0) return sk_error_set(SK_EINVAL, "condense.outer_loop = 0: at least one image update");
    return SK_OK;
}

/* distance_wb of one parameter's gradients (a scalar tensor, or NULL for 1-D). */
static sk_tensor *distance_wb_(const sk_tensor *gs, const sk_tensor *gr)
{
    int64_t shape[SK_SHIM_MAX_DIMS], last = -1, two[2];
    int nd = sk_shim_shape(gs, shape);
    if (nd <= 1) return NULL;
    two[0] = shape[0];
    two[1] = -1;
    sk_tensor *s = sk_shim_reshape(gs, two, 2), *r = sk_shim_reshape(gr, two, 2);
    sk_tensor *dot = sk_shim_sum(sk_shim_mul(s, r), &last, 1, 0);
    sk_tensor *den = sk_shim_add_scalar(sk_shim_mul(sk_shim_norm(s, -1, 0), sk_shim_norm(r, -1, 0)), 0.000001);
    return sk_shim_sum(sk_shim_add_scalar(sk_shim_neg(sk_shim_div(dot, den)), 1.0), NULL, 0, 0);
}

/* The parameters' gradients of the loss of x (labels all c); create_graph as given. */
static int grads_(sk_model *net, const sk_tensor *x, int64_t c, int create, sk_tensor **g)
{
    int rc = SK_OK;
    sk_params *P = sk_model_params(net);
    int64_t b = sk_shim_size(x, 0);
    sk_tensor *y = sk_shim_full(&b, 1, (double)c, SK_I64, SK_CPU);
    sk_model_out o = {0};
    SK_TRY_T(y);
    SK_TRY(sk_model_forward(net, x, y, NULL, 0, 1, &o));
    SK_TRY(sk_shim_autograd_grad(o.loss, P->t, P->n, create, g));
done:
    return rc;
}

/* Class c's matching loss; its backward puts the gradient on u_c. */
static int match_class_(sk_distill *d, sk_model *net, int64_t c, int64_t s, double *loss)
{
    int rc = SK_OK;
    sk_params *P = sk_model_params(net);
    sk_tensor **gr = calloc((size_t)P->n * 2, sizeof *gr), **gs = gr ? gr + P->n : NULL, *L = NULL;
    SK_FAIL_IF(!gr, SK_ENOMEM, "condense: out of memory");
    sk_tensor *real = sk_distill_real_batch(d, c, s, d->job->cfg->batch_real, NULL), *sp = NULL;
    SK_TRY_T(real);
    SK_TRY(sk_distill_pair(d, c, s, real, &real, &sp));
    SK_TRY(grads_(net, real, c, 0, gr));
    SK_TRY(grads_(net, sp, c, 1, gs));
    for (int i = 0; i < P->n; i++) {
        sk_tensor *t = distance_wb_(gs[i], sk_shim_detach(gr[i]));
        if (sk_shim_ndim(P->t[i]) <= 1) continue;
        SK_TRY_T(t);
        L = L ? sk_shim_add(L, t) : t;
    }
    SK_FAIL_IF(!L, SK_EINVAL, "condense.method=dc: the model has no parameter of two or more dims to match");
    SK_TRY_T(L);
    SK_TRY(sk_shim_backward(L));
    SK_TRY(sk_shim_item(L, loss));
done:
    free(gr);
    return rc;
}

/* The inner training's gradient work: a batch is cut into K pieces, piece
 * k's gradient (of its mean loss) made by rank k % world into G[k], and
 * every rank sums the pieces in piece order, weighted by their rows, into
 * the full batch's gradient. K = C whatever the rank count, so the sum and
 * the result do not depend on it, while the ranks split the inner training,
 * most of an iteration's work (50 epochs at ipc 10). A network with batch
 * statistics (batch norm buffers) is not cut (K = 1, every rank computes
 * the whole batch): pieces would see other statistics. */
typedef struct {
    sk_params *P;
    int64_t N, K; /* parameter elements; pieces of a batch */
    float *G;     /* [K, N] */
    double *acc;  /* [N] their weighted sum */
    sk_tensor **g;
} inner_;

static int inner_init_(inner_ *in, sk_distill *d, sk_model *net)
{
    sk_params *B = sk_model_buffers(net);
    in->P = sk_model_params(net);
    in->N = sk_params_numel(in->P);
    in->K = B && B->n > 0 ? 1 : d->C;
    in->G = malloc((size_t)(in->K * in->N) * sizeof *in->G);
    in->acc = malloc((size_t)in->N * sizeof *in->acc);
    in->g = malloc((size_t)in->P->n * sizeof *in->g);
    return in->G && in->acc && in->g ? SK_OK
                                     : sk_error_set(SK_ENOMEM, "condense: out of memory for the inner gradients");
}

static void inner_free_(inner_ *in)
{
    free(in->G);
    free(in->acc);
    free(in->g);
}

/* Piece k of x / y (b rows) into G[k]: its loss's parameter gradients. */
static int piece_grad_(inner_ *in, sk_model *net, const sk_tensor *x, const sk_tensor *y, int64_t lo, int64_t hi,
                       int64_t k)
{
    int rc = SK_OK;
    sk_model_out o = {0};
    float *dst = in->G + (size_t)(k * in->N);
    SK_TRY(sk_model_forward(net, sk_shim_slice(x, 0, lo, hi), sk_shim_slice(y, 0, lo, hi), NULL, 0, 1, &o));
    SK_TRY(sk_shim_autograd_grad(o.loss, in->P->t, in->P->n, 0, in->g));
    for (int i = 0; i < in->P->n; i++) {
        int64_t n = sk_shim_numel(in->P->t[i]);
        SK_TRY(sk_shim_to_host(in->g[i], dst, (size_t)n * sizeof *dst));
        dst += n;
    }
done:
    return rc;
}

/* Rows [*lo, *lo + n) of a b-row batch are piece k; returns n (0: empty). */
static int64_t piece_(const inner_ *in, int64_t b, int64_t k, int64_t *lo)
{
    *lo = k * b / in->K;
    return (k + 1) * b / in->K - *lo;
}

/* One SGD step of net on batch x (b rows, labels y). Collective up to the
 * pieces' exchange; the caller agrees on the rest. */
static int inner_step_(inner_ *in, sk_distill *d, sk_model *net, sk_sgd *opt, const sk_tensor *x, const sk_tensor *y,
                       int64_t b, double lr)
{
    int rc = SK_OK, world = d->job->world, rank = d->job->rank;
    int64_t lo, rows;
    for (int64_t k = 0; rc == SK_OK && k < in->K; k++)
        if ((rows = piece_(in, b, k, &lo)) > 0 && (in->K == 1 || k % world == rank))
            rc = piece_grad_(in, net, x, y, lo, lo + rows, k);
    SK_TRY(sk_mpi_agree(rc));
    for (int64_t k = 0; in->K > 1 && world > 1 && k < in->K; k++)
        if (piece_(in, b, k, &lo) > 0)
            SK_TRY(sk_mpi_bcast(in->G + (size_t)(k * in->N), (size_t)in->N * sizeof *in->G, (int)(k % world)));
    memset(in->acc, 0, (size_t)in->N * sizeof *in->acc);
    for (int64_t k = 0; k < in->K; k++) { /* every rank adds in piece order; an empty piece has no G[k] */
        rows = piece_(in, b, k, &lo);
        double w = (double)rows / (double)b;
        const float *g = in->G + (size_t)(k * in->N);
        for (int64_t j = 0; rows > 0 && j < in->N; j++) in->acc[j] += w * (double)g[j];
    }
    for (int64_t j = 0; j < in->N; j++) in->G[j] = (float)in->acc[j];
    const float *src = in->G;
    for (int i = 0; i < in->P->n; i++) {
        int64_t shape[SK_SHIM_MAX_DIMS];
        int nd = sk_shim_shape(in->P->t[i], shape);
        sk_tensor *t = sk_shim_from_host(src, shape, nd, SK_F32, sk_shim_device(in->P->t[i]));
        SK_TRY_T(t);
        SK_TRY(sk_shim_set_grad(in->P->t[i], t));
        src += sk_shim_numel(t);
    }
    SK_TRY(sk_sgd_step(opt, lr));
done:
    return rc;
}

/* inner_loop epochs of SGD on the whole (shared, detached) synthetic set.
 * Collective. */
static int train_net_(sk_distill *d, sk_model *net, sk_sgd *opt, int64_t s)
{
    int rc = SK_OK;
    const sk_condense_config *cfg = d->job->cfg;
    int64_t m = d->C * d->ipc, bt = cfg->batch_train, *perm = malloc((size_t)m * sizeof *perm);
    float *x = malloc((size_t)(bt < m ? bt : m) * (size_t)d->D * sizeof *x);
    int64_t *y = malloc((size_t)(bt < m ? bt : m) * sizeof *y);
    inner_ in = {0};
    rc = perm && x && y ? inner_init_(&in, d, net) : sk_error_set(SK_ENOMEM, "condense: out of memory");
    SK_TRY(sk_mpi_agree(rc));
    for (int64_t e = 0; e < cfg->inner_loop; e++) {
        uint64_t key = sk_distill_key(d->job->seed, s * cfg->inner_loop + e, -2), r = key;
        for (int64_t i = 0; i < m; i++) perm[i] = i;
        for (int64_t j = 0; j + 1 < m; j++) { /* a full Fisher-Yates (sk_distill.h's draw, all m) */
            r = sk_splitmix64(r);
            int64_t k = j + (int64_t)(r % (uint64_t)(m - j)), t = perm[j];
            perm[j] = perm[k];
            perm[k] = t;
        }
        for (int64_t b0 = 0; b0 < m; b0 += bt) {
            int64_t b = m - b0 < bt ? m - b0 : bt, shape[5] = {b};
            memcpy(shape + 1, d->shape, (size_t)d->ndim * sizeof *shape);
            for (int64_t j = 0; j < b; j++) {
                memcpy(x + (size_t)(j * d->D), d->syn + (size_t)(perm[b0 + j] * d->D), (size_t)d->D * sizeof *x);
                y[j] = perm[b0 + j] / d->ipc;
            }
            sk_scope *sc = sk_shim_scope_begin();
            rc = sc ? SK_OK : sk_error_set(SK_ENOMEM, "condense: out of memory");
            sk_tensor *xt = NULL, *yt = NULL;
            if (rc == SK_OK) { /* every rank augments the whole batch: the draws are per sample, not per piece */
                xt = sk_distill_augment(d, sk_shim_from_host(x, shape, d->ndim + 1, SK_F32, SK_CPU),
                                        key ^ (uint64_t)(b0 + 1));
                yt = sk_shim_from_host(y, &b, 1, SK_I64, SK_CPU);
                if (!xt || !yt) rc = sk_error_last_code() < 0 ? sk_error_last_code() : SK_ETORCH;
            }
            rc = sk_mpi_agree(rc);
            if (rc == SK_OK) rc = inner_step_(&in, d, net, opt, xt, yt, b, cfg->lr_net);
            rc = sk_mpi_agree(rc); /* a failure after the step's exchange is one rank's */
            sk_shim_scope_end(sc);
            SK_TRY(rc);
        }
    }
done:
    inner_free_(&in);
    free(perm);
    free(x);
    free(y);
    return rc;
}

static int dc_select_(const sk_condense_job *job, sk_condense_out *out)
{
    int rc = SK_OK;
    sk_condense_config cfg = *job->cfg; /* with the loop counts resolved */
    sk_condense_job j2 = *job;
    double lr = cfg.lr_img > 0 ? cfg.lr_img : 0.1;
    int64_t o = 0, in = 0;
    sk_distill d;
    sk_model *net = NULL;
    sk_sgd *opt = NULL;
    if (loops_(cfg.ipc, &o, &in)) {
        if (cfg.outer_loop < 0) cfg.outer_loop = o;
        if (cfg.inner_loop < 0) cfg.inner_loop = in;
    }
    j2.cfg = &cfg;
    SK_TRY(sk_distill_begin(&d, &j2, out));
    for (int64_t it = d.it0; it < cfg.iterations; it++) {
        double loss = 0, lc = 0;
        sk_sgd_opts so = {.lr = cfg.lr_net};
        rc = sk_distill_net(&d, it, &net);
        if (rc == SK_OK) rc = sk_sgd_create(&opt, sk_model_params(net)->t, NULL, sk_model_params(net)->n, &so);
        for (int64_t ol = 0; ol < cfg.outer_loop; ol++) {
            int64_t s = it * cfg.outer_loop + ol;
            for (int64_t c = 0; rc == SK_OK && c < d.C; c++) {
                if (!sk_distill_owns(&d, c)) continue;
                sk_scope *sc = sk_shim_scope_begin();
                rc = sc ? match_class_(&d, net, c, s, &lc) : sk_error_set(SK_ENOMEM, "condense: out of memory");
                sk_shim_scope_end(sc);
                if (rc == SK_OK) rc = sk_distill_step(&d, c, lr, cfg.momentum_img);
                loss += lc;
            }
            /* every rank reaches this once per step, failed or not */
            rc = sk_mpi_agree(rc);
            if (rc < 0 || ol == cfg.outer_loop - 1) break;
            rc = sk_distill_share(&d);
            if (rc == SK_OK) rc = train_net_(&d, net, opt, s);
        }
        sk_sgd_free(opt);
        opt = NULL;
        sk_model_free(net);
        net = NULL;
        SK_TRY(sk_mpi_agree(rc));
        if (it % 10 == 0 || it == cfg.iterations - 1) {
            SK_TRY(sk_mpi_allreduce_sum(&loss, 1));
            SK_LOG_INFO("dc: iteration %lld of %lld, matching loss %.6g", (long long)it + 1, (long long)cfg.iterations,
                        loss / (double)cfg.outer_loop);
        }
        SK_TRY(sk_distill_after(&d, out, it + 1));
    }
    out->iterations = cfg.iterations;
    rc = sk_distill_finish(&d, out);
done:
    sk_sgd_free(opt);
    sk_model_free(net);
    sk_distill_end(&d);
    return rc;
}

const sk_condense_method sk_condense_dc = {
    .version = SK_CONDENSE_VERSION,
    .name = "dc",
    .flags = SK_CONDENSE_SAMPLES | SK_CONDENSE_NEEDS_LABELS | SK_CONDENSE_SYNTHESIZES,
    .help = "gradient matching (Zhao et al., ICLR 2021): synthetic images whose network gradients match their "
            "class's, along a network trained on them",
    .keys = "ipc iterations lr_img momentum_img init batch_real synthetic_dtype outer_loop inner_loop lr_net "
            "batch_train dsa dsa_strategy snapshot_every resume_from",
    .check = dc_check_,
    .select = dc_select_,
};
