#!/usr/bin/env bash
# The alerts against real change, through the real binary: the demo's
# XGBoost model and canary on the breast-cancer rows (drawn at random, about
# 2000 a second, each with its true label from scikit-learn). Steady traffic
# raises nothing; then each change raises its alert within a number of
# requests this test prints, and undoing it clears the alert:
#   labels flipped for 20 % of the requests -> accuracy_below_first;
#   mean_area scaled by 1.5 on half the rows -> the canary's input_drift;
#   the model replaced (SIGHUP) by a worse one -> agreement with the canary.
# Tests each second, raised at the second test in a row (alerts: below);
# each test at the level of 0.01 false alarms a day.
. "$(dirname "$0")/lib.sh"
MODELS=$RV_SOURCE_DIR/conf/models
PLUG=$RV_BUILD_DIR/plugins

start_broker $(service_topics alr) alr.labels alr.evaluation
features=$($PY -c "import json,sys; print(', '.join(json.load(open(sys.argv[1]))['features']))" \
  "$MODELS/breast_cancer-canary.json")
# the worse model: the canary's weights, its intercept moved by +8 (it
# agrees with the canary on about 3 rows in 4)
$PY - "$MODELS/breast_cancer-canary.json" "$TMP/worse.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["intercept"] = [v + 8.0 for v in m["intercept"]]
json.dump(m, open(sys.argv[2], "w"))
PY
config() { # MODEL-LINE
  cat <<YAML
service: alr
state_dir: $TMP/state
streams: {brokers: embedded}
input: {features: [$features]}
models:
  - $1
  - name: canary
    builtin: canary
    params: {model_file: $MODELS/breast_cancer-canary.json, window: 500, max_score_shift: 0.25}
rendezvous:
  schedule: [{model: model, within_ms: 1000}]
evaluation: {labels: [benign, malignant], interval_ms: 200, report_s: 1, baseline_answers: 500,
             alert_min_answers: 200}
alerts: {false_alarms_per_day: 0.01, test_interval_s: 1, for: 2, keep_firing_for_s: 0}
YAML
}
XGB="{name: model, plugin: $PLUG/libxgboost_model.so, params: {model_file: $MODELS/breast_cancer-xgb.json, labels: \"malignant,benign\"}}"
WORSE="{name: model, plugin: $PLUG/liblinear_model.so, params: {model_file: $TMP/worse.json}}"
config "$XGB" >"$TMP/alr.yaml"
start_host "$TMP/alr.yaml" "$TMP/alr.log"

# drive PHASE N [TRANSFORM] [LABELS] [UNTIL]: N requests PHASE-<i> at about
# 2000/s (TRANSFORM: none or area; LABELS: none, true or flip20), watching
# the alerts stream; with UNTIL ("type check model"), stops at that record
# and prints how many requests of the phase were sent by then; fails on
# any other alert record, or when N pass without it.
drive() {
  $PY - "$BOOTSTRAP" "$@" <<'PY'
import json, random, sys, time
from confluent_kafka import Consumer, Producer
from sklearn.datasets import load_breast_cancer
bootstrap, phase, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
transform = sys.argv[4] if len(sys.argv) > 4 else "none"
labels = sys.argv[5] if len(sys.argv) > 5 else "none"
until = tuple(sys.argv[6].split()) if len(sys.argv) > 6 else None
d = load_breast_cancer()
names = [f.replace(" ", "_") for f in d.feature_names]
truth = [d.target_names[t] for t in d.target]
rng = random.Random(phase)
p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"watch-{phase}",
              "auto.offset.reset": "latest", "enable.auto.commit": False})
c.subscribe(["alr.alerts"])
while not c.assignment():  # from here on, every alert
    c.poll(0.1)
