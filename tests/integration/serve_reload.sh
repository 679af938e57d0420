#!/usr/bin/env bash
# Hot reload (docs/design.md, 3. Generations) under continuous load, with the real
# binary, a standalone broker and kcat.
. "$(dirname "$0")/lib.sh"
FX=$RV_FIXTURE_DIR

start_broker $(service_topics swap) $(service_topics faults) $(service_topics same) \
  $(service_topics ctl) $(service_topics sig) $(service_topics many) $(service_topics watched)

reload_service() { # name plugin-line params-line [extra models]
  write_service "$1" "$TMP/$1.yaml" <<YAML
models:
  - {name: a, plugin: $2, params: {$3}}
  - {name: decoy, builtin: decoy}
${4:-}
rendezvous:
  schedule: [{model: a, within_ms: 2000}]
reload: {warmup_requests: 50, warmup_budget_ms: ${5:-5000}}
YAML
}

# Replacing a model's .so in place and SIGHUP: results move to the new
# version; nothing lost, nothing answered twice, no default from the swap.
case_swap() {
  cp "$FX/ok.so" "$TMP/model.so"
  reload_service swap "$TMP/model.so" ""
  start_host "$TMP/swap.yaml" "$TMP/swap.log"
  load swap 100
  wait_count swap.results 100 # the host is consuming: now the traffic
  load swap 4000 101 &
  local loader=$!
  sleep 0.7
  cp "$FX/ok_b.so" "$TMP/model.so" # overwrite the file the host loaded
  kill -HUP "$HOST_PID"
  wait_log "$TMP/swap.log" "reloaded: generation 2" 1
  wait $loader
  wait_count swap.results 4000 60
  sleep 0.5
  stop_host
  check_exactly_once swap 4000
  $PY - "$TMP/swap.results" <<'PY'
import json, sys
rs = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: int(r["id"].split("-")[1]))
versions = [r["version"] for r in rs]
first, last = versions[0], versions[-1]
assert first != last, "the version never changed"
switch = versions.index(last)
assert all(v == first for v in versions[:switch]), "old version after the new one"
print(f"  {switch} results from {first}, {len(rs) - switch} from {last}")
PY
  grep -q "model a warmed on [0-9]* recent requests" "$TMP/swap.log" || fail "no warm-up on traffic"
  pass "swap under load: 4000 requests, every one answered once, none default"
}

# Each kind of fault leaves the old model answering, with the error logged.
case_faults() {
  reload_service faults "$FX/ok.so" "" "" 5000
  cp "$TMP/faults.yaml" "$TMP/faults.good"
  start_host "$TMP/faults.yaml" "$TMP/faults.log"
  load faults 200
  wait_count faults.results 200
  local n=0 sent=200
  fault() { # description expected-log-text
    n=$((n + 1))
    kill -HUP "$HOST_PID"
    wait_log "$TMP/faults.log" "reload: failed" "$n"
    grep "reload: failed" "$TMP/faults.log" | tail -1 | grep -qF -- "$2" ||
      fail "$1: expected '$2' in: $(grep 'reload: failed' "$TMP/faults.log" | tail -1)"
    for i in $(seq $((sent + 1)) $((sent + 20))); do echo "faults-$i:{\"x\": 1, \"y\": 1}"; done |
      kcat -P -b "$BOOTSTRAP" -t faults.requests -K:
    sent=$((sent + 20))
    wait_count faults.results "$sent"
    pass "$1: refused ($2), the old model still answers"
  }
  echo "models: [ {name: broken" >>"$TMP/faults.yaml"
  fault "broken YAML" "faults.yaml:"
  reload_service faults "$TMP/does-not-exist.so" ""
  fault "missing plugin" "plugin '$TMP/does-not-exist.so' not found"
  reload_service faults "$FX/major_mismatch.so" ""
  fault "ABI major mismatch" "major version: plugin has 2, host has 1"
  local other
  other=$(sha256sum "$FX/ok_b.so" | cut -d' ' -f1)
  reload_service faults "$FX/ok.so, sha256: $other" ""
  fault "plugin pinned to another digest" "refused: its sha256 is $(sha256sum "$FX/ok.so" | cut -d' ' -f1), the config pins $other"
  reload_service faults "$FX/ok.so" "fail_create: 'true'"
  fault "create fails" "create failed"
  reload_service faults "$FX/ok.so" "fail_warm: 'true'"
  fault "warm fails" "warm failed"
  reload_service faults "$FX/ok.so" "sleep_ms: 100, error: 'no'" "" 150
  sed -i 's/params: {sleep_ms: 100/max_batch: 1, params: {sleep_ms: 100/' "$TMP/faults.yaml"
  fault "warm-up too slow" "warm-up too slow"
  reload_service faults "$FX/ok.so" "error: always"
  fault "warm-up answers errors" "warm-up on recent traffic failed"
  # model files of the real plugins: missing, corrupt, other feature count
  local XGB=$RV_BUILD_DIR/plugins/libxgboost_model.so LIN=$RV_BUILD_DIR/plugins/liblinear_model.so
  echo '{"learner": ' >"$TMP/corrupt.json"
  reload_service faults "$XGB" "model_file: $TMP/missing.json"
  fault "missing model file" "missing.json"
  reload_service faults "$XGB" "model_file: $TMP/corrupt.json"
  fault "corrupt model file" "cannot load model file $TMP/corrupt.json"
  reload_service faults "$XGB" "model_file: $RV_SOURCE_DIR/conf/models/breast_cancer-xgb.json"
  fault "feature count (xgboost)" "model has 30 features, the config declares 2"
  reload_service faults "$LIN" "model_file: $RV_SOURCE_DIR/conf/models/digits-linear.json"
  fault "feature count (linear)" "has 64 features, the config declares 2"
  stop_host
  check_exactly_once faults "$sent"
  grep -q "summary: .*" "$TMP/faults.log"
  grep -q "reloads: 0 ok, $n failed" "$TMP/faults.log" || fail "failed reloads not counted"
}

