#!/usr/bin/env bash
# run_distill_fmnist.sh OUT [iterations] [epochs] [seeds] [batch_real] - a reduced CPU run of
# dataset distillation on Fashion-MNIST: METHOD (dm: configs/condense-dm.yaml's settings,
# dc: configs/condense-dc.yaml's; ConvNet-3) at IPCS images per class, once for each
# iteration count in ITERATIONS (a quoted list, e.g. "0 50 100 200 400"; 0 is the method's
# real init draw: a random class-balanced subset of the same size, the baseline), each
# evaluated by the distillation protocol (bench/run_distill_eval.sh,
# configs/distill-eval-fmnist.yaml) for EPOCHS epochs over SEEDS seeds (1..SEEDS).
# Every draw of a run is a function of (seed, iteration, class) (condense/sk_distill.h),
# so the run of N iterations is exactly the first N iterations of any longer run: each
# count (ITERATIONS ascending) continues the previous count's output from its state file
# (condense.snapshot_every writes one, condense.resume_from reads it), so the counts cost
# the largest one, not their sum, and each output is what a run of its count writes, bit
# for bit. Prints each distillation's wall time (of its increment, when it continued one)
# and the accuracies; OUT/<tag>-ipcI-itN.h5 (+ .state.safetensors) and
# OUT/eval-<tag>-ipcI-itN/ stay; an existing output is reused.
# Environment: SHRINK (default build/cli/shrink), METHOD (dm | dc, default dm), IPCS
# (default "1 10"), RANKS (distillation ranks, default 2), DSA (condense.dsa, default
# true), WIDTH (the ConvNet width of distillation and evaluation, default 128 as the
# papers), CEXTRA (more --set arguments for condense, e.g. dc's loops).
# <tag> is METHOD, with -dsa when DSA is true.
set -euo pipefail
OUT=${1:?usage: run_distill_fmnist.sh OUT [iterations] [epochs] [seeds] [batch_real]}
ITERS=${2:-0 200}; EPOCHS=${3:-100}; SEEDS=${4:-5}; BR=${5:-256}
HERE=$(cd "$(dirname "$0")/.." && pwd)
S=${SHRINK:-$HERE/build/cli/shrink}; RANKS=${RANKS:-2}; DSA=${DSA:-true}; WIDTH=${WIDTH:-128}
METHOD=${METHOD:-dm}; IPCS=${IPCS:-1 10}
TAG=$METHOD; [ "$DSA" = true ] && TAG=$METHOD-dsa
FM=/usr/share/datasets/fashion-mnist
. "$(dirname "$0")/../scripts/mpi_env.sh"
mkdir -p "$OUT"
[ -f "$OUT/fmnist-train.h5" ] || "$S" prepare --set prepare.format=idx --set prepare.input=$FM/train-images-idx3-ubyte.gz \
  --set prepare.labels=$FM/train-labels-idx1-ubyte.gz --set prepare.output="$OUT/fmnist-train.h5" > /dev/null
[ -f "$OUT/fmnist-test.h5" ] || "$S" prepare --set prepare.format=idx --set prepare.input=$FM/t10k-images-idx3-ubyte.gz \
  --set prepare.labels=$FM/t10k-labels-idx1-ubyte.gz --set prepare.output="$OUT/fmnist-test.h5" > /dev/null
for ipc in $IPCS; do
  prev=
  for it in $ITERS; do
    c=$OUT/$TAG-ipc$ipc-it$it.h5
    if [ ! -f "$c" ]; then
      more=()
      [ "$it" -gt 0 ] && more+=(--set condense.snapshot_every="$it")  # no snapshots: the output's state file
      [ -n "$prev" ] && [ -f "${prev%.h5}.state.safetensors" ] && more+=(--set condense.resume_from="$prev")
      # shellcheck disable=SC2086
      mpirun -np "$RANKS" "$S" condense --config "$HERE/configs/condense-$METHOD.yaml" --set condense.input="$OUT/fmnist-train.h5" \
        --set condense.output="$c" --set condense.ipc=$ipc --set condense.iterations=$it --set condense.batch_real=$BR \
        --set condense.dsa=$DSA --set model.width=$WIDTH --set run.threads=1 "${more[@]}" ${CEXTRA:-} 2>/dev/null | tee "$c.log"
    fi
    [ "$it" -gt 0 ] && prev=$c
    echo "== $METHOD ipc $ipc, $it iterations (dsa $DSA, batch_real $BR, $RANKS ranks${CEXTRA:+, $CEXTRA}): $(cat "$c.log")"
    SHRINK=$S TEST=$OUT/fmnist-test.h5 EPOCHS=$EPOCHS EXTRA="--set model.width=$WIDTH --set run.threads=1" \
      "$HERE/bench/run_distill_eval.sh" "$c" "$OUT/eval-$TAG-ipc$ipc-it$it" \
      $(seq "$SEEDS") | tail -1
  done
done
