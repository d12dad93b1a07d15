#!/usr/bin/env bash
# run_bench_dc.sh SHRINK_A SHRINK_B [rounds] [inner] - dc's time per inner
# training step (condense.method=dc, ipc 10, DSA, ConvNet-3 width 128,
# 1 thread per rank) of two shrink binaries at 1 and 2 ranks, alternated
# A, B round by round so machine noise hits both alike. One dc iteration
# of 3 outer loops runs with condense.inner_loop = inner and = 0; the
# difference over the 2 * inner steps between them is a step's time.
# Each binary's libshrink is found through LD_LIBRARY_PATH=its folder.
# Prints per-round lines and medians.
set -euo pipefail
A=$1; B=$2; rounds=${3:-2}; inner=${4:-40}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/mpi_env.sh"
export OMP_NUM_THREADS=1
FM=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$A" prepare --set prepare.format=idx --set prepare.input=$FM/train-images-idx3-ubyte.gz \
  --set prepare.labels=$FM/train-labels-idx1-ubyte.gz --set prepare.output="$tmp/fm.h5" >/dev/null 2>&1
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
dc() { # binary ranks inner -> method seconds
  local pre=()
  [ "$2" -gt 1 ] && pre=(mpirun --oversubscribe -np "$2")
  LD_LIBRARY_PATH=$(dirname "$1") "${pre[@]}" "$1" condense --config "$here/../configs/condense-dc.yaml" \
    --set condense.input="$tmp/fm.h5" --set condense.output="$tmp/dc.h5" --set condense.overwrite=true \
    --set condense.ipc=10 --set condense.iterations=1 --set condense.outer_loop=3 --set condense.inner_loop="$3" \
    --set condense.batch_real=64 --set condense.dsa=true --set model.width=128 --set run.threads=1 2>/dev/null |
    sed -n 's/.*(method \([0-9.]*\) s).*/\1/p'
}
step() { awk -v a="$1" -v z="$2" -v n="$inner" 'BEGIN {printf "%.4f", (a - z) / (2 * n)}'; }
declare -A z
dc "$A" 1 0 >/dev/null # warm the page cache
for b in A B; do for np in 1 2; do z[$b$np]=$(dc "${!b}" $np 0); done; done
a1=(); a2=(); b1=(); b2=()
for r in $(seq "$rounds"); do
  x1=$(step "$(dc "$A" 1 "$inner")" "${z[A1]}"); y1=$(step "$(dc "$B" 1 "$inner")" "${z[B1]}")
  y2=$(step "$(dc "$B" 2 "$inner")" "${z[B2]}"); x2=$(step "$(dc "$A" 2 "$inner")" "${z[A2]}")
  a1+=("$x1"); b1+=("$y1"); a2+=("$x2"); b2+=("$y2")
  echo "round $r: s per inner step: A 1 rank $x1, B 1 rank $y1, A 2 ranks $x2, B 2 ranks $y2"
done
echo "median s per inner step: A 1 rank $(med "${a1[@]}"), B 1 rank $(med "${b1[@]}"), A 2 ranks $(med "${a2[@]}"), B 2 ranks $(med "${b2[@]}")"
echo "outer-loop baselines (inner 0), s: A ${z[A1]} / ${z[A2]}, B ${z[B1]} / ${z[B2]} (1 / 2 ranks)"
