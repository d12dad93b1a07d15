#!/usr/bin/env bash
# setup.sh - install shrink's Debian dependencies, build, and run either the
# demo job or the whole test suite. Idempotent: re-running skips what is done.
#
#   scripts/setup.sh demo    install + build + a short training with a token
#                            selector on Fashion-MNIST under mpirun (2 ranks)
#   scripts/setup.sh test    install + build (-Werror) + ctest, then the
#                            sanitizer build of the pure-C tests, then the
#                            libFuzzer harnesses (clang) on their seeds
#                            (ctest -L fuzz, about a minute)
#
# Environment: BUILD_DIR (default build), JOBS (default nproc).
set -euo pipefail
mode=${1:-}
case "$mode" in demo|test|deps|build) ;; *) echo "usage: $0 demo|test|deps|build" >&2; exit 2;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

PACKAGES=(
  build-essential cmake pkg-config
  libtorch-dev                      # libtorch 1.13 (CPU)
  libopenblas0-pthread              # without it libtorch runs on reference BLAS, ~5x slower
  libhdf5-openmpi-dev hdf5-tools    # parallel HDF5 + h5dump
  libopenmpi-dev openmpi-bin
  libzstd-dev zlib1g-dev
  libyaml-dev                       # config files (YAML)
  libjansson-dev                    # every JSON document shrink reads or writes
  libxxhash-dev                     # checkpoint checksums (MANIFEST)
  libcmocka-dev                     # C unit tests
  gnuplot-nox                       # plots in reports
  dataset-fashion-mnist fortunes    # real data for demos and tests
  python3-torch python3-h5py python3-numpy   # outside references in tests and benchmarks only
  clang-format                      # the tree's one .clang-format, checked by ctest (format)
  clang libclang-rt-14-dev          # libFuzzer harnesses (tests/fuzz, -DSK_FUZZ=ON); the runtime is only a Recommends of clang
)

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

build() {
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSK_WERROR=ON "$@" >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

# Open MPI as root, oversubscribed, unbound (scripts/mpi_env.sh says why).
. "$root/scripts/mpi_env.sh"

install_deps
case "$mode" in
  deps) ;;
  build) build ;;
  test)
    build
    (cd "$BUILD_DIR" && ctest --output-on-failure -j 2 -LE gpu --timeout 900)
    # Sanitizer build: the pure-C modules and their tests under ASan+UBSan.
    SAN_DIR="$BUILD_DIR-san"
    cmake -S . -B "$SAN_DIR" -DCMAKE_BUILD_TYPE=Debug -DSK_WERROR=ON -DSK_SANITIZE=ON -DSK_BUILD_BENCH=OFF >/dev/null
    cmake --build "$SAN_DIR" -j "$JOBS"
    (cd "$SAN_DIR" && ctest --output-on-failure -L sanitize --timeout 900)
    # Fuzz build: every parser's libFuzzer harness, a short fixed run on its
    # seeds (scripts/fuzz.sh NAME SECONDS fuzzes one for longer).
    FUZZ_DIR="$BUILD_DIR-fuzz"
    cmake -S . -B "$FUZZ_DIR" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSK_WERROR=ON -DSK_FUZZ=ON -DSK_BUILD_TESTS=OFF -DSK_BUILD_BENCH=OFF >/dev/null
    cmake --build "$FUZZ_DIR" -j "$JOBS"
    (cd "$FUZZ_DIR" && ctest --output-on-failure -L fuzz --timeout 300)
    ;;
  demo)
    build
    scripts/demo.sh "$BUILD_DIR"
    ;;
esac
