#!/usr/bin/env bash
# The live evaluation as its own role: hosts with evaluation.in_host: false
# leave it to `rendezvous evaluate`, which writes each source's figures to
# the evaluation stream every report_s and raises and clears accuracy
# alerts on the alerts stream. Three phases of the breast-cancer requests,
# their labels chosen from the answers the scores stream holds: A labelled
# as the canary answered (the linear model falls below the canary), B as
# the linear model answered (it recovers: clear), C against it (below its
# own first window). The alerts are what the test
# says on the figures computed here, and the last records' figures are
# these. Also: the role refuses the embedded broker and a config without
# an evaluation section, and stops on SIGTERM.
. "$(dirname "$0")/lib.sh"
DATA=$RV_SOURCE_DIR/conf/data

start_broker $(service_topics eva) eva.labels eva.evaluation
read -r HOST_PORT ROLE_PORT < <(free_ports 2)
evaluated_yaml eva "$TMP/state" "{labels: [benign, malignant], interval_ms: 200, report_s: 1, \
baseline_answers: 100, alert_margin: 0, alert_min_answers: 50, in_host: false}" \
  "http: {listen: \"127.0.0.1:$HOST_PORT\"}" >"$TMP/eva.yaml"
# each report tested at level 0.1 (8640 false alarms a day at one test a
# second), an alert raised and cleared at its first test
echo "alerts: {false_alarms_per_day: 8640, test_interval_s: 1, for: 1, keep_firing_for_s: 0}" \
  >>"$TMP/eva.yaml"

# refused: the embedded broker (no -b), and a config without evaluation
st=0
"$RV_BIN" evaluate -c "$TMP/eva.yaml" 2>"$TMP/refused.err" || st=$?
[ "$st" -eq 2 ] && grep -q "embedded" "$TMP/refused.err" ||
  fail "evaluate on the embedded broker: status $st, $(cat "$TMP/refused.err")"
sed '/^evaluation:/,$d' "$TMP/eva.yaml" >"$TMP/none.yaml"
st=0
"$RV_BIN" evaluate -c "$TMP/none.yaml" -b "$BOOTSTRAP" 2>"$TMP/none.err" || st=$?
[ "$st" -eq 2 ] && grep -q "no evaluation section" "$TMP/none.err" ||
  fail "evaluate without an evaluation section: status $st, $(cat "$TMP/none.err")"
pass "evaluate refuses the embedded broker and a config without an evaluation section (status 2)"

start_host "$TMP/eva.yaml" "$TMP/eva.log"
"$RV_BIN" evaluate -c "$TMP/eva.yaml" -b "$BOOTSTRAP" --http "127.0.0.1:$ROLE_PORT" >"$TMP/role.out" \
  2>"$TMP/role.log" &
ROLE_PID=$!
echo "$ROLE_PID" >>"$TMP/pids"
wait_log "$TMP/role.log" "evaluating" 1 30

n=$(wc -l <"$DATA/breast_cancer.jsonl")
total=0
# phase NAME WHO: the requests as NAME-<row>, then each one's label: the
# top answer of model WHO ("linear" or "canary"), or with "!linear" the
# other label than linear's
phase() {
  awk -v p="$1" '{ printf "%s-%d:%s\n", p, NR - 1, $0 }' "$DATA/breast_cancer.jsonl" |
    kcat -P -b "$BOOTSTRAP" -t eva.requests -K:
  total=$((total + n))
  wait_count eva.results "$total" 60
  wait_count eva.scores $((2 * total)) 60
  consume eva.scores >"$TMP/scores.jsonl"
  $PY - "$TMP/scores.jsonl" "$1" "$2" >"$TMP/labels-$1" <<'PY'
import json, sys
path, phase, who = sys.argv[1:]
other = {"benign": "malignant", "malignant": "benign"}
top = {}
for l in open(path):
    s = json.loads(l)
    if s["id"].startswith(phase + "-") and s["status"] == "ok":
        top[(s["id"], s["model"])] = s["answers"][0]["label"]
for (i, m), label in sorted(top.items()):
    if m == who.lstrip("!"):
        print(f'{i}:{json.dumps({"id": i, "label": other[label] if who[0] == "!" else label})}')
PY
  kcat -P -b "$BOOTSTRAP" -t eva.labels -K: <"$TMP/labels-$1"
  cat "$TMP/labels-$1" >>"$TMP/labels"
}

