#!/usr/bin/env bash
# A lost site taken over (docs/sites.md): hosts at east and west, each of a
# site, MirrorMaker 2 both ways, and at west a `rendezvous takeover --from
# east --when-silent 10` standing by. Under paced load at east, east's
# broker and host are killed -9. Then, counting the results of both sites:
# every request of east that reached west mirrored has exactly one result
# there (east's, mirrored, or west's taken over), none taken over that the
# mirror had brought east's result of; the takeover started from east's
# checkpoints, not from the beginning; the requests never mirrored (the
# recovery point) and the time from the loss to the first answer taken over
# are said, the recovery point beside the mirror's lag measured at west in
# the seconds before the loss. Failback: east returns, the takeover ends by
# itself, east's host answers what was never mirrored and nothing west
# answered for it. East lost again and taken over by hand: from its new
# checkpoints, the command's time to its first answer said. Needs real
# clusters: registered as kafka_sites_takeover only.
. "$(dirname "$0")/lib.sh"
[ "${RV_BROKER:-}" = kafka ] || fail "needs RV_BROKER=kafka (two Apache Kafka clusters)"
RATE=1000 SECONDS_BEFORE_LOSS=3 # 5,000 requests and more at east before it is lost

start_sites geo
bash "$SITES" wait-topic "$SDIR" west east.geo.requests 60
bash "$SITES" wait-topic "$SDIR" east west.geo.results 60

site_configs geo "shutdown_timeout_ms: 5000"
BOOTSTRAP=$EAST start_host "$TMP/geo-east.yaml" "$TMP/east.log"
EAST_HOST=$HOST_PID
read -r WEST_PORT < <(free_ports 1)
echo "http: {listen: \"127.0.0.1:$WEST_PORT\"}" >>"$TMP/geo-west.yaml"
BOOTSTRAP=$WEST start_host "$TMP/geo-west.yaml" "$TMP/west.log"
"$RV_BIN" takeover -c "$TMP/geo-west.yaml" --from east --when-silent 10 -b "$WEST" \
  >/dev/null 2>"$TMP/takeover.log" &
TAKEOVER=$!
echo "$TAKEOVER" >>"$TMP/pids"
wait_log "$TMP/takeover.log" "standing by" 1 60

# load_east PREFIX: paced load at east (ids PREFIX-<n>) until $TMP/PREFIX.stop
# exists, in the background (LOADER); the ids east acknowledged in
# $TMP/PREFIX.acked
load_east() {
  $PY - "$EAST" "$RATE" "$1" "$TMP/$1.acked" "$TMP/$1.stop" <<'PY' 2>"$TMP/$1.load.err" &
import os, sys, time
from confluent_kafka import Producer
bootstrap, rate, prefix, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[5]
out = open(sys.argv[4], "w", buffering=1)
p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all",
              "message.timeout.ms": 3000, "enable.idempotence": True})
def done(err, msg):
    if not err:
        out.write(msg.key().decode() + "\n")
t0, i = time.time(), 0
while not os.path.exists(stop) and time.time() - t0 < 120:
    due = int((time.time() - t0) * rate)
    while i < due:
        p.produce("geo.requests", key=f"{prefix}-{i}", value=b'{"x": 1, "y": 1}', callback=done)
        i += 1
    p.poll(0.001)
p.flush(5)
PY
  LOADER=$!
}
load_east east
# in a steady state: east's group checkpointed at west (the mirror looks for
# new groups every 5 s here), then a few seconds more
for _ in $(seq 300); do
  kcat -C -b "$WEST" -t east.checkpoints.internal -o beginning -e -q -f '%k\n' 2>/dev/null |
    grep -qa 'geo-rendezvous' && break
  sleep 0.1
done
# the mirror's lag from east as west's host measures it, until the loss
for _ in $(seq $((SECONDS_BEFORE_LOSS * 4))); do
  curl -s "http://127.0.0.1:$WEST_PORT/metrics" |
    sed -n 's/^rendezvous_site_mirror_lag_seconds{from="east"} //p' >>"$TMP/lag"
  sleep 0.25
done
kill -9 "$EAST_HOST"
bash "$SITES" kill "$SDIR" east 2>/dev/null
LOST_AT=$(date +%s%N)
touch "$TMP/east.stop"

# the first answer taken over, and how long after the loss
first_ms=""
for _ in $(seq 900); do
  if kcat -C -b "$WEST" -t geo.results -o beginning -e -q -f '%h\n' 2>/dev/null |
    grep -q 'rv-taken-over-from=east'; then
    first_ms=$((($(date +%s%N) - LOST_AT) / 1000000))
    break
  fi
  sleep 0.1
