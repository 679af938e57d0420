# lib.sh - shared by the integration tests: strict mode, a scratch dir that
# is removed on exit, and assertions that say what they expected.
set -euo pipefail
: "${RV_BIN:?}" "${RV_SOURCE_DIR:?}" "${RV_BUILD_DIR:?}"
TMP=$(mktemp -d /tmp/rv-it-XXXXXX)
cleanup_hooks=()
on_exit() {
  local rc=$?
  for h in "${cleanup_hooks[@]}"; do eval "$h" || true; done
  rm -rf "$TMP"
  exit $rc
}
trap on_exit EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }
assert_contains() { # haystack needle what
  grep -qF -- "$2" <<<"$1" || fail "$3: expected to find '$2' in:"$'\n'"$1"
}
