#!/usr/bin/env bash
# delivery.mode exactly_once on a real 3-node cluster (replication 3,
# min.insync.replicas 2), under steady load: a host killed -9 and started
# again; two hosts sharing the group, one killed -9; a broker killed -9; a
# zombie (a host frozen past its session while the other takes its
# partitions, then resumed); a remote model's scorer (`rendezvous scorer`,
# exactly-once too) killed -9 and started again; a host started while its
# transaction coordinator cannot answer. After each, a read_committed reader sees every
# request's result, each model's score and the decoy's copy exactly once;
# a read_uncommitted reader of the same topics sees the aborted attempts
# too (so the check can tell the two). Needs a real cluster: kafka_ only.
. "$(dirname "$0")/lib.sh"
[ "${RV_BROKER:-}" = kafka ] || fail "needs RV_BROKER=kafka"
FX=$RV_FIXTURE_DIR
CASES=(kill9 pair broker zombie remote coord)
topics=()
for c in "${CASES[@]}"; do topics+=($(service_topics "eo$c")); done
RV_KAFKA_NODES=3 start_broker "${topics[@]}"

eo_service() { # NAME HOST: the service's config for host HOST in $TMP/NAME-HOST.yaml
  write_service "$1" "$TMP/$1-$2.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so, params: {sleep_ms: 1}, max_batch: 16}
  - {name: b, plugin: $FX/ok_b.so, max_batch: 16}
  - {name: decoy, builtin: decoy}
rendezvous:
  schedule: [{model: a, within_ms: 1000}, {model: b, within_ms: 2000}]
  max_in_flight: 500
delivery: {mode: exactly_once, transaction_ms: 100, transactional_id: $1-$2}
YAML
  sed -i "s|^state_dir: .*|state_dir: $TMP/state-$1-$2|" "$TMP/$1-$2.yaml"
}

# steady NAME: requests NAME-1, NAME-2, ... at about 1,000/s through an
# idempotent producer, until $TMP/NAME.stop exists; then the count sent is
# written to $TMP/NAME.sent.
steady() {
  $PY - "$BOOTSTRAP" "$1" "$TMP/$1.stop" "$TMP/$1.sent" <<'PY'
import os, sys, time
from confluent_kafka import Producer
bootstrap, name, stop, sent_file = sys.argv[1:]
p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
i = 0
while not os.path.exists(stop):
    for _ in range(10):
        i += 1
        p.produce(f"{name}.requests", f'{{"x": {i % 7}, "y": 1}}', key=f"{name}-{i}")
    p.poll(0)
    time.sleep(0.01)
assert p.flush(120) == 0, "requests not acknowledged"
open(sent_file, "w").write(str(i))
PY
}

# stop_steady NAME: ends the load; prints how many requests were sent.
stop_steady() {
  touch "$TMP/$1.stop"
  for _ in $(seq 1200); do [ -s "$TMP/$1.sent" ] && break; sleep 0.1; done
  [ -s "$TMP/$1.sent" ] || fail "the load did not end"
  cat "$TMP/$1.sent"
}

# read_all NAME TOPIC ISOLATION N: every record of NAME.TOPIC, as
# "key<TAB>value" lines, once at least N are there (read_committed: up to
# 120 s, for a transaction the broker has to time out first).
read_all() {
  local out=$TMP/$1.$2.$3
  for _ in $(seq 120); do
    timeout 60 kcat -C -b "$BOOTSTRAP" -t "$1.$2" -o beginning -e -q -X "isolation.level=$3" \
      -f '%k\t%s\n' >"$out" 2>/dev/null || true
    [ "$(wc -l <"$out")" -ge "$4" ] && break
    sleep 1
  done
  echo "$out"
}

