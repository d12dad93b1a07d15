/* sk_condense_facility.c - `facility-location`: lazy greedy maximisation
 * of the facility-location function f(S) = sum_i max_{j in S} sim(i, j)
 * over every row of a group (Mirzasoleiman et al., CRAIG, ICML 2020;
 * DeepCore's and apricot's FacilityLocation with a Euclidean similarity),
 * per class with labels and condense.class_balance. Lazy evaluation is
 * Minoux's ("Accelerated greedy algorithms for maximizing submodular set
 * functions", 1978): a candidate's last computed gain is an upper bound
 * of its gain now (f is submodular), so only candidates whose bounds are
 * on top are re-evaluated, and one is picked once its gain is exact
 * (computed this round) and above every other bound.
 *
 * Similarity: sim(i, j) = D - ||x_i - x_j||^2 with D = 4 max_i ||x_i||^2
 * over the group, an upper bound of every squared distance (triangle
 * inequality through the origin), so sim >= 0 and f(empty) = 0. (apricot
 * uses D = the largest distance; any bound gives the same greedy
 * picks: the first pick maximises N D - sum_i d_ij, later gains are
 * sum_i max(0, dmin_i - d_ij), both free of D; D only sets the
 * fixed-point scale below.) Each squared distance is summed in double in
 * feature order, f = 0, 1, ..., F - 1, with no fused multiply-add: the
 * value sk_condense_sqdist gives (tile_ only runs many such sums side by
 * side in vector lanes).
 *
 * Exact, over every row, without gathering embeddings. Each rank holds
 * its shard's embeddings, cur_i (its rows' best similarity to the picks)
 * and a max-heap of its own rows' bounds. First pass, every row's gain
 * f({j}): each rank in turn broadcasts its group rows' embeddings
 * FL_BLOCK_ at a time, every rank computes the block's similarities to
 * its rows (tile_: 4 rows x 8 candidates per tile) and their partial
 * gains, one int64 allreduce per block (O(N^2 F) work over all ranks).
 * When the group's similarities of this shard fit in
 * condense.sim_cache_mb (N x shard rows doubles; all ranks agree), the
 * first pass keeps them, and later gains and picks read a column (O(rows))
 * instead of broadcasting an embedding and recomputing it (O(rows F));
 * otherwise the sweeps go FL_ROWS_ rows at a time through a scratch of
 * FL_BLOCK_ x FL_ROWS_ doubles.
 *
 * Lazy steps, batched: every rank offers its FL_OFFER_ best bounds and,
 * as a ceiling, its best bound not offered; one allgather gives every rank
 * the same list. Then, without further gathers: if the list's top is an
 * offered entry computed this round, it is picked (its owner marks it,
 * every rank raises cur_i from its column); else the stale offered entries
 * from the top (at most FL_EVAL_, down to the first fresh entry or
 * ceiling) get their exact gains in one pass, one allreduce for all of
 * them (uncached: their owners broadcast the embeddings first, one message
 * per owner), and the list is re-sorted. When a ceiling reaches the top,
 * every rank pushes its entries back and gathers again. The picks are
 * those of plain greedy (argmax gain, the lower index on ties): a pick's
 * gain is exact and above, in (gain, lower index) order, every offered
 * bound and every ceiling, hence every other candidate's bound and gain;
 * a candidate of equal gain would have an equal bound and so a higher index.
 *
 * Rank-count independence and exactness: a term max(0, sim - cur_i) is a
 * double from row i and the candidate alone; gains are sums of per-row
 * fixed-point int64 values trunc(term * 2^s), s = 62 - e - b (D < 2^e,
 * N < 2^b: no overflow), exact in any order and any split over ranks.
 * trunc is monotone, so the integer gains are non-increasing in cur too
 * and the lazy bounds stay valid exactly. Ties go to the lower global
 * index. Neither FL_* sizes nor the cache change a value, only how many
 * gains are computed between messages.
 *
 * /provenance/scores ("pick_order"): each kept row's pick round within its
 * group (0 first), -1 for rows not kept. rank 0 logs how many gains the
 * lazy steps re-evaluated against plain greedy's count, the collective
 * rounds they took and how many candidates' similarities were cached.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sk_condense_embed.h"
#include "sk_condense_methods.h"
#include "sk_log.h"

#define FL_BLOCK_ 128 /* first pass: candidates per broadcast */
#define FL_OFFER_ 64  /* lazy steps: bounds each rank offers per gather */
#define FL_EVAL_ 16   /* ... and stale ones re-evaluated per allreduce */
#define FL_ROWS_ 256  /* uncached: shard rows per sweep (scratch FL_BLOCK_ x FL_ROWS_ doubles) */
#define FL_R_ 4       /* a tile: FL_R_ rows x FL_C_ candidates (the unroll counts in tile_) */
#define FL_C_ 8

