#!/usr/bin/env bash
# run_condense_scaling.sh BUILD OUT [REPEATS] [METHOD]
# Scoring throughput of a score-based condense method (default el2n) on
# Fashion-MNIST's 60 000 training images and its 1 -> 2 -> 3-rank scaling
# (issue 12 item 7). A small ConvNet proxy (300 steps of
# configs/fmnist-convnet.yaml at width 32, as bench/run_coreset_fmnist.sh)
# scores every image; the time is the method's own (`method X s` in the
# condense line: proxy forwards plus the distributed top-k), not the
# start-up or the write. One intra-op thread per rank (run.threads=1), so
# P ranks use P cores. The rank counts run in alternating order across
# repeats (1 2 3, then 3 2 1, ...) so drift in the machine's load does not
# favour one. Prints median and min..max over repeats of samples/s in total
# and per rank, and the speedup over one rank (from the medians), from the
# wall time; and samples per CPU second per rank (/usr/bin/time's user +
# sys of each rank's whole process, start-up and write included), which
# does not depend on the share of a core a loaded machine gives each rank.
set -euo pipefail
B=$1; OUT=$2; REPEATS=${3:-3}; METHOD=${4:-el2n}
S=$B/cli/shrink; FM=/usr/share/datasets/fashion-mnist
. "$(dirname "$0")/../scripts/mpi_env.sh"
mkdir -p "$OUT"
[ -f "$OUT/train.h5" ] || $S prepare --set prepare.format=idx --set prepare.input=$FM/train-images-idx3-ubyte.gz \
  --set prepare.labels=$FM/train-labels-idx1-ubyte.gz --set prepare.output="$OUT/train.h5" > /dev/null
[ -f "$OUT/proxy/model.safetensors" ] || mpirun -np 2 $S train --config configs/fmnist-convnet.yaml \
  --set data.train=$OUT/train.h5 --set data.eval= --set model.width=32 --set train.eval_every=0 --set train.ckpt_every=0 \
  --set train.steps=300 --set train.warmup=30 --set run.seed=100 --set run.out_dir=$OUT/proxy \
  --set run.overwrite=true > "$OUT/proxy.log" 2>&1
: > "$OUT/scaling.txt"
for rep in $(seq 1 "$REPEATS"); do
  order="1 2 3"; [ $((rep % 2)) = 0 ] && order="3 2 1"
  for np in $order; do
    rm -f "$OUT"/cpu.*
    line=$(mpirun -np $np sh -c "exec /usr/bin/time -f '%U %S' -o $OUT/cpu.\$OMPI_COMM_WORLD_RANK $S condense \
      --set condense.method=$METHOD --set condense.input=$OUT/train.h5 \
      --set condense.output=$OUT/sub.h5 --set condense.overwrite=true --set condense.keep=0.3 \
      --set condense.proxy=$OUT/proxy/model.safetensors --set run.threads=1 --set run.seed=1" 2>&1 | grep "condense: kept")
    cpu=$(cat "$OUT"/cpu.* | awk '{ s += $1 + $2 } END { printf "%.2f", s }')
    echo "$np cpu $cpu $line" | tee -a "$OUT/scaling.txt"
  done
done
rm -f "$OUT/sub.h5" "$OUT"/cpu.*
/usr/bin/python3 - "$OUT/scaling.txt" "$METHOD" <<'PY'
import re, statistics as st, sys
runs, cpus = {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    np, cpu = int(f[0]), float(f[2])
    rows = int(re.search(r"of (\d+) rows", line).group(1))
    sec = float(re.search(r"method ([0-9.]+) s", line).group(1))
    runs.setdefault(np, []).append(rows / sec)
    cpus.setdefault(np, []).append(rows / cpu)  # samples per CPU second of all ranks = per rank-core
print(f"| ranks | {sys.argv[2]} samples/s, total (median, min..max) | per rank | speedup vs 1 rank | samples per CPU second per rank |")
print("|---|---|---|---|---|")
base = st.median(runs[1])
for np in sorted(runs):
    r, c = runs[np], cpus[np]
    m = st.median(r)
    print(f"| {np} | {m:,.0f} ({min(r):,.0f}..{max(r):,.0f}) | {m / np:,.0f} ({min(r) / np:,.0f}..{max(r) / np:,.0f}) "
          f"| {m / base:.2f}x | {st.median(c):,.0f} ({min(c):,.0f}..{max(c):,.0f}) |")
print(f"({len(runs[1])} repeats each)")
PY
