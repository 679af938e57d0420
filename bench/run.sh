#!/usr/bin/env bash
# bench/run.sh SCENARIO - runs one benchmark scenario end to end: starts a
# broker (BROKER=embedded, the default: a standalone embedded broker,
# `rendezvous broker`; BROKER=kafka: a real Apache Kafka, scripts/kafka.sh,
# KAFKA_NODES of them, default 1), starts what is measured, drives it with
# rvbench, stops everything and appends the printed tables to $RESULTS
# (default bench/results.md) and the JSON lines to $RESULTS_JSON (default
# bench/results.jsonl).
#
# Scenarios:
#   limit    bare librdkafka pass-through, 6 records per request (the limit)
#   trivial  the host: 3 trivial models + canary + decoy (6 records/request)
#   compare  limit (stopping at 10000 in flight as the host, pausing as it
#            did before), then $CMP_REPEAT (3) rounds of: limit unbounded,
#            limit unbounded writing the host's bytes, the trivial host;
#            prints each round's host/limit and their medians
#   xgboost  the host with the demo models (xgboost, linear, canary, decoy)
#   peer     xgboost then the Python peer (per message, in batches of
#            $PEER_BATCH, and in batches doing the demo host's whole work:
#            every model, the decoy's copy, the result) on the same broker,
#            then the limit writing the demo host's records and bytes;
#            prints host/peer and what the 5 x goal asks of that limit
#   rates    the trivial host at fixed offered rates ($RATES, requests/s)
#   reload   the trivial host at $RELOAD_RATE/s, SIGHUP after a model's
#            params change; latency in $WINDOW_MS windows around the swap
#   isolation  the cost of a model process per score() call without a broker
#            (proc_rtt: 1 request 200 us apart, then batches of 64 back to
#            back), then the trivial host with its models in the host
#            (isolation: none) and in model processes (process), side by
#            side: $ISO_REPEAT (3) pairs at saturation, then as many at
#            $ISO_RATE/s; prints each pair's process/none and difference of
#            in-host p50, and their medians
#   remote   the same XGBoost model in the host and remote (`rendezvous
#            scorer`, another process), linear as the fallback, side by side:
#            at $ISO_RATE/s, then at saturation, each with producers
#            batching for 1 ms and for 5 ms; prints remote/local
#   delivery at-least-once and exactly-once side by side (BROKER=kafka only:
#            the embedded broker keeps no transaction markers;
#            KAFKA_NODES, default here 3): $DELIVERY_ROUNDS (2) rounds of the
#            trivial host at saturation with at_least_once, exactly_once at
#            transaction_ms 100 and at $TXN_MS_OTHER (500), in turn (the
#            order reversed every other round, after a run not measured:
#            a fresh cluster is slower); then each at $DELIVERY_RATE/s (1000: what
#            the 3-node cluster on 2 cores takes with room to spare);
#            prints exactly-once/at-least-once of throughput and each run's
#            e2e latency (rvbench reads the results read_committed,
#            librdkafka's default)
#   evaluation  the live evaluation's cost to serving: the demo's models
#            (xgboost scenario) at $EVAL_RATE/s (5000) with a true label for
#            every request at the same rate (a producer of its own), with
#            the evaluation in the host, in its own process (`rendezvous
#            evaluate` at nice 10) and without, in turn, $EVAL_ROUNDS (3)
#            rounds, a host started for each run (EVAL_KEEP=1: a host per
#            mode kept and loaded in turn, with BROKER=kafka); prints each
#            run's in-host p50/p99 and the host process's CPU (its model
#            processes not counted), p99 over the one without
#            (median and bootstrap interval), and how many requests the
#            evaluation joined. EVAL_MODES="on off again" adds a second run
#            without ("again"): its ratio to the first is the machine's
#            noise, measured in the same invocation
#   https    POST /v1/score with wrk ($HTTP_CONC, default 16, callers with
#            keep-alive, $DURATION s each) on the trivial host, over plain
#            HTTP and over TLS with a bearer token, alternating, $HTTP_ROUNDS
#            (3) rounds; prints requests/s and p50/p99, and TLS/plain
#   profile  the trivial host under callgrind on a short run, top functions
#   all      compare, peer, rates (with half the trivial saturation), reload
#   brokers  the same runs on the embedded broker and then on Kafka
#            ($BROKER_ROUNDS rounds, default 1): the limit writing the host's
#            bytes, the trivial and the demo hosts, the three Python peers,
#            the remote shape and the same model local at $ISO_RATE/s, the
#            trivial host at half its saturation on that broker; prints
#            them side by side (kafka/embedded)
#
# Environment: BUILD (a Release build of the project, with rendezvous,
# plugins, tests/fixtures and bench/; default build-bench/ in the source tree,
# set up and built on first use), TOOLS (dir with rvbench and passthrough;
# default $BUILD/bench), DURATION (s per measured run, default 15), WINDOW
# (outstanding requests at saturation, default 16000: the embedded broker
# keeps at most 5 MiB per partition, a larger lag loses requests), KEEP=1
# keeps the scratch dir, MAX_IN_FLIGHT sets the trivial host's
# rendezvous.max_in_flight (default 10000, the host's default),
# BACKGROUND_NICE its rendezvous.background_nice (unset: the host's default,
# 2; 0: every model alike), COLOCATE its rendezvous.colocate (unset: the
# host's default, true), LINGER (ms)
# makes the hosts' and the load generator's producers batch that long
# instead of their default 1 ms (the remote scenario sets its own),
# FETCH_WAIT (ms) the hosts' consumers' fetch.wait.max.ms instead of their
# default 10 (the embedded broker holds a fetch that found nothing for all
# of it, where a real broker answers when data arrives). KAFKA_JVM: the
# Kafka nodes' JVM flags (default Kafka's own: G1, 1 GiB heap).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build-bench}
DURATION=${DURATION:-15}
WINDOW=${WINDOW:-16000}
RATES=${RATES:-1000 5000 20000}
RELOAD_RATE=${RELOAD_RATE:-5000}
ISO_RATE=${ISO_RATE:-5000}
ISO_REPEAT=${ISO_REPEAT:-3}
CMP_REPEAT=${CMP_REPEAT:-3}
WINDOW_MS=${WINDOW_MS:-250}
PEER_BATCH=${PEER_BATCH:-64}
RESULTS=${RESULTS:-$SRC/bench/results.md}
RESULTS_JSON=${RESULTS_JSON:-$SRC/bench/results.jsonl}
PY=/usr/bin/python3
BROKER=${BROKER:-embedded}
KAFKA_JVM=${KAFKA_JVM:--Xms1g -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent}
DATA=$SRC/conf/data/breast_cancer.jsonl
MODELS=$SRC/conf/models
RV=$BUILD/rendezvous

if [ ! -x "$RV" ] || [ ! -x "$BUILD/bench/rvbench" ]; then
  bash "$SRC/scripts/setup.sh"
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" >/dev/null
fi
TOOLS=${TOOLS:-$BUILD/bench}

