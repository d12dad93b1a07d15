/* sk_shim_dump.c - runs shim ops on deterministic inputs and writes inputs
 * and results into one safetensors file, for a PyTorch reference to check
 * (test_shim_torch.py).
 *
 *   sk_shim_dump sgd OUT   sk_sgd over three parameters for STEPS steps in
 *                          several settings (momentum 0.9 / 0.5, dampening,
 *                          weight decay 5e-4 with a per-param mask, nesterov),
 *                          parameter 2 without a gradient in some steps. Per
 *                          case c: "c<c>.init.p<i>", the loss coefficients
 *                          "c<c>.s<k>.a<i>" / ".b<i>" (loss of step k:
 *                          sum(a p^2 / 2 + b p) over the params with a grad),
 *                          "c<c>.lr" [STEPS] f64, the params after each step
 *                          "c<c>.s<k>.p<i>" and the final momentum buffers
 *                          "c<c>.buf<i>". Also checks, itself, that an
 *                          optimizer rebuilt at step RESUME from the buffers
 *                          (sk_sgd_momentum_buffer) ends bit-identical.
 *
 *   sk_shim_dump grid OUT  sk_shim_affine_grid, sk_shim_grid_sample and
 *                          sk_shim_flip: inputs "x" [3, 2, 7, 9], "theta"
 *                          [3, 2, 3], "r" (loss weights); per align_corners
 *                          a (0, 1): "grid<a>" (output size [3, 2, 5, 6]),
 *                          "y<a>", and the gradients of sum(r y) w.r.t. x
 *                          and theta "gx<a>", "gtheta<a>"; "flip" (x
 *                          reversed along dim 3).
 *
 * Exit status 0, or 1 with a message on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_dump_out.h"
#include "sk_shim.h"

#define STEPS 6
#define RESUME 3
#define NP 3

typedef struct {
    double momentum, dampening, wd;
    int nesterov;
    int mask; /* 1: param 1 excluded from weight decay */
} sgd_case_;

static const sgd_case_ sgd_cases_[] = {
    {0.9, 0.0, 5e-4, 0, 0}, {0.9, 0.0, 5e-4, 1, 0}, {0.5, 0.0, 5e-4, 0, 1},
    {0.5, 0.25, 0.0, 0, 0}, {0.0, 0.0, 5e-4, 0, 0}, {0.5, 0.0, 5e-4, 1, 1},
};

/* Parameter 2 has no gradient in steps 0, 1 and 4. */
static int has_grad_(int i, int k) { return i != 2 || (k == 2 || k == 3 || k == 5); }

static int sgd_steps_(sk_sgd *opt, sk_tensor **p, sk_tensor *(*a)[NP], sk_tensor *(*b)[NP], const double *lr, int k0,
                      int k1, dump_out_ *o, int c)
{
    char name[48];
    for (int k = k0; k < k1; k++) {
        sk_scope *s = sk_shim_scope_begin();
        if (sk_shim_zero_grad(p, NP)) return -1;
        sk_tensor *loss = NULL;
        for (int i = 0; i < NP; i++) {
            if (!has_grad_(i, k)) continue;
            sk_tensor *li =
                sk_shim_sum(sk_shim_add(sk_shim_mul(sk_shim_mul_scalar(a[k][i], 0.5), sk_shim_mul(p[i], p[i])),
                                        sk_shim_mul(b[k][i], p[i])),
                            NULL, 0, 0);
            loss = loss ? sk_shim_add(loss, li) : li;
        }
        if (!loss || sk_shim_backward(loss) || sk_sgd_step(opt, lr[k])) return -1;
        for (int i = 0; o && i < NP; i++) {
            snprintf(name, sizeof name, "c%d.s%d.p%d", c, k, i);
            if (dump_put_(o, name, p[i])) return -1;
        }
        sk_shim_scope_end(s);
    }
    return 0;
}

static int equal_(const sk_tensor *x, const sk_tensor *y)
{
    sk_tensor *e = sk_shim_eq(x, y);
    double all = 0;
    sk_tensor *n = sk_shim_sum(sk_shim_to(e, SK_CPU, SK_F64), NULL, 0, 0);
    if (!n || sk_shim_item(n, &all)) return 0;
    int ok = (int64_t)all == sk_shim_numel(x);
    sk_tensor_free(n);
    sk_tensor_free(e);
    return ok;
}

