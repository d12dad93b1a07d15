/* sk_dist_ddp.c - bucketed gradient averaging over MPI (see sk_dist_ddp.h).
 * Bucketing in reverse parameter order follows PyTorch DDP's Reducer
 * (Li et al., "PyTorch Distributed", VLDB 2020). */
#include "sk_dist_ddp.h"
#include "sk_time.h"

#include <mpi.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sk_mpi.h"
#include "sk_mpi_native.h"

typedef struct {
    int first, last; /* indices into order_ [first, last) */
    size_t count;    /* floats */
    float *buf;
    int ready; /* params of this bucket packed by hooks in this backward */
} bucket_;

struct sk_dist_ddp {
    sk_tensor *const *params;
    const char *const *names;
    int n;
    int *order; /* reverse parameter order */
    bucket_ *b;
    int nb;
    sk_dist_ddp_stats st;
    /* Overlap with backward (sk_dist_ddp_arm): per-param bucket, offset in
     * the bucket, hook handle and "packed" flag; buckets launch strictly in
     * index order so every rank issues the same collective sequence. */
    int *bucket_of, *hook;
    size_t *offset;
    unsigned char *packed;
    MPI_Request *req;
    int armed, next_launch, hook_error, hooked;
    pthread_t owner;
    double hook_pack_s;
    /* The communicator current at create (sk_mpi_comm_use) and its size:
     * the buckets stay on the ranks that built them even if a caller
     * switches communicators in between. */
    MPI_Comm comm;
    int world;
};

static int world_(void) { return sk_mpi_active() ? sk_mpi_info_get()->world : 1; }

static int launch_(sk_dist_ddp *d, int k)
{
    if (MPI_Iallreduce(MPI_IN_PLACE, d->b[k].buf, (int)d->b[k].count, MPI_FLOAT, MPI_SUM, d->comm, &d->req[k]) !=
        MPI_SUCCESS)
        return sk_error_set(SK_EMPI, "ddp: MPI_Iallreduce of gradient bucket %d failed", k);
    return SK_OK;
}

/* Called by libtorch inside backward when param i's gradient is complete,
 * before it is accumulated into .grad: the bucket gets .grad (earlier
 * micro-batches) + the incoming gradient, the value .grad will hold. */
static void grad_ready_(void *user, int i, sk_tensor *grad)
{
    sk_dist_ddp *d = user;
    if (!d->armed || d->hook_error || d->packed[i]) return;
    /* MPI is initialised FUNNELED: only the owning thread may call it. A
     * gradient computed elsewhere (a device thread) is packed after
     * backward instead. */
    if (!pthread_equal(pthread_self(), d->owner)) return;
    double t = sk_now();
    bucket_ *bk = &d->b[d->bucket_of[i]];
    float *dst = bk->buf + d->offset[i];
    size_t n = (size_t)sk_shim_numel(d->params[i]);
    sk_tensor *old = NULL;
    if (sk_shim_to_host(grad, dst, n * sizeof(float)) < 0 || sk_shim_grad(d->params[i], &old) < 0) {
        d->hook_error = 1;
        return;
    }
    if (old) {
        const float *o = sk_shim_data_ptr(old);
        if (!o) {
            d->hook_error = 1;
        } else {
            for (size_t k = 0; k < n; k++) dst[k] += o[k];
        }
        sk_tensor_free(old);
        if (d->hook_error) return;
    }
    d->packed[i] = 1;
    bk->ready++;
    while (d->next_launch < d->nb &&
           d->b[d->next_launch].ready == d->b[d->next_launch].last - d->b[d->next_launch].first) {
        if (launch_(d, d->next_launch) < 0) {
            d->hook_error = 1;
            break;
        }
        d->next_launch++;
        d->st.launched_in_backward++;
    }
    if (d->next_launch > 0) {
        int flag = 0;
        MPI_Testall(d->next_launch, d->req, &flag, MPI_STATUSES_IGNORE); /* drive progress */
    }
    d->hook_pack_s += sk_now() - t;
}

int sk_dist_ddp_arm(sk_dist_ddp *d)
{
    if (!d || !d->hooked) return SK_OK;
    memset(d->packed, 0, (size_t)d->n);
    for (int k = 0; k < d->nb; k++) d->b[k].ready = 0;
    d->next_launch = 0;
    d->hook_error = 0;
    d->hook_pack_s = 0;
    d->st.launched_in_backward = 0;
    d->owner = pthread_self();
    d->armed = 1;
    return SK_OK;
}

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
    d->world = world_();
    d->comm = d->world > 1 ? sk_mpi_native_comm_() : MPI_COMM_NULL;
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
    d->req = malloc((size_t)d->nb * sizeof *d->req);
    SK_FAIL_IF(!d->req, SK_ENOMEM, "ddp: out of memory");
    if (d->world > 1 && sk_shim_device(params[0]) == SK_CPU) {
        d->bucket_of = malloc((size_t)n * sizeof *d->bucket_of);
        d->hook = malloc((size_t)n * sizeof *d->hook);
        d->offset = malloc((size_t)n * sizeof *d->offset);
        d->packed = calloc((size_t)n, 1);
        SK_FAIL_IF(!d->bucket_of || !d->hook || !d->offset || !d->packed, SK_ENOMEM, "ddp: out of memory");
        for (int k = 0; k < d->nb; k++) {
            size_t off = 0;
            for (int j = d->b[k].first; j < d->b[k].last; j++) {
                int i = d->order[j];
                d->bucket_of[i] = k;
                d->offset[i] = off;
                off += (size_t)sk_shim_numel(params[i]);
            }
        }
        for (int i = 0; i < n; i++) {
            SK_TRY(sk_shim_add_grad_hook(params[i], grad_ready_, d, i, &d->hook[i]));
            d->hooked = i + 1;
        }
    }
    *out = d;
    d = NULL;
