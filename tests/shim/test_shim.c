/* test_shim.c - the libtorch C shim: numerics against known values,
 * gradients against finite differences, scope leak checks, error model,
 * RNG determinism and AdamW against a hand-written reference. */
#define _GNU_SOURCE /* dlsym's RTLD_DEFAULT */
#include <dlfcn.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef SK_MINITEST
#include "sk_minitest.h"
#else
#include <cmocka.h>
#endif

#include "sk_shim.h"

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__}), (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

static sk_tensor *f32_(const float *data, const int64_t *shape, int ndim)
{
    return sk_shim_from_host(data, shape, ndim, SK_F32, SK_CPU);
}

static double at_(sk_tensor *t, int64_t i)
{
    sk_tensor *c = sk_shim_contiguous(sk_shim_to(t, SK_CPU, SK_F64));
    assert_non_null(c);
    double *p = sk_shim_data_ptr(c);
    assert_non_null(p);
    return p[i];
}

static int setup_(void **state)
{
    (void)state;
    sk_shim_set_num_threads(1);
    return 0;
}

/* ---- numerics against known values ---------------------------------- */

static void test_matmul_linear(void **state)
{
    (void)state;
    sk_scope *s = sk_shim_scope_begin();
    float a[] = {1, 2, 3, 4, 5, 6};    /* [2,3] */
    float b[] = {7, 8, 9, 10, 11, 12}; /* [3,2] */
    sk_tensor *A = f32_(a, SHAPE(2, 3)), *B = f32_(b, SHAPE(3, 2));
    sk_tensor *C = sk_shim_matmul(A, B);
    assert_non_null(C);
    /* [[58, 64], [139, 154]] */
    assert_float_equal(at_(C, 0), 58, 1e-5);
    assert_float_equal(at_(C, 1), 64, 1e-5);
    assert_float_equal(at_(C, 2), 139, 1e-5);
    assert_float_equal(at_(C, 3), 154, 1e-5);
    /* linear: x [1,3] w [2,3] b [2] -> x w^T + b */
    float w[] = {1, 0, -1, 0.5f, 0.5f, 0.5f}, bias[] = {10, -10}, x[] = {1, 2, 3};
    sk_tensor *y = sk_shim_linear(f32_(x, SHAPE(1, 3)), f32_(w, SHAPE(2, 3)), f32_(bias, SHAPE(2)));
    assert_float_equal(at_(y, 0), 1 - 3 + 10, 1e-5);
    assert_float_equal(at_(y, 1), 3 - 10, 1e-5);
    sk_shim_scope_end(s);
}

static void test_activations_norms(void **state)
{
    (void)state;
    sk_scope *s = sk_shim_scope_begin();
    float v[] = {-1, 0, 1, 2};
    sk_tensor *t = f32_(v, SHAPE(4));
    sk_tensor *g = sk_shim_gelu(t);
    /* exact GELU: x * Phi(x) */
    for (int i = 0; i < 4; i++) {
        double xv = v[i];
        assert_float_equal(at_(g, i), xv * 0.5 * (1 + erf(xv / sqrt(2.0))), 1e-5);
    }
    sk_tensor *sm = sk_shim_softmax(t, -1);
    double z = exp(-1) + exp(0) + exp(1) + exp(2);
    assert_float_equal(at_(sm, 3), exp(2) / z, 1e-6);
    /* layer norm of [-1,0,1,2]: mean 0.5, var 1.25 */
    sk_tensor *ln = sk_shim_layer_norm(sk_shim_reshape(t, SHAPE(1, 4)), NULL, NULL, 1e-5);
    assert_float_equal(at_(ln, 0), (-1 - 0.5) / sqrt(1.25 + 1e-5), 1e-5);
    assert_float_equal(at_(ln, 3), (2 - 0.5) / sqrt(1.25 + 1e-5), 1e-5);
    /* cross entropy of uniform logits over 2 classes is ln 2; ignore_index skips */
    float logits[] = {0, 0, 5, -5};
    int64_t tg[] = {0, -100};
    sk_tensor *ce =
        sk_shim_cross_entropy(f32_(logits, SHAPE(2, 2)), sk_shim_from_host(tg, SHAPE(2), SK_I64, SK_CPU), -100);
    assert_float_equal(at_(ce, 0), log(2.0), 1e-6);
    sk_tensor *cs = sk_shim_cumsum(t, 0);
    assert_float_equal(at_(cs, 3), 2, 1e-6);
    sk_tensor *nm = sk_shim_norm(t, 0, 0);
    assert_float_equal(at_(nm, 0), sqrt(6.0), 1e-6);
    sk_shim_scope_end(s);
}

static void test_indexing(void **state)
{
    (void)state;
    sk_scope *s = sk_shim_scope_begin();
    float v[] = {0.3f, 0.9f, 0.1f, 0.7f, 0.5f};
    sk_tensor *t = f32_(v, SHAPE(1, 5));
    sk_tensor *vals = NULL, *idx = NULL;
    assert_int_equal(sk_shim_topk(t, 2, -1, 1, 1, &vals, &idx), 0);
    assert_float_equal(at_(idx, 0), 1, 0);
    assert_float_equal(at_(idx, 1), 3, 0);
    /* order-preserving selection: sort the top-k indices */
    sk_tensor *sorted = NULL;
    assert_int_equal(sk_shim_sort(idx, -1, 0, &sorted, NULL), 0);
    assert_float_equal(at_(sorted, 0), 1, 0);
    sk_tensor *g = sk_shim_gather(t, 1, sorted);
    assert_float_equal(at_(g, 1), 0.7, 1e-6);
    sk_tensor *z = sk_shim_zeros(SHAPE(1, 5), SK_F32, SK_CPU);
    sk_tensor *sc = sk_shim_scatter_add(z, 1, sorted, g);
    assert_float_equal(at_(sc, 3), 0.7, 1e-6);
    assert_float_equal(at_(sc, 0), 0, 0);
    sk_tensor *as = sk_shim_argsort(t, -1, 1);
    assert_float_equal(at_(as, 0), 1, 0);
    assert_float_equal(at_(as, 4), 2, 0);
    int64_t rows[] = {4, 0};
    sk_tensor *is = sk_shim_index_select(t, 1, sk_shim_from_host(rows, SHAPE(2), SK_I64, SK_CPU));
    assert_float_equal(at_(is, 0), 0.5, 1e-6);
    /* index_add: repeated positions accumulate, x is not modified */
    int64_t ia[] = {3, 1, 3};
    float av[] = {1, 2, 4};
    sk_tensor *ad = sk_shim_index_add(t, 1, sk_shim_from_host(ia, SHAPE(3), SK_I64, SK_CPU), f32_(av, SHAPE(1, 3)));
    assert_float_equal(at_(ad, 3), 0.7 + 1 + 4, 1e-6);
    assert_float_equal(at_(ad, 1), 0.9 + 2, 1e-6);
    assert_float_equal(at_(ad, 0), 0.3, 1e-6);
    assert_float_equal(at_(t, 3), 0.7, 1e-6);
    int64_t ic[] = {4, 0};
    float cv[] = {8, 9};
    sk_tensor *cp = sk_shim_index_copy(t, 1, sk_shim_from_host(ic, SHAPE(2), SK_I64, SK_CPU), f32_(cv, SHAPE(1, 2)));
    assert_float_equal(at_(cp, 4), 8, 0);
    assert_float_equal(at_(cp, 0), 9, 0);
    assert_float_equal(at_(cp, 1), 0.9, 1e-6);
    assert_float_equal(at_(t, 4), 0.5, 1e-6);
    float e[] = {1, 2, 3, 4, 5, 6};
    int64_t ids[] = {2, 0};
    sk_tensor *emb = sk_shim_embedding(f32_(e, SHAPE(3, 2)), sk_shim_from_host(ids, SHAPE(2), SK_I64, SK_CPU));
    assert_float_equal(at_(emb, 0), 5, 0);
    assert_float_equal(at_(emb, 3), 2, 0);
    sk_tensor *parts[] = {t, t};
    sk_tensor *c = sk_shim_cat(parts, 2, 1);
    assert_int_equal(sk_shim_size(c, 1), 10);
    sk_shim_scope_end(s);
}

/* Fused SDPA (2.x) and the explicit variant agree; causal masking holds. */
static void test_attention(void **state)
{
    (void)state;
    sk_scope *s = sk_shim_scope_begin();
    sk_generator *g = NULL;
    assert_int_equal(sk_generator_create(&g, 7, SK_CPU), 0);
    sk_tensor *q = sk_shim_randn(SHAPE(2, 2, 5, 4), SK_F32, SK_CPU, g);
    sk_tensor *k = sk_shim_randn(SHAPE(2, 2, 5, 4), SK_F32, SK_CPU, g);
    sk_tensor *v = sk_shim_randn(SHAPE(2, 2, 5, 4), SK_F32, SK_CPU, g);
    for (int causal = 0; causal < 2; causal++) {
        sk_tensor *p = NULL;
        sk_tensor *a = sk_shim_sdpa(q, k, v, NULL, causal);
        sk_tensor *b = sk_shim_attention_probs(q, k, v, NULL, causal, &p);
        assert_non_null(a);
        assert_non_null(p);
        sk_tensor *d = sk_shim_abs(sk_shim_sub(a, b));
        sk_tensor *mx = NULL;
        assert_int_equal(sk_shim_max(sk_shim_reshape(d, SHAPE(-1)), 0, 0, &mx, NULL), 0);
        assert_true(at_(mx, 0) < 1e-5);
        /* rows of probs sum to 1 */
        int64_t last[] = {-1};
        sk_tensor *rs = sk_shim_sum(p, last, 1, 0);
        assert_float_equal(at_(rs, 7), 1.0, 1e-5);
        if (causal) assert_float_equal(at_(p, 1), 0.0, 0); /* query 0 cannot see key 1 */
    }
    /* an additive -inf bias masks a key out */
    float bias[] = {0, 0, 0, 0, -INFINITY};
    sk_tensor *bt = f32_(bias, SHAPE(1, 1, 1, 5));
    sk_tensor *p = NULL;
    assert_non_null(sk_shim_attention_probs(q, k, v, bt, 0, &p));
    assert_float_equal(at_(p, 4), 0.0, 0);
    assert_non_null(sk_shim_sdpa(q, k, v, bt, 1));
    sk_generator_free(g);
    sk_shim_scope_end(s);
}

/* ---- gradients against finite differences -------------------------- */

/* f(x, W, b) = sum(gelu(layer_norm(x W^T + b)) * softmax(x W^T)) in f64. */
static sk_tensor *composite_(sk_tensor *x, sk_tensor *w, sk_tensor *b)
{
    sk_tensor *h = sk_shim_linear(x, w, b);
    sk_tensor *a = sk_shim_gelu(sk_shim_layer_norm(h, NULL, NULL, 1e-5));
    sk_tensor *sm = sk_shim_softmax(sk_shim_matmul(x, sk_shim_transpose(w, 0, 1)), -1);
    return sk_shim_sum(sk_shim_mul(a, sm), NULL, 0, 0);
}

static void test_gradcheck(void **state)
{
    (void)state;
    sk_scope *s = sk_shim_scope_begin();
    sk_generator *g = NULL;
    assert_int_equal(sk_generator_create(&g, 3, SK_CPU), 0);
    sk_tensor *x = sk_shim_randn(SHAPE(3, 4), SK_F64, SK_CPU, g);
    sk_tensor *w = sk_shim_randn(SHAPE(5, 4), SK_F64, SK_CPU, g);
    sk_tensor *b = sk_shim_randn(SHAPE(5), SK_F64, SK_CPU, g);
    assert_int_equal(sk_shim_set_requires_grad(w, 1), 0);
    assert_int_equal(sk_shim_set_requires_grad(b, 1), 0);
    sk_tensor *f = composite_(x, w, b);
    assert_non_null(f);
    assert_int_equal(sk_shim_backward(f), 0);
    sk_tensor *gw = NULL, *gb = NULL;
    assert_int_equal(sk_shim_grad(w, &gw), 0);
    assert_int_equal(sk_shim_grad(b, &gb), 0);
    assert_non_null(gw);
    assert_non_null(gb);
    int prev = sk_shim_set_grad_enabled(0);
    double *wp = sk_shim_data_ptr(w), *bp = sk_shim_data_ptr(b);
    const double eps = 1e-6;
    for (int i = 0; i < 20 + 5; i++) {
        double *p = i < 20 ? &wp[i] : &bp[i - 20];
        double orig = *p, fp, fm;
        *p = orig + eps;
        assert_int_equal(sk_shim_item(composite_(x, w, b), &fp), 0);
        *p = orig - eps;
        assert_int_equal(sk_shim_item(composite_(x, w, b), &fm), 0);
        *p = orig;
        double num = (fp - fm) / (2 * eps);
        double ana = i < 20 ? at_(gw, i) : at_(gb, i - 20);
        assert_float_equal(ana, num, 1e-6 * (1 + fabs(num)));
    }
    sk_shim_set_grad_enabled(prev);
    /* zero_grad resets */
    sk_tensor *params[] = {w, b};
    assert_int_equal(sk_shim_zero_grad(params, 2), 0);
    assert_int_equal(sk_shim_grad(w, &gw), 0);
    assert_null(gw);
    /* set_grad: a copy of the given tensor becomes .grad; a shape mismatch fails */
    assert_int_equal(sk_shim_set_grad(w, x), SK_EINVAL);
    sk_tensor *given = sk_shim_randn(SHAPE(5, 4), SK_F64, SK_CPU, g);
    assert_int_equal(sk_shim_set_grad(w, given), 0);
    assert_int_equal(sk_shim_grad(w, &gw), 0);
    assert_non_null(gw);
    double *gp = sk_shim_data_ptr(given), was[20];
    for (int i = 0; i < 20; i++) {
        assert_true(at_(gw, i) == gp[i]);
        was[i] = gp[i];
        gp[i] = 0.0;
    }
    for (int i = 0; i < 20; i++) assert_true(at_(gw, i) == was[i]); /* a copy, not a view of `given` */
    sk_generator_free(g);
    sk_shim_scope_end(s);
}

/* st_gate: values pass unchanged; gradients to rows and logits equal those
 * of the explicit rows[:, p:] * (1 + sigmoid(l) - sg(sigmoid(l))). */
static sk_tensor *st_loss_(sk_tensor *y, sk_tensor *w)
{
    return sk_shim_sum(sk_shim_mul(sk_shim_mul(y, y), w), NULL, 0, 0);
}

static void test_st_gate(void **state)
{
    (void)state;
    sk_scope *s = sk_shim_scope_begin();
    sk_generator *g = NULL;
    assert_int_equal(sk_generator_create(&g, 5, SK_CPU), 0);
    enum { B = 2, P = 1, K = 3, D = 4 };
    sk_tensor *w = sk_shim_randn(SHAPE(B, P + K, D), SK_F64, SK_CPU, g);
    sk_tensor *r[2], *l[2], *gr[2], *gl[2];
    for (int v = 0; v < 2; v++) { /* two identical leaves per version */
        sk_generator *g2 = NULL;
        assert_int_equal(sk_generator_create(&g2, 9, SK_CPU), 0);
        r[v] = sk_shim_randn(SHAPE(B, P + K, D), SK_F64, SK_CPU, g2);
        l[v] = sk_shim_randn(SHAPE(B, K), SK_F64, SK_CPU, g2);
        sk_generator_free(g2);
        assert_int_equal(sk_shim_set_requires_grad(r[v], 1), 0);
        assert_int_equal(sk_shim_set_requires_grad(l[v], 1), 0);
    }
    sk_tensor *y0 = sk_shim_st_gate(r[0], l[0], P);
    sk_tensor *pk = sk_shim_sigmoid(l[1]);
    sk_tensor *gate = sk_shim_add_scalar(sk_shim_sub(pk, sk_shim_detach(pk)), 1.0);
    sk_tensor *parts[2] = {sk_shim_ones(SHAPE(B, P), SK_F64, SK_CPU), gate};
    sk_tensor *y1 = sk_shim_mul(r[1], sk_shim_unsqueeze(sk_shim_cat(parts, 2, 1), -1));
    assert_non_null(y0);
    assert_non_null(y1);
    for (int i = 0; i < B * (P + K) * D; i++) assert_float_equal(at_(y0, i), at_(y1, i), 1e-12);
    assert_int_equal(sk_shim_backward(st_loss_(y0, w)), 0);
    assert_int_equal(sk_shim_backward(st_loss_(y1, w)), 0);
    for (int v = 0; v < 2; v++) {
        assert_int_equal(sk_shim_grad(r[v], &gr[v]), 0);
        assert_int_equal(sk_shim_grad(l[v], &gl[v]), 0);
        assert_non_null(gr[v]);
        assert_non_null(gl[v]);
    }
    for (int i = 0; i < B * (P + K) * D; i++) assert_float_equal(at_(gr[0], i), at_(gr[1], i), 1e-12);
    double nz = 0;
    for (int i = 0; i < B * K; i++) {
        assert_float_equal(at_(gl[0], i), at_(gl[1], i), 1e-12);
        nz += fabs(at_(gl[0], i));
    }
    assert_true(nz > 0);                         /* the logits do get a gradient */
    assert_null(sk_shim_st_gate(r[0], l[0], 2)); /* p + K != rows */
    assert_non_null(strstr(sk_error_last(), "st_gate"));
    sk_generator_free(g);
    sk_shim_scope_end(s);
}

/* Thread count reaches libtorch, and OpenBLAS's own pool (which
 * at::set_num_threads leaves at one per core), where libtorch's BLAS is
 * OpenBLAS, is held at 1. */
static void test_threads(void **state)
{
    (void)state;
    int (*blas)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    for (int n = 2; n >= 1; n--) {
        sk_shim_set_num_threads(n);
        assert_int_equal(sk_shim_get_num_threads(), n);
        if (blas) assert_int_equal(blas(), 1);
    }
    if (!blas) fprintf(stderr, "  libtorch's BLAS is not OpenBLAS here: only the libtorch count checked\n");
}

/* ---- scopes: many training steps leak nothing ------------------------ */

static void test_scope_leak(void **state)
{
    (void)state;
    int64_t base = sk_shim_live_tensors();
    sk_generator *g = NULL;
    assert_int_equal(sk_generator_create(&g, 1, SK_CPU), 0);
    sk_tensor *w = sk_shim_keep(sk_shim_randn(SHAPE(8, 16), SK_F32, SK_CPU, g));
    sk_shim_set_requires_grad(w, 1);
    sk_adamw *opt = NULL;
    sk_adamw_opts o = {1e-2, 0.9, 0.999, 1e-8, 0.01};
    assert_int_equal(sk_adamw_create(&opt, &w, NULL, 1, &o), 0);
    int64_t after_setup = sk_shim_live_tensors();
    assert_int_equal(after_setup, base + 1);
    for (int step = 0; step < 500; step++) {
        sk_scope *s = sk_shim_scope_begin();
        sk_tensor *x = sk_shim_randn(SHAPE(4, 16), SK_F32, SK_CPU, g);
        sk_tensor *loss = sk_shim_mean(sk_shim_pow_scalar(sk_shim_gelu(sk_shim_linear(x, w, NULL)), 2), NULL, 0, 0);
        assert_int_equal(sk_shim_backward(loss), 0);
        assert_int_equal(sk_adamw_step(opt, 1e-2), 0);
        assert_int_equal(sk_shim_zero_grad(&w, 1), 0);
        assert_true(sk_shim_scope_size(s) > 0);
        sk_shim_scope_end(s);
        /* the optimizer's two moment tensors appear after the first step */
        assert_int_equal(sk_shim_live_tensors(), after_setup + 2);
    }
    /* nested scopes close together; kept tensors survive */
    sk_scope *outer = sk_shim_scope_begin();
    sk_shim_scope_begin();
    sk_tensor *kept = sk_shim_keep(sk_shim_zeros(SHAPE(2), SK_F32, SK_CPU));
    sk_shim_zeros(SHAPE(2), SK_F32, SK_CPU);
    sk_shim_scope_end(outer);
    assert_int_equal(sk_shim_live_tensors(), after_setup + 2 + 1);
    sk_tensor_free(kept);
    sk_adamw_free(opt);
    sk_tensor_free(w);
    sk_generator_free(g);
    assert_int_equal(sk_shim_live_tensors(), base);
}

/* ---- error model ----------------------------------------------------- */

static void test_errors(void **state)
{
    (void)state;
    sk_scope *s = sk_shim_scope_begin();
    sk_error_clear();
    sk_tensor *a = sk_shim_zeros(SHAPE(2, 3), SK_F32, SK_CPU);
    sk_tensor *b = sk_shim_zeros(SHAPE(4, 5), SK_F32, SK_CPU);
    sk_tensor *c = sk_shim_matmul(a, b);
    assert_null(c);
    assert_int_equal(sk_error_last_code(), SK_ETORCH);
    assert_non_null(strstr(sk_error_last(), "matmul([2, 3] Float, [4, 5] Float)"));
    assert_null(strchr(sk_error_last(), '\n'));
    /* NULL propagates and keeps the first message */
    char first[256];
    snprintf(first, sizeof first, "%s", sk_error_last());
    sk_tensor *d = sk_shim_gelu(sk_shim_add(c, a));
    assert_null(d);
    assert_string_equal(sk_error_last(), first);
    assert_true(sk_shim_backward(NULL) < 0);
    /* int-returning ops report too */
    sk_error_clear();
    double v;
    assert_int_equal(sk_shim_item(a, &v), SK_ETORCH);
    assert_non_null(strstr(sk_error_last(), "item"));
    char buf[8];
    assert_int_equal(sk_shim_to_host(a, buf, sizeof buf), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "need 24"));
    assert_int_equal(sk_shim_parse_device("tpu", &(sk_device){0}), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "'tpu'"));
    sk_shim_scope_end(s);
}

