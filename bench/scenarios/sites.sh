# shellcheck shell=bash
# bench/scenarios/sites.sh - two sites (scripts/sites.sh: Kafka clusters
# east and west, MirrorMaker 2 both ways): sites.

# sites: the mirror's lag in each direction at $SITES_RATE records/s
# (default 2000) for $DURATION s (bench/mirror_lag.py: each record's
# arrival at the other site against its timestamp); then the trivial host
# at east at saturation with the mirror running (replicating what the host
# writes to west as it writes it) and stopped, in turn, $SITES_ROUNDS rounds
# (default 2): what mirroring costs serving on this machine, where the
# mirror, both clusters and the host share the same 2 cores. Last, as it
# loses east: the takeover time, automatic then manual (takeover_round).
scenario_sites() {
  local dir=$WORK/sites rate=${SITES_RATE:-2000} round s site on off
  bash "$SRC/scripts/sites.sh" start "$dir" >"$dir.out" 2>"$dir.err" ||
    die "the sites did not start: $(tail -5 "$dir.err")"
  SITES_DIRS+=("$dir")
  local east west
  east=$(sed -n 's/^east=//p' "$dir.out")
  west=$(sed -n 's/^west=//p' "$dir.out")
  local services=(lag takeover-automatic takeover-manual)
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
  takeover_round automatic "$dir"
  takeover_round manual "$dir"
  cat "$WORK"/takeover-*.json | tee -a "$RESULTS_JSON"
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
print("\n| east lost, takeover at west | first answer taken over after the loss "
      "| acknowledged at east | mirrored to west | never mirrored (RPO) | taken over "
      "| mirrored, no answer at west |")
print("|---|---|---|---|---|---|---|")
for mode in ("automatic", "manual"):
    t = json.load(open(f"{work}/takeover-{mode}.json"))
    how = (f"automatic (`--when-silent {t['silent_s']}`, standing by)" if mode == "automatic"
           else "manual (started at the loss: the command's own time)")
    first = "none" if t["first_answer_ms"] is None else f"{t['first_answer_ms']:,} ms"
    print(f"| {how} | {first} | {t['acked']:,} | {t['mirrored']:,} | {t['never_mirrored']:,} "
          f"| {t['taken_over']:,} | {t['mirrored_unanswered']:,} |")
PY
}

# takeover_round MODE DIR: at the sites of DIR (sites.sh), hosts of service
# takeover-MODE (takeover_yaml) at east and at west, 1,000 requests/s at
# east; once east's group has a checkpoint at west and 3 s more, east's
# host and broker are killed -9 (the loss) and `rendezvous takeover --from
# east` at west answers east's requests mirrored there: automatic, standing
# by before the loss with --when-silent $SITES_SILENT_S (default 10), or
# manual, started right after it (its figure is then the command's own time
# from its start to its first answer). $WORK/takeover-MODE.json: ms from
# the loss to the first result at west with rv-taken-over-from=east (that
# result's timestamp: one clock), the requests acknowledged at east,
# mirrored to west, never mirrored (the recovery point), taken over, and
# mirrored but with no answer at west. East is back (sites.sh start-site)
# when it returns.
takeover_round() {
  local mode=$1 dir=$2 svc=takeover-$1 silent=${SITES_SILENT_S:-10}
  local east west east_host west_host takeover loader lost_ms first
  east=$(<"$dir/east/bootstrap")
  west=$(<"$dir/west/bootstrap")
  takeover_yaml "$svc" east west
  takeover_yaml "$svc" west east
  bash "$SRC/scripts/sites.sh" wait-topic "$dir" west "east.$svc.requests" 60
  bash "$SRC/scripts/sites.sh" wait-topic "$dir" west "east.$svc.results" 60
  mirror_caught_up "$dir"
  BOOTSTRAP=$east start_host "$svc-east" "$WORK/$svc-east.yaml"
  east_host=$HOST_PID
  BOOTSTRAP=$west start_host "$svc-west" "$WORK/$svc-west.yaml"
  west_host=$HOST_PID
  local takeover_cmd=("$RV" takeover -c "$WORK/$svc-west.yaml" --from east -b "$west")
  if [ "$mode" = automatic ]; then
    takeover_cmd+=(--when-silent "$silent")
    "${takeover_cmd[@]}" >/dev/null 2>"$WORK/$svc-takeover.log" &
    takeover=$!
    PIDS+=("$takeover")
    wait_for "$WORK/$svc-takeover.log" "standing by" 60
  fi

  paced_load "$east" "$svc.requests" 1000 "$WORK/$svc.acked" "$WORK/$svc.stop"
  loader=$LOAD_PID
  checkpointed "$west" "$svc-rendezvous" 60 ||
    die "no checkpoint of east's group $svc-rendezvous at west after 60 s"
  sleep 3
  ! grep -q "taking over its requests" "$WORK/$svc-takeover.log" 2>/dev/null ||
    die "the standby took over before east was lost: $(grep sites "$WORK/$svc-takeover.log" | tail -2)"

  kill -9 "$east_host"
  wait "$east_host" 2>/dev/null || true
  bash "$SRC/scripts/sites.sh" kill "$dir" east 2>>"$dir.err"
  lost_ms=$(($(date +%s%N) / 1000000))
  touch "$WORK/$svc.stop"
  if [ "$mode" = manual ]; then
    "${takeover_cmd[@]}" >/dev/null 2>"$WORK/$svc-takeover.log" &
    takeover=$!
    PIDS+=("$takeover")
  fi
  first=$(first_taken_over "$west" "$svc" "$lost_ms" 90)
  [ -n "$first" ] || echo "  takeover $mode: no answer taken over 90 s after the loss:" \
    "$(grep -v '^%' "$WORK/$svc-takeover.log" | tail -2)" >&2
  wait "$loader" || true
  takeover_count "$mode" "$west" "$svc" "$first" "$silent" >"$WORK/takeover-$mode.json"

  stop_pid "$takeover"
  stop_pid "$west_host"
  forget "$east_host" "$west_host" "$takeover" "$loader"
  bash "$SRC/scripts/sites.sh" start-site "$dir" east 2>>"$dir.err" ||
    die "east did not come back: $(tail -3 "$dir.err")"
}

