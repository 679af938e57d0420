#!/usr/bin/env bash
# Promotion by evidence on the real host, on a synthetic stream whose truth
# is known: requests {x, y} with x, y uniform and y = x plus noise; the true
# label is "yes" when x > 0.5 (one in ten flipped). The champion reads y
# (accuracy about 0.78), the challenger x (about 0.92), a third model reads
# x too but answers after 120 ms, past the champion's 60 ms (its race is
# looked at first: it comes first in the config). With mode apply:
# the slow one is blocked by its latency, the challenger is promoted (the
# decision on the alerts stream, GET /v1/promotions and the dashboard, the
# signed control record, the hosts' schedule); then the truth follows y instead and the
# model it replaced wins the race back within hold_s: rollback.
. "$(dirname "$0")/lib.sh"
FX=$RV_FIXTURE_DIR
PLUG=$RV_BUILD_DIR/plugins

start_broker $(service_topics pro) pro.labels pro.evaluation
cat >"$TMP/on-y.json" <<'JSON'
{"kind": "logistic", "features": ["x", "y"], "labels": ["no", "yes"], "coef": [[0, 12]], "intercept": [-6]}
JSON
cat >"$TMP/on-x.json" <<'JSON'
{"kind": "logistic", "features": ["x", "y"], "labels": ["no", "yes"], "coef": [[12, 0]], "intercept": [-6]}
JSON
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/control.key"
read -r PORT < <(free_ports 1)
cat >"$TMP/pro.yaml" <<YAML
service: pro
state_dir: $TMP/state
streams: {brokers: embedded}
input: {features: [x, y]}
models:
  - {name: champion, plugin: $PLUG/liblinear_model.so, params: {model_file: $TMP/on-y.json}}
  - {name: slow, plugin: $FX/ok.so, max_batch: 512, params: {score: 0.1, weight: 0.8, sleep_ms: 120}}
  - {name: challenger, plugin: $PLUG/liblinear_model.so, params: {model_file: $TMP/on-x.json}}
rendezvous:
  schedule: [{model: champion, within_ms: 60}]
evaluation: {labels: ["no", "yes"], interval_ms: 200, report_s: 1}
# (a model past its deadline on two busy cores makes the others shed a few
# of their answers: sheds are not errors, the error-rate guardrail holds at
# its default, the shed-rate one is set wide)
promotion: {metric: accuracy, mode: apply, margin: 0.05, alpha: 0.01, min_labels: 400,
            max_labels: 4000, max_error_rate: 0.01, max_shed_rate: 0.25, cooldown_s: 0,
            hold_s: 600}
control: {key_file: $TMP/control.key}
http: {listen: "127.0.0.1:$PORT"}
YAML
start_host "$TMP/pro.yaml" "$TMP/pro.log"

# drive PHASE N TRUTH: N requests PHASE-<i> at about 2000/s and their true
# labels (TRUTH: x or y decides), in the background
drive() {
  $PY - "$BOOTSTRAP" "$@" <<'PY'
import json, random, sys, time
from confluent_kafka import Producer
bootstrap, phase, n, by = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rng = random.Random(phase)
p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
t0 = time.monotonic()
for i in range(n):
    x = rng.random()
    y = min(1.0, max(0.0, x + rng.gauss(0, 0.3)))
    yes = (x if by == "x" else y) > 0.5
    if rng.random() < 0.1:
        yes = not yes
    key = f"{phase}-{i}"
    p.produce("pro.requests", key=key, value=json.dumps({"x": x, "y": y}))
    p.produce("pro.labels", key=key, value=json.dumps({"id": key, "label": "yes" if yes else "no"}))
    if i % 100 == 99:
        p.flush()
        time.sleep(max(0, t0 + (i + 1) / 2000 - time.monotonic()))
p.flush()
PY
}
# wait_decision ACTION CHALLENGER SECONDS: until the alerts stream holds it
wait_decision() {
  for _ in $(seq $(($3 * 5))); do
    consume pro.alerts >"$TMP/alerts.jsonl"
    $PY - "$TMP/alerts.jsonl" "$1" "$2" <<'PY' && return 0
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sys.exit(0 if any(r.get("type") == "promotion" and r["action"] == sys.argv[2]
                  and r["challenger"] == sys.argv[3] for r in recs) else 1)
PY
    sleep 0.2
  done
  fail "no '$1' of $2 in $3 s: $(grep promotion "$TMP/pro.log" | tail -5)"
}

