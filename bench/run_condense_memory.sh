#!/bin/bash
# run_condense_memory.sh SHRINK WORKDIR [BIG_MIB] [SMALL_MIB] [BASELINE_SHRINK]
#
# Peak memory of `shrink condense` against corpus size (issue 12 item 5),
# and end-to-end dedup time (item 7). Makes two byte-token corpora of
# fortune text (bench/gen_fortune_text.py, `shrink prepare`, uint16 tokens
# with the end-of-document token): BIG_MIB (default 1100: about 2.3 GB of
# decoded tokens) and SMALL_MIB (default 275, a quarter). Then runs
# exact-dedup, random (keep 0.5) and minhash at 1 and 2 ranks on each, one
# thread per rank, and prints a table: per-rank peak RSS (/usr/bin/time
# -v's "Maximum resident set size", the largest of the ranks), wall time,
# documents and tokens. The text files are removed once imported; the
# corpora stay in WORKDIR (delete it when done). Needs about 3 GB free.
# BASELINE_SHRINK: another build (e.g. one from before the streaming
# write) run the same way on both corpora, for exact-dedup and random, in
# the rows marked "baseline".
set -eu
SHRINK=$(readlink -f "$1")
W=$2
BIG=${3:-1100}
SMALL=${4:-275}
BASE=${5:+$(readlink -f "$5")}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$(dirname "$0")/../scripts/mpi_env.sh"
mkdir -p "$W"
for size in small big; do
  mib=$SMALL
  [ $size = big ] && mib=$BIG
  if [ ! -f "$W/$size.h5" ]; then
    /usr/bin/python3 "$HERE/gen_fortune_text.py" "$W/$size.txt" "$mib" 1
    mpirun -np 2 "$SHRINK" prepare --set prepare.format=text --set prepare.input="$W/$size.txt" \
      --set prepare.output="$W/$size.h5" > "$W/prepare_$size.log" 2>&1
    rm -f "$W/$size.txt"
  fi
  "$SHRINK" inspect "$W/$size.h5" | grep -E "^ *(kind|documents|tokens) "
done
df -h "$W" | tail -1

# The decoded datasets of a corpus, hashed a slice at a time (the 1- and
# 2-rank outputs must be the same corpus).
digest() {
  HDF5_PLUGIN_PATH=$(dirname "$SHRINK")/../dataset/plugin /usr/bin/python3 - "$1" <<'PY'
import hashlib, sys
import h5py
h = hashlib.sha256()
with h5py.File(sys.argv[1], "r") as f:
    for name in ("tokens", "offsets", "provenance/kept_indices", "provenance/cluster_ids", "provenance/scores"):
        if name in f:
            d = f[name]
            for a in range(0, d.shape[0], 1 << 26):
                h.update(d[a:a + (1 << 26)].tobytes())
print(h.hexdigest()[:16])
PY
}

printf "%-12s %3s %6s %10s %12s %14s %9s %8s %10s %s\n" method np corpus docs tokens decoded_bytes peak_MiB wall_s kept_docs build
runs="exact-dedup:$SHRINK random:$SHRINK minhash:$SHRINK"
[ -n "$BASE" ] && runs="$runs exact-dedup:$BASE random:$BASE"
for run in $runs; do
  method=${run%%:*}
  bin=${run#*:}
  label=this
  [ "$bin" = "$SHRINK" ] || label=baseline
  for size in small big; do
    for np in 1 2; do
      rm -f "$W"/rss.* "$W/out.h5"
      start=$(date +%s.%N)
      mpirun -np $np sh -c "exec /usr/bin/time -v -o $W/rss.\$OMPI_COMM_WORLD_RANK $bin condense \
        --set condense.method=$method --set condense.input=$W/$size.h5 --set condense.output=$W/out.h5 \
        --set condense.keep=0.5 --set run.threads=1 --set run.seed=1" > "$W/condense_${method}_${np}_${size}_$label.log" 2>&1
      end=$(date +%s.%N)
      peak=$(grep -h "Maximum resident" "$W"/rss.* | awk '{ if ($6 > m) m = $6 } END { printf "%.1f", m / 1024 }')
      docs=$("$SHRINK" inspect "$W/$size.h5" | awk '$1 == "documents" { print $2; exit }')
      toks=$("$SHRINK" inspect "$W/$size.h5" | awk '$1 == "tokens" { print $2; exit }')
      kd=$("$SHRINK" inspect "$W/out.h5" | awk '$1 == "documents" { print $2; exit }')
      printf "%-12s %3s %6s %10s %12s %14s %9s %8.1f %10s %s\n" $method $np $size "$docs" "$toks" $((toks * 2)) "$peak" \
        "$(echo "$end - $start" | bc)" "$kd" $label
      digest "$W/out.h5" > "$W/digest.$np"
    done
    cmp -s "$W/digest.1" "$W/digest.2" || echo "MISMATCH: $method $size: 1 and 2 ranks wrote different corpora"
    if [ $label = this ]; then cp "$W/digest.1" "$W/digest.$method.$size"
    else cmp -s "$W/digest.1" "$W/digest.$method.$size" || echo "MISMATCH: $method $size: the baseline wrote another corpus"; fi
  done
done
rm -f "$W/out.h5" "$W"/rss.* "$W"/digest.*
