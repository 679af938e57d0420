# shellcheck shell=bash
# bench/scenarios/scaling.sh - how the cost grows with the work, a curve
# each: models scoring every request, features per request, partitions and
# hosts in a group, max_in_flight against memory: scale_models,
# scale_features, scale_partitions, scale_memory, scaling (the four). Each
# curve is a table in $RESULTS, a TSV and a PNG (gnuplot) in $PLOTS (default
# bench/out/plots).
#
# CPU is the processes' user + system time over a run (/proc/PID/stat)
# divided by the results it produced: the host's own (all its threads) and
# its model processes' apart. At $SCALE_RATE/s (default 5000) the machine is
# not saturated, so that CPU is the work a request costs, not what contention
# adds; the in-host latency is from the same run.

PLOTS=${PLOTS:-$SRC/bench/out/plots}
SCALE_RATE=${SCALE_RATE:-5000}

# hosts_cpu PID...: the CPU ticks of the hosts and, apart, of their model
# processes, as "HOST KIDS"
hosts_cpu() {
  local p kids=()
  for p; do read -ra kids <<<"${kids[*]} $(pgrep -P "$p" | xargs)"; done
  echo "$(cpu_ticks "$@") $(cpu_ticks "${kids[@]}")"
}

# point NAME SERVICE HOSTS RVBENCH_ARGS...: HOSTS hosts (1 or 2, one consumer
# group) of $WORK/SERVICE.yaml under rvbench; writes $WORK/NAME.cpu: the
# ticks the hosts and their model processes used over the run, the clock
# ticks per second, the hosts' peak RSS and their model processes' RSS (kB)
point() {
  local name=$1 svc=$2 hosts=$3 pids=() i
  shift 3
  for i in $(seq "$hosts"); do
    # a second host: its own state dir and log, the same group
    sed "s|^state_dir: .*|state_dir: $WORK/state-$svc-$i|" "$WORK/$svc.yaml" >"$WORK/$svc-$i.yaml"
    # a second host may get no partition (of one): serving is enough
    if [ "$i" -eq 1 ]; then start_host "$svc-$i" "$WORK/$svc-$i.yaml"; else
      HOST_READY="serving: " start_host "$svc-$i" "$WORK/$svc-$i.yaml"; fi
    pids+=("$HOST_PID")
  done
  # the group settles (a second host's join moves partitions)
  [ "$hosts" -eq 1 ] || sleep 5
  local c0 c1
  read -ra c0 <<<"$(hosts_cpu "${pids[@]}")"
  bench "$name" "$svc" "$@"
  read -ra c1 <<<"$(hosts_cpu "${pids[@]}")"
  local rss=0 models_rss=0 p peak kids
  for p in "${pids[@]}"; do
    read -r peak kids <<<"$(rss_of "$p")"
    rss=$((rss + peak)) models_rss=$((models_rss + kids))
  done
  echo "$((c1[0] - c0[0])) $((c1[1] - c0[1])) $(getconf CLK_TCK) $rss $models_rss" >"$WORK/$name.cpu"
  for p in "${pids[@]}"; do stop_pid "$p"; done
}

# saturated NAME SERVICE [HOSTS] and rated NAME SERVICE: point at
# saturation and at $SCALE_RATE/s
saturated() { point "$1" "$2" "${3:-1}" --duration "$DURATION" --window "$WINDOW"; }
rated() { point "$1" "$2" 1 --duration "$DURATION" --rate "$SCALE_RATE" --window "$WINDOW"; }

