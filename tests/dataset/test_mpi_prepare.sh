#!/bin/sh
# test_mpi_prepare.sh TOOL WORK_DIR
# `prepare` under mpirun -np 2 and 3 (each rank parses only its share of
# the input; parallel HDF5, collective filtered writes) gives the same
# corpus (decoded data and attributes) as a 1-rank run, for every importer:
# IDX (.gz and plain), text, JSON Lines, Megatron, llm.c, including
# document boundaries exactly at a rank's split point and ranks that get
# no document or no token at all.
set -eu
TOOL=$1; WORK=$2
rm -rf "$WORK"; mkdir -p "$WORK"
. "$(dirname "$0")/../../scripts/mpi_env.sh"
FM=/usr/share/datasets/fashion-mnist
TXT=/usr/share/games/fortunes/computers

# same NAME key=value...: prepare with 1, 2 and 3 ranks into NAME{1,2,3}.h5
# and require equal digests (every decoded dataset and attribute)
same() {
  name=$1; shift
  for np in 1 2 3; do
    mpirun --oversubscribe -np $np "$TOOL" prepare "$@" output="$WORK/$name$np.h5"
    "$TOOL" digest "$WORK/$name$np.h5" > "$WORK/$name$np.digest"
    "$TOOL" inspect "$WORK/$name$np.h5" --verify > /dev/null
  done
  head -c 300 "$WORK/${name}1.digest"; echo
  cmp "$WORK/${name}1.digest" "$WORK/${name}2.digest"
  cmp "$WORK/${name}1.digest" "$WORK/${name}3.digest"
}

same fm format=idx input=$FM/t10k-images-idx3-ubyte.gz labels=$FM/t10k-labels-idx1-ubyte.gz chunk_kib=256 level=3
zcat $FM/t10k-images-idx3-ubyte.gz > "$WORK/img.idx3"   # plain IDX: ranks seek
zcat $FM/t10k-labels-idx1-ubyte.gz > "$WORK/lab.idx1"
same fmplain format=idx input="$WORK/img.idx3" labels="$WORK/lab.idx1" chunk_kib=64
same txt format=text input=$TXT chunk_kib=16
# the 2-rank text corpus spans many chunks, so both ranks really wrote
"$TOOL" inspect "$WORK/txt2.h5" | grep -q "chunk 8192"

# JSON Lines: every fortune line a document (written by Python's json, so tabs,
# backspaces and backslashes in the fortunes are valid escapes)
/usr/bin/python3 -c 'import json, sys
for i, l in enumerate(open(sys.argv[1], encoding="latin-1", newline="").read().split("\n")[:-1]): print(json.dumps({"id": i + 1, "text": l + " \u00e9"}))' $TXT > "$WORK/f.jsonl"
same js format=jsonl input="$WORK/f.jsonl" chunk_kib=16

# text edge cases. "hello world\n%\n" is 14 bytes; padding of 10, 12, 14
# bytes puts the 2-rank cut at the '%', at the '\n' after it, and right
# after the boundary line; CRLF boundaries and empty documents too.
for pad in 10 11 12 13 14 15; do
  { printf 'hello world\n%%\n'; head -c $((pad - 1)) /dev/zero | tr '\0' y; printf '\n'; } > "$WORK/cut$pad.txt"
  same cut$pad format=text input="$WORK/cut$pad.txt" chunk_kib=1
done
printf '%%\r\n%%\r\nab\r\n%%\r\n\r\ncd\r\n%%\r\n%%\r\nef' > "$WORK/crlf.txt"
same crlf format=text input="$WORK/crlf.txt" chunk_kib=1
# every split mode cuts the same documents on 1, 2 and 3 ranks
for mode in blank-line line none; do
  same crlf$mode format=text split=$mode input="$WORK/crlf.txt" chunk_kib=1
  same fort$mode format=text split=$mode input=$TXT chunk_kib=16
done
# one long document in the middle: with 3 ranks the middle rank gets none
{ printf 'a\n%%\n'; head -c 3000 /dev/zero | tr '\0' x; printf '\n%%\nb\n'; } > "$WORK/mid.txt"
same mid format=text input="$WORK/mid.txt" chunk_kib=1
# one long document at the end: the last ranks get no document and no token
{ printf 'a\n%%\n'; head -c 3000 /dev/zero | tr '\0' x; } > "$WORK/tail.txt"
same tail format=text input="$WORK/tail.txt" chunk_kib=1
{ echo '{"text": "a"}'; printf '{"text": "'; head -c 3000 /dev/zero | tr '\0' x; echo '"}'; echo '{"text": "b"}'; } > "$WORK/mid.jsonl"
same midjs format=jsonl input="$WORK/mid.jsonl" chunk_kib=1

# Megatron and llm.c: exported from the corpora above, imported back split
for c in txt mid tail; do
  "$TOOL" prepare export=megatron input="$WORK/${c}1.h5" output="$WORK/${c}_mg"
  "$TOOL" prepare export=llmc input="$WORK/${c}1.h5" output="$WORK/${c}.llmc.bin"
  same ${c}mg format=megatron input="$WORK/${c}_mg" chunk_kib=4
  same ${c}llmc format=llmc input="$WORK/${c}.llmc.bin" chunk_kib=4
done
printf 'z\n' > "$WORK/one.txt"   # one document of 2 tokens: 3 ranks, 1 sequence
"$TOOL" prepare format=text input="$WORK/one.txt" output="$WORK/one.h5"
"$TOOL" prepare export=megatron input="$WORK/one.h5" output="$WORK/one_mg"
"$TOOL" prepare export=llmc input="$WORK/one.h5" output="$WORK/one.llmc.bin"
same onemg format=megatron input="$WORK/one_mg"
same onellmc format=llmc input="$WORK/one.llmc.bin"

# a bad line in the last rank's share: the job fails (no hang), naming the
# file's line number, not the rank's
cp "$WORK/f.jsonl" "$WORK/bad.jsonl"; echo '{"text": 12}' >> "$WORK/bad.jsonl"
n=$(wc -l < "$WORK/bad.jsonl")
if timeout 60 mpirun --oversubscribe -np 3 "$TOOL" prepare format=jsonl input="$WORK/bad.jsonl" output="$WORK/bad.h5" 2> "$WORK/bad.err"; then
  echo "expected failure"; exit 1
fi
grep -q "bad.jsonl:$n: field \"text\" is not a string" "$WORK/bad.err" || { cat "$WORK/bad.err"; exit 1; }
# an empty input fails on every rank count
: > "$WORK/empty.txt"
if mpirun --oversubscribe -np 2 "$TOOL" prepare format=text input="$WORK/empty.txt" output="$WORK/e.h5" 2> "$WORK/e.err"; then
  echo "expected failure"; exit 1
fi
grep -q "empty input" "$WORK/e.err"

# a failing parallel prepare leaves nothing behind
if mpirun --oversubscribe -np 2 "$TOOL" prepare format=text input=$TXT output="$WORK/no/such/dir/x.h5" 2>/dev/null; then
  echo "expected failure"; exit 1
fi
ls "$WORK" | grep -q tmp && { echo "temporary left behind"; exit 1; }
echo "mpi prepare OK"