/* ---- RNG ---------------------------------------------------------------- */

static void test_generator(void **state)
{
    (void)state;
    sk_scope *s = sk_shim_scope_begin();
    sk_generator *g1 = NULL, *g2 = NULL;
    assert_int_equal(sk_generator_create(&g1, 42, SK_CPU), 0);
    assert_int_equal(sk_generator_create(&g2, 42, SK_CPU), 0);
    sk_tensor *a = sk_shim_randn(SHAPE(16), SK_F32, SK_CPU, g1);
    sk_tensor *b = sk_shim_randn(SHAPE(16), SK_F32, SK_CPU, g2);
    for (int i = 0; i < 16; i++) assert_true(at_(a, i) == at_(b, i));
    size_t len = 0;
    assert_int_equal(sk_generator_get_state(g1, NULL, 0, &len), 0);
    assert_true(len > 0);
    unsigned char st[8192];
    assert_true(len <= sizeof st);
    assert_int_equal(sk_generator_get_state(g1, st, sizeof st, &len), 0);
    sk_tensor *c = sk_shim_rand(SHAPE(8), SK_F32, SK_CPU, g1);
    assert_int_equal(sk_generator_set_state(g2, st, len), 0);
    sk_tensor *d = sk_shim_rand(SHAPE(8), SK_F32, SK_CPU, g2);
    for (int i = 0; i < 8; i++) assert_true(at_(c, i) == at_(d, i));
    sk_tensor *p = sk_shim_randperm(10, SK_CPU, g1);
    double sum = 0;
    for (int i = 0; i < 10; i++) sum += at_(p, i);
    assert_float_equal(sum, 45, 0);
    sk_generator_free(g1);
    sk_generator_free(g2);
    sk_shim_scope_end(s);
}

