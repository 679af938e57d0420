#!/usr/bin/env bash
# Live evaluation through the real binary: the breast-cancer requests, then
# their true labels on the labels stream (some before their requests, one
# twice, one unknown, one for an id never asked). /v1/evaluation's figures
# per model and for the served answer equal scikit-learn's on the answers
# the scores and results streams hold and the labels sent (1e-9); a
# restart keeps every joined answer, and the labels after it join too;
# /metrics has the gauges; a host killed before its evaluation committed
# what it was told reads it back at its next start.
. "$(dirname "$0")/lib.sh"
DATA=$RV_SOURCE_DIR/conf/data
PORT=$(free_ports 1)

start_broker $(service_topics ev) ev.labels ev.evaluation $(service_topics evf) evf.labels evf.evaluation \
  $(service_topics evs) evs.labels evs.evaluation $(service_topics evk) evk.labels evk.evaluation
evaluated_yaml ev "$TMP/state" "{labels: [benign, malignant], interval_ms: 200}" \
  "http: {listen: \"127.0.0.1:$PORT\"}" >"$TMP/ev.yaml"
start_host "$TMP/ev.yaml" "$TMP/ev.log"

# ids breast_cancer-N; labels: "id:{json}" lines, keyed by id like the requests
awk '{ printf "breast_cancer-%d:%s\n", NR - 1, $0 }' "$DATA/breast_cancer.jsonl" >"$TMP/requests"
n=$(wc -l <"$TMP/requests")
half=$((n / 2))
$PY - "$DATA/breast_cancer.expected.jsonl" "$TMP" "$half" <<'PY'
import json, sys, time
expected, tmp, half = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [json.loads(l) for l in open(expected)]
def line(i, label, **more):
    return f'{rows[i]["id"]}:{json.dumps({"id": rows[i]["id"], "label": label, **more})}\n'
with open(f"{tmp}/labels-early", "w") as f:   # the second half's, before their requests
    for i in range(half, len(rows) - 10):
        f.write(line(i, rows[i]["label"]))
with open(f"{tmp}/labels-first", "w") as f:   # the first half's, after
    for i in range(half):
        f.write(line(i, rows[i]["label"]))
    f.write(line(0, "benign" if rows[0]["label"] == "malignant" else "malignant"))  # twice
    f.write(line(1, "cat"))                                                          # unknown
    f.write('nobody-1:{"id": "nobody-1", "label": "benign"}\n')                     # never asked
with open(f"{tmp}/labels-last", "w") as f:    # after the restart, outcomes of two days ago
    for i in range(len(rows) - 10, len(rows)):
        f.write(line(i, rows[i]["label"], time=int(time.time() * 1000) - 2 * 86400000))
PY
kcat -P -b "$BOOTSTRAP" -t ev.labels -K: <"$TMP/labels-early"
kcat -P -b "$BOOTSTRAP" -t ev.requests -K: <"$TMP/requests"
wait_count ev.results "$n"
kcat -P -b "$BOOTSTRAP" -t ev.labels -K: <"$TMP/labels-first"

# evaluation JOINED: waits until /v1/evaluation has joined that many
evaluation() {
  local got=
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$PORT/v1/evaluation" >"$TMP/evaluation.json" 2>/dev/null &&
      got=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["joined"])' \
        "$TMP/evaluation.json") && [ "$got" -ge "$1" ] && return 0
    sleep 0.1
  done
  fail "/v1/evaluation joined ${got:-nothing}, expected $1: $(tail -5 "$TMP/ev.log")"
}
evaluation $((n - 10))

# settled WANT FILE: /v1/evaluation into FILE once it has joined WANT (30 s
# at most), and a second later, when nothing more joins
settled() {
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$PORT/v1/evaluation" >"$2" 2>/dev/null &&
      [ "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["joined"])' "$2")" -ge "$1" ] && break
    sleep 0.1
  done
  sleep 1
  curl -sf "http://127.0.0.1:$PORT/v1/evaluation" >"$2"
}

