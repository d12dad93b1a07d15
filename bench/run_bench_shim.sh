#!/usr/bin/env bash
# run_bench_shim.sh BUILD_DIR [threads] [rounds] - the shim benchmark: the same
# transformer-block training step in C over the shim and in PyTorch eager,
# alternated round by round in one run so machine noise hits both alike.
set -euo pipefail
build=${1:-build}; threads=${2:-1}; rounds=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
c=(); py=(); cop=(); pyop=()
for r in $(seq "$rounds"); do
  read -r _ _ cs _ co < <("$build/bench/bench_shim" "$threads" 30)
  read -r _ _ ps _ po < <(/usr/bin/python3 "$here/bench_shim_torch.py" "$threads" 30)
  c+=("$cs"); py+=("$ps"); cop+=("$co"); pyop+=("$po")
  echo "round $r: C ${cs} ms/step, PyTorch ${ps} ms/step; per-op C ${co} us, PyTorch ${po} us"
done
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mc=$(med "${c[@]}"); mp=$(med "${py[@]}"); oc=$(med "${cop[@]}"); op=$(med "${pyop[@]}")
awk -v mc="$mc" -v mp="$mp" -v oc="$oc" -v op="$op" -v th="$threads" 'BEGIN {
  printf "threads %d: median step C %.3f ms, PyTorch %.3f ms, ratio C/PyTorch %.3f\n", th, mc, mp, mc / mp;
  printf "per-op (add of 1-element tensors): C shim %.3f us, PyTorch eager %.3f us, ratio %.3f\n", oc, op, oc / op }'