WORK=$(mktemp -d /tmp/rvbench-XXXXXX)
PIDS=()
KAFKA_DIRS=()
cleanup() {
  local rc=$?
  for d in "${KAFKA_DIRS[@]}"; do bash "$SRC/scripts/kafka.sh" stop "$d" >/dev/null 2>&1 || true; done
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  [ -n "${KEEP:-}" ] && echo "scratch kept in $WORK" >&2 || rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
die() { echo "run.sh: $*" >&2; exit 1; }

# wait_for FILE PATTERN SECONDS
wait_for() {
  for _ in $(seq $(($3 * 20))); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  die "no '$2' in $1 after $3 s: $(tail -5 "$1" 2>/dev/null)"
}

# stop_pid PID: SIGTERM, wait up to 40 s (the host drains up to 30 s).
stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 400); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

service_topics() { for s in "$@"; do echo "$s.requests $s.scores $s.results $s.archive $s.alerts $s.dead-letter $s.control"; done; }

# start_broker TOPIC... : one broker ($BROKER) for the scenario, sets
# BOOTSTRAP and BROKER_PIDS (a real cluster's nodes); stop_brokers ends it
start_broker() {
  if [ "$BROKER" = kafka ]; then
    local dir
    dir=$(mktemp -d "$WORK/kafka-XXXXXX")
    KAFKA_DIRS+=("$dir")
    RV_KAFKA_JVM=$KAFKA_JVM bash "$SRC/scripts/kafka.sh" start "$dir" --nodes "${KAFKA_NODES:-1}" \
      >"$dir.out" 2>"$dir.err" || die "Kafka did not start: $(tail -5 "$dir.err")"
    BOOTSTRAP=$(sed -n 's/^bootstrap=//p' "$dir.out")
    bash "$SRC/scripts/kafka.sh" topics "$dir" 4 "$@" 2>>"$dir.err" ||
      die "cannot create the topics: $(tail -3 "$dir.err")"
    read -ra BROKER_PIDS <<<"$(bash "$SRC/scripts/kafka.sh" pids "$dir" | awk '{print $2}')"
    return
  fi
  local args=()
  for t in "$@"; do args+=(--topic "$t"); done
  "$RV" broker --partitions 4 "${args[@]}" >"$WORK/broker.out" 2>"$WORK/broker.err" &
  BROKER_PIDS=($!)
  PIDS+=($!)
  wait_for "$WORK/broker.out" "^bootstrap=" 30
  BOOTSTRAP=$(sed -n 's/^bootstrap=//p' "$WORK/broker.out" | head -1)
}

FEATURES=$($PY -c "import json,sys; print(', '.join(json.load(open(sys.argv[1]))['features']))" \
  "$MODELS/breast_cancer-linear.json")

# kafka_map: the hosts' kafka: entry from LINGER and FETCH_WAIT, if any
kafka_map() {
  local m=${LINGER:+linger.ms: $LINGER}
  [ -z "${FETCH_WAIT:-}" ] || m="${m:+$m, }fetch.wait.max.ms: $FETCH_WAIT"
  [ -z "$m" ] || echo ", kafka: {$m}"
}

# trivial_yaml SERVICE FILE [M1_SCORE]: 3 fixture models + canary + decoy;
# the fixture models' isolation is $ISOLATION (default process)
trivial_yaml() {
  local plugin=$BUILD/tests/fixtures/ok.so
  [ -f "$plugin" ] || plugin=$BUILD/plugins/libtemplate_model.so
  cat >"$2" <<YAML
# generated by bench/run.sh: the trivial scenario
service: $1
state_dir: $WORK/state-$1
streams: {brokers: embedded, partitions: 4$(kafka_map)}
input: {features: [$FEATURES]}
models:
  - {name: m1, plugin: $plugin, max_batch: 64, queue_size: 16384, params: {score: "${3:-0.75}"},
     isolation: ${ISOLATION:-process}}
  - {name: m2, plugin: $plugin, max_batch: 64, queue_size: 16384, params: {score: "0.7"},
     isolation: ${ISOLATION:-process}}
  - {name: m3, plugin: $plugin, max_batch: 64, queue_size: 16384, params: {score: "0.65"},
     isolation: ${ISOLATION:-process}}
  - {name: canary, builtin: canary, max_batch: 64, queue_size: 16384,
     params: {model_file: $MODELS/breast_cancer-canary.json}}
  - {name: decoy, builtin: decoy, max_batch: 64, queue_size: 16384}
rendezvous:
  schedule:
    - {model: m1, within_ms: 2000}
    - {model: m2, within_ms: 4000}
    - {model: m3, within_ms: 6000}
  default: {label: review, score: 0.5}
  max_in_flight: ${MAX_IN_FLIGHT:-10000}
${BACKGROUND_NICE:+  background_nice: $BACKGROUND_NICE}
${COLOCATE:+  colocate: $COLOCATE}
${DELIVERY:+delivery: $DELIVERY}
YAML
}

# xgboost_yaml SERVICE FILE: conf/demo.yaml's models, generous deadlines
xgboost_yaml() {
  local first
  if [ -f "$BUILD/plugins/libxgboost_model.so" ]; then
    first="{name: xgb-v1, plugin: $BUILD/plugins/libxgboost_model.so, instances: 1, max_batch: 64, queue_size: 16384,
     params: {model_file: $MODELS/breast_cancer-xgb.json, labels: \"malignant,benign\"}}"
  else
    first="{name: xgb-v1, plugin: $BUILD/plugins/liblinear_model.so, max_batch: 64, queue_size: 16384,
     params: {model_file: $MODELS/breast_cancer-linear.json}}"
  fi
  cat >"$2" <<YAML
# generated by bench/run.sh: the xgboost scenario (conf/demo.yaml's models)
service: $1
state_dir: $WORK/state-$1
streams: {brokers: embedded, partitions: 4$(kafka_map)}
input: {features: [$FEATURES]}
models:
  - $first
  - {name: linear-v1, plugin: $BUILD/plugins/liblinear_model.so, max_batch: 64, queue_size: 16384,
     params: {model_file: $MODELS/breast_cancer-linear.json}}
  - {name: canary, builtin: canary, max_batch: 64, queue_size: 16384,
     params: {model_file: $MODELS/breast_cancer-canary.json, window: 100, max_score_shift: 0.25}}
  - {name: decoy, builtin: decoy, max_batch: 64, queue_size: 16384}
rendezvous:
  schedule:
    - {model: xgb-v1, within_ms: 2000}
    - {model: linear-v1, within_ms: 4000}
  default: {label: review, score: 0.5}
  max_in_flight: 10000
${COLOCATE:+  colocate: $COLOCATE}
${EVAL:+evaluation: $EVAL}
YAML
}

# start_host SERVICE YAML [WRAPPER...]: sets HOST_PID, waits for the assignment
start_host() {
  local svc=$1 yaml=$2
  shift 2
  "$@" "$RV" -c "$yaml" -b "$BOOTSTRAP" >"$WORK/$svc.out" 2>"$WORK/$svc.log" &
  HOST_PID=$!
  PIDS+=($HOST_PID)
  wait_for "$WORK/$svc.log" "assigned" 120
}