# curve NAME XLABEL X:RUN... : the table and $PLOTS/NAME.tsv of the runs
# (RUN-sat at saturation, RUN-rate at the rate when it was made), one row per X
curve() {
  mkdir -p "$PLOTS"
  summarize "$WORK" "$PLOTS/$1.tsv" "$2" "$SCALE_RATE" "${@:3}" <<'PY'
import json, os, sys
work, tsv, xlabel, rate, points = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
def run(name):
    if not os.path.exists(f"{work}/{name}.json"):
        return None, None
    r = json.load(open(f"{work}/{name}.json"))
    host, kids, hz, rss, kids_rss = map(int, open(f"{work}/{name}.cpu").read().split())
    n = max(r["results"], 1)
    return r, {"host_us": host / hz / n * 1e6, "kids_us": kids / hz / n * 1e6,
               "rss": rss / 1024, "kids_rss": kids_rss / 1024}
cols = ["x", "sat_rps", "sat_host_us", "sat_models_us", "peak_rss_mib", "models_rss_mib",
        "rate_p50_ms", "rate_p99_ms", "rate_host_us", "rate_models_us", "sat_p99_ms", "limit_rps",
        "limit_us"]
rows = []
for p in points:
    x, name = p.split(":", 1)
    s, sc = run(f"{name}-sat")
    q, qc = run(f"{name}-rate")
    lat = (q or {}).get("latency_host") or {}
    slat = (s or {}).get("latency_host") or {}
    l, lc = run(f"{name}-limit")
    rows.append([x, s["throughput"] if s else "NaN", sc["host_us"] if sc else "NaN",
                 sc["kids_us"] if sc else "NaN", sc["rss"] if sc else "NaN",
                 sc["kids_rss"] if sc else "NaN", lat.get("p50", "NaN"), lat.get("p99", "NaN"),
                 qc["host_us"] if qc else "NaN", qc["kids_us"] if qc else "NaN",
                 slat.get("p99", "NaN"), l["throughput"] if l else "NaN",
                 lc["host_us"] if lc else "NaN"])
with open(tsv, "w") as f:
    f.write("# " + "\t".join(cols) + "\n")
    for r in rows:
        f.write("\t".join(x if isinstance(x, str) else f"{x:.4g}" for x in r) + "\n")
def fmt(v, d=0):
    return "–" if v == "NaN" else f"{v:,.{d}f}"
limited = any(r[11] != "NaN" for r in rows)
print(f"\n| {xlabel} | requests/s{' (/ the limit)' if limited else ''} | host CPU µs/request (sat.) | "
      f"peak RSS MiB (models') | at {rate}/s: in-host p50 / p99 ms | host / models CPU µs/request |")
print("|---|---|---|---|---|---|")
for r in rows:
    of = f" ({r[1] / r[11]:.2f} of {fmt(r[11])})" if r[11] != "NaN" and r[1] != "NaN" else ""
    print(f"| {r[0]} | {fmt(r[1])}{of} | {fmt(r[2], 1)} | {fmt(r[4])} ({fmt(r[5])}) | "
          f"{fmt(r[6], 2)} / {fmt(r[7], 2)} | {fmt(r[8], 1)} / {fmt(r[9], 1)} |")
PY
}

# slope NAME: the least-squares slopes of the CPU per request (the host's at
# saturation and at the rate, the model processes') against x in
# $PLOTS/NAME.tsv: what one more of x costs
slope() {
  summarize "$PLOTS/$1.tsv" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if not l.startswith("#")]
for col, who in ((2, "the host at saturation"), (8, "the host at the rate"),
                 (9, "the model processes at the rate"),
                 (12, "the pass-through (one more record a request) at saturation")):
    xy = [(float(r[0]), float(r[col])) for r in rows if r[col] != "NaN"]
    if len(xy) < 2:
        continue
    mx, my = (sum(v) / len(xy) for v in zip(*xy))
    b = sum((x - mx) * (y - my) for x, y in xy) / sum((x - mx) ** 2 for x, _ in xy)
    print(f"\n**{who}: {b:.2f} µs of CPU per request for each one more "
          f"(least squares over {len(xy)} points, {my - b * mx:.1f} µs at none)**")
PY
}

