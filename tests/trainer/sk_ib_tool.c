/* sk_ib_tool.c - prints sk_infobatch_epoch's order and weights for scores
 * read from stdin, for test_infobatch.py's reference comparison.
 *
 *   sk_ib_tool RATIO DELTA EPOCHS SEED EPOCH < scores (one float a line)
 * prints "skipped K", then "ORDER_ENTRY WEIGHT" per kept sample. */
#include <stdio.h>
#include <stdlib.h>

#include "sk_infobatch.h"

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s RATIO DELTA EPOCHS SEED EPOCH < scores\n", argv[0]);
        return 2;
    }
    int64_t n = 0, cap = 1024, m = 0, skipped = 0;
    float *sc = malloc((size_t)cap * sizeof *sc), v;
    while (sc && scanf("%f", &v) == 1) {
        if (n == cap) {
            float *t = realloc(sc, (size_t)(cap *= 2) * sizeof *sc);
            if (!t) break;
            sc = t;
        }
        sc[n++] = v;
    }
    sk_infobatch *ib = NULL;
    int64_t *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    int rc = sc && order ? sk_infobatch_create(&ib, n, atof(argv[1]), atof(argv[2]), atoll(argv[3]),
                                               strtoull(argv[4], NULL, 10))
                         : SK_ENOMEM;
    if (rc == 0) {
        for (int64_t i = 0; i < n; i++) sk_infobatch_scores(ib)[i] = sc[i];
        rc = sk_infobatch_epoch(ib, atoll(argv[5]), order, &m, &skipped);
    }
    if (rc < 0) {
        fprintf(stderr, "%s\n", sk_error_last());
    } else {
        printf("skipped %lld\n", (long long)skipped);
        for (int64_t j = 0; j < m; j++) printf("%lld %.9g\n", (long long)order[j], sk_infobatch_weight(ib, order[j]));
    }
    sk_infobatch_free(ib);
    free(order);
    free(sc);
    return rc < 0 ? 1 : 0;
}
