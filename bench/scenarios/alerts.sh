# shellcheck shell=bash
# bench/scenarios/alerts.sh - the alerts' false alarms and detection delays
# (docs/alerts.md): alerts, alerts_soak.

# alerts_scores FILE: the table bench/alerts_sim replays, one line per row
# of the demo's data: P(benign) by the canary, by the XGBoost model, by both
# on the row with mean_area x 1.5, and by a worse model (the canary's
# weights, intercept +8)
alerts_scores() {
  $PY - "$MODELS" "$1" <<'PY'
import json, sys
import numpy as np
import xgboost as xgb
models, out = sys.argv[1:]
can = json.load(open(f"{models}/breast_cancer-canary.json"))
rows = [json.loads(l) for l in open(f"{models}/../data/breast_cancer.jsonl") if l.strip()]
X = np.array([[r[f] for f in can["features"]] for r in rows])
Xs = X.copy()
Xs[:, can["features"].index("mean_area")] *= 1.5
w, b = np.array(can["coef"])[0], can["intercept"][0]
logistic = lambda X, b: 1 / (1 + np.exp(-(X @ w + b)))
booster = xgb.Booster()
booster.load_model(f"{models}/breast_cancer-xgb.json")
model = lambda X: booster.predict(xgb.DMatrix(X))
with open(out, "w") as f:
    for row in zip(logistic(X, b), model(X), logistic(Xs, b), model(Xs), logistic(X, b + 8)):
        f.write(" ".join(f"{v:.17g}" for v in row) + "\n")
PY
}

# alerts: bench/alerts_sim on $SIM_REQUESTS (10,000,000) requests drawn at
# random from the demo's rows (their real scores), the demo's canary params
# (window 1000, max_score_shift 0.25): at the default alerts settings at
# 5000 requests/s (the false alarms of a steady stream), then each test at
# level 0.01 (false_alarms_per_day 864, a test a second, for 1, at 1000/s:
# every window tested; ten runs of a tenth, each its own reference) to see
# the tests' real size, then the requests each
# change takes to raise its alert at the defaults: mean_area x 1.5 on half
# the rows from request 1,000,000, and the model replaced by a worse one.
scenario_alerts() {
  [ -x "$TOOLS/alerts_sim" ] || die "no $TOOLS/alerts_sim in the build"
  alerts_scores "$WORK/scores.txt"
  local n=${SIM_REQUESTS:-10000000}
  sim_yaml() { # FILE ALERTS
    cat >"$1" <<YAML
service: sim
state_dir: $WORK/sim-state
streams: {brokers: embedded}
input: {features: [$FEATURES]}
models:
  - {name: xgb-v1, plugin: $BUILD/plugins/liblinear_model.so, isolation: none, params: {model_file: $MODELS/breast_cancer-linear.json}}
  - {name: canary, builtin: canary, params: {model_file: $MODELS/breast_cancer-canary.json, max_score_shift: 0.25}}
rendezvous:
  schedule: [{model: xgb-v1, within_ms: 20}]
${2:+alerts: $2}
YAML
  }
  sim_yaml "$WORK/defaults.yaml" ""
  sim_yaml "$WORK/level.yaml" "{false_alarms_per_day: 864, test_interval_s: 1, for: 1, keep_firing_for_s: 0}"
  local t0
  t0=$(date +%s%N)
  "$TOOLS/alerts_sim" "$WORK/defaults.yaml" "$WORK/scores.txt" "$n" 5000 >"$WORK/steady.json"
  echo "alerts_sim: $n requests in $(( ($(date +%s%N) - t0) / 1000000 )) ms" | tee -a "$RESULTS"
  # the same at 100/s: a window each 10 s, every one tested, over a day
  "$TOOLS/alerts_sim" "$WORK/defaults.yaml" "$WORK/scores.txt" "$n" 100 >"$WORK/slow.json"
  # the level's runs: 10 references (seeds), n / 10 requests each
  local seed
  for seed in $(seq 10); do
    "$TOOLS/alerts_sim" "$WORK/level.yaml" "$WORK/scores.txt" $((n / 10)) 1000 --seed "$seed"
  done | $PY -c '
import json, sys
runs = [json.loads(l) for l in sys.stdin]
out = dict(runs[0], requests=sum(r["requests"] for r in runs),
           tests_per_model=sum(r["tests_per_model"] for r in runs), seeds=len(runs))
for c in ("agreement", "score_shift", "drift", "input_drift"):
    out[c] = {k: sum(r[c][k] for r in runs) for k in ("alerts", "clears")}
print(json.dumps(out))' >"$WORK/level.json"
  "$TOOLS/alerts_sim" "$WORK/defaults.yaml" "$WORK/scores.txt" 3000000 5000 --change shift \
    --at 1000000 >"$WORK/shift.json"
  "$TOOLS/alerts_sim" "$WORK/defaults.yaml" "$WORK/scores.txt" 3000000 5000 --change worse \
    --at 1000000 >"$WORK/worse.json"
  summarize "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
r = {k: json.load(open(f"{work}/{k}.json")) for k in ("steady", "slow", "level", "shift", "worse")}
checks = ("agreement", "score_shift", "drift", "input_drift")
s, w, l = r["steady"], r["slow"], r["level"]
head = lambda x: (f"{x['requests']:,} requests at {x['rate']:g}/s ({x['simulated_s'] / 86400:.2f} "
                  f"days, {x['tests_per_model']} tests)")
print(f"\n| check | steady, defaults: {head(s)} | steady, defaults: {head(w)} | each test at "
      f"0.01: {l['tests_per_model']} tests | raised after the change, defaults (requests) |")
print("|---|---|---|---|---|")
for c in checks:
    after = [f"{k}: {r[k][c]['first_alert_after']:,} ({r[k][c]['first_alert_after'] / r[k]['rate']:.1f} s)"
             for k in ("shift", "worse") if r[k][c]["first_alert_after"] >= 0]
    print(f"| {c} | {s[c]['alerts']} alerts | {w[c]['alerts']} alerts | {l[c]['alerts']} alerts "
          f"({l[c]['alerts'] / max(1, l['tests_per_model']):.4f} a test) | {', '.join(after) or '-'} |")
PY
  for k in steady slow level shift worse; do record "alerts-$k" "$WORK/$k.json" /dev/null "alerts_sim $k"; done
}

