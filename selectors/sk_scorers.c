/* sk_scorers.c - the table of built-in scorers, one line each, and the
 * version-checked lookup (sk_select_registry.h). */
#include <stdio.h>
#include <string.h>

#include "sk_select_registry.h"

extern const sk_scorer_vtable sk_scorer_random, sk_scorer_uniform, sk_scorer_pool, sk_scorer_norm, sk_scorer_attn_cls,
    sk_scorer_attn_received, sk_scorer_tome, sk_scorer_learned, sk_scorer_frozen, sk_scorer_random_ltd;

static const sk_scorer_vtable *const scorers_[] = {
    &sk_scorer_random,        /* uniform random subset */
    &sk_scorer_uniform,       /* evenly strided / spatial sub-grid */
    &sk_scorer_pool,          /* average pooling of neighbours (merge) */
    &sk_scorer_norm,          /* L2 norm of hidden state or key */
    &sk_scorer_attn_cls,      /* EViT: class-token attention */
    &sk_scorer_attn_received, /* FastV: attention received */
    &sk_scorer_tome,          /* ToMe: bipartite soft matching */
    &sk_scorer_learned,       /* trained jointly, straight-through top-k */
    &sk_scorer_frozen,        /* checkpointed scorer network, not updated */
    &sk_scorer_random_ltd,    /* random-LTD (drop-restore) */
};

int sk_scorer_count(void) { return (int)(sizeof scorers_ / sizeof scorers_[0]); }

const sk_scorer_vtable *sk_scorer_at(int i) { return i >= 0 && i < sk_scorer_count() ? scorers_[i] : NULL; }

const char *sk_scorer_name_at(int i) { return i >= 0 && i < sk_scorer_count() ? scorers_[i]->name : NULL; }

const sk_scorer_vtable *sk_scorer_find(const char *name)
{
    int i = sk_cfg_choice_index(sk_scorer_name_at, name);
    if (i < 0) {
        sk_cfg_choice_error(SK_ENOTFOUND, "scorer", name ? name : "(null)", sk_scorer_name_at);
        return NULL;
    }
    if (scorers_[i]->version != SK_SCORER_VERSION) {
        sk_error_set(SK_EVERSION, "scorer '%s' has vtable version %u, this build expects %u", name,
                     scorers_[i]->version, SK_SCORER_VERSION);
        return NULL;
    }
    return scorers_[i];
}