/* ---- AdamW and clipping against the update written out by hand --------- */

static void test_adamw(void **state)
{
    (void)state;
    float p0[] = {1.0f, -2.0f};
    sk_tensor *p = sk_shim_keep(f32_(p0, SHAPE(2)));
    sk_shim_set_requires_grad(p, 1);
    sk_adamw *opt = NULL;
    sk_adamw_opts o = {0.1, 0.9, 0.999, 1e-8, 0.5};
    assert_int_equal(sk_adamw_create(&opt, &p, NULL, 1, &o), 0);
    double ref[2] = {1.0, -2.0}, m[2] = {0, 0}, v[2] = {0, 0};
    for (int step = 1; step <= 3; step++) {
        sk_scope *s = sk_shim_scope_begin();
        /* loss = sum(p^2) / 2 -> grad = p */
        sk_tensor *loss = sk_shim_mul_scalar(sk_shim_sum(sk_shim_mul(p, p), NULL, 0, 0), 0.5);
        assert_int_equal(sk_shim_backward(loss), 0);
        assert_int_equal(sk_adamw_step(opt, 0.1), 0);
        assert_int_equal(sk_shim_zero_grad(&p, 1), 0);
        for (int i = 0; i < 2; i++) {
            double gr = ref[i];
            ref[i] *= 1 - 0.1 * 0.5;
            m[i] = 0.9 * m[i] + 0.1 * gr;
            v[i] = 0.999 * v[i] + 0.001 * gr * gr;
            double mh = m[i] / (1 - pow(0.9, step)), vh = sqrt(v[i]) / sqrt(1 - pow(0.999, step));
            ref[i] -= 0.1 * mh / (vh + 1e-8);
            assert_float_equal(at_(p, i), ref[i], 1e-5);
        }
        sk_shim_scope_end(s);
    }
    assert_int_equal(sk_adamw_step_count(opt), 3);
    sk_tensor *ea = NULL, *eas = NULL;
    assert_int_equal(sk_adamw_state(opt, 0, &ea, &eas), 0);
    assert_float_equal(at_(ea, 0), m[0], 1e-5);
    /* clipping: grad = p * 100, clipped to norm 1 */
    sk_scope *s = sk_shim_scope_begin();
    sk_tensor *loss = sk_shim_mul_scalar(sk_shim_sum(sk_shim_mul(p, p), NULL, 0, 0), 50);
    assert_int_equal(sk_shim_backward(loss), 0);
    double norm = 0;
    assert_int_equal(sk_shim_clip_grad_norm(&p, 1, 1.0, &norm), 0);
    assert_float_equal(norm, 100 * sqrt(ref[0] * ref[0] + ref[1] * ref[1]), 1e-3);
    sk_tensor *gr = NULL;
    assert_int_equal(sk_shim_grad(p, &gr), 0);
    sk_tensor *gn = sk_shim_norm(gr, 0, 0);
    assert_float_equal(at_(gn, 0), 1.0, 1e-4);
    sk_shim_scope_end(s);
    sk_adamw_free(opt);
    sk_tensor_free(p);
}