# exactly_once NAME N: a read_committed reader sees one result, one score
# of a and of b, one archive copy per request NAME-1..NAME-N and nothing
# else; prints what a read_uncommitted reader saw twice.
exactly_once() {
  local name=$1 n=$2
  $PY - "$name" "$n" "$(read_all "$name" results read_committed "$n")" \
    "$(read_all "$name" scores read_committed $((2 * n)))" \
    "$(read_all "$name" archive read_committed "$n")" \
    "$(read_all "$name" results read_uncommitted "$n")" <<'PY'
import collections, json, sys
name, n, results, scores, archive, uncommitted = sys.argv[1:]
n = int(n)
want = {f"{name}-{i}" for i in range(1, n + 1)}
def lines(path):
    return [l.rstrip("\n").split("\t", 1) for l in open(path) if l.strip()]
def once(what, keys):
    count = collections.Counter(keys)
    twice = {k: c for k, c in count.items() if c > 1}
    missing = sorted(want - {k[0] if isinstance(k, tuple) else k for k in count})
    assert not twice, f"{what}: {len(twice)} seen more than once, e.g. {list(twice.items())[:3]}"
    return count, missing
count, missing = once("results", [json.loads(v)["id"] for _, v in lines(results)])
assert not missing, f"results: {len(missing)} requests have none, e.g. {missing[:5]}"
extra = set(count) - want
assert not extra, f"results for requests never sent: {sorted(extra)[:5]}"
pairs = [(json.loads(v)["id"], json.loads(v)["model"]) for _, v in lines(scores)]
count, _ = once("scores", pairs)
for m in ("a", "b"):
    lack = sorted(i for i in want if (i, m) not in count)
    assert not lack, f"scores of {m}: {len(lack)} requests have none, e.g. {lack[:5]}"
count, missing = once("archive", [k for k, _ in lines(archive)])
assert not missing, f"archive: {len(missing)} requests have no copy, e.g. {missing[:5]}"
seen = collections.Counter(json.loads(v)["id"] for _, v in lines(uncommitted))
print(f"{name}: {n} requests; read_committed: each result, score and copy once; "
      f"read_uncommitted: {sum(1 for c in seen.values() if c > 1)} results seen twice")
PY
}

# uncommitted_twice LINE: the count of results read_uncommitted saw twice.
uncommitted_twice() { sed -n 's/.*read_uncommitted: \([0-9]*\) results seen twice/\1/p' <<<"$1"; }

# count NAME TOPIC ISOLATION: how many records NAME.TOPIC holds now.
count() {
  timeout 60 kcat -C -b "$BOOTSTRAP" -t "$1.$2" -o beginning -e -q -X "isolation.level=$3" \
    -f '.\n' 2>/dev/null | wc -l
}

# Killed twice: first with a transaction sure to be open (one that would
# commit only after a minute holds results a read_uncommitted reader sees
# and a read_committed one does not), then at any moment of the ordinary
# cycle; each time started again with the same transactional id.
case_kill9() {
  eo_service eokill9 h1
  # (a request counts against max_in_flight until its transaction is over,
  # and one commits at half of it or at transaction_requests: neither comes
  # within the minute at 1,000 requests a second, however slow the count)
  sed -e 's/transaction_ms: 100,/transaction_ms: 60000, transaction_requests: 0, transaction_timeout_ms: 120000,/' \
    -e 's/max_in_flight: 500/max_in_flight: 400000/' "$TMP/eokill9-h1.yaml" >"$TMP/eokill9-open.yaml"
  start_host "$TMP/eokill9-open.yaml" "$TMP/eokill9.log"
  steady eokill9 &
  local open=0
  for _ in $(seq 600); do
    open=$(count eokill9 results read_uncommitted)
    [ "$open" -ge 1000 ] && break
    sleep 0.1
  done
  [ "$open" -ge 1000 ] || fail "only $open results written in 60 s"
  local committed
  committed=$(count eokill9 results read_committed)
  [ "$committed" -eq 0 ] || fail "$committed results visible read_committed before any commit"
  kill -9 "$HOST_PID"
  wait "$HOST_PID" 2>/dev/null || true
  echo "killed -9 with $open results in its open transaction, none committed"
  start_host "$TMP/eokill9-h1.yaml" "$TMP/eokill9-2.log"
  sleep 4
  kill -9 "$HOST_PID"
  wait "$HOST_PID" 2>/dev/null || true
  start_host "$TMP/eokill9-h1.yaml" "$TMP/eokill9-3.log"
  sleep 3
  local n out
  n=$(stop_steady eokill9)
  out=$(exactly_once eokill9 "$n")
  stop_host
  echo "$out"
  [ "$(uncommitted_twice "$out")" -ge 1000 ] ||
    fail "read_uncommitted saw fewer than the 1000 aborted results twice: the check cannot tell"
  pass "host killed -9 twice under load and restarted: every request's records exactly once"
}

