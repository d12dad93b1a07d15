#!/bin/sh
# test_fill_write.sh TOOL OUTDIR: a corpus written from arrays (mem) and
# pulled through sk_corpus_data.fill (fill: slice writes; fillall: every
# rank the whole corpus) at 1, 2 and 3 ranks, for tokens and samples, is
# the same file to h5py (datasets, attributes, chunks, filters, bytes
# stored: h5_same.py); every rank pulls each of its rows once, a window at
# a time (the tool checks); a bad token id pulled fails the write with a
# message and leaves no file. Run under ctest with HDF5_PLUGIN_PATH set.
set -u
TOOL=$1
OUT=$2
HERE=$(dirname "$0")
PY=/usr/bin/python3
"$PY" -c 'import h5py' 2>/dev/null || { echo "no h5py for $PY"; exit 77; }
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1
fail=0
for kind in tokens samples; do
  for np in 1 2 3; do
    for mode in mem fill fillall; do
      if ! mpirun --oversubscribe -np $np "$TOOL" fillwrite "$OUT/${kind}_${np}_$mode.h5" $kind $mode 3000 \
          > "$OUT/${kind}_${np}_$mode.log" 2>&1; then
        echo "FAIL: $kind np=$np $mode:"; cat "$OUT/${kind}_${np}_$mode.log"; fail=1
      fi
    done
  done
  # every file against the one-rank in-memory write
  if ! "$PY" "$HERE/h5_same.py" "$OUT/${kind}_1_mem.h5" "$OUT/${kind}_1_fill.h5" "$OUT/${kind}_1_fillall.h5" \
      "$OUT/${kind}_2_mem.h5" "$OUT/${kind}_2_fill.h5" "$OUT/${kind}_2_fillall.h5" \
      "$OUT/${kind}_3_mem.h5" "$OUT/${kind}_3_fill.h5" "$OUT/${kind}_3_fillall.h5"; then
    echo "FAIL: $kind: streamed and in-memory writes differ"; fail=1
  fi
done
# the checker itself tells different files apart
if "$PY" "$HERE/h5_same.py" "$OUT/tokens_1_mem.h5" "$OUT/samples_1_mem.h5" > /dev/null; then
  echo "FAIL: h5_same.py found a token and a sample corpus the same"; fail=1
fi
for np in 1 2; do
  if mpirun --oversubscribe -np $np "$TOOL" fillwrite "$OUT/bad.h5" tokens fillbad 3000 > "$OUT/bad.log" 2>&1; then
    echo "FAIL: np=$np: a pulled token id 1000 (vocab 1000) was written"; fail=1
  fi
  grep -q "bad.h5: token id 1000 at position 1234 is outside the vocabulary" "$OUT/bad.log" ||
    { echo "FAIL: np=$np: no message naming the bad id:"; cat "$OUT/bad.log"; fail=1; }
  if ls -a "$OUT" | grep -q 'bad.h5'; then echo "FAIL: np=$np: bad.h5 or its temporary left behind"; fail=1; fi
done
[ $fail = 0 ] && echo "fill write: streamed == in-memory at 1, 2, 3 ranks (tokens, samples)"
exit $fail