/* torch.optim.AdamW (single-tensor path) on one element: step t is the
 * parameter's own count (state['step']). */
static void adamw_ref_(double *p, double *m, double *v, double g, int64_t t, double lr, double wd)
{
    *p *= 1 - lr * wd;
    *m = 0.9 * *m + 0.1 * g;
    *v = 0.999 * *v + 0.001 * g * g;
    double denom = sqrt(*v) / sqrt(1 - pow(0.999, (double)t)) + 1e-8;
    *p -= lr / (1 - pow(0.9, (double)t)) * *m / denom;
}

/* Per-parameter step counts: p2 gets its first gradient at step 3 and takes
 * a full first step there (bias correction with its own t = 1, so the
 * update is lr * g / (|g| + eps) besides the decay), while p1's trajectory
 * continues with t = 3, 4, 5; both against the reference. */
static void test_adamw_late_param(void **state)
{
    (void)state;
    float a0[] = {1.0f, -2.0f}, b0[] = {0.5f, -3.0f};
    sk_tensor *ps[2] = {sk_shim_keep(f32_(a0, SHAPE(2))), sk_shim_keep(f32_(b0, SHAPE(2)))};
    sk_shim_set_requires_grad(ps[0], 1);
    sk_shim_set_requires_grad(ps[1], 1);
    sk_adamw *opt = NULL;
    const double lr = 0.1, wd = 0.5;
    sk_adamw_opts o = {lr, 0.9, 0.999, 1e-8, wd};
    assert_int_equal(sk_adamw_create(&opt, ps, NULL, 2, &o), 0);
    double ref[2][2] = {{1.0, -2.0}, {0.5, -3.0}}, m[2][2] = {{0}}, v[2][2] = {{0}};
    int64_t t[2] = {0, 0};
    for (int step = 1; step <= 5; step++) {
        sk_scope *s = sk_shim_scope_begin();
        /* loss = sum(p1^2) / 2 (grad p1), plus sum(p2^3) / 3 (grad p2^2) from step 3 on */
        sk_tensor *loss = sk_shim_mul_scalar(sk_shim_sum(sk_shim_mul(ps[0], ps[0]), NULL, 0, 0), 0.5);
        if (step >= 3)
            loss =
                sk_shim_add(loss, sk_shim_mul_scalar(sk_shim_sum(sk_shim_pow_scalar(ps[1], 3), NULL, 0, 0), 1.0 / 3));
        assert_int_equal(sk_shim_backward(loss), 0);
        assert_int_equal(sk_adamw_step(opt, lr), 0);
        assert_int_equal(sk_shim_zero_grad(ps, 2), 0);
        for (int k = 0; k < 2; k++) {
            if (k == 1 && step < 3) { /* no gradient: untouched, no decay, no step counted */
                for (int i = 0; i < 2; i++) assert_float_equal(at_(ps[1], i), ref[1][i], 0);
                continue;
            }
            t[k]++;
            for (int i = 0; i < 2; i++) {
                double before = ref[k][i], g = k == 0 ? before : before * before;
                adamw_ref_(&ref[k][i], &m[k][i], &v[k][i], g, t[k], lr, wd);
                if (k == 1 && step == 3) /* a full first step */
                    assert_float_equal(ref[k][i], before * (1 - lr * wd) - lr * g / (fabs(g) + 1e-8), 1e-12);
                assert_float_equal(at_(ps[k], i), ref[k][i], 1e-5);
            }
        }
        sk_shim_scope_end(s);
    }
    assert_int_equal(sk_adamw_step_count(opt), 5);
    assert_int_equal(sk_adamw_param_step(opt, 0), 5);
    assert_int_equal(sk_adamw_param_step(opt, 1), 3);
    assert_int_equal(sk_adamw_set_param_step(opt, 1, 7), 0);
    assert_int_equal(sk_adamw_param_step(opt, 1), 7);
    assert_int_equal(sk_adamw_set_param_step(opt, 2, 1), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "parameter 2"));
    sk_adamw_free(opt);
    sk_tensor_free(ps[0]);
    sk_tensor_free(ps[1]);
}