# scikit-learn on what the streams hold: each model's answers, the served
# one, and the labels as sent (the first of each id, known labels only)
check() { # JOINED
  consume ev.scores >"$TMP/scores.jsonl"
  consume ev.results >"$TMP/results.jsonl"
  cat "$TMP"/labels-early "$TMP"/labels-first "$@" | cut -d: -f2- >"$TMP/labels.jsonl"
  $PY - "$TMP" <<'PY'
import json, sys
import numpy as np
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score
tmp = sys.argv[1]
labels = ["benign", "malignant"]
truth = {}
for l in open(f"{tmp}/labels.jsonl"):
    r = json.loads(l)
    if r["label"] in labels:
        truth.setdefault(r["id"], labels.index(r["label"]))
def prob(answers):   # as the host reads an answer: the rest of 1 to the labels not given
    p = {a["label"]: a["score"] for a in answers if a["label"] in labels}
    rest = (1 - sum(p.values())) / (2 - len(p)) if len(p) < 2 and sum(p.values()) < 1 else 0
    return [p.get(l, rest) for l in labels]
answers = {}
for l in open(f"{tmp}/scores.jsonl"):
    s = json.loads(l)
    if s["status"] == "ok" and s["model"] in ("linear", "canary"):
        answers.setdefault(s["model"], {})[s["id"]] = prob(s["answers"])
for l in open(f"{tmp}/results.jsonl"):
    r = json.loads(l)
    answers.setdefault("served", {})[r["id"]] = prob(r["answers"])
ev = json.load(open(f"{tmp}/evaluation.json"))
figs = {(f["source"], f["window"]): f for f in ev["figures"] if "schedule_version" not in f}
for source in ("linear", "canary", "served"):
    ids = sorted(i for i in answers[source] if i in truth)
    y = np.array([truth[i] for i in ids])
    p = np.array([answers[source][i] for i in ids])
    want = {"count": len(ids), "accuracy": accuracy_score(y, p.argmax(axis=1)),
            "log_loss": log_loss(y, p, labels=[0, 1]), "brier": brier_score_loss(y, p[:, 1]),
            "auc": roc_auc_score(y, p[:, 1])}
    got = figs[(source, "start")]
    for k, v in want.items():
        assert abs(got[k] - v) <= 1e-9 * max(1, abs(v)), f"{source} {k}: host {got[k]}, scikit-learn {v}"
    print(f"{source}: {len(ids)} joined, accuracy {want['accuracy']:.4f}, AUC {want['auc']:.4f}, "
          f"log loss {want['log_loss']:.4f}, Brier {want['brier']:.4f}: as scikit-learn")
PY
}
check || fail "the figures differ from scikit-learn's"
$PY - "$TMP/evaluation.json" "$n" <<'PY' || fail "counts"
import json, sys
c = json.load(open(sys.argv[1]))["counts"]
n = int(sys.argv[2])
want = {"joined": n - 10, "duplicate_labels": 1, "unknown_labels": 1, "late_answers": 0}
for k, v in want.items():
    assert c[k] == v, f"{k}: {c[k]}, expected {v} ({c})"
# early = read before its result, as the evaluation reads: the id never
# asked is early for sure; any other may be (the three streams are read
# side by side, and a loaded host reads the results later)
assert 1 <= c["early_labels"] <= c["labels"], c
print(f"counts: {c}")
PY
pass "each model's and the served answer's accuracy, AUC, log loss and Brier as scikit-learn's; early, duplicate, unknown and unmatched labels counted"

curl -sf "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics"
grep -q 'rendezvous_evaluation_auc{source="linear",window="start"}' "$TMP/metrics" ||
  fail "no AUC gauge in /metrics: $(grep evaluation "$TMP/metrics" | head -5)"
pass "/metrics has the evaluation's gauges"

stop_host
start_host "$TMP/ev.yaml" "$TMP/ev2.log"
evaluation $((n - 10))
kcat -P -b "$BOOTSTRAP" -t ev.labels -K: <"$TMP/labels-last"
evaluation "$n"
check "$TMP/labels-last" || fail "after the restart, the figures differ from scikit-learn's"
$PY - "$TMP/evaluation.json" "$n" <<'PY' || fail "a label's time does not place its answers"
import json, sys
figs = {(f["source"], f["window"]): f["count"] for f in json.load(open(sys.argv[1]))["figures"]
        if "schedule_version" not in f}
n = int(sys.argv[2])
assert figs[("linear", "start")] == n and figs[("linear", "hour")] == n - 10, figs
assert figs[("linear", "day")] == n - 10, figs
PY
pass "a restart keeps every joined answer; the labels after it join with the answers stored before; those whose outcome came two days ago count since start, not in the last hour or day"

# A reload frees the first generation and its config: /v1/evaluation keeps
# answering with its labels (it read them from that config once).
kill -HUP "$HOST_PID"
wait_log "$TMP/ev2.log" "reloaded: generation 2" 1
for _ in $(seq 20); do curl -sf "http://127.0.0.1:$PORT/v1/evaluation" >"$TMP/after-reload.json" || break; sleep 0.1; done
kill -0 "$HOST_PID" 2>/dev/null || fail "the host died on /v1/evaluation after a reload: $(tail -30 "$TMP/ev2.log")"
$PY -c 'import json,sys; e = json.load(open(sys.argv[1])); assert e["labels"] == ["benign", "malignant"], e["labels"]' \
  "$TMP/after-reload.json" || fail "/v1/evaluation after a reload: $(head -c 300 "$TMP/after-reload.json")"
