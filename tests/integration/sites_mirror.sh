#!/usr/bin/env bash
# Two sites as an operator runs them (scripts/sites.sh): Apache Kafka
# clusters east and west, MirrorMaker 2 both ways. A host at each site
# serves that site's own requests under load; every request gets exactly
# one result, at its own site; the other site's results, scores and decoy
# archive arrive mirrored (east.<topic> in west, west.<topic> in east),
# byte for byte with their provenance headers, readable there with
# `rendezvous archive cat` and rated there with `rendezvous rate`; east's
# live evaluation is on west's /v1/sites and dashboard beside west's own;
# and each site's committed offsets come back translated as MirrorMaker 2
# checkpoints. Needs real clusters: registered as kafka_sites_mirror only.
. "$(dirname "$0")/lib.sh"
[ "${RV_BROKER:-}" = kafka ] || fail "needs RV_BROKER=kafka (two Apache Kafka clusters)"
FX=$RV_FIXTURE_DIR
N=2000 # requests at each site

start_sites geo geo.labels geo.evaluation

write_service geo "$TMP/geo.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so}
  - {name: decoy, builtin: decoy}
rendezvous:
  schedule: [{model: a, within_ms: 2000}]
evaluation: {labels: ["no", "yes"], interval_ms: 200, report_s: 1}
YAML
declare -A HOST PORT
read -r PORT[east] PORT[west] < <(free_ports 2)
for site in east west; do
  other=$([ $site = east ] && echo west || echo east)
  sed "s|^state_dir: .*|state_dir: $TMP/state-$site|" "$TMP/geo.yaml" >"$TMP/geo-$site.yaml"
  printf 'site: {name: %s, peers: [%s]}\nhttp: {listen: "127.0.0.1:%s"}\n' "$site" "$other" \
    "${PORT[$site]}" >>"$TMP/geo-$site.yaml"
  BOOTSTRAP=$([ $site = east ] && echo "$EAST" || echo "$WEST")
  start_host "$TMP/geo-$site.yaml" "$TMP/$site.log"
  HOST[$site]=$HOST_PID
done

# under load at both sites at once, ids naming their site
load_site() { # SITE BOOTSTRAP
  for i in $(seq "$N"); do echo "$1-$i:{\"x\": $i, \"y\": 1}"; done |
    kcat -P -b "$2" -t geo.requests -K: -X linger.ms=5
}
load_site east "$EAST" &
loader=$!
load_site west "$WEST"
wait "$loader"

# BOOTSTRAP TOPIC N: the ids of TOPIC's records once it holds N (60 s)
ids() {
  local n=0
  for _ in $(seq 600); do
    n=$(kcat -C -b "$1" -t "$2" -o beginning -e -q -f '%k\n' 2>/dev/null | grep -c . || true)
    [ "$n" -ge "$3" ] && break
    sleep 0.1
  done
  [ "$n" -ge "$3" ] || fail "$2 at $1 holds $n records, expected $3"
  kcat -C -b "$1" -t "$2" -o beginning -e -q -f '%k\n' 2>/dev/null | sort
}
for site in east west; do
  b=$([ $site = east ] && echo "$EAST" || echo "$WEST")
  other=$([ $site = east ] && echo west || echo east)
  ob=$([ $site = east ] && echo "$WEST" || echo "$EAST")
  ids "$b" geo.results "$N" >"$TMP/$site.results"
  [ "$(uniq -d "$TMP/$site.results" | wc -l)" -eq 0 ] || fail "$site answered a request twice"
  [ "$(grep -vc "^$site-" "$TMP/$site.results")" -eq 0 ] || fail "$site answered another site's request"
  # mirrored: the same records, at the other site, under the site's prefix
  bash "$SITES" wait-topic "$SDIR" "$other" "$site.geo.results" 60
  ids "$ob" "$site.geo.results" "$N" >"$TMP/$site.mirrored"
  cmp -s "$TMP/$site.results" "$TMP/$site.mirrored" || fail "$site's results mirrored to $other differ"
  kcat -C -b "$b" -t geo.results -o beginning -e -q -f '%k %s\n' 2>/dev/null | sort >"$TMP/a"
  kcat -C -b "$ob" -t "$site.geo.results" -o beginning -e -q -f '%k %s\n' 2>/dev/null | sort >"$TMP/b"
  cmp -s "$TMP/a" "$TMP/b" || fail "$site's results are not byte for byte the same mirrored"
  n=$(kcat -C -b "$ob" -t "$site.geo.results" -o beginning -e -q -f '%h\n' 2>/dev/null |
    grep -c "rv-site=$site" || true)
  [ "$n" -eq "$N" ] || fail "$n of $site's $N results mirrored to $other say rv-site=$site"