static int sgd_(const char *path)
{
    dump_out_ *o = calloc(1, sizeof *o);
    sk_generator *g = NULL;
    if (!o || sk_generator_create(&g, 1234, SK_CPU)) return -1;
    const int64_t shapes[NP][2] = {{3, 4}, {5, 1}, {2, 2}};
    char name[48];
    int ncase = (int)(sizeof sgd_cases_ / sizeof sgd_cases_[0]);
    for (int c = 0; c < ncase; c++) {
        const sgd_case_ *sc = &sgd_cases_[c];
        sk_tensor *p[NP], *p2[NP], *a[STEPS][NP], *b[STEPS][NP];
        double lr[STEPS];
        for (int i = 0; i < NP; i++) {
            p[i] = sk_shim_keep(sk_shim_randn(shapes[i], 2, SK_F32, SK_CPU, g));
            if (!p[i] || sk_shim_set_requires_grad(p[i], 1)) return -1;
            snprintf(name, sizeof name, "c%d.init.p%d", c, i);
            if (dump_put_(o, name, p[i])) return -1;
        }
        for (int k = 0; k < STEPS; k++) {
            lr[k] = 0.1 / (1 + k);
            for (int i = 0; i < NP; i++) {
                a[k][i] = sk_shim_keep(sk_shim_rand(shapes[i], 2, SK_F32, SK_CPU, g));
                b[k][i] = sk_shim_keep(sk_shim_randn(shapes[i], 2, SK_F32, SK_CPU, g));
                snprintf(name, sizeof name, "c%d.s%d.a%d", c, k, i);
                if (dump_put_(o, name, a[k][i])) return -1;
                snprintf(name, sizeof name, "c%d.s%d.b%d", c, k, i);
                if (dump_put_(o, name, b[k][i])) return -1;
            }
        }
        sk_tensor *lrt = sk_shim_keep(sk_shim_from_host(lr, (const int64_t[]){STEPS}, 1, SK_F64, SK_CPU));
        snprintf(name, sizeof name, "c%d.lr", c);
        if (dump_put_(o, name, lrt)) return -1;
        sk_tensor_free(lrt);
        int decay[NP] = {1, !sc->mask, 1};
        sk_sgd_opts so = {lr[0], sc->momentum, sc->dampening, sc->wd, sc->nesterov};
        sk_sgd *opt = NULL, *opt2 = NULL;
        if (sk_sgd_create(&opt, p, decay, NP, &so)) return -1;
        if (sgd_steps_(opt, p, a, b, lr, 0, RESUME, o, c)) return -1;
        /* resume: fresh params and optimizer from the state at step RESUME */
        if (sk_sgd_create(&opt2, NULL, NULL, 0, &so)) return -1;
        sk_sgd_free(opt2);
        for (int i = 0; i < NP; i++) {
            p2[i] = sk_shim_keep(sk_shim_detach(sk_shim_clone(p[i])));
            if (!p2[i] || sk_shim_set_requires_grad(p2[i], 1)) return -1;
        }
        if (sk_sgd_create(&opt2, p2, decay, NP, &so)) return -1;
        for (int i = 0; i < NP && sc->momentum > 0; i++) {
            sk_tensor *src = NULL, *dst = NULL;
            if (!sk_sgd_has_buffer(opt, i)) continue;
            if (sk_sgd_momentum_buffer(opt, i, &src) || sk_sgd_momentum_buffer(opt2, i, &dst) ||
                sk_shim_copy_(dst, src))
                return -1;
        }
        if (sgd_steps_(opt, p, a, b, lr, RESUME, STEPS, o, c) || sgd_steps_(opt2, p2, a, b, lr, RESUME, STEPS, NULL, c))
            return -1;
        for (int i = 0; i < NP; i++) {
            if (!equal_(p[i], p2[i])) {
                fprintf(stderr,
                        "sgd case %d: resumed param %d differs from the uninterrupted "
                        "run\n",
                        c, i);
                return -1;
            }
            if (sk_sgd_has_buffer(opt, i)) {
                sk_tensor *bf = NULL;
                if (sk_sgd_momentum_buffer(opt, i, &bf)) return -1;
                snprintf(name, sizeof name, "c%d.buf%d", c, i);
                if (dump_put_(o, name, bf)) return -1;
            }
        }
        if (sc->momentum == 0 && sk_sgd_has_buffer(opt, 0)) return -1;
        sk_sgd_free(opt);
        sk_sgd_free(opt2);
        for (int i = 0; i < NP; i++) {
            sk_tensor_free(p[i]);
            sk_tensor_free(p2[i]);
            for (int k = 0; k < STEPS; k++) sk_tensor_free(a[k][i]), sk_tensor_free(b[k][i]);
        }
    }
    sk_generator_free(g);
    int rc = dump_write_(o, path);
    free(o);
    return rc;
}

