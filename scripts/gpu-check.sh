#!/usr/bin/env bash
# gpu-check.sh - build the shim against this machine's PyTorch (2.x, CUDA) and
# run its CPU test and its GPU test; print a short summary. For a machine lent
# with a GPU: needs python3 with torch, cmake, a C/C++ compiler and, for a CUDA
# torch, the CUDA toolkit (nvcc) that torch's CMake config insists on. Builds
# with -DSK_SHIM_ONLY=ON, so MPI, HDF5, zstd, libyaml and cmocka are not needed.
#
#   scripts/gpu-check.sh            build in build-gpu/, run both tests
#
# Environment: PYTHON (default python3), BUILD_DIR (default build-gpu),
# JOBS (default nproc). Exit status: 0 all ran and passed, 1 a test failed,
# 2 configure or build failed (log named in the output).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PY=${PYTHON:-python3}
BUILD_DIR=${BUILD_DIR:-build-gpu}
JOBS=${JOBS:-$(nproc)}
mkdir -p "$BUILD_DIR"
log="$BUILD_DIR/gpu-check.log"
: >"$log"

say() { printf 'gpu-check: %s\n' "$*"; }

if ! info=$("$PY" -c 'import torch; print(torch.__version__, torch.version.cuda, int(torch.cuda.is_available()), torch.utils.cmake_prefix_path)' 2>>"$log"); then
    say "no usable torch in $PY (see $log)"
    exit 2
fi
read -r torch_version torch_cuda py_cuda prefix <<<"$info"
say "torch $torch_version, CUDA $torch_cuda, torch.cuda.is_available()=$py_cuda"
say "cmake prefix $prefix"
if [ "$torch_cuda" != "None" ] && ! command -v nvcc >/dev/null && [ -z "${CUDACXX:-}" ] && [ ! -x /usr/local/cuda/bin/nvcc ]; then
    say "warning: no nvcc on PATH, CUDACXX unset, no /usr/local/cuda: torch's CMake config for a CUDA build will likely fail"
fi

if ! cmake -S . -B "$BUILD_DIR" -DSK_SHIM_ONLY=ON -DSK_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_PREFIX_PATH="$prefix" >>"$log" 2>&1; then
    say "configure FAILED (tail of $log):"
    tail -n 25 "$log"
    exit 2
fi
if ! cmake --build "$BUILD_DIR" -j "$JOBS" --target test_shim test_shim_gpu >>"$log" 2>&1; then
    say "build FAILED (errors from $log):"
    grep -E 'error|Error' "$log" | head -n 30
    exit 2
fi

"$BUILD_DIR/tests/shim/test_shim" >"$BUILD_DIR/test_shim.out" 2>&1
cpu_rc=$?
"$BUILD_DIR/tests/shim/test_shim_gpu" >"$BUILD_DIR/test_shim_gpu.out" 2>&1
gpu_rc=$?

status=0
if [ $cpu_rc -eq 0 ]; then cpu="passed"; else cpu="FAILED (rc $cpu_rc)"; status=1; fi
case $gpu_rc in
0) gpu="passed" ;;
77)
    gpu="skipped: the shim sees no CUDA device"
    # torch sees one but the shim does not: linked without libtorch_cuda, say.
    if [ "$py_cuda" = "1" ]; then gpu="FAILED: skipped although torch.cuda.is_available()"; status=1; fi
    ;;
*) gpu="FAILED (rc $gpu_rc)"; status=1 ;;
esac
say "$(head -n 1 "$BUILD_DIR/test_shim_gpu.out")"
say "CPU shim test (test_shim): $cpu"
say "GPU shim test (test_shim_gpu): $gpu"
[ $cpu_rc -eq 0 ] || { say "--- test_shim output (tail):"; tail -n 20 "$BUILD_DIR/test_shim.out"; }
case $gpu_rc in 0|77) ;; *) say "--- test_shim_gpu output (tail):"; tail -n 20 "$BUILD_DIR/test_shim_gpu.out" ;; esac
exit $status
