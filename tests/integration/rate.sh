#!/usr/bin/env bash
# `rendezvous rate`: a host with the demo's models records its traffic
# (the decoy's segment files and the archive topic); the archive is then
# rated offline through the same config and through a changed candidate:
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

report() { "$RV_BIN" rate -c "$@" --labels "$TMP/labels.csv" --results "$TMP/results.jsonl" --json; }
report "$TMP/live.yaml" "$TMP/archive" >"$TMP/live.json" || fail "rate failed"
report "$TMP/changed.yaml" "$TMP/archive" >"$TMP/changed.json" || fail "rating of the candidate failed"
report "$TMP/live.yaml" --topic rp.archive -b "$BOOTSTRAP" >"$TMP/topic.json" ||
  fail "rating from the topic failed"
stop_host
$PY - "$TMP/live.json" "$TMP/changed.json" "$TMP/topic.json" "$N" <<'PY'
import json, sys
live, changed, topic = (json.load(open(p)) for p in sys.argv[1:4])
n = int(sys.argv[4])
for r in (live, changed, topic):
    assert r["requests"] == n, f"{r['requests']} requests rated, expected {n}"
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
print(f"rated {n}: xgb-v1 accuracy {live['models'][0]['accuracy']:.4f}, "
      f"AUC {live['models'][0]['auc']:.4f}; the changed candidate chooses otherwise for {n}")
PY
pass "rating of the archive (segments and topic) through the live config and a changed candidate"
out=$("$RV_BIN" rate -c "$TMP/live.yaml" "$TMP/archive" --limit 100)
assert_contains "$out" "rating of 100 request(s)" "the table report"
assert_contains "$out" "agreement of top labels" "the table report"
printf 'id,label\nbreast_cancer-1\n' >"$TMP/bad.csv"
! err=$("$RV_BIN" rate -c "$TMP/live.yaml" "$TMP/archive" --labels "$TMP/bad.csv" 2>&1) ||
  fail "a bad labels file was accepted"
assert_contains "$err" "bad.csv:2: expected id,label" "a bad labels file"
pass "the table report, --limit, and a bad labels file refused with its line"

# Known answers: four requests x = 0..3 through two fixture models whose
# "yes" score is a line in x, and a logistic canary; every number of the
# report worked out by hand (see the comments).
start_broker $(service_topics kn)
echo '{"kind": "logistic", "features": ["x"], "labels": ["no", "yes"], "coef": [[2.0]], "intercept": [-3.0]}' >"$TMP/kn-canary.json"
cat >"$TMP/kn.yaml" <<YAML
service: kn
state_dir: $TMP/kn-state
streams: {brokers: embedded}
input: {features: [x]}
models:
  - {name: m1, plugin: $RV_FIXTURE_DIR/ok.so, params: {score: "0.1", weight: "0.2"}}
  - {name: m2, plugin: $RV_FIXTURE_DIR/ok_b.so, params: {score: "0.9", weight: "-0.2"}}
  - {name: canary, builtin: canary, params: {model_file: $TMP/kn-canary.json}}
  - {name: decoy, builtin: decoy, params: {dir: $TMP/kn-archive}}
rendezvous:
  schedule: [{model: m1, within_ms: 3000}, {model: m2, within_ms: 4000}]
YAML
start_host "$TMP/kn.yaml" "$TMP/kn.log"
printf 'r%d|{"x": %d}\n' 0 0 1 1 2 2 3 3 | kcat -P -b "$BOOTSTRAP" -t kn.requests -K'|'
wait_count kn.results 4 30
stop_host
printf 'id,label\nr0,no\nr1,yes\nr2,no\nr3,yes\n' >"$TMP/kn-labels.csv"
# as if recorded live: r1 answered by m2, r2 by nobody (the default)
printf '%s\n' '{"id":"r0","model":"m1"}' '{"id":"r1","model":"m2"}' '{"id":"r2","model":null}' \
  '{"id":"r3","model":"m1"}' >"$TMP/kn-results.jsonl"
segments=$(ls "$TMP/kn-archive")
"$RV_BIN" rate -c "$TMP/kn.yaml" "$TMP/kn-archive" --labels "$TMP/kn-labels.csv" \
  --results "$TMP/kn-results.jsonl" --json >"$TMP/kn.json" || fail "rating of the known archive"
[ "$(ls "$TMP/kn-archive")" = "$segments" ] || fail "rate wrote into the archive it read"
$PY - "$TMP/kn.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = {x["name"]: x for x in r["models"]}
def near(a, b): return abs(a - b) < 1e-9
# m1 "yes" = 0.1, 0.3, 0.5, 0.7 and always first; truth no, yes, no, yes
assert near(m["m1"]["accuracy"], 0.5), m["m1"]
# one-vs-rest AUC, yes: positives 0.3, 0.7 over negatives 0.1, 0.5 -> 3/4;
# no (1 - s) mirrors it; the third label has no positive and is left out
assert near(m["m1"]["auc"], 0.75), m["m1"]
# m2 "yes" = 0.9, 0.7, 0.5, 0.3: positives 0.7, 0.3 over 0.9, 0.5 -> 1/4
assert near(m["m2"]["auc"], 0.25), m["m2"]
# the canary: p(yes) = sigmoid(2x - 3) = .047 .269 .731 .953: tops no no yes yes
assert near(m["canary"]["accuracy"], 0.5) and near(m["canary"]["auc"], 0.75), m["canary"]
assert near(m["m1"]["agreement"]["m2"], 1.0), m["m1"]   # both say yes first
assert near(m["m1"]["canary_agreement"], 0.5), m["m1"]  # yes yes yes yes vs no no yes yes
# KS of {.1 .3 .5 .7} against {.047 .269 .731 .953}: at 0.7, 1 - 0.5
assert near(m["m1"]["canary_shift_ks"], 0.5), m["m1"]
# the candidate (m1 first, every answer ok) picks m1 four times: r1, r2 differ
assert r["results"] == {"compared": 4, "chosen_differently": 2}, r["results"]
assert r["requests"] == 4
PY
pass "the report's numbers on a small archive with known answers"
