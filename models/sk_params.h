/* sk_params.h - a model's named parameter list.
 *
 * defines: sk_params (names, tensors, weight-decay flags), sk_params_init,
 *          sk_params_add, sk_params_find, sk_params_free, sk_params_join /
 *          sk_params_view_free (a borrowed view of two lists).
 *
 * Ownership. sk_params owns every tensor added (they were detached from their
 * scope with sk_shim_keep) and a copy of every name; sk_params_free frees
 * both. Order of addition is the canonical parameter order used by the
 * optimizer, gradient buckets and checkpoints.
 */
#ifndef SK_PARAMS_H
#define SK_PARAMS_H

#include "sk_shim.h"

typedef struct {
    int n, cap;
    sk_tensor **t; /* owned */
    char **names;  /* owned, e.g. "blocks.0.attn.qkv.weight" */
    int *decay;    /* 1: weight decay applies (matrices), 0: biases, norms, embeddings of position */
} sk_params;

void sk_params_init(sk_params *p);
/* Take ownership of t (must be caller-owned: kept or created outside any
 * scope), set requires_grad. On failure t is freed. */
int sk_params_add(sk_params *p, const char *name, sk_tensor *t, int decay);
/* Index of name or -1. */
int sk_params_find(const sk_params *p, const char *name);
/* Total element count. */
int64_t sk_params_numel(const sk_params *p);
void sk_params_free(sk_params *p);
/* *view = a's entries followed by b's (either may be NULL), in fresh
 * arrays that borrow the tensors and names (e.g. parameters + buffers
 * written into one file); free with sk_params_view_free, never
 * sk_params_free. */
int sk_params_join(sk_params *view, const sk_params *a, const sk_params *b);
void sk_params_view_free(sk_params *view);

/* Helpers for initialisation: N(0, std) and constant tensors, float32 on
 * CPU, caller-owned (not in any scope). */
sk_tensor *sk_params_normal(const int64_t *shape, int ndim, double std, sk_generator *g);
sk_tensor *sk_params_const(const int64_t *shape, int ndim, double value);

/* Jump to done with the shim's error when a tensor result is NULL (the
 * failing op already set the message). Needs `int rc` and `done:`. */
#define SK_TRY_T(t)                                                           \
    do {                                                                      \
        if (!(t)) {                                                           \
            rc = sk_error_last_code() < 0 ? sk_error_last_code() : SK_ETORCH; \
            goto done;                                                        \
        }                                                                     \
    } while (0)

#endif /* SK_PARAMS_H */
