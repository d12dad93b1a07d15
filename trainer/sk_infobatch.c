/* sk_infobatch.c - InfoBatch's prune rule and score bookkeeping
 * (sk_infobatch.h; Qin et al., ICLR 2024). */
#include "sk_infobatch.h"

#include <math.h>
#include <stdlib.h>

#include "sk_error.h"
#include "sk_rand.h"

struct sk_infobatch {
    int64_t n, epochs;
    double ratio, delta;
    uint64_t seed;
    float *scores, *weights;
    int64_t *well; /* scratch: well-learned indices */
};

int sk_infobatch_create(sk_infobatch **out, int64_t n, double ratio, double delta, int64_t epochs, uint64_t seed)
{
    int rc = SK_OK;
    sk_infobatch *ib = NULL;
    *out = NULL;
    SK_FAIL_IF(!(ratio >= 0 && ratio < 1), SK_EINVAL, "data.prune_ratio %g must be in [0, 1)", ratio);
    SK_FAIL_IF(!(delta >= 0 && delta <= 1), SK_EINVAL, "data.prune_delta %g must be in [0, 1]", delta);
    SK_FAIL_IF(epochs < 1, SK_EINVAL, "infobatch: %lld epochs, need at least 1", (long long)epochs);
    SK_FAIL_IF(n < 1, SK_EINVAL, "infobatch: %lld samples, need at least 1", (long long)n);
    ib = calloc(1, sizeof *ib);
    SK_FAIL_IF(!ib, SK_ENOMEM, "infobatch: out of memory");
    ib->n = n;
    ib->epochs = epochs;
    ib->ratio = ratio;
    ib->delta = delta;
    ib->seed = seed;
    ib->scores = malloc((size_t)n * sizeof *ib->scores);
    ib->weights = malloc((size_t)n * sizeof *ib->weights);
    ib->well = malloc((size_t)n * sizeof *ib->well);
    SK_FAIL_IF(!ib->scores || !ib->weights || !ib->well, SK_ENOMEM, "infobatch: out of memory for %lld samples",
               (long long)n);
    for (int64_t i = 0; i < n; i++) {
        ib->scores[i] = SK_INFOBATCH_INIT_SCORE;
        ib->weights[i] = 1.0f;
    }
    *out = ib;
    ib = NULL;
done:
    sk_infobatch_free(ib);
    return rc;
}

void sk_infobatch_free(sk_infobatch *ib)
{
    if (!ib) return;
    free(ib->scores);
    free(ib->weights);
    free(ib->well);
    free(ib);
}

/* Uniform integer in [0, m) from the stream *s (m >= 1; 64-bit draws, the
 * modulo bias is below 2^-40 for any corpus size we take). */
static uint64_t draw_(uint64_t *s, uint64_t m)
{
    *s = sk_splitmix64(*s);
    return *s % m;
}

int sk_infobatch_prunes(const sk_infobatch *ib, int64_t e)
{
    return ib->ratio > 0 && (double)e < ib->delta * (double)ib->epochs;
}

int sk_infobatch_epoch(sk_infobatch *ib, int64_t e, int64_t *order, int64_t *n, int64_t *skipped)
{
    uint64_t s = sk_splitmix64(ib->seed ^ sk_splitmix64((uint64_t)e + 0x1b0bull));
    int64_t m = 0;
    for (int64_t i = 0; i < ib->n; i++) ib->weights[i] = 1.0f;
    if (sk_infobatch_prunes(ib, e)) {
        double mean = 0;
        for (int64_t i = 0; i < ib->n; i++) mean += ib->scores[i];
        mean /= (double)ib->n;
        int64_t nw = 0;
        for (int64_t i = 0; i < ib->n; i++) {
            if ((double)ib->scores[i] < mean) ib->well[nw++] = i;
            else order[m++] = i; /* not well learned: always kept */
        }
        const double keep = 1.0 - ib->ratio;
        int64_t k = (int64_t)(keep * (double)nw);
        /* the first k of a partial Fisher-Yates shuffle: k of nw without replacement */
        for (int64_t j = 0; j < k; j++) {
            int64_t r = j + (int64_t)draw_(&s, (uint64_t)(nw - j));
            int64_t t = ib->well[j];
            ib->well[j] = ib->well[r];
            ib->well[r] = t;
            ib->weights[ib->well[j]] = (float)(1.0 / keep);
            order[m++] = ib->well[j];
        }
    } else {
        for (int64_t i = 0; i < ib->n; i++) order[m++] = i;
    }
    for (int64_t j = m - 1; j > 0; j--) { /* shuffle what is kept */
        int64_t r = (int64_t)draw_(&s, (uint64_t)(j + 1));
        int64_t t = order[j];
        order[j] = order[r];
        order[r] = t;
    }
    *n = m;
    *skipped = ib->n - m;
    return SK_OK;
}

int sk_infobatch_update(sk_infobatch *ib, const int64_t *idx, const float *loss, int64_t m)
{
    for (int64_t j = 0; j < m; j++) {
        if (idx[j] < 0 || idx[j] >= ib->n)
            return sk_error_set(SK_EINVAL, "infobatch: sample %lld outside [0, %lld)", (long long)idx[j],
                                (long long)ib->n);
        if (!isfinite(loss[j]))
            return sk_error_set(SK_EINVAL, "infobatch: sample %lld has a non-finite loss", (long long)idx[j]);
        ib->scores[idx[j]] = loss[j];
    }
    return SK_OK;
}

float sk_infobatch_weight(const sk_infobatch *ib, int64_t i) { return ib->weights[i]; }
float *sk_infobatch_scores(sk_infobatch *ib) { return ib->scores; }
float *sk_infobatch_weights(sk_infobatch *ib) { return ib->weights; }
int64_t sk_infobatch_size(const sk_infobatch *ib) { return ib->n; }
