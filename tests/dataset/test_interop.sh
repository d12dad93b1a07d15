#!/bin/sh
# test_interop.sh TOOL PLUGIN_DIR SRC_DIR WORK_DIR
# shrink corpora <-> h5py (Debian python3-h5py) and h5dump through the
# libH5Zzstd.so plugin (filter 32015). Exits 77 (skip) without h5py/h5dump.
set -eu
TOOL=$1; PLUG=$2; SRC=$3; WORK=$4
PY=/usr/bin/python3
$PY -c "import h5py, numpy" 2>/dev/null || { echo "skip: no h5py"; exit 77; }
command -v h5dump >/dev/null || { echo "skip: no h5dump"; exit 77; }
[ -f "$PLUG/libH5Zzstd.so" ] || { echo "plugin missing: $PLUG/libH5Zzstd.so"; exit 1; }
rm -rf "$WORK"; mkdir -p "$WORK"
export HDF5_PLUGIN_PATH="$PLUG"
N=100000

# 1. shrink writes, h5py reads through the plugin
"$TOOL" tokens "$WORK/ours.h5" $N 7
$PY "$SRC/interop_h5py.py" read "$WORK/ours.h5" $N

# 2. h5py writes with compression=32015, compression_opts=(5,), shrink reads
$PY "$SRC/interop_h5py.py" write "$WORK/theirs.h5" $N
"$TOOL" inspect "$WORK/theirs.h5" --verify | tee "$WORK/inspect.txt"
grep -q "zstd(5)" "$WORK/inspect.txt"
"$TOOL" digest "$WORK/ours.h5" | grep -E "^(tokens|offsets)" > "$WORK/d1"
"$TOOL" digest "$WORK/theirs.h5" | grep -E "^(tokens|offsets)" > "$WORK/d2"
cmp "$WORK/d1" "$WORK/d2"

# 3. h5dump reads our compressed data through the plugin
h5dump -d /tokens -s 0 -c 6 "$WORK/ours.h5" > "$WORK/dump.txt"
grep -q "0, 7, 14, 21, 28, 35" "$WORK/dump.txt"
h5dump -p -H -d /tokens "$WORK/ours.h5" | grep -q "32015"

# 4. a prepared text corpus (byte shuffle + zstd) read by h5py
"$TOOL" prepare format=text input=/usr/share/games/fortunes/computers output="$WORK/fort.h5"
ND=$("$TOOL" digest "$WORK/fort.h5" | sed -n 's/.* docs=\([0-9]*\) .*/\1/p')
$PY "$SRC/interop_h5py.py" read-text "$WORK/fort.h5" "$ND" /usr/share/games/fortunes/computers

# 5. without the plugin, h5dump cannot decode: the plugin really did the work
if HDF5_PLUGIN_PATH=/nonexistent h5dump -d /tokens -s 0 -c 6 "$WORK/ours.h5" 2>/dev/null | grep -q "0, 7, 14, 21, 28, 35"; then
  echo "h5dump decoded without the plugin?"; exit 1
fi
echo "interop OK"
