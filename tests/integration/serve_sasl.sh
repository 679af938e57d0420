#!/usr/bin/env bash
# The host, its HTTP gateway and a remote scorer on a real Kafka cluster's
# SASL_SSL listener (SCRAM-SHA-512, TLS with the cluster's own CA), the
# password read from a file (streams.kafka_files); a wrong password and a
# denied topic each explained (at start: the log and the exit; while
# serving: the log and /readyz) instead of a silent stall; the password in
# no log, no endpoint and no `check` output. Needs a real cluster:
# registered as kafka_serve_sasl only.
. "$(dirname "$0")/lib.sh"
[ "${RV_BROKER:-}" = kafka ] || fail "needs RV_BROKER=kafka (a SASL_SSL listener)"
FX=$RV_FIXTURE_DIR

KAFKA_SASL=1 start_broker $(service_topics sec) $(service_topics bad) $(service_topics acl)
SASL_BOOTSTRAP=$(sed -n 's/^bootstrap_sasl=//p' "$KAFKA_DIR.out")
[ -n "$SASL_BOOTSTRAP" ] || fail "no SASL_SSL listener: $(cat "$KAFKA_DIR.out")"
PASSWORD=$(cat "$KAFKA_DIR/sasl/rv-host.password")
port=$(free_ports 1)

sasl_service() { # name password-file [port]
  write_service "$1" "$TMP/$1.yaml" <<YAML
models:
  - {name: local, plugin: $FX/ok_b.so}
  - name: remote
    remote: true
    labels: [yes, no, fixture-a]
    plugin: $FX/ok.so
rendezvous:
  schedule: [{model: remote, within_ms: 2000}, {model: local, within_ms: 3000}]
YAML
  sed -i "s|^streams: {brokers: embedded}|streams:\\
  brokers: $SASL_BOOTSTRAP\\
  kafka: {security.protocol: SASL_SSL, sasl.mechanisms: SCRAM-SHA-512, sasl.username: rv-host,\\
          ssl.ca.location: $KAFKA_DIR/tls/ca.pem}\\
  kafka_files: {sasl.password: $2}|" "$TMP/$1.yaml"
  [ -z "${3:-}" ] || echo "http: {listen: \"127.0.0.1:$3\"}" >>"$TMP/$1.yaml"
}

# refused NAME WHAT: the host of NAME.yaml exits non-zero at start (not
# stalled past 60 s); sets RC.
refused() {
  RC=0
  timeout 60 "$RV_BIN" -c "$TMP/$1.yaml" >/dev/null 2>"$TMP/$1.log" || RC=$?
  [ $RC -ne 0 ] && [ $RC -ne 124 ] || fail "the host started or stalled with $2 (exit $RC)"
}

# 1. Everything over SASL_SSL: requests from Kafka and from HTTP, scored by
#    the host and by a scorer, results read back.
sasl_service sec "$KAFKA_DIR/sasl/rv-host.password" "$port"
"$RV_BIN" -c "$TMP/sec.yaml" >"$TMP/sec.log.out" 2>"$TMP/sec.log" &
HOST_PID=$!
echo "$HOST_PID" >>"$TMP/pids"
"$RV_BIN" scorer -c "$TMP/sec.yaml" --model remote >"$TMP/scorer.out" 2>"$TMP/scorer.log" &
echo $! >>"$TMP/pids"
wait_log "$TMP/sec.log" "assigned sec.requests" 1 60
wait_log "$TMP/scorer.log" "assigned sec.requests" 1 60
for i in $(seq 1 50); do echo "sec-$i:{\"x\": $i, \"y\": 1}"; done | kcat -P -b "$BOOTSTRAP" -t sec.requests -K:
wait_count sec.results 50 60
wait_ready "$port" # a 503 before it: "not reading every partition yet"
code=$(curl -s -o "$TMP/http.body" -w '%{http_code}' -H 'X-Request-Id: web-1' -d '{"x": 2, "y": 3}' \
  "http://127.0.0.1:$port/v1/score")
[ "$code" = 200 ] || fail "POST /v1/score over SASL_SSL: $code $(cat "$TMP/http.body")"
consume sec.results >"$TMP/sec.results"
[ "$(grep -c '"model":"remote"' "$TMP/sec.results")" -ge 45 ] ||
  fail "the scorer's answers were not chosen: $(head -2 "$TMP/sec.results")"
pass "host, gateway and scorer over SASL_SSL (SCRAM-SHA-512, the password from a file): 50 + 1 answered, the scorer's chosen"

# 2. The results topic denied to the host while it serves: /readyz says so,
#    naming the topic and the broker's reason; allowed again, the host
#    answers every request it held, each once.
readyz() { curl -s -o "$TMP/readyz" -w '%{http_code}' "http://127.0.0.1:$port/readyz"; }
deny_results() { # --add | --remove
  bash "$KAFKA" acl "$KAFKA_DIR" "$1" --force --deny-principal User:rv-host --operation Write \
    --topic sec.results </dev/null >/dev/null 2>&1 || fail "cannot $1 the ACL"
}
deny_results --add
for i in $(seq 51 80); do echo "sec-$i:{\"x\": $i, \"y\": 1}"; done | kcat -P -b "$BOOTSTRAP" -t sec.requests -K:
for _ in $(seq 150); do
  code=$(readyz)
  [ "$code" = 503 ] && grep -q "sec.results" "$TMP/readyz" && break
  sleep 0.2
