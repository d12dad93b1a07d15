/* test_model_registry.c - every entry of the model registry
 * (models/sk_model.h) against the interface's contract: it is found by
 * its name, its required slots are set, it builds from the [model] table
 * defaults plus a sample description of its kind, forward gives a finite
 * loss over the right count, embed gives [B, features], and a file
 * sk_model_save wrote rebuilds the same model (same loss, bit for bit);
 * a batch-norm ConvNet's running statistics travel in that file too. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sk_gpt.h"
#include "sk_model.h"
#include "sk_weights.h"

enum { B_ = 4, H_ = 8, W_ = 8, T_ = 9, VOCAB_ = 11, CLASSES_ = 3 };

/* Table defaults, made small; arch set to the entry's name. */
static void small_config_(sk_model_config *c, const char *arch)
{
    const sk_cfg_section *sec = &sk_model_section;
    void *base = c;
    assert_int_equal(sk_cfg_defaults(&sec, 1, &base), 0);
    snprintf(c->arch, sizeof c->arch, "%s", arch);
    c->width = 16;
    c->depth = 2;
    c->heads = 2;
    c->mlp_ratio = 2;
    c->patch = 4;
}

/* A sample description and a batch (x, y) of the kind the entry takes,
 * in the current scope. */
static void sample_(const sk_model_vtable *vt, sk_model_data *d, sk_tensor **x, sk_tensor **y)
{
    memset(d, 0, sizeof *d);
    if (vt->flags & SK_MODEL_TOKENS) {
        int64_t tok[B_ * T_], s[2] = {B_, T_};
        for (int i = 0; i < B_ * T_; i++) tok[i] = (i * 7 + 3) % VOCAB_;
        d->kind = SK_SAMPLE_TOKENS;
        d->ndim = 1;
        d->shape[0] = T_;
        d->vocab = VOCAB_;
        *x = sk_shim_from_host(tok, s, 2, SK_I64, SK_CPU);
        *y = NULL;
    } else {
        uint8_t px[B_ * H_ * W_];
        int64_t lab[B_], s[3] = {B_, H_, W_}, ls[1] = {B_};
        for (int i = 0; i < B_ * H_ * W_; i++) px[i] = (uint8_t)(i * 37 + 11);
        for (int i = 0; i < B_; i++) lab[i] = i % CLASSES_;
        d->kind = SK_SAMPLE_IMAGE;
        d->ndim = 2;
        d->shape[0] = H_;
        d->shape[1] = W_;
        d->classes = CLASSES_;
        *x = sk_shim_from_host(px, s, 3, SK_U8, SK_CPU);
        *y = sk_shim_from_host(lab, ls, 1, SK_I64, SK_CPU);
    }
    assert_non_null(*x);
}

static void test_entries_are_well_formed(void **state)
{
    (void)state;
    assert_true(sk_model_count() >= 2);
    assert_null(sk_model_at(-1));
    assert_null(sk_model_at(sk_model_count()));
    for (int i = 0; i < sk_model_count(); i++) {
        const sk_model_vtable *vt = sk_model_at(i);
        assert_int_equal(vt->version, SK_MODEL_VERSION);
        assert_ptr_equal(sk_model_find(vt->name), vt);
        assert_non_null(vt->help);
        assert_non_null(vt->keys);
        assert_true(vt->check && vt->create && vt->destroy && vt->params && vt->info && vt->forward && vt->embed);
        /* exactly one of LM / classifier, and one input kind */
        assert_true(!!(vt->flags & SK_MODEL_LM) + !!(vt->flags & SK_MODEL_CLASSIFIER) == 1);
        assert_true(!!(vt->flags & SK_MODEL_TOKENS) + !!(vt->flags & SK_MODEL_IMAGES) == 1);
    }
    assert_null(sk_model_find("resnet"));
    assert_null(sk_model_find(NULL));
}

static void test_unknown_arch_refused(void **state)
{
    (void)state;
    sk_model_config c;
    small_config_(&c, "resnet");
    assert_int_equal(sk_model_config_check(&c), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "model.arch: 'resnet' is not one of"));
    assert_non_null(strstr(sk_error_last(), "vit")); /* the names come from the registry */
    assert_non_null(strstr(sk_error_last(), "gpt"));
    sk_model_data d = {SK_SAMPLE_IMAGE, 2, {8, 8}, 0, 3};
    sk_model *m = (sk_model *)&c;
    assert_int_equal(sk_model_create(&m, &c, &d, 1), SK_EINVAL);
    assert_null(m);
}

/* Every entry: create, forward, embed, selector hook (or its refusal),
 * save and rebuild from the file. */
