#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan+UBSan) and runs each for
# SECONDS (default 60), as many at once as there are cores. Fails on the
# first crash, leak or timeout, with the input kept in build-fuzz/crashes/:
# copy it to tests/fuzz/regressions/<harness>/ once fixed, so that every
# build of the suite runs it again.
#   scripts/fuzz.sh [SECONDS] [HARNESS...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(body config archive control http tokens evalrecord)

CC=clang cmake -S . -B build-fuzz -DRV_FUZZ=ON -DRV_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${harnesses[@]/#/fuzz_}"
mkdir -p build-fuzz/crashes

run() { # harness
  local h=$1 corpus=build-fuzz/corpus/$1
  mkdir -p "$corpus"
  # new inputs go to build-fuzz/corpus; the committed seeds are only read
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    build-fuzz/tests/fuzz/fuzz_"$h" "$corpus" tests/fuzz/corpus/"$h" \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=build-fuzz/crashes/"$h"- >build-fuzz/"$h".log 2>&1
}

pids=() rc=0
for h in "${harnesses[@]}"; do
  run "$h" &
  pids+=($!)
  # as many at once as there are cores
  if [ ${#pids[@]} -ge "$(nproc)" ]; then
    wait "${pids[0]}" || true
    pids=("${pids[@]:1}")
  fi
done
wait || true
for h in "${harnesses[@]}"; do
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' build-fuzz/"$h".log)
  cov=$(grep -o 'cov: [0-9]*' build-fuzz/"$h".log | tail -1)
  if grep -q -E '^(==[0-9]+==ERROR|SUMMARY: )' build-fuzz/"$h".log || [ -z "$runs" ]; then
    echo "fuzz $h: FAILED"
    grep -E -A30 '^==[0-9]+==ERROR' build-fuzz/"$h".log | head -60 || tail -30 build-fuzz/"$h".log
    ls build-fuzz/crashes/"$h"-* 2>/dev/null || true
    rc=1
  else
    echo "fuzz $h: ${secs} s, ${runs} inputs, ${cov}, 0 crashes"
  fi
done
exit $rc
