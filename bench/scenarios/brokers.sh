# shellcheck shell=bash
# bench/scenarios/brokers.sh - the broker under the host: the embedded broker
# against Kafka, and delivery guarantees on Kafka: brokers, delivery.

# brokers: the same runs on the embedded broker and then on Kafka
# ($BROKER_ROUNDS rounds, default 1): the limit writing the host's bytes, the
# trivial and the demo hosts, the three Python peers, the remote shape and
# the same model local at $ISO_RATE/s, the trivial host at half its
# saturation on that broker; prints them side by side (kafka/embedded).
# Names carry the broker (embedded-trivial-1, kafka-trivial-1, ...).
scenario_brokers() {
  local round b n half names=()
  for round in $(seq "${BROKER_ROUNDS:-1}"); do
    for b in embedded kafka; do
      n="${b:0:1}$round" # service prefix: e1, k1, ...
      BROKER=$b start_services "${n}l" "${n}t" "${n}x" "${n}p" "${n}b" "${n}w" "${n}rl" "${n}rr" \
        "${n}h"
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
  summarize "$WORK" "${BROKER_ROUNDS:-1}" "${names[@]:0:9}" <<'PY'
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

# delivery: at-least-once and exactly-once side by side (BROKER=kafka only:
# the embedded broker keeps no transaction markers; KAFKA_NODES, default
# here 3): $DELIVERY_ROUNDS (2) rounds of the trivial host at saturation with
# at_least_once, exactly_once at transaction_ms 100 and at $TXN_MS_OTHER
# (500), in turn (the order reversed every other round, after a run not
# measured: a fresh cluster is slower); then each at $DELIVERY_RATE/s (1000:
# what the 3-node cluster on 2 cores takes with room to spare); prints
# exactly-once/at-least-once of throughput and each run's e2e latency
# (rvbench reads the results read_committed, librdkafka's default)
scenario_delivery() {
  [ "$BROKER" = kafka ] || die "delivery: needs BROKER=kafka (the embedded broker keeps no transaction markers)"
  local other=${TXN_MS_OTHER:-500} rounds=${DELIVERY_ROUNDS:-2} rate=${DELIVERY_RATE:-1000}
  local round i m
  local modes=(alo eos100 "eos$other")
  local confs=("" "{mode: exactly_once, transaction_ms: 100}"
    "{mode: exactly_once, transaction_ms: $other}")
  local svcs=()
  for round in $(seq "$rounds"); do
    for m in "${modes[@]}"; do svcs+=("d$m$round" "h$m$round"); done
  done
  KAFKA_NODES=${KAFKA_NODES:-3} start_services dwarm "${svcs[@]}"
  # not measured: the brokers' JIT compiles their hot paths in the first
  # minute (a first run on a fresh cluster was 0.6-0.8 x the next)
  run_trivial delivery-warmup dwarm >/dev/null
  for round in $(seq "$rounds"); do
    for i in $(in_turn "$round" 0 1 2); do
      DELIVERY=${confs[$i]} run_trivial "delivery-${modes[$i]}-$round" "d${modes[$i]}$round"
    done
    ratio "exactly-once 100 ms / at-least-once" "$WORK/delivery-eos100-$round.json" \
      "$WORK/delivery-alo-$round.json"
    ratio "exactly-once $other ms / at-least-once" "$WORK/delivery-eos$other-$round.json" \
      "$WORK/delivery-alo-$round.json"
    for i in $(in_turn "$round" 0 1 2); do
      LINGER=${LINGER:-5} DELIVERY=${confs[$i]} \
        run_rate "delivery-${modes[$i]}-rate-$round" "h${modes[$i]}$round" "$rate"
    done
  done
  summarize "$WORK" "$rounds" "${modes[@]}" <<'PY'
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

# drain: a backlog drained, at-least-once against exactly-once
# (transaction_ms 100) (BROKER=kafka only): $DRAIN_COUNT (600000) requests
# of the demo's rows are in the requests topic before the host starts, which
# runs $DRAIN_MODELS (1) fixture models in model processes, and the decoy
# with DRAIN_DECOY=1; bench/drain.py reads the results (read_committed) and
# takes their rate between the 10th and 90th percentile of their
# timestamps. After a run not measured (the brokers' JIT), $DRAIN_ROUNDS (3)
# rounds, the modes' order swapped each round; prints each run with the
# host's peak RSS, and exactly-once / at-least-once per round and their
# median.
scenario_drain() {
  [ "$BROKER" = kafka ] || die "drain: needs BROKER=kafka (the embedded broker keeps no transaction markers)"
  local count=${DRAIN_COUNT:-600000} rounds=${DRAIN_ROUNDS:-3} round i
  local modes=(alo eos) confs=("" "{mode: exactly_once, transaction_ms: 100}") svcs=()
  for round in $(seq "$rounds"); do svcs+=("nalo$round" "neos$round"); done
  start_services nwarm "${svcs[@]}"
  $PY - "$DATA" "$count" >"$WORK/backlog.jsonl" <<'PY'
import itertools, sys
rows = open(sys.argv[1]).read().splitlines()
sys.stdout.write("\n".join(itertools.islice(itertools.cycle(rows), int(sys.argv[2]))) + "\n")
PY
  run_drain drain-warmup nwarm "$count"
  for round in $(seq "$rounds"); do
    for i in $(in_turn "$round" 0 1); do
      DELIVERY=${confs[$i]} run_drain "drain-${modes[$i]}-$round" "n${modes[$i]}$round" "$count"
    done
  done
  summarize "$WORK" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
print("\n| round | at-least-once /s | exactly-once /s | exactly-once / at-least-once |")
print("|---|---|---|---|")
ratios = []
for r in range(1, rounds + 1):
    a, e = (json.load(open(f"{work}/drain-{m}-{r}.json")) for m in ("alo", "eos"))
    ratios.append(e["throughput"] / a["throughput"])
    print(f"| {r} | {a['throughput']:,.0f} | {e['throughput']:,.0f} | {ratios[-1]:.2f} |")
print(f"\n**exactly-once / at-least-once draining a backlog: median {statistics.median(ratios):.2f} "
      f"({min(ratios):.2f}-{max(ratios):.2f})**")
PY
}

# run_drain NAME SERVICE COUNT: COUNT requests into SERVICE's requests topic,
# then its host (models_yaml, $DRAIN_MODELS), timed by bench/drain.py
run_drain() {
  local name=$1 svc=$2 count=$3
  kcat -P -b "$BOOTSTRAP" -t "$svc.requests" -X linger.ms=20 <"$WORK/backlog.jsonl" ||
    die "could not write the backlog of $svc"
  models_yaml "$svc" "$WORK/$svc.yaml" "${DRAIN_MODELS:-1}" "${DRAIN_DECOY:+decoy}"
  start_host "$svc" "$WORK/$svc.yaml"
  $PY "$SRC/bench/drain.py" "$BOOTSTRAP" "$svc.results" "$count" --label "$name" \
    >"$WORK/$name.json" || die "$name: not every request answered: $(cat "$WORK/$name.json")"
  memory "$name" "$HOST_PID"
  stop_host "$svc"
  $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print(f\"{d['label']}: {d['count']} results, {d['throughput']:,.0f}/s (10th to 90th percentile), {d['seconds']:.1f} s first to last\")" \
    "$WORK/$name.json" >"$WORK/$name.table"
  cat "$WORK/$name.table"
  record "$name" "$WORK/$name.json" "$WORK/$name.table" "backlog of $count, then ${DELIVERY:-at-least-once}"
}
