#!/usr/bin/env bash
# Every label record read counts under exactly one outcome, whatever it
# holds and whatever its size: the labels of 40 breast-cancer requests
# answered (one twice, one unknown), then records that are no label: an
# empty value, a truncated JSON, a value that is no JSON, an array and a
# number, an id that is a number, a 200 kB id, a label that is a number or
# missing, and a 900 kB label value (not among the labels: unknown). Each
# outcome's count in GET /v1/evaluation and in
# rendezvous_evaluation_labels_total is what was produced, and the
# outcomes add up to the records produced; a restart keeps the counts. On
# a real Kafka, the same through `rendezvous evaluate` (the role refuses
# the embedded broker).
. "$(dirname "$0")/lib.sh"
DATA=$RV_SOURCE_DIR/conf/data

start_broker $(service_topics evl) evl.labels evl.evaluation \
  $(service_topics evr) evr.labels evr.evaluation

# the requests and the label records, "key:value" lines; $TMP/want.json
# the count each outcome should reach
awk 'NR <= 40 { printf "breast_cancer-%d:%s\n", NR - 1, $0 }' "$DATA/breast_cancer.jsonl" >"$TMP/requests"
$PY - "$DATA/breast_cancer.expected.jsonl" "$TMP" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][:40]
tmp = sys.argv[2]
want = {}
records = []
def put(outcome, key, value):
    want[outcome] = want.get(outcome, 0) + 1
    records.append(f"{key}:{value}\n")
def label(i, lab, outcome="joined"):
    put(outcome, rows[i]["id"], json.dumps({"id": rows[i]["id"], "label": lab}))
for i in range(30):
    label(i, rows[i]["label"])
label(0, rows[0]["label"], "duplicate")
label(31, "cat", "unknown")
label(30, "x" * 900_000, "unknown")                          # a 900 kB label value
put("empty", rows[33]["id"], "")
put("malformed_json", rows[34]["id"], json.dumps({"id": rows[34]["id"], "label": "benign"})[:20])
put("malformed_json", rows[34]["id"], "benign, not JSON")
put("not_an_object", rows[35]["id"], json.dumps([{"id": rows[35]["id"], "label": "benign"}]))
put("not_an_object", rows[35]["id"], "17")
put("bad_id", "17", json.dumps({"id": 17, "label": "benign"}))
put("bad_id", "long-id", json.dumps({"id": "i" * 200_000, "label": "benign"}))   # a 200 kB id
put("bad_id", rows[36]["id"], json.dumps({"id": "", "label": "benign"}))
put("bad_label", rows[37]["id"], json.dumps({"id": rows[37]["id"], "label": 1}))
put("bad_label", rows[38]["id"], json.dumps({"id": rows[38]["id"]}))
open(f"{tmp}/labels", "w").writelines(records)
json.dump(want, open(f"{tmp}/want.json", "w"))
PY
produced=$(wc -l <"$TMP/labels")

