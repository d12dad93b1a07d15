/* sk_forget_tool.c - runs trainer/sk_forgetting.h's counting on a
 * sequence of presentations read from stdin, for test_forgetting.py's
 * comparison with the reference's counting (mtoneva/example_forgetting).
 *
 *   sk_forget_tool N CUT < presentations ("INDEX CORRECT" a line)
 * After CUT presentations the state goes through a checkpoint round trip
 * (_ckpt_store into one object's tensors, copied into a fresh object's,
 * _ckpt_restore) and the rest is counted by the fresh one, as a resumed
 * run would. Prints "never K", then "SCORE EVENTS" per sample. */
#include <stdio.h>
#include <stdlib.h>

#include "sk_forgetting.h"

/* Hand a's state to b through their checkpoint tensors. */
static int transfer_(sk_forgetting *a, sk_forgetting *b, int64_t n)
{
    int rc = sk_forgetting_ckpt_store(a);
    sk_params *pa = rc == 0 ? sk_forgetting_ckpt(a) : NULL, *pb = pa ? sk_forgetting_ckpt(b) : NULL;
    float *buf = malloc((size_t)n * sizeof *buf);
    if (!pa || !pb || !buf) rc = rc < 0 ? rc : SK_ENOMEM;
    for (int k = 0; rc == 0 && k < pa->n; k++) {
        rc = sk_shim_to_host(pa->t[k], buf, (size_t)n * sizeof *buf);
        if (rc == 0) rc = sk_shim_copy_from_host(pb->t[k], buf, (size_t)n * sizeof *buf);
    }
    if (rc == 0) rc = sk_forgetting_ckpt_restore(b);
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s N CUT < presentations\n", argv[0]);
        return 2;
    }
    int64_t n = atoll(argv[1]), cut = atoll(argv[2]), seen = 0, idx, never = 0;
    int c;
    sk_forgetting *f = NULL, *g = NULL, *cur;
    int rc = sk_forgetting_create(&f, n);
    if (rc == 0) rc = sk_forgetting_create(&g, n);
    cur = f;
    while (rc == 0 && scanf("%lld %d", (long long *)&idx, &c) == 2) {
        if (seen++ == cut) {
            rc = transfer_(f, g, n);
            cur = g;
        }
        uint8_t ok = (uint8_t)c;
        if (rc == 0) rc = sk_forgetting_update(cur, &idx, &ok, 1);
    }
    float *s = malloc((size_t)(n > 0 ? n : 1) * sizeof *s);
    if (rc == 0 && !s) rc = SK_ENOMEM;
    if (rc < 0) {
        fprintf(stderr, "%s\n", sk_error_last());
    } else {
        sk_forgetting_scores(cur, s, &never);
        printf("never %lld\n", (long long)never);
        for (int64_t i = 0; i < n; i++) printf("%.9g\n", s[i]);
    }
    free(s);
    sk_forgetting_free(f);
    sk_forgetting_free(g);
    return rc < 0 ? 1 : 0;
}