static void test_every_entry_runs(void **state)
{
    (void)state;
    for (int i = 0; i < sk_model_count(); i++) {
        const sk_model_vtable *vt = sk_model_at(i);
        sk_model_config c;
        sk_model_data d;
        sk_model *m = NULL, *back = NULL;
        small_config_(&c, vt->name);
        sk_scope *sc = sk_shim_scope_begin();
        sk_tensor *x, *y;
        sample_(vt, &d, &x, &y);
        int rc = sk_model_create(&m, &c, &d, 5);
        if (rc) fprintf(stderr, "%s: %s\n", vt->name, sk_error_last());
        assert_int_equal(rc, 0);
        sk_model_info info;
        sk_model_info_get(m, &info);
        assert_string_equal(info.arch, vt->name);
        assert_int_equal(info.flags, vt->flags);
        assert_int_equal(info.outputs, (vt->flags & SK_MODEL_LM) ? VOCAB_ : CLASSES_);
        assert_true(sk_model_params(m)->n > 0);

        sk_model_out o;
        assert_int_equal(sk_model_forward(m, x, y, NULL, 0, 1, &o), 0);
        double loss = NAN;
        assert_int_equal(sk_shim_item(o.loss, &loss), 0);
        assert_true(isfinite(loss) && loss > 0);
        assert_int_equal(o.count, (vt->flags & SK_MODEL_LM) ? B_ * (T_ - 1) : B_);
        /* per-sample losses [B] whose mean is the loss (every window scores the same count of targets) */
        assert_non_null(o.sample_loss);
        assert_int_equal(sk_shim_ndim(o.sample_loss), 1);
        assert_int_equal(sk_shim_size(o.sample_loss, 0), B_);
        double ms = NAN;
        assert_int_equal(sk_shim_item(sk_shim_mean(o.sample_loss, NULL, 0, 0), &ms), 0);
        assert_true(fabs(ms - loss) < 1e-5 * loss);
        assert_int_equal(sk_shim_size(o.logits, sk_shim_ndim(o.logits) - 1), info.outputs);
        if (vt->flags & SK_MODEL_CLASSIFIER) {
            assert_true(o.correct >= 0 && o.correct <= B_);
            /* a classifier needs labels */
            assert_int_equal(sk_model_forward(m, x, NULL, NULL, 0, 1, &o), SK_EINVAL);
        }

        sk_tensor *feat = NULL;
        assert_int_equal(sk_model_embed(m, x, &feat), 0);
        assert_int_equal(sk_shim_ndim(feat), 2);
        assert_int_equal(sk_shim_size(feat, 0), B_);
        assert_int_equal(sk_shim_size(feat, 1), info.features);
        int fin = 0;
        assert_int_equal(sk_shim_all_finite(feat, &fin), 0);
        assert_true(fin);

        /* the selector hook, or a refusal that names the model */
        sk_select_model sm;
        rc = sk_model_select_model(m, &sm);
        if (vt->select_model) {
            assert_int_equal(rc, 0);
            assert_int_equal(sm.depth, c.depth);
            assert_int_equal(sm.width, c.width);
            assert_int_equal(sm.causal, !!(vt->flags & SK_MODEL_LM));
        } else {
            assert_int_equal(rc, SK_EUNSUPPORTED);
            assert_non_null(strstr(sk_error_last(), vt->name));
        }

        /* the architecture travels in the file's metadata */
        char path[256];
        snprintf(path, sizeof path, "/tmp/sk_model_registry_%s_%ld.safetensors", vt->name, (long)getpid());
        assert_int_equal(sk_model_save(m, path, NULL), 0);
        rc = sk_model_create_from_file(&back, path);
        if (rc) fprintf(stderr, "%s: %s\n", vt->name, sk_error_last());
        assert_int_equal(rc, 0);
        assert_string_equal(sk_model_cfg(back)->arch, vt->name);
        assert_int_equal(sk_model_sample(back)->ndim, d.ndim);
        assert_int_equal(sk_params_numel(sk_model_params(back)), sk_params_numel(sk_model_params(m)));
        sk_model_out ob;
        double lb = NAN;
        assert_int_equal(sk_model_forward(back, x, y, NULL, 0, 1, &ob), 0);
        assert_int_equal(sk_shim_item(ob.loss, &lb), 0);
        assert_true(lb == loss);
        if (vt->flags & SK_MODEL_LM) { /* a saved LM also serves as the selectors' frozen proxy */
            sk_gpt_opts go;
            assert_int_equal(sk_gpt_opts_from_file(path, &go), 0);
            assert_int_equal(go.vocab, VOCAB_);
            assert_int_equal(go.seq_len, T_ - 1);
        }
        unlink(path);
        sk_shim_scope_end(sc);
        sk_model_free(back);
        sk_model_free(m);
    }
    sk_model_free(NULL);
}