typedef struct {
    int64_t gain, idx, stamp; /* bound, global row, round it was computed in (-1: a ceiling, not offered) */
} ent_;

/* a above b: the larger gain, then the lower index */
static int above_(const ent_ *a, const ent_ *b) { return a->gain > b->gain || (a->gain == b->gain && a->idx < b->idx); }

static int cmp_(const void *a, const void *b) { return above_(a, b) ? -1 : above_(b, a) ? 1 : 0; }

static void push_(ent_ *h, int64_t *n, ent_ e)
{
    int64_t i = (*n)++;
    while (i > 0 && above_(&e, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = e;
}

static ent_ pop_(ent_ *h, int64_t *n)
{
    ent_ top = h[0], e = h[--*n];
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
    return top;
}

/* a[r][j] = sum_f (x_r[f] - c_j[f])^2, f in order, for FL_R_ rows and the
 * FL_C_ candidates of panel pan ([F][FL_C_] doubles): each pair's sum is
 * sk_condense_sqdist's, bit for bit. Both loops unrolled, the 32
 * independent sums stay in vector registers (at -O2 GCC otherwise keeps
 * them in memory); the vector lanes do element-wise IEEE subtract,
 * multiply and add, so the clones differ in vector width only and give
 * the same bits (the file is built with -ffp-contract=off,
 * condense/CMakeLists.txt: no fused multiply-add). */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__ELF__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
static void
tile_(const float *const xr[FL_R_], const double *pan, int64_t F, double a[FL_R_][FL_C_])
{
    double s[FL_R_][FL_C_] = {{0}};
    for (int64_t f = 0; f < F; f++) {
        const double *c = pan + f * FL_C_;
#pragma GCC unroll 4
        for (int r = 0; r < FL_R_; r++) {
            double v = xr[r][f];
#pragma GCC unroll 8
            for (int j = 0; j < FL_C_; j++) {
                double d = v - c[j];
                s[r][j] += d * d;
            }
        }
    }
    memcpy(a, s, sizeof s);
}

typedef struct {
    const float *x;
    int64_t F, ng;
    const int64_t *rows; /* the shard's group rows (shard-relative) */
    double D, scale, *cur;
    double *pan;   /* FL_BLOCK_ / FL_C_ panels of [F][FL_C_] doubles */
    double *scr;   /* [FL_BLOCK_][FL_ROWS_]: a sweep's similarities when not cached */
    double *cache; /* [N][ng]: every candidate's column, by its group ordinal; NULL: not cached */
    int32_t *slot; /* [job->n]: a global row's group ordinal (with a cache) */
} fl_;

/* col[j * ld + r - r0] = sim(rows[r], cand_j) = D - ||x_r - c_j||^2 of the
 * shard's group rows r0 <= r < r1 and the m <= FL_BLOCK_ candidates cand[m][F]. */
static void sweep_(fl_ *s, const float *cand, int64_t m, int64_t r0, int64_t r1, double *col, int64_t ld)
{
    int64_t mp = (m + FL_C_ - 1) / FL_C_ * FL_C_, F = s->F;
    for (int64_t j = 0; j < mp; j++) {
        double *p = s->pan + (size_t)(j / FL_C_) * (size_t)F * FL_C_ + j % FL_C_;
        for (int64_t f = 0; f < F; f++) p[f * FL_C_] = j < m ? (double)cand[(size_t)j * (size_t)F + f] : 0;
    }
    double a[FL_R_][FL_C_];
    for (int64_t i0 = r0; i0 < r1; i0 += FL_R_) {
        const float *xr[FL_R_];
        int nr = r1 - i0 < FL_R_ ? (int)(r1 - i0) : FL_R_;
        for (int r = 0; r < FL_R_; r++) xr[r] = s->x + (size_t)s->rows[i0 + (r < nr ? r : 0)] * (size_t)F;
        for (int64_t j0 = 0; j0 < m; j0 += FL_C_) {
            tile_(xr, s->pan + (size_t)(j0 / FL_C_) * (size_t)F * FL_C_, F, a);
            int nc = m - j0 < FL_C_ ? (int)(m - j0) : FL_C_;
            for (int r = 0; r < nr; r++)
                for (int j = 0; j < nc; j++)
                    col[(size_t)(j0 + j) * (size_t)ld + (size_t)(i0 - r0 + r)] = s->D - a[r][j];
        }
    }
}

/* This shard's part of a candidate's gain over rows [r0, r1) from its
 * similarities col[r - r0]: sum_r trunc(max(0, sim_r - cur_r) * scale). */
static int64_t colgain_(const fl_ *s, const double *col, int64_t r0, int64_t r1)
{
    int64_t q = 0;
    for (int64_t r = r0; r < r1; r++) {
        double t = col[r - r0] - s->cur[r];
        if (t > 0) q += (int64_t)trunc(t * s->scale);
    }
    return q;
}

/* q[j] = this shard's part of the gains of the m <= FL_BLOCK_ candidates
 * cand (raise: and then cur_r = max(cur_r, sim) for the one candidate, m
 * == 1), FL_ROWS_ rows per sweep into s->scr. Without a cache. */
static void sweep_gains_(fl_ *s, const float *cand, int64_t m, int64_t *q, int raise)
{
    for (int64_t j = 0; j < m; j++) q[j] = 0;
    for (int64_t r0 = 0; r0 < s->ng; r0 += FL_ROWS_) {
        int64_t r1 = s->ng - r0 < FL_ROWS_ ? s->ng : r0 + FL_ROWS_;
        sweep_(s, cand, m, r0, r1, s->scr, FL_ROWS_);
        for (int64_t j = 0; j < m; j++) q[j] += colgain_(s, s->scr + (size_t)j * FL_ROWS_, r0, r1);
        if (raise)
            for (int64_t r = r0; r < r1; r++) s->cur[r] = fmax(s->cur[r], s->scr[r - r0]);
    }
}

/* Every group row's gain f({j}) into its owner's heap (fresh at round 0);
 * with a cache, every column kept and every row's ordinal in s->slot. */
static int first_pass_(const sk_condense_job *job, fl_ *s, ent_ *heap, int64_t *hn)
{
    int rc = SK_OK;
    int world = job->world;
    int64_t *cnt = malloc((size_t)world * sizeof *cnt), idx[FL_BLOCK_], q[FL_BLOCK_], ord = 0;
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
            if (s->cache) {
                SK_TRY(sk_mpi_bcast(idx, (size_t)m * sizeof *idx, r));
                double *col = s->cache + (size_t)ord * (size_t)s->ng;
                sweep_(s, blk, m, 0, s->ng, col, s->ng);
                for (int64_t k = 0; k < m; k++) q[k] = colgain_(s, col + (size_t)k * (size_t)s->ng, 0, s->ng);
            } else {
                sweep_gains_(s, blk, m, q, 0);
            }
            SK_TRY(sk_mpi_allreduce_sum_i64(q, (int)m));
            for (int64_t k = 0; k < m; k++) {
                if (s->cache) s->slot[idx[k]] = (int32_t)(ord + k);
                if (r == job->rank) push_(heap, hn, (ent_){q[k], idx[k], 0});
            }
            ord += m;
        }
    }
done:
    free(cnt);
    free(blk);
    return rc;
}

