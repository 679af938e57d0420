#!/usr/bin/env bash
# The canary monitor through the real binary: a model whose scores are
# shifted away from the canary's raises an alert record on the alerts
# stream at the first window's test, with its p-value and level; a model
# identical to the canary raises none.
. "$(dirname "$0")/lib.sh"
PLUG=$RV_BUILD_DIR/plugins
DATA=$RV_SOURCE_DIR/conf/data
MODELS=$RV_SOURCE_DIR/conf/models

start_broker $(service_topics can)
# The shifted model: the canary's weights with the intercept moved by +12
# (agreement 0.68 over the first 250 rows).
$PY - "$MODELS/breast_cancer-canary.json" "$TMP/shifted.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["intercept"] = [v + 12.0 for v in m["intercept"]]
json.dump(m, open(sys.argv[2], "w"))
PY
features=$($PY -c "import json,sys; print(', '.join(json.load(open(sys.argv[1]))['features']))" \
  "$MODELS/breast_cancer-canary.json")
cat >"$TMP/can.yaml" <<YAML
service: can
state_dir: $TMP/state
streams: {brokers: embedded}
input: {features: [$features]}
models:
  - {name: same, plugin: $PLUG/liblinear_model.so, params: {model_file: $MODELS/breast_cancer-canary.json}}
  - {name: shifted, plugin: $PLUG/liblinear_model.so, params: {model_file: $TMP/shifted.json}}
  - name: canary
    builtin: canary
    params: {model_file: $MODELS/breast_cancer-canary.json, window: 250, min_agreement: 0.9, max_score_shift: 0.1}
rendezvous:
  schedule: [{model: same, within_ms: 500}]
alerts: {for: 1} # raised at the first test
YAML
start_host "$TMP/can.yaml" "$TMP/can.log"
n=$(wc -l <"$DATA/breast_cancer.jsonl")
kcat -P -b "$BOOTSTRAP" -t can.requests "$DATA/breast_cancer.jsonl" -l 2>/dev/null ||
  kcat -P -b "$BOOTSTRAP" -t can.requests <"$DATA/breast_cancer.jsonl"
wait_count can.results "$n"
sleep 0.5
stop_host
consume can.alerts >"$TMP/alerts"
$PY - "$TMP/alerts" <<'PY'
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
shifted = [a for a in alerts if a["model"] == "shifted" and a["type"] == "alert"]
same = [a for a in alerts if a["model"] == "same"]
assert shifted, f"no alert for the shifted model: {alerts}"
assert {a["check"] for a in shifted} == {"agreement", "score_shift"}, shifted
for a in shifted:
    assert a["p_value"] < a["alpha"] < 2e-6 and a["window"] == 250 and a["for"] == 1, a
assert not same, f"the model identical to the canary raised alerts: {same}"
for a in shifted:
    print(f"alert: {a['message']}")
PY
grep -q "ALERT model shifted diverges" "$TMP/can.log" || fail "the alert is not in the log"
pass "shifted model alerts, identical model does not"
