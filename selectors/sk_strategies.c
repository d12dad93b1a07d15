/* sk_strategies.c - the table of built-in strategies, one line each, and
 * the version-checked lookup (sk_select_registry.h). */
#include <stdio.h>
#include <string.h>

#include "sk_select_registry.h"

extern const sk_strategy_vtable sk_strategy_prune, sk_strategy_prune_threshold, sk_strategy_merge,
    sk_strategy_drop_restore;

static const sk_strategy_vtable *const strategies_[] = {
    &sk_strategy_prune,           /* top-k per sample */
    &sk_strategy_prune_threshold, /* s >= tau, padded + masked */
    &sk_strategy_merge,           /* size-weighted merge into kept tokens */
    &sk_strategy_drop_restore,    /* skip middle blocks, scatter back */
};

int sk_strategy_count(void) { return (int)(sizeof strategies_ / sizeof strategies_[0]); }

const sk_strategy_vtable *sk_strategy_at(int i) { return i >= 0 && i < sk_strategy_count() ? strategies_[i] : NULL; }

const char *sk_strategy_name_at(int i) { return i >= 0 && i < sk_strategy_count() ? strategies_[i]->name : NULL; }

const sk_strategy_vtable *sk_strategy_find(const char *name)
{
    int i = sk_cfg_choice_index(sk_strategy_name_at, name);
    if (i < 0) {
        sk_cfg_choice_error(SK_ENOTFOUND, "strategy", name ? name : "(null)", sk_strategy_name_at);
        return NULL;
    }
    if (strategies_[i]->version != SK_STRATEGY_VERSION) {
        sk_error_set(SK_EVERSION, "strategy '%s' has vtable version %u, this build expects %u", name,
                     strategies_[i]->version, SK_STRATEGY_VERSION);
        return NULL;
    }
    return strategies_[i];
}
