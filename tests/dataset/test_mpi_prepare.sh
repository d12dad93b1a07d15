#!/bin/sh
# test_mpi_prepare.sh TOOL WORK_DIR
# `prepare` under mpirun -np 2 (parallel HDF5, collective filtered writes)
# gives the same corpus (decoded data and attributes) as a 1-rank run.
set -eu
TOOL=$1; WORK=$2
rm -rf "$WORK"; mkdir -p "$WORK"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
FM=/usr/share/datasets/fashion-mnist
TXT=/usr/share/games/fortunes/computers
for np in 1 2 3; do
  mpirun --oversubscribe -np $np "$TOOL" prepare format=idx input=$FM/t10k-images-idx3-ubyte.gz \
    labels=$FM/t10k-labels-idx1-ubyte.gz output="$WORK/fm$np.h5" chunk_kib=256 level=3
  mpirun --oversubscribe -np $np "$TOOL" prepare format=text input=$TXT output="$WORK/txt$np.h5" chunk_kib=16
  "$TOOL" digest "$WORK/fm$np.h5" > "$WORK/fm$np.digest"
  "$TOOL" digest "$WORK/txt$np.h5" > "$WORK/txt$np.digest"
  "$TOOL" inspect "$WORK/fm$np.h5" --verify > /dev/null
  "$TOOL" inspect "$WORK/txt$np.h5" --verify > /dev/null
done
cat "$WORK/fm1.digest" "$WORK/txt1.digest"
for np in 2 3; do
  cmp "$WORK/fm1.digest" "$WORK/fm$np.digest"
  cmp "$WORK/txt1.digest" "$WORK/txt$np.digest"
done
# the 2-rank text corpus spans many chunks, so both ranks really wrote
"$TOOL" inspect "$WORK/txt2.h5" | grep -q "chunk 8192"
# a failing parallel prepare leaves nothing behind
if mpirun --oversubscribe -np 2 "$TOOL" prepare format=text input=$TXT output="$WORK/no/such/dir/x.h5" 2>/dev/null; then
  echo "expected failure"; exit 1
fi
ls "$WORK" | grep -q tmp && { echo "temporary left behind"; exit 1; }
echo "mpi prepare OK"
