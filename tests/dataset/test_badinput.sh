#!/bin/bash
# test_badinput.sh SHRINK WORK_DIR
# Bad input to `shrink prepare` and `shrink inspect`: every case asserts
# the exit code, that stderr names the file / key / value, and that nothing
# is left at the output name (no temporary either). The full-disk (a 1 MiB
# tmpfs; needs root to mount, skipped otherwise) and signal cases run under
# 1, 2 and 3 ranks. docs/RELIABILITY.md ("Prepare and inspect") cites these.
set -u
SHRINK=$1; WORK=$2
rm -rf "$WORK"; mkdir -p "$WORK"
. "$(dirname "$0")/../../scripts/mpi_env.sh"
export HDF5_PLUGIN_PATH=${HDF5_PLUGIN_PATH:-$(dirname "$SHRINK")/../dataset/plugin}   # h5py reads the corpora
FM=/usr/share/datasets/fashion-mnist
FAILS=0; CASES=0

fail() { echo "FAIL [$NAME]: $*"; FAILS=$((FAILS + 1)); }

# no_leftover OUT: nothing at OUT, no temporary of OUT beside it
no_leftover() {
  local out=$1 d b
  d=$(dirname "$out"); b=$(basename "$out")
  [ -e "$out" ] && fail "something was left at $out"
  ls -A "$d" 2>/dev/null | grep -q "^\.$b\.shrink-tmp-" && fail "a temporary of $out was left: $(ls -A "$d")"
  return 0
}

# run NAME RC MESSAGE OUT -- command...: exit code RC (any non-zero for "!0"),
# MESSAGE (a fixed string) on stderr, nothing at OUT ("-": no output)
run() {
  NAME=$1; local want=$2 msg=$3 out=$4; shift 5
  CASES=$((CASES + 1))
  "$@" > "$WORK/out.txt" 2> "$WORK/err.txt"
  local rc=$?
  LAST_RC=$rc
  if [ "$want" = "!0" ]; then [ $rc -ne 0 ] || fail "exit 0, expected an error"
  else [ $rc -eq "$want" ] || fail "exit $rc, expected $want"; fi
  grep -qF -- "$msg" "$WORK/err.txt" "$WORK/out.txt" || fail "no '$msg' in: $(head -c 600 "$WORK/err.txt")"
  grep -q "Segmentation\|signal 11\|core dumped" "$WORK/err.txt" && fail "crashed: $(head -c 600 "$WORK/err.txt")"
  [ "$out" = "-" ] || no_leftover "$out"
  echo "ok [$NAME] rc=$rc: $(grep -F -- "$msg" "$WORK/err.txt" "$WORK/out.txt" | head -1 | cut -c1-200)"
}

P() { "$SHRINK" prepare "$@"; }
T="$WORK/t.txt"; printf 'one\n%%\ntwo\n' > "$T"
O="$WORK/o.h5"

# ---- JSON Lines: malformed lines name the file and the line ----
printf '{"text": "fine"}\n{"text": "a"\n' > "$WORK/j1.jsonl"
run jsonl-unclosed 1 "j1.jsonl:2: malformed JSON" "$O" -- P --set prepare.format=jsonl --set prepare.input="$WORK/j1.jsonl" --set prepare.output="$O"
printf '{"text": "fine"}\n{"text": "ok"} trailing\n' > "$WORK/j2.jsonl"
run jsonl-trailing 1 "j2.jsonl:2: malformed JSON" "$O" -- P --set prepare.format=jsonl --set prepare.input="$WORK/j2.jsonl" --set prepare.output="$O"
printf '{"text": "fine"}\n{"text": "x", oops}\n' > "$WORK/j3.jsonl"
run jsonl-bare-word 1 "j3.jsonl:2: malformed JSON" "$O" -- P --set prepare.format=jsonl --set prepare.input="$WORK/j3.jsonl" --set prepare.output="$O"
printf '{"body": "x"}\n' > "$WORK/j4.jsonl"
run jsonl-no-key 1 'j4.jsonl:1: no string field "text" (set prepare.jsonl_key)' "$O" -- P --set prepare.format=jsonl --set prepare.input="$WORK/j4.jsonl" --set prepare.output="$O"