case_pair() {
  eo_service eopair h1
  eo_service eopair h2
  start_host "$TMP/eopair-h2.yaml" "$TMP/eopair-h2.log"
  local h2=$HOST_PID
  start_host "$TMP/eopair-h1.yaml" "$TMP/eopair-h1.log"
  steady eopair &
  wait_count eopair.results 2000 90
  wait_log "$TMP/eopair-h1.log" "assigned eopair.requests" 1 60
  kill -9 "$HOST_PID"
  wait "$HOST_PID" 2>/dev/null || true
  sleep 8 # past the dead host's session: the other takes its partitions
  local n
  n=$(stop_steady eopair)
  exactly_once eopair "$n"
  HOST_PID=$h2 stop_host
  pass "two hosts, one killed -9 under load: every request's records exactly once"
}

case_broker() {
  eo_service eobroker h1
  start_host "$TMP/eobroker-h1.yaml" "$TMP/eobroker.log"
  steady eobroker &
  wait_count eobroker.results 2000 90
  bash "$KAFKA" kill "$KAFKA_DIR" 2 2>/dev/null
  sleep 3
  bash "$KAFKA" start-node "$KAFKA_DIR" 2 2>/dev/null || fail "node 2 did not come back"
  sleep 2
  local n
  n=$(stop_steady eobroker)
  exactly_once eobroker "$n"
  stop_host
  pass "a broker killed -9 under load and started again: every request's records exactly once"
}

case_zombie() {
  eo_service eozombie h1
  eo_service eozombie h2
  start_host "$TMP/eozombie-h2.yaml" "$TMP/eozombie-h2.log"
  local h2=$HOST_PID
  start_host "$TMP/eozombie-h1.yaml" "$TMP/eozombie-h1.log"
  steady eozombie &
  wait_count eozombie.results 2000 90
  wait_log "$TMP/eozombie-h1.log" "assigned eozombie.requests" 1 60
  local before
  before=$(grep -c "assigned eozombie.requests" "$TMP/eozombie-h2.log" || true)
  kill -STOP "$HOST_PID"
  # past its 6 s session: the other host takes every partition
  wait_log "$TMP/eozombie-h2.log" "assigned eozombie.requests" $((before + 4)) 60
  sleep 2
  kill -CONT "$HOST_PID"
  wait_log "$TMP/eozombie-h1.log" "transaction aborts\|producer is made again" 1 60
  sleep 3
  local n
  n=$(stop_steady eozombie)
  exactly_once eozombie "$n"
  stop_host
  HOST_PID=$h2 stop_host
  pass "a zombie resumed after its partitions moved: its late transaction aborted, every request's records exactly once"
}

# A remote model a, scored by `rendezvous scorer` (its transactional id the
# host's with .scorer.a), the scorer killed -9 under load and started again:
# what its open transaction held never shows, the scorer that follows
# scores it again, and a's score of every request is there once. Its
# answers reach the host only at the scorer's commit: a's deadline is long.
case_remote() {
  write_service eoremote "$TMP/eoremote.yaml" <<YAML
models:
  - {name: a, remote: true, labels: [yes, no, fixture-a], plugin: $FX/ok.so, max_batch: 16}
  - {name: b, plugin: $FX/ok_b.so, max_batch: 16}
  - {name: decoy, builtin: decoy}
rendezvous:
  schedule: [{model: a, within_ms: 3000}, {model: b, within_ms: 4000}]
delivery: {mode: exactly_once, transaction_ms: 100, transactional_id: eoremote-h1}
YAML
  start_scorer() { # LOG: sets SCORER_PID
    "$RV_BIN" scorer -c "$TMP/eoremote.yaml" --model a -b "$BOOTSTRAP" >"$1.out" 2>"$1" &
    SCORER_PID=$!
    echo "$SCORER_PID" >>"$TMP/pids"
    wait_log "$1" "model a scoring" 1 60
  }
  start_host "$TMP/eoremote.yaml" "$TMP/eoremote.log"
  start_scorer "$TMP/eoremote-scorer.log"
  steady eoremote &
  wait_count eoremote.results 2000 90
  kill -9 "$SCORER_PID"
  wait "$SCORER_PID" 2>/dev/null || true
  start_scorer "$TMP/eoremote-scorer2.log"
  grep -q "transactional id eoremote-h1.scorer.a\|exactly once" "$TMP/eoremote-scorer2.log" ||
    fail "the scorer is not exactly-once: $(head -5 "$TMP/eoremote-scorer2.log")"
  sleep 5
  local n
  n=$(stop_steady eoremote)
  exactly_once eoremote "$n"
  stop_host
  kill "$SCORER_PID"
  pass "a remote model's scorer killed -9 under load and started again: every request's records exactly once"
}