static int grid_(const char *path)
{
    dump_out_ *o = calloc(1, sizeof *o);
    sk_generator *g = NULL;
    if (!o || sk_generator_create(&g, 99, SK_CPU)) return -1;
    sk_scope *s = sk_shim_scope_begin();
    const int64_t xs[4] = {3, 2, 7, 9}, ts[3] = {3, 2, 3}, ys[4] = {3, 2, 5, 6};
    const float eye[6] = {1, 0, 0, 0, 1, 0};
    sk_tensor *x = sk_shim_randn(xs, 4, SK_F32, SK_CPU, g);
    sk_tensor *th = sk_shim_add(sk_shim_mul_scalar(sk_shim_randn(ts, 3, SK_F32, SK_CPU, g), 0.4),
                                sk_shim_from_host(eye, (const int64_t[]){1, 2, 3}, 3, SK_F32, SK_CPU));
    sk_tensor *r = sk_shim_randn(ys, 4, SK_F32, SK_CPU, g);
    th = sk_shim_detach(th);
    if (!x || !th || !r || sk_shim_set_requires_grad(x, 1) || sk_shim_set_requires_grad(th, 1)) return -1;
    if (dump_put_(o, "x", x) || dump_put_(o, "theta", th) || dump_put_(o, "r", r) ||
        dump_put_(o, "flip", sk_shim_flip(x, 3)))
        return -1;
    for (int a = 0; a < 2; a++) {
        char name[16];
        sk_tensor *gx = NULL, *gt = NULL;
        if (sk_shim_zero_grad((sk_tensor *[]){x, th}, 2)) return -1;
        sk_tensor *grid = sk_shim_affine_grid(th, ys[0], ys[1], ys[2], ys[3], a);
        sk_tensor *y = sk_shim_grid_sample(x, grid, a);
        if (!y || sk_shim_backward(sk_shim_sum(sk_shim_mul(y, r), NULL, 0, 0))) return -1;
        if (sk_shim_grad(x, &gx) || sk_shim_grad(th, &gt)) return -1;
        snprintf(name, sizeof name, "grid%d", a);
        if (dump_put_(o, name, grid)) return -1;
        snprintf(name, sizeof name, "y%d", a);
        if (dump_put_(o, name, y)) return -1;
        snprintf(name, sizeof name, "gx%d", a);
        if (dump_put_(o, name, gx)) return -1;
        snprintf(name, sizeof name, "gtheta%d", a);
        if (dump_put_(o, name, gt)) return -1;
    }
    sk_shim_scope_end(s);
    sk_generator_free(g);
    int rc = dump_write_(o, path);
    free(o);
    return rc;
}

int main(int argc, char **argv)
{
    sk_shim_set_num_threads(1);
    int rc = -1;
    if (argc == 3 && !strcmp(argv[1], "sgd"))
        rc = sgd_(argv[2]);
    else if (argc == 3 && !strcmp(argv[1], "grid"))
        rc = grid_(argv[2]);
    else {
        fprintf(stderr, "usage: sk_shim_dump sgd|grid OUT\n");
        return 2;
    }
    if (rc) fprintf(stderr, "sk_shim_dump %s: %s\n", argv[1], sk_error_last());
    return rc ? 1 : 0;
}
