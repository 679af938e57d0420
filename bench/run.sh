#!/usr/bin/env bash
# bench/run.sh SCENARIO - runs one benchmark scenario end to end: starts a
# broker (BROKER=embedded, the default: a standalone embedded broker,
# `rendezvous broker`; BROKER=kafka: a real Apache Kafka, scripts/kafka.sh,
# KAFKA_NODES of them, default 1), starts what is measured, drives it with
# rvbench, stops everything and appends the printed tables to $RESULTS
# (default bench/out/results.md, a run log git ignores; the runs recorded
# before it are in the git history) and the JSON lines to $RESULTS_JSON
# (default bench/results.jsonl).
#
# Each scenario is a function, scenario_NAME, in the file of bench/scenarios/
# its line below names, described in full (its variables too) in the comment
# above it; the runs they are made of are in bench/runs.sh, the rest they
# share in bench/lib.sh.
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
# host's default, true), LINGER (ms) makes the hosts' and the load
# generator's producers batch that long instead of their default 1 ms (the
# remote scenario sets its own), FETCH_WAIT (ms) the hosts' consumers'
# fetch.wait.max.ms instead of their default 10 (the embedded broker holds a
# fetch that found nothing for all of it, where a real broker answers when
# data arrives), KAFKA_EXTRA more of the hosts' streams.kafka entries ("key:
# value, ..."), PARTITIONS the topics' partitions (default 4). KAFKA_JVM:
# the Kafka nodes' JVM flags (default Kafka's own: G1, 1 GiB heap).
set -euo pipefail

# The scenarios, one line each: NAME, the FILE of bench/scenarios/ with its
# scenario_NAME (described in full above it, its variables too), WHAT it runs
scenarios() {
  cat <<'TABLE'
limit      host       bare librdkafka pass-through, 6 records per request (the limit)
trivial    host       the host: 3 trivial models + canary + decoy (6 records/request)
compare    host       the limit 4 ways against the trivial host, $CMP_REPEAT rounds
xgboost    host       the host with the demo models (xgboost, linear, canary, decoy)
peer       host       xgboost, the Python peer three ways, the limit with the demo's records
rates      host       the trivial host at fixed offered rates ($RATES, requests/s)
reload     host       the trivial host at $RELOAD_RATE/s, SIGHUP after a model's params change
isolation  isolation  models in model processes against in the host, $ISO_REPEAT pairs
remote     isolation  XGBoost in the host against remote (`rendezvous scorer`)
delivery   brokers    at-least-once against exactly-once (BROKER=kafka only)
drain      brokers    a preloaded backlog drained, at-least-once against exactly-once (Kafka)
evaluation evaluation the live evaluation's cost to serving (EVAL_RATE, EVAL_MODES, ...)
https      https      POST /v1/score with wrk, plain HTTP against TLS with a token
v2         https      one row by POST /v1/score and by the Open Inference Protocol's infer
profile    profile    the trivial host under callgrind on a short run, top functions
all        host       compare, peer, rates (with half the trivial saturation), reload
brokers    brokers    the same runs on the embedded broker and on Kafka, side by side
sites      sites      two Kafka sites: the mirror's lag and its cost, the takeover time
container  container  the demo host as the bare process and in its image under podman
python     python     the Python plugin's cost per batch against the same calls in Python
pyserve    python     a scikit-learn Pipeline: host (Python plugin), remote scorer, Python peer
alerts     alerts     the canary's decisions on 10 M simulated requests: false alarms, delays
alerts_soak alerts    the demo's models at $SOAK_RATE/s for $SOAK_S s: the alert records (goal 0)
scale_models scaling  cost against 1, 2, 4, 8, 16 models scoring every request (CPU, p99)
scale_features scaling cost against 10, 100, 1000 features a request
scale_partitions scaling 1, 4, 16, 64 partitions; one host against two in a group
scale_memory scaling  peak RSS and throughput against max_in_flight (exactly-once on Kafka)
scaling    scaling    the four curves above, with their plots (gnuplot PNGs in $PLOTS)
inflight   scaling    throughput and peak RSS under max_in_flight:prefetch settings, in rounds
TABLE
}

usage() {
  local header
  header=$(sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//')
  echo "usage: bench/run.sh SCENARIO"
  echo
  sed '/^Environment:/,$d' <<<"$header"
  echo "Scenarios (NAME, bench/scenarios/FILE.sh, WHAT):"
  scenarios | sed 's/^/  /'
  echo
  sed -n '/^Environment:/,$p' <<<"$header"
}

scenario=${1:-}
file=$(scenarios | awk -v s="$scenario" '$1 == s && s != "" {print $2; exit}')
if [ -z "$file" ]; then
  case "$scenario" in
    -h | --help) usage; exit 0 ;;
    "") usage; exit 2 ;;
    *) echo "run.sh: no scenario '$scenario'" >&2; usage >&2; exit 2 ;;
  esac
fi

here=$(dirname "$0")
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
# shellcheck source=bench/runs.sh
. "$here/runs.sh"
# shellcheck source=/dev/null
. "$here/scenarios/$file.sh"
bench_setup
echo "rvbench $scenario: build $BUILD, tools $TOOLS, $(nproc) cores, duration $DURATION s, broker $BROKER" >&2
"scenario_$scenario"
