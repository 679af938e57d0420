#!/usr/bin/env bash
# `rendezvous check` and the command line, run as a user would.
. "$(dirname "$0")/lib.sh"

out=$("$RV_BIN" --version) || fail "--version exits non-zero"
assert_contains "$out" "plugin ABI 1.0" "--version"
"$RV_BIN" --help | grep -q "rendezvous check -c FILE" || fail "--help"
"$RV_BIN" --help | grep -q "rendezvous evaluate -c FILE .*--http HOST:PORT" || fail "--help: evaluate's --http"
set +e; "$RV_BIN" --no-such-flag 2>/dev/null; rc=$?; set -e
[ $rc -eq 2 ] || fail "unknown flag should exit 2, got $rc"
set +e; "$RV_BIN" no-such-command 2>"$TMP/usage"; rc=$?; set -e
[ $rc -eq 2 ] && grep -q "rendezvous topics -c FILE" "$TMP/usage" ||
  fail "an unknown command should exit 2 with the usage, got $rc: $(head -2 "$TMP/usage")"
# the offline rating's former name answers with its new one, and only that
set +e; "$RV_BIN" replay -c x.yaml dir 2>"$TMP/replay.err" >"$TMP/replay.out"; rc=$?; set -e
[ $rc -eq 2 ] && [ "$(wc -l <"$TMP/replay.err")" -eq 1 ] && [ ! -s "$TMP/replay.out" ] &&
  grep -q 'rendezvous replay is now `rendezvous rate`' "$TMP/replay.err" ||
  fail "rendezvous replay should exit 2 with a one-line hint, got $rc: $(cat "$TMP/replay.err")"
"$RV_BIN" --help | grep -q "rendezvous rate -c CANDIDATE.yaml" || fail "--help: rate"
! "$RV_BIN" --help | grep -q "rendezvous replay" || fail "--help lists the former name replay"
# a takeover needs the site it is at, and another site to take over
write_service nosite "$TMP/nosite.yaml" <<YAML
models: [{name: a, plugin: $RV_FIXTURE_DIR/ok.so}]
rendezvous: {schedule: [{model: a, within_ms: 100}]}
YAML
set +e; "$RV_BIN" takeover -c "$TMP/nosite.yaml" 2>"$TMP/usage"; rc=$?; set -e
[ $rc -eq 2 ] && grep -q "takeover -c FILE --from SITE" "$TMP/usage" || fail "takeover without --from: $rc"
for from in east west; do
  sed 's/^input:/site: {name: west}\ninput:/' "$TMP/nosite.yaml" >"$TMP/west.yaml"
  f=$([ $from = east ] && echo "$TMP/nosite.yaml" || echo "$TMP/west.yaml")
  set +e; "$RV_BIN" takeover -c "$f" --from "$from" 2>"$TMP/takeover.err"; rc=$?; set -e
  want=$([ $from = east ] && echo "the config has no site section" || echo "it is this site")
  [ $rc -eq 2 ] && grep -q "cannot take over site $from: $want" "$TMP/takeover.err" ||
    fail "takeover --from $from: $rc $(cat "$TMP/takeover.err")"
done
pass "--version, --help, bad usage; replay's hint to rate; a takeover without a site section, or of its own site, refused"

# The demo config builds: every plugin loaded, created and warmed.
cp -r "$RV_SOURCE_DIR/conf" "$TMP/conf"
sed -i "s|\.\./build/plugins|$RV_BUILD_DIR/plugins|" "$TMP/conf/demo.yaml"
out=$("$RV_BIN" check -c "$TMP/conf/demo.yaml") || fail "check demo.yaml: $out"
assert_contains "$out" "model xgb-v1" "demo summary"
assert_contains "$out" "plugin xgboost 1.0" "demo summary"
assert_contains "$out" "labels [malignant, benign]" "demo labels"
assert_contains "$out" "schedule: 0. xgb-v1 within 20 ms; 1. linear-v1 within 40 ms" "demo schedule"
assert_contains "$out" "demo.yaml: ok" "demo verdict"
ls "$TMP/conf/state/plugins/"*.so >/dev/null || fail "no private plugin copies"
pass "check builds the demo"

# Five mistakes, five errors, each with file:line:column and key path.
set +e
err=$("$RV_BIN" check -c "$RV_SOURCE_DIR/tests/configs/five_mistakes.yaml" 2>&1 >/dev/null)
rc=$?
set -e
[ $rc -eq 2 ] || fail "five mistakes should exit 2, got $rc"
f="$RV_SOURCE_DIR/tests/configs/five_mistakes.yaml"
for want in "$f:5:3: streams.partitons: unknown key" \
            "$f:7:28: input.features[2]: duplicate feature" \
            "$f:10:13: models[0].plugin: plugin 'data/missing.so' not found" \
            "$f:11:16: models[0].instances: expected a positive integer" \
            "$f:17:16: rendezvous.schedule[1].model: no model named 'svm'" \
            "5 error(s), nothing would be served"; do
  assert_contains "$err" "$want" "five mistakes"
