/* sk_dist.h - MPI process group: init, rank facts, abort, collectives.
 *
 * defines: sk_dist_info, sk_dist_init, sk_dist_info_get, sk_dist_abort,
 *          sk_dist_finalize, sk_dist_barrier.
 *
 * Every shrink process is an MPI process: `shrink` run without mpirun is a
 * world of one. A rank that fails must not leave its peers waiting in a
 * collective: main() reports the error and calls sk_dist_abort(), which
 * takes the whole job down (MPI_Abort) with the message.
 */
#ifndef SK_DIST_H
#define SK_DIST_H

#include "sk_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int rank;       /* rank in MPI_COMM_WORLD */
    int world;      /* number of ranks */
    int local_rank; /* rank among the ranks on this host (GPU index) */
    int local_size; /* ranks on this host */
} sk_dist_info;

/* Initialise MPI (MPI_THREAD_FUNNELED) once; later calls are no-ops.
 * argc/argv may be NULL. */
int sk_dist_init(int *argc, char ***argv);
/* Rank facts (a world of one before sk_dist_init). Borrowed, never NULL. */
const sk_dist_info *sk_dist_info_get(void);
/* 1 when MPI was initialised by sk_dist_init and not finalised. */
int sk_dist_active(void);
/* Print "shrink[rank] fatal: msg" to stderr and, when the world has more
 * than one rank, abort every rank with exit code `code` (MPI_Abort; does not
 * return). In a world of one it returns and main() exits with the code.
 * Only main() calls it: library code returns errors instead. */
void sk_dist_abort(int code, const char *msg);
/* Collective: every rank reaches it. */
int sk_dist_barrier(void);
/* Finalise MPI if sk_dist_init started it. */
int sk_dist_finalize(void);

#ifdef __cplusplus
}
#endif
#endif /* SK_DIST_H */
