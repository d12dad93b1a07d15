#!/bin/sh
# scripts/fuzz.sh NAME SECONDS [BUILD] - fuzz one harness (tests/fuzz/NAME.c,
# e.g. fuzz_corpus) for SECONDS with libFuzzer, starting from its committed
# seeds; new inputs go to BUILD/fuzz-corpus/NAME, crashes to BUILD/fuzz-crash/.
# Builds BUILD (default build-fuzz) with clang and -DSK_FUZZ=ON if needed.
# Limits: 1 s per input, 512 MB of malloc and of RSS, the issue's bounds
# (SK_FUZZ_RSS_MB raises the RSS one: fuzz_ckpt_state links libtorch, whose
# static initialisers alone take about 400 MB under ASan).
# SK_FUZZ_FORK=1: libFuzzer's fork mode with -ignore_timeouts/crashes/ooms,
# so a run goes on past inputs that crash or hang inside libhdf5 itself
# (fuzz_corpus; see docs/RELIABILITY.md); each one is still written to
# BUILD/fuzz-crash/ to be classified by its stack. It also suppresses the
# leak libhdf5 1.10.8 makes when H5Fopen fails (tests/fuzz/lsan-hdf5.supp).
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
if [ "${SK_FUZZ_FORK:-0}" = 1 ]; then
  fork="-fork=1 -ignore_timeouts=1 -ignore_ooms=1 -ignore_crashes=1"
  export LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan-hdf5.supp:print_suppressions=0"
  # the suppression names H5G_mkroot, which the default fast unwinder
  # never reaches inside libhdf5 (no frame pointers)
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:fast_unwind_on_malloc=0}
fi
[ -f "$root/tests/fuzz/dict/$name.dict" ] && dict="-dict=$root/tests/fuzz/dict/$name.dict"
export HDF5_USE_FILE_LOCKING=FALSE
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
  "$build/tests/fuzz/$name" -max_total_time="$secs" -timeout=1 -rss_limit_mb="${SK_FUZZ_RSS_MB:-512}" -malloc_limit_mb=512 \
  -print_final_stats=1 -artifact_prefix="$build/fuzz-crash/$name-" $fork $dict "$work" "$seeds"
