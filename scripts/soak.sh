#!/usr/bin/env bash
# Shows that the test command does not depend on luck: repeats it where
# timing-bound tests fail first.
#
#   bash scripts/soak.sh fresh [N]   the whole test command (scripts/test.sh),
#                                    each time in a fresh clone of the commit
#                                    HEAD was at the start, N times in a row
#                                    (default 3)
#   bash scripts/soak.sh busy [N]    the integration tests on the embedded
#                                    broker, ASan+UBSan build and plain
#                                    build, N times (default 3) while
#                                    `stress-ng --cpu 1` keeps one core busy
#                                    (a real Kafka's JVMs would add more)
#
# Stops at the first failure (its output is kept) and prints each run's
# time. The integration tests' deadlines take their margins from latencies
# measured this way (see the comments in tests/integration).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
runs=${2:-3}
log_dir=$(mktemp -d /tmp/rv-soak-XXXXXX)
echo "soak: logs in $log_dir"

timed() { # name command...: runs it with its output in $log_dir/name.log
  local name=$1 start rc=0
  shift
  start=$(date +%s)
  "$@" >"$log_dir/$name.log" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    echo "soak: $name FAILED after $(($(date +%s) - start)) s (exit $rc); the end of its log:"
    tail -40 "$log_dir/$name.log"
    exit 1
  fi
  echo "soak: $name passed in $(($(date +%s) - start)) s; $(grep -E 'tests passed|tests failed' "$log_dir/$name.log" | tail -2 | paste -sd';')"
}

case "$mode" in
fresh)
  commit=$(git rev-parse HEAD)
  echo "soak: commit $commit"
  for i in $(seq "$runs"); do
    clone="$log_dir/clone-$i"
    git clone -q . "$clone"
    git -C "$clone" checkout -q "$commit"
    timed "fresh-$i" bash "$clone/scripts/test.sh"
    rm -rf "$clone"
  done
  ;;
busy)
  bash scripts/setup.sh >/dev/null
  cmake -S . -B build -DRV_WERROR=ON >/dev/null
  cmake --build build -j"$(nproc)" >/dev/null
  cmake -S . -B build-asan -DRV_WERROR=ON -DRV_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build build-asan -j"$(nproc)" >/dev/null
  stress-ng --cpu 1 --timeout 0 >/dev/null 2>&1 &
  stress=$!
  trap 'kill $stress 2>/dev/null' EXIT
  for i in $(seq "$runs"); do
    timed "busy-asan-$i" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
      UBSAN_OPTIONS=print_stacktrace=1 \
      ctest --test-dir build-asan --output-on-failure -j"$(nproc)" -L integration
    timed "busy-plain-$i" ctest --test-dir build --output-on-failure -j"$(nproc)" -L integration \
      -LE kafka
  done
  ;;
*)
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
echo "soak: $mode: $runs run(s), all passed"