# ---- output vs input ----
cp "$T" "$WORK/same.txt"; sum0=$(md5sum < "$WORK/same.txt")
run output-is-input 1 "prepare.output = $WORK/same.txt is the input file itself" - -- P --set prepare.format=text --set prepare.input="$WORK/same.txt" --set prepare.output="$WORK/same.txt" --set prepare.overwrite=true
[ "$(md5sum < "$WORK/same.txt")" = "$sum0" ] || fail "the input was changed"
ln -sf "$WORK/same.txt" "$WORK/link.h5"
run output-is-input-symlink 1 "is the input file itself" - -- P --set prepare.format=text --set prepare.input="$WORK/same.txt" --set prepare.output="$WORK/link.h5" --set prepare.overwrite=true
[ "$(md5sum < "$WORK/same.txt")" = "$sum0" ] || fail "the input was changed through a link"
echo keep > "$WORK/exists.h5"
run output-exists 1 "prepare.output = $WORK/exists.h5 exists (set prepare.overwrite=true to replace it)" - -- P --set prepare.format=text --set prepare.input="$T" --set prepare.output="$WORK/exists.h5"
[ "$(cat "$WORK/exists.h5")" = keep ] || fail "the existing output was changed"
NAME=output-overwrite; CASES=$((CASES + 1))
P --set prepare.format=text --set prepare.input="$T" --set prepare.output="$WORK/exists.h5" --set prepare.overwrite=true 2> "$WORK/err.txt" \
  && "$SHRINK" inspect "$WORK/exists.h5" | grep -q "documents   2" && echo "ok [$NAME]" || fail "overwrite=true did not replace: $(cat "$WORK/err.txt")"
P --set prepare.format=text --set prepare.input="$T" --set prepare.output="$WORK/c.h5" 2> /dev/null
echo keep > "$WORK/exp.bin"
run export-exists 1 "prepare.output = $WORK/exp.bin exists" - -- P --set prepare.export=megatron --set prepare.input="$WORK/c.h5" --set prepare.output="$WORK/exp"
[ -e "$WORK/exp.idx" ] && fail "an export half was written"

# ---- directories where files are expected ----
mkdir -p "$WORK/adir"
run input-is-dir 1 "prepare.input = $WORK/adir is a directory, expected a file" "$O" -- P --set prepare.format=idx --set prepare.input="$WORK/adir" --set prepare.output="$O"
run labels-is-dir 1 "prepare.labels = $WORK/adir is a directory" "$O" -- P --set prepare.format=idx --set prepare.input="$FM/t10k-images-idx3-ubyte.gz" --set prepare.labels="$WORK/adir" --set prepare.output="$O"
run output-is-dir 1 "prepare.output = $WORK/adir is a directory, expected a file name" - -- P --set prepare.format=text --set prepare.input="$T" --set prepare.output="$WORK/adir"
run inspect-dir 1 "$WORK/adir is a directory, expected a corpus file" - -- "$SHRINK" inspect "$WORK/adir"

