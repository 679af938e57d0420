#!/usr/bin/env bash
# The daemon under valgrind's memcheck while it serves: requests through
# Kafka, two models and the decoy in the host (isolation: none: Debian's
# valgrind 3.19 does not know pidfd_open, which model processes need; they
# run under ASan+UBSan), a malformed request to dead-letter, requests and
# reads through the HTTP gateway and endpoints, a SIGHUP reload and a
# control record mid-stream, then SIGTERM. No invalid access, no use of an uninitialised value, no definite
# leak, and every request answered.
. "$(dirname "$0")/lib.sh"
FX=$RV_FIXTURE_DIR
command -v valgrind >/dev/null || fail "valgrind is not installed (scripts/setup.sh)"

PORT=$(free_ports 1)
URL=http://127.0.0.1:$PORT
start_broker $(service_topics vg)
vg_service() { # SCORE of model a
  write_service vg "$TMP/vg.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so, isolation: none, max_batch: 8, params: {score: "$1"}}
  - {name: b, plugin: $FX/ok_b.so, isolation: none, max_batch: 8}
  - {name: decoy, builtin: decoy}
rendezvous:
  schedule: [{model: a, within_ms: 2000}, {model: b, within_ms: 4000}]
http: {listen: "127.0.0.1:$PORT"}
YAML
}
vg_service 0.75

valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --log-file="$TMP/memcheck.log" "$RV_BIN" -c "$TMP/vg.yaml" -b "$BOOTSTRAP" \
  >"$TMP/vg.out" 2>"$TMP/vg.log" &
HOST_PID=$!
echo "$HOST_PID" >>"$TMP/pids"
wait_log "$TMP/vg.log" "serving:" 1 120

send() { # FIRST LAST
  for i in $(seq "$1" "$2"); do echo "vg-$i:{\"x\": $((i % 5)), \"y\": 1}"; done |
    kcat -P -b "$BOOTSTRAP" -t vg.requests -K:
}
send 1 100
echo 'vg-bad:{"x": "not a number"' | kcat -P -b "$BOOTSTRAP" -t vg.requests -K:
wait_count vg.results 100 120
wait_count vg.dead-letter 1 60
for i in $(seq 20); do
  [ "$(curl -s --max-time 60 -o /dev/null -w '%{http_code}' "$URL/readyz")" = 200 ] && break
  sleep 0.5
done
for i in 1 2 3; do
  code=$(curl -s --max-time 60 -o "$TMP/score.$i" -w '%{http_code}' -H "X-Request-Id: web-$i" \
    -d "{\"x\": $i, \"y\": 2}" "$URL/v1/score")
  [ "$code" = 200 ] || fail "POST /v1/score: $code $(cat "$TMP/score.$i")"
done
code=$(curl -s --max-time 60 -o /dev/null -w '%{http_code}' -d '{"x": ' "$URL/v1/score")
[ "$code" = 400 ] || fail "a malformed body through HTTP: $code, expected 400"
for path in metrics healthz v1/models v1/stats; do
  code=$(curl -s --max-time 60 -o /dev/null -w '%{http_code}' "$URL/$path")
  [ "$code" = 200 ] || fail "GET /$path: $code"
done

vg_service 0.8
kill -HUP "$HOST_PID"
wait_log "$TMP/vg.log" "reloaded: generation 2" 1 120
send 101 200
wait_count vg.results 200 120

echo '{"schedule": [{"model": "b", "within_ms": 1000}, {"model": "a", "within_ms": 2000}]}' |
  kcat -P -b "$BOOTSTRAP" -t vg.control
wait_log "$TMP/vg.log" "control record: generation" 1 120
send 201 300
wait_count vg.results 300 120

kill -TERM "$HOST_PID"
rc=0
wait "$HOST_PID" || rc=$?
[ -s "$TMP/memcheck.log" ] && fail "memcheck found errors (exit $rc):"$'\n'"$(cat "$TMP/memcheck.log")"
[ $rc -eq 0 ] || fail "the host exited $rc under valgrind: $(tail -5 "$TMP/vg.log")"
results=$(consume vg.results | wc -l)
[ "$results" -eq 300 ] || fail "$results results for 300 requests"
replies=$(consume vg.gateway-replies | wc -l)
[ "$replies" -eq 3 ] || fail "$replies replies on the gateway's topic for 3 HTTP requests"
pass "300 requests, 3 through HTTP and the endpoints, a dead letter, a reload and a control record under memcheck: no error, no definite leak"