# latest SOURCE WINDOW COUNT: waits until the role's last record of that
# source and window counts COUNT joined answers, then for that report's
# other records and alerts; $TMP/evaluation.jsonl holds every record then
latest() {
  local got=
  for _ in $(seq 600); do
    consume eva.evaluation >"$TMP/evaluation.jsonl"
    got=$($PY - "$TMP/evaluation.jsonl" "$1" "$2" <<'PY'
import json, sys
last = None
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["source"] == sys.argv[2] and r["window"] == sys.argv[3] and "schedule_version" not in r:
        last = r
print(last["count"] if last else 0)
PY
)
    if [ "$got" -ge "$3" ]; then
      sleep 2.5 # the other sources' records (other partitions) and the alerts of that report
      consume eva.evaluation >"$TMP/evaluation.jsonl"
      return 0
    fi
    sleep 0.2
  done
  fail "$1 over the $2: ${got:-no} answers joined in the role's records, expected $3: $(tail -3 "$TMP/role.log")"
}

# expect_alerts PHASE...: after these phases, the alerts the role wrote for
# the linear model, folded in order, leave raised what the test gives on
# the figures computed here from the scores and the labels (its first
# window's accuracy as the role's records give it: its first 100 joined):
# SciPy's normal distribution on the two-proportion z statistic, at 0.1
expect_alerts() {
  consume eva.scores >"$TMP/scores.jsonl"
  consume eva.alerts >"$TMP/alerts.jsonl"
  $PY - "$TMP" "$@" <<'PY'
import json, math, sys
from scipy.stats import norm
tmp, phases = sys.argv[1], sys.argv[2:]
truth = {}
for l in open(f"{tmp}/labels"):
    r = json.loads(l.split(":", 1)[1])
    truth[r["id"]] = r["label"]
top = {}
for l in open(f"{tmp}/scores.jsonl"):
    s = json.loads(l)
    if s["status"] == "ok":
        top[(s["id"], s["model"])] = s["answers"][0]["label"]
def acc(model):
    ids = [i for i in truth if i.split("-")[0] in phases]
    return sum(top[(i, model)] == truth[i] for i in ids) / len(ids)
first = [json.loads(l) for l in open(f"{tmp}/evaluation.jsonl")]
first = [r for r in first if r["source"] == "linear" and r["window"] == "first"][-1]
assert first["count"] == 100, first
lin, can = acc("linear"), acc("canary")
n = sum(i.split("-")[0] in phases for i in truth)
def below(a, na, r, nr):
    se = math.sqrt(a * (1 - a) / na + r * (1 - r) / nr)
    return norm.cdf((a - r) / se) < 0.1 if se > 0 else a < r
want = set()
if below(lin, n, can, n):
    want.add("accuracy_below_canary")
if below(lin, n, first["accuracy"], first["count"]):
    want.add("accuracy_below_first")
got, changes = set(), []
for a in map(json.loads, open(f"{tmp}/alerts.jsonl")):
    if a["model"] == "linear" and a["check"].startswith("accuracy_"):
        changes.append((a["type"], a["check"]))
        (got.add if a["type"] == "alert" else got.discard)(a["check"])
print(f"after {' '.join(phases)}: linear {lin:.4f}, canary {can:.4f}, linear's first window "
      f"{first['accuracy']:.4f}; raised {sorted(got)}; changes {changes}")
assert got == want, f"raised for linear: {sorted(got)}, the test gives {sorted(want)}"
PY
}

phase A canary
latest linear hour "$n"
expect_alerts A || fail "phase A's alerts"
grep -q '"accuracy_below_canary"' "$TMP/alerts.jsonl" ||
  fail "labelled as the canary answered, the linear model is not below it: nothing was tested"
phase B linear
latest linear hour $((2 * n))
expect_alerts A B || fail "phase B's alerts"
grep -q '"type":"clear","check":"accuracy_below_canary"' "$TMP/alerts.jsonl" ||
  fail "no clear: $(cat "$TMP/alerts.jsonl")"
phase C '!linear'
latest linear hour $((3 * n))
expect_alerts A B C || fail "phase C's alerts"
grep -q '"accuracy_below_first"' "$TMP/alerts.jsonl" ||
  fail "labelled against the linear model, it is not below its first window: nothing was tested"
