# shellcheck shell=bash
# bench/lib.sh - what every scenario of bench/run.sh uses: the settings from
# the environment (described in bench/run.sh), the build, the scratch dir,
# processes, the broker, rvbench runs and their recording. Sourced by
# bench/run.sh; bench_setup does the work (building included).

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
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
RESULTS=${RESULTS:-$SRC/bench/out/results.md}
RESULTS_JSON=${RESULTS_JSON:-$SRC/bench/results.jsonl}
PY=/usr/bin/python3
BROKER=${BROKER:-embedded}
KAFKA_JVM=${KAFKA_JVM:--Xms1g -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent}
DATA=$SRC/conf/data/breast_cancer.jsonl
MODELS=$SRC/conf/models
RV=$BUILD/rendezvous

PIDS=()
KAFKA_DIRS=()
SITES_DIRS=()

# bench_setup: builds the project on first use, makes the scratch dir
# (WORK), removed on exit with every process started (KEEP=1 keeps it)
bench_setup() {
  if [ ! -x "$RV" ] || [ ! -x "$BUILD/bench/rvbench" ]; then
    bash "$SRC/scripts/setup.sh"
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j"$(nproc)" >/dev/null
  fi
  TOOLS=${TOOLS:-$BUILD/bench}
  mkdir -p "$(dirname "$RESULTS")" "$(dirname "$RESULTS_JSON")"
  WORK=$(mktemp -d /tmp/rvbench-XXXXXX)
  trap cleanup EXIT
  # shellcheck disable=SC2034 # the generated configs' (bench/runs.sh)
  FEATURES=$($PY -c "import json,sys; print(', '.join(json.load(open(sys.argv[1]))['features']))" \
    "$MODELS/breast_cancer-linear.json")
}

cleanup() {
  local rc=$?
  for d in "${KAFKA_DIRS[@]}"; do bash "$SRC/scripts/kafka.sh" stop "$d" >/dev/null 2>&1 || true; done
  for d in "${SITES_DIRS[@]}"; do bash "$SRC/scripts/sites.sh" stop "$d" >/dev/null 2>&1 || true; done
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  if [ -n "${KEEP:-}" ]; then echo "scratch kept in $WORK" >&2; else rm -rf "$WORK"; fi
  exit $rc
}
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

# start_services SERVICE...: start_broker with every SERVICE's topics (the
# 7 a host uses, then SERVICE.X for each X in $MORE_TOPICS, e.g. "labels")
start_services() {
  local s t more topics=()
  read -ra more <<<"${MORE_TOPICS:-}"
  for s; do
    for t in requests scores results archive alerts dead-letter control; do topics+=("$s.$t"); done
  done
  for s; do for t in "${more[@]}"; do topics+=("$s.$t"); done; done
  start_broker "${topics[@]}"
}

