#!/usr/bin/env bash
# run_distill_eval.sh CORPUS OUT SEED... - the evaluation protocol of dataset
# distillation (configs/distill-eval-fmnist.yaml) on CORPUS, once per seed
# (a freshly initialised ConvNet-3 each time), then the test accuracy of
# every run and their mean ± sd (sample sd over the seeds).
# Batch: the whole set when it has at most 256 images, else the largest
# batch <= 256 that divides it; steps: EPOCHS (1000) x batches per epoch.
# Environment: SHRINK (default build/cli/shrink), TEST (the Fashion-MNIST
# test corpus; made from /usr/share/datasets/fashion-mnist when missing,
# default data/fmnist-test.h5), EPOCHS (1000), RANKS (1: mpirun -np RANKS
# when > 1), EXTRA (more --set arguments, e.g. a reduced run for a test).
# Each run writes OUT/seed-S/ (summary.json, metrics.jsonl, train.log).
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: run_distill_eval.sh CORPUS OUT SEED..." >&2; exit 2; }
CORPUS=$1; OUT=$2; shift 2
HERE=$(cd "$(dirname "$0")/.." && pwd)
S=${SHRINK:-$HERE/build/cli/shrink}; TEST=${TEST:-data/fmnist-test.h5}; EPOCHS=${EPOCHS:-1000}; RANKS=${RANKS:-1}
FM=/usr/share/datasets/fashion-mnist
. "$(dirname "$0")/../scripts/mpi_env.sh"
[ -f "$CORPUS" ] || { echo "run_distill_eval.sh: $CORPUS: no such corpus" >&2; exit 1; }
if [ ! -f "$TEST" ]; then
  mkdir -p "$(dirname "$TEST")"
  "$S" prepare --set prepare.format=idx --set prepare.input=$FM/t10k-images-idx3-ubyte.gz \
    --set prepare.labels=$FM/t10k-labels-idx1-ubyte.gz --set prepare.output="$TEST" > /dev/null
fi
N=$("$S" inspect "$CORPUS" | awk '$1 == "samples" && $2 ~ /^[0-9]+$/ {print $2; exit}')
[ -n "$N" ] && [ "$N" -gt 0 ] || { echo "run_distill_eval.sh: $CORPUS: cannot read its sample count" >&2; exit 1; }
B=$N
if [ "$N" -gt 256 ]; then B=256; while [ $((N % B)) -ne 0 ]; do B=$((B - 1)); done; fi
B=$((B / RANKS * RANKS)); [ "$B" -gt 0 ] || B=$RANKS
STEPS=$((EPOCHS * (N / B)))
LAUNCH=(); [ "$RANKS" -gt 1 ] && LAUNCH=(mpirun -np "$RANKS")
mkdir -p "$OUT"
echo "$CORPUS: $N images, batch $B, $STEPS steps ($EPOCHS epochs), $RANKS rank(s)" >&2
for seed in "$@"; do
  r=$OUT/seed-$seed
  [ -f "$r/summary.json" ] && continue
  rm -rf "$r"; mkdir -p "$r"
  # shellcheck disable=SC2086
  if ! "${LAUNCH[@]}" "$S" train --config "$HERE/configs/distill-eval-fmnist.yaml" --set data.train="$CORPUS" \
      --set data.eval="$TEST" --set data.batch_size=$B --set train.steps=$STEPS --set run.seed="$seed" \
      --set run.out_dir="$r" --set run.overwrite=true ${EXTRA:-} > "$r.log" 2>&1; then
    echo "run_distill_eval.sh: seed $seed failed, see $r.log:" >&2; tail -3 "$r.log" >&2; exit 1
  fi
done
/usr/bin/python3 - "$OUT" "$@" <<'PY'
import json, statistics as st, sys
out, seeds = sys.argv[1], sys.argv[2:]
acc = []
for s in seeds:
    j = json.load(open(f"{out}/seed-{s}/summary.json"))
    acc.append(100 * j["eval_acc"])
    print(f"seed {s}: test accuracy {acc[-1]:.2f}%  ({j['steps']} steps, {j['seconds']:.0f} s)")
sd = st.stdev(acc) if len(acc) > 1 else 0.0
print(f"test accuracy over {len(acc)} runs: {st.mean(acc):.2f} ± {sd:.2f}")
PY
