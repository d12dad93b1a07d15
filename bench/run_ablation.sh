#!/usr/bin/env bash
# run_ablation.sh - thin wrapper kept for old scripts: the grid runner is
# now `shrink ablate` (docs/ABLATE.md).
#
#   bench/run_ablation.sh ABLATE_CONFIG [shrink ablate arguments...]
#
# Environment: SHRINK (default build/cli/shrink), NP (ranks, default 2).
set -euo pipefail
[ $# -ge 1 ] || { sed -n 2,8p "$0" >&2; exit 2; }
. "$(dirname "$0")/../scripts/mpi_env.sh"
config=$1
shift
exec mpirun -np "${NP:-2}" "${SHRINK:-build/cli/shrink}" ablate --config "$config" "$@"
