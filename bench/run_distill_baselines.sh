#!/usr/bin/env bash
# run_distill_baselines.sh OUT [full_epochs] [epochs] [seeds] - the reference rows of the
# reduced distillation table (docs/RESULTS.md, issue 13), under the same evaluation as
# bench/run_distill_fmnist.sh (bench/run_distill_eval.sh, configs/distill-eval-fmnist.yaml):
#  - full: the whole 60 000-image training set, FULL_EPOCHS epochs (batch 250), seeds 1..SEEDS;
#  - random-ipcI: `shrink condense` method random, class_balance, keep = I / (smallest class),
#    which sk_pick_want rounds to exactly I rows of every class of Fashion-MNIST (6000 each);
#  - herding-ipcI: method herding on the embeddings of the full-data ConvNet of seed 1
#    (OUT/eval-full/seed-1/model.safetensors, the DC paper's herding on a trained ConvNet),
#    the same keep;
# each subset evaluated for EPOCHS epochs over seeds 1..SEEDS. Run it after
# run_distill_fmnist.sh on the same OUT (it reuses OUT/fmnist-train.h5, fmnist-test.h5).
# Environment: CLASS_SIZE (rows per class, default 6000), SHRINK, RANKS (condense ranks, default 2), WIDTH (default 128), IPCS (default
# "1 10"), STAGES (default "full random herding").
set -euo pipefail
OUT=${1:?usage: run_distill_baselines.sh OUT [full_epochs] [epochs] [seeds]}
FEP=${2:-2}; EPOCHS=${3:-100}; SEEDS=${4:-5}
HERE=$(cd "$(dirname "$0")/.." && pwd)
S=${SHRINK:-$HERE/build/cli/shrink}; RANKS=${RANKS:-2}; WIDTH=${WIDTH:-128}; IPCS=${IPCS:-1 10}
STAGES=${STAGES:-full random herding}
. "$(dirname "$0")/../scripts/mpi_env.sh"
TRAIN=$OUT/fmnist-train.h5
[ -f "$TRAIN" ] && [ -f "$OUT/fmnist-test.h5" ] || { echo "run_distill_baselines.sh: run run_distill_fmnist.sh on $OUT first" >&2; exit 1; }
ev() { SHRINK=$S TEST=$OUT/fmnist-test.h5 EPOCHS=$1 EXTRA="--set model.width=$WIDTH --set run.threads=1" \
  "$HERE/bench/run_distill_eval.sh" "$2" "$3" $(seq "$SEEDS") | tail -1; }
MIN=${CLASS_SIZE:-6000}   # Fashion-MNIST's rows per class (the output's size is checked below)
for st in $STAGES; do
  case $st in
    full) echo "== full training set, $FEP epochs"; ev "$FEP" "$TRAIN" "$OUT/eval-full" ;;
    random|herding)
      for ipc in $IPCS; do
        c=$OUT/$st-ipc$ipc.h5
        keep=$(awk -v i="$ipc" -v m="$MIN" 'BEGIN {printf "%.9g", i / m}')
        extra=(); [ "$st" = herding ] && extra=(--set condense.proxy="$OUT/eval-full/seed-1/model.safetensors")
        if [ ! -f "$c" ]; then
          mpirun -np "$RANKS" "$S" condense --set condense.method=$st --set condense.input="$TRAIN" \
            --set condense.output="$c" --set condense.keep="$keep" --set condense.class_balance=true \
            --set run.seed=0 --set run.threads=1 "${extra[@]}" 2>/dev/null | tee "$c.log"
        fi
        n=$("$S" inspect "$c" | awk '$1 == "samples" && $2 ~ /^[0-9]+$/ {print $2; exit}')
        [ "$n" = $((ipc * 10)) ] || { echo "run_distill_baselines.sh: $c has $n samples, not $((ipc * 10)) (set CLASS_SIZE)" >&2; exit 1; }
        echo "== $st ipc $ipc (keep $keep): $(cat "$c.log")"
        ev "$EPOCHS" "$c" "$OUT/eval-$st-ipc$ipc"
      done ;;
    *) echo "run_distill_baselines.sh: unknown stage $st" >&2; exit 2 ;;
  esac
done
