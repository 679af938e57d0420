#!/usr/bin/env bash
# The HTTP gateway and endpoints with curl, promtool and hey, against the
# real binary and a standalone broker: every status code, the request still
# travelling through Kafka (the decoy records it), metrics that promtool
# accepts, and a short load with no 5xx.
. "$(dirname "$0")/lib.sh"
FX=$RV_FIXTURE_DIR
# Free ports at once (all held while chosen, so they differ).
read -r PORT_WEB PORT_SLOW PORT_BP < <(free_ports 3)

start_broker $(service_topics web) $(service_topics slow) $(service_topics bp)

http_service() { # name port [extra model lines] [max_in_flight] [params of a]
  write_service "$1" "$TMP/$1.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so${5:+, params: {$5\}}}
  - {name: decoy, builtin: decoy}
${3:-}
rendezvous:
  schedule: [{model: a, within_ms: 50}]
  max_in_flight: ${4:-10000}
http: {listen: "127.0.0.1:$2"}
YAML
}

wait_ready() { # url
  for _ in $(seq 200); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/readyz")" = 200 ] && return 0
    sleep 0.05
  done
  fail "never ready: $(curl -s "$1/readyz")"
}

# The cases run side by side: each keeps its response bodies in its own $BODY.
status_of() { curl -s -o "$BODY" -w '%{http_code}' "$@"; }

case_endpoints() {
  local port=$PORT_WEB url BODY=$TMP/body-web
  url="http://127.0.0.1:$port"
  http_service web "$port" "" 10000 "weight: 0.01"
  start_host "$TMP/web.yaml" "$TMP/web.log"
  wait_ready "$url"

  [ "$(status_of "$url/healthz")" = 200 ] || fail "healthz"
  [ "$(status_of -H 'X-Request-Id: web-1' -d '{"x": 2, "y": 3}' "$url/v1/score")" = 200 ] ||
    fail "score: $(cat "$BODY")"
  grep -q '"id":"web-1","model":"a"' "$BODY" || fail "score body: $(cat "$BODY")"
  wait_count web.archive 1
  arch=$("$RV_BIN" archive cat --topic web.archive -b "$BOOTSTRAP")
  grep -q '"id":"web-1".*"body":"{\\"x\\": 2, \\"y\\": 3}"' <<<"$arch" ||
    fail "the decoy did not record the HTTP request exactly: $arch"
  pass "POST /v1/score: 200 with the result; the request went through Kafka and the decoy"

  # Callers sharing an X-Request-Id each get the answer to their own body
  # (a's score is 0.75 + x / 100).
  for round in 1 2 3 4 5; do
    pids=()
    for x in 10 20 30 40; do
      curl -s -o "$TMP/same-$x" -H 'X-Request-Id: same-id' -d "{\"x\": $x}" "$url/v1/score" &
      pids+=($!)
    done
    wait "${pids[@]}" # not the host, also a child of this shell
    for x in 10 20 30 40; do
      want=$($PY -c "print(0.75 + $x / 100)")
      grep -q "\"id\":\"same-id\".*\"score\":$want[,}]" "$TMP/same-$x" ||
        fail "round $round: the call with x=$x got another call's answer: $(cat "$TMP/same-$x")"
    done
  done
  pass "20 calls sharing an X-Request-Id, 4 at a time: each got the answer to its own body"

  [ "$(status_of -d '{"x": "two"}' "$url/v1/score")" = 400 ] || fail "400 for a bad type"
  grep -q "feature 'x' is a string, expected a number" "$BODY" || fail "400 reason"
  [ "$(status_of -d 'nope' "$url/v1/score")" = 400 ] || fail "400 for not JSON"
  [ "$(status_of -H 'X-Request-Id: bad id' -d '{}' "$url/v1/score")" = 400 ] || fail "400 for a bad id"
  head -c 400 /dev/zero | tr '\0' ' ' >"$TMP/big"
  [ "$(status_of --data-binary @"$TMP/big" "$url/v1/score")" = 413 ] || fail "413 over the size limit"
  [ "$(status_of "$url/nothing")" = 404 ] || fail "404"
  [ "$(status_of -X DELETE "$url/v1/models")" = 405 ] || fail "405"
  pass "400 with the reason, 413 over the limit, 404, 405"

  [ "$(status_of "$url/v1/models")" = 200 ] || fail "/v1/models"
  $PY - "$BODY" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
names = {x["name"]: x for x in m["models"]}
assert set(names) == {"a", "decoy"}, names
a = names["a"]
assert a["state"] == "live" and a["role"] == "scheduled" and len(a["version"]) == 8, a
assert "queue_depth" in a and "last_error" in a and a["instances"] == 1, a
assert m["schedule"] == [{"model": "a", "within_ms": 50}] and m["schedule_version"] == 1, m
PY
  pass "/v1/models lists versions, states, queues, schedule"

  echo '{"x": 1, "y": 1}' >"$TMP/req.json"
  hey -z 5s -c 8 -m POST -T application/json -D "$TMP/req.json" "$url/v1/score" >"$TMP/hey.txt"
  grep -A5 "Status code distribution" "$TMP/hey.txt" | grep -q "\[200\]" || fail "hey: $(cat "$TMP/hey.txt")"
  if grep -A5 "Status code distribution" "$TMP/hey.txt" | grep -q "\[5[0-9][0-9]\]"; then
    fail "5xx under load: $(grep -A5 'Status code distribution' "$TMP/hey.txt")"
  fi
  pass "5 s of hey load: $(grep -A3 'Status code distribution' "$TMP/hey.txt" | grep '\[200\]' | xargs), no 5xx"

  curl -s "$url/metrics" >"$TMP/metrics"
  promtool check metrics <"$TMP/metrics" || fail "promtool rejects /metrics"
  for m in rendezvous_model_requests_total rendezvous_model_latency_seconds_bucket \
           rendezvous_model_queue_depth rendezvous_model_shed_total rendezvous_results_total \
           rendezvous_results_by_model_total rendezvous_result_latency_seconds_bucket \
           rendezvous_reloads_total rendezvous_consumer_lag; do
    grep -q "^$m" "$TMP/metrics" || fail "/metrics lacks $m"
  done
  grep -q '^rendezvous_results_by_model_total{model="a"} [1-9]' "$TMP/metrics" || fail "no results counted"
  grep -q '^rendezvous_preferred_path_cpu_share ' "$TMP/metrics" || fail "/metrics lacks the path's share"
  if [ "$(nproc)" -gt 1 ]; then # quiet again after the load: kept on one CPU
    kept=""
    for _ in $(seq 100); do
      kept=$(curl -s "$url/metrics" | sed -n 's/^rendezvous_preferred_path_kept //p')
      [ "$kept" = 1 ] && break
      sleep 0.1
    done
    [ "$kept" = 1 ] || fail "the preferred path is not kept while quiet: $kept"
  fi
  pass "/metrics accepted by promtool"

  # Not ready when the broker is gone, and says why.
  stop_broker
  for _ in $(seq 100); do
    [ "$(status_of "$url/readyz")" = 503 ] && break
    sleep 0.1
  done
  [ "$(status_of "$url/readyz")" = 503 ] || fail "readyz stays $(status_of "$url/readyz") without a broker"
  grep -q "broker not reachable" "$BODY" || fail "readyz reason: $(cat "$BODY")"
  [ "$(status_of -d '{"x": 1}' "$url/v1/score")" = 503 ] || fail "score without a broker"
  kill -9 "$HOST_PID"
  pass "503 from /readyz and /v1/score when the broker is unreachable"
}