# blocks of 400 until the promotion: after it, the truth changes at once
for block in $(seq 30); do
  drive "x$block" 400 x
  consume pro.alerts | grep -q '"action":"promote"' && break
done
wait_decision promote challenger 30
wait_decision blocked slow 30
$PY - "$TMP/alerts.jsonl" <<'PY' || fail "the decisions: $(grep '"promotion"' "$TMP/alerts.jsonl")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
d = {r["challenger"]: r for r in recs if r.get("type") == "promotion"}
p, s = d["challenger"], d["slow"]
assert p["action"] == "promote" and p["applied"] and p["champion"] == "champion", p
assert p["metric"] == "accuracy" and p["value"] > p["champion_value"] + 0.05, p
assert p["p_value"] < p["alpha"] <= 0.01 and p["labels"] % 400 == 0, p
assert p["error_rate"] <= 0.01 and 0 <= p["shed_rate"] <= 1, p
assert s["action"] == "blocked" and s["latency_p99_ms"] > 20 and "latency" in s["reason"], s
print(f"promoted after {p['labels']} labels: accuracy {p['value']:.3f} against "
      f"{p['champion_value']:.3f}, p = {p['p_value']:.2g}; slow blocked: {s['reason']}")
PY
# the control record, signed, and the host's schedule
kcat -C -b "$BOOTSTRAP" -t pro.control -o beginning -e -q -f '%h %s\n' 2>/dev/null >"$TMP/control"
grep -q 'rv-signature=sha256=.*"schedule":\[{"model":"challenger","within_ms":60},{"model":"champion","within_ms":60}\]' \
  "$TMP/control" || fail "no signed control record putting the challenger first: $(cat "$TMP/control")"
wait_log "$TMP/pro.log" "schedule version 2" 1 30
curl -s "http://127.0.0.1:$PORT/v1/promotions" >"$TMP/promotions.json"
$PY - "$TMP/promotions.json" <<'PY' || fail "GET /v1/promotions: $(cat "$TMP/promotions.json")"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["champion"] == "challenger" and p["mode"] == "apply", p
assert {d["action"] for d in p["decisions"]} >= {"promote", "blocked"}, p["decisions"]
assert any(r["rollback"] and r["challenger"] == "champion" for r in p["races"]), p["races"]
PY
timeout 90 chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=3000 --dump-dom \
  "http://127.0.0.1:$PORT/" >"$TMP/dom.html" 2>"$TMP/chromium.err" ||
  fail "chromium: $(tail -3 "$TMP/chromium.err")"
grep -q '<section class="wide" id="promotions">' "$TMP/dom.html" &&
  grep -q '<tr data-action="promote">' "$TMP/dom.html" &&
  grep -q '<tr data-action="blocked">' "$TMP/dom.html" ||
  fail "the dashboard does not show the decisions: $(grep -o '<tr data-action[^>]*>' "$TMP/dom.html" | head -5)"
pass "a challenger better on live labels is promoted (signed control record, the host's schedule, GET /v1/promotions, the dashboard); one as good but past the deadline is blocked by its latency"

# the truth now follows y: the replaced model wins the race back
drive y 8000 y
wait_decision rollback champion 60
kcat -C -b "$BOOTSTRAP" -t pro.control -o beginning -e -q -f '%h %s\n' 2>/dev/null >"$TMP/control"
grep -q 'rv-signature=sha256=.*"schedule":\[{"model":"champion"' "$TMP/control" ||
  fail "no signed control record putting the champion back: $(cat "$TMP/control")"
wait_log "$TMP/pro.log" "schedule version 3" 1 30
stop_host
why=$($PY - "$TMP/alerts.jsonl" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if '"rollback"' in l][0]
print(f"{r['reason']}, after {r['labels']} labels")
PY
)
pass "a promotion that regresses within hold_s is rolled back (signed control record, the host's schedule): $why"