pass "/v1/evaluation after a reload: the labels of the evaluation, not of a freed config"

# Requests scored over HTTP: their results go to the gateway's reply topic,
# on the request's partition number, and join with their labels there too
score_over_http "$PORT" 20 "$TMP/requests" "$TMP/labels-http"
kcat -P -b "$BOOTSTRAP" -t ev.labels -K: <"$TMP/labels-http"
evaluation $((n + 20))
$PY - "$TMP/evaluation.json" "$n" <<'PY' || fail "the served answers of HTTP requests are not evaluated"
import json, sys
figs = {(f["source"], f["window"]): f["count"] for f in json.load(open(sys.argv[1]))["figures"]
        if "schedule_version" not in f}
n = int(sys.argv[2])
assert figs[("served", "start")] == n + 20 and figs[("linear", "start")] == n + 20, figs
PY
part_of() { # TOPIC key|value COUNT: "id partition" of each HTTP request (requests: their key;
  # results: their id), of the topic's first COUNT records
  timeout 60 kcat -C -b "$BOOTSTRAP" -t "$1" -o beginning -c "$3" -q -f '%p %k %s\n' 2>/dev/null |
    $PY -c 'import json, sys
for l in sys.stdin:
    f = l.split(" ", 2)  # a body ending in a newline prints an empty line more
    if len(f) == 3:
        print(f[1] if sys.argv[1] == "key" else json.loads(f[2])["id"], f[0])' "$2" | grep '^http-' | sort
}
requests=$(part_of ev.requests key $((n + 20))) replies=$(part_of ev.gateway-replies value 20)
[ "$(grep -c . <<<"$requests")" = 20 ] && [ "$requests" = "$replies" ] ||
  fail "HTTP results not on their requests' partition numbers: $(tr '\n' ' ' <<<"$replies"); requests: $(tr '\n' ' ' <<<"$requests")"
pass "20 requests scored over HTTP: their results on their requests' partition numbers; their served answers (on the gateway's reply topic) and each model's join with their labels"

# A label flood: 300,000 labels for requests never sent (each would wait 30
# days for its answers) into a store bounded at 4 MiB. The store's file
# stays within the bound, the oldest waits are evicted and counted, and the
# host serves throughout.
stop_host
sed -e 's/^service: ev$/service: evf/' -e "s|$TMP/state|$TMP/state-flood|" \
  -e 's/interval_ms: 200}/interval_ms: 200, store_mb: 4}/' "$TMP/ev.yaml" >"$TMP/evf.yaml"
grep -q "store_mb: 4" "$TMP/evf.yaml" || fail "flood config not written"
start_host "$TMP/evf.yaml" "$TMP/evf.log"
$PY -c 'import json
for i in range(300000):
    print(f"flood-{i}:" + json.dumps({"id": f"flood-{i}", "label": "benign"}))' >"$TMP/flood"
kcat -P -b "$BOOTSTRAP" -t evf.labels -K: <"$TMP/flood"
head -20 "$TMP/requests" | kcat -P -b "$BOOTSTRAP" -t evf.requests -K:
wait_count evf.results 20
labels_read() {
  curl -sf "http://127.0.0.1:$PORT/v1/evaluation" >"$TMP/flood.json" 2>/dev/null &&
    $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["labels"])' "$TMP/flood.json"
}
for _ in $(seq 600); do
  [ "$(labels_read || echo 0)" -ge 300000 ] && break
  sleep 0.2
done
size=$(stat -c %s "$TMP/state-flood/evaluation/data.mdb")
$PY - "$TMP/flood.json" "$size" <<'PY' || fail "the store's bound under a label flood"
import json, sys
c = json.load(open(sys.argv[1]))["counts"]
size = int(sys.argv[2])
assert c["labels"] >= 300000, c
assert size <= 4 << 20, f"the store's file is {size} bytes, over 4 MiB"
assert c["store_bytes"] <= 2 << 20, c       # evicted past half of the bound
assert c["store_evicted"] > 0, c
print(f"300,000 labels for unknown ids: file {size:,} bytes (bound 4 MiB), "
      f"{c['store_bytes']:,} in use, {c['store_evicted']:,} evicted")
