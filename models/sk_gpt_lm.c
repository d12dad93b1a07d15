/* sk_gpt_lm.c - a GPT saved by `shrink train` as the selectors' frozen
 * proxy LM (sk_select_lm_vtable in selectors/sk_select.h): scorer "frozen"
 * on text scores each token by its surprisal under this model (the
 * next-token losses this file computes, shifted by one position there).
 *
 * The file is the model.safetensors a GPT run writes at its end: the
 * architecture comes from its metadata (sk_gpt_meta), the weights are read
 * into a fresh sk_gpt with every shape checked. Selector tensors in the
 * file ("selector.*") are ignored: only the model is the proxy. */
#include <stdlib.h>
#include <string.h>

#include "sk_weights.h"
#include "sk_gpt.h"

struct sk_select_lm {
    sk_gpt *gpt;
};

static void close_(sk_select_lm *lm)
{
    if (!lm) return;
    sk_gpt_free(lm->gpt);
    free(lm);
}

static int open_(const char *path, int64_t vocab, int64_t seq_len, sk_device dev, sk_select_lm **out)
{
    int rc = SK_OK;
    sk_select_lm *lm = NULL;
    sk_gpt_opts o;
    *out = NULL;
    SK_FAIL_IF(dev != SK_CPU, SK_EINVAL, "%s: the frozen proxy LM runs on the CPU only", path);
    SK_TRY(sk_gpt_opts_from_file(path, &o));
    /* the file's own keys, not the user's model.* (sk_gpt_create's words) */
    SK_FAIL_IF(o.width % o.heads, SK_ECORRUPT,
               "%s: metadata shrink.gpt.heads = %lld does not divide shrink.gpt.width = %lld (not a file a shrink "
               "GPT run wrote)",
               path, (long long)o.heads, (long long)o.width);
    SK_FAIL_IF(o.vocab < 2, SK_ECORRUPT, "%s: metadata shrink.gpt.vocab = %lld (a GPT needs >= 2 tokens)", path,
               (long long)o.vocab);
    SK_FAIL_IF(o.vocab < vocab, SK_EINVAL,
               "%s: the proxy LM has a vocabulary of %lld tokens, the model being trained %lld", path,
               (long long)o.vocab, (long long)vocab);
    SK_FAIL_IF(o.seq_len < seq_len, SK_EINVAL,
               "%s: the proxy LM was trained on windows of %lld tokens, shorter than this run's data.seq_len = "
               "%lld",
               path, (long long)o.seq_len, (long long)seq_len);
    lm = calloc(1, sizeof *lm);
    SK_FAIL_IF(!lm, SK_ENOMEM, "%s: out of memory", path);
    SK_TRY(sk_gpt_create(&lm->gpt, &o, 0));
    sk_params *p = sk_gpt_params(lm->gpt);
    SK_TRY(sk_weights_read(path, (const char *const *)p->names, p->t, p->n));
    for (int i = 0; i < p->n; i++) SK_TRY(sk_shim_set_requires_grad(p->t[i], 0));
    *out = lm;
    lm = NULL;
done:
    close_(lm);
    return rc;
}

static int nll_(sk_select_lm *lm, const sk_tensor *windows, sk_tensor **nll)
{
    return sk_gpt_token_nll(lm->gpt, windows, nll);
}

static double flops_(const sk_select_lm *lm, int64_t T) { return sk_gpt_forward_flops(lm->gpt, T); }

const sk_select_lm_vtable sk_gpt_frozen_lm = {
    .version = SK_SELECT_LM_VERSION,
    .open = open_,
    .next_token_nll = nll_,
    .close = close_,
    .flops = flops_,
};