# plot NAME TITLE XLABEL LOGBASE: $PLOTS/NAME.png of $PLOTS/NAME.tsv, the
# throughput on the left; on the right the CPU per request at the rate and
# the in-host p99 at the rate (or, for memory, the peak RSS)
plot() {
  command -v gnuplot >/dev/null || { echo "no gnuplot: $PLOTS/$1.png not made" >&2; return 0; }
  local right='plot f u 1:3 w lp t "host CPU µs/request at saturation", f u 1:9 w lp t "host CPU µs/request at the rate", f u 1:10 w lp t "model processes CPU µs/request", f u 1:8 axes x1y2 w lp dt 2 t "in-host p99 ms at the rate (right axis)"'
  local rlabel="CPU µs per request" y2='set y2label "ms"; set y2tics; set y2range [0:*]'
  local left='plot f u 1:2 w lp pt 7 t "the host"'
  if [ "$1" = scale_features ]; then
    left+=', f u 1:12 w lp pt 7 t "the limit: pass-through writing the same bytes"'
  elif [ "$1" = scale_models ]; then
    left+=', f u 1:12 w lp pt 7 t "the limit: pass-through writing as many records"'
    right+=', f u 1:13 w lp t "pass-through CPU µs/request at saturation (a record per model)"'
  fi
  if [ "$1" = scale_memory ]; then
    left='plot f u 1:2 w lp pt 7 t "at-least-once"'
    right='plot f u 1:5 w lp t "host peak RSS MiB, at-least-once"'
    rlabel="MiB" y2=""
    if [ -f "$PLOTS/$1-eos.tsv" ]; then
      left+=', f2 u 1:2 w lp pt 7 t "exactly-once"'
      right+=', f2 u 1:5 w lp t "host peak RSS MiB, exactly-once"'
    fi
  fi
  gnuplot <<GP
set terminal pngcairo noenhanced size 1200,450 font "DejaVu Sans,10"
set output "$PLOTS/$1.png"
f = "$PLOTS/$1.tsv"
f2 = "$PLOTS/$1-eos.tsv"
set multiplot layout 1,2 title "$2"
set logscale x $4
set xlabel "$3"
set grid
set key top right
set ylabel "requests/s at saturation"
set yrange [0:*]
$left
set ylabel "$rlabel"
$y2
$right
unset multiplot
GP
  echo "plot: $PLOTS/$1.png"
}

# scale_models: 1, 2, 4, 8, 16 ($SCALE_MODELS) fixture models in model
# processes, every one in the schedule, nothing else; each at saturation and
# at $SCALE_RATE/s, beside the pass-through writing as many records (a score
# each, the result) at saturation; the slopes of the CPU per request per
# model: the host's, and the pass-through's (what a record costs librdkafka)
scenario_scale_models() {
  local n svcs=() pts=()
  for n in ${SCALE_MODELS:-1 2 4 8 16}; do svcs+=("lm$n" "sm$n" "rm$n"); done
  start_services "${svcs[@]}"
  for n in ${SCALE_MODELS:-1 2 4 8 16}; do
    PT_RECORDS=$((n + 1)) PT_MAX_IN_FLIGHT=1000000 run_limit "models-$n-limit" "lm$n"
    models_yaml "sm$n" "$WORK/sm$n.yaml" "$n"
    saturated "models-$n-sat" "sm$n"
    models_yaml "rm$n" "$WORK/rm$n.yaml" "$n"
    rated "models-$n-rate" "rm$n"
    pts+=("$n:models-$n")
  done
  curve scale_models "models" "${pts[@]}"
  slope scale_models
  plot scale_models "Cost against the models scoring every request" "models (model processes)" 2
}

