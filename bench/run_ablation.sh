#!/usr/bin/env bash
# run_ablation.sh - thin wrapper kept for old scripts: the grid runner is
# now `shrink ablate` (docs/ABLATE.md).
#
#   bench/run_ablation.sh ABLATE_CONFIG [shrink ablate arguments...]
#
# Environment: SHRINK (default build/cli/shrink), NP (ranks, default 2).
set -euo pipefail
[ $# -ge 1 ] || { sed -n 2,8p "$0" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
config=$1
shift
exec mpirun -np "${NP:-2}" "${SHRINK:-build/cli/shrink}" ablate --config "$config" "$@"
