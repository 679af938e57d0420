#!/usr/bin/env bash
# The one test command: set up, build with warnings as errors, build and run
# the suite under AddressSanitizer+UBSan, fuzz each harness for a minute, then
# run every test of the plain build (among them `valgrind` and
# `serve_valgrind`: the unit suites that start no model process, and the
# daemon serving with its models in the host, under memcheck).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
jobs=$(nproc)

echo "== build (warnings are errors)"
cmake -S . -B build -DRV_WERROR=ON >/dev/null
cmake --build build -j"$jobs"

echo "== build with ASan+UBSan"
cmake -S . -B build-asan -DRV_WERROR=ON -DRV_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"

echo "== tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"

echo "== fuzzing: each harness 60 s under ASan+UBSan (scripts/fuzz.sh)"
bash scripts/fuzz.sh 60

echo "== tests"
ctest --test-dir build --output-on-failure -j"$jobs"