t0, seen = time.monotonic(), None
for i in range(n):
    r = rng.randrange(len(truth))
    row = dict(zip(names, map(float, d.data[r])))
    if transform == "area" and rng.random() < 0.5:
        row["mean_area"] *= 1.5
    key = f"{phase}-{i}"
    p.produce("alr.requests", key=key, value=json.dumps(row))
    if labels != "none":
        label = truth[r]
        if labels == "flip20" and rng.random() < 0.2:
            label = "benign" if label == "malignant" else "malignant"
        p.produce("alr.labels", key=key, value=json.dumps({"id": key, "label": label}))
    if i % 100 == 99:
        p.flush()
        time.sleep(max(0, t0 + (i + 1) / 2000 - time.monotonic()))
        while (m := c.poll(0)) is not None:
            if m.error():
                continue
            a = json.loads(m.value())
            if until and (a["type"], a["check"], a["model"]) == until:
                seen = i + 1
                print(f"{seen} {time.monotonic() - t0:.1f} {a['p_value']:.3g} {a['value']:.4f}")
                sys.exit(0)
            if not until and a["type"] == "alert":
                sys.exit(f"an alert on steady traffic, phase {phase}: {a}")
            print(f"  {phase}: also {a['type']} {a['check']} {a['model']}", file=sys.stderr)
p.flush()
if until:
    sys.exit(f"no {' '.join(until)} in {n} requests of phase {phase}")
time.sleep(3)  # the last windows' tests
while (m := c.poll(0.5)) is not None:
    if not m.error() and json.loads(m.value())["type"] == "alert":
        sys.exit(f"an alert on steady traffic, phase {phase}: {m.value()}")
PY
}

# steady: the references (the canary's and the model's first window, the
# evaluation's first 500 joined), then nothing raised
drive steady 8000 none true >"$TMP/steady.out" || fail "steady traffic: $(tail -3 "$TMP/steady.out")"
pass "steady traffic: 8000 requests, labelled, and no alert record"

phase() { # NAME WHAT N TRANSFORM LABELS UNTIL
  local out
  out=$(drive "$1" "$3" "$4" "$5" "$6" 2>>"$TMP/others") || fail "$2: $out $(tail -3 "$TMP/others")"
  read -r sent secs p value <<<"$out"
  echo "$2: $6 after $sent requests ($secs s; p = $p, value $value)" | tee -a "$TMP/delays"
}
phase flip "labels flipped for 20 %" 40000 none flip20 "alert accuracy_below_first model"
phase unflip "labels true again" 80000 none true "clear accuracy_below_first model"
phase shift "mean_area x 1.5 on half the rows" 40000 area none "alert input_drift canary"
phase unshift "the input as before" 40000 none none "clear input_drift canary"
config "$WORSE" >"$TMP/alr.yaml"
kill -HUP "$HOST_PID"
wait_log "$TMP/alr.log" "generation 2 built" 1 60
phase worse "the model replaced by a worse one" 40000 none none "alert agreement model"
config "$XGB" >"$TMP/alr.yaml"
kill -HUP "$HOST_PID"
wait_log "$TMP/alr.log" "generation 3 built" 1 60
phase better "the model back" 40000 none none "clear agreement model"
# then steady again: no alert, and every alert raised above was cleared
drive after 6000 none none >"$TMP/after.out" 2>>"$TMP/others" ||
  fail "steady traffic after: $(tail -3 "$TMP/after.out")"
consume alr.alerts >"$TMP/alerts.jsonl"
$PY - "$TMP/alerts.jsonl" <<'PY' || fail "alerts left raised: $(cat "$TMP/others")"
import json, sys
raised = set()
for a in map(json.loads, open(sys.argv[1])):
    key = (a["check"], a["model"])
    (raised.add if a["type"] == "alert" else raised.discard)(key)
assert not raised, sorted(raised)
PY
stop_host
pass "each change raised its alert and undoing it cleared it (nothing left raised):"$'\n'"$(cat "$TMP/delays")"$'\n'"other records on the way:"$'\n'"$(cat "$TMP/others")"