# Reloading an unchanged config creates no instance.
case_same() {
  mkdir -p "$TMP/same-creates"
  reload_service same "$FX/ok.so" "create_log_dir: $TMP/same-creates"
  sed -i "s/^  - {name: a, plugin/  - {name: a, instances: 2, plugin/" "$TMP/same.yaml"
  start_host "$TMP/same.yaml" "$TMP/same.log"
  local before
  before=$(grep -vc '^destroy' "$TMP/same-creates/creates.log")
  for k in 1 2 3; do
    kill -HUP "$HOST_PID"
    wait_log "$TMP/same.log" "reloaded: generation" "$k"
  done
  stop_host
  [ "$(grep -vc '^destroy' "$TMP/same-creates/creates.log")" -eq "$before" ] ||
    fail "an unchanged reload created instances: $(cat "$TMP/same-creates/creates.log")"
  grep -q "2 model(s) reused, 0 new" "$TMP/same.log" || fail "reuse not reported"
  pass "3 reloads of an unchanged config: $before creates at start, none after"
}

# A control record promotes a shadow model: later results are chosen from it
# and carry the new schedule version.
case_control() {
  reload_service ctl "$FX/ok.so" "" "  - {name: shadow, plugin: $FX/ok_b.so}"
  start_host "$TMP/ctl.yaml" "$TMP/ctl.log"
  load ctl 50
  wait_count ctl.results 50
  echo '{"schedule": [{"model": "nope", "within_ms": 10}]}' |
    kcat -P -b "$BOOTSTRAP" -t ctl.control
  wait_log "$TMP/ctl.log" "refused, schedule unchanged: schedule\[0\]: no serving model named 'nope'" 1
  echo '{"schedule": [{"model": "shadow", "within_ms": 500}, {"model": "a", "within_ms": 1000}]}' |
    kcat -P -b "$BOOTSTRAP" -t ctl.control
  wait_log "$TMP/ctl.log" "control record: generation" 1
  for i in $(seq 51 100); do echo "ctl-$i:{\"x\": 1, \"y\": 1}"; done |
    kcat -P -b "$BOOTSTRAP" -t ctl.requests -K:
  wait_count ctl.results 100
  stop_host
  check_exactly_once ctl 100
  $PY - "$TMP/ctl.results" <<'PY'
import json, sys
rs = {r["id"]: r for r in map(json.loads, open(sys.argv[1]))}
before = [rs[f"ctl-{i}"] for i in range(1, 51)]
after = [rs[f"ctl-{i}"] for i in range(51, 101)]
assert all(r["model"] == "a" and r["schedule_version"] == 1 for r in before), before[0]
assert all(r["model"] == "shadow" and r["schedule_version"] == 2 for r in after), after[0]
PY
  pass "control record promoted the shadow model; schedule version 1 -> 2"
}

