#!/usr/bin/env bash
# docs/config.md is what `rendezvous config-doc` prints from the key table:
# fails with the difference when a key changed and the doc was not
# regenerated (rendezvous config-doc > docs/config.md).
. "$(dirname "$0")/lib.sh"

"$RV_BIN" config-doc >"$TMP/config.md" || fail "config-doc exits non-zero"
if ! diff -u "$RV_SOURCE_DIR/docs/config.md" "$TMP/config.md"; then
  fail "docs/config.md differs from 'rendezvous config-doc' (above); regenerate it"
fi
pass "docs/config.md is generated from the key table"

"$RV_BIN" --help | grep -q "rendezvous config-doc" || fail "--help lacks config-doc"
set +e; "$RV_BIN" config-doc extra >/dev/null 2>&1; rc=$?; set -e
[ $rc -eq 2 ] || fail "config-doc with an argument should exit 2, got $rc"
pass "config-doc in --help, bad usage refused"
