/* sk_dist_ddp.c - bucketed gradient averaging over MPI (see sk_dist_ddp.h).
 * Bucketing in reverse parameter order follows PyTorch DDP's Reducer
 * (Li et al., "PyTorch Distributed", VLDB 2020). */
#include "sk_dist_ddp.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sk_dist.h"

typedef struct {
    int first, last;  /* indices into order_ [first, last) */
    size_t count;     /* floats */
    float *buf;
} bucket_;

struct sk_dist_ddp {
    sk_tensor *const *params;
    const char *const *names;
    int n;
    int *order;       /* reverse parameter order */
    bucket_ *b;
    int nb;
    sk_dist_ddp_stats st;
};

static double now_(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int world_(void) { return sk_dist_active() ? sk_dist_info_get()->world : 1; }

int sk_dist_ddp_create(sk_dist_ddp **out, sk_tensor *const *params, const char *const *names, int n,
                       size_t bucket_bytes)
{
    int rc = SK_OK;
    sk_dist_ddp *d = NULL;
    *out = NULL;
    SK_FAIL_IF(n <= 0 || !params, SK_EINVAL, "ddp: no parameters");
    if (bucket_bytes < 4) bucket_bytes = 4;
    d = calloc(1, sizeof *d);
    SK_FAIL_IF(!d, SK_ENOMEM, "ddp: out of memory");
    d->params = params;
    d->names = names;
    d->n = n;
    d->order = malloc((size_t)n * sizeof *d->order);
    d->b = calloc((size_t)n, sizeof *d->b);
    SK_FAIL_IF(!d->order || !d->b, SK_ENOMEM, "ddp: out of memory");
    for (int i = 0; i < n; i++) {
        d->order[i] = n - 1 - i;
        SK_FAIL_IF(sk_shim_dtype(params[i]) != SK_F32, SK_EUNSUPPORTED, "ddp: parameter %s is not float32",
                   names ? names[i] : "?");
    }
    /* Greedy buckets over the reverse order; a large tensor gets its own. */
    size_t cap = bucket_bytes / sizeof(float);
    for (int i = 0; i < n;) {
        bucket_ *bk = &d->b[d->nb++];
        bk->first = i;
        while (i < n && (bk->count == 0 || bk->count + (size_t)sk_shim_numel(params[d->order[i]]) <= cap)) {
            bk->count += (size_t)sk_shim_numel(params[d->order[i]]);
            i++;
        }
        bk->last = i;
        bk->buf = malloc(bk->count * sizeof(float) + 1);
        SK_FAIL_IF(!bk->buf, SK_ENOMEM, "ddp: out of memory for a %zu-float bucket", bk->count);
    }
    d->st.buckets = d->nb;
    *out = d;
    d = NULL;
done:
    sk_dist_ddp_free(d);
    return rc;
}

void sk_dist_ddp_free(sk_dist_ddp *d)
{
    if (!d) return;
    if (d->b)
        for (int i = 0; i < d->nb; i++) free(d->b[i].buf);
    free(d->b);
    free(d->order);
    free(d);
}

int sk_dist_ddp_broadcast(sk_dist_ddp *d)
{
    int rc = SK_OK;
    if (world_() == 1) return SK_OK;
    /* Reuse the bucket buffers: pack on rank 0, broadcast, unpack. */
    for (int k = 0; k < d->nb; k++) {
        bucket_ *bk = &d->b[k];
        float *p = bk->buf;
        for (int j = bk->first; j < bk->last; j++) {
            sk_tensor *t = d->params[d->order[j]];
            size_t bytes = (size_t)sk_shim_numel(t) * sizeof(float);
            SK_TRY(sk_shim_to_host(t, p, bytes));
            p += bytes / sizeof(float);
        }
        SK_FAIL_IF(MPI_Bcast(bk->buf, (int)bk->count, MPI_FLOAT, 0, MPI_COMM_WORLD) != MPI_SUCCESS, SK_EMPI,
                   "ddp: MPI_Bcast of parameters failed");
        p = bk->buf;
        for (int j = bk->first; j < bk->last; j++) {
            sk_tensor *t = d->params[d->order[j]];
            size_t bytes = (size_t)sk_shim_numel(t) * sizeof(float);
            SK_TRY(sk_shim_copy_from_host(t, p, bytes));
            p += bytes / sizeof(float);
        }
    }
done:
    return rc;
}

static int pack_(sk_dist_ddp *d, bucket_ *bk)
{
    int rc = SK_OK;
    float *p = bk->buf;
    for (int j = bk->first; j < bk->last; j++) {
        int i = d->order[j];
        sk_tensor *g = NULL;
        size_t bytes = (size_t)sk_shim_numel(d->params[i]) * sizeof(float);
        SK_TRY(sk_shim_grad(d->params[i], &g));
        SK_FAIL_IF(!g, SK_EINVAL, "ddp: parameter %s has no gradient (unused in the forward pass?)",
                   d->names ? d->names[i] : "?");
        void *src = sk_shim_data_ptr(g);
        if (src) memcpy(p, src, bytes);
        else SK_TRY(sk_shim_to_host(g, p, bytes));
        sk_tensor_free(g);
        p += bytes / sizeof(float);
    }
done:
    return rc;
}

static int unpack_(sk_dist_ddp *d, bucket_ *bk, float scale)
{
    int rc = SK_OK;
    float *p = bk->buf;
    for (size_t k = 0; k < bk->count; k++) p[k] *= scale;
    for (int j = bk->first; j < bk->last; j++) {
        int i = d->order[j];
        sk_tensor *g = NULL;
        size_t bytes = (size_t)sk_shim_numel(d->params[i]) * sizeof(float);
        SK_TRY(sk_shim_grad(d->params[i], &g));
        void *dst = g ? sk_shim_data_ptr(g) : NULL;
        if (dst) memcpy(dst, p, bytes);
        else rc = sk_shim_copy_from_host(g, p, bytes);
        sk_tensor_free(g);
        if (rc < 0) goto done;
        p += bytes / sizeof(float);
    }
done:
    return rc;
}

int sk_dist_ddp_allreduce_grads(sk_dist_ddp *d)
{
    int rc = SK_OK, W = world_(), launched = 0;
    MPI_Request *req = NULL;
    double t0 = now_(), t;
    memset(&d->st, 0, sizeof d->st);
    d->st.buckets = d->nb;
    if (W == 1) return SK_OK;
    req = malloc((size_t)d->nb * sizeof *req);
    SK_FAIL_IF(!req, SK_ENOMEM, "ddp: out of memory");
    for (int k = 0; k < d->nb; k++) {
        t = now_();
        rc = pack_(d, &d->b[k]);
        d->st.pack_s += now_() - t;
        if (rc < 0) goto done;
        SK_FAIL_IF(MPI_Iallreduce(MPI_IN_PLACE, d->b[k].buf, (int)d->b[k].count, MPI_FLOAT, MPI_SUM,
                                  MPI_COMM_WORLD, &req[k]) != MPI_SUCCESS,
                   SK_EMPI, "ddp: MPI_Iallreduce of gradient bucket %d failed", k);
        launched++;
        int flag = 0;
        MPI_Testall(launched, req, &flag, MPI_STATUSES_IGNORE); /* drive progress */
    }
    t = now_();
    for (int k = 0; k < d->nb; k++) {
        SK_FAIL_IF(MPI_Wait(&req[k], MPI_STATUS_IGNORE) != MPI_SUCCESS, SK_EMPI,
                   "ddp: waiting for gradient bucket %d failed (a peer rank died?)", k);
        launched--;
        double tu = now_();
        d->st.wait_s += tu - t;
        SK_TRY(unpack_(d, &d->b[k], 1.0f / (float)W));
        t = now_();
        d->st.unpack_s += t - tu;
    }
done:
    /* On a local failure after some launches, peers are blocked in the same
     * collectives; the caller reports and sk_dist_abort() ends the job. */
    free(req);
    d->st.total_s = now_() - t0;
    return rc;
}

void sk_dist_ddp_stats_get(const sk_dist_ddp *d, sk_dist_ddp_stats *out) { *out = d->st; }

int sk_dist_allreduce_sum(double *vals, int n)
{
    if (world_() == 1) return SK_OK;
    if (MPI_Allreduce(MPI_IN_PLACE, vals, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
        return sk_error_set(SK_EMPI, "MPI_Allreduce(sum) of %d metrics failed", n);
    return SK_OK;
}

int sk_dist_allreduce_max(double *vals, int n)
{
    if (world_() == 1) return SK_OK;
    if (MPI_Allreduce(MPI_IN_PLACE, vals, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS)
        return sk_error_set(SK_EMPI, "MPI_Allreduce(max) of %d metrics failed", n);
    return SK_OK;
}

int sk_dist_check_same(int64_t v, const char *what)
{
    if (world_() == 1) return SK_OK;
    long long mm[2] = {(long long)v, -(long long)v};
    if (MPI_Allreduce(MPI_IN_PLACE, mm, 2, MPI_LONG_LONG, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS)
        return sk_error_set(SK_EMPI, "MPI_Allreduce checking %s failed", what);
    if (mm[0] != -mm[1])
        return sk_error_set(SK_EINVAL, "ranks disagree on %s (values from %lld to %lld)", what, -mm[1], mm[0]);
    return SK_OK;
}

int sk_dist_broadcast_bytes(void *buf, size_t len)
{
    if (world_() == 1) return SK_OK;
    if (MPI_Bcast(buf, (int)len, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
        return sk_error_set(SK_EMPI, "MPI_Bcast of %zu bytes failed", len);
    return SK_OK;
}

static uint64_t splitmix_(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t sk_dist_seed(uint64_t seed, int rank, uint64_t stream)
{
    uint64_t s = seed;
    uint64_t a = splitmix_(&s);
    s = a ^ ((uint64_t)(uint32_t)rank * 0xd1b54a32d192ed03ULL);
    uint64_t b = splitmix_(&s);
    s = b ^ (stream * 0x8cb92ba72f3d8dd7ULL);
    return splitmix_(&s);
}
