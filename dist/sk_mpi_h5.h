/* sk_mpi_h5.h - the bridge between sk_mpi and parallel HDF5: the one place
 * an HDF5 property list learns about MPI.
 *
 * defines: sk_mpi_h5_collective.
 *
 * Its own target (sk_mpi_h5: sk_mpi + HDF5), so sk_mpi links no HDF5 and
 * dataset/ never names an MPI communicator (see sk_mpi.h for the rule).
 */
#ifndef SK_MPI_H5_H
#define SK_MPI_H5_H

#include <hdf5.h>

#ifdef __cplusplus
extern "C" {
#endif

/* With more than one rank (sk_mpi_info_get()->world > 1, MPI active): fapl
 * opens the file with the MPI-IO driver over the current communicator (the
 * world, or the part made current with sk_mpi_comm_use; H5Pset_fapl_mpio
 * duplicates it, so the list outlives a later switch), with collective
 * metadata reads and writes, and dxpl makes dataset transfers collective,
 * as HDF5's filtered parallel writes require. A world of one leaves both
 * lists untouched. Either may be H5P_DEFAULT to leave it alone. */
int sk_mpi_h5_collective(hid_t fapl, hid_t dxpl);

#ifdef __cplusplus
}
#endif
#endif /* SK_MPI_H5_H */
