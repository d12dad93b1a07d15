/* sk_mpi.c - the MPI layer (see sk_mpi.h). */
#include "sk_mpi.h"
#include "sk_mpi_native.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_rand.h"

struct sk_comm {
    MPI_Comm comm; /* MPI_COMM_NULL in a world of one (no MPI call touches it) */
    sk_mpi_info info;
};

static sk_mpi_info world_info_ = {0, 1, 0, 1};
static sk_mpi_info info_ = {0, 1, 0, 1}; /* the current communicator's (sk_mpi_info_get) */
static sk_comm *cur_ = NULL;             /* NULL: the world */
static int inited_ = 0;                  /* sk_mpi_init has filled world_info_ */
static int owned_ = 0;                   /* and started MPI itself, so finalises it */

MPI_Comm sk_mpi_native_comm_(void) { return cur_ ? cur_->comm : MPI_COMM_WORLD; }

/* rank/size of c and its ranks on this host (split by shared-memory domain). */
static void facts_(MPI_Comm c, sk_mpi_info *in)
{
    MPI_Comm local;
    MPI_Comm_rank(c, &in->rank);
    MPI_Comm_size(c, &in->world);
    in->local_rank = 0;
    in->local_size = 1;
    if (MPI_Comm_split_type(c, MPI_COMM_TYPE_SHARED, in->rank, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
        MPI_Comm_rank(local, &in->local_rank);
        MPI_Comm_size(local, &in->local_size);
        MPI_Comm_free(&local);
    }
}

int sk_mpi_init(int *argc, char ***argv)
{
    int on = 0, provided = 0;
    if (inited_) return SK_OK;
    MPI_Initialized(&on);
    if (!on) {
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return sk_error_set(SK_EMPI, "MPI_Init_thread failed");
        owned_ = 1;
    }
    facts_(MPI_COMM_WORLD, &world_info_);
    info_ = world_info_;
    cur_ = NULL;
    /* Errors from MPI calls come back as codes, not as an abort deep inside
     * (communicators split from the world inherit it). */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    inited_ = 1;
    return SK_OK;
}

const sk_mpi_info *sk_mpi_info_get(void) { return &info_; }

int sk_mpi_active(void)
{
    int fin = 0;
    if (!inited_) return 0;
    MPI_Finalized(&fin);
    return !fin;
}

void sk_mpi_abort(int code, const char *msg)
{
    if (code <= 0) code = 1;
    fprintf(stderr, "shrink[%d] fatal: %s\n", world_info_.rank, msg ? msg : "");
    fflush(stderr);
    /* the whole job, not only the current communicator's ranks */
    if (sk_mpi_active() && world_info_.world > 1) MPI_Abort(MPI_COMM_WORLD, code);
    /* A world of one: nobody waits on us; main returns the exit code. */
}

int sk_mpi_finalize(void)
{
    if (!sk_mpi_active()) return SK_OK;
    if (owned_) MPI_Finalize();
    inited_ = owned_ = 0;
    cur_ = NULL;
    world_info_ = info_ = (sk_mpi_info){0, 1, 0, 1};
    return SK_OK;
}

/* Peers to talk to in the current communicator: 1 (none) outside
 * sk_mpi_init .. sk_mpi_finalize. */
static int world_(void) { return sk_mpi_active() ? info_.world : 1; }

/* ---- communicators ------------------------------------------------------- */

int sk_mpi_comm_split(sk_comm **out, int color, int key)
{
    int rc = SK_OK;
    sk_comm *c = NULL;
    *out = NULL;
    if (world_() == 1) { /* a world (or current part) of one: nothing to split */
        if (color < 0) return SK_OK;
        c = calloc(1, sizeof *c);
        if (!c) return sk_error_set(SK_ENOMEM, "sk_mpi_comm_split: out of memory");
        c->comm = MPI_COMM_NULL;
        c->info = (sk_mpi_info){0, 1, 0, 1};
        *out = c;
        return SK_OK;
    }
    MPI_Comm nc = MPI_COMM_NULL;
    if (MPI_Comm_split(sk_mpi_native_comm_(), color < 0 ? MPI_UNDEFINED : color, key, &nc) != MPI_SUCCESS)
        return sk_error_set(SK_EMPI, "MPI_Comm_split (color %d, key %d) failed", color, key);
    if (nc == MPI_COMM_NULL) return SK_OK;
    c = calloc(1, sizeof *c);
    if (!c) {
        MPI_Comm_free(&nc);
        return sk_error_set(SK_ENOMEM, "sk_mpi_comm_split: out of memory");
    }
    MPI_Comm_set_errhandler(nc, MPI_ERRORS_RETURN);
    c->comm = nc;
    facts_(nc, &c->info);
    *out = c;
    return rc;
}

int sk_mpi_comm_use(sk_comm *c)
{
    cur_ = c;
    info_ = c ? c->info : world_info_;
    return SK_OK;
}

sk_comm *sk_mpi_comm_current(void) { return cur_; }

const sk_mpi_info *sk_mpi_comm_info(const sk_comm *c) { return c ? &c->info : &world_info_; }

void sk_mpi_comm_free(sk_comm *c)
{
    if (!c) return;
    if (cur_ == c) sk_mpi_comm_use(NULL);
    if (c->comm != MPI_COMM_NULL && sk_mpi_active()) MPI_Comm_free(&c->comm);
    free(c);
}

const sk_mpi_info *sk_mpi_world_info(void) { return &world_info_; }

int sk_mpi_world_rank(void) { return world_info_.rank; }

int sk_mpi_barrier(void)
{
    if (world_() == 1) return SK_OK;
    if (MPI_Barrier(sk_mpi_native_comm_()) != MPI_SUCCESS) return sk_error_set(SK_EMPI, "MPI_Barrier failed");
    return SK_OK;
}

static int allreduce_(void *vals, int n, MPI_Datatype t, MPI_Op op, const char *what)
{
    if (world_() == 1 || n == 0) return SK_OK;
    if (MPI_Allreduce(MPI_IN_PLACE, vals, n, t, op, sk_mpi_native_comm_()) != MPI_SUCCESS)
        return sk_error_set(SK_EMPI, "MPI_Allreduce (%s) of %d values failed", what, n);
    return SK_OK;
}

int sk_mpi_allreduce_sum(double *vals, int n) { return allreduce_(vals, n, MPI_DOUBLE, MPI_SUM, "sum"); }
int sk_mpi_allreduce_max(double *vals, int n) { return allreduce_(vals, n, MPI_DOUBLE, MPI_MAX, "max"); }
int sk_mpi_allreduce_min(double *vals, int n) { return allreduce_(vals, n, MPI_DOUBLE, MPI_MIN, "min"); }
int sk_mpi_allreduce_sum_i64(int64_t *vals, int n) { return allreduce_(vals, n, MPI_INT64_T, MPI_SUM, "sum"); }

/* MPI counts are int: larger buffers go in pieces of this many bytes. */
#define PIECE_ ((size_t)1 << 30)

int sk_mpi_bcast(void *buf, size_t len, int root)
{
    if (world_() == 1) return SK_OK;
    for (size_t s = 0; s < len; s += PIECE_) {
        int k = (int)(len - s < PIECE_ ? len - s : PIECE_);
        if (MPI_Bcast((char *)buf + s, k, MPI_BYTE, root, sk_mpi_native_comm_()) != MPI_SUCCESS)
            return sk_error_set(SK_EMPI, "MPI_Bcast of %zu bytes from rank %d failed", len, root);
    }
    return SK_OK;
}

int sk_mpi_allgather_i64(const int64_t *mine, int n, int64_t *all)
{
    if (world_() == 1) {
        if (n > 0) memmove(all, mine, (size_t)n * sizeof *all);
        return SK_OK;
    }
    if (MPI_Allgather(mine, n, MPI_INT64_T, all, n, MPI_INT64_T, sk_mpi_native_comm_()) != MPI_SUCCESS)
        return sk_error_set(SK_EMPI, "MPI_Allgather of %d values per rank failed", n);
    return SK_OK;
}

/* ---- point to point ----------------------------------------------------- */

#define TAG_ 0x5c

static size_t pieces_of_(const sk_mpi_msg *m, int n)
{
    size_t k = 0;
    for (int i = 0; i < n; i++) k += (m[i].bytes + PIECE_ - 1) / PIECE_;
    return k;
}

/* Post message m in pieces into rq (advancing *nrq). */
static int post_(const sk_mpi_msg *m, int send, MPI_Request *rq, size_t *nrq)
{
    for (size_t s = 0; s < m->bytes; s += PIECE_) {
        int k = (int)(m->bytes - s < PIECE_ ? m->bytes - s : PIECE_);
        char *p = (char *)m->buf + s;
        int e = send ? MPI_Isend(p, k, MPI_BYTE, m->peer, TAG_, sk_mpi_native_comm_(), &rq[*nrq])
                     : MPI_Irecv(p, k, MPI_BYTE, m->peer, TAG_, sk_mpi_native_comm_(), &rq[*nrq]);
        if (e != MPI_SUCCESS)
            return sk_error_set(SK_EMPI, "MPI_%s of %zu bytes %s rank %d failed", send ? "Isend" : "Irecv", m->bytes,
                                send ? "to" : "from", m->peer);
        (*nrq)++;
    }
    return SK_OK;
}

int sk_mpi_exchange(const sk_mpi_msg *sends, int nsend, const sk_mpi_msg *recvs, int nrecv)
{
    int rc = SK_OK;
    MPI_Request *rq = NULL;
    size_t nrq = 0, cap = pieces_of_(sends, nsend) + pieces_of_(recvs, nrecv);
    if (cap == 0) return SK_OK;
    SK_FAIL_IF(world_() == 1, SK_EINVAL, "sk_mpi_exchange: %zu messages in a world of one", cap);
    rq = malloc(cap * sizeof *rq);
    SK_FAIL_IF(!rq, SK_ENOMEM, "sk_mpi_exchange: out of memory");
    for (int i = 0; i < nrecv && rc == SK_OK; i++) rc = post_(&recvs[i], 0, rq, &nrq);
    for (int i = 0; i < nsend && rc == SK_OK; i++) rc = post_(&sends[i], 1, rq, &nrq);
    /* Wait even after a failed post: what was posted still uses the buffers. */
    if (nrq && MPI_Waitall((int)nrq, rq, MPI_STATUSES_IGNORE) != MPI_SUCCESS && rc == SK_OK)
        rc = sk_error_set(SK_EMPI, "sk_mpi_exchange: waiting for %zu messages failed (a peer rank died?)", nrq);
done:
    free(rq);
    return rc;
}

/* ---- agreement ---------------------------------------------------------- */

int sk_mpi_agree(int rc)
{
    const int world = world_(), rank = info_.rank;
    if (world == 1) return rc;
    int mine = rc < 0 ? rank : world, first = world;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, sk_mpi_native_comm_()) != MPI_SUCCESS)
        return sk_error_set(SK_EMPI, "MPI_Allreduce agreeing on errors failed");
    if (first == world) return SK_OK;
    int code = rc;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", rank == first ? sk_error_last() : "");
    if (MPI_Bcast(&code, 1, MPI_INT, first, sk_mpi_native_comm_()) != MPI_SUCCESS ||
        MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, first, sk_mpi_native_comm_()) != MPI_SUCCESS)
        return sk_error_set(SK_EMPI, "MPI_Bcast of rank %d's error failed", first);
    if (rank == first) return rc; /* its own message stands */
    /* a message that already names its rank (agreed on before) keeps it:
     * "rank 0: rank 1: ..." would blame rank 0 */
    int skip = 0;
    if (sscanf(msg, "rank %*d: %n", &skip) == 0 && skip > 0) return sk_error_set(code, "%s", msg);
    return sk_error_set(code, "rank %d: %s", first, msg);
}

