#!/usr/bin/env bash
# The unit suites under valgrind's memcheck, one process each (CK_FORK=no):
# no invalid read or write, no use of an uninitialised value, no definite
# leak. Left out: the suites that start model processes (canary_monitor,
# control, loader, proc, pipeline, pipeline_cpu, reload, failalloc, xgboost) -
# Debian's valgrind 3.19 does not know pidfd_open, which a model process
# needs - and dtoa, whose 10^7-double property would run for an hour under
# it. All of them run under ASan+UBSan.
set -euo pipefail
: "${RV_BUILD_DIR:?}"
command -v valgrind >/dev/null || { echo "FAIL: valgrind is not installed (scripts/setup.sh)"; exit 1; }
log=$(mktemp /tmp/rv-valgrind-XXXXXX)
trap 'rm -f "$log"' EXIT
rc=0
for t in archive commit_tracker config feature_vector evaluation jsonw kvstore measures numparse promotion prom records \
  selection records_layout stats stattest symbols; do
  if CK_FORK=no valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite "$RV_BUILD_DIR/tests/test_$t" >"$log" 2>&1; then
    echo "ok - $t: clean under memcheck ($(grep -E '^[0-9]+%' "$log"))"
  else
    echo "FAIL: $t under memcheck:"
    cat "$log"
    rc=1
  fi
done
exit $rc