# scale_features: 10, 100, 1000 ($SCALE_FEATURES) features a request
# (random values, 6 significant digits), three fixture models in model
# processes and the decoy; each at saturation and at $SCALE_RATE/s; the body
# size of each
# shellcheck disable=SC2034 # FEATURES and DATA: read by yaml_head, rvbench_cmd
scenario_scale_features() {
  local f svcs=() pts=()
  for f in ${SCALE_FEATURES:-10 100 1000}; do svcs+=("lf$f" "sf$f" "rf$f"); done
  start_services "${svcs[@]}"
  for f in ${SCALE_FEATURES:-10 100 1000}; do
    $PY - "$f" "$WORK/features-$f.jsonl" <<'PY'
import json, random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(n)
with open(path, "w") as out:
    for _ in range(500):
        out.write(json.dumps({f"f{i}": float(f"{rng.uniform(-100, 100):.6g}") for i in range(n)},
                             separators=(",", ":")) + "\n")
PY
    echo "features $f: $(awk '{s += length($0)} END {printf "%d", s / NR}' "$WORK/features-$f.jsonl") bytes a request body" |
      tee -a "$RESULTS"
    local FEATURES DATA
    FEATURES=$(seq -s, -f 'f%.0f' 0 $((f - 1)) | sed 's/,/, /g')
    DATA=$WORK/features-$f.jsonl
    # the transport alone with these bodies: the pass-through writing what
    # this host writes (three scores, the decoy's copy, the result)
    PT_RECORDS=5 PT_BYTES=1 PT_MAX_IN_FLIGHT=1000000 run_limit "features-$f-limit" "lf$f"
    models_yaml "sf$f" "$WORK/sf$f.yaml" 3 decoy
    saturated "features-$f-sat" "sf$f"
    models_yaml "rf$f" "$WORK/rf$f.yaml" 3 decoy
    rated "features-$f-rate" "rf$f"
    pts+=("$f:features-$f")
  done
  curve scale_features "features" "${pts[@]}"
  plot scale_features "Cost against the features of a request (3 models in model processes, decoy)" "features a request" 10
}

# scale_partitions: 1, 4, 16, 64 ($SCALE_PARTITIONS) partitions a topic (a
# fresh broker each), the trivial host at saturation, then two of it in one
# consumer group (the sum against one host)
scenario_scale_partitions() {
  local p pts=() pts2=()
  for p in ${SCALE_PARTITIONS:-1 4 16 64}; do
    PARTITIONS=$p start_services "sp$p" "sq$p"
    trivial_yaml "sp$p" "$WORK/sp$p.yaml"
    saturated "partitions-$p-sat" "sp$p" 1
    trivial_yaml "sq$p" "$WORK/sq$p.yaml"
    saturated "partitions2-$p-sat" "sq$p" 2
    ratio "two hosts / one, $p partitions" "$WORK/partitions2-$p-sat.json" "$WORK/partitions-$p-sat.json"
    stop_brokers
    pts+=("$p:partitions-$p")
    pts2+=("$p:partitions2-$p")
  done
  curve scale_partitions "partitions, one host" "${pts[@]}"
  curve scale_partitions-2 "partitions, two hosts" "${pts2[@]}"
  plot_partitions
}

plot_partitions() {
  command -v gnuplot >/dev/null || return 0
  gnuplot <<GP
set terminal pngcairo noenhanced size 1200,450 font "DejaVu Sans,10"
set output "$PLOTS/scale_partitions.png"
set multiplot layout 1,2 title "Partitions, and two hosts in one group (the trivial host at saturation)"
set logscale x 2
set xlabel "partitions a topic"
set grid
set yrange [0:*]
set ylabel "requests/s at saturation"
plot "$PLOTS/scale_partitions.tsv" u 1:2 w lp pt 7 t "one host", "$PLOTS/scale_partitions-2.tsv" u 1:2 w lp pt 7 t "two hosts (sum)"
set ylabel "host CPU µs per request at saturation"
plot "$PLOTS/scale_partitions.tsv" u 1:3 w lp pt 7 t "one host", "$PLOTS/scale_partitions-2.tsv" u 1:3 w lp pt 7 t "two hosts"
unset multiplot
GP
  echo "plot: $PLOTS/scale_partitions.png"
}

