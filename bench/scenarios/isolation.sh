# shellcheck shell=bash
# bench/scenarios/isolation.sh - where a model runs: in the host, in a model
# process of its own, remote (`rendezvous scorer`): isolation, remote.

# isolation: the cost of a model process per score() call without a broker
# (proc_rtt: 1 request 200 us apart, then batches of 64 back to back), then
# the trivial host with its models in the host (isolation: none) and in
# model processes (process), side by side: $ISO_REPEAT (3) pairs at
# saturation, then as many at $ISO_RATE/s; prints each pair's process/none
# and difference of in-host p50, and their medians
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
  start_services "${svcs[@]}"
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
  summarize "$WORK" "$ISO_RATE" "$ISO_REPEAT" <<'PY'
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

# remote: the same XGBoost model in the host and remote (`rendezvous
# scorer`, another process), linear as the fallback, side by side: at
# $ISO_RATE/s, then at saturation, each with producers batching for 1 ms and
# for 5 ms; prints remote/local.
# Each pair with producers batching for 1 ms (the host's default) and for
# 5 ms (librdkafka's): the embedded broker looks up a fetch's offset by
# walking its partition's log from the oldest message set, so its cost per
# fetch grows with the number of message sets it keeps (up to 5 MiB per
# partition), and smaller batches mean more of them. The remote shape has
# two more readers (the scorer, the host's scores reader).
scenario_remote() {
  start_services rl1 rr1 rl5 rr5 rls1 rrs1 rls5 rrs5
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
