/* sk_mpi_native.h - for dist/'s own sources only: the MPI communicator
 * behind sk_mpi's current communicator (sk_mpi_comm_use).
 *
 * defines: sk_mpi_native_comm_.
 *
 * It names MPI types, so no file outside dist/ may include it (the
 * mpi_confined check fails any that does). sk_mpi_h5 (parallel HDF5 file
 * access) and sk_dist (DDP) take their communicator from here, so they
 * follow sk_mpi_comm_use without their callers passing one.
 */
#ifndef SK_MPI_NATIVE_H
#define SK_MPI_NATIVE_H

#include <mpi.h>

/* MPI_COMM_WORLD, or the communicator made current by sk_mpi_comm_use.
 * Borrowed. Only meaningful while sk_mpi_active(). */
MPI_Comm sk_mpi_native_comm_(void);

#endif /* SK_MPI_NATIVE_H */