done
[ -n "$first_ms" ] || fail "no answer taken over 90 s after the loss: $(grep -v '^%' "$TMP/takeover.log" | tail -5)"
wait "$LOADER" || true
acked=$(sort -u "$TMP/east.acked" | wc -l)
[ "$acked" -ge 5000 ] || fail "only $acked requests acknowledged at east before its loss"
grep -q "geo.requests \[[0-9]\] from the lost site's checkpoint" "$TMP/takeover.log" ||
  fail "the takeover did not start from east's checkpoints: $(grep sites "$TMP/takeover.log" | head -8)"

# results at west (keys): east's own mirrored, and those taken over
results() { # SITE-BOOTSTRAP TOPIC FILTER-HEADER
  kcat -C -b "$1" -t "$2" -o beginning -e -q -f '%k %h\n' 2>/dev/null |
    { if [ -n "${3:-}" ]; then grep -- "$3"; else cat; fi; } | cut -d' ' -f1 | sort
}
kcat -C -b "$WEST" -t east.geo.requests -o beginning -e -q -f '%k\n' 2>/dev/null | sort -u >"$TMP/mirrored"
mirrored=$(wc -l <"$TMP/mirrored")
for _ in $(seq 600); do
  results "$WEST" east.geo.results >"$TMP/east-answered"
  results "$WEST" geo.results 'rv-taken-over-from=east' >"$TMP/taken"
  sort -u "$TMP/east-answered" "$TMP/taken" >"$TMP/answered"
  [ -z "$(comm -23 "$TMP/mirrored" "$TMP/answered")" ] && break
  sleep 0.1
