#!/usr/bin/env bash
# check_format.sh [--fix] - every C, C++ and header file of the tree is as
# clang-format (Debian bookworm's, 14) writes it under the root's
# .clang-format. Without --fix it changes nothing and lists the files that
# differ (exit 1); with --fix it rewrites them in place.
# Tables kept one entry per row (the config key tables) sit between
# /* clang-format off */ and /* clang-format on */.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
command -v clang-format >/dev/null || { echo "check_format: clang-format not found (Debian package clang-format)" >&2; exit 2; }
mapfile -t files < <(find bench cli common condense dataset dist models selectors shim tests trainer \
                          -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' \) | sort)
if [ "${1:-}" = --fix ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check_format: ${#bad[@]} of ${#files[@]} files differ from clang-format (scripts/check_format.sh --fix): ${bad[*]}" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files formatted"