done
pass "under load at both sites ($N requests each, MirrorMaker 2 both ways): every request one result at its own site, none twice; each site's results at the other, byte for byte"

# the other site's decoy archive, read where it was mirrored to
bash "$SITES" wait-topic "$SDIR" west east.geo.archive 60
for _ in $(seq 300); do
  n=$("$RV_BIN" archive cat --topic east.geo.archive -b "$WEST" 2>/dev/null | grep -c '"id"' || true)
  [ "$n" -ge "$N" ] && break
  sleep 0.2
done
"$RV_BIN" archive cat --topic east.geo.archive -b "$WEST" >"$TMP/east-archive.jsonl" 2>"$TMP/cat.err" ||
  fail "archive cat of the mirrored archive: $(tail -3 "$TMP/cat.err")"
$PY - "$TMP/east-archive.jsonl" "$N" <<'PY' || fail "the mirrored archive is not east's requests"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ids = sorted(r["id"] for r in recs)
n = int(sys.argv[2])
assert len(ids) == n and len(set(ids)) == n and all(i.startswith("east-") for i in ids), (len(ids), ids[:3])
assert all(r["topic"] == "geo.requests" and r["key"] == r["id"] for r in recs), recs[0]
assert all(r.get("site") == "east" and "rv-site" not in r["headers"] for r in recs), recs[0]
PY
"$RV_BIN" rate -c "$TMP/geo-west.yaml" --topic east.geo.archive -b "$WEST" --json \
  >"$TMP/rate.json" 2>"$TMP/rate.err" || fail "rate of the mirrored archive: $(tail -3 "$TMP/rate.err")"
$PY - "$TMP/rate.json" "$N" <<'PY' || fail "the mirrored archive's rating: $(head -c 300 "$TMP/rate.json")"
import json, sys
r, n = json.load(open(sys.argv[1])), int(sys.argv[2])
assert r["requests"] == n, r["requests"]
a = {m["name"]: m for m in r["models"]}["a"]
assert a["ok"] == n and a["error"] == 0, a
PY
pass "east's decoy archive read at west with rendezvous archive cat --topic east.geo.archive ($N requests, their provenance says geo.requests at site east) and rated there with rendezvous rate --topic east.geo.archive"

# east's live evaluation, mirrored, on west's /v1/sites and dashboard
for site in east west; do
  for i in $(seq "$N"); do echo "$site-$i:{\"id\": \"$site-$i\", \"label\": \"$([ $((i % 3)) = 0 ] && echo no || echo yes)\"}"; done |
    kcat -P -b "$([ $site = east ] && echo "$EAST" || echo "$WEST")" -t geo.labels -K:
done
served_count() { # BOOTSTRAP-SITE: east's served answers joined, as SITE sees them
  curl -s "http://127.0.0.1:${PORT[$1]}/v1/sites" | $PY -c '
import json, sys
st = json.load(sys.stdin)
print(max([f["count"] for p in st["peers"] if p["site"] == "east"
           for f in p["evaluation"] if f["source"] == "served" and f["window"] == "start"], default=0))' 2>/dev/null
}
# every label joined at east (a request its model answered in time counts
# in the figures; one shed under a burst on a busy machine does not), and
# west's mirrored view of east's figures the same as east's own
east_served() { # joined labels, and the served answers in the figures
  curl -s "http://127.0.0.1:${PORT[east]}/v1/evaluation" | $PY -c '
import json, sys
e = json.load(sys.stdin)
print(e["counts"]["joined"], [f["count"] for f in e["figures"] if f["source"] == "served"
      and f["window"] == "start" and f.get("schedule_version") is None][0])' 2>/dev/null
}
joined=0 own=0 seen=0
for _ in $(seq 600); do
  read -r joined own < <(east_served || echo 0 0)
  seen=$(served_count west)
  [ "${joined:-0}" -eq "$N" ] && [ "${own:-0}" -gt 0 ] && [ "${seen:-0}" -eq "$own" ] && break
  sleep 0.1