# ---- IDX ----
printf '\x00\x00\x08\x03\x7f\xff\xff\xff\x00\x00\x00\x1c\x00\x00\x00\x1c' > "$WORK/huge.idx3"
run idx-absurd-dims 1 "huge.idx3: IDX size mismatch: the header's dimensions promise 1683627179248 bytes" "$O" -- P --set prepare.format=idx --set prepare.input="$WORK/huge.idx3" --set prepare.output="$O"
gzip -c "$WORK/huge.idx3" > "$WORK/huge.idx3.gz"
run idx-absurd-dims-gz 1 "huge.idx3.gz: IDX size mismatch" "$O" -- P --set prepare.format=idx --set prepare.input="$WORK/huge.idx3.gz" --set prepare.output="$O"
zcat "$FM/t10k-images-idx3-ubyte.gz" | head -c 5016 > "$WORK/trunc.idx3"
run idx-truncated 1 "trunc.idx3: IDX size mismatch" "$O" -- P --set prepare.format=idx --set prepare.input="$WORK/trunc.idx3" --set prepare.output="$O"
run idx-labels-mismatch 1 "60000 labels for 10000 images" "$O" -- P --set prepare.format=idx --set prepare.input="$FM/t10k-images-idx3-ubyte.gz" --set prepare.labels="$FM/train-labels-idx1-ubyte.gz" --set prepare.output="$O"
run idx-not-idx 1 "t.txt: not an IDX file" "$O" -- P --set prepare.format=idx --set prepare.input="$T" --set prepare.output="$O"
run input-missing 1 "$WORK/nope.gz: cannot open" "$O" -- P --set prepare.format=idx --set prepare.input="$WORK/nope.gz" --set prepare.output="$O"

# ---- Megatron ----
P --set prepare.export=megatron --set prepare.input="$WORK/c.h5" --set prepare.output="$WORK/mg" 2> /dev/null
cp "$WORK/mg.bin" "$WORK/mm.bin"; cp "$WORK/mg.idx" "$WORK/mm.idx"; printf '\x00\x00' >> "$WORK/mm.idx"   # 2 sequences: 2 modes
run megatron-multimodal 1 "mm.idx: a multimodal Megatron index (2 sequence modes" "$O" -- P --set prepare.format=megatron --set prepare.input="$WORK/mm" --set prepare.output="$O"
printf '\x00' >> "$WORK/mm.idx"
run megatron-trailing 1 "mm.idx: 3 unexpected bytes after the document indices" "$O" -- P --set prepare.format=megatron --set prepare.input="$WORK/mm" --set prepare.output="$O"

# ---- config values ----
run bad-format 2 "prepare.format: 'csv' is not one of" "$O" -- P --set prepare.format=csv --set prepare.input="$T" --set prepare.output="$O"
run unknown-key 2 "unknown key 'prepare.levle' (did you mean 'prepare.level'?)" "$O" -- P --set prepare.levle=3 --set prepare.input="$T" --set prepare.output="$O"
run level-range 2 "prepare.level: 40 is above the maximum 22" "$O" -- P --set prepare.format=text --set prepare.level=40 --set prepare.input="$T" --set prepare.output="$O"
# usage errors exit 2 (one place decides: sk_cli_main), before any work
run prepare-bad-arg 2 "prepare: unexpected argument '--output'" "$O" -- P --output "$O" --set prepare.format=text --set prepare.input="$T"
run prepare-no-input 2 "prepare.input is empty" "$O" -- P --set prepare.format=text --set prepare.output="$O"
run prepare-no-output 2 "prepare.output is empty" - -- P --set prepare.format=text --set prepare.input="$T"
run export-no-output 2 "prepare.output is empty (export target" - -- P --set prepare.export=megatron --set prepare.input="$WORK/c.h5"
run inspect-no-file 2 "inspect: no corpus file given" - -- "$SHRINK" inspect
run inspect-bad-flag 2 "inspect: unknown flag '--verfy'" - -- "$SHRINK" inspect "$WORK/c.h5" --verfy
: > "$WORK/empty.txt"
run empty-text 1 "empty.txt: empty input: no text documents found" "$O" -- P --set prepare.format=text --set prepare.input="$WORK/empty.txt" --set prepare.output="$O"