PY
stop_host
pass "a flood of 300,000 waiting labels: the store stays within 4 MiB, the oldest waits evicted and counted, requests served"

# sample: 0.25: the requests whose id hashes (FNV-1a) below a quarter are
# evaluated, the others not; every record of a request agrees
sed -e 's/^service: ev$/service: evs/' -e "s|$TMP/state|$TMP/state-sample|" \
  -e 's/interval_ms: 200}/interval_ms: 200, sample: 0.25}/' "$TMP/ev.yaml" >"$TMP/evs.yaml"
grep -q "sample: 0.25" "$TMP/evs.yaml" || fail "sample config not written"
start_host "$TMP/evs.yaml" "$TMP/evs.log"
sed 's/^[^:]*://' "$TMP/labels-first" "$TMP/labels-early" "$TMP/labels-last" | grep -v '"cat"\|nobody' |
  $PY -c 'import json, sys
seen = set()
for l in sys.stdin:
    r = json.loads(l)
    if r["id"] not in seen:
        seen.add(r["id"])
        print(r["id"] + ":" + json.dumps({"id": r["id"], "label": r["label"]}))' >"$TMP/labels-all"
kcat -P -b "$BOOTSTRAP" -t evs.requests -K: <"$TMP/requests"
wait_count evs.results "$n"
kcat -P -b "$BOOTSTRAP" -t evs.labels -K: <"$TMP/labels-all"
want=$($PY -c 'import sys
def fnv(s):
    h = 14695981039346656037
    for b in s.encode():
        h = ((h ^ b) * 1099511628211) % 2**64
    return h
print(sum(fnv(l.split(":", 1)[0]) % 1000000 < 250000 for l in open(sys.argv[1])))' "$TMP/labels-all")
settled "$want" "$TMP/sample.json"
$PY - "$TMP/sample.json" "$want" "$n" <<'PY' || fail "sample: 0.25"
import json, sys
e = json.load(open(sys.argv[1]))
want, n = int(sys.argv[2]), int(sys.argv[3])
figs = {(f["source"], f["window"]): f["count"] for f in e["figures"] if "schedule_version" not in f}
assert e["counts"]["joined"] == want and figs[("served", "start")] == want, (want, e["counts"], figs)
assert 0.15 * n < want < 0.35 * n, want
print(f"sample 0.25: {want} of {n} requests evaluated, as the id hash gives")
PY
stop_host
pass "evaluation.sample 0.25: exactly the requests whose id hash falls in the quarter are evaluated"

# A host killed before its evaluation committed anything it was told (its
# answers come from the host itself, not read back): the next start finds
# no read position in the store, reads back what the host wrote, and every
# answer joins its label, none twice.
sed -e 's/^service: ev$/service: evk/' -e "s|$TMP/state|$TMP/state-kill|" \
  -e 's/interval_ms: 200}/interval_ms: 600000}/' "$TMP/ev.yaml" >"$TMP/evk.yaml"
grep -q "interval_ms: 600000" "$TMP/evk.yaml" || fail "kill config not written"
start_host "$TMP/evk.yaml" "$TMP/evk.log"
kcat -P -b "$BOOTSTRAP" -t evk.requests -K: <"$TMP/requests"
wait_count evk.results "$n"
sleep 0.5 # the last deliveries reported
kill -KILL "$HOST_PID"
wait "$HOST_PID" 2>/dev/null || true
sed 's/interval_ms: 600000}/interval_ms: 200}/' "$TMP/evk.yaml" >"$TMP/evk2.yaml"
start_host "$TMP/evk2.yaml" "$TMP/evk2.log"
kcat -P -b "$BOOTSTRAP" -t evk.labels -K: <"$TMP/labels-all"
want=$(wc -l <"$TMP/labels-all")
settled "$want" "$TMP/kill.json"
$PY - "$TMP/kill.json" "$want" <<'PY' || fail "after a kill, answers lost"
import json, sys
e = json.load(open(sys.argv[1]))
want = int(sys.argv[2])
figs = {(f["source"], f["window"]): f["count"] for f in e["figures"] if "schedule_version" not in f}
c = e["counts"]
assert c["joined"] == want and figs[("served", "start")] == want and figs[("linear", "start")] == want, (want, c, figs)
assert c["late_answers"] == 0 and c["incomplete"] == 0, c
print(f"after a kill: {want} of {want} labelled requests joined, read back from the streams")
PY
grep -q "reading back the answers" "$TMP/evk2.log" || fail "nothing read back: $(grep evaluation "$TMP/evk2.log" | head -5)"
stop_host
pass "a host killed before its evaluation committed: the next start reads back what it wrote, and every labelled request joins"