/* ---- convolutional nets: conv2d, norms, pooling against naive loops -- */

enum { CB = 2, CI = 2, CO = 3, CH = 5, CW = 4 }; /* batch, in/out channels, image */

static sk_tensor *f64_rand_(sk_generator *g, const int64_t *shape, int ndim)
{
    return sk_shim_randn(shape, ndim, SK_F64, SK_CPU, g);
}

static double *host_(sk_tensor *t) /* f64 data of a contiguous CPU tensor */
{
    double *p = sk_shim_data_ptr(t);
    assert_non_null(p);
    return p;
}

/* Naive stride-1 zero-padded 3x3 convolution, y[b,o,i,j]. */
static double conv_ref_(const double *x, const double *w, const double *bias, int pad, int b, int o, int i, int j)
{
    double acc = bias[o];
    for (int c = 0; c < CI; c++)
        for (int u = 0; u < 3; u++)
            for (int v = 0; v < 3; v++) {
                int r = i + u - pad, q = j + v - pad;
                if (r >= 0 && r < CH && q >= 0 && q < CW)
                    acc += w[((o * CI + c) * 3 + u) * 3 + v] * x[((b * CI + c) * CH + r) * CW + q];
            }
    return acc;
}

static void test_conv2d(void **state)
{
    (void)state;
    sk_scope *s = sk_shim_scope_begin();
    sk_generator *g = NULL;
    assert_int_equal(sk_generator_create(&g, 11, SK_CPU), 0);
    sk_tensor *x = f64_rand_(g, SHAPE(CB, CI, CH, CW)), *w = f64_rand_(g, SHAPE(CO, CI, 3, 3));
    sk_tensor *b = f64_rand_(g, SHAPE(CO));
    for (int pad = 0; pad <= 3; pad += 1) {
        sk_tensor *y = sk_shim_contiguous(sk_shim_conv2d(x, w, b, pad));
        int oh = CH + 2 * pad - 2, ow = CW + 2 * pad - 2;
        assert_int_equal(sk_shim_size(y, 2), oh);
        assert_int_equal(sk_shim_size(y, 3), ow);
        const double *yp = host_(y);
        for (int bb = 0; bb < CB; bb++)
            for (int o = 0; o < CO; o++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                        assert_float_equal(yp[((bb * CO + o) * oh + i) * ow + j],
                                           conv_ref_(host_(x), host_(w), host_(b), pad, bb, o, i, j), 1e-10);
    }
    sk_tensor *nob = sk_shim_conv2d(x, w, NULL, 1);
    assert_non_null(nob);
    assert_null(sk_shim_conv2d(x, w, b, -1));
    assert_non_null(strstr(sk_error_last(), "conv2d"));
    assert_null(sk_shim_conv2d(x, sk_shim_transpose(w, 0, 1), b, 1)); /* 2 out of 3 in channels */
    sk_generator_free(g);
    sk_shim_scope_end(s);
}

/* Naive normalisation of x [CB, CO, CH, CW] per (sample, group) when
 * per_sample, else per channel over the batch (biased variance); stats
 * gives each channel's batch mean and unbiased variance. */
static void norm_ref_(const double *x, int groups, int per_sample, const double *w, const double *b, double eps,
                      double *y, double *mean_out, double *uvar_out)
{
    int cpg = CO / groups, hw = CH * CW;
    for (int n = 0; n < (per_sample ? CB : 1); n++)
        for (int gi = 0; gi < groups; gi++) {
            double sum = 0, sq = 0, cnt = 0;
            for (int bb = per_sample ? n : 0; bb < (per_sample ? n + 1 : CB); bb++)
                for (int c = gi * cpg; c < (gi + 1) * cpg; c++)
                    for (int k = 0; k < hw; k++) {
                        double v = x[(bb * CO + c) * hw + k];
                        sum += v, sq += v * v, cnt++;
                    }
            double mu = sum / cnt, var = sq / cnt - mu * mu;
            if (mean_out) mean_out[gi] = mu, uvar_out[gi] = var * cnt / (cnt - 1);
            for (int bb = per_sample ? n : 0; bb < (per_sample ? n + 1 : CB); bb++)
                for (int c = gi * cpg; c < (gi + 1) * cpg; c++)
                    for (int k = 0; k < hw; k++) {
                        int at = (bb * CO + c) * hw + k;
                        y[at] = (x[at] - mu) / sqrt(var + eps) * w[c] + b[c];
                    }
        }
}

static void expect_close_(sk_tensor *t, const double *ref, int n, double tol)
{
    const double *p = host_(sk_shim_contiguous(t));
    for (int i = 0; i < n; i++) assert_float_equal(p[i], ref[i], tol);
}

static void test_group_batch_norm(void **state)
{
    (void)state;
    enum { N = CB * CO * CH * CW };
    sk_scope *s = sk_shim_scope_begin();
    sk_generator *g = NULL;
    assert_int_equal(sk_generator_create(&g, 12, SK_CPU), 0);
    sk_tensor *x = sk_shim_add_scalar(f64_rand_(g, SHAPE(CB, CO, CH, CW)), 0.7);
    sk_tensor *w = f64_rand_(g, SHAPE(CO)), *b = f64_rand_(g, SHAPE(CO));
    double ref[N], mu[CO], uv[CO];
    /* instance norm (groups == channels) and one group over all channels */
    norm_ref_(host_(x), CO, 1, host_(w), host_(b), 1e-5, ref, NULL, NULL);
    expect_close_(sk_shim_group_norm(x, CO, w, b, 1e-5), ref, N, 1e-9);
    norm_ref_(host_(x), 1, 1, host_(w), host_(b), 1e-5, ref, NULL, NULL);
    expect_close_(sk_shim_group_norm(x, 1, w, b, 1e-5), ref, N, 1e-9);
    assert_null(sk_shim_group_norm(x, 2, w, b, 1e-5)); /* 2 does not divide 3 */
    assert_non_null(strstr(sk_error_last(), "group_norm"));
    /* batch norm, training: batch statistics; running stats move by 0.1 */
    sk_tensor *rm = sk_shim_full(SHAPE(CO), 0.5, SK_F64, SK_CPU), *rv = sk_shim_full(SHAPE(CO), 2.0, SK_F64, SK_CPU);
    norm_ref_(host_(x), CO, 0, host_(w), host_(b), 1e-5, ref, mu, uv);
    expect_close_(sk_shim_batch_norm(x, w, b, rm, rv, 1, 0.1, 1e-5), ref, N, 1e-9);
    for (int c = 0; c < CO; c++) {
        assert_float_equal(host_(rm)[c], 0.9 * 0.5 + 0.1 * mu[c], 1e-12);
        assert_float_equal(host_(rv)[c], 0.9 * 2.0 + 0.1 * uv[c], 1e-12);
    }
    /* evaluation: the running statistics, which stay put */
    sk_tensor *ye = sk_shim_contiguous(sk_shim_batch_norm(x, w, b, rm, rv, 0, 0.1, 1e-5));
    for (int i = 0; i < N; i++) {
        int c = (i / (CH * CW)) % CO;
        double e = (host_(x)[i] - host_(rm)[c]) / sqrt(host_(rv)[c] + 1e-5) * host_(w)[c] + host_(b)[c];
        assert_float_equal(host_(ye)[i], e, 1e-9);
    }
    assert_float_equal(host_(rm)[0], 0.9 * 0.5 + 0.1 * mu[0], 1e-12);
    assert_null(sk_shim_batch_norm(x, w, b, NULL, NULL, 0, 0.1, 1e-5));
    assert_non_null(strstr(sk_error_last(), "running"));
    sk_generator_free(g);
    sk_shim_scope_end(s);
}

static void test_pool2d(void **state)
{
    (void)state;
    sk_scope *s = sk_shim_scope_begin();
    sk_generator *g = NULL;
    assert_int_equal(sk_generator_create(&g, 13, SK_CPU), 0);
    sk_tensor *x = f64_rand_(g, SHAPE(CB, CO, CH, CW)); /* 5 x 4: the last row is dropped */
    sk_tensor *av = sk_shim_contiguous(sk_shim_avg_pool2d(x, 2)), *mx = sk_shim_contiguous(sk_shim_max_pool2d(x, 2));
    assert_int_equal(sk_shim_size(av, 2), CH / 2);
    assert_int_equal(sk_shim_size(mx, 3), CW / 2);
    const double *xp = host_(x);
    for (int p = 0; p < CB * CO; p++)
        for (int i = 0; i < CH / 2; i++)
            for (int j = 0; j < CW / 2; j++) {
                double sum = 0, m = -INFINITY;
                for (int u = 0; u < 2; u++)
                    for (int v = 0; v < 2; v++) {
                        double e = xp[(p * CH + 2 * i + u) * CW + 2 * j + v];
                        sum += e, m = e > m ? e : m;
                    }
                int at = (p * (CH / 2) + i) * (CW / 2) + j;
                assert_float_equal(host_(av)[at], sum / 4, 1e-12);
                assert_float_equal(host_(mx)[at], m, 0);
            }
    assert_null(sk_shim_avg_pool2d(x, 0));
    assert_non_null(strstr(sk_error_last(), "avg_pool2d"));
    sk_generator_free(g);
    sk_shim_scope_end(s);
}

/* Gradients of sum(r * pool(relu(norm(conv(x, w, b))))) for each norm and
 * pool against central differences, in f64. */
typedef struct {
    sk_tensor *x, *w, *b, *nw, *nb, *r;
    int norm, pool; /* norm 0 group (instance), 1 batch; pool 0 avg, 1 max */
} conv_case_;

static sk_tensor *conv_loss_(const conv_case_ *c)
{
    sk_tensor *h = sk_shim_conv2d(c->x, c->w, c->b, 1);
    h = c->norm ? sk_shim_batch_norm(h, c->nw, c->nb, NULL, NULL, 1, 0.1, 1e-5)
                : sk_shim_group_norm(h, CO, c->nw, c->nb, 1e-5);
    h = sk_shim_relu(h);
    h = c->pool ? sk_shim_max_pool2d(h, 2) : sk_shim_avg_pool2d(h, 2);
    return sk_shim_sum(sk_shim_mul(h, c->r), NULL, 0, 0);
}

static void conv_gradcheck_(conv_case_ *c)
{
    sk_tensor *leaves[] = {c->x, c->w, c->b, c->nw, c->nb};
    for (int l = 0; l < 5; l++) assert_int_equal(sk_shim_set_requires_grad(leaves[l], 1), 0);
    assert_int_equal(sk_shim_backward(conv_loss_(c)), 0);
    int prev = sk_shim_set_grad_enabled(0);
    for (int l = 0; l < 5; l++) {
        sk_tensor *gr = NULL;
        assert_int_equal(sk_shim_grad(leaves[l], &gr), 0);
        assert_non_null(gr);
        double *p = host_(leaves[l]);
        for (int64_t i = 0; i < sk_shim_numel(leaves[l]); i += 3) {
            double orig = p[i], fp, fm;
            p[i] = orig + 1e-6;
            assert_int_equal(sk_shim_item(conv_loss_(c), &fp), 0);
            p[i] = orig - 1e-6;
            assert_int_equal(sk_shim_item(conv_loss_(c), &fm), 0);
            p[i] = orig;
            double num = (fp - fm) / 2e-6;
            assert_float_equal(at_(gr, i), num, 1e-5 * (1 + fabs(num)));
        }
    }
    sk_shim_set_grad_enabled(prev);
    assert_int_equal(sk_shim_zero_grad(leaves, 5), 0);
}

static void test_conv_gradcheck(void **state)
{
    (void)state;
    sk_scope *s = sk_shim_scope_begin();
    sk_generator *g = NULL;
    assert_int_equal(sk_generator_create(&g, 14, SK_CPU), 0);
    conv_case_ c = {f64_rand_(g, SHAPE(CB, CI, CH, CW)),
                    f64_rand_(g, SHAPE(CO, CI, 3, 3)),
                    f64_rand_(g, SHAPE(CO)),
                    f64_rand_(g, SHAPE(CO)),
                    f64_rand_(g, SHAPE(CO)),
                    f64_rand_(g, SHAPE(CB, CO, CH / 2, CW / 2)),
                    0,
                    0};
    for (c.norm = 0; c.norm < 2; c.norm++)
        for (c.pool = 0; c.pool < 2; c.pool++) conv_gradcheck_(&c);
    sk_generator_free(g);
    sk_shim_scope_end(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_linear), cmocka_unit_test(test_activations_norms),
        cmocka_unit_test(test_indexing),      cmocka_unit_test(test_attention),
        cmocka_unit_test(test_gradcheck),     cmocka_unit_test(test_scope_leak),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_generator),
        cmocka_unit_test(test_adamw),         cmocka_unit_test(test_adamw_late_param),
        cmocka_unit_test(test_st_gate),       cmocka_unit_test(test_threads),
        cmocka_unit_test(test_conv2d),        cmocka_unit_test(test_group_batch_norm),
        cmocka_unit_test(test_pool2d),        cmocka_unit_test(test_conv_gradcheck),
    };
    return cmocka_run_group_tests_name("shim", tests, setup_, NULL);
}