done
pass "five mistakes reported at once"

# A plugin that fails an ABI check is refused with the check that failed.
write_conf() { # plugin params
  cat >"$TMP/bad.yaml" <<YAML
service: t
state_dir: $TMP/state
streams: {brokers: embedded}
input: {features: [x]}
models:
  - name: m
    plugin: $1
    params: {$2}
rendezvous:
  schedule: [{model: m, within_ms: 5}]
YAML
}
expect_refused() { # plugin params needle
  write_conf "$1" "$2"
  set +e; err=$("$RV_BIN" check -c "$TMP/bad.yaml" 2>&1); rc=$?; set -e
  [ $rc -eq 2 ] || fail "$1 should be refused (rc $rc)"
  assert_contains "$err" "$TMP/bad.yaml:6: models[0] (m): " "refusal names file and line"
  assert_contains "$err" "$3" "refusal reason"
}
expect_refused "$RV_FIXTURE_DIR/major_mismatch.so" "" "major version: plugin has 2, host has 1"
expect_refused "$RV_FIXTURE_DIR/bad_magic.so" "" "magic: plugin has 0x12345678"
expect_refused "$RV_FIXTURE_DIR/not_elf.so" "" "dlopen failed"
expect_refused "$RV_FIXTURE_DIR/ok.so" "fail_create: 'true'" "create failed"
expect_refused "$RV_FIXTURE_DIR/ok.so" "fail_warm: 'true'" "warm failed"
pass "bad plugins refused with the failed check"

# Pinned plugins: check prints each plugin's digest; pinned to it, the
# config builds; pinned to another file's, it is refused with both.
write_conf "$RV_FIXTURE_DIR/ok.so" ""
digest=$(sha256sum "$RV_FIXTURE_DIR/ok.so" | cut -d' ' -f1)
other=$(sha256sum "$RV_FIXTURE_DIR/ok_b.so" | cut -d' ' -f1)
out=$("$RV_BIN" check -c "$TMP/bad.yaml" 2>&1) || fail "check: $out"
assert_contains "$out" "plugin $RV_FIXTURE_DIR/ok.so sha256 $digest" "check prints the digest"
sed -i "s|^    plugin: .*|&\n    sha256: $digest|" "$TMP/bad.yaml"
out=$("$RV_BIN" check -c "$TMP/bad.yaml" 2>&1) || fail "pinned to its own digest: $out"
sed -i "s|sha256: $digest|sha256: $other|" "$TMP/bad.yaml"
set +e; err=$("$RV_BIN" check -c "$TMP/bad.yaml" 2>&1); rc=$?; set -e
[ $rc -eq 2 ] || fail "a plugin pinned to another digest should be refused (rc $rc)"
assert_contains "$err" "refused: its sha256 is $digest, the config pins $other" "both digests"
set +e; err=$(timeout 60 "$RV_BIN" -c "$TMP/bad.yaml" 2>&1); rc=$?; set -e
[ $rc -eq 2 ] || fail "a host whose plugin is pinned to another digest should not start (rc $rc)"
assert_contains "$err" "refused: its sha256 is $digest, the config pins $other" "both digests at start"
sed -i "s|sha256: $other|sha256: NOTHEX|" "$TMP/bad.yaml"
set +e; err=$("$RV_BIN" check -c "$TMP/bad.yaml" 2>&1); rc=$?; set -e
[ $rc -eq 2 ] || fail "a malformed digest should be refused (rc $rc)"
assert_contains "$err" "'NOTHEX' is not a SHA-256 in hex" "malformed digest"
pass "pinned plugins: check prints the digest; the pinned file builds, another is refused with both digests"

# Model files: missing, corrupt, or with another feature count than the
# config declares are refused by check with a clear message.
PLUG=$RV_BUILD_DIR/plugins
echo '{"learner": garbage' >"$TMP/corrupt.json"
echo 'not json at all' >"$TMP/corrupt-linear.json"
expect_refused "$PLUG/libxgboost_model.so" "model_file: $TMP/nope.json" "model file"
assert_contains "$err" "nope.json" "missing xgboost model file named"
expect_refused "$PLUG/libxgboost_model.so" "model_file: $TMP/corrupt.json" "cannot load model file"
expect_refused "$PLUG/libxgboost_model.so" \
  "model_file: $RV_SOURCE_DIR/conf/models/breast_cancer-xgb.json" \
  "model has 30 features, the config declares 1"
expect_refused "$PLUG/liblinear_model.so" "model_file: $TMP/nope.json" "cannot open model file"
expect_refused "$PLUG/liblinear_model.so" "model_file: $TMP/corrupt-linear.json" "is not valid JSON"
expect_refused "$PLUG/liblinear_model.so" \
  "model_file: $RV_SOURCE_DIR/conf/models/breast_cancer-linear.json" \
  "has 30 features, the config declares 1"
pass "missing, corrupt and mis-shaped model files refused"