done
[ "$code" = 503 ] && grep -qi "authoriz" "$TMP/readyz" ||
  fail "/readyz while sec.results is denied: $code $(head -1 "$TMP/readyz")"
wait_log "$TMP/sec.log" "delivery to sec.results failing" 1 30
said=$(head -1 "$TMP/readyz")
deny_results --remove
check_after=$(date +%s)
wait_count sec.results 80 120
for _ in $(seq 100); do [ "$(readyz)" = 200 ] && break; sleep 0.2; done
[ "$(readyz)" = 200 ] || fail "/readyz after the ACL was removed: $(head -1 "$TMP/readyz")"
check_exactly_once sec 80 || fail "the held requests were not answered once each"
wait_log "$TMP/sec.log" "delivery to sec.results works again" 1 10
pass "sec.results denied while serving: /readyz 503 '$said'; allowed again, 30 held requests answered once each within $(($(date +%s) - check_after)) s, /readyz 200"

curl -s "http://127.0.0.1:$port/metrics" >"$TMP/metrics"
curl -s "http://127.0.0.1:$port/v1/models" >"$TMP/models"
grep -q '^rendezvous_delivery_failures_total [1-9]' "$TMP/metrics" ||
  fail "the refused records are not counted: $(grep delivery_failures "$TMP/metrics")"
stop_host

# 3. A wrong password: the host and the scorer refuse to start, and their
#    logs say why.
echo "not-the-password" >"$TMP/wrong.password"
sasl_service bad "$TMP/wrong.password"
refused bad "a wrong password"
grep -qi "authentication" "$TMP/bad.log" || fail "no reason given: $(grep -v '^%' "$TMP/bad.log" | tail -5)"
RC=0
timeout 60 "$RV_BIN" scorer -c "$TMP/bad.yaml" --model remote >/dev/null 2>"$TMP/bad-scorer.log" || RC=$?
[ $RC -ne 0 ] && [ $RC -ne 124 ] || fail "the scorer started or stalled with a wrong password (exit $RC)"
grep -qi "authentication" "$TMP/bad-scorer.log" ||
  fail "the scorer gives no reason: $(grep -v '^%' "$TMP/bad-scorer.log" | tail -5)"
pass "a wrong password: the host and the scorer exit non-zero, saying: $(grep -io '[^:]*authentication[^;]*' "$TMP/bad.log" | head -1 | cut -c1-100)"

# 3b. The same with exactly-once: refused as soon as the cluster says so
#     (not after the transaction coordinator's two-minute patience), naming
#     the authentication; and a SIGTERM during that start ends the host
#     within shutdown_timeout_ms.
cp "$TMP/bad.yaml" "$TMP/bad-eos.yaml"
printf 'delivery: {mode: exactly_once}\nshutdown_timeout_ms: 2000\n' >>"$TMP/bad-eos.yaml"
t0=$SECONDS
refused bad-eos "a wrong password and exactly-once"
took=$((SECONDS - t0))
grep -qi "authentication" "$TMP/bad-eos.log" ||
  fail "exactly-once: no reason given: $(grep -v '^%' "$TMP/bad-eos.log" | tail -5)"
[ "$took" -le 15 ] || fail "exactly-once with a wrong password took $took s to exit (at most 15)"
"$RV_BIN" -c "$TMP/bad-eos.yaml" >/dev/null 2>"$TMP/bad-eos-term.log" &
pid=$!
echo "$pid" >>"$TMP/pids"
sleep 0.5
kill -TERM "$pid"
t0=$(date +%s%N)
for _ in $(seq 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && fail "SIGTERM during the start: still alive 4 s later (bound 2000 ms)"
wait "$pid" || true
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q "during start-up" "$TMP/bad-eos-term.log" ||
  fail "SIGTERM during the start is not said: $(grep -v '^%' "$TMP/bad-eos-term.log" | tail -3)"
pass "a wrong password with exactly-once: exit $RC in $took s naming the authentication; SIGTERM during that start: ended in $ms ms (bound 2000)"

# 4. An ACL that denies the results topic: named, in the log.
bash "$KAFKA" acl "$KAFKA_DIR" --add --deny-principal User:rv-host --operation All --topic acl.results \
  >/dev/null 2>&1 || fail "cannot add the ACL"
sasl_service acl "$KAFKA_DIR/sasl/rv-host.password"
refused acl "a denied topic"
grep -q "acl.results.*[Aa]uthoriz" "$TMP/acl.log" || fail "the denied topic is not named: $(grep -v '^%' "$TMP/acl.log" | tail -5)"
pass "an ACL denying acl.results: the host exits $RC, naming the topic: $(grep -o 'acl.results[^;]*' "$TMP/acl.log" | head -1 | cut -c1-100)"

# 5. The password is nowhere it could leak.
"$RV_BIN" check -c "$TMP/sec.yaml" >"$TMP/check.out" 2>&1 || fail "check: $(tail -3 "$TMP/check.out")"
for f in sec.log sec.log.out scorer.log scorer.out bad.log bad-scorer.log bad-eos.log bad-eos-term.log acl.log metrics models check.out; do
  ! grep -qF "$PASSWORD" "$TMP/$f" || fail "the password is in $f"
done
pass "the password is in no log, /metrics, /v1/models or check output"
