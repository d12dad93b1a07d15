# mpi_env.sh - the Open MPI environment every shell script here runs mpirun in; source it
# (POSIX sh): `. "$(dirname "$0")/../scripts/mpi_env.sh"`. The CMake tests' copy is
# SK_MPI_ENV in tests/CMakeLists.txt.
# - root: Open MPI refuses to run as root without both flags (CI and these machines are root).
# - oversubscribe: 3-rank runs on 2-core machines (odd world sizes find bugs).
# - no core binding (unless set): Open MPI binds a job of 1-2 ranks to cores counted from 0,
#   so two jobs side by side would share core 0 and leave the other cores idle.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_hwloc_base_binding_policy="${OMPI_MCA_hwloc_base_binding_policy:-none}"
