#!/usr/bin/env bash
# run_coreset_fmnist.sh BUILD OUT KEEP STEPS SEED...
# A reduced-budget coreset comparison on Fashion-MNIST (docs/RESULTS.md):
# a small ConvNet proxy, then subsets of the training set at fraction KEEP
# by random, el2n, kcenter and herding, each trained for STEPS steps with
# the same ConvNet config and seed as the full-data row; test accuracy on
# the 10 000 test images. Prints a table (mean and sd over seeds).
set -euo pipefail
B=$1; OUT=$2; KEEP=${3:-0.1}; STEPS=${4:-400}; shift 4 || true
SEEDS=${*:-1 2 3}
S=$B/cli/shrink; FM=/usr/share/datasets/fashion-mnist
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mkdir -p "$OUT"
[ -f "$OUT/train.h5" ] || $S prepare --set prepare.format=idx --set prepare.input=$FM/train-images-idx3-ubyte.gz \
  --set prepare.labels=$FM/train-labels-idx1-ubyte.gz --set prepare.output="$OUT/train.h5"
[ -f "$OUT/test.h5" ] || $S prepare --set prepare.format=idx --set prepare.input=$FM/t10k-images-idx3-ubyte.gz \
  --set prepare.labels=$FM/t10k-labels-idx1-ubyte.gz --set prepare.output="$OUT/test.h5"
NET="--config configs/fmnist-convnet.yaml --set data.eval=$OUT/test.h5 --set model.width=32 --set train.eval_every=0 --set train.ckpt_every=0 --set run.overwrite=true"
# the proxy: 300 steps of the same small ConvNet on the full set
[ -f "$OUT/proxy/model.safetensors" ] || mpirun -np 2 $S train $NET --set data.train=$OUT/train.h5 --set train.steps=300 \
  --set train.warmup=30 --set run.seed=100 --set run.out_dir=$OUT/proxy > "$OUT/proxy.log" 2>&1
for m in random el2n kcenter herding; do
  for seed in $SEEDS; do
    sub="$OUT/$m-$KEEP-s$seed.h5"
    [ -f "$sub" ] || { t0=$(date +%s.%N); mpirun -np 2 $S condense --set condense.method=$m --set condense.input=$OUT/train.h5 \
      --set condense.output="$sub" --set condense.keep=$KEEP --set condense.proxy=$OUT/proxy/model.safetensors \
      --set run.seed=$seed >> "$OUT/condense.log" 2>&1; echo "$m $seed $(echo "$(date +%s.%N) - $t0" | bc)" >> "$OUT/condense-times.txt"; }
    # deterministic methods give one subset; the seed then varies only the training
    [ $m = random ] || { [ "$seed" = "$(echo $SEEDS | cut -d' ' -f1)" ] || { rm -f "$sub"; ln -s "$m-$KEEP-s$(echo $SEEDS | cut -d' ' -f1).h5" "$sub"; }; }
  done
done
for seed in $SEEDS; do
  for m in full random el2n kcenter herding; do
    d=$OUT/train.h5; [ $m = full ] || d="$OUT/$m-$KEEP-s$seed.h5"
    r=$OUT/run-$m-$KEEP-s$seed
    [ -f "$r/summary.json" ] || mpirun -np 2 $S train $NET --set data.train=$d --set train.steps=$STEPS --set train.warmup=40 \
      --set run.seed=$seed --set run.out_dir=$r > "$r.log" 2>&1
  done
done
/usr/bin/python3 - "$OUT" "$KEEP" $SEEDS <<'PY'
import json, statistics as st, sys
out, keep, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
print(f"| data | accuracy (mean ± sd over {len(seeds)} seeds) | loop time per run (s) |\n|---|---|---|")
for m in ("full", "random", "el2n", "kcenter", "herding"):
    s = [json.load(open(f"{out}/run-{m}-{keep}-s{x}/summary.json")) for x in seeds]
    a = [100 * x["eval_acc"] for x in s]
    print(f"| {m if m == 'full' else m + ' ' + keep} | {st.mean(a):.2f} ± {st.stdev(a) if len(a) > 1 else 0:.2f} | {st.mean(x['seconds'] for x in s):.0f} |")
PY
