#!/usr/bin/env bash
# The evaluation split over two `rendezvous evaluate` members of one group,
# each with a store of its own (as on machines of their own): each member
# reads a share of the partitions, every partition number's scores,
# results, gateway replies and labels together, so every request joins in
# one member, none in both. Requests come from the stream and over HTTP
# (whose results go to the gateway's reply topic on their request's
# partition number). The members' joined counts add up to every request.
. "$(dirname "$0")/lib.sh"
DATA=$RV_SOURCE_DIR/conf/data
read -r PORT PORT_A PORT_B < <(free_ports 3)

start_broker $(service_topics evm) evm.labels evm.evaluation
config() { # STATE_DIR
  evaluated_yaml evm "$1" "{labels: [benign, malignant], interval_ms: 200, report_s: 1, in_host: false}" \
    "http: {listen: \"127.0.0.1:$PORT\"}"
}
config "$TMP/state-host" >"$TMP/host.yaml"
config "$TMP/state-a" >"$TMP/a.yaml"
config "$TMP/state-b" >"$TMP/b.yaml"
start_host "$TMP/host.yaml" "$TMP/host.log"
"$RV_BIN" evaluate -c "$TMP/a.yaml" -b "$BOOTSTRAP" --http "127.0.0.1:$PORT_A" 2>"$TMP/a.log" &
A_PID=$!
"$RV_BIN" evaluate -c "$TMP/b.yaml" -b "$BOOTSTRAP" --http "127.0.0.1:$PORT_B" 2>"$TMP/b.log" &
B_PID=$!
printf "%s\n" "$A_PID" "$B_PID" >>"$TMP/pids"
# both members hold a share: 4 topics of 4 partitions, split by range
for _ in $(seq 600); do
  a=$(grep -o 'reading [0-9]* partition' "$TMP/a.log" | tail -1 | grep -o '[0-9]*' || true)
  b=$(grep -o 'reading [0-9]* partition' "$TMP/b.log" | tail -1 | grep -o '[0-9]*' || true)
  [ -n "$a" ] && [ -n "$b" ] && [ $((a + b)) -eq 16 ] && [ "$a" -gt 0 ] && [ "$b" -gt 0 ] && break
  sleep 0.1
done
[ $((${a:-0} + ${b:-0})) -eq 16 ] ||
  fail "two members do not share the 16 partitions: ${a:-none} and ${b:-none}: $(tail -3 "$TMP/b.log")"

awk '{ printf "s-%d:%s\n", NR - 1, $0 }' "$DATA/breast_cancer.jsonl" >"$TMP/requests"
n=$(wc -l <"$TMP/requests")
kcat -P -b "$BOOTSTRAP" -t evm.requests -K: <"$TMP/requests"
wait_count evm.results "$n"
score_over_http "$PORT" 40 "$TMP/requests" "$TMP/labels-http"
$PY -c 'import json, sys
for i, l in enumerate(open(sys.argv[1])):
    print(f"s-{i}:" + json.dumps({"id": f"s-{i}", "label": json.loads(l)["label"]}))' \
  "$DATA/breast_cancer.expected.jsonl" | cat - "$TMP/labels-http" |
  kcat -P -b "$BOOTSTRAP" -t evm.labels -K:
total=$((n + 40))

joined() { # PORT: the member's joined requests
  curl -sf "http://127.0.0.1:$1/v1/evaluation" |
    $PY -c 'import json,sys; print(json.load(sys.stdin)["counts"]["joined"])' 2>/dev/null || echo 0
}
for _ in $(seq 600); do
  ja=$(joined "$PORT_A") jb=$(joined "$PORT_B")
  [ $((ja + jb)) -ge "$total" ] && break
  sleep 0.1
done
sleep 1 # nothing more joins
ja=$(joined "$PORT_A") jb=$(joined "$PORT_B")
[ $((ja + jb)) -eq "$total" ] && [ "$ja" -gt 0 ] && [ "$jb" -gt 0 ] ||
  fail "the members joined $ja and $jb, expected $total in all, each some"
for p in "$PORT_A" "$PORT_B"; do curl -sf "http://127.0.0.1:$p/v1/evaluation"; echo; done >"$TMP/both.json"
$PY - "$TMP/both.json" "$total" <<'PY' || fail "the members' figures"
import json, sys
served = 0
for l in open(sys.argv[1]):
    e = json.loads(l)
    served += next(f["count"] for f in e["figures"]
                   if f["source"] == "served" and f["window"] == "start" and "schedule_version" not in f)
assert served == int(sys.argv[2]), (served, sys.argv[2])
print(f"served answers joined: {served} across the two members")
PY
kill -TERM "$A_PID" "$B_PID"
wait "$A_PID" || fail "member a did not stop cleanly"
wait "$B_PID" || fail "member b did not stop cleanly"
stop_host
pass "two evaluation members split the partitions: $ja and $jb joined, $total in all (stream and HTTP requests), each request in one member"
