# shellcheck shell=bash
# bench/scenarios/evaluation.sh - the live evaluation's cost to serving:
# evaluation.

# eval_host MODE SERVICE [WRAPPER...]: SERVICE's config for MODE (the
# evaluation in the host, in a role, or none), its host started (HOST_PID)
# under WRAPPER and, for "role", `rendezvous evaluate` at nice 10 (ROLE_PID,
# else empty)
eval_host() {
  local m=$1 svc=$2 ev
  shift 2
  ev="{labels: [benign, malignant], report_s: 5${EVAL_SAMPLE:+, sample: $EVAL_SAMPLE}${EVAL_INTERVAL:+, interval_ms: $EVAL_INTERVAL}, in_host: $([ "$m" = on ] && echo true || echo false)}"
  [ "$m" != off ] && [ "$m" != again ] || ev=
  EVAL=$ev xgboost_yaml "$svc" "$WORK/$svc.yaml"
  start_host "$svc" "$WORK/$svc.yaml" "$@"
  ROLE_PID=
  if [ "$m" = role ]; then
    nice -n 10 "$RV" evaluate -c "$WORK/$svc.yaml" -b "$BOOTSTRAP" 2>"$WORK/$svc.role.log" &
    ROLE_PID=$!
    PIDS+=("$ROLE_PID")
  fi
}

# read_evaluation SERVICE: what SERVICE's evaluation wrote, into $WORK/SERVICE.evaluation
read_evaluation() {
  timeout 60 kcat -C -b "$BOOTSTRAP" -t "$1.evaluation" -o beginning -e -q >"$WORK/$1.evaluation" \
    2>/dev/null || true
}

# evaluation: the live evaluation's cost to serving: the demo's models
# (xgboost scenario) at $EVAL_RATE/s (5000) with a true label for every
# request at the same rate (a producer of its own), with the evaluation in
# the host, in its own process (`rendezvous evaluate` at nice 10) and
# without, in turn, $EVAL_ROUNDS (3) rounds, a host started for each run
# (EVAL_KEEP=1: a host per mode kept and loaded in turn, with
# BROKER=kafka); prints each run's in-host p50/p99 and the host process's
# CPU (its model processes not counted), p99 over the one without (median
# and bootstrap interval), and how many requests the evaluation joined.
# EVAL_MODES="on off again" adds a second run without ("again"): its ratio
# to the first is the machine's noise, measured in the same invocation.
#
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
  local rate=${EVAL_RATE:-5000} rounds=${EVAL_ROUNDS:-3} keep=${EVAL_KEEP:-} svcs=() round m svc
  local modes pin=() rest id=b- o c0 t0 warm=${EVAL_WARMUP:-15}
  local truth=$SRC/conf/data/breast_cancer.expected.jsonl LINGER=${LINGER:-5} load=()
  declare -A host=() role=()
  read -ra modes <<<"${EVAL_MODES:-on role off}"
  # shellcheck disable=SC2034 # COLOCATE: xgboost_yaml's
  [ -z "${HOST_CPU:-}" ] || { pin=(taskset -c "$HOST_CPU"); COLOCATE=false; }
  rest=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/$$/status)
  if [ -n "$keep" ]; then
    for m in "${modes[@]}"; do svcs+=("ev$m"); done
  else
    for round in $(seq 0 "$rounds"); do for m in "${modes[@]}"; do svcs+=("ev$m$round"); done; done
  fi
  MORE_TOPICS="labels evaluation" start_services "${svcs[@]}"
  if [ -n "$keep" ]; then
    for m in "${modes[@]}"; do
      eval_host "$m" "ev$m" "${pin[@]}"
      host[$m]=$HOST_PID role[$m]=$ROLE_PID
    done
  fi
  for round in $(seq 0 "$rounds"); do
    for m in $(in_turn "$round" "${modes[@]}"); do
      if [ -n "$keep" ]; then
        svc=ev$m id=r$round-
        if [ -n "${HOST_CPU:-}" ]; then
          for o in "${modes[@]}"; do
            if [ "$o" = "$m" ]; then pin_tree "$HOST_CPU" "${host[$o]}"; else pin_tree "$rest" "${host[$o]}"; fi
          done
        fi
      else
        svc=ev$m$round
        eval_host "$m" "$svc" "${pin[@]}"
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
        read_evaluation "$svc"
      fi
    done
  done
  if [ -n "$keep" ]; then
    sleep 6 # a last report of each evaluation (report_s 5)
    for m in "${modes[@]}"; do
      read_evaluation "ev$m"
      stop_pid "${host[$m]}"
      [ -z "${role[$m]}" ] || stop_pid "${role[$m]}"
    done
  fi
  summarize "$WORK" "$rounds" "$keep" <<'PY'
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
