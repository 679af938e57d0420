# lib.sh - shared by the integration tests: strict mode, a scratch dir that
# is removed on exit, and assertions that say what they expected.
set -euo pipefail
: "${RV_BIN:?}" "${RV_SOURCE_DIR:?}" "${RV_BUILD_DIR:?}"
TMP=$(mktemp -d /tmp/rv-it-XXXXXX)
cleanup_hooks=()
on_exit() {
  local rc=$?
  for h in "${cleanup_hooks[@]}"; do eval "$h" || true; done
  # hosts started by cases running in the background
  if [ -f "$TMP/pids" ]; then
    while read -r p; do kill -9 "$p" 2>/dev/null || true; done <"$TMP/pids"
  fi
  [ -n "${RV_KEEP:-}" ] || rm -rf "$TMP"
  exit $rc
}
trap on_exit EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }
assert_contains() { # haystack needle what
  grep -qF -- "$2" <<<"$1" || fail "$3: expected to find '$2' in:"$'\n'"$1"
}

PY=/usr/bin/python3

# Starts a broker; sets BOOTSTRAP. Args: topics to create, NAME or
# NAME:PARTITIONS ($PARTITIONS, default 4, without). With RV_BROKER=kafka, a
# real Apache Kafka cluster of RV_KAFKA_NODES (default 1) nodes
# (scripts/kafka.sh; KAFKA_SASL=1 adds its SASL_SSL listener), where nothing
# is created that is not asked for; else
# the embedded broker in a process of its own.
start_broker() {
  if [ "${RV_BROKER:-embedded}" = kafka ]; then
    start_kafka "$@"
    return
  fi
  local args=()
  for t in "$@"; do args+=(--topic "$t"); done
  : >"$TMP/broker.out" # read below, maybe before the broker's shell opens it
  "$RV_BIN" broker --partitions "${PARTITIONS:-4}" "${args[@]}" >"$TMP/broker.out" 2>"$TMP/broker.err" &
  BROKER_PID=$!
  cleanup_hooks+=("kill $BROKER_PID 2>/dev/null; wait $BROKER_PID 2>/dev/null")
  for _ in $(seq 100); do
    BOOTSTRAP=$(sed -n 's/^bootstrap=//p' "$TMP/broker.out" | head -1)
    [ -n "$BOOTSTRAP" ] && return 0
    sleep 0.05
  done
  fail "broker did not start: $(cat "$TMP/broker.err")"
}

KAFKA=$RV_SOURCE_DIR/scripts/kafka.sh
SITES=$RV_SOURCE_DIR/scripts/sites.sh

# start_sites SERVICE [TOPIC...]: two sites (scripts/sites.sh: Kafka
# clusters east and west, MirrorMaker 2 both ways on SERVICE's topics) in
# $SDIR, stopped on exit, with SERVICE's topics (and the TOPICs) at both;
# sets EAST and WEST (bootstraps).
start_sites() {
  SDIR=$TMP/sites
  cleanup_hooks+=("bash $SITES stop $SDIR >/dev/null 2>&1")
  bash "$SITES" start "$SDIR" --topics "$1\\..*" >"$TMP/sites.out" 2>"$TMP/sites.err" ||
    fail "the sites did not start: $(tail -5 "$TMP/sites.err")"
  EAST=$(sed -n 's/^east=//p' "$TMP/sites.out")
  WEST=$(sed -n 's/^west=//p' "$TMP/sites.out")
  local site
  for site in east west; do
    bash "$KAFKA" topics "$SDIR/$site" 4 $(service_topics "$1") "${@:2}" 2>>"$TMP/topics.err" ||
      fail "cannot create $1's topics at $site: $(tail -3 "$TMP/topics.err")"
  done
}
# site_configs SERVICE [LINE]: $TMP/SERVICE-east.yaml and -west.yaml, a
# site each with the other as its peer, one fixture model, a state dir of
# its own; LINE (YAML) added to both
site_configs() {
  local site other
  for site in east west; do
    other=$([ $site = east ] && echo west || echo east)
    write_service "$1" "$TMP/$1-$site.yaml" <<YAML
${2:-}
site: {name: $site, peers: [$other]}
models:
  - {name: a, plugin: $RV_FIXTURE_DIR/ok.so}
rendezvous:
  schedule: [{model: a, within_ms: 2000}]
YAML
    sed -i "s|^state_dir: .*|state_dir: $TMP/state-$1-$site|" "$TMP/$1-$site.yaml"
  done
}
start_kafka() {
  KAFKA_DIR=$(mktemp -d "$TMP/kafka-XXXXXX")
  cleanup_hooks+=("bash $KAFKA stop $KAFKA_DIR >/dev/null 2>&1")
  bash "$KAFKA" start "$KAFKA_DIR" --nodes "${RV_KAFKA_NODES:-1}" ${KAFKA_SASL:+--sasl} \
    >"$KAFKA_DIR.out" 2>"$KAFKA_DIR.err" ||
    fail "Kafka did not start: $(tail -20 "$KAFKA_DIR.err")"
  BOOTSTRAP=$(sed -n 's/^bootstrap=//p' "$KAFKA_DIR.out")
  create_topics "$@"
}

