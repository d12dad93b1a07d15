#!/bin/sh
# scripts/fuzz.sh NAME SECONDS [BUILD] - fuzz one harness (tests/fuzz/NAME.c,
# e.g. fuzz_corpus) for SECONDS with libFuzzer, starting from its committed
# seeds; new inputs go to BUILD/fuzz-corpus/NAME, crashes to BUILD/fuzz-crash/.
# Builds BUILD (default build-fuzz) with clang and -DSK_FUZZ=ON if needed.
# Limits: 1 s per input, 512 MB of malloc, the issue's bounds.
# SK_FUZZ_FORK=1: libFuzzer's fork mode with -ignore_timeouts=1, so a run
# goes on past inputs that hang inside libhdf5 itself (fuzz_corpus; see
# docs/RELIABILITY.md); each timeout is still written to BUILD/fuzz-crash/.
set -eu
[ $# -ge 2 ] || { echo "usage: scripts/fuzz.sh NAME SECONDS [BUILD]" >&2; exit 2; }
name=$1 secs=$2
root=$(cd "$(dirname "$0")/.." && pwd)
build=${3:-$root/build-fuzz}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSK_FUZZ=ON -DSK_BUILD_TESTS=OFF -DSK_BUILD_BENCH=OFF
fi
cmake --build "$build" -j2 --target "$name"
seeds=$root/tests/fuzz/seeds/$name
work=$build/fuzz-corpus/$name
mkdir -p "$work" "$build/fuzz-crash"
dict=
fork=
[ "${SK_FUZZ_FORK:-0}" = 1 ] && fork="-fork=1 -ignore_timeouts=1 -ignore_ooms=0 -ignore_crashes=0"
[ -f "$root/tests/fuzz/dict/$name.dict" ] && dict="-dict=$root/tests/fuzz/dict/$name.dict"
export HDF5_USE_FILE_LOCKING=FALSE
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
  "$build/tests/fuzz/$name" -max_total_time="$secs" -timeout=1 -rss_limit_mb=2048 -malloc_limit_mb=512 \
  -print_final_stats=1 -artifact_prefix="$build/fuzz-crash/$name-" $fork $dict "$work" "$seeds"
