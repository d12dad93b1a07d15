#!/bin/sh
# check_mpi_confined.sh SOURCE_DIR [BUILD_DIR]
# The rule of dist/sk_mpi.h: only dist/ includes <mpi.h>, names an MPI_
# identifier (function, type, constant; in comments too, so a reader never
# meets one elsewhere) or sets HDF5's MPI-IO driver. Every other C/C++
# source and header (library, cli, bench, tests) goes through sk_mpi.h /
# sk_mpi_h5.h. Prints each offending line and fails if there is one.
set -eu
SRC=$1; BUILD=${2:-}
cd "$SRC"
# Build trees inside the source tree hold generated files, not sources.
skip=./build
case "$BUILD" in "$SRC"/?*) skip="./${BUILD#"$SRC"/}" ;; esac
hits=$(find . \( -path ./dist -o -path ./.git -o -name 'build*' -o -path "$skip" \) -prune -o \
         -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \) -print |
       xargs grep -nHE '(^|[^A-Za-z0-9_])MPI_|[<"]mpi\.h[>"]|H5Pset_(fapl|dxpl)_mpio' || true)
if [ -n "$hits" ]; then
  echo "MPI outside dist/ (use dist/sk_mpi.h, or dist/sk_mpi_h5.h for parallel HDF5):"
  echo "$hits"
  exit 1
fi
echo "ok: no MPI outside dist/"