# With control.key_file, schedule changes must be signed: unsigned, signed
# with another key, and another record's signature are refused and alerted;
# a signed one is applied; the key never shows in the log.
case_signed() {
  reload_service sig "$FX/ok.so" "" "  - {name: shadow, plugin: $FX/ok_b.so}"
  local key=k3y-$RANDOM$RANDOM-0123456789abcdef
  echo "$key" >"$TMP/control.key"
  echo "control: {key_file: $TMP/control.key}" >>"$TMP/sig.yaml"
  start_host "$TMP/sig.yaml" "$TMP/sig.log"
  load sig 20
  wait_count sig.results 20
  local body='{"schedule": [{"model": "shadow", "within_ms": 500}, {"model": "a", "within_ms": 1000}]}'
  local other='{"schedule": [{"model": "a", "within_ms": 700}]}'
  hmac() { $PY -c 'import hashlib, hmac, sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())' "$1" "$2"; }
  echo "$body" | kcat -P -b "$BOOTSTRAP" -t sig.control
  wait_log "$TMP/sig.log" "refused, schedule unchanged: unsigned" 1
  echo "$body" | kcat -P -b "$BOOTSTRAP" -t sig.control -H "rv-signature=sha256=$(hmac other-key-0123456789 "$body")"
  wait_log "$TMP/sig.log" "refused, schedule unchanged: bad signature" 1
  echo "$body" | kcat -P -b "$BOOTSTRAP" -t sig.control -H "rv-signature=sha256=$(hmac "$key" "$other")"
  wait_log "$TMP/sig.log" "refused, schedule unchanged: bad signature" 2
  echo "$body" | kcat -P -b "$BOOTSTRAP" -t sig.control -H "rv-signature=sha256=$(hmac "$key" "$body")"
  wait_log "$TMP/sig.log" "control record: generation" 1
  for i in $(seq 21 40); do echo "sig-$i:{\"x\": 1, \"y\": 1}"; done |
    kcat -P -b "$BOOTSTRAP" -t sig.requests -K:
  wait_count sig.results 40
  wait_count sig.alerts 3
  stop_host
  consume sig.alerts >"$TMP/sig.alerts"
  [ "$(grep -c '"check":"control_signature"' "$TMP/sig.alerts")" -eq 3 ] ||
    fail "three refusals alerted: $(cat "$TMP/sig.alerts")"
  consume sig.results >"$TMP/sig.results"
  $PY - "$TMP/sig.results" <<'PY' || fail "the signed change was not applied alone"
import json, sys
rs = {r["id"]: r for r in map(json.loads, open(sys.argv[1]))}
assert all(rs[f"sig-{i}"]["schedule_version"] == 1 and rs[f"sig-{i}"]["model"] == "a" for i in range(1, 21))
assert all(rs[f"sig-{i}"]["schedule_version"] == 2 and rs[f"sig-{i}"]["model"] == "shadow" for i in range(21, 41))
PY
  ! grep -qF "$key" "$TMP/sig.log" "$TMP/sig.log.out" "$TMP/sig.alerts" || fail "the key is in a log"
  pass "signed control: unsigned, another key's and another record's signature refused and alerted; the signed change applied; no key in any log"
}

# 100 reloads in a row under load, each building a new model: nothing lost,
# nothing leaked (LeakSanitizer in the sanitizer build), memory flat.
case_many() {
  reload_service many "$FX/ok.so" "shift: '0.01'"
  sed 's/0.01/0.02/' "$TMP/many.yaml" >"$TMP/many.b"
  cp "$TMP/many.yaml" "$TMP/many.a"
  start_host "$TMP/many.yaml" "$TMP/many.log"
  load many 100
  wait_count many.results 100
  load many 6000 101 &
  local loader=$! rss10=0
  for k in $(seq 100); do
    if [ $((k % 2)) -eq 1 ]; then cp "$TMP/many.b" "$TMP/many.yaml"; else cp "$TMP/many.a" "$TMP/many.yaml"; fi
    kill -HUP "$HOST_PID"
    wait_log "$TMP/many.log" "reloaded: generation" "$k" 60
    [ "$k" -eq 10 ] && rss10=$(awk '/VmRSS/ {print $2}' "/proc/$HOST_PID/status")
  done
  local rss100
  rss100=$(awk '/VmRSS/ {print $2}' "/proc/$HOST_PID/status")
  wait $loader
  wait_count many.results 6000 120
  stop_host
  check_exactly_once many 6000
  if [ "${RV_SANITIZED:-OFF}" = "OFF" ]; then
    [ $((rss100 - rss10)) -lt 16384 ] ||
      fail "resident memory grew from ${rss10} kB after 10 reloads to ${rss100} kB after 100"
  fi
  pass "100 reloads under load: 6000 requests answered once; RSS ${rss10} kB at reload 10, ${rss100} kB at 100"
}

# watch: true: overwriting the plugin file reloads without a signal.
case_watch() {
  cp "$FX/ok.so" "$TMP/watched.so"
  reload_service watched "$TMP/watched.so" ""
  sed -i 's/^service: watched/service: watched\nwatch: true/' "$TMP/watched.yaml"
  start_host "$TMP/watched.yaml" "$TMP/watched.log"
  load watched 20
  wait_count watched.results 20
  cp "$FX/ok_b.so" "$TMP/watched.so"
  wait_log "$TMP/watched.log" "files changed: building a new generation" 1
  wait_log "$TMP/watched.log" "reloaded: generation 2" 1
  load watched 40 21
  wait_count watched.results 40
  stop_host
  check_exactly_once watched 40
  $PY - "$TMP/watched.results" <<'PY'
import json, sys
v = {int(r["id"].split("-")[1]): r["version"] for r in map(json.loads, open(sys.argv[1]))}
old, new = {v[i] for i in range(1, 21)}, {v[i] for i in range(21, 41)}
assert len(old) == 1 and len(new) == 1 and old != new, (old, new)
PY
  pass "watch: a changed plugin file reloaded the model without SIGHUP"
}

run_parallel ${RV_CASES:-case_swap case_faults case_same case_control case_signed case_many case_watch}
