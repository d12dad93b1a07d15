#!/usr/bin/env bash
# run_bench_facility.sh CORPUS PROXY ROUNDS KEEP SHRINK_A SHRINK_B - the
# selection time of condense.method=facility-location (docs/BENCHMARKS.md,
# "Facility location"), two shrink executables side by side: each round
# runs both on the same input (2 ranks x 1 thread, class balance, KEEP),
# the order flipping every round so machine load hits both alike. Per
# round: the method seconds each reports ("method X s" of `shrink
# condense`), the ratio A / B and whether both kept the same rows
# (/provenance/kept_indices); then the median, min and max of the ratios.
# SHRINK_A, SHRINK_B: a shrink executable or a script that runs one (e.g.
# the old code, whose libshrink sits elsewhere: LD_LIBRARY_PATH=... exec).
# HDF5_PLUGIN_PATH (the zstd filter, for the comparison): default
# SHRINK_B's BUILD/dataset/plugin when SHRINK_B is BUILD/cli/shrink.
set -euo pipefail
corpus=$1; proxy=$2; rounds=$3; keep=$4; a=$5; b=$6
. "$(dirname "$0")/../scripts/mpi_env.sh"
export OMP_NUM_THREADS=1
export HDF5_PLUGIN_PATH=${HDF5_PLUGIN_PATH:-$(dirname "$(readlink -f "$b")")/../dataset/plugin}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
one() { # one EXE TAG: select, print the method seconds
  mpirun -np 2 "$1" condense --set condense.input="$corpus" --set condense.output="$tmp/$2.h5" \
    --set condense.method=facility-location --set condense.keep="$keep" --set condense.proxy="$proxy" \
    --set run.threads=1 --set condense.overwrite=true > "$tmp/$2.log" 2>&1 ||
    { echo "run failed: $2" >&2; tail -5 "$tmp/$2.log" >&2; exit 1; }
  sed -n 's/.*(method \([0-9.]*\) s).*/\1/p' "$tmp/$2.log"
}
same() { /usr/bin/python3 -c 'import h5py, numpy, sys
k = [h5py.File(f, "r")["provenance/kept_indices"][()] for f in sys.argv[1:]]
print("same rows" if numpy.array_equal(*k) else "ROWS DIFFER")' "$tmp/a.h5" "$tmp/b.h5"; }
rs=""
for r in $(seq "$rounds"); do
  if [ $((r % 2)) = 1 ]; then ta=$(one "$a" a); tb=$(one "$b" b); else tb=$(one "$b" b); ta=$(one "$a" a); fi
  q=$(awk -v x="$ta" -v y="$tb" 'BEGIN { printf "%.2f", x / y }')
  rs+="$q "
  echo "round $r: A $ta s, B $tb s, A / B $q, $(same); load $(cut -d' ' -f1 /proc/loadavg)"
done
echo "$rs" | tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 }
  END { printf "A / B selection time: median %.2f (min %.2f, max %.2f, %d rounds)\n", v[int((NR + 1) / 2)], v[1], v[NR], NR }'
