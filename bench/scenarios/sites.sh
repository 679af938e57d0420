# shellcheck shell=bash
# bench/scenarios/sites.sh - two sites (scripts/sites.sh: Kafka clusters
# east and west, MirrorMaker 2 both ways): sites.

# sites: the mirror's lag in each direction at $SITES_RATE records/s
# (default 2000) for $DURATION s (bench/mirror_lag.py: each record's
# arrival at the other site against its timestamp); then the trivial host
# at east at saturation with the mirror running (replicating what the host
# writes to west as it writes it) and stopped, in turn, $SITES_ROUNDS rounds
# (default 2): what mirroring costs serving on this machine, where the
# mirror, both clusters and the host share the same 2 cores.
scenario_sites() {
  local dir=$WORK/sites rate=${SITES_RATE:-2000} round s site on off
  bash "$SRC/scripts/sites.sh" start "$dir" >"$dir.out" 2>"$dir.err" ||
    die "the sites did not start: $(tail -5 "$dir.err")"
  SITES_DIRS+=("$dir")
  local east west
  east=$(sed -n 's/^east=//p' "$dir.out")
  west=$(sed -n 's/^west=//p' "$dir.out")
  local services=(lag)
  for round in $(seq "${SITES_ROUNDS:-2}"); do services+=("on$round" "off$round"); done
  for site in east west; do
    for s in "${services[@]}"; do
      bash "$SRC/scripts/kafka.sh" topics "$dir/$site" 4 "$s.requests" "$s.scores" "$s.results" \
        "$s.archive" "$s.alerts" "$s.dead-letter" "$s.control" 2>>"$dir.err" ||
        die "cannot create the topics at $site: $(tail -3 "$dir.err")"
    done
  done
  bash "$SRC/scripts/sites.sh" wait-topic "$dir" west east.lag.requests 60
  bash "$SRC/scripts/sites.sh" wait-topic "$dir" east west.lag.requests 60
  $PY "$SRC/bench/mirror_lag.py" "$east" "$west" lag.requests east --rate "$rate" \
    --duration "$DURATION" >"$WORK/lag-east-west.json"
  $PY "$SRC/bench/mirror_lag.py" "$west" "$east" lag.requests west --rate "$rate" \
    --duration "$DURATION" >"$WORK/lag-west-east.json"
  cat "$WORK"/lag-*.json | tee -a "$RESULTS_JSON"
  BOOTSTRAP=$east
  read -ra BROKER_PIDS <<<"$(bash "$SRC/scripts/kafka.sh" pids "$dir/east" | awk '{print $2}')"
  for round in $(seq "${SITES_ROUNDS:-2}"); do
    for s in $(in_turn "$round" on off); do
      if [ "$s" = off ]; then bash "$SRC/scripts/sites.sh" mirror stop "$dir"; fi
      run_trivial "sites-mirror-$s-$round" "$s$round"
      if [ "$s" = off ]; then bash "$SRC/scripts/sites.sh" mirror start "$dir"; fi
    done
  done
  summarize "$WORK" "${SITES_ROUNDS:-2}" <<'PY'
import json, sys
work, rounds = sys.argv[1], int(sys.argv[2])
print("\n| mirror | records/s | sent | arrived | lag p50 / p99 / max ms |")
print("|---|---|---|---|---|")
for d in ("east-west", "west-east"):
    x = json.load(open(f"{work}/lag-{d}.json"))
    l = x["lag_ms"]
    f = lambda v: "–" if v is None else f"{v:.0f}"
    print(f"| {d.replace('-', ' → ')} | {x['rate']} | {x['sent']} | {x['arrived']} "
          f"| {f(l['p50'])} / {f(l['p99'])} / {f(l['max'])} |")
print("\n| round | host at east, mirror on | mirror off | on / off |")
print("|---|---|---|---|")
for r in range(1, rounds + 1):
    on = json.load(open(f"{work}/sites-mirror-on-{r}.json"))["throughput"]
    off = json.load(open(f"{work}/sites-mirror-off-{r}.json"))["throughput"]
    print(f"| {r} | {on:,.0f}/s | {off:,.0f}/s | {on / off:.2f} |")
PY
}