done:
    sk_dist_ddp_free(d);
    return rc;
}

void sk_dist_ddp_free(sk_dist_ddp *d)
{
    if (!d) return;
    for (int i = 0; i < d->hooked; i++) sk_shim_remove_grad_hook(d->params[i], d->hook[i]);
    free(d->bucket_of);
    free(d->hook);
    free(d->offset);
    free(d->packed);
    free(d->req);
    if (d->b)
        for (int i = 0; i < d->nb; i++) free(d->b[i].buf);
    free(d->b);
    free(d->order);
    free(d);
}

int sk_dist_ddp_broadcast(sk_dist_ddp *d)
{
    int rc = SK_OK;
    if (d->world == 1) return SK_OK;
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
        SK_FAIL_IF(MPI_Bcast(bk->buf, (int)bk->count, MPI_FLOAT, 0, d->comm) != MPI_SUCCESS, SK_EMPI,
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

/* Bytes of ts[i] at off[i], total off[n]. */
static size_t buffer_offsets_(sk_tensor *const *ts, int n, size_t *off)
{
    off[0] = 0;
    for (int i = 0; i < n; i++)
        off[i + 1] = off[i] + (size_t)sk_shim_numel(ts[i]) * sk_shim_dtype_size(sk_shim_dtype(ts[i]));
    return off[n];
}

int sk_dist_ddp_broadcast_buffers(sk_tensor *const *ts, int n)
{
    int rc = SK_OK;
    char *buf = NULL;
    size_t *off = NULL;
    if (world_() == 1 || n <= 0) return SK_OK;
    off = malloc((size_t)(n + 1) * sizeof *off);
    SK_FAIL_IF(!off, SK_ENOMEM, "ddp: out of memory");
    size_t total = buffer_offsets_(ts, n, off);
    buf = malloc(total ? total : 1);
    SK_FAIL_IF(!buf, SK_ENOMEM, "ddp: out of memory for %zu bytes of buffers", total);
    if (sk_mpi_info_get()->rank == 0)
        for (int i = 0; i < n; i++) SK_TRY(sk_shim_to_host(ts[i], buf + off[i], off[i + 1] - off[i]));
    SK_TRY(sk_mpi_bcast(buf, total, 0));
    if (sk_mpi_info_get()->rank != 0)
        for (int i = 0; i < n; i++) SK_TRY(sk_shim_copy_from_host(ts[i], buf + off[i], off[i + 1] - off[i]));
done:
    free(buf);
    free(off);
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
        if (src)
            memcpy(p, src, bytes);
        else
            SK_TRY(sk_shim_to_host(g, p, bytes));
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
        if (dst)
            memcpy(dst, p, bytes);
        else
            rc = sk_shim_copy_from_host(g, p, bytes);
        sk_tensor_free(g);
        if (rc < 0) goto done;
        p += bytes / sizeof(float);
    }
done:
    return rc;
}

int sk_dist_ddp_allreduce_grads(sk_dist_ddp *d)
{
    int rc = SK_OK, W = d->world;
    int armed = d->armed, launched = armed ? d->next_launch : 0, in_backward = armed ? d->st.launched_in_backward : 0;
    double t0 = sk_now(), t;
    d->armed = 0;
    memset(&d->st, 0, sizeof d->st);
    d->st.buckets = d->nb;
    d->st.launched_in_backward = in_backward;
    if (W == 1) return SK_OK;
    SK_FAIL_IF(armed && d->hook_error, SK_EMPI, "ddp: packing a gradient inside backward failed: %s", sk_error_last());
    d->st.pack_s = armed ? d->hook_pack_s : 0;
    /* Buckets the hooks did not launch: pack what is missing from .grad
     * (parameters whose gradient came on another thread), launch in order. */
    for (int k = launched; k < d->nb; k++) {
        t = sk_now();
        if (armed && d->b[k].ready > 0) {
            bucket_ part = d->b[k];
            for (int j = part.first; j < part.last; j++) {
                int i = d->order[j];
                if (d->packed[i]) continue;
                part.first = j;
                part.last = j + 1;
                part.buf = d->b[k].buf + d->offset[i];
                SK_TRY(pack_(d, &part));
            }
        } else {
            SK_TRY(pack_(d, &d->b[k]));
        }
        d->st.pack_s += sk_now() - t;
        SK_TRY(launch_(d, k));
        int flag = 0;
        MPI_Testall(k + 1, d->req, &flag, MPI_STATUSES_IGNORE); /* drive progress */
    }
    t = sk_now();
    for (int k = 0; k < d->nb; k++) {
        SK_FAIL_IF(MPI_Wait(&d->req[k], MPI_STATUS_IGNORE) != MPI_SUCCESS, SK_EMPI,
                   "ddp: waiting for gradient bucket %d failed (a peer rank died?)", k);
        double tu = sk_now();
        d->st.wait_s += tu - t;
        SK_TRY(unpack_(d, &d->b[k], 1.0f / (float)W));
        t = sk_now();
        d->st.unpack_s += t - tu;
    }
done:
    /* On a local failure after some launches, peers are blocked in the same
     * collectives; the caller reports and sk_mpi_abort() ends the job. */
    d->st.total_s = sk_now() - t0;
    return rc;
}

void sk_dist_ddp_stats_get(const sk_dist_ddp *d, sk_dist_ddp_stats *out) { *out = d->st; }
