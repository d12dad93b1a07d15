/* sk_dist.c - MPI process group (see sk_dist.h). */
#include "sk_dist.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>

static sk_dist_info info_ = {0, 1, 0, 1};
static int started_ = 0;

int sk_dist_init(int *argc, char ***argv)
{
    int inited = 0, provided = 0;
    if (started_) return SK_OK;
    MPI_Initialized(&inited);
    if (!inited) {
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return sk_error_set(SK_EMPI, "MPI_Init_thread failed");
        started_ = 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &info_.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &info_.world);
    /* Ranks on this host: split by shared-memory domain. */
    MPI_Comm local;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, info_.rank, MPI_INFO_NULL, &local) ==
        MPI_SUCCESS) {
        MPI_Comm_rank(local, &info_.local_rank);
        MPI_Comm_size(local, &info_.local_size);
        MPI_Comm_free(&local);
    }
    /* Errors from MPI calls come back as codes, not as an abort deep inside. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    return SK_OK;
}

const sk_dist_info *sk_dist_info_get(void) { return &info_; }

int sk_dist_active(void)
{
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    return started_ && inited && !finalized;
}

void sk_dist_abort(int code, const char *msg)
{
    if (code <= 0) code = 1;
    fprintf(stderr, "shrink[%d] fatal: %s\n", info_.rank, msg ? msg : "");
    fflush(stderr);
    if (sk_dist_active() && info_.world > 1) MPI_Abort(MPI_COMM_WORLD, code);
    /* A world of one: nobody waits on us; main returns the exit code. */
}

int sk_dist_barrier(void)
{
    if (!sk_dist_active()) return SK_OK;
    if (MPI_Barrier(MPI_COMM_WORLD) != MPI_SUCCESS) return sk_error_set(SK_EMPI, "MPI_Barrier failed");
    return SK_OK;
}

int sk_dist_finalize(void)
{
    if (!sk_dist_active()) return SK_OK;
    MPI_Finalize();
    started_ = 0;
    return SK_OK;
}
