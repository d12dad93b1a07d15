#!/usr/bin/env bash
# run_bench_infobatch.sh CORPUS_DIR ROUNDS STEPS BUILD [BUILD...] - the
# per-step cost of data.prune=infobatch in `shrink train` (docs/BENCHMARKS.md,
# "InfoBatch"): the Fashion-MNIST ConvNet-3 (width 32, batch 128, 2 ranks x 1
# thread) trained STEPS steps on the full training set without pruning and
# with data.prune=infobatch, as whole short runs alternated round by round
# (the order within a round flips every round; with several BUILDs each
# round runs every build's pair), so machine load hits both sides alike.
# STEPS stays inside epoch 0 (468 steps), which InfoBatch trains in full
# (every score starts equal): both sides do the same optimizer steps on the
# same number of samples, and any difference is InfoBatch's machinery (the
# externally ordered loader, the weighted loss, recording and gathering the
# per-sample losses). Per run: median step_time (wall, rank 0) and median
# cpu_time (process CPU of the step, summed over both ranks) from
# metrics.jsonl, skipping the first 5 steps. Prints per-round lines and,
# per build, the median, min and max over rounds of the ratios
# infobatch / full.
# CORPUS_DIR: where train.h5 and test.h5 are (made with `shrink prepare`
# from /usr/share/datasets/fashion-mnist if missing).
set -euo pipefail
dir=$1; rounds=$2; steps=$3; shift 3
builds=("$@")
. "$(dirname "$0")/../scripts/mpi_env.sh"
export OMP_NUM_THREADS=1
here=$(cd "$(dirname "$0")" && pwd)
FM=/usr/share/datasets/fashion-mnist
mkdir -p "$dir"
for s in train:train t10k:test; do
  [ -f "$dir/${s#*:}.h5" ] || "${builds[0]}/cli/shrink" prepare --set prepare.format=idx \
    --set prepare.input=$FM/${s%%:*}-images-idx3-ubyte.gz --set prepare.labels=$FM/${s%%:*}-labels-idx1-ubyte.gz \
    --set prepare.output="$dir/${s#*:}.h5" > /dev/null
done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# median of a metrics.jsonl field over the step records after the first 5
med() { /usr/bin/python3 -c 'import json, statistics, sys
r = [json.loads(l) for l in open(sys.argv[1]) if "\"step_time\"" in l][5:]
v = [x[sys.argv[2]] for x in r if x.get(sys.argv[2]) is not None]
print("%.5f" % statistics.median(v) if v else "nan")' "$1" "$2"; }
one() { # one BUILD_INDEX MODE: train, print "wall cpu"
  local b=${builds[$1]} out=$tmp/r$1-$2 extra=()
  [ "$2" = infobatch ] && extra=(--set data.prune=infobatch)
  mpirun -np 2 "$b/cli/shrink" train --config "$here/../configs/fmnist-convnet.yaml" --set data.train="$dir/train.h5" \
    --set data.eval="$dir/test.h5" --set model.width=32 --set train.steps="$steps" --set train.warmup=5 \
    --set train.eval_every=0 --set train.eval_batches=1 --set train.ckpt_every=0 --set run.threads=1 \
    --set run.overwrite=true --set run.out_dir="$out" "${extra[@]}" > "$out.log" 2>&1 ||
    { echo "run failed: $out.log" >&2; tail -5 "$out.log" >&2; exit 1; }
  echo "$(med "$out/metrics.jsonl" step_time) $(med "$out/metrics.jsonl" cpu_time)"
}
# a / b, or nan when either is missing (a build from before cpu_time was recorded)
ratio() { case "$1$2" in *nan*) echo nan ;; *) awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }' ;; esac; }
declare -A wr cr
for r in $(seq "$rounds"); do
  for i in "${!builds[@]}"; do
    if [ $((r % 2)) = 1 ]; then f=$(one "$i" full); g=$(one "$i" infobatch)
    else g=$(one "$i" infobatch); f=$(one "$i" full); fi
    read -r fw fc <<< "$f"; read -r gw gc <<< "$g"
    w=$(ratio "$gw" "$fw"); c=$(ratio "$gc" "$fc")
    wr[$i]+="$w "; [ "$c" = nan ] || cr[$i]+="$c "
    echo "round $r build ${builds[$i]}: step wall full $fw s, infobatch $gw s (ratio $w); step cpu full $fc s, infobatch $gc s (ratio $c); load $(cut -d' ' -f1 /proc/loadavg)"
  done
done
for i in "${!builds[@]}"; do
  for k in wall cpu; do
    if [ $k = wall ]; then v=${wr[$i]:-}; else v=${cr[$i]:-}; fi
    [ -n "$v" ] || continue
    echo "$v" | tr ' ' '\n' | grep . | sort -g | awk -v b="${builds[$i]}" -v k=$k '{ a[NR] = $1 }
      END { printf "%s: %s time per step infobatch / full: median %.3f (min %.3f, max %.3f, %d rounds)\n", b, k, a[int((NR + 1) / 2)], a[1], a[NR], NR }'
  done
done
