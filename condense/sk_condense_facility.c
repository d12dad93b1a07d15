/* sk_condense_facility.c - `facility-location`: lazy greedy maximisation
 * of the facility-location function f(S) = sum_i max_{j in S} sim(i, j)
 * over every row of a group (Mirzasoleiman et al., CRAIG, ICML 2020;
 * DeepCore's and apricot's FacilityLocation with a Euclidean similarity),
 * per class with labels and condense.class_balance. Lazy evaluation is
 * Minoux's ("Accelerated greedy algorithms for maximizing submodular set
 * functions", 1978): a candidate's last computed gain is an upper bound
 * of its gain now (f is submodular), so only the candidate on top of a
 * priority queue of bounds is re-evaluated, and it is picked once its
 * bound is fresh (computed this round).
 *
 * Similarity: sim(i, j) = D - ||x_i - x_j||^2 with D = 4 max_i ||x_i||^2
 * over the group, an upper bound of every squared distance (triangle
 * inequality through the origin), so sim >= 0 and f(empty) = 0. (apricot
 * uses D = the largest distance; any bound gives the same greedy
 * picks: the first pick maximises N D - sum_i d_ij, later gains are
 * sum_i max(0, dmin_i - d_ij), both free of D; D only sets the
 * fixed-point scale below.)
 *
 * Exact, over every row, without gathering embeddings. Each rank holds
 * its shard's embeddings, cur_i (its rows' best similarity to the picks)
 * and a max-heap of its own rows' bounds. The first pass computes every
 * row's gain f({j}): each rank in turn broadcasts its group rows' embeddings
 * 256 at a time, every rank adds its rows' terms, one integer allreduce
 * per block (O(N^2 F) work over all ranks, O(256 F) extra memory). Then
 * each step: every rank offers its heap top (bound, lower index on ties),
 * sk_condense_best picks the global top, its owner broadcasts its
 * embedding with a "fresh" flag; fresh: it is picked and every rank
 * raises cur_i; stale: every rank computes its partial gain, an allreduce
 * sums it, and the owner pushes the exact gain back, marked fresh. The
 * picks are those of plain greedy (argmax gain, the lower index on ties):
 * a fresh top's gain is at least every other bound, hence every other
 * gain, and a candidate of equal gain and lower index would sit above it.
 *
 * Rank-count independence and exactness: a term max(0, sim - cur_i) is a
 * double from row i and the broadcast candidate alone; gains are sums of
 * per-row fixed-point int64 values trunc(term * 2^s), s = 62 - e - b
 * (D < 2^e, N < 2^b: no overflow), exact in any order. trunc is monotone,
 * so the integer gains are non-increasing in cur too and the lazy bounds
 * stay valid exactly. Ties go to the lower global index.
 *
 * /provenance/scores ("pick_order"): each kept row's pick round within its
 * group (0 first), -1 for rows not kept. rank 0 logs how many gains the
 * lazy steps re-evaluated against plain greedy's count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sk_condense_embed.h"
#include "sk_condense_methods.h"
#include "sk_log.h"

#define FL_BLOCK_ 256

typedef struct {
    int64_t gain, idx, stamp; /* bound, global row, round it was computed in */
} ent_;

/* a above b: the larger gain, then the lower index */
static int above_(const ent_ *a, const ent_ *b) { return a->gain > b->gain || (a->gain == b->gain && a->idx < b->idx); }