# start_broker TOPIC... : one broker ($BROKER) for the scenario, its topics
# of $PARTITIONS (default 4) partitions; sets
# BOOTSTRAP and BROKER_PIDS (a real cluster's nodes); stop_brokers ends it
start_broker() {
  if [ "$BROKER" = kafka ]; then
    local dir
    dir=$(mktemp -d "$WORK/kafka-XXXXXX")
    KAFKA_DIRS+=("$dir")
    RV_KAFKA_JVM=$KAFKA_JVM bash "$SRC/scripts/kafka.sh" start "$dir" --nodes "${KAFKA_NODES:-1}" \
      >"$dir.out" 2>"$dir.err" || die "Kafka did not start: $(tail -5 "$dir.err")"
    BOOTSTRAP=$(sed -n 's/^bootstrap=//p' "$dir.out")
    bash "$SRC/scripts/kafka.sh" topics "$dir" "${PARTITIONS:-4}" "$@" 2>>"$dir.err" ||
      die "cannot create the topics: $(tail -3 "$dir.err")"
    read -ra BROKER_PIDS <<<"$(bash "$SRC/scripts/kafka.sh" pids "$dir" | awk '{print $2}')"
    return
  fi
  local args=()
  for t in "$@"; do args+=(--topic "$t"); done
  "$RV" broker --partitions "${PARTITIONS:-4}" "${args[@]}" >"$WORK/broker.out" 2>"$WORK/broker.err" &
  BROKER_PIDS=("$!")
  PIDS+=("$!")
  wait_for "$WORK/broker.out" "^bootstrap=" 30
  BOOTSTRAP=$(sed -n 's/^bootstrap=//p' "$WORK/broker.out" | head -1)
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

# start_host SERVICE YAML [WRAPPER...]: sets HOST_PID, waits for the
# assignment (or for what $HOST_READY matches in its log)
start_host() {
  local svc=$1 yaml=$2
  shift 2
  "$@" "$RV" -c "$yaml" -b "$BOOTSTRAP" >"$WORK/$svc.out" 2>"$WORK/$svc.log" &
  HOST_PID=$!
  PIDS+=("$HOST_PID")
  wait_for "$WORK/$svc.log" "${HOST_READY:-assigned}" 120
}

# stop_host SERVICE: stops HOST_PID, prints the last summary SERVICE's host logged
stop_host() {
  stop_pid "$HOST_PID"
  grep 'summary:' "$WORK/$1.log" | tail -1 || true
}

# pin_tree CPUS PID: every thread of PID and of its descendants on CPUS
pin_tree() {
  local p
  taskset -a -p -c "$1" "$2" >/dev/null 2>&1 || true
  for p in $(pgrep -P "$2"); do pin_tree "$1" "$p"; done
}

# cpu_ticks PID...: user + system clock ticks of processes so far
cpu_ticks() {
  local p t=0
  for p; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo $t
}

# cpu_share T0_NS TICKS0 PID...: % of one core the processes used since
# T0_NS (date +%s%N), when they had used TICKS0 (cpu_ticks)
cpu_share() {
  local t0=$1 c0=$2
  shift 2
  echo $(( ($(cpu_ticks "$@") - c0) * 100000000000 / $(getconf CLK_TCK) / ($(date +%s%N) - t0) ))
}

# rss_of PID: its peak resident set and its children's (the model
# processes') resident sets now, in kB, as "PEAK CHILDREN"
rss_of() {
  echo "$(awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)" \
    "$({ ps --ppid "$1" -o rss= 2>/dev/null || true; } | awk '{s += $1} END {print s + 0}')"
}

# memory NAME PID: the host's peak resident set and its model processes'
# resident sets now, in MiB
memory() {
  local host kids
  read -r host kids <<<"$(rss_of "$2")"
  echo "$1 memory: host peak RSS $((host / 1024)) MiB, model processes $((kids / 1024)) MiB" |
    tee -a "$RESULTS"
}

# rvbench_cmd SERVICE NAME: RVB, rvbench's command line on SERVICE's topics
# (its JSON into $WORK/NAME.json), the load's producer batching $LINGER
rvbench_cmd() {
  RVB=("$TOOLS/rvbench" -b "$BOOTSTRAP" --requests "$1.requests" --results "$1.results"
       --data "$DATA" --label "$2" --json "$WORK/$2.json")
  [ -z "${LINGER:-}" ] || RVB+=(-X "linger.ms=$LINGER")
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

# record NAME JSON TABLE CMD: appends a run to the results files
record() {
  local name=$1 json=$2 table=$3 line=$4
  {
    echo
    echo "### $name — $(date -u +%Y-%m-%dT%H:%M:%SZ) — load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo '```'
    echo "\$ $line"
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

# summarize ARGS... <<'PY': runs the Python on stdin with ARGS, its output
# printed and appended to $RESULTS
summarize() { $PY - "$@" | tee -a "$RESULTS"; }

ratio() { # LABEL JSON_A JSON_B: prints A/B of throughput
  summarize "$@" <<'PY'
import json, sys
label, a, b = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
print(f"\n**{label}: {a['label']} {a['throughput']:.0f}/s vs {b['label']} "
      f"{b['throughput']:.0f}/s = {a['throughput'] / b['throughput']:.2f}**"
      if b["throughput"] > 0 else f"\n{label}: no throughput for {b['label']}")
PY
}

half_of() { # JSON: half its throughput, a whole rate
  $PY -c "import json,sys; print(int(json.load(open(sys.argv[1]))['throughput'] / 2))" "$1"
}

# in_turn ROUND ITEM...: the ITEMs, in reverse order in an even ROUND (runs
# compared side by side alternate which goes first)
in_turn() {
  local round=$1
  shift
  if [ $((round % 2)) -eq 1 ]; then echo "$*"; else printf '%s\n' "$@" | tac | xargs; fi
}
