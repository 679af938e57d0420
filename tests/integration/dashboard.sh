#!/usr/bin/env bash
# The dashboard (GET /) in a real headless Chromium under load: it renders
# with no console error, shows the running config's models and schedule,
# and its numbers move between two looks; it may fetch nothing but the host.
# With labels on the labels stream, its evaluation panel shows each model's
# accuracy per minute and a row per source.
. "$(dirname "$0")/lib.sh"
FX=$RV_FIXTURE_DIR
read -r PORT < <(free_ports 1)
URL=http://127.0.0.1:$PORT
start_broker $(service_topics dash) dash.labels dash.evaluation
echo '{"kind": "logistic", "features": ["x", "y"], "labels": ["no", "yes"], "coef": [[0.4, 0.2]], "intercept": [-0.5]}' >"$TMP/canary.json"
write_service dash "$TMP/dash.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so, params: {weight: "0.05"}}
  - {name: b, plugin: $FX/ok_b.so}
  - {name: canary, builtin: canary, params: {model_file: $TMP/canary.json, window: 50}}
  - {name: decoy, builtin: decoy}
rendezvous:
  schedule: [{model: a, within_ms: 100}, {model: b, within_ms: 200}]
evaluation: {labels: ["no", "yes"], interval_ms: 200}
http: {listen: "127.0.0.1:$PORT"}
YAML
start_host "$TMP/dash.yaml" "$TMP/dash.log"
echo "host serving $SECONDS s into the test" >"$TMP/timeline"
# the load goes on until both looks are done: a fixed count could end
# before a browser slow to start (a loaded machine) has looked once
load dash 1000000 2>/dev/null &
loading=$!
wait_count dash.results 500 60
echo "500 results $SECONDS s into the test" >>"$TMP/timeline"
$PY -c 'import json
for i in range(1, 3001):
    print(f"dash-{i}:" + json.dumps({"id": f"dash-{i}", "label": "yes" if i % 3 else "no"}))' |
  kcat -P -b "$BOOTSTRAP" -t dash.labels -K:
# the panel has something to show once answers joined their labels
for _ in $(seq 600); do
  [ "$(curl -s "$URL/v1/evaluation" | $PY -c 'import json,sys; print(json.load(sys.stdin)["counts"]["joined"])' 2>/dev/null)" -ge 100 ] 2>/dev/null && break
  sleep 0.1
done

# look DOM: the page after it ran N ms (virtual time: its timers fire)
look() {
  echo "look $2 starts $SECONDS s into the test" >>"$TMP/timeline"
  timeout 90 chromium --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
    --virtual-time-budget="$1" --dump-dom "$URL/" 2>"$TMP/chromium-$2.err" >"$TMP/dom-$2.html" ||
    fail "chromium: $(tail -3 "$TMP/chromium-$2.err")"
  echo "look $2 done $SECONDS s into the test" >>"$TMP/timeline"
}
value() { sed -n "s/.*id=\"$1\">\\([^<]*\\)<.*/\\1/p" "$TMP/dom-$2.html" | head -1; }
look 3000 1
sleep 2
look 3000 2
for n in 1 2; do
  ! grep -E 'CONSOLE|Uncaught|Refused to' "$TMP/chromium-$n.err" ||
    fail "console errors on the page"
  [ "$(value status "$n")" = live ] || fail "page status: $(value status "$n")"
  [ -z "$(value errors "$n")" ] || fail "page error: $(value errors "$n")"
  for m in a b canary decoy; do
    grep -q "data-model=\"$m\"" "$TMP/dom-$n.html" || fail "model $m not on the page"
  done
  assert_contains "$(value schedule "$n")" "a (100 ms), b (200 ms)" "the schedule on the page"
done
grep -q '<section class="wide" id="evaluation">' "$TMP/dom-2.html" ||
  fail "the evaluation panel is hidden: $(grep -o '<section[^>]*id="evaluation"[^>]*>' "$TMP/dom-2.html")"
for src in canary served; do # (a and b may have been shed under load: no answer to measure)
  grep -q "<tr data-source=\"$src\">" "$TMP/dom-2.html" || fail "no evaluation row for $src"
  grep -q "<polyline[^>]*data-source=\"$src\"" "$TMP/dom-2.html" || fail "no accuracy line for $src"
done
r1=$(value requests 1) r2=$(value requests 2)
[ "$r2" -gt "$r1" ] ||
  fail "requests did not move: $r1 then $r2 ($(paste -sd';' "$TMP/timeline"); the load $(kill -0 $loading 2>/dev/null && echo 'still running' || echo 'had ended'))"
pass "the dashboard renders in headless Chromium with no console error, shows every model and the schedule, and moves under load ($r1 -> $r2 requests); its evaluation panel has a row and a line for the canary and the served answer"
if [ -n "${RV_SCREENSHOT:-}" ]; then
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1600 \
    --virtual-time-budget=30000 --screenshot="$RV_SCREENSHOT" "$URL/" 2>/dev/null
  echo "screenshot: $RV_SCREENSHOT"
fi
kill "$loading" 2>/dev/null || true
wait "$loading" 2>/dev/null || true