# alerts_soak: the demo's models and canary params (alerts at their
# defaults) on the broker, the demo's 569 rows replayed at $SOAK_RATE
# (5000) requests/s for $SOAK_S (600) s: the alert records written
# (goal: none).
scenario_alerts_soak() {
  start_services as
  xgboost_yaml as "$WORK/as.yaml"
  start_host as "$WORK/as.yaml"
  rvbench_cmd as alerts-soak
  local rc=0
  timeout $((${SOAK_S:-600} + 300)) "${RVB[@]}" --duration "${SOAK_S:-600}" \
    --rate "${SOAK_RATE:-5000}" --window "$WINDOW" >"$WORK/alerts-soak.table" 2>"$WORK/alerts-soak.err" ||
    rc=$?
  cat "$WORK/alerts-soak.table"
  [ $rc -eq 0 ] || echo "  (rvbench exit $rc)" >&2
  sleep 2
  stop_host as
  timeout 60 kcat -C -b "$BOOTSTRAP" -t as.alerts -o beginning -e -q -f '%s\n' >"$WORK/as.alerts" \
    2>/dev/null || true
  summarize "$WORK/as.alerts" "${SOAK_S:-600}" "${SOAK_RATE:-5000}" <<'PY'
import collections, json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = collections.Counter((r["type"], r["check"], r["model"]) for r in recs)
print(f"\nsoak: {sys.argv[3]}/s for {sys.argv[2]} s: {len(recs)} alert records"
      + "".join(f"\n  {n} x {t} {c} {m}" for (t, c, m), n in sorted(by.items())))
PY
  record alerts-soak "$WORK/alerts-soak.json" "$WORK/alerts-soak.table" "rvbench at ${SOAK_RATE:-5000}/s for ${SOAK_S:-600} s"
}