# ---- inspect ----
run inspect-missing 1 "$WORK/none.h5: cannot open corpus" - -- "$SHRINK" inspect "$WORK/none.h5"
run inspect-not-hdf5 1 "t.txt: not an HDF5 file" - -- "$SHRINK" inspect "$T"
head -c 3000 "$WORK/c.h5" > "$WORK/half.h5"
run inspect-truncated 1 "half.h5" - -- "$SHRINK" inspect "$WORK/half.h5"
# a corpus of one large chunk with bytes flipped inside its zstd frame
P --set prepare.format=text --set prepare.input=/usr/share/games/fortunes/computers --set prepare.output="$WORK/big.h5" 2> /dev/null
/usr/bin/python3 - "$WORK/big.h5" <<'EOF'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
i = b.find(b"\x28\xb5\x2f\xfd") + 2000
b[i:i + 4] = bytes(x ^ 0xFF for x in b[i:i + 4])
open(p, "wb").write(b)
EOF
run inspect-verify-corrupt 1 "big.h5" - -- "$SHRINK" inspect "$WORK/big.h5" --verify
# written by another tool, without zstd frame checksums: say so, do not claim them
/usr/bin/python3 - "$WORK/nock.h5" <<'EOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "w")
t = np.frombuffer(b"hello world, from another tool", dtype=np.uint8).astype(np.uint16)
f.create_dataset("tokens", data=t, chunks=(8,))
f.create_dataset("offsets", data=np.array([0, 11, len(t)], dtype=np.int64), chunks=(3,))
for k, v in {"shrink_format": "shrink-corpus", "kind": "tokens", "dtype": "uint16"}.items(): f.attrs[k] = v
f.attrs["format_version"] = np.int64(1); f.attrs["vocab_size"] = np.int64(257)
EOF
run inspect-verify-no-checksum 0 "5 of 5 chunks carry NO checksum (/tokens 4 of 4, /offsets 1 of 1)" - -- "$SHRINK" inspect "$WORK/nock.h5" --verify
grep -q "checksums and offsets consistent\|all .* chunks checksummed" "$WORK/out.txt" && fail "claims checksums it does not have"
run inspect-verify-checksummed 0 "chunks checksummed" - -- "$SHRINK" inspect "$WORK/c.h5" --verify