# stop_broker: the broker goes away cleanly. kill_broker: killed -9, every
# node of a real cluster.
stop_broker() {
  if [ "${RV_BROKER:-embedded}" = kafka ]; then
    bash "$KAFKA" stop "$KAFKA_DIR" >/dev/null 2>&1
  else
    kill "$BROKER_PID"
  fi
}
kill_broker() {
  if [ "${RV_BROKER:-embedded}" = kafka ]; then
    local n
    for n in $(seq "$(cat "$KAFKA_DIR/nodes")"); do bash "$KAFKA" kill "$KAFKA_DIR" "$n" 2>/dev/null; done
  else
    kill -9 "$BROKER_PID"
  fi
}

# create_topics NAME[:PARTITIONS]...: on a real cluster, through the Admin
# API, replicated on up to 3 nodes; waits until each partition has a leader.
create_topics() {
  [ $# -gt 0 ] || return 0
  bash "$KAFKA" topics "$KAFKA_DIR" "${PARTITIONS:-4}" "$@" 2>>"$KAFKA_DIR.err" ||
    fail "cannot create topics $*: $(tail -3 "$KAFKA_DIR.err")"
}

# Every topic of a service, for start_broker.
service_topics() {
  local s=$1
  echo "$s.requests $s.scores $s.results $s.archive $s.alerts $s.dead-letter $s.control $s.gateway-replies"
}

# evaluated_yaml SERVICE STATE_DIR EVALUATION [MORE]: on stdout, a config of
# the demo's linear model and canary on the breast-cancer features with
# that evaluation map, and MORE lines after it (an http section).
evaluated_yaml() {
  local models=$RV_SOURCE_DIR/conf/models features
  features=$($PY -c "import json,sys; print(', '.join(json.load(open(sys.argv[1]))['features']))" \
    "$models/breast_cancer-canary.json")
  cat <<YAML
service: $1
state_dir: $2
streams: {brokers: embedded}
input: {features: [$features]}
models:
  - {name: linear, plugin: $RV_BUILD_DIR/plugins/liblinear_model.so, params: {model_file: $models/breast_cancer-linear.json}}
  - {name: canary, builtin: canary, params: {model_file: $models/breast_cancer-canary.json}}
rendezvous:
  schedule: [{model: linear, within_ms: 2000}]
evaluation: $3
${4:-}
YAML
}

# wait_ready PORT: until the host's /readyz on PORT says 200 (every
# partition of the requests read, the gateway's replies too), 60 s at most
wait_ready() {
  local until=$((SECONDS + 60))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/readyz")" = 200 ]; do
    ((SECONDS < until)) || fail "the host on port $1 was not ready in 60 s"
    sleep 0.1
  done
}

# score_over_http PORT N REQUESTS LABELS: POST /v1/score the bodies of the
# first N lines of REQUESTS ("id:body", the breast-cancer rows in order) as
# http-0..http-N-1, and write each one's true label to LABELS ("id:{json}"),
# once the host says it is ready (on a real cluster its gateway's reply
# reader may be assigned a moment after the host serves the stream).
score_over_http() {
  wait_ready "$1"
  $PY - "$RV_SOURCE_DIR/conf/data/breast_cancer.expected.jsonl" "$3" "$1" "$4" "$2" <<'PY' ||
import json, sys, urllib.request
rows = [json.loads(l) for l in open(sys.argv[1])]
bodies = [l.split(":", 1)[1].strip() for l in open(sys.argv[2])]
with open(sys.argv[4], "w") as f:
    for i in range(int(sys.argv[5])):
        rid = f"http-{i}"
        req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[3]}/v1/score", bodies[i].encode(),
                                     {"Content-Type": "application/json", "X-Request-Id": rid})
        assert json.load(urllib.request.urlopen(req, timeout=10))["id"] == rid
        f.write(f'{rid}:{json.dumps({"id": rid, "label": rows[i]["label"]})}\n')
PY
    fail "POST /v1/score"
}

# free_ports N: N TCP ports free on every address now, on one line. They
# are drawn below the kernel's ephemeral range: a port the kernel hands out
# (bind to 0) is also what the next outgoing connection of any process may
# take as its local port before the host under test binds it; below that
# range only an explicit bind can take it (and scripts/kafka.sh draws its
# brokers' from 20000-32000).
free_ports() {
  $PY -c 'import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
got = []
while len(got) < int(sys.argv[1]):
    port = random.randrange(10000, min(low, 20000))
    if port in got: continue
    try:
        with socket.socket() as s: s.bind(("0.0.0.0", port))
    except OSError: continue
    got.append(port)
print(*got)' "${1:-1}"
}