# takeover_yaml SERVICE SITE PEER: $WORK/SERVICE-SITE.yaml, SITE's host as
# tests/integration/sites_takeover.sh has it (one fixture model: a score and
# a result a request), so that the figures compare with the test's
takeover_yaml() {
  local plugin=$BUILD/tests/fixtures/ok.so
  [ -f "$plugin" ] || plugin=$BUILD/plugins/libtemplate_model.so
  cat >"$WORK/$1-$2.yaml" <<YAML
# generated by bench/run.sh: the sites scenario's takeover rounds
service: $1
state_dir: $WORK/state-$1-$2
streams: {brokers: embedded, partitions: 4}
input: {features: [x, y]}
shutdown_timeout_ms: 5000
site: {name: $2, peers: [$3]}
models:
  - {name: a, plugin: $plugin}
rendezvous:
  schedule: [{model: a, within_ms: 2000}]
YAML
}

# mirror_caught_up DIR: waits until the mirror has carried to west all
# east wrote (bench/mirror_backlog.py: a mirror stopped or restarted copies
# its backlog first, and what is written meanwhile waits behind it), then
# until east's newest heartbeat at west is under 1.5 s old three times in a
# row (MirrorMaker 2 beats every second): else a standby would count the
# silence as a loss (300 s at most each)
mirror_caught_up() {
  local east west now newest ok=0 took
  east=$(<"$1/east/bootstrap")
  west=$(<"$1/west/bootstrap")
  took=$($PY "$SRC/bench/mirror_backlog.py" "$east" "$west" east --wait 300) ||
    die "the mirror east → west did not catch up in 300 s"
  echo "  the mirror east → west caught up in $took s" >&2
  for _ in $(seq 300); do
    now=$(($(date +%s%N) / 1000000))
    newest=$(kcat -C -b "$west" -t east.heartbeats -o -1 -e -q -f '%T\n' 2>/dev/null | sort -n | tail -1)
    if [ -n "$newest" ] && [ $((now - newest)) -lt 1500 ]; then ok=$((ok + 1)); else ok=0; fi
    [ $ok -ge 3 ] && return 0
    sleep 1
  done
  die "no fresh heartbeat of east at west in 300 s: $(tail -3 "$1/mm2.log")"
}

# checkpointed WEST GROUP SECONDS: succeeds once east's GROUP has a
# checkpoint at west (the mirror looks for new groups every 5 s here)
checkpointed() {
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt "$deadline" ]; do
    kcat -C -b "$1" -t east.checkpoints.internal -o beginning -e -q -f '%k\n' 2>/dev/null |
      grep -qa "$2" && return 0
    sleep 0.2
  done
  return 1
}