# ---- text import keeps the bytes exactly, in every prepare.split mode ----
printf '%%\n\n\nab\r\ncd\r\n%%\r\n\nx\n' > "$WORK/exact.txt"
for want in "percent:['\\n\\nab\\r\\ncd', '\\nx']" "blank-line:['%', 'ab\\r\\ncd\\r\\n%', 'x']" \
            "line:['%', 'ab', 'cd', '%', 'x']" "none:['%\\n\\n\\nab\\r\\ncd\\r\\n%\\r\\n\\nx\\n']"; do
  mode=${want%%:*}; NAME=text-exact-$mode; CASES=$((CASES + 1))
  P --set prepare.format=text --set prepare.input="$WORK/exact.txt" --set prepare.output="$WORK/ex-$mode.h5" --set prepare.split=$mode --set prepare.eod=false 2> "$WORK/err.txt" || fail "prepare: $(cat "$WORK/err.txt")"
  got=$(/usr/bin/python3 -c 'import h5py, sys
f = h5py.File(sys.argv[1]); t = bytes(f["tokens"][:].astype("u1")); o = f["offsets"][:]
print([t[o[i]:o[i + 1]].decode() for i in range(len(o) - 1)])' "$WORK/ex-$mode.h5")
  [ "$got" = "${want#*:}" ] && echo "ok [$NAME] $got" || fail "documents $got, expected ${want#*:}"
done
grep -qF "exact.txt: the whole file became one document" "$WORK/err.txt" && fail "warned for split=none"
printf 'line one\nline two\nline three\n' > "$WORK/nosep.txt"
run text-one-document-warns 0 "nosep.txt: the whole file became one document (prepare.split=percent found no boundary)" - -- P --set prepare.format=text --set prepare.input="$WORK/nosep.txt" --set prepare.output="$WORK/nosep.h5"
run bad-split 2 "prepare.split: 'lines' is not one of percent|blank-line|line|none" "$O" -- P --set prepare.format=text --set prepare.split=lines --set prepare.input="$T" --set prepare.output="$O"

# ---- a stale temporary (its process is gone) is removed by the next write ----
host=$(hostname | tr -- '-/' '__')
touch "$WORK/.s.h5.shrink-tmp-$host-2147483600"
NAME=stale-tmp; CASES=$((CASES + 1))
P --set prepare.format=text --set prepare.input="$T" --set prepare.output="$WORK/s.h5" 2> "$WORK/err.txt" || fail "prepare failed"
[ -e "$WORK/.s.h5.shrink-tmp-$host-2147483600" ] && fail "the stale temporary is still there"
grep -qF "removed $WORK/.s.h5.shrink-tmp-$host-2147483600, a temporary left by process 2147483600" "$WORK/err.txt" || fail "no message: $(cat "$WORK/err.txt")"
echo "ok [$NAME]"

# wait_tmp BASE: until the temporary of $WORK/BASE appears (up to 30 s), then 0.3 s more (the input is
# big enough at level 19 that the write is still going when the signal comes)
wait_tmp() {
  local i
  for i in $(seq 600); do
    ls -A "$WORK" | grep -qF ".$1.shrink-tmp-" && { sleep 0.3; return 0; }
    sleep 0.05
  done
  fail "the temporary of $1 never appeared"
}

# ---- signals during prepare, 1, 2 and 3 ranks: no output, no temporary ----
head -c 24000000 /dev/urandom | base64 | awk 'NR%20==0{print "%"} {print}' > "$WORK/sig.txt"
for np in 1 2 3; do
  for sig in TERM INT; do
    # (under mpirun the signal goes to mpirun, which sends its ranks SIGTERM: Ctrl-C on a job)
    NAME=signal-$sig-np$np; CASES=$((CASES + 1))
    out="$WORK/sig$np$sig.h5"
    if [ $np = 1 ]; then
      "$SHRINK" prepare --set prepare.format=text --set prepare.input="$WORK/sig.txt" --set prepare.output="$out" --set prepare.level=19 2> "$WORK/err.txt" &
    else
      mpirun -np $np "$SHRINK" prepare --set prepare.format=text --set prepare.input="$WORK/sig.txt" --set prepare.output="$out" --set prepare.level=19 2> "$WORK/err.txt" &
    fi
    pid=$!
    wait_tmp "sig$np$sig.h5"
    kill -$sig $pid; wait $pid; rc=$?
    [ $rc -ne 0 ] || fail "exit 0 after SIG$sig"
    sleep 0.5
    no_leftover "$out"
    pgrep -f -- "prepare.output=$out" > /dev/null && fail "a rank is still running after SIG$sig"
    echo "ok [$NAME] rc=$rc"
  done
done

# ---- SIGKILL (nothing can be caught) leaves the temporary; the next write of the same output removes it ----
NAME=sigkill-then-rerun; CASES=$((CASES + 1))
out="$WORK/sigk.h5"
"$SHRINK" prepare --set prepare.format=text --set prepare.input="$WORK/sig.txt" --set prepare.output="$out" --set prepare.level=19 2> /dev/null &
pid=$!
wait_tmp sigk.h5
kill -KILL $pid; wait $pid 2> /dev/null
left=$(ls -A "$WORK" | grep "^\.sigk\.h5\.shrink-tmp-")
[ -n "$left" ] || fail "no temporary after SIGKILL (the case tests nothing)"
P --set prepare.format=text --set prepare.input="$T" --set prepare.output="$out" 2> "$WORK/err.txt" || fail "the rerun failed: $(cat "$WORK/err.txt")"
grep -qF "removed $WORK/$left, a temporary left by process $pid" "$WORK/err.txt" || fail "no message naming $left: $(cat "$WORK/err.txt")"
ls -A "$WORK" | grep -q "^\.sigk\.h5\.shrink-tmp-" && fail "the temporary is still there"
echo "ok [$NAME] removed $left"

# ---- a full disk during prepare, 1, 2 and 3 ranks ----
FULL="$WORK/full"; mkdir -p "$FULL"
if mount -t tmpfs -o size=1m tmpfs "$FULL" 2> /dev/null; then
  head -c 1500000 /dev/urandom | base64 | awk 'NR%20==0{print "%"} {print}' > "$WORK/big.txt"
  for np in 1 2 3; do
    run full-disk-np$np "!0" "No space left on device" "$FULL/o.h5" -- timeout 120 mpirun -np $np "$SHRINK" prepare --set prepare.format=text \
      --set prepare.input="$WORK/big.txt" --set prepare.output="$FULL/o.h5" --set prepare.chunk_kib=64
    grep -qF "$FULL/o.h5: " "$WORK/err.txt" || fail "the error does not name the output: $(head -c 600 "$WORK/err.txt")"
    [ "$LAST_RC" = 124 ] && fail "hung (killed by the timeout)"
    [ $(grep -c . "$WORK/err.txt") -gt 0 ] && grep -q "wrote " "$WORK/err.txt" && fail "reported success"
    [ -z "$(ls -A "$FULL")" ] || fail "left in the full directory: $(ls -A "$FULL")"
  done
  umount "$FULL"
  # The disk fills up exactly when HDF5 flushes the metadata at close: the
  # data writes fit (free space = the finished file's size, which once
  # stranded ranks in H5Fclose's barrier); the error must be agreed before
  # the close. With 256 KiB + 64 KiB more room the same write succeeds.
  mount -t tmpfs -o size=4m tmpfs "$FULL"
  head -c 150000 /dev/urandom | base64 | awk 'NR%20==0{print "%"} {print}' > "$WORK/mid.txt"
  PM=(prepare --set prepare.format=text --set prepare.input="$WORK/mid.txt" --set prepare.chunk_kib=16)
  "$SHRINK" "${PM[@]}" --set prepare.output="$WORK/mid.h5" 2> /dev/null
  X=$(stat -c %s "$WORK/mid.h5")
  fill() { rm -f "$FULL/filler"; local a; a=$(df -B1 --output=avail "$FULL" | tail -1); head -c $((a - $1)) /dev/zero > "$FULL/filler"; }
  for np in 1 2 3; do
    fill "$X"
    run full-at-close-np$np "!0" "$FULL/o.h5:" "$FULL/o.h5" -- timeout 120 mpirun -np $np "$SHRINK" "${PM[@]}" --set prepare.output="$FULL/o.h5"
    [ $(grep -c . "$WORK/err.txt") -gt 0 ] && grep -q "wrote " "$WORK/err.txt" && fail "reported success"
    [ "$LAST_RC" = 124 ] && fail "hung (killed by the timeout)"
    [ "$(ls -A "$FULL")" = filler ] || fail "left in the full directory: $(ls -A "$FULL")"
    fill $((X + (320 << 10)))
    NAME=room-at-close-np$np; CASES=$((CASES + 1))
    timeout 120 mpirun -np $np "$SHRINK" "${PM[@]}" --set prepare.output="$FULL/o.h5" > /dev/null 2> "$WORK/err.txt" || fail "exit $?: $(head -c 600 "$WORK/err.txt")"
    "$SHRINK" inspect --verify "$FULL/o.h5" > /dev/null 2>&1 || fail "the output does not verify"
    [ "$(stat -c %s "$FULL/o.h5")" -le $((X + 4096)) ] || fail "output of $(stat -c %s "$FULL/o.h5") bytes, expected about $X"
    [ "$(ls -A "$FULL" | sort | tr '\n' ' ')" = "filler o.h5 " ] || fail "left in the directory: $(ls -A "$FULL")"
    [ "$(du -k "$FULL/o.h5" | cut -f1)" -le $(((X >> 10) + 8)) ] || fail "the room kept for the close was not given back: $(du -k "$FULL/o.h5")"
    echo "ok [$NAME]"
    rm -f "$FULL/o.h5"
  done
  umount "$FULL"
else
  echo "SKIP full-disk cases: cannot mount a tmpfs (not root?)"
fi

echo "$CASES cases, $FAILS failed"
[ $FAILS -eq 0 ]