# record NAME JSON TABLE CMD: appends a run to the results files
record() {
  local name=$1 json=$2 table=$3 cmd=$4
  {
    echo
    echo "### $name — $(date -u +%Y-%m-%dT%H:%M:%SZ) — load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo '```'
    echo "\$ $cmd"
    cat "$table"
    echo '```'
  } >>"$RESULTS"
  $PY - "$json" "$name" >>"$RESULTS_JSON" <<'PY'
import json, sys, time
r = json.load(open(sys.argv[1]))
r["scenario"] = sys.argv[2]
r["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
r["loadavg"] = open("/proc/loadavg").read().split()[:3]
print(json.dumps(r))
PY
}

stop_brokers() { # every process of the scenario, and its Kafka cluster
  local p d
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  for d in "${KAFKA_DIRS[@]}"; do
    bash "$SRC/scripts/kafka.sh" stop "$d" >/dev/null 2>&1 || true
    rm -rf "$d"
  done
  PIDS=()
  KAFKA_DIRS=()
}

# pin_tree CPUS PID: every thread of PID and of its descendants on CPUS
pin_tree() {
  local p
  taskset -a -p -c "$1" "$2" >/dev/null 2>&1 || true
  for p in $(pgrep -P "$2"); do pin_tree "$1" "$p"; done
}

# cpu_share T0_NS TICKS0 PID...: % of one core the processes used since
# T0_NS (date +%s%N), when they had used TICKS0 (cpu_ticks)
cpu_share() {
  local t0=$1 c0=$2
  shift 2
  echo $(( ($(cpu_ticks "$@") - c0) * 100000000000 / $(getconf CLK_TCK) / ($(date +%s%N) - t0) ))
}

# rvbench_cmd SERVICE NAME: RVB, rvbench's command line on SERVICE's topics
# (its JSON into $WORK/NAME.json), the load's producer batching $LINGER
rvbench_cmd() {
  RVB=("$TOOLS/rvbench" -b "$BOOTSTRAP" --requests "$1.requests" --results "$1.results"
       --data "$DATA" --label "$2" --json "$WORK/$2.json")
  [ -z "${LINGER:-}" ] || RVB+=(-X "linger.ms=$LINGER")
}

# cpu_ticks PID...: user + system clock ticks of processes so far
cpu_ticks() {
  local p t=0
  for p; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo $t
}

# bench NAME SERVICE ARGS...: runs rvbench on SERVICE's topics, records it
# with the broker's CPU over the run (the embedded broker is one thread: at
# 100 % of a core it, not what is measured, sets the pace; a Kafka node has
# many)
bench() {
  local name=$1 svc=$2
  shift 2
  rvbench_cmd "$svc" "$name"
  local cmd=("${RVB[@]}" "$@")
  local rc=0 t0 c0
  t0=$(date +%s%N)
  c0=$(cpu_ticks "${BROKER_PIDS[@]}")
  timeout 300 "${cmd[@]}" >"$WORK/$name.table" 2>"$WORK/$name.err" || rc=$?
  echo "broker cpu             $(cpu_share "$t0" "$c0" "${BROKER_PIDS[@]}") % of one core over the run" \
    >>"$WORK/$name.table"
  cat "$WORK/$name.table"
  [ -s "$WORK/$name.err" ] && sed 's/^/  rvbench: /' "$WORK/$name.err" | head -5 >&2
  [ -f "$WORK/$name.json" ] || die "rvbench $name failed (exit $rc)"
  [ $rc -eq 0 ] || echo "  (rvbench exit $rc: some requests got no result)" >&2
  record "$name" "$WORK/$name.json" "$WORK/$name.table" "${cmd[*]/#$SRC\//}"
}

jget() { $PY -c "import json,sys; r=json.load(open(sys.argv[1])); print(r$2)" "$1"; }

ratio() { # LABEL JSON_A JSON_B: prints A/B of throughput
  $PY - "$@" <<'PY' | tee -a "$RESULTS"
import json, sys
label, a, b = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
print(f"\n**{label}: {a['label']} {a['throughput']:.0f}/s vs {b['label']} "
      f"{b['throughput']:.0f}/s = {a['throughput'] / b['throughput']:.2f}**"
      if b["throughput"] > 0 else f"\n{label}: no throughput for {b['label']}")
PY
}

# ---- scenarios (each expects the broker to hold its topics) ----

run_limit() { # NAME SERVICE [RVBENCH ARGS...] (default: saturation)
  local name=$1 svc=$2
  shift 2
  [ $# -gt 0 ] || set -- --duration "$DURATION" --window "$WINDOW"
  set -- "$name" "$svc" "$@"
  # PT_BYTES=1: the bytes the host writes (its score and result records'
  # sizes, the decoy's exact copy with provenance headers)
  local bytes=()
  [ -z "${PT_BYTES:-}" ] || bytes=(--archive "$2.archive" --score-bytes 185 --result-bytes 365)
  "$TOOLS/passthrough" -b "$BOOTSTRAP" --requests "$2.requests" --scores "$2.scores" \
    --results "$2.results" --records "${PT_RECORDS:-6}" "${bytes[@]}" --group "$2-passthrough" \
    --max-in-flight "${PT_MAX_IN_FLIGHT:-10000}" ${PT_PAUSE:+--pause} 2>"$WORK/$2.log" &
  local pid=$!
  PIDS+=($pid)
  wait_for "$WORK/$2.log" "assigned" 60
  bench "$@"
  stop_pid $pid
  tail -1 "$WORK/$2.log"
}

# memory NAME PID: the host's peak resident set and its model processes'
# resident sets now, in MiB
memory() {
  local host kids
  host=$(awk '/^VmHWM/ {print $2}' "/proc/$2/status" 2>/dev/null || echo 0)
  kids=$({ ps --ppid "$2" -o rss= 2>/dev/null || true; } | awk '{s += $1} END {print s + 0}')
  echo "$1 memory: host peak RSS $((host / 1024)) MiB, model processes $((kids / 1024)) MiB" |
    tee -a "$RESULTS"
}

run_trivial() { # NAME SERVICE
  trivial_yaml "$2" "$WORK/$2.yaml"
  start_host "$2" "$WORK/$2.yaml"
  bench "$1" "$2" --duration "$DURATION" --window "$WINDOW"
  memory "$1" "$HOST_PID"
  stop_pid "$HOST_PID"
  grep 'summary:' "$WORK/$2.log" | tail -1 || true
}

run_xgboost() { # NAME SERVICE
  xgboost_yaml "$2" "$WORK/$2.yaml"
  start_host "$2" "$WORK/$2.yaml"
  bench "$1" "$2" --duration "$DURATION" --window "$WINDOW"
  memory "$1" "$HOST_PID"
  stop_pid "$HOST_PID"
  grep 'summary:' "$WORK/$2.log" | tail -1 || true
}

run_peer() { # NAME SERVICE BATCH [whole]
  local whole=()
  [ "${4:-}" != whole ] || whole=(--whole --scores "$2.scores" --archive "$2.archive"
    --linear "$MODELS/breast_cancer-linear.json" --canary "$MODELS/breast_cancer-canary.json")
  $PY "$SRC/bench/python_peer.py" -b "$BOOTSTRAP" --requests "$2.requests" --results "$2.results" \
    --model "$MODELS/breast_cancer-xgb.json" --features "$MODELS/breast_cancer-linear.json" \
    --group "$2-peer" --batch "$3" "${whole[@]}" 2>"$WORK/$2.log" &
  local pid=$!
  PIDS+=($pid)
  wait_for "$WORK/$2.log" "assigned" 60
  # the peer is slow: a small window keeps its backlog (and latency) bounded
  bench "$1" "$2" --duration "$DURATION" --window 2000 --warmup 200
  stop_pid $pid
  tail -1 "$WORK/$2.log"
}

run_rate() { # NAME SERVICE RATE
  trivial_yaml "$2" "$WORK/$2.yaml"
  start_host "$2" "$WORK/$2.yaml"
  # the window is a safety net: above saturation the rate is not met
  # (reported as the offered rate) rather than requests being lost
  bench "$1" "$2" --duration "$DURATION" --rate "$3" --window "$WINDOW"
  stop_pid "$HOST_PID"
}

scenario_limit() { start_broker $(service_topics bl); run_limit limit bl; }
scenario_trivial() { start_broker $(service_topics bt); run_trivial trivial bt; }
scenario_xgboost() { start_broker $(service_topics bx); run_xgboost xgboost bx; }

scenario_compare() {
  local i svcs=()
  for i in $(seq "$CMP_REPEAT"); do svcs+=("cu$i" "cb$i" "ct$i"); done
  start_broker $(service_topics cl cp cw "${svcs[@]}")
  # with the host's rule: stop consuming at 10000 requests in flight
  run_limit limit cl
  # the rule the host had before: pause the partitions, resume at half
  PT_PAUSE=1 run_limit limit-paused cp
  # no bound, the window at the bound: as many in flight as the host's rule
  # allows, so what differs is the rule alone
  PT_MAX_IN_FLIGHT=1000000 run_limit limit-unpaused-w10000 cw --duration "$DURATION" \
    --window 10000
  # then $CMP_REPEAT rounds, each: no bound at all (up to the window), the
  # same writing the host's bytes, the trivial host (the limit moves by a
  # fifth from run to run here: each round's ratio is its own)
  for i in $(seq "$CMP_REPEAT"); do
    PT_MAX_IN_FLIGHT=1000000 run_limit "limit-unpaused-$i" "cu$i"
    PT_MAX_IN_FLIGHT=1000000 PT_BYTES=1 run_limit "limit-bytes-$i" "cb$i"
    run_trivial "trivial-$i" "ct$i"
  done
  ratio "limit with the host's rule / without a bound" "$WORK/limit.json" \
    "$WORK/limit-unpaused-1.json"
  ratio "limit with the host's rule / without a bound, window 10000" "$WORK/limit.json" \
    "$WORK/limit-unpaused-w10000.json"
  ratio "limit pausing / without a bound" "$WORK/limit-paused.json" "$WORK/limit-unpaused-1.json"
  $PY - "$WORK" "$CMP_REPEAT" <<'PY' | tee -a "$RESULTS"
import json, statistics, sys
work, n = sys.argv[1], int(sys.argv[2])
def tp(name):
    return json.load(open(f"{work}/{name}.json"))["throughput"]
for what, limit in (("without a bound", "limit-unpaused"), ("writing the host's bytes", "limit-bytes")):
    r = [tp(f"trivial-{i}") / tp(f"{limit}-{i}") for i in range(1, n + 1)]
    print(f"\n**host (trivial) / limit {what}, {n} rounds: "
          + ", ".join(f"{tp(f'trivial-{i}'):.0f}/{tp(f'{limit}-{i}'):.0f} = {x:.2f}"
                      for i, x in zip(range(1, n + 1), r))
          + f"; median {statistics.median(r):.2f}**")
PY
}

scenario_isolation() {
  if [ -x "$TOOLS/proc_rtt" ] && [ -f "$BUILD/tests/fixtures/ok.so" ]; then
    local rtt=("$TOOLS/proc_rtt" --runner "$RV" --plugin "$BUILD/tests/fixtures/ok.so")
    { echo; echo "### proc_rtt — $(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo; echo '```'
      "${rtt[@]}" --calls 5000
      "${rtt[@]}" --calls 3000 --batch 64 --gap-us 0
      echo '```'; } | tee -a "$RESULTS"
  fi
  local i svcs=()
  for i in $(seq "$ISO_REPEAT"); do svcs+=("in$i" "ip$i" "irn$i" "irp$i"); done
  start_broker $(service_topics "${svcs[@]}")
  # none and process alternating, $ISO_REPEAT pairs, at saturation and then
  # at the fixed rate (one pair's throughput moves by 10-20 % and its
  # difference of medians by tens of µs from run to run here)
  for i in $(seq "$ISO_REPEAT"); do
    ISOLATION=none run_trivial "isolation-none-$i" "in$i"
    ISOLATION=process run_trivial "isolation-process-$i" "ip$i"
    ratio "isolation process / none, saturation, pair $i" "$WORK/isolation-process-$i.json" \
      "$WORK/isolation-none-$i.json"
  done
  for i in $(seq "$ISO_REPEAT"); do
    ISOLATION=none run_rate "isolation-none-${ISO_RATE}rps-$i" "irn$i" "$ISO_RATE"
    ISOLATION=process run_rate "isolation-process-${ISO_RATE}rps-$i" "irp$i" "$ISO_RATE"
  done
  $PY - "$WORK" "$ISO_RATE" "$ISO_REPEAT" <<'PY' | tee -a "$RESULTS"
import json, statistics, sys
work, rate, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def run(name):
    return json.load(open(f"{work}/isolation-{name}.json"))
ratios = [run(f"process-{i}")["throughput"] / run(f"none-{i}")["throughput"] for i in range(1, n + 1)]
gaps = [(run(f"process-{rate}rps-{i}")["latency_host"]["p50"]
         - run(f"none-{rate}rps-{i}")["latency_host"]["p50"]) * 1000 for i in range(1, n + 1)]
print(f"\n**isolation process / none, saturation, {n} pairs: "
      + ", ".join(f"{r:.2f}" for r in ratios) + f"; median {statistics.median(ratios):.2f}**")
print(f"\n**isolation process - none, in-host p50 at {rate}/s, {n} pairs: "
      + ", ".join(f"{g:+.0f}" for g in gaps) + f" us; median {statistics.median(gaps):+.0f} us**")
PY
}

# remote_yaml SERVICE FILE REMOTE LINGER: xgboost (remote: REMOTE) then
# linear; every producer batches for LINGER ms
remote_yaml() {
  local where=""
  [ "$3" = true ] && where="remote: true, labels: [malignant, benign], "
  cat >"$2" <<YAML
# generated by bench/run.sh: the remote scenario
service: $1
state_dir: $WORK/state-$1
streams: {brokers: embedded, partitions: 4, kafka: {linger.ms: $4}}
input: {features: [$FEATURES]}
models:
  - {name: xgb-v1, ${where}plugin: $BUILD/plugins/libxgboost_model.so, max_batch: 64,
     queue_size: 16384, params: {model_file: $MODELS/breast_cancer-xgb.json, labels: "malignant,benign"}}
  - {name: linear-v1, plugin: $BUILD/plugins/liblinear_model.so, max_batch: 64, queue_size: 16384,
     params: {model_file: $MODELS/breast_cancer-linear.json}}
rendezvous:
  schedule:
    - {model: xgb-v1, within_ms: 2000}
    - {model: linear-v1, within_ms: 4000}
  default: {label: review, score: 0.5}
  max_in_flight: 10000
${EVAL:+evaluation: $EVAL}
YAML
}

run_remote() { # NAME SERVICE REMOTE LINGER [RVBENCH ARGS...]
  local name=$1 svc=$2 remote=$3 linger=$4 scorer=""
  shift 4
  remote_yaml "$svc" "$WORK/$svc.yaml" "$remote" "$linger"
  if [ "$remote" = true ]; then
    "$RV" scorer -c "$WORK/$svc.yaml" --model xgb-v1 -b "$BOOTSTRAP" >/dev/null 2>"$WORK/$svc.scorer.log" &
    scorer=$!
    PIDS+=($scorer)
    wait_for "$WORK/$svc.scorer.log" "assigned" 120
  fi
  start_host "$svc" "$WORK/$svc.yaml"
  bench "$name" "$svc" -X "linger.ms=$linger" "$@"
  stop_pid "$HOST_PID"
  grep 'summary:' "$WORK/$svc.log" | tail -1 || true
  [ -z "$scorer" ] || stop_pid "$scorer"
}

# Each pair with producers batching for 1 ms (the host's default) and for
# 5 ms (librdkafka's): the embedded broker looks up a fetch's offset by
# walking its partition's log from the oldest message set, so its cost per
# fetch grows with the number of message sets it keeps (up to 5 MiB per
# partition), and smaller batches mean more of them. The remote shape has
# two more readers (the scorer, the host's scores reader).
scenario_remote() {
  start_broker $(service_topics rl1 rr1 rl5 rr5 rls1 rrs1 rls5 rrs5)
  local l
  for l in 1 5; do
    run_remote "remote-local-${ISO_RATE}rps-linger$l" "rl$l" false "$l" --duration "$DURATION" \
      --rate "$ISO_RATE" --window "$WINDOW"
    run_remote "remote-remote-${ISO_RATE}rps-linger$l" "rr$l" true "$l" --duration "$DURATION" \
      --rate "$ISO_RATE" --window "$WINDOW"
  done
  for l in 1 5; do
    run_remote "remote-local-linger$l" "rls$l" false "$l" --duration "$DURATION" --window "$WINDOW"
    run_remote "remote-remote-linger$l" "rrs$l" true "$l" --duration "$DURATION" --window "$WINDOW"
    ratio "remote / local, saturation, linger.ms $l" "$WORK/remote-remote-linger$l.json" \
      "$WORK/remote-local-linger$l.json"
  done
}

scenario_peer() {
  start_broker $(service_topics px pp pb pw pl)
  run_xgboost xgboost px
  run_peer python-peer pp 0
  run_peer python-peer-batch$PEER_BATCH pb "$PEER_BATCH"
  run_peer python-peer-whole$PEER_BATCH pw "$PEER_BATCH" whole
  ratio "host (xgboost) / Python peer, per message" "$WORK/xgboost.json" "$WORK/python-peer.json"
  ratio "host (xgboost) / Python peer, batches of $PEER_BATCH" "$WORK/xgboost.json" \
    "$WORK/python-peer-batch$PEER_BATCH.json"
  ratio "host (xgboost) / Python peer doing the host's whole work, batches of $PEER_BATCH" \
    "$WORK/xgboost.json" "$WORK/python-peer-whole$PEER_BATCH.json"
  # the demo host writes 5 records per request (xgboost, linear and canary
  # scores, the decoy's copy, the result): the transport's limit for them
  PT_RECORDS=5 PT_BYTES=1 PT_MAX_IN_FLIGHT=1000000 run_limit limit-demo-bytes pl
  ratio "host (xgboost) / limit writing the demo host's records" "$WORK/xgboost.json" \
    "$WORK/limit-demo-bytes.json"
  $PY - "$WORK/python-peer-batch$PEER_BATCH.json" "$WORK/limit-demo-bytes.json" <<'PY' |
import json, sys
peer, limit = (json.load(open(f))["throughput"] for f in sys.argv[1:3])
print(f"\n**5 x the Python peer in batches = {5 * peer:.0f}/s = {5 * peer / limit:.2f} of the "
      f"limit writing the demo host's records ({limit:.0f}/s)**")
PY
    tee -a "$RESULTS"
}

scenario_rates() {
  local svcs=() i=0
  for r in $RATES; do svcs+=("br$i"); i=$((i + 1)); done
  start_broker $(service_topics "${svcs[@]}" brl)
  # the transport's own latency: the pass-through at the first rate
  local first=${RATES%% *}
  run_limit "limit-rate-$first" brl --duration "$DURATION" --rate "$first" --window "$WINDOW"
  i=0
  for r in $RATES; do
    run_rate "rate-$r" "br$i" "$r"
    i=$((i + 1))
  done
}

scenario_reload() {
  start_broker $(service_topics bh)
  trivial_yaml bh "$WORK/bh.yaml"
  start_host bh "$WORK/bh.yaml"
  # m1's params change: on SIGHUP a new m1 is loaded, created, warmed on the
  # decoy's recent requests and swapped in; m2, m3, canary, decoy are reused
  trivial_yaml bh "$WORK/bh.yaml" 0.8
  local at
  at=$($PY -c "print($DURATION / 2)")
  bench reload bh --duration "$DURATION" --rate "$RELOAD_RATE" --window "$WINDOW" \
    --windows "$WINDOW_MS" --hup-pid "$HOST_PID" --hup-at "$at"
  grep -E 'reload|warmed|live|draining' "$WORK/bh.log" | sed 's/^/  host: /'
  stop_pid "$HOST_PID"
}

scenario_profile() {
  command -v valgrind >/dev/null || die "valgrind is not installed"
  start_broker $(service_topics bp)
  # models in the host: under valgrind /proc/self/exe is valgrind itself,
  # and the profile is of the host's own work anyway
  ISOLATION=none trivial_yaml bp "$WORK/bp.yaml"
  start_host bp "$WORK/bp.yaml" valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out"
  bench profile bp --count "${PROFILE_COUNT:-20000}" --window 4000 --warmup 0 --timeout 60
  stop_pid "$HOST_PID"
  callgrind_annotate --inclusive=no "$WORK/callgrind.out" 2>/dev/null | sed -n '1,60p' \
    | tee "$WORK/profile.txt"
  {
    echo
    echo "### callgrind top functions (self), trivial host, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo '```'
    grep -E '^ *[0-9,]+ \(' "$WORK/profile.txt" | head -40
    echo '```'
    echo
    echo "inclusive, the host's own functions and the library calls they make:"
    echo
    echo '```'
    callgrind_annotate --inclusive=yes "$WORK/callgrind.out" 2>/dev/null \
      | grep -E '^ *[0-9,]+ \(' | grep -E ' \?\?\?:(rv_|handle_message|send_|score|finish|evaluate|on_event|worker|fixture|canary|decoy|yajl_parse|yajl_gen_double|yajl_gen_string|rd_kafka_producev|rd_kafka_consumer_poll)' \
      | head -40
    echo '```'
  } >>"$RESULTS"
}

half_of() { # JSON: half its throughput, a whole rate
  $PY -c "import json,sys; print(int(json.load(open(sys.argv[1]))['throughput'] / 2))" "$1"
}

scenario_all() {
  scenario_compare
  local half
  half=$(half_of "$WORK/trivial-1.json")
  # a fresh broker per scenario group: stop the first
  stop_brokers
  scenario_peer
  stop_brokers
  RATES="$RATES $half" scenario_rates
  stop_brokers
  RELOAD_RATE=$half scenario_reload
}

# The same runs on each broker, side by side; names carry the broker
# (embedded-trivial-1, kafka-trivial-1, ...).
scenario_brokers() {
  local round b n half names=()
  for round in $(seq "${BROKER_ROUNDS:-1}"); do
    for b in embedded kafka; do
      n="${b:0:1}$round" # service prefix: e1, k1, ...
      BROKER=$b start_broker $(service_topics "${n}l" "${n}t" "${n}x" "${n}p" "${n}b" "${n}w" \
        "${n}rl" "${n}rr" "${n}h")
      PT_BYTES=1 PT_MAX_IN_FLIGHT=1000000 run_limit "$b-limit-bytes-$round" "${n}l"
      run_trivial "$b-trivial-$round" "${n}t"
      run_xgboost "$b-xgboost-$round" "${n}x"
      run_peer "$b-python-peer-$round" "${n}p" 0
      run_peer "$b-python-peer-batch$PEER_BATCH-$round" "${n}b" "$PEER_BATCH"
      run_peer "$b-python-peer-whole$PEER_BATCH-$round" "${n}w" "$PEER_BATCH" whole
      run_remote "$b-remote-local-${ISO_RATE}rps-$round" "${n}rl" false 1 --duration "$DURATION" \
        --rate "$ISO_RATE" --window "$WINDOW"
      run_remote "$b-remote-remote-${ISO_RATE}rps-$round" "${n}rr" true 1 --duration "$DURATION" \
        --rate "$ISO_RATE" --window "$WINDOW"
      half=$(half_of "$WORK/$b-trivial-$round.json")
      run_rate "$b-trivial-half-$round" "${n}h" "$half"
      stop_brokers
    done
    names+=(limit-bytes trivial xgboost python-peer "python-peer-batch$PEER_BATCH"
      "python-peer-whole$PEER_BATCH" "remote-local-${ISO_RATE}rps" "remote-remote-${ISO_RATE}rps"
      trivial-half)
  done
  $PY - "$WORK" "${BROKER_ROUNDS:-1}" "${names[@]:0:9}" <<'PY' | tee -a "$RESULTS"
import json, sys
work, rounds, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def run(b, name, r):
    return json.load(open(f"{work}/{b}-{name}-{r}.json"))
def ms(d, k):
    return f"{d[k]:.2f}" if d and d.get(k) is not None else "–"
print("\n| run | round | broker | requests/s | e2e p50 / p99 ms | in-host p50 / p99 ms | kafka / embedded |")
print("|---|---|---|---|---|---|---|")
for name in names:
    for r in range(1, rounds + 1):
        e, k = run("embedded", name, r), run("kafka", name, r)
        for b, x in (("embedded", e), ("kafka", k)):
            lat, host = x.get("latency_e2e"), x.get("latency_host")
            rel = f"{k['throughput'] / e['throughput']:.2f}" if b == "kafka" and e["throughput"] else ""
            print(f"| {name} | {r} | {b} | {x['throughput']:,.0f} | {ms(lat, 'p50')} / {ms(lat, 'p99')} "
                  f"| {ms(host, 'p50')} / {ms(host, 'p99')} | {rel} |")
PY
}

# At-least-once against exactly-once at two transaction intervals, on one
# real cluster, interleaved per round; then at a fixed rate for latency.
scenario_delivery() {
  [ "$BROKER" = kafka ] || die "delivery: needs BROKER=kafka (the embedded broker keeps no transaction markers)"
  local other=${TXN_MS_OTHER:-500} rounds=${DELIVERY_ROUNDS:-2} rate=${DELIVERY_RATE:-1000}
  local round order
  local modes=(alo eos100 "eos$other")
  local confs=("" "{mode: exactly_once, transaction_ms: 100}"
    "{mode: exactly_once, transaction_ms: $other}")
  local svcs=()
  for round in $(seq "$rounds"); do
    for m in "${modes[@]}"; do svcs+=("d$m$round" "h$m$round"); done
  done
  KAFKA_NODES=${KAFKA_NODES:-3} start_broker $(service_topics dwarm "${svcs[@]}")
  # not measured: the brokers' JIT compiles their hot paths in the first
  # minute (a first run on a fresh cluster was 0.6-0.8 x the next)
  run_trivial delivery-warmup dwarm >/dev/null
  for round in $(seq "$rounds"); do
    order="0 1 2"
    [ $((round % 2)) -eq 1 ] || order="2 1 0"
    for i in $order; do
      DELIVERY=${confs[$i]} run_trivial "delivery-${modes[$i]}-$round" "d${modes[$i]}$round"
    done
    ratio "exactly-once 100 ms / at-least-once" "$WORK/delivery-eos100-$round.json" \
      "$WORK/delivery-alo-$round.json"
    ratio "exactly-once $other ms / at-least-once" "$WORK/delivery-eos$other-$round.json" \
      "$WORK/delivery-alo-$round.json"
    for i in $order; do
      LINGER=${LINGER:-5} DELIVERY=${confs[$i]} \
        run_rate "delivery-${modes[$i]}-rate-$round" "h${modes[$i]}$round" "$rate"
    done
  done
  $PY - "$WORK" "$rounds" "${modes[@]}" <<'PY' | tee -a "$RESULTS"
import json, sys
work, rounds, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def ms(d, k):
    return f"{d[k]:.1f}" if d and d.get(k) is not None else "–"
print("\n| run | round | requests/s | e2e p50 / p99 ms | / at-least-once |")
print("|---|---|---|---|---|")
for kind in ("", "-rate"):
    for r in range(1, rounds + 1):
        base = json.load(open(f"{work}/delivery-alo{kind}-{r}.json"))
        for m in modes:
            x = json.load(open(f"{work}/delivery-{m}{kind}-{r}.json"))
            lat = x.get("latency_e2e")
            rel = f"{x['throughput'] / base['throughput']:.2f}" if base["throughput"] else ""
            print(f"| {m}{kind or ' saturation'} | {r} | {x['throughput']:,.0f} | "
                  f"{ms(lat, 'p50')} / {ms(lat, 'p99')} | {rel} |")
PY
}

# POST /v1/score over plain HTTP against TLS with a bearer token.
scenario_https() {
  local rounds=${HTTP_ROUNDS:-3} conc=${HTTP_CONC:-16} round m order svc port token
  local svcs=()
  for round in $(seq "$rounds"); do svcs+=("hplain$round" "htls$round"); done
  start_broker $(service_topics "${svcs[@]}") $(for x in "${svcs[@]}"; do echo "$x.gateway-replies"; done)
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$WORK/tls.key" -out "$WORK/tls.pem" 2>/dev/null
  token=$(openssl rand -hex 24)
  echo "$(printf %s "$token" | sha256sum | cut -d' ' -f1) score name=bench" >"$WORK/tokens"
  for round in $(seq "$rounds"); do
    order="plain tls"
    [ $((round % 2)) -eq 1 ] || order="tls plain"
    for m in $order; do
      svc=h$m$round
      port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      trivial_yaml "$svc" "$WORK/$svc.yaml"
      if [ "$m" = tls ]; then
        echo "http: {listen: \"127.0.0.1:$port\", tokens_file: $WORK/tokens, cert_file: $WORK/tls.pem, key_file: $WORK/tls.key}" >>"$WORK/$svc.yaml"
      else
        echo "http: {listen: \"127.0.0.1:$port\"}" >>"$WORK/$svc.yaml"
      fi
      start_host "$svc" "$WORK/$svc.yaml"
      local scheme=http auth=()
      [ "$m" = plain ] || { scheme=https; auth=(-H "Authorization: Bearer $token"); }
      for _ in $(seq 100); do
        [ "$(curl -sk -o /dev/null -w '%{http_code}' "$scheme://127.0.0.1:$port/readyz")" = 200 ] && break
        sleep 0.1
      done
      # wrk (OpenSSL): Go's client (hey) gets EOF from libmicrohttpd 0.9.75's TLS
      $PY - "$(head -1 "$DATA")" "${auth[1]:-}" >"$WORK/post.lua" <<'PY'
import json, sys
print('wrk.method = "POST"')
print(f"wrk.body = {json.dumps(sys.argv[1])}")
print('wrk.headers["Content-Type"] = "application/json"')
if sys.argv[2]:
    name, value = sys.argv[2].split(": ", 1)
    print(f'wrk.headers["{name}"] = {json.dumps(value)}')
PY
      wrk -t2 -c"$conc" -d"${DURATION}s" --latency -s "$WORK/post.lua" \
        "$scheme://127.0.0.1:$port/v1/score" >"$WORK/https-$m-$round.txt"
      stop_pid "$HOST_PID"
      echo "== https $m round $round: $(grep -E 'Requests/sec|Non-2xx' "$WORK/https-$m-$round.txt" | tr -s ' \n' ' ')" >&2
    done
  done
  $PY - "$WORK" "$rounds" "$conc" <<'PY' | tee -a "$RESULTS"
import re, statistics, sys
work, rounds, conc = sys.argv[1], int(sys.argv[2]), sys.argv[3]
UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}
def read(m, r):
    t = open(f"{work}/https-{m}-{r}.txt").read()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    pct = {p: float(v) * UNIT[u] for p, v, u in re.findall(r"\s(\d+)%\s+([\d.]+)(us|ms|s)\b", t)}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    errors = re.search(r"Socket errors: (.*)", t)
    return rate, pct.get("50"), pct.get("99"), f"non-2xx {bad.group(1) if bad else 0}" + (
        f", {errors.group(1)}" if errors else "")
print(f"\n| round | plain: requests/s, p50 / p99 ms | TLS + token | TLS / plain (requests/s) | errors plain; TLS |")
print("|---|---|---|---|---|")
ratios = []
for r in range(1, rounds + 1):
    p, t = read("plain", r), read("tls", r)
    ratios.append(t[0] / p[0])
    print(f"| {r} | {p[0]:,.0f}, {p[1]:.2f} / {p[2]:.2f} | {t[0]:,.0f}, {t[1]:.2f} / {t[2]:.2f} | "
          f"{ratios[-1]:.2f} | {p[3]}; {t[3]} |")
print(f"\n**POST /v1/score, {conc} callers with keep-alive: TLS with a token / plain, median of "
      f"{rounds}: {statistics.median(ratios):.2f}**")
PY
}

# eval_host MODE SERVICE: SERVICE's config for MODE (the evaluation in the
# host, in a role, or none), its host started (HOST_PID) under "${pin[@]}"
# and, for "role", `rendezvous evaluate` at nice 10 (ROLE_PID, else empty)
eval_host() {
  local m=$1 svc=$2 ev
  ev="{labels: [benign, malignant], report_s: 5${EVAL_SAMPLE:+, sample: $EVAL_SAMPLE}${EVAL_INTERVAL:+, interval_ms: $EVAL_INTERVAL}, in_host: $([ "$m" = on ] && echo true || echo false)}"
  [ "$m" != off ] && [ "$m" != again ] || ev=
  EVAL=$ev xgboost_yaml "$svc" "$WORK/$svc.yaml"
  start_host "$svc" "$WORK/$svc.yaml" "${pin[@]}"
  ROLE_PID=
  if [ "$m" = role ]; then
    nice -n 10 "$RV" evaluate -c "$WORK/$svc.yaml" -b "$BOOTSTRAP" 2>"$WORK/$svc.role.log" &
    ROLE_PID=$!
    PIDS+=($ROLE_PID)
  fi
}

# The evaluation in the host, in its own process (`rendezvous evaluate`,
# at nice 10) and off, in turn, a slice of $DURATION s each with labels in
# all (rvbench sends each request's label just after it), the order
# reversed every other round. The producers batch LINGER ms, 5 unless set:
# at 1 ms the one-thread embedded broker, sharing a CPU with the load, fell
# behind (results 0.3-1 s late, below the offered rate), and the hosts read
# the requests in bursts of its making. By default a host is started
# for each slice, on topics of its own. EVAL_KEEP=1: one host per mode,
# all started first and kept, warmed by a slice not measured, then loaded
# in turn (ids new each slice, a second between slices for the evaluation
# to commit what it took): no host start in the noise, and a kept host is
# what serves. Either way round 0 is a warm-up, not measured (a Kafka
# node's first minute runs its JIT: 10-60 times the p99). Kept hosts want
# BROKER=kafka: on the embedded broker the evaluating host's latencies
# collapse after about 200,000 requests (docs/PERFORMANCE.md), on Kafka
# they stay flat past a million.
# HOST_CPU=0, with the script itself under `taskset -c 1`: the loaded host
# (its threads and its model processes) alone on CPU 0; the broker, the
# load, the labels, the role and the idle kept hosts on the other, as when
# the broker is a machine of its own, and what an idle host still does (an
# evaluation finishing its last commit, a report) is not charged to the one
# measured. EVAL_SAMPLE: the evaluation's sample (evaluation.sample),
# EVAL_INTERVAL its interval_ms. EVAL_MODES: which of "on role off again"
# to run (off always among them; "again" is off once more, an A/A
# baseline: the noise the ratios are to be read against). Each run's first
# EVAL_WARMUP s (15) are left out of its figures: a host's first 2-3 s at
# this rate have 2-3 times its later p99 (caches, pages, connections), and
# an evaluating host's 5th to 10th s 1.3-1.7 times an idle one's (not
# traced yet); within a 15-s run they made most of the top 1 %. Steady
# serving is what is compared.
scenario_evaluation() {
  local rate=${EVAL_RATE:-5000} rounds=${EVAL_ROUNDS:-3} keep=${EVAL_KEEP:-} svcs=() round m order svc
  local modes=(${EVAL_MODES:-on role off}) pin=() rest id=b- o c0 t0 warm=${EVAL_WARMUP:-15}
  local truth=$SRC/conf/data/breast_cancer.expected.jsonl LINGER=${LINGER:-5} load=()
  declare -A host=() role=()
  [ -z "${HOST_CPU:-}" ] || { pin=(taskset -c "$HOST_CPU"); COLOCATE=false; }
  rest=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/$$/status)
  if [ -n "$keep" ]; then
    for m in "${modes[@]}"; do svcs+=("ev$m"); done
  else
    for round in $(seq 0 "$rounds"); do for m in "${modes[@]}"; do svcs+=("ev$m$round"); done; done
  fi
  start_broker $(service_topics "${svcs[@]}") $(for s in "${svcs[@]}"; do echo "$s.labels $s.evaluation"; done)
  if [ -n "$keep" ]; then
    for m in "${modes[@]}"; do
      eval_host "$m" "ev$m"
      host[$m]=$HOST_PID role[$m]=$ROLE_PID
    done
  fi
  for round in $(seq 0 "$rounds"); do
    order="${modes[*]}"
    [ $((round % 2)) -eq 1 ] || order="$(printf '%s\n' "${modes[@]}" | tac | xargs)"
    for m in $order; do
      if [ -n "$keep" ]; then
        svc=ev$m id=r$round-
        if [ -n "${HOST_CPU:-}" ]; then
          for o in "${modes[@]}"; do
            [ "$o" = "$m" ] && pin_tree "$HOST_CPU" "${host[$o]}" || pin_tree "$rest" "${host[$o]}"
          done
        fi
      else
        svc=ev$m$round
        eval_host "$m" "$svc"
        host[$m]=$HOST_PID role[$m]=$ROLE_PID
      fi
      load=(--rate "$rate" --window "$WINDOW" --id-prefix "$id" --labels "$svc.labels" --truth "$truth")
      if [ "$round" -eq 0 ]; then
        rvbench_cmd "$svc" "evaluation-$m-0" # not recorded
        timeout 300 "${RVB[@]}" --duration "$DURATION" "${load[@]}" >/dev/null 2>&1 || true
      else
        t0=$(date +%s%N)
        c0=$(cpu_ticks "${host[$m]}")
        bench "evaluation-$m-$round" "$svc" --duration $((DURATION + warm)) --warmup $((rate * warm)) \
          "${load[@]}"
        cpu_share "$t0" "$c0" "${host[$m]}" >"$WORK/evaluation-$m-$round.cpu"
      fi
      sleep 1 # the last labels read (a fetch waits up to 500 ms) and committed
      if [ -z "$keep" ]; then
        stop_pid "${host[$m]}"
        [ -z "${role[$m]}" ] || stop_pid "${role[$m]}"
        timeout 60 kcat -C -b "$BOOTSTRAP" -t "$svc.evaluation" -o beginning -e -q >"$WORK/$svc.evaluation" \
          2>/dev/null || true
      fi
    done
  done
  if [ -n "$keep" ]; then
    sleep 6 # a last report of each evaluation (report_s 5)
    for m in "${modes[@]}"; do
      timeout 60 kcat -C -b "$BOOTSTRAP" -t "ev$m.evaluation" -o beginning -e -q >"$WORK/ev$m.evaluation" \
        2>/dev/null || true
      stop_pid "${host[$m]}"
      [ -z "${role[$m]}" ] || stop_pid "${role[$m]}"
    done
  fi
  $PY - "$WORK" "$rounds" "$keep" <<'PY' | tee -a "$RESULTS"
import json, os, random, statistics, sys
work, rounds, keep = sys.argv[1], int(sys.argv[2]), bool(sys.argv[3])
def joined(m): # by the evaluation of mode m: of its one kept host, or of each run's
    return sum(joined_by(f"ev{m}{r}") for r in range(0, rounds + 1)) if not keep else joined_by(f"ev{m}")
def joined_by(svc):
    n = 0
    for l in open(f"{work}/{svc}.evaluation"):
        x = json.loads(l)
        if x["source"] == "served" and x["window"] == "start" and "schedule_version" not in x:
            n = x["count"]
    return n
ran = [m for m in ("on", "role", "again") if os.path.exists(f"{work}/evaluation-{m}-1.json")]
name = {"on": "in the host", "role": "own process", "again": "off again (A/A)"}
print("\n| round | in-host p50 / p99 ms (host CPU %): " + " | ".join(name[m] for m in ran)
      + " | off | p99 / off: " + ", ".join(name[m] for m in ran) + " |")
print("|---" * (len(ran) + 3) + "|")
ratios, sent = {m: [] for m in ran}, {m: 0 for m in ran + ["off"]}
for m in sent:
    if os.path.exists(f"{work}/evaluation-{m}-0.json"):
        sent[m] += json.load(open(f"{work}/evaluation-{m}-0.json"))["sent"]
for r in range(1, rounds + 1):
    run = {m: json.load(open(f"{work}/evaluation-{m}-{r}.json")) for m in ran + ["off"]}
    lat = {m: run[m]["latency_host"] for m in run}
    for m in run:
        sent[m] += run[m]["sent"]
    for m in ran:
        ratios[m].append(lat[m]["p99"] / lat["off"]["p99"])
    cpu = lambda m: open(f"{work}/evaluation-{m}-{r}.cpu").read().strip()
    cell = lambda m: f"{lat[m]['p50']:.3f} / {lat[m]['p99']:.3f} ({cpu(m)})"
    print(f"| {r} | " + " | ".join(cell(m) for m in ran + ["off"]) + " | "
          + ", ".join(f"{ratios[m][-1]:.2f}" for m in ran) + " |")
print("\njoined by the end" + (" (warm-up included): " if keep else ": ")
      + ", ".join(f"{name[m]} {joined(m):,} of {sent[m]:,} requests"
                  for m in ran if m != "again"))
# how far the median can be trusted: the rounds resampled (a bootstrap,
# fixed seed), the 5th and 95th percentiles of the resampled medians
rng = random.Random(1)
def interval(xs):
    meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(2000))
    return f"{meds[100]:.2f}–{meds[1899]:.2f}"
print(f"\n**evaluation / off, in-host p99, median of {rounds} rounds (90 % bootstrap interval): "
      + ", ".join(f"{name[m]} {statistics.median(ratios[m]):.2f} ({interval(ratios[m])})"
                  for m in ran) + "**")
PY
}

case "${1:-}" in
  limit | trivial | compare | xgboost | peer | rates | reload | isolation | remote | profile | all | brokers | delivery | evaluation | https)
    echo "rvbench $1: build $BUILD, tools $TOOLS, $(nproc) cores, duration $DURATION s, broker $BROKER" >&2
    "scenario_$1" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'
    exit 2 ;;
esac
