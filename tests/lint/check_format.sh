#!/usr/bin/env bash
# Fails when a C file of the project is not formatted as .clang-format says;
# prints the files and the first lines of each difference.
# Fix with: clang-format -i $(git ls-files '*.c' '*.h')
set -uo pipefail
cd "$(dirname "$0")/../.."
files=$(find host plugins plugin-api tests bench -name '*.c' -o -name '*.h' | sort)
bad=0
for f in $files; do
  if ! out=$(clang-format --dry-run --Werror "$f" 2>&1); then
    echo "$f: not formatted:"
    echo "$out" | head -6
    bad=$((bad + 1))
  fi
done
n=$(echo "$files" | wc -l)
echo "$n files checked, $bad not formatted"
[ "$bad" -eq 0 ]