/* A file without the metadata is refused naming the file; a sample the
 * arch cannot take is refused naming it. */
static void test_bad_inputs_refused(void **state)
{
    (void)state;
    sk_model *m = NULL;
    assert_true(sk_model_create_from_file(&m, "/no/such/model.safetensors") < 0);
    assert_null(m);
    char path[256];
    snprintf(path, sizeof path, "/tmp/sk_model_registry_bare_%ld.safetensors", (long)getpid());
    int64_t s[1] = {3};
    sk_tensor *t = sk_shim_zeros(s, 1, SK_F32, SK_CPU);
    const char *name = "w";
    assert_int_equal(sk_weights_write(path, &name, &t, 1, NULL, 0), 0);
    assert_int_equal(sk_model_create_from_file(&m, path), SK_ENOTFOUND);
    assert_non_null(strstr(sk_error_last(), path));
    sk_tensor_free(t);
    unlink(path);

    sk_model_config c;
    small_config_(&c, "vit");
    sk_model_data tok = {SK_SAMPLE_TOKENS, 1, {9}, 11, 0};
    assert_int_equal(sk_model_create(&m, &c, &tok, 1), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "vit"));
    small_config_(&c, "gpt");
    sk_model_data img = {SK_SAMPLE_IMAGE, 2, {8, 8}, 0, 3};
    assert_int_equal(sk_model_create(&m, &c, &img, 1), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "gpt"));
    sk_model_data novocab = {SK_SAMPLE_TOKENS, 1, {9}, 0, 0};
    assert_int_equal(sk_model_create(&m, &c, &novocab, 1), SK_EINVAL);
    assert_non_null(strstr(sk_error_last(), "model.vocab"));
    assert_null(m);
}

/* Eval-mode logits of m on x (host copy, n floats). */
static void eval_logits_(sk_model *m, const sk_tensor *x, const sk_tensor *y, float *out, size_t n)
{
    sk_model_out o;
    assert_int_equal(sk_model_forward(m, x, y, NULL, 0, 0, &o), 0);
    assert_int_equal((size_t)sk_shim_numel(o.logits), n);
    assert_int_equal(sk_shim_to_host(o.logits, out, n * sizeof *out), 0);
}

/* model.norm=batch: after two training forwards the running statistics
 * are no longer mean 0 / variance 1; the file holds them under PyTorch's
 * names, and the rebuilt model evaluates to the same logits, bit for bit. */
static void test_convnet_buffers_saved(void **state)
{
    (void)state;
    sk_model_config c;
    sk_model_data d;
    sk_model *m = NULL, *back = NULL;
    small_config_(&c, "convnet");
    c.norm = SK_NORM_BATCH;
    sk_scope *sc = sk_shim_scope_begin();
    sk_tensor *x, *y;
    sample_(sk_model_find("convnet"), &d, &x, &y);
    assert_int_equal(sk_model_create(&m, &c, &d, 5), 0);
    sk_params *b = sk_model_buffers(m);
    assert_non_null(b);
    assert_int_equal(b->n, 2 * c.depth);
    assert_string_equal(b->names[0], "features.0.norm.running_mean");
    assert_string_equal(b->names[1], "features.0.norm.running_var");
    sk_model_out o;
    for (int i = 0; i < 2; i++) assert_int_equal(sk_model_forward(m, x, y, NULL, i, 1, &o), 0);
    float want[B_ * CLASSES_], got[B_ * CLASSES_], mean[16];
    eval_logits_(m, x, y, want, B_ * CLASSES_);
    assert_int_equal(sk_shim_to_host(b->t[0], mean, sizeof mean), 0);
    assert_true(mean[0] != 0.0f);

    char path[256];
    snprintf(path, sizeof path, "/tmp/sk_model_registry_bn_%ld.safetensors", (long)getpid());
    assert_int_equal(sk_model_save(m, path, NULL), 0);
    assert_int_equal(sk_model_create_from_file(&back, path), 0);
    eval_logits_(back, x, y, got, B_ * CLASSES_);
    assert_memory_equal(got, want, sizeof got);
    sk_model_free(back);
    back = NULL;

    unlink(path);
    sk_shim_scope_end(sc);
    sk_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries_are_well_formed), cmocka_unit_test(test_unknown_arch_refused),
        cmocka_unit_test(test_every_entry_runs),        cmocka_unit_test(test_bad_inputs_refused),
        cmocka_unit_test(test_convnet_buffers_saved),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    return rc ? rc : (sk_shim_live_tensors() != 0);
}