# A host started while its transaction coordinator cannot answer (two of the
# three nodes down: no quorum, no in-sync replicas for the transaction log)
# waits for it, then serves exactly once. It used to give up after one
# init_transactions timeout and exit.
case_coord() {
  eo_service eocoord h1
  sed -i 's|transactional_id: eocoord-h1}|transactional_id: eocoord-h1, transaction_timeout_ms: 2000}|' \
    "$TMP/eocoord-h1.yaml"
  bash "$KAFKA" kill "$KAFKA_DIR" 2 2>/dev/null
  bash "$KAFKA" kill "$KAFKA_DIR" 3 2>/dev/null
  "$RV_BIN" -c "$TMP/eocoord-h1.yaml" -b "$BOOTSTRAP" >"$TMP/eocoord.log.out" 2>"$TMP/eocoord.log" &
  HOST_PID=$!
  echo "$HOST_PID" >>"$TMP/pids"
  # a second host, stopped while it waits for the coordinator: it gives
  # the wait up at once
  eo_service eocoord h2
  echo "shutdown_timeout_ms: 10000" >>"$TMP/eocoord-h2.yaml"
  "$RV_BIN" -c "$TMP/eocoord-h2.yaml" -b "$BOOTSTRAP" >/dev/null 2>"$TMP/eocoord-h2.log" &
  local h2=$! st=0 t0
  echo "$h2" >>"$TMP/pids"
  wait_log "$TMP/eocoord.log" "transactional id eocoord-h1: .*trying again" 2 60
  kill -0 "$HOST_PID" || fail "the host gave up: $(tail -5 "$TMP/eocoord.log")"
  kill -TERM "$h2"
  t0=$SECONDS
  wait "$h2" || st=$?
  grep -q "stopped while waiting for the transaction coordinator" "$TMP/eocoord-h2.log" &&
    grep -q "stopped by signal 15 during start-up: nothing was read" "$TMP/eocoord-h2.log" &&
    [ "$st" -eq 0 ] && [ $((SECONDS - t0)) -le 5 ] ||
    fail "SIGTERM during the coordinator's wait: exit $st after $((SECONDS - t0)) s: $(grep -v '^%' "$TMP/eocoord-h2.log" | tail -3)"
  # together: a node is ready when the metadata names all three
  bash "$KAFKA" start-node "$KAFKA_DIR" 2 2>"$TMP/eocoord-node2.err" &
  local node2=$!
  bash "$KAFKA" start-node "$KAFKA_DIR" 3 2>"$TMP/eocoord-node3.err" ||
    fail "node 3 did not come back: $(tail -5 "$TMP/eocoord-node3.err")"
  wait "$node2" || fail "node 2 did not come back: $(tail -5 "$TMP/eocoord-node2.err")"
  wait_serving "$TMP/eocoord.log"
  steady eocoord &
  wait_count eocoord.results 1000 90
  local n
  n=$(stop_steady eocoord)
  exactly_once eocoord "$n"
  stop_host
  pass "a host started while its transaction coordinator could not answer waited for it, then served exactly once; another, stopped during that wait, gave it up at once (exit 0)"
}

if [ $# -gt 0 ]; then
  run_parallel "$@"
else
  # the broker's fault would stall the other cases' start-up (a killed
  # node's partitions, the transaction coordinator's among them, have no
  # leader until its session ends): it runs alone, after
  run_parallel case_kill9 case_pair case_zombie
  # alone: in one fresh-clone run, with the four cases in parallel beside
  # the rest of the suite (host commits then took up to 6 s against a 10 s
  # transaction timeout), 320 of its archive copies were missing under
  # read_committed while results and scores were whole; not reproduced in
  # nine runs since, alone or in parallel. Open in issue 29.
  run_parallel case_remote
  run_parallel case_broker
  run_parallel case_coord
fi
