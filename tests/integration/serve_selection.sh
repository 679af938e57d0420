#!/usr/bin/env bash
# The rendezvous rule through the real binary, a standalone broker and kcat:
# N requests give exactly N results with the expected chosen model and
# reason, for each way a model can fail.
. "$(dirname "$0")/lib.sh"
FX=$RV_FIXTURE_DIR

services="pref slow err dflt late noanswer"
topics=""
for s in $services; do topics="$topics $(service_topics $s)"; done
start_broker $topics

# run_case NAME N EXPECT_MODEL EXPECT_REASON: produce N requests, expect
# exactly N results, all with that model (or null) and reason.
run_case() {
  local name=$1 n=$2 model=$3 reason=$4
  start_host "$TMP/$name.yaml" "$TMP/$name.log"
  for i in $(seq "$n"); do echo "$name-$i:{\"x\": $i, \"y\": 1}"; done |
    kcat -P -b "$BOOTSTRAP" -t "$name.requests" -K:
  wait_count "$name.results" "$n"
  sleep 0.5 # a second result for any request would show up here
  consume "$name.results" >"$TMP/$name.results"
  stop_host
  $PY - "$TMP/$name.results" "$n" "$model" "$reason" "$name" <<'PY'
import json, sys
path, n, model, reason, name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rs = [json.loads(l) for l in open(path)]
ids = [r["id"] for r in rs]
assert len(rs) == n, f"{len(rs)} results for {n} requests"
assert sorted(ids) == sorted(f"{name}-{i}" for i in range(1, n + 1)), "ids differ"
want_model = None if model == "null" else model
for r in rs:
    assert r["model"] == want_model, f"chosen {r['model']}, expected {want_model}: {r}"
    assert r["reason"] == reason, f"reason {r['reason']}, expected {reason}: {r}"
    assert r["schedule_version"] >= 1 and isinstance(r["latency_us"], int), r
    if want_model is None:
        assert r["rank"] is None, r
    else:
        assert r["answers"] and r["version"], r
PY
  pass "$name: $n requests -> $n results, $model ($reason)"
}

# 1. The preferred model answers in time.
case_pref() {
write_service pref "$TMP/pref.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so, params: {score: 0.9}}
  - {name: b, plugin: $FX/ok_b.so}
  - {name: decoy, builtin: decoy}
rendezvous:
  schedule: [{model: a, within_ms: 500}, {model: b, within_ms: 1000}]
YAML
run_case pref 100 a preferred
}

# 2. The preferred model sleeps past its within_ms: the next entry wins.
case_slow() {
write_service slow "$TMP/slow.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so, params: {sleep_ms: 300}, max_batch: 64}
  - {name: b, plugin: $FX/ok_b.so}
rendezvous:
  schedule: [{model: a, within_ms: 20}, {model: b, within_ms: 2000}]
YAML
run_case slow 20 b fallback
}

# 3. The preferred model always errors: the next entry wins at once.
case_err() {
write_service err "$TMP/err.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so, params: {error: always}}
  - {name: b, plugin: $FX/ok_b.so}
rendezvous:
  schedule: [{model: a, within_ms: 5000}, {model: b, within_ms: 5000}]
YAML
run_case err 50 b fallback
}

# 4. Everything fails: the default answer.
case_dflt() {
write_service dflt "$TMP/dflt.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so, params: {error: always}}
  - {name: b, plugin: $FX/ok_b.so, params: {sleep_ms: 400}}
rendezvous:
  schedule: [{model: a, within_ms: 50}, {model: b, within_ms: 100}]
  default: {label: review, score: 0.5}
YAML
run_case dflt 20 null default
grep -q '"answers":\[{"label":"review","score":0.5' "$TMP/dflt.results" || fail "default answer missing"
}

# 5. The preferred model answers after its own deadline but before the next
# entry has answered: it is still chosen.
case_late() {
write_service late "$TMP/late.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so, params: {sleep_ms: 150}, max_batch: 64}
  - {name: b, plugin: $FX/ok_b.so, params: {sleep_ms: 1500}, max_batch: 64}
rendezvous:
  schedule: [{model: a, within_ms: 20}, {model: b, within_ms: 3000}]
YAML
run_case late 10 a preferred
}

# 6. Nothing answers ok and there is no default: an error result, model null.
case_noanswer() {
write_service noanswer "$TMP/noanswer.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so, params: {error: always}}
rendezvous:
  schedule: [{model: a, within_ms: 100}]
YAML
run_case noanswer 10 null default
grep -q '"status":"error"' "$TMP/noanswer.results" || fail "no-answer result lacks status error"
}

run_parallel case_pref case_slow case_err case_dflt case_late case_noanswer