case_timeout() {
  local port=$PORT_SLOW url BODY=$TMP/body-slow
  url="http://127.0.0.1:$port"
  # one request in flight at a time, held for 3 s by a shadow model: the
  # next one is not read in time
  http_service slow "$port" "  - {name: shadow, plugin: $FX/ok_b.so, params: {sleep_ms: 3000}, max_score_ms: 10000}" 1
  start_host "$TMP/slow.yaml" "$TMP/slow.log"
  wait_ready "$url"
  [ "$(status_of -d '{"x": 1}' "$url/v1/score")" = 200 ] || fail "first: $(cat "$BODY")"
  [ "$(status_of -d '{"x": 2}' "$url/v1/score")" = 504 ] || fail "expected 504: $(cat "$BODY")"
  grep -q "within 1050 ms (last deadline 50 ms + 1000 ms)" "$BODY" || fail "504 reason: $(cat "$BODY")"
  # held at the bound for over a second: the input pauses its partitions
  # (and goes on polling) and says so
  for _ in $(seq 200); do grep -q "partitions paused" "$TMP/slow.log" && break; sleep 0.05; done
  grep -q "1 requests in flight for 1000 ms (rendezvous.max_in_flight): partitions paused" \
    "$TMP/slow.log" || fail "no pause after a second at the bound: $(cat "$TMP/slow.log")"
  stop_host
  pass "504 when no result comes by the last deadline plus the margin"
}

# At rendezvous.max_in_flight the input stops reading: in flight never goes
# past the bound, reaches it under load, and every request is answered.
case_backpressure() {
  local port=$PORT_BP url BODY=$TMP/body-bp
  url="http://127.0.0.1:$port"
  http_service bp "$port" "  - {name: slow, plugin: $FX/ok_b.so, params: {sleep_ms: 10}, max_batch: 1}" 20
  start_host "$TMP/bp.yaml" "$TMP/bp.log"
  wait_ready "$url"
  for i in $(seq 300); do echo "bp-$i:{\"x\": $i}"; done | kcat -P -b "$BOOTSTRAP" -t bp.requests -K:
  : >"$TMP/bp.inflight"
  for i in $(seq 1000); do
    curl -s "$url/metrics" | sed -n 's/^rendezvous_requests_in_flight //p' >>"$TMP/bp.inflight"
    [ $((i % 20)) -eq 0 ] && [ "$(consume bp.results | wc -l)" -ge 300 ] && break
  done
  wait_count bp.results 300
  stop_host
  max=$(sort -n "$TMP/bp.inflight" | tail -1)
  [ "${max%.*}" -le 20 ] || fail "in flight reached $max, past max_in_flight 20"
  [ "${max%.*}" -eq 20 ] || fail "in flight never reached the bound under load (max $max)"
  ! grep -q "partitions paused" "$TMP/bp.log" || fail "paused while requests were flowing"
  [ "$(consume bp.results | wc -l)" -eq 300 ] || fail "expected exactly 300 results"
  pass "backpressure: in flight held at max_in_flight 20 ($(wc -l <"$TMP/bp.inflight") samples), 300 answered, no pause"
}

run_parallel case_timeout case_endpoints case_backpressure
