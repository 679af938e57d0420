#!/usr/bin/env bash
# `rendezvous replay`: a host with the demo's models records its traffic
# (the decoy's segment files and the archive topic); the archive is then
# replayed offline through the same config and through a changed candidate:
# every request scored by every model, accuracy and AUC against the data
# set's labels, and how often each schedule would have chosen otherwise
# than the host did live.
. "$(dirname "$0")/lib.sh"
start_broker $(service_topics rp)
MODELS=$RV_SOURCE_DIR/conf/models
FEATURES=$($PY -c "import json,sys; print(', '.join(json.load(open(sys.argv[1]))['features']))" \
  "$MODELS/breast_cancer-linear.json")

candidate() { # file first-model second-model
  cat >"$1" <<YAML
service: rp
state_dir: $TMP/state
streams: {brokers: embedded}
input: {features: [$FEATURES]}
models:
  - name: xgb-v1
    plugin: $RV_BUILD_DIR/plugins/libxgboost_model.so
    params: {model_file: $MODELS/breast_cancer-xgb.json, labels: "malignant,benign"}
    max_batch: 64
  - name: linear-v1
    plugin: $RV_BUILD_DIR/plugins/liblinear_model.so
    params: {model_file: $MODELS/breast_cancer-linear.json}
  - {name: canary, builtin: canary, params: {model_file: $MODELS/breast_cancer-canary.json}}
  - {name: decoy, builtin: decoy, params: {dir: $TMP/archive}}
rendezvous:
  schedule: [{model: $2, within_ms: 3000}, {model: $3, within_ms: 4000}]
YAML
}
candidate "$TMP/live.yaml" xgb-v1 linear-v1
candidate "$TMP/changed.yaml" linear-v1 xgb-v1
$PY - "$RV_SOURCE_DIR/conf/data/breast_cancer.expected.jsonl" >"$TMP/labels.csv" <<'PY'
import json, sys
print("id,label")
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"{r['id']},{r['label']}")
PY
N=$(($(wc -l <"$TMP/labels.csv") - 1))

start_host "$TMP/live.yaml" "$TMP/live.log"
paste -d'|' <(tail -n +2 "$TMP/labels.csv" | cut -d, -f1) "$RV_SOURCE_DIR/conf/data/breast_cancer.jsonl" |
  kcat -P -b "$BOOTSTRAP" -t rp.requests -K'|'
wait_count rp.results "$N" 60
consume rp.results >"$TMP/results.jsonl"

report() { "$RV_BIN" replay -c "$@" --labels "$TMP/labels.csv" --results "$TMP/results.jsonl" --json; }
report "$TMP/live.yaml" "$TMP/archive" >"$TMP/live.json" || fail "replay failed"
report "$TMP/changed.yaml" "$TMP/archive" >"$TMP/changed.json" || fail "replay of the candidate failed"
report "$TMP/live.yaml" --topic rp.archive -b "$BOOTSTRAP" >"$TMP/topic.json" ||
  fail "replay from the topic failed"
stop_host
$PY - "$TMP/live.json" "$TMP/changed.json" "$TMP/topic.json" "$N" <<'PY'
import json, sys
live, changed, topic = (json.load(open(p)) for p in sys.argv[1:4])
n = int(sys.argv[4])
for r in (live, changed, topic):
    assert r["requests"] == n, f"{r['requests']} requests replayed, expected {n}"
    models = {m["name"]: m for m in r["models"]}
    assert set(models) == {"xgb-v1", "linear-v1", "canary"}, models.keys()
    for m in models.values():
        assert m["ok"] == n and m["error"] == 0, m
    assert models["xgb-v1"]["accuracy"] > 0.95 and models["xgb-v1"]["auc"] > 0.98, models["xgb-v1"]
    assert models["linear-v1"]["accuracy"] > 0.9, models["linear-v1"]
    assert 0.8 < models["xgb-v1"]["canary_agreement"] <= 1, models["xgb-v1"]
    assert 0 <= models["xgb-v1"]["canary_shift_ks"] < 1, models["xgb-v1"]
    assert models["xgb-v1"]["agreement"]["linear-v1"] == models["linear-v1"]["agreement"]["xgb-v1"]
assert live["results"] == {"compared": n, "chosen_differently": 0}, live["results"]
assert changed["results"] == {"compared": n, "chosen_differently": n}, changed["results"]
print(f"replayed {n}: xgb-v1 accuracy {live['models'][0]['accuracy']:.4f}, "
      f"AUC {live['models'][0]['auc']:.4f}; the changed candidate chooses otherwise for {n}")
PY
pass "replay of the archive (segments and topic) through the live config and a changed candidate"
out=$("$RV_BIN" replay -c "$TMP/live.yaml" "$TMP/archive" --limit 100)
assert_contains "$out" "replay of 100 request(s)" "the table report"
assert_contains "$out" "agreement of top labels" "the table report"
printf 'id,label\nbreast_cancer-1\n' >"$TMP/bad.csv"
! err=$("$RV_BIN" replay -c "$TMP/live.yaml" "$TMP/archive" --labels "$TMP/bad.csv" 2>&1) ||
  fail "a bad labels file was accepted"
assert_contains "$err" "bad.csv:2: expected id,label" "a bad labels file"
pass "the table report, --limit, and a bad labels file refused with its line"
