#!/usr/bin/env bash
# Parity through the real host: every row of both data sets goes in through
# Kafka, and every model's scores on the scores stream equal the reference
# library's predict_proba (recorded by scripts/train_models.py): within 1e-5
# for XGBoost, 1e-9 for the linear models (plugin and canary).
. "$(dirname "$0")/lib.sh"
PLUG=$RV_BUILD_DIR/plugins
DATA=$RV_SOURCE_DIR/conf/data
MODELS=$RV_SOURCE_DIR/conf/models

start_broker $(service_topics bc) $(service_topics digits)

parity_case() { # service data-set labels
  local svc=$1 set=$2 labels=$3
  local features
  features=$($PY -c "import json,sys; print(', '.join(json.load(open(sys.argv[1]))['features']))" \
    "$MODELS/$set-linear.json")
  cat >"$TMP/$svc.yaml" <<YAML
service: $svc
state_dir: $TMP/state-$svc
streams: {brokers: embedded}
input: {features: [$features]}
models:
  # queues hold a whole data set: parity needs every row scored, never shed
  - {name: xgboost, plugin: $PLUG/libxgboost_model.so, max_batch: 64, instances: 2, queue_size: 4096,
     params: {model_file: $MODELS/$set-xgb.json, labels: "$labels"}}
  - {name: linear, plugin: $PLUG/liblinear_model.so, max_batch: 64, queue_size: 4096,
     params: {model_file: $MODELS/$set-linear.json}}
  - {name: canary, builtin: canary, queue_size: 4096, params: {model_file: $MODELS/$set-canary.json}}
rendezvous:
  schedule: [{model: xgboost, within_ms: 1000}, {model: linear, within_ms: 2000}]
YAML
  start_host "$TMP/$svc.yaml" "$TMP/$svc.log"
  local n
  n=$(wc -l <"$DATA/$set.jsonl")
  awk -v s="$set" '{ printf "%s-%d:%s\n", s, NR - 1, $0 }' "$DATA/$set.jsonl" |
    kcat -P -b "$BOOTSTRAP" -t "$svc.requests" -K:
  wait_count "$svc.results" "$n" 120
  wait_count "$svc.scores" $((3 * n)) 60
  stop_host
  consume "$svc.scores" >"$TMP/$svc.scores"
  $PY - "$TMP/$svc.scores" "$DATA/$set.expected.jsonl" "$labels" "$n" <<'PY'
import json, sys
scores, expected, labels, n = sys.argv[1], sys.argv[2], sys.argv[3].split(","), int(sys.argv[4])
want = {e["id"]: e for e in map(json.loads, open(expected))}
tol = {"xgboost": 1e-5, "linear": 1e-9, "canary": 1e-9}
worst = {m: 0.0 for m in tol}
seen = {m: 0 for m in tol}
for rec in map(json.loads, open(scores)):
    m = rec["model"]
    assert rec["status"] == "ok", rec
    assert len(rec["answers"]) == len(labels), f"{m} gave {len(rec['answers'])} answers"
    ref = want[rec["id"]][m]
    for a in rec["answers"]:
        d = abs(a["score"] - ref[labels.index(a["label"])])
        worst[m] = max(worst[m], d)
        assert d <= tol[m], f"{m} {rec['id']} {a['label']}: {a['score']} vs {ref}"
    seen[m] += 1
for m in tol:
    assert seen[m] == n, f"{m} scored {seen[m]} of {n} rows"
print("  " + ", ".join(f"{m}: {seen[m]} rows, max |diff| {worst[m]:.3g} (tolerance {tol[m]:g})"
                       for m in tol))
PY
  pass "parity on $set through the host"
}

case_bc() { parity_case bc breast_cancer "malignant,benign"; }
case_digits() { parity_case digits digits "0,1,2,3,4,5,6,7,8,9"; }
run_parallel case_bc case_digits