# check NAME URL: once the outcomes reached the records produced (30 s at
# most) and a second later, each outcome's count in URL/v1/evaluation and in
# URL/metrics is the one wanted, and they add up to the records produced
check() {
  for _ in $(seq 300); do
    curl -sf "$2/v1/evaluation" >"$TMP/$1.json" 2>/dev/null && $PY - "$TMP/$1.json" "$produced" <<'PY' && break
import json, sys
c = json.load(open(sys.argv[1]))["counts"]
n = sum(v for k, v in c.items() if k == "joined" or k == "incomplete" or k.endswith("_labels")) - c["early_labels"]
sys.exit(0 if n >= int(sys.argv[2]) else 1)
PY
    sleep 0.1
  done
  sleep 1
  curl -sf "$2/v1/evaluation" >"$TMP/$1.json" || fail "$1: GET /v1/evaluation"
  curl -sf "$2/metrics" >"$TMP/$1.metrics" || fail "$1: GET /metrics"
  $PY - "$TMP/$1.json" "$TMP/$1.metrics" "$TMP/want.json" "$produced" <<'PY' || fail "$1: label outcomes"
import json, re, sys
counts = json.load(open(sys.argv[1]))["counts"]
metrics = {m[0]: int(float(m[1])) for m in
           re.findall(r'^rendezvous_evaluation_labels_total\{outcome="(\w+)"\} (\S+)$',
                      open(sys.argv[2]).read(), re.M)}
want, produced = json.load(open(sys.argv[3])), int(sys.argv[4])
outcomes = ["joined", "duplicate", "unknown", "unmatched", "incomplete", "empty",
            "malformed_json", "not_an_object", "bad_id", "bad_label"]
key = lambda o: o if o in ("joined", "incomplete") else o + "_labels"
bad = []
for o in outcomes:
    w, j, m = want.get(o, 0), counts.get(key(o)), metrics.get(o)
    print(f"{o:15} produced {w:3}  /v1/evaluation {j}  /metrics {m}")
    if j != w or m != w:
        bad.append(o)
assert sum(want.values()) == produced, (want, produced)
got = sum(metrics.values())
print(f"label records produced {produced}, outcomes in /metrics {got}")
assert not bad, f"outcomes not counted as produced: {bad}"
assert got == produced and set(metrics) == set(outcomes), metrics
PY
}

# in the host
PORT=$(free_ports 1)
evaluated_yaml evl "$TMP/state" "{labels: [benign, malignant], interval_ms: 200}" \
  "http: {listen: \"127.0.0.1:$PORT\"}" >"$TMP/evl.yaml"
start_host "$TMP/evl.yaml" "$TMP/evl.log"
kcat -P -b "$BOOTSTRAP" -t evl.requests -K: <"$TMP/requests"
wait_count evl.results 40
kcat -P -b "$BOOTSTRAP" -t evl.labels -K: <"$TMP/labels"
check host "http://127.0.0.1:$PORT"
stop_host
pass "in the host: each label record counted under one outcome (empty, malformed_json, not_an_object, bad_id with a 200 kB id, bad_label, unknown with a 900 kB label), in /v1/evaluation and /metrics, adding up to the $produced produced"
start_host "$TMP/evl.yaml" "$TMP/evl2.log"
check restarted "http://127.0.0.1:$PORT"
stop_host
pass "after a restart: the same counts, none lost and none read twice"

[ "${RV_BROKER:-embedded}" = kafka ] || exit 0
# the role: hosts with in_host: false, `rendezvous evaluate --http`
ROLE_PORT=$(free_ports 1)
evaluated_yaml evr "$TMP/state-role" "{labels: [benign, malignant], interval_ms: 200, in_host: false}" \
  >"$TMP/evr.yaml"
start_host "$TMP/evr.yaml" "$TMP/evr.log"
"$RV_BIN" evaluate -c "$TMP/evr.yaml" -b "$BOOTSTRAP" --http "127.0.0.1:$ROLE_PORT" >"$TMP/role.out" \
  2>"$TMP/role.log" &
ROLE_PID=$!
echo "$ROLE_PID" >>"$TMP/pids"
wait_log "$TMP/role.log" "evaluating" 1 30
sed 's/^breast_cancer/role/' "$TMP/requests" | kcat -P -b "$BOOTSTRAP" -t evr.requests -K:
wait_count evr.results 40 60
sed 's/breast_cancer-/role-/g' "$TMP/labels" | kcat -P -b "$BOOTSTRAP" -t evr.labels -K:
check role "http://127.0.0.1:$ROLE_PORT"
kill -TERM "$ROLE_PID"
wait "$ROLE_PID" || fail "evaluate exited non-zero on SIGTERM: $(tail -3 "$TMP/role.log")"
stop_host
pass "in the role (rendezvous evaluate): the same outcomes, counted the same"
