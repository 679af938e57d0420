#!/usr/bin/env bash
# Broker faults on a real 3-node cluster (replication 3, min.insync.replicas
# 2), under steady load: a broker killed -9 and started again; the broker
# that leads requests partition 0 frozen (SIGSTOP) for 20 s; the results
# topic's min.insync.replicas raised to 3 while a broker is down, so that
# writes are refused for a while. Throughout, /readyz is sampled. After:
# every request has a result (duplicates counted, none lost), the host is
# ready and exits 0 on SIGTERM. Needs a real cluster: kafka_ only.
. "$(dirname "$0")/lib.sh"
[ "${RV_BROKER:-}" = kafka ] || fail "needs RV_BROKER=kafka"
FX=$RV_FIXTURE_DIR
RV_KAFKA_NODES=3 start_broker $(service_topics flt)
port=$(free_ports 1)
write_service flt "$TMP/flt.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so}
  - {name: b, plugin: $FX/ok_b.so}
rendezvous:
  schedule: [{model: a, within_ms: 1000}, {model: b, within_ms: 2000}]
http: {listen: "127.0.0.1:$port"}
YAML
start_host "$TMP/flt.yaml" "$TMP/flt.log"
wait_log "$TMP/flt.log" "assigned flt.requests" 1 60

# steady load, 500 requests/s, through an idempotent producer that rides
# out the faults, until told to stop; the count sent goes to $TMP/sent
$PY - "$BOOTSTRAP" "$TMP/stop" "$TMP/sent" <<'PY' &
import os, sys, time
from confluent_kafka import Producer
bootstrap, stop, sent_file = sys.argv[1:]
p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
i = 0
while not os.path.exists(stop):
    for _ in range(10):
        i += 1
        p.produce("flt.requests", f'{{"x": {i % 7}, "y": 1}}', key=f"flt-{i}")
    p.poll(0)
    time.sleep(0.02)
assert p.flush(120) == 0, "requests not acknowledged"
open(sent_file, "w").write(str(i))
PY
loader=$!
# /readyz every half second
(while [ ! -e "$TMP/stop" ]; do
  echo "$(date +%s) $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")"
  sleep 0.5
done) >"$TMP/readyz" &
prober=$!

leader_of() { # TOPIC PARTITION: the node id that leads it
  kcat -L -b "$BOOTSTRAP" -t "$1" 2>/dev/null | sed -n "s/^ *partition $2, leader \([0-9]*\),.*/\1/p"
}
sleep 3
victim=3
bash "$KAFKA" kill "$KAFKA_DIR" $victim 2>/dev/null
sleep 3
bash "$KAFKA" start-node "$KAFKA_DIR" $victim 2>/dev/null || fail "node $victim did not come back"
echo "fault 1: node $victim killed -9 and started again"

leader=$(leader_of flt.requests 0)
[ -n "$leader" ] || fail "no leader for flt.requests [0]"
pid=$(bash "$KAFKA" pids "$KAFKA_DIR" | awk -v n="$leader" '$1 == n {print $2}')
kill -STOP "$pid"
sleep 20
kill -CONT "$pid"
echo "fault 2: node $leader (leader of flt.requests [0]) frozen 20 s"

bash "$KAFKA" run kafka.admin.ConfigCommand --bootstrap-server "$BOOTSTRAP" --alter \
  --entity-type topics --entity-name flt.results --add-config min.insync.replicas=3 >/dev/null 2>&1 ||
  fail "cannot raise min.insync.replicas"
bash "$KAFKA" kill "$KAFKA_DIR" 2 2>/dev/null
sleep 10
bash "$KAFKA" start-node "$KAFKA_DIR" 2 2>/dev/null || fail "node 2 did not come back"
bash "$KAFKA" run kafka.admin.ConfigCommand --bootstrap-server "$BOOTSTRAP" --alter \
  --entity-type topics --entity-name flt.results --add-config min.insync.replicas=2 >/dev/null 2>&1 ||
  fail "cannot lower min.insync.replicas"
echo "fault 3: min.insync.replicas of flt.results not met while node 2 was down"

sleep 3
touch "$TMP/stop"
wait "$loader" || fail "the load generator failed"
wait "$prober" || true
sent=$(cat "$TMP/sent")
# a deadline, not a count of tries: one read of the topic takes seconds
deadline=$((SECONDS + 180))
while [ "$SECONDS" -lt "$deadline" ]; do
  [ "$(consume flt.results | cut -d, -f1 | sort -u | wc -l)" -ge "$sent" ] && break
  sleep 1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] ||
  fail "not ready after the faults: $(curl -s "http://127.0.0.1:$port/readyz")"
stop_host
consume flt.results >"$TMP/flt.results"
$PY - "$TMP/flt.results" "$sent" "$TMP/readyz" <<'PY'
import collections, json, sys
path, sent, readyz = sys.argv[1], int(sys.argv[2]), sys.argv[3]
count = collections.Counter(json.loads(l)["id"] for l in open(path))
missing = [i for i in range(1, sent + 1) if count[f"flt-{i}"] == 0]
assert not missing, f"{len(missing)} of {sent} without a result, e.g. {missing[:5]}"
twice = sum(1 for v in count.values() if v > 1)
codes = collections.Counter(l.split()[1] for l in open(readyz))
print(f"flt: {sent} requests, every one answered, {twice} more than once; /readyz samples {dict(codes)}")
PY
grep -c "commit failed" "$TMP/flt.log" | xargs echo "commit failures warned:"
pass "3 brokers, under load: a broker killed -9 and back, the partition leader frozen 20 s, min.insync.replicas not met for 10 s: nothing lost, the host ready after and exits 0"
