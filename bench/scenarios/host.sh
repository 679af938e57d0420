# shellcheck shell=bash
# bench/scenarios/host.sh - the host against the transport's limit and the
# Python peer, at saturation and at fixed rates, and across a reload:
# limit, trivial, xgboost, compare, peer, rates, reload, all.

# limit: bare librdkafka pass-through, 6 records per request (the limit)
scenario_limit() { start_services bl; run_limit limit bl; }

# trivial: the host: 3 trivial models + canary + decoy (6 records/request)
scenario_trivial() { start_services bt; run_trivial trivial bt; }

# xgboost: the host with the demo models (xgboost, linear, canary, decoy)
scenario_xgboost() { start_services bx; run_xgboost xgboost bx; }

# compare: limit (stopping at 10000 in flight as the host, pausing as it did
# before), then $CMP_REPEAT (3) rounds of: limit unbounded, limit unbounded
# writing the host's bytes, the trivial host; prints each round's
# host/limit and their medians
scenario_compare() {
  local i svcs=()
  for i in $(seq "$CMP_REPEAT"); do svcs+=("cu$i" "cb$i" "ct$i"); done
  start_services cl cp cw "${svcs[@]}"
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
  summarize "$WORK" "$CMP_REPEAT" <<'PY'
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

# peer: xgboost then the Python peer (per message, in batches of
# $PEER_BATCH, and in batches doing the demo host's whole work: every model,
# the decoy's copy, the result) on the same broker, then the limit writing
# the demo host's records and bytes; prints host/peer and what the 5 x goal
# asks of that limit
scenario_peer() {
  start_services px pp pb pw pl
  run_xgboost xgboost px
  run_peer python-peer pp 0
  run_peer "python-peer-batch$PEER_BATCH" pb "$PEER_BATCH"
  run_peer "python-peer-whole$PEER_BATCH" pw "$PEER_BATCH" whole
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
  summarize "$WORK/python-peer-batch$PEER_BATCH.json" "$WORK/limit-demo-bytes.json" <<'PY'
import json, sys
peer, limit = (json.load(open(f))["throughput"] for f in sys.argv[1:3])
print(f"\n**5 x the Python peer in batches = {5 * peer:.0f}/s = {5 * peer / limit:.2f} of the "
      f"limit writing the demo host's records ({limit:.0f}/s)**")
PY
}

# rates: the trivial host at fixed offered rates ($RATES, requests/s), after
# the limit at the first of them
scenario_rates() {
  local svcs=() i=0 r
  for r in $RATES; do svcs+=("br$i"); i=$((i + 1)); done
  start_services "${svcs[@]}" brl
  # the transport's own latency: the pass-through at the first rate
  local first=${RATES%% *}
  run_limit "limit-rate-$first" brl --duration "$DURATION" --rate "$first" --window "$WINDOW"
  i=0
  for r in $RATES; do
    run_rate "rate-$r" "br$i" "$r"
    i=$((i + 1))
  done
}

# reload: the trivial host at $RELOAD_RATE/s, SIGHUP after a model's params
# change; latency in $WINDOW_MS windows around the swap
scenario_reload() {
  start_services bh
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

# all: compare, peer, rates (with half the trivial saturation), reload, each
# on a fresh broker
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