done
[ "${joined:-0}" -eq "$N" ] && [ "${own:-0}" -ge $((N / 2)) ] && [ "${seen:-0}" -eq "$own" ] || {
  curl -s "http://127.0.0.1:${PORT[east]}/v1/evaluation" >"$TMP/east-evaluation.json"
  fail "east's served answers joined: $joined labels joined, $own served answers in east's figures, $seen as west sees them through the mirror (expected $N labels, the same count at both); east's evaluation: $(head -c 1500 "$TMP/east-evaluation.json")"
}
curl -s "http://127.0.0.1:${PORT[west]}/v1/sites" >"$TMP/sites.json"
$PY - "$TMP/sites.json" <<'PY' || fail "west's /v1/sites: $(head -c 400 "$TMP/sites.json")"
import json, sys
st = json.load(open(sys.argv[1]))
assert st["site"] == "west" and st["taking_over"] is None, st
(p,) = st["peers"]
assert p["site"] == "east" and 0 <= p["heartbeat_age_s"] < 5 and 0 <= p["mirror_lag_s"] < 30, p
assert {f["source"] for f in p["evaluation"]} >= {"a", "served"}, p["evaluation"]
PY
timeout 90 chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=3000 --dump-dom \
  "http://127.0.0.1:${PORT[west]}/" >"$TMP/dom.html" 2>"$TMP/chromium.err" ||
  fail "chromium: $(tail -3 "$TMP/chromium.err")"
grep -q '<section class="wide" id="sites">' "$TMP/dom.html" || fail "the sites panel is hidden on west's dashboard"
for site in east west; do
  grep -q "<tr data-site=\"$site\" data-source=\"served\">" "$TMP/dom.html" ||
    fail "no row of $site's served answers on west's dashboard: $(grep -o '<tr data-site[^>]*>' "$TMP/dom.html" | head -5)"
done
ready=$(curl -s "http://127.0.0.1:${PORT[west]}/readyz")
assert_contains "$ready" "site west: serving its own requests" "west's /readyz"
assert_contains "$ready" "peer east: last heartbeat" "west's /readyz"
pass "east's live evaluation through the mirror: $N labels joined, $seen served answers in its figures, as east counts them, on west's /v1/sites and on its dashboard beside west's own; west's /readyz names its site and east's heartbeats"

# each host's committed offsets come back as checkpoints at the other site
for site in east west; do
  other=$([ $site = east ] && echo west || echo east)
  ob=$([ $site = east ] && echo "$WEST" || echo "$EAST")
  bash "$SITES" wait-topic "$SDIR" "$other" "$site.checkpoints.internal" 60
  for _ in $(seq 300); do
    kcat -C -b "$ob" -t "$site.checkpoints.internal" -o beginning -e -q -f '%k\n' 2>/dev/null |
      grep -qa 'geo.requests' && break
    sleep 0.2
  done
  kcat -C -b "$ob" -t "$site.checkpoints.internal" -o beginning -e -q -f '%k\n' 2>/dev/null |
    grep -qa 'geo.requests' || fail "no checkpoint of $site's group for geo.requests at $other"
done
pass "each site's consumer group is checkpointed at the other (<site>.checkpoints.internal)"

# each host sees the other site through the mirror on /metrics; with the
# mirror stopped, the other's heartbeats age
metric() { # SITE NAME: the value of NAME{from="<other site>"} on SITE's /metrics
  local other
  other=$([ "$1" = east ] && echo west || echo east)
  curl -s "http://127.0.0.1:${PORT[$1]}/metrics" |
    sed -n "s/^$2{from=\"$other\"} //p"
}
for site in east west; do
  lag=$(metric $site rendezvous_site_mirror_lag_seconds)
  age=$(metric $site rendezvous_site_heartbeat_age_seconds)
  $PY -c "import sys; l, a = float(sys.argv[1]), float(sys.argv[2]); sys.exit(not (0 <= l < 30 and 0 <= a < 5))" \
    "${lag:-x}" "${age:-x}" 2>/dev/null || fail "$site's /metrics: mirror lag '$lag', heartbeat age '$age'"
done
bash "$SITES" mirror stop "$SDIR"
sleep 4
for site in east west; do
  age=$(metric $site rendezvous_site_heartbeat_age_seconds)
  $PY -c "import sys; sys.exit(not float(sys.argv[1]) >= 3.5)" "${age:-0}" ||
    fail "$site's /metrics: heartbeat age $age 4 s after the mirror stopped"
done
pass "/metrics at each site: the mirror's lag from the other ($lag s at west) and its heartbeats' age, which grows with the mirror stopped"

for site in east west; do
  kill -TERM "${HOST[$site]}"
  wait "${HOST[$site]}" || fail "the $site host exited non-zero on SIGTERM: $(tail -3 "$TMP/$site.log")"
done
pass "both hosts stopped cleanly"