/* q[t] = the exact gains of the m <= FL_EVAL_ candidates idx[] (global
 * rows, the same list on every rank), summed over ranks; raise (m == 1):
 * then every rank raises cur_r with the candidate instead (q unused). From
 * the cached columns, or else each owner broadcasts its candidates'
 * embeddings (one message per owner with any, in rank order) and they are
 * swept. Collective. */
static int gains_(const sk_condense_job *job, fl_ *s, const int64_t *idx, int m, float *cand, float *pack, int64_t *q,
                  int raise)
{
    int rc = SK_OK;
    if (s->cache) {
        for (int t = 0; t < m; t++) {
            const double *col = s->cache + (size_t)s->slot[idx[t]] * (size_t)s->ng;
            if (raise)
                for (int64_t r = 0; r < s->ng; r++) s->cur[r] = fmax(s->cur[r], col[r]);
            else
                q[t] = colgain_(s, col, 0, s->ng);
        }
    } else {
        size_t row = (size_t)s->F * sizeof *cand;
        for (int r = 0; r < job->world; r++) {
            int c = 0;
            for (int t = 0; t < m; t++)
                if (sk_condense_owner(job->n, job->world, idx[t]) == r) {
                    if (r == job->rank)
                        memcpy(pack + (size_t)c * (size_t)s->F, s->x + (size_t)(idx[t] - job->begin) * (size_t)s->F,
                               row);
                    c++;
                }
            if (c == 0) continue;
            SK_TRY(sk_mpi_bcast(pack, (size_t)c * row, r));
            c = 0;
            for (int t = 0; t < m; t++)
                if (sk_condense_owner(job->n, job->world, idx[t]) == r)
                    memcpy(cand + (size_t)t * (size_t)s->F, pack + (size_t)(c++) * (size_t)s->F, row);
        }
        sweep_gains_(s, cand, m, q, raise);
    }
    if (!raise) SK_TRY(sk_mpi_allreduce_sum_i64(q, m));
done:
    return rc;
}