# first_taken_over WEST SERVICE LOST_MS SECONDS: prints the ms from LOST_MS
# to the timestamp of the first result at west with rv-taken-over-from=east,
# once there is one; nothing after SECONDS without
first_taken_over() {
  local deadline=$((SECONDS + $4)) t
  while [ $SECONDS -lt "$deadline" ]; do
    t=$(kcat -C -b "$1" -t "$2.results" -o beginning -e -q -f '%T %h\n' 2>/dev/null |
      awk '/rv-taken-over-from=east/ {print $1}' | sort -n | head -1)
    if [ -n "$t" ]; then echo $((t - $3)); return; fi
    sleep 0.1
  done
}

# paced_load BOOTSTRAP TOPIC RATE ACKED STOP: requests (keys east-0,
# east-1, ...) at RATE a second until the file STOP exists (120 s at most),
# each key acknowledged written to ACKED; sets LOAD_PID
paced_load() {
  $PY - "$@" <<'PY' 2>"$4.err" &
import os, sys, time
from confluent_kafka import Producer
bootstrap, topic, rate, acked, stop = sys.argv[1:6]
rate, out = int(rate), open(acked, "w", buffering=1)
p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all",
              "message.timeout.ms": 3000, "enable.idempotence": True})
def done(err, msg):
    if not err:
        out.write(msg.key().decode() + "\n")
t0, i = time.time(), 0
while not os.path.exists(stop) and time.time() - t0 < 120:
    while i < int((time.time() - t0) * rate):
        p.produce(topic, key=f"east-{i}", value=b'{"x": 1, "y": 1}', callback=done)
        i += 1
    p.poll(0.001)
p.flush(5)
PY
  LOAD_PID=$!
  PIDS+=("$LOAD_PID")
}

# takeover_count MODE WEST SERVICE FIRST_MS SILENT_S: once every request
# mirrored to west has a result there (east's mirrored, or taken over), or
# after 30 s, the round's JSON on stdout; mirrored_unanswered counts those
# without (east's group had committed them, their results were not mirrored)
takeover_count() {
  local west=$2 svc=$3 w=$WORK/$3 deadline=$((SECONDS + 30))
  kcat -C -b "$west" -t "east.$svc.requests" -o beginning -e -q -f '%k\n' 2>/dev/null |
    sort -u >"$w.mirrored"
  while [ $SECONDS -lt $deadline ]; do
    { kcat -C -b "$west" -t "east.$svc.results" -o beginning -e -q -f '%k\n' 2>/dev/null
      kcat -C -b "$west" -t "$svc.results" -o beginning -e -q -f '%k %h\n' 2>/dev/null |
        awk '/rv-taken-over-from=east/ {print $1}' | tee "$w.taken"
    } | sort -u >"$w.answered"
    [ -z "$(comm -23 "$w.mirrored" "$w.answered")" ] && break
    sleep 0.1
  done
  sort -u "$w.acked" >"$w.acked-ids"
  $PY - "$1" "${4:-}" "$5" "$(wc -l <"$w.acked-ids")" "$(wc -l <"$w.mirrored")" \
    "$(comm -23 "$w.acked-ids" "$w.mirrored" | wc -l)" "$(sort -u "$w.taken" | wc -l)" \
    "$(comm -23 "$w.mirrored" "$w.answered" | wc -l)" <<'PY'
import json, sys
mode, first, silent, acked, mirrored, lost, taken, unanswered = sys.argv[1:9]
print(json.dumps({
    "scenario": f"sites-takeover-{mode}", "mode": mode,
    "silent_s": int(silent) if mode == "automatic" else None,
    "first_answer_ms": int(first) if first else None,
    "acked": int(acked), "mirrored": int(mirrored), "never_mirrored": int(lost),
    "taken_over": int(taken), "mirrored_unanswered": int(unanswered)}))
PY
}

# forget PID...: off the list cleanup ends (they are gone: their ids may be
# another process's by then)
forget() {
  local p q keep=()
  for p in "${PIDS[@]}"; do
    for q; do [ "$p" = "$q" ] && continue 2; done
    keep+=("$p")
  done
  PIDS=("${keep[@]}")
}