done
missing=$(comm -23 "$TMP/mirrored" "$TMP/answered" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing of $mirrored mirrored requests have no result at west"
twice=$(comm -12 <(sort -u "$TMP/east-answered") <(sort -u "$TMP/taken") | wc -l)
[ "$twice" -eq 0 ] || fail "$twice request(s) taken over whose result the mirror had brought"
dup_taken=$(uniq -d "$TMP/taken" | wc -l)
[ "$dup_taken" -eq 0 ] || fail "$dup_taken request(s) answered twice by the takeover"
rpo=$(comm -23 <(sort -u "$TMP/east.acked") "$TMP/mirrored" | wc -l)
lag=$($PY -c 'import statistics, sys
v = [float(x) * 1000 for x in open(sys.argv[1]) if float(x) >= 0]
print(f"median {statistics.median(v):.0f} ms, max {max(v):.0f} ms over {len(v)} looks" if v else "none measured")' "$TMP/lag")
pass "east lost under load ($acked requests acknowledged there): all $mirrored mirrored answered once at west ($(wc -l <"$TMP/east-answered") by east before the loss, $(wc -l <"$TMP/taken") taken over), none the mirror had an answer of; never mirrored (the recovery point): $rpo, $((rpo * 1000 / RATE)) ms of requests at $RATE/s, against the mirror's lag from east in the seconds before: $lag; first answer taken over $first_ms ms after the loss (automatic, 10 s of silence)"

# failback: east returns; the takeover ends by itself once its heartbeats
# are back; once the mirror has brought west's answers, east's host skips
# them and answers what never reached west
bash "$SITES" start-site "$SDIR" east 2>>"$TMP/sites.err"
st=0
for _ in $(seq 1200); do kill -0 "$TAKEOVER" 2>/dev/null || break; sleep 0.1; done
kill -0 "$TAKEOVER" 2>/dev/null && fail "the takeover still runs 120 s after east returned"
wait "$TAKEOVER" || st=$?
[ "$st" -eq 0 ] && grep -q "heartbeats are back: ending the takeover" "$TMP/takeover.log" ||
  fail "the takeover did not end by itself (exit $st): $(grep -v '^%' "$TMP/takeover.log" | tail -3)"
# what it answered in all (what east's mirror brought it after east came
# back, before it ended, too)
results "$WEST" geo.results 'rv-taken-over-from=east' >"$TMP/taken"
[ "$(uniq -d "$TMP/taken" | wc -l)" -eq 0 ] || fail "the takeover answered a request twice"
taken=$(sort -u "$TMP/taken" | wc -l)
for _ in $(seq 600); do
  [ "$(results "$EAST" west.geo.results 'rv-taken-over-from=east' | sort -u | wc -l)" -ge "$taken" ] && break
  sleep 0.1
done
BOOTSTRAP=$EAST start_host "$TMP/geo-east.yaml" "$TMP/east2.log"
grep -q "west.geo.results: $taken request(s) answered there" "$TMP/east2.log" ||
  fail "east's host did not read what west answered for it: $(grep sites "$TMP/east2.log" | head -3)"
for _ in $(seq 600); do
  results "$EAST" geo.results >"$TMP/east-all"
  sort -u "$TMP/east-all" "$TMP/taken" >"$TMP/all-answered"
  [ -z "$(comm -23 <(sort -u "$TMP/east.acked") "$TMP/all-answered")" ] && break
  sleep 0.1
done
unanswered=$(comm -23 <(sort -u "$TMP/east.acked") "$TMP/all-answered" | wc -l)
[ "$unanswered" -eq 0 ] || fail "$unanswered acknowledged request(s) never answered after failback"
again=$(comm -12 <(sort -u "$TMP/east-all") <(sort -u "$TMP/taken") | wc -l)
dups=$(sort "$TMP/east-all" | uniq -d | wc -l)
[ "$again" -eq 0 ] || fail "$again request(s) west answered were answered again at east after failback"
EAST_HOST=$HOST_PID
pass "failback: the takeover ended by itself; east's host skipped the $taken west answered (what the mirror brought west after east returned among them); every one of the $acked acknowledged has a result, none at both sites ($dups answered twice at east itself: its at-least-once restart after kill -9)"

# east lost again, taken over by hand this time: from east's new
# checkpoints (not where the first takeover ended), the operator's command
# to its first answer
load_east again
sleep "$SECONDS_BEFORE_LOSS" # the mirror checkpoints east's group every second
kill -9 "$EAST_HOST"
bash "$SITES" kill "$SDIR" east 2>/dev/null
LOST_AT=$(date +%s%N)
touch "$TMP/again.stop"
"$RV_BIN" takeover -c "$TMP/geo-west.yaml" --from east -b "$WEST" >/dev/null 2>"$TMP/takeover2.log" &
TAKEOVER=$!
echo "$TAKEOVER" >>"$TMP/pids"
CMD_AT=$(date +%s%N)
first_ms=""
for _ in $(seq 900); do
  if kcat -C -b "$WEST" -t geo.results -o beginning -e -q -f '%k %h\n' 2>/dev/null |
    grep '^again-' | grep -q 'rv-taken-over-from=east'; then
    first_ms=$((($(date +%s%N) - CMD_AT) / 1000000))
    break
  fi
  sleep 0.1
done
[ -n "$first_ms" ] || fail "no answer taken over by hand 90 s after the command: $(grep -v '^%' "$TMP/takeover2.log" | tail -5)"
wait "$LOADER" || true
grep -q "geo.requests \[[0-9]\] from the lost site's checkpoint" "$TMP/takeover2.log" ||
  fail "the second takeover did not start from east's new checkpoints: $(grep 'geo.requests \[' "$TMP/takeover2.log" | head -4)"
kcat -C -b "$WEST" -t east.geo.requests -o beginning -e -q -f '%k\n' 2>/dev/null | grep '^again-' |
  sort -u >"$TMP/mirrored"
for _ in $(seq 600); do
  results "$WEST" east.geo.results | grep '^again-' >"$TMP/east-answered" || true
  results "$WEST" geo.results 'rv-taken-over-from=east' | grep '^again-' >"$TMP/taken" || true
  sort -u "$TMP/east-answered" "$TMP/taken" >"$TMP/answered"
  [ -z "$(comm -23 "$TMP/mirrored" "$TMP/answered")" ] && break
  sleep 0.1
done
missing=$(comm -23 "$TMP/mirrored" "$TMP/answered" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing of $(wc -l <"$TMP/mirrored") mirrored requests have no result at west"
twice=$(comm -12 <(sort -u "$TMP/east-answered") <(sort -u "$TMP/taken") | wc -l)
[ "$twice" -eq 0 ] || fail "$twice request(s) taken over by hand whose result the mirror had brought"
[ "$(uniq -d "$TMP/taken" | wc -l)" -eq 0 ] || fail "the manual takeover answered a request twice"
kill -TERM "$TAKEOVER"
wait "$TAKEOVER" || fail "the manual takeover exited non-zero on SIGTERM"
pass "east lost again, taken over by hand: from east's new checkpoints, all $(wc -l <"$TMP/mirrored") mirrored answered once ($(wc -l <"$TMP/taken") taken over); first answer $first_ms ms after the command ($(((CMD_AT - LOST_AT) / 1000000)) ms after the loss)"