# scale_memory: the trivial host at saturation with max_in_flight 1000,
# 2500, 5000, 10000, 20000 ($SCALE_MIF): throughput and peak RSS; on Kafka
# also exactly-once (transaction_ms 100)
scenario_scale_memory() {
  local m svcs=() pts=() eos=()
  for m in ${SCALE_MIF:-1000 2500 5000 10000 20000}; do svcs+=("ma$m" "me$m"); done
  start_services "${svcs[@]}"
  for m in ${SCALE_MIF:-1000 2500 5000 10000 20000}; do
    MAX_IN_FLIGHT=$m trivial_yaml "ma$m" "$WORK/ma$m.yaml"
    saturated "memory-$m-sat" "ma$m"
    pts+=("$m:memory-$m")
    if [ "$BROKER" = kafka ]; then
      MAX_IN_FLIGHT=$m DELIVERY="{mode: exactly_once, transaction_ms: 100}" \
        trivial_yaml "me$m" "$WORK/me$m.yaml"
      saturated "memory-eos-$m-sat" "me$m"
      eos+=("$m:memory-eos-$m")
    fi
  done
  curve scale_memory "max_in_flight, at-least-once" "${pts[@]}"
  [ ${#eos[@]} -eq 0 ] || curve scale_memory-eos "max_in_flight, exactly-once" "${eos[@]}"
  plot scale_memory "Peak RSS against max_in_flight (the trivial host at saturation)" "max_in_flight" 10
}

# scaling: the four curves, each on a fresh broker
scenario_scaling() {
  scenario_scale_models
  stop_brokers
  scenario_scale_features
  stop_brokers
  scenario_scale_partitions
  scenario_scale_memory
}

# inflight: what the host holds against what it carries: the trivial host at
# saturation under each of $IF_SETTINGS (default "10000:16384 3000:16384
# 3000:4096"), MAX_IN_FLIGHT:PREFETCH_KB (rendezvous.max_in_flight and the
# consumer's queued.max.messages.kbytes), in $IF_ROUNDS (3) rounds, the
# order reversed every other round, on one broker; prints each setting's
# throughput against the first's in the same round, and its peak RSS
scenario_inflight() {
  local settings rounds=${IF_ROUNDS:-3} round i svcs=()
  read -ra settings <<<"${IF_SETTINGS:-10000:16384 3000:16384 3000:4096}"
  for round in $(seq "$rounds"); do
    for i in "${!settings[@]}"; do svcs+=("if$i-$round"); done
  done
  start_services ifwarm "${svcs[@]}"
  trivial_yaml ifwarm "$WORK/ifwarm.yaml"
  saturated inflight-warmup-sat ifwarm >/dev/null # the brokers' JIT, not measured
  for round in $(seq "$rounds"); do
    for i in $(in_turn "$round" "${!settings[@]}"); do
      MAX_IN_FLIGHT=${settings[$i]%:*} KAFKA_EXTRA="queued.max.messages.kbytes: ${settings[$i]#*:}" \
        trivial_yaml "if$i-$round" "$WORK/if$i-$round.yaml"
      saturated "inflight-$i-$round-sat" "if$i-$round"
    done
  done
  summarize "$WORK" "$rounds" "${settings[@]}" <<'PY'
import json, statistics, sys
work, rounds, settings = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def run(i, r):
    d = json.load(open(f"{work}/inflight-{i}-{r}-sat.json"))
    rss = int(open(f"{work}/inflight-{i}-{r}-sat.cpu").read().split()[3]) / 1024
    return d["throughput"], rss, (d.get("latency_e2e") or {}).get("p99")
print("\n| max_in_flight : prefetch kB | requests/s (median) | / the first, each round | "
      "peak RSS MiB (median) | e2e p99 ms (median) |")
print("|---|---|---|---|---|")
for i, s in enumerate(settings):
    runs = [run(i, r) for r in range(1, rounds + 1)]
    rel = [x[0] / run(0, r)[0] for r, x in zip(range(1, rounds + 1), runs)]
    p99 = [x[2] for x in runs if x[2] is not None]
    print(f"| {s} | {statistics.median(x[0] for x in runs):,.0f} | "
          f"{' '.join(f'{v:.2f}' for v in rel)} | {statistics.median(x[1] for x in runs):.0f} | "
          f"{statistics.median(p99) if p99 else float('nan'):.1f} |")
PY
}
