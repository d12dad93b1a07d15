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

const sk_strategy_vtable *sk_strategy_find(const char *name)
{
    char list[256] = "";
    for (int i = 0; i < sk_strategy_count(); i++) {
        const sk_strategy_vtable *v = strategies_[i];
        if (name && strcmp(v->name, name) == 0) {
            if (v->version != SK_STRATEGY_VERSION) {
                sk_error_set(SK_EVERSION, "strategy '%s' has vtable version %u, this build expects %u", name,
                             v->version, SK_STRATEGY_VERSION);
                return NULL;
            }
            return v;
        }
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? "|" : "", v->name);
    }
    sk_error_set(SK_ENOTFOUND, "unknown strategy '%s' (registered: %s)", name ? name : "(null)", list);
    return NULL;
}
