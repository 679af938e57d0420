#!/usr/bin/env bash
# The evaluation split over two `rendezvous evaluate` members of one group,
# each with a store of its own (as on machines of their own): each member
# reads a share of the partitions, every partition number's scores,
# results, gateway replies and labels together, so every request joins in
# one member, none in both. Requests come from the stream and over HTTP
# (whose results go to the gateway's reply topic on their request's
# partition number). The members' joined counts add up to every request.
. "$(dirname "$0")/lib.sh"
PLUG=$RV_BUILD_DIR/plugins
DATA=$RV_SOURCE_DIR/conf/data
MODELS=$RV_SOURCE_DIR/conf/models
read -r PORT PORT_A PORT_B < <(free_ports 3)

start_broker $(service_topics evm) evm.labels evm.evaluation
features=$($PY -c "import json,sys; print(', '.join(json.load(open(sys.argv[1]))['features']))" \
  "$MODELS/breast_cancer-canary.json")
config() { # STATE_DIR
  cat <<YAML
service: evm
state_dir: $1
streams: {brokers: embedded}
input: {features: [$features]}
models:
  - {name: linear, plugin: $PLUG/liblinear_model.so, params: {model_file: $MODELS/breast_cancer-linear.json}}
  - {name: canary, builtin: canary, params: {model_file: $MODELS/breast_cancer-canary.json}}
rendezvous:
  schedule: [{model: linear, within_ms: 2000}]
evaluation: {labels: [benign, malignant], interval_ms: 200, report_s: 1, in_host: false}
http: {listen: "127.0.0.1:$PORT"}
YAML
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
$PY - "$DATA/breast_cancer.expected.jsonl" "$TMP/requests" "$PORT" "$TMP/labels" <<'PY' ||
import json, sys, urllib.request
rows = [json.loads(l) for l in open(sys.argv[1])]
bodies = [l.split(":", 1)[1].strip() for l in open(sys.argv[2])]
with open(sys.argv[4], "w") as f:
    for i, row in enumerate(rows):
        f.write(f's-{i}:{json.dumps({"id": f"s-{i}", "label": row["label"]})}\n')
    for i in range(40):
        rid = f"http-{i}"
        req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[3]}/v1/score", bodies[i].encode(),
                                     {"Content-Type": "application/json", "X-Request-Id": rid})
        assert json.load(urllib.request.urlopen(req, timeout=10))["id"] == rid
        f.write(f'{rid}:{json.dumps({"id": rid, "label": rows[i]["label"]})}\n')
PY
  fail "POST /v1/score"
kcat -P -b "$BOOTSTRAP" -t evm.labels -K: <"$TMP/labels"
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