/* No allocation, so no rank can fail alone before the collectives: rank
 * 0's value goes to all, then the lowest rank holding another value, if
 * any, sends its value for the message. */
int sk_mpi_check_same(int64_t v, const char *what)
{
    int rc = SK_OK;
    const int world = world_();
    if (world == 1) return SK_OK;
    int64_t v0 = v, vr = v;
    SK_TRY(sk_mpi_bcast(&v0, sizeof v0, 0));
    double r = v == v0 ? world : info_.rank; /* exact: ranks are small integers */
    SK_TRY(sk_mpi_allreduce_min(&r, 1));
    if (r == world) return SK_OK;
    SK_TRY(sk_mpi_bcast(&vr, sizeof vr, (int)r));
    rc = sk_error_set(SK_EINVAL, "ranks disagree on %s: rank 0 has %lld, rank %d has %lld", what, (long long)v0, (int)r,
                      (long long)vr);
done:
    return rc;
}

uint64_t sk_mpi_seed(uint64_t seed, int rank, uint64_t stream)
{
    uint64_t a = sk_splitmix64(seed);
    uint64_t b = sk_splitmix64(a ^ ((uint64_t)(uint32_t)rank * 0xd1b54a32d192ed03ULL));
    return sk_splitmix64(b ^ (stream * 0x8cb92ba72f3d8dd7ULL));
}
