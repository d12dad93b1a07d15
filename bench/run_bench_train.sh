#!/usr/bin/env bash
# run_bench_train.sh BUILD_DIR [rounds] [steps] - the trainer benchmark:
#  1. the same ViT / GPT, same batch and data, trained by the shrink trainer
#     (bench_train: sk_train_run, the loop behind `shrink train`) and by
#     PyTorch eager (bench_train_torch.py), 1 rank x 1 thread, alternated
#     round by round in one run so machine noise hits both alike;
#  2. the shrink trainer on 1 rank x 2 threads vs 2 ranks x 1 thread (mpirun),
#     same global batch.
# Prints per-round lines and the medians with ratios.
set -euo pipefail
build=${1:-build}; rounds=${2:-3}; steps=${3:-30}
here=$(cd "$(dirname "$0")" && pwd)
. "$(dirname "$0")/../scripts/mpi_env.sh"
export OMP_NUM_THREADS=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for m in vit gpt; do
  c=(); p=(); r1=(); r2=()
  for r in $(seq "$rounds"); do
    cs=$("$build/bench/bench_train" $m "$steps" 1 "$tmp/c$m$r" | awk '{print $6}')
    ps=$(/usr/bin/python3 "$here/bench_train_torch.py" $m "$steps" 1 | awk '{print $6}')
    a=$("$build/bench/bench_train" $m "$steps" 2 "$tmp/a$m$r" | awk '{print $8}')
    b=$(mpirun --oversubscribe -np 2 "$build/bench/bench_train" $m "$steps" 1 "$tmp/b$m$r" | awk '{print $8}')
    c+=("$cs"); p+=("$ps"); r1+=("$a"); r2+=("$b")
    echo "$m round $r: shrink ${cs} ms/step, PyTorch ${ps} ms/step (1 thread); shrink 1 rank x 2 threads ${a} samples/s, 2 ranks x 1 thread ${b} samples/s"
  done
  awk -v m=$m -v c="$(med "${c[@]}")" -v p="$(med "${p[@]}")" -v a="$(med "${r1[@]}")" -v b="$(med "${r2[@]}")" 'BEGIN {
    printf "%s median: shrink %.2f ms/step, PyTorch eager %.2f ms/step, speed ratio shrink/PyTorch %.3f\n", m, c, p, p / c;
    printf "%s median: 1 rank x 2 threads %.1f samples/s, 2 ranks x 1 thread %.1f samples/s, ratio %.3f\n", m, a, b, b / a }'
done
