/* sk_mpi.h - the MPI layer: process group, rank facts, collectives, error
 * agreement across ranks, per-rank seeds. Links only sk_common (and MPI).
 *
 * defines: sk_mpi_info, sk_mpi_init / _finalize / _active / _abort,
 *          sk_mpi_info_get, sk_mpi_barrier, sk_mpi_allreduce_sum / _max /
 *          _min (doubles), sk_mpi_allreduce_sum_i64, sk_mpi_bcast,
 *          sk_mpi_allgather_i64, sk_mpi_msg, sk_mpi_exchange, sk_mpi_agree,
 *          sk_mpi_check_same, sk_mpi_seed; communicators: sk_comm,
 *          sk_mpi_comm_split / _use / _free / _current, sk_mpi_world_info,
 *          sk_mpi_world_rank.
 *
 * The rule: only dist/ includes <mpi.h> or names an MPI_ identifier (a
 * ctest, mpi_confined, checks it). Every other module talks to MPI through
 * this header (and sk_mpi_h5.h for parallel HDF5), so no MPI type leaks
 * into their headers and every collective reports errors the shrink way.
 *
 * The group is the current communicator: MPI_COMM_WORLD unless a caller
 * split the world (sk_mpi_comm_split) and made a part current
 * (sk_mpi_comm_use). Every collective below, sk_mpi_info_get, the
 * parallel-HDF5 file access (sk_mpi_h5.h) and DDP (sk_dist_ddp.h) then run
 * over that part alone, so code written for "the world" (a training run, a
 * corpus write, a condense pass) runs unchanged inside a group of ranks, as
 * if launched alone with mpirun -np <group size>. What must stay global
 * (which rank prints, sk_mpi_abort, a GPU per host rank) reads
 * sk_mpi_world_info(). Every shrink process is an MPI process:
 * `shrink` run without mpirun is a world of one, and before sk_mpi_init (or
 * after sk_mpi_finalize) every collective here is a no-op on a world of
 * one, so serial tools and tests need no MPI set-up.
 *
 * Collectives: every rank calls them, in the same order. A rank that failed
 * locally must not skip one its peers enter (they would wait forever):
 * call sk_mpi_agree(rc) first, so every rank learns of the failure and all
 * return the same error. A rank that cannot continue at all reports and
 * main() calls sk_mpi_abort(), which takes the whole job down.
 */
#ifndef SK_MPI_H
#define SK_MPI_H

#include <stddef.h>
#include <stdint.h>

#include "sk_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int rank;       /* rank in the current communicator (the world unless one is in use) */
    int world;      /* number of ranks in it */
    int local_rank; /* rank among its ranks on this host */
    int local_size; /* its ranks on this host */
} sk_mpi_info;

/* Initialise MPI (MPI_THREAD_FUNNELED: only the calling thread makes MPI
 * calls) once; later calls are no-ops. Adopts an MPI someone else
 * initialised. argc/argv may be NULL. */
int sk_mpi_init(int *argc, char ***argv);
/* Rank facts of the current communicator (a world of one before
 * sk_mpi_init). Borrowed, never NULL; the object's values change with
 * sk_mpi_comm_use. */
const sk_mpi_info *sk_mpi_info_get(void);
/* 1 between sk_mpi_init and sk_mpi_finalize. */
int sk_mpi_active(void);
/* Print "shrink[rank] fatal: msg" to stderr (the world rank) and, when the
 * world has more than one rank, abort every rank of the world with exit code `code` (does not return).
 * In a world of one it returns and main() exits with the code. Only main()
 * calls it: library code returns errors instead. */
void sk_mpi_abort(int code, const char *msg);
/* Finalise MPI if sk_mpi_init started it (the world becomes current
 * again; communicators not freed yet can only be sk_mpi_comm_free'd). */
int sk_mpi_finalize(void);

/* ---- communicators ------------------------------------------------------ */

/* A part of the world (MPI_Comm_split), opaque. */
typedef struct sk_comm sk_comm;

/* Split the current communicator: ranks passing the same color >= 0 form
 * one new communicator, ordered by key (ties by current rank); a rank
 * passing a negative color joins none and gets *out = NULL. Collective
 * over the current communicator. *out is the caller's (sk_mpi_comm_free).
 * A world of one (MPI not active) gets a communicator of one. */
int sk_mpi_comm_split(sk_comm **out, int color, int key);
/* Make c the current communicator (NULL: the world again). Local: each
 * rank switches its own view, so every rank of c must switch before the
 * next collective over it. c is borrowed and must outlive its use. */
int sk_mpi_comm_use(sk_comm *c);
/* The current communicator (NULL: the world). */
sk_comm *sk_mpi_comm_current(void);
/* Rank facts of c (NULL: the world); borrowed. */
const sk_mpi_info *sk_mpi_comm_info(const sk_comm *c);
/* Free c (accepts NULL); collective over c's ranks while MPI is active. If
 * c is current, the world becomes current first. */
void sk_mpi_comm_free(sk_comm *c);
/* Rank facts of the whole world, whatever communicator is current (a
 * world of one before sk_mpi_init): which rank logs, which GPU a rank
 * takes (local_rank), how many ranks share this host's cores (local_size). */
const sk_mpi_info *sk_mpi_world_info(void);
/* sk_mpi_world_info()->rank. */
int sk_mpi_world_rank(void);

/* Every rank waits until all have reached it. */
int sk_mpi_barrier(void);
/* In place: each of n values becomes its sum / max / min over ranks. */
int sk_mpi_allreduce_sum(double *vals, int n);
int sk_mpi_allreduce_max(double *vals, int n);
int sk_mpi_allreduce_min(double *vals, int n);
int sk_mpi_allreduce_sum_i64(int64_t *vals, int n);
/* len bytes of root's buf into buf on every rank. */
int sk_mpi_bcast(void *buf, size_t len, int root);
/* all[r * n + i] = rank r's mine[i]; all holds world * n values. */
int sk_mpi_allgather_i64(const int64_t *mine, int n, int64_t *all);

/* One point-to-point message: `bytes` bytes at buf to or from rank peer
 * (buf is only read for a send). */
typedef struct {
    void *buf;
    size_t bytes;
    int peer;
} sk_mpi_msg;
/* Post every send and receive at once and wait for all, so no order of
 * posting can deadlock. Between a pair of ranks, the k-th send from one is
 * received by the other's k-th receive from it; sizes must match. Any size
 * (sent in pieces MPI's int counts hold). Collective only among the ranks
 * that exchange; a world of one has no peers (n must be 0). */
int sk_mpi_exchange(const sk_mpi_msg *sends, int nsend, const sk_mpi_msg *recvs, int nrecv);

/* Error agreement: every rank passes its own rc (0 or negative SK_E*);
 * all return the code of the lowest failing rank with its message (peers
 * get it prefixed "rank R: "), or SK_OK when none failed. A world of one
 * returns rc untouched. Call it before any collective that a failed rank
 * would skip. */
int sk_mpi_agree(int rc);
/* Fail on every rank with "ranks disagree on <what>: rank 0 has A, rank R
 * has B" unless every rank passes the same v. */
int sk_mpi_check_same(int64_t v, const char *what);
/* A per-rank, per-purpose seed derived from one run seed (SplitMix64 of
 * seed, rank and stream): independent streams, reproducible from `seed`.
 * Pure: makes no MPI call. */
uint64_t sk_mpi_seed(uint64_t seed, int rank, uint64_t stream);

#ifdef __cplusplus
}
#endif
#endif /* SK_MPI_H */
