#!/usr/bin/env bash
# Shutdown is bounded: SIGTERM ends the host within shutdown_timeout_ms
# even with a model stuck in score() in the host, or with the broker gone;
# a second signal ends it at once; so does a signal during start-up. What was left uncommitted is said, and
# the exit status is 1.
. "$(dirname "$0")/lib.sh"
FX=$RV_FIXTURE_DIR

start_broker $(service_topics stuck) $(service_topics twice) $(service_topics gone)

# stuck_service NAME FILE SHUTDOWN_MS: model a hangs in score(), in the
# host; b answers, so every request gets its result by fallback.
stuck_service() {
  write_service "$1" "$2" <<YAML
shutdown_timeout_ms: $3
models:
  - {name: a, plugin: $FX/ok.so, isolation: none, params: {fault: hang}}
  - {name: b, plugin: $FX/ok_b.so}
rendezvous:
  schedule: [{model: a, within_ms: 100}, {model: b, within_ms: 1000}]
YAML
}

# exits_within PID SECONDS: waits for PID; fails if it is still alive after
# SECONDS. Sets EXIT_STATUS and ELAPSED_MS.
exits_within() {
  local t0 i
  t0=$(date +%s%N)
  for i in $(seq $(($2 * 20))); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$1" 2>/dev/null && { kill -9 "$1"; fail "still alive $2 s after the signal"; }
  EXIT_STATUS=0
  wait "$1" || EXIT_STATUS=$?
  ELAPSED_MS=$((($(date +%s%N) - t0) / 1000000))
}

case_stuck_model() {
  stuck_service stuck "$TMP/stuck.yaml" 2000
  start_host "$TMP/stuck.yaml" "$TMP/stuck.log"
  for i in 1 2 3; do echo "s-$i:{\"x\": $i}"; done | kcat -P -b "$BOOTSTRAP" -t stuck.requests -K:
  wait_count stuck.results 3
  kill -TERM "$HOST_PID"
  exits_within "$HOST_PID" 6
  [ "$EXIT_STATUS" -eq 1 ] || fail "exit status $EXIT_STATUS, expected 1: $(tail -5 "$TMP/stuck.log")"
  grep -q "shutdown_timeout_ms passed: exiting now, [0-9]* request(s) not committed" \
    "$TMP/stuck.log" || fail "no word of the bound: $(tail -5 "$TMP/stuck.log")"
  pass "SIGTERM with a model stuck in score(): exited in $ELAPSED_MS ms (bound 2000), status 1"
}

case_second_signal() {
  stuck_service twice "$TMP/twice.yaml" 60000
  start_host "$TMP/twice.yaml" "$TMP/twice.log"
  echo 't-1:{"x": 1}' | kcat -P -b "$BOOTSTRAP" -t twice.requests -K:
  wait_count twice.results 1
  kill -TERM "$HOST_PID"
  sleep 0.5
  kill -INT "$HOST_PID"
  exits_within "$HOST_PID" 3
  [ "$EXIT_STATUS" -eq 1 ] || fail "exit status $EXIT_STATUS, expected 1"
  grep -q "second stop signal: exiting now" "$TMP/twice.log" ||
    fail "no word of the second signal: $(tail -5 "$TMP/twice.log")"
  pass "a second signal exits at once ($ELAPSED_MS ms after the first; bound 60000)"
}

case_broker_gone() {
  write_service gone "$TMP/gone.yaml" <<YAML
shutdown_timeout_ms: 2000
models:
  - {name: a, plugin: $FX/ok.so, params: {sleep_ms: 1500}}
rendezvous:
  schedule: [{model: a, within_ms: 5000}]
YAML
  start_host "$TMP/gone.yaml" "$TMP/gone.log"
  echo 'g-0:{"x": 0}' | kcat -P -b "$BOOTSTRAP" -t gone.requests -K:
  wait_count gone.results 1 # the host reads
  for i in 1 2 3; do echo "g-$i:{\"x\": $i}"; done | kcat -P -b "$BOOTSTRAP" -t gone.requests -K:
  sleep 0.5 # read, and being scored: in flight when the broker goes
  kill_broker
  kill -TERM "$HOST_PID"
  exits_within "$HOST_PID" 6
  [ "$EXIT_STATUS" -eq 1 ] || fail "exit status $EXIT_STATUS, expected 1: $(tail -5 "$TMP/gone.log")"
  grep -q "not committed" "$TMP/gone.log" || fail "no word of what was left: $(tail -5 "$TMP/gone.log")"
  pass "SIGTERM with requests in flight and the broker gone: exited in $ELAPSED_MS ms (bound 2000), status 1"
}

# SIGTERM while the host still starts (a model's warm-up that takes a
# minute): the bound runs from the signal, not from the start's end.
case_start_wait() {
  write_service slowstart "$TMP/slowstart.yaml" <<YAML
shutdown_timeout_ms: 2000
models:
  - {name: a, plugin: $FX/ok.so, params: {warm_sleep_ms: 60000}}
rendezvous:
  schedule: [{model: a, within_ms: 1000}]
YAML
  "$RV_BIN" -c "$TMP/slowstart.yaml" -b "$BOOTSTRAP" >/dev/null 2>"$TMP/slowstart.log" &
  local pid=$!
  echo "$pid" >>"$TMP/pids"
  sleep 1
  grep -q "serving:" "$TMP/slowstart.log" && fail "the host started despite a minute's warm-up"
  kill -TERM "$pid"
  exits_within "$pid" 4
  grep -q "during start-up: stopping within 1900 ms" "$TMP/slowstart.log" &&
    grep -q "shutdown_timeout_ms passed while still starting: exiting now (nothing was read yet)" \
      "$TMP/slowstart.log" || fail "no word of the bound at start-up: $(tail -5 "$TMP/slowstart.log")"
  pass "SIGTERM during a model's minute-long warm-up: exited in $ELAPSED_MS ms (bound 2000), status $EXIT_STATUS"
}

run_parallel case_stuck_model case_second_signal case_start_wait
case_broker_gone
