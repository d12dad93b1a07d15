/* sk_pick.c - exact distributed k-smallest by radix selection (sk_pick.h). */
#include "sk_pick.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sk_error.h"
#include "sk_mpi.h"

uint64_t sk_pick_key_asc(float s)
{
    uint32_t u;
    memcpy(&u, &s, sizeof u);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); /* IEEE order as unsigned order */
    return (uint64_t)u << 32;
}

uint64_t sk_pick_key_desc(float s) { return ~sk_pick_key_asc(s); }

int64_t sk_pick_want(double keep, int64_t count)
{
    if (count <= 0) return 0;
    int64_t w = (int64_t)floor(keep * (double)count + 0.5);
    if (w < 1) w = 1;
    return w > count ? count : w;
}

/* One radix round: for every group, the 256-bin histogram of key byte
 * `shift` among eligible rows whose higher bytes equal the group's prefix
 * so far; then each group's bin holding its rank-`left` key. */
static int radix_round_(const uint64_t *keys, const int64_t *group, int ngroups, const uint8_t *eligible, int64_t n,
                        int shift, uint64_t *prefix, int64_t *left, int64_t *hist)
{
    int rc = SK_OK;
    uint64_t hi_mask = shift == 56 ? 0 : ~0ULL << (shift + 8);
    memset(hist, 0, (size_t)ngroups * 256 * sizeof *hist);
    for (int64_t i = 0; i < n; i++) {
        if (eligible && !eligible[i]) continue;
        int g = group ? (int)group[i] : 0;
        if (left[g] <= 0 || (keys[i] & hi_mask) != (prefix[g] & hi_mask)) continue;
        hist[(size_t)g * 256 + ((keys[i] >> shift) & 0xff)]++;
    }
    SK_TRY(sk_mpi_allreduce_sum_i64(hist, ngroups * 256));
    for (int g = 0; g < ngroups; g++) {
        if (left[g] <= 0) continue;
        int64_t below = 0;
        int b = 0;
        for (; b < 255 && below + hist[(size_t)g * 256 + b] < left[g]; b++) below += hist[(size_t)g * 256 + b];
        prefix[g] = (prefix[g] & hi_mask) | ((uint64_t)b << shift);
        left[g] -= below;
    }
done:
    return rc;
}

int sk_pick_smallest(const uint64_t *keys, const int64_t *group, int ngroups, const uint8_t *eligible, int64_t n,
                     const int64_t *want, uint8_t *keep)
{
    int rc = SK_OK;
    const int world = sk_mpi_info_get()->world, rank = sk_mpi_info_get()->rank;
    size_t ng = (size_t)ngroups;
    int64_t *hist = malloc(ng * 256 * sizeof *hist), *left = calloc(ng, sizeof *left);
    int64_t *total = calloc(ng, sizeof *total), *ties = calloc(ng, sizeof *ties);
    int64_t *all_ties = calloc(ng * (size_t)world, sizeof *all_ties);
    uint64_t *thr = calloc(ng, sizeof *thr);
    if (!hist || !left || !total || !ties || !all_ties || !thr) rc = sk_error_set(SK_ENOMEM, "pick: out of memory");
    SK_TRY(sk_mpi_agree(rc));
    /* group sizes: keep everything of a group asked for more than it has */
    for (int64_t i = 0; i < n; i++)
        if (!eligible || eligible[i]) total[group ? group[i] : 0]++;
    SK_TRY(sk_mpi_allreduce_sum_i64(total, ngroups));
    for (size_t g = 0; g < ng; g++) left[g] = want[g] >= total[g] ? (total[g] > 0 ? -1 : 0) : want[g];
    for (int shift = 56; shift >= 0; shift -= 8)
        SK_TRY(radix_round_(keys, group, ngroups, eligible, n, shift, thr, left, hist));
    /* left[g] is now how many keys equal to thr[g] to keep; the ranks before
     * me take theirs first (row order) */
    for (int64_t i = 0; i < n; i++) {
        if (eligible && !eligible[i]) continue;
        int g = group ? (int)group[i] : 0;
        if (left[g] > 0 && keys[i] == thr[g]) ties[g]++;
    }
    SK_TRY(sk_mpi_allgather_i64(ties, ngroups, all_ties));
    for (size_t g = 0; g < ng; g++) {
        int64_t before = 0;
        for (int q = 0; q < rank; q++) before += all_ties[(size_t)q * ng + g];
        ties[g] = left[g] > 0 ? left[g] - before : 0; /* ties this rank may still take */
    }
    for (int64_t i = 0; i < n; i++) {
        if (eligible && !eligible[i]) continue;
        int g = group ? (int)group[i] : 0;
        if (left[g] < 0)
            keep[i] = 1; /* whole group */
        else if (left[g] > 0 && keys[i] < thr[g])
            keep[i] = 1;
        else if (left[g] > 0 && keys[i] == thr[g] && ties[g] > 0) {
            keep[i] = 1;
            ties[g]--;
        }
    }
done:
    free(hist);
    free(left);
    free(total);
    free(ties);
    free(all_ties);
    free(thr);
    return rc;
}
