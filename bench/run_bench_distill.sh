#!/usr/bin/env bash
# run_bench_distill.sh BUILD_DIR [rounds] [iterations] [ipc] [batch_real] [width] - dataset
# distillation (dm) iterations per second on CPU, side by side in one run:
#  shrink condense (condense.method=dm, ConvNet-3, 1 thread per rank) at 1
#  and 2 ranks, and the same DM update in PyTorch eager (bench_distill_torch.py,
#  1 thread), alternated round by round so machine noise hits all alike.
# shrink's time per iteration is (method time at N iterations - method time
# at 0 iterations) / N: reading the corpus and the init are left out, as the
# PyTorch script leaves them out. Prints per-round lines and medians.
set -euo pipefail
build=${1:-build}; rounds=${2:-3}; iters=${3:-4}; ipc=${4:-10}; br=${5:-256}; width=${6:-128}
here=$(cd "$(dirname "$0")" && pwd)
. "$(dirname "$0")/../scripts/mpi_env.sh"
export OMP_NUM_THREADS=1
export HDF5_PLUGIN_PATH=${HDF5_PLUGIN_PATH:-$build/dataset/plugin}
FM=/usr/share/datasets/fashion-mnist
S=$build/cli/shrink
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$S" prepare --set prepare.format=idx --set prepare.input=$FM/train-images-idx3-ubyte.gz \
  --set prepare.labels=$FM/train-labels-idx1-ubyte.gz --set prepare.output="$tmp/fm.h5" >/dev/null 2>&1
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
dm() { # ranks iterations -> method seconds
  local np=$1 n=$2 pre=()
  [ "$np" -gt 1 ] && pre=(mpirun --oversubscribe -np "$np")
  "${pre[@]}" "$S" condense --set condense.method=dm --set condense.input="$tmp/fm.h5" \
    --set condense.output="$tmp/dm.h5" --set condense.overwrite=true --set condense.ipc="$ipc" \
    --set condense.iterations="$n" --set condense.batch_real="$br" --set model.arch=convnet \
    --set model.width="$width" --set model.depth=3 --set run.threads=1 2>/dev/null |
    sed -n 's/.*(method \([0-9.]*\) s).*/\1/p'
}
p=(); s1=(); s2=()
for r in $(seq "$rounds"); do
  a0=$(dm 1 0); a=$(dm 1 "$iters")
  t=$(/usr/bin/python3 "$here/bench_distill_torch.py" $FM/train-images-idx3-ubyte.gz $FM/train-labels-idx1-ubyte.gz \
      "$iters" "$ipc" "$br" "$width" | awk '{print $6}')
  b0=$(dm 2 0); b=$(dm 2 "$iters")
  x=$(awk -v a="$a" -v z="$a0" -v n="$iters" 'BEGIN {printf "%.4f", (a - z) / n}')
  y=$(awk -v a="$b" -v z="$b0" -v n="$iters" 'BEGIN {printf "%.4f", (a - z) / n}')
  s1+=("$x"); s2+=("$y"); p+=("$t")
  echo "round $r: shrink 1 rank $x s/it, shrink 2 ranks $y s/it, PyTorch eager $t s/it"
done
awk -v a="$(med "${s1[@]}")" -v b="$(med "${s2[@]}")" -v t="$(med "${p[@]}")" \
    -v amin="$(printf '%s\n' "${s1[@]}" | sort -g | head -1)" -v amax="$(printf '%s\n' "${s1[@]}" | sort -g | tail -1)" \
    -v bmin="$(printf '%s\n' "${s2[@]}" | sort -g | head -1)" -v bmax="$(printf '%s\n' "${s2[@]}" | sort -g | tail -1)" \
    -v tmin="$(printf '%s\n' "${p[@]}" | sort -g | head -1)" -v tmax="$(printf '%s\n' "${p[@]}" | sort -g | tail -1)" 'BEGIN {
  printf "median s/iteration: shrink 1 rank %.4f (%.4f..%.4f), shrink 2 ranks %.4f (%.4f..%.4f), PyTorch eager %.4f (%.4f..%.4f)\n", a, amin, amax, b, bmin, bmax, t, tmin, tmax;
  printf "iterations/s: shrink 1 rank %.3f, 2 ranks %.3f, PyTorch %.3f; shrink 1 rank / PyTorch speed %.3f, 2 ranks / 1 rank %.3f\n", 1/a, 1/b, 1/t, t/a, a/b }'
