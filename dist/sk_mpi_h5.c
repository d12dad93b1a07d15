/* sk_mpi_h5.c - MPI-IO settings of HDF5 property lists (see sk_mpi_h5.h). */
#include "sk_mpi_h5.h"

#include <mpi.h>

#include "sk_mpi.h"
#include "sk_mpi_native.h"

int sk_mpi_h5_collective(hid_t fapl, hid_t dxpl)
{
    if (!sk_mpi_active() || sk_mpi_info_get()->world == 1) return SK_OK;
    if (fapl != H5P_DEFAULT && (H5Pset_fapl_mpio(fapl, sk_mpi_native_comm_(), MPI_INFO_NULL) < 0 ||
                                H5Pset_all_coll_metadata_ops(fapl, 1) < 0 || H5Pset_coll_metadata_write(fapl, 1) < 0))
        return sk_error_set(SK_EIO, "cannot set the MPI-IO driver on an HDF5 file-access list");
    if (dxpl != H5P_DEFAULT && H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0)
        return sk_error_set(SK_EIO, "cannot make HDF5 transfers collective");
    return SK_OK;
}