pass "accuracy alerts raised and cleared as the two-proportion test gives on the counts (below the canary, below its own first window)"

# the last record's figures are those of every label sent
$PY - "$TMP" <<'PY' || fail "the evaluation records' figures"
import json, sys
tmp = sys.argv[1]
truth = {}
for l in open(f"{tmp}/labels"):
    r = json.loads(l.split(":", 1)[1])
    truth[r["id"]] = r["label"]
top = {}
for l in open(f"{tmp}/scores.jsonl"):
    s = json.loads(l)
    if s["status"] == "ok":
        top[(s["id"], s["model"])] = s["answers"][0]["label"]
last = {}
for l in open(f"{tmp}/evaluation.jsonl"):
    r = json.loads(l)
    assert r["type"] == "evaluation" and r["time"] > 0, r
    if "schedule_version" not in r:
        last[(r["source"], r["window"])] = r
for model in ("linear", "canary"):
    want = sum(top[(i, model)] == t for i, t in truth.items()) / len(truth)
    for window in ("hour", "day", "start"):
        r = last[(model, window)]
        assert r["count"] == len(truth), (model, window, r["count"], len(truth))
        assert abs(r["accuracy"] - want) < 1e-9, (model, window, r["accuracy"], want)
    assert last[(model, "first")]["count"] == 100, last[(model, "first")]
print(f"{len(truth)} joined; the last records' accuracy is every label's")
PY
pass "the evaluation stream's records hold each source's figures per window"

# the role over HTTP: its figures, what its last records say, and /metrics
RURL=http://127.0.0.1:$ROLE_PORT
curl -sf "$RURL/v1/evaluation" >"$TMP/role-evaluation.json" || fail "the role's /v1/evaluation"
curl -sf "$RURL/metrics" >"$TMP/role-metrics" || fail "the role's /metrics"
$PY - "$TMP/role-evaluation.json" "$TMP/evaluation.jsonl" <<'PY' || fail "the role's /v1/evaluation and its records differ"
import json, sys
figs = {(f["source"], f["window"]): f for f in json.load(open(sys.argv[1]))["figures"]
        if "schedule_version" not in f}
last = {}
for l in open(sys.argv[2]):
    r = json.loads(l)
    if "schedule_version" not in r:
        last[(r["source"], r["window"])] = r
for model in ("linear", "canary"):
    got, want = figs[(model, "start")], last[(model, "start")]
    assert got["count"] == want["count"] and abs(got["accuracy"] - want["accuracy"]) < 1e-12, (got, want)
PY
grep -q 'rendezvous_evaluation_accuracy{source="linear",window="start"}' "$TMP/role-metrics" &&
  grep -q 'rendezvous_http_refused_total' "$TMP/role-metrics" || fail "the role's /metrics: $(head -5 "$TMP/role-metrics")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$RURL/healthz")" = 200 ] &&
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$RURL/readyz")" = 200 ] &&
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$RURL/v1/models")" = 404 ] &&
  [ "$(curl -s -o /dev/null -w '%{http_code}' -d '{}' "$RURL/v1/score")" = 404 ] ||
  fail "the role's probes answer, and it has no host endpoints"
pass "the role over HTTP (--http): /v1/evaluation as its records, /metrics with the evaluation's gauges, probes; no host endpoints"

st=$(curl -s -o "$TMP/host-eval" -w '%{http_code}' "http://127.0.0.1:$HOST_PORT/v1/evaluation")
[ "$st" = 404 ] && grep -q 'in_host: false.*rendezvous evaluate' "$TMP/host-eval" ||
  fail "the host's /v1/evaluation does not say where the evaluation runs: $st $(cat "$TMP/host-eval")"
grep -q "partition(s) of scores, results and labels" "$TMP/eva.log" &&
  fail "the host evaluates too, with in_host: false"
kill -TERM "$ROLE_PID"
st=0
wait "$ROLE_PID" || st=$?
[ "$st" -eq 0 ] || fail "evaluate exited $st on SIGTERM: $(tail -3 "$TMP/role.log")"
stop_host
pass "the host leaves the evaluation to the role (in_host: false) and its /v1/evaluation says so; the role stops on SIGTERM"