typedef struct {
    int64_t evals, trips, cached; /* lazy re-evaluations, collective rounds, candidates cached */
} fl_stats_;

/* One group of N rows over all ranks, budget w. */
static int group_(const sk_condense_job *job, const float *x, int64_t F, int g, int64_t N, int64_t w,
                  sk_condense_out *out, fl_stats_ *st)
{
    int rc = SK_OK;
    int world = job->world;
    int64_t n = job->end - job->begin, ng = 0, hn = 0, q[FL_EVAL_], eidx[FL_EVAL_];
    const int64_t *grp = sk_condense_groups(job);
    size_t nb = (size_t)(n > 0 ? n : 1), nmsg = (size_t)world * (FL_OFFER_ + 1) * 3;
    int64_t *rows = malloc(nb * sizeof *rows), *tops = malloc((FL_OFFER_ + 1) * 3 * sizeof *tops);
    int64_t *msg = malloc(nmsg * sizeof *msg);
    ent_ *heap = malloc(nb * sizeof *heap), *all = malloc(nmsg / 3 * sizeof *all);
    float *cand = malloc((size_t)FL_EVAL_ * (size_t)F * sizeof *cand),
          *pack = malloc((size_t)FL_EVAL_ * (size_t)F * sizeof *pack);
    fl_ s = {.x = x,
             .F = F,
             .cur = calloc(nb, sizeof *s.cur),
             .pan = malloc((size_t)FL_BLOCK_ * (size_t)F * sizeof *s.pan),
             .scr = malloc((size_t)FL_BLOCK_ * FL_ROWS_ * sizeof *s.scr)};
    double *zero = calloc((size_t)F, sizeof *zero), mx = 0;
    if (!rows || !tops || !msg || !heap || !all || !cand || !pack || !s.cur || !s.pan || !s.scr || !zero)
        rc = sk_error_set(SK_ENOMEM, "facility-location: out of memory");
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
    /* the cache: every rank's N x ng doubles within condense.sim_cache_mb, or none on any rank */
    double need = (double)N * (double)ng * sizeof(double);
    SK_TRY(sk_mpi_allreduce_max(&need, 1));
    if (need <= (double)job->cfg->sim_cache_mb * 1048576.0) {
        s.cache = malloc((size_t)N * (size_t)(ng > 0 ? ng : 1) * sizeof *s.cache);
        s.slot = malloc((size_t)job->n * sizeof *s.slot);
        if (!s.cache || !s.slot)
            rc = sk_error_set(SK_ENOMEM,
                              "facility-location: out of memory for %.0f MiB of similarities "
                              "(condense.sim_cache_mb lower: recomputed instead)",
                              need / 1048576.0);
        SK_TRY(sk_mpi_agree(rc));
        st->cached += N;
    }
    SK_TRY(first_pass_(job, &s, heap, &hn));
    for (int64_t round = 0; round < w;) {
        /* offer: this rank's FL_OFFER_ best bounds and its best one left as a ceiling (stamp -1) */
        int k = 0;
        for (; k < FL_OFFER_ && hn > 0; k++) {
            ent_ t = pop_(heap, &hn);
            tops[3 * k] = t.gain, tops[3 * k + 1] = t.idx, tops[3 * k + 2] = t.stamp;
        }
        for (int t = k; t <= FL_OFFER_; t++) tops[3 * t] = 0, tops[3 * t + 1] = -1, tops[3 * t + 2] = -1;
        if (hn > 0) tops[3 * k] = heap[0].gain, tops[3 * k + 1] = heap[0].idx;
        SK_TRY(sk_mpi_allgather_i64(tops, (FL_OFFER_ + 1) * 3, msg));
        st->trips++;
        int na = 0;
        for (size_t t = 0; t < nmsg / 3; t++)
            if (msg[3 * t + 1] >= 0) all[na++] = (ent_){msg[3 * t], msg[3 * t + 1], msg[3 * t + 2]};
        if (na == 0) break; /* no candidate left anywhere (w <= N: not reached) */
        qsort(all, (size_t)na, sizeof *all, cmp_);
        /* picks and re-evaluations on this list until a ceiling is on top */
        while (round < w && na > 0 && all[0].stamp >= 0) {
            if (all[0].stamp == round) { /* exact and above every bound: the greedy pick */
                int64_t best = all[0].idx;
                if (best >= job->begin && best < job->end) {
                    out->keep[best - job->begin] = 1;
                    out->scores[best - job->begin] = (float)round;
                }
                SK_TRY(gains_(job, &s, &best, 1, cand, pack, q, 1));
                memmove(all, all + 1, (size_t)(--na) * sizeof *all);
                round++;
                continue;
            }
            int m = 0; /* the stale offered entries on top, down to a fresh one or a ceiling */
            while (m < FL_EVAL_ && m < na && all[m].stamp >= 0 && all[m].stamp != round) eidx[m] = all[m].idx, m++;
            SK_TRY(gains_(job, &s, eidx, m, cand, pack, q, 0));
            st->trips++;
            st->evals += m;
            for (int t = 0; t < m; t++) all[t].gain = q[t], all[t].stamp = round;
            qsort(all, (size_t)na, sizeof *all, cmp_);
        }
        /* back into the owners' heaps, as they are now (ceilings stayed in theirs) */
        for (int t = 0; t < na; t++)
            if (all[t].stamp >= 0 && all[t].idx >= job->begin && all[t].idx < job->end) push_(heap, &hn, all[t]);
    }
done:
    free(rows);
    free(tops);
    free(msg);
    free(heap);
    free(all);
    free(cand);
    free(pack);
    free(s.cur);
    free(s.pan);
    free(s.scr);
    free(s.cache);
    free(s.slot);
    free(zero);
    return rc;
}

static int facility_select_(const sk_condense_job *job, sk_condense_out *out)
{
    int rc = SK_OK;
    int64_t n = job->end - job->begin, F = 0, *want = NULL, *cnt = NULL, plain = 0, picks = 0, total = 0;
    const int64_t *grp = sk_condense_groups(job);
    fl_stats_ st = {0};
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
        total += cnt[g];
        if (want[g] <= 0) continue;
        SK_TRY(group_(job, x, F, g, cnt[g], want[g], out, &st));
        for (int64_t r = 1; r < want[g]; r++)
            plain += cnt[g] - r; /* plain greedy: every unpicked row, each round after the first */
        picks += want[g];
    }
    out->score_name = "pick_order";
    if (job->rank == 0)
        SK_LOG_INFO("facility-location: %lld picks, %lld lazy gain re-evaluations after the first pass (plain greedy: "
                    "%lld) in %lld collective rounds; %lld of %lld candidates' similarities cached",
                    (long long)picks, (long long)st.evals, (long long)plain, (long long)st.trips, (long long)st.cached,
                    (long long)total);
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
    .keys = "proxy batch class_balance sim_cache_mb",
    .select = facility_select_,
};