# Starts the host on config $1 against $BOOTSTRAP, log in $2; waits until it
# serves. Sets HOST_PID.
start_host() {
  local conf=$1 log=$2
  "$RV_BIN" -c "$conf" -b "$BOOTSTRAP" >"$log.out" 2>"$log" &
  HOST_PID=$!
  echo "$HOST_PID" >>"$TMP/pids"
  wait_serving "$log"
}

# wait_serving LOG: until the host of HOST_PID logs "serving:" (60 s at
# most: an exactly-once host waits for its transaction coordinator, which a
# loaded real cluster may take a while to load; the usual start is < 1 s).
wait_serving() {
  local until=$((SECONDS + 60))
  while ((SECONDS < until)); do
    grep -q "serving:" "$1" 2>/dev/null && return 0
    kill -0 $HOST_PID 2>/dev/null || fail "host exited at start: $(cat "$1")"
    sleep 0.05
  done
  fail "host did not start serving: $(cat "$1")"
}

# SIGTERM and wait; fails unless the exit status is 0.
stop_host() {
  kill -TERM "$HOST_PID"
  local rc=0
  wait "$HOST_PID" || rc=$?
  [ $rc -eq 0 ] || fail "host exited $rc after SIGTERM"
}

# consume TOPIC [MAX]: every record so far (at most MAX), one value per
# line. kcat -e stops at the end of every partition, which a real broker
# reports only on a fetch that finds nothing new: while records keep coming
# it may never come, so a reader that knows how many it wants says so; and
# no read lasts over 60 s (what was read by then is the answer).
consume() {
  timeout 60 kcat -C -b "$BOOTSTRAP" -t "$1" -o beginning -e ${2:+-c "$2"} -q -f '%s\n' 2>/dev/null ||
    true
}

# wait_count TOPIC N [SECONDS]: waits until TOPIC holds at least N records.
wait_count() {
  local n=0
  for _ in $(seq $((${3:-30} * 10))); do
    n=$(consume "$1" "$2" | wc -l)
    [ "$n" -ge "$2" ] && return 0
    sleep 0.1
  done
  fail "$1 holds $n records, expected $2"
}

# A service config: write_service NAME FILE, models and schedule from stdin
# (YAML lines under the top level), features [x, y].
write_service() {
  local name=$1 file=$2
  { cat <<YAML
service: $name
state_dir: $TMP/state-$name
streams: {brokers: embedded}
input: {features: [x, y], max_body_bytes: 256}
YAML
    cat; } >"$file"
}

# Runs each named function in the background and fails if any failed:
# hosts spend most of their start-up waiting for the consumer group.
run_parallel() {
  local pids=() names=() rc=0
  for f in "$@"; do
    ( "$f" ) >"$TMP/case-$f.out" 2>&1 &
    pids+=($!)
    names+=("$f")
  done
  for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then
      cat "$TMP/case-${names[$i]}.out"
    else
      echo "--- ${names[$i]} failed:"
      cat "$TMP/case-${names[$i]}.out"
      rc=1
    fi
  done
  [ $rc -eq 0 ] || fail "a case failed"
}

# load NAME N [FIRST]: produces requests NAME-FIRST..NAME-N (FIRST defaults
# to 1) at a steady pace (about 2k/s), as continuous traffic during reloads.
load() {
  local name=$1 n=$2
  $PY - "$name" "$n" "${3:-1}" <<'PY' | kcat -P -b "$BOOTSTRAP" -t "$1.requests" -K: -X linger.ms=5
import sys, time
name, n, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(first, n + 1):
    sys.stdout.write(f'{name}-{i}:{{"x": {i % 7}, "y": 1}}\n')
    if i % 20 == 0:
        sys.stdout.flush()
        time.sleep(0.01)
PY
}

# wait_log FILE PATTERN COUNT [SECONDS]: waits until PATTERN occurs COUNT times.
wait_log() {
  local c=0
  for _ in $(seq $((${4:-30} * 20))); do
    c=$(grep -c -- "$2" "$1" || true)
    [ "$c" -ge "$3" ] && return 0
    sleep 0.05
  done
  fail "expected $3 lines matching '$2' in $1, found $c:"$'\n'"$(tail -20 "$1")"
}

# check_exactly_once NAME N: NAME.results holds exactly one result for each
# of NAME-1..NAME-N, none of them a default caused by anything.
check_exactly_once() {
  consume "$1.results" >"$TMP/$1.results"
  $PY - "$TMP/$1.results" "$1" "$2" <<'PY'
import collections, json, sys
path, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rs = [json.loads(l) for l in open(path)]
count = collections.Counter(r["id"] for r in rs)
missing = [i for i in range(1, n + 1) if count[f"{name}-{i}"] == 0]
twice = [k for k, v in count.items() if v > 1]
assert not missing, f"{len(missing)} lost, e.g. {missing[:5]}"
assert not twice, f"{len(twice)} answered twice, e.g. {twice[:5]}"
assert len(rs) == n, f"{len(rs)} results for {n} requests"
dflt = [r for r in rs if r["reason"] == "default"]
assert not dflt, f"{len(dflt)} default results, e.g. {dflt[0]}"
PY
}