static void push_(ent_ *h, int64_t *n, ent_ e) {
    int64_t i = (*n)++;
    while (i > 0 && above_(&e, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = e;
}

static void pop_(ent_ *h, int64_t *n) {
    ent_ e = h[--*n];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && above_(&h[c + 1], &h[c])) c++;
        if (!above_(&h[c], &e)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = e;
}

typedef struct {
    const float *x;
    int64_t F, ng;
    const int64_t *rows; /* the shard's group rows (shard-relative) */
    double D, scale, *cur, *c;
} fl_;

/* This shard's part of the gain of candidate embedding cf. */
static int64_t partial_(fl_ *s, const float *cf) {
    int64_t q = 0;
    for (int64_t f = 0; f < s->F; f++) s->c[f] = cf[f];
    for (int64_t r = 0; r < s->ng; r++) {
        double t = s->D - sk_condense_sqdist(s->x + (size_t)s->rows[r] * (size_t)s->F, s->c, s->F) - s->cur[r];
        if (t > 0) q += (int64_t)trunc(t * s->scale);
    }
    return q;
}

/* Every group row's gain f({j}), into each owner's heap. */
static int first_pass_(const sk_condense_job *job, fl_ *s, ent_ *heap, int64_t *hn) {
    int rc = SK_OK;
    int world = job->world;
    int64_t *cnt = malloc((size_t)world * sizeof *cnt), idx[FL_BLOCK_], q[FL_BLOCK_];
    float *blk = malloc((size_t)FL_BLOCK_ * (size_t)s->F * sizeof *blk);
    if (!cnt || !blk) rc = sk_error_set(SK_ENOMEM, "facility-location: out of memory");
    SK_TRY(sk_mpi_agree(rc));
    SK_TRY(sk_mpi_allgather_i64(&s->ng, 1, cnt));
    for (int r = 0; r < world; r++) {
        for (int64_t b0 = 0; b0 < cnt[r]; b0 += FL_BLOCK_) {
            int64_t m = cnt[r] - b0 < FL_BLOCK_ ? cnt[r] - b0 : FL_BLOCK_;
            if (r == job->rank)
                for (int64_t k = 0; k < m; k++) {
                    int64_t i = s->rows[b0 + k];
                    memcpy(blk + (size_t)k * (size_t)s->F, s->x + (size_t)i * (size_t)s->F, (size_t)s->F * sizeof *blk);
                    idx[k] = job->begin + i;
                }
            SK_TRY(sk_mpi_bcast(blk, (size_t)(m * s->F) * sizeof *blk, r));
            for (int64_t k = 0; k < m; k++) q[k] = partial_(s, blk + (size_t)k * (size_t)s->F);
            SK_TRY(sk_mpi_allreduce_sum_i64(q, (int)m));
            if (r == job->rank)
                for (int64_t k = 0; k < m; k++) push_(heap, hn, (ent_){q[k], idx[k], 0});
        }
    }
done:
    free(cnt);
    free(blk);
    return rc;
}

/* One group of N rows over all ranks, budget w. *evals counts the lazy re-evaluations. */
static int group_(const sk_condense_job *job, const float *x, int64_t F, int g, int64_t N, int64_t w,
                  sk_condense_out *out, int64_t *evals) {
    int rc = SK_OK;
    int64_t n = job->end - job->begin, ng = 0, hn = 0;
    const int64_t *grp = sk_condense_groups(job);
    int64_t *rows = malloc((size_t)(n > 0 ? n : 1) * sizeof *rows);
    ent_ *heap = malloc((size_t)(n > 0 ? n : 1) * sizeof *heap);
    float *msg = malloc((size_t)(F + 1) * sizeof *msg);
    fl_ s = {.x = x, .F = F, .cur = calloc((size_t)(n > 0 ? n : 1), sizeof *s.cur), .c = malloc((size_t)F * sizeof *s.c)};
    double *zero = calloc((size_t)F, sizeof *zero), mx = 0;
    if (!rows || !heap || !msg || !s.cur || !s.c || !zero) rc = sk_error_set(SK_ENOMEM, "facility-location: out of memory");
    SK_TRY(sk_mpi_agree(rc));
    for (int64_t i = 0; i < n; i++)
        if (!grp || grp[i] == g) {
            rows[ng++] = i;
            mx = fmax(mx, sk_condense_sqdist(x + (size_t)i * (size_t)F, zero, F));
        }
    SK_TRY(sk_mpi_allreduce_max(&mx, 1));
    s.rows = rows;
    s.ng = ng;
    s.D = 4 * mx;
    int e, b = 0;
    frexp(s.D, &e); /* D < 2^e */
    while (b < 63 && (N >> b) != 0) b++;
    s.scale = ldexp(1.0, 62 - e - b);
    SK_TRY(first_pass_(job, &s, heap, &hn));
    for (int64_t round = 0; round < w;) {
        int64_t best;
        uint64_t key;
        SK_TRY(sk_condense_best(hn ? ~(uint64_t)heap[0].gain : 0, hn ? heap[0].idx : -1, &best, &key));
        if (best < 0) break;
        int owner = sk_condense_owner(job->n, job->world, best);
        if (owner == job->rank) {
            memcpy(msg, x + (size_t)(best - job->begin) * (size_t)F, (size_t)F * sizeof *msg);
            msg[F] = heap[0].stamp == round ? 1.0f : 0.0f;
        }
        SK_TRY(sk_mpi_bcast(msg, (size_t)(F + 1) * sizeof *msg, owner));
        if (msg[F] != 0) { /* fresh: the greedy pick */
            if (owner == job->rank) {
                pop_(heap, &hn);
                out->keep[best - job->begin] = 1;
                out->scores[best - job->begin] = (float)round;
            }
            for (int64_t f = 0; f < F; f++) s.c[f] = msg[f];
            for (int64_t r = 0; r < ng; r++)
                s.cur[r] = fmax(s.cur[r], s.D - sk_condense_sqdist(x + (size_t)rows[r] * (size_t)F, s.c, F));
            round++;
        } else { /* stale: its exact gain now, back into the queue */
            int64_t q = partial_(&s, msg);
            SK_TRY(sk_mpi_allreduce_sum_i64(&q, 1));
            if (owner == job->rank) {
                pop_(heap, &hn);
                push_(heap, &hn, (ent_){q, best, round});
            }
            ++*evals;
        }
    }
done:
    free(rows);
    free(heap);
    free(msg);
    free(s.cur);
    free(s.c);
    free(zero);
    return rc;
}

static int facility_select_(const sk_condense_job *job, sk_condense_out *out) {
    int rc = SK_OK;
    int64_t n = job->end - job->begin, F = 0, *want = NULL, *cnt = NULL, evals = 0, plain = 0, picks = 0;
    const int64_t *grp = sk_condense_groups(job);
    int ng = 0;
    float *x = NULL;
    rc = sk_condense_embed(job->proxy, job->corpus, job->begin, job->end, job->cfg->batch, &x, &F);
    SK_TRY(sk_mpi_agree(rc));
    SK_TRY(sk_condense_group_wants(job, &want, &ng));
    cnt = calloc((size_t)ng, sizeof *cnt);
    if (!cnt) rc = sk_error_set(SK_ENOMEM, "facility-location: out of memory");
    SK_TRY(sk_mpi_agree(rc));
    for (int64_t i = 0; i < n; i++) cnt[grp ? grp[i] : 0]++;
    SK_TRY(sk_mpi_allreduce_sum_i64(cnt, ng));
    for (int64_t i = 0; i < n; i++) out->scores[i] = -1;
    for (int g = 0; g < ng; g++) {
        if (want[g] <= 0) continue;
        SK_TRY(group_(job, x, F, g, cnt[g], want[g], out, &evals));
        for (int64_t r = 1; r < want[g]; r++) plain += cnt[g] - r; /* plain greedy: every unpicked row, each round after the first */
        picks += want[g];
    }
    out->score_name = "pick_order";
    if (job->rank == 0)
        SK_LOG_INFO("facility-location: %lld picks, %lld lazy gain re-evaluations after the first pass (plain greedy: "
                    "%lld)", (long long)picks, (long long)evals, (long long)plain);
done:
    free(x);
    free(want);
    free(cnt);
    return rc;
}

const sk_condense_method sk_condense_facility = {
    .version = SK_CONDENSE_VERSION,
    .name = "facility-location",
    .flags = SK_CONDENSE_SAMPLES | SK_CONDENSE_NEEDS_PROXY | SK_CONDENSE_USES_KEEP,
    .help = "lazy greedy facility location (Minoux) on the proxy's embeddings, Euclidean similarity, exact over "
            "every row of each class",
    .keys = "proxy batch class_balance",
    .select = facility_select_,
};
