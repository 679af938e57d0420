#!/usr/bin/env bash
# Split brain (docs/sites.md): both sites up, the mirror between them down,
# and an operator who takes east for lost starts `rendezvous takeover --from
# east` at west by hand. It is ready within seconds (its /readyz and
# /metrics say it serves east's requests) and answers nothing east answered
# before the mirror went down. East goes on serving. Once the mirror is
# back, the requests east answered while it was down reach west, some
# before their results: those are answered at both sites. Harmless: each
# such pair has the same id, model, version and answers, so a reader that
# keeps one result per id (as at-least-once readers do) sees one answer;
# their number is said. Needs real clusters: registered as
# kafka_sites_split_brain only.
. "$(dirname "$0")/lib.sh"
[ "${RV_BROKER:-}" = kafka ] || fail "needs RV_BROKER=kafka (two Apache Kafka clusters)"
N=1000 # requests at east before the mirror goes down, and as many after

start_sites geo
bash "$SITES" wait-topic "$SDIR" west east.geo.requests 60
site_configs geo
BOOTSTRAP=$EAST start_host "$TMP/geo-east.yaml" "$TMP/east.log"
EAST_HOST=$HOST_PID

load_east() { # FROM TO
  for i in $(seq "$1" "$2"); do echo "east-$i:{\"x\": $i, \"y\": 1}"; done |
    kcat -P -b "$EAST" -t geo.requests -K: -X linger.ms=5
}
count() { # BOOTSTRAP TOPIC [HEADER]: records of TOPIC (with HEADER)
  kcat -C -b "$1" -t "$2" -o beginning -e -q -f '%h\n' 2>/dev/null | grep -c -- "${3:-}" || true
}
until_count() { # BOOTSTRAP TOPIC N
  local n=0
  for _ in $(seq 600); do
    n=$(count "$1" "$2")
    [ "$n" -ge "$3" ] && return 0
    sleep 0.1
  done
  fail "$2 holds $n records, expected $3"
}
load_east 1 "$N"
until_count "$WEST" east.geo.results "$N"

# the mirror goes down; east serves on
bash "$SITES" mirror stop "$SDIR"
load_east $((N + 1)) $((2 * N))
until_count "$EAST" geo.results $((2 * N))

# an operator takes east for lost
read -r PORT < <(free_ports 1)
T0=$(date +%s%N)
"$RV_BIN" takeover -c "$TMP/geo-west.yaml" --from east -b "$WEST" --http "127.0.0.1:$PORT" \
  >/dev/null 2>"$TMP/takeover.log" &
TAKEOVER=$!
echo "$TAKEOVER" >>"$TMP/pids"
ready_ms=""
for _ in $(seq 600); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ]; then
    ready_ms=$((($(date +%s%N) - T0) / 1000000))
    break
  fi
  sleep 0.1
done
[ -n "$ready_ms" ] || fail "the takeover not ready in 60 s: $(grep -v '^%' "$TMP/takeover.log" | tail -3)"
ready=$(curl -s "http://127.0.0.1:$PORT/readyz")
assert_contains "$ready" "site west: serving site east's requests (taken over: east.geo.requests" \
  "the takeover's /readyz"
curl -s "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics"
grep -q '^rendezvous_site_taking_over{from="east"} 1$' "$TMP/metrics" ||
  fail "the takeover's /metrics: $(grep rendezvous_site "$TMP/metrics")"
grep -q "taking over east's requests" "$TMP/takeover.log" || fail "the takeover's log does not say it"
code=$(curl -s -o "$TMP/post" -w '%{http_code}' -X POST -d '{"x": 1, "y": 1}' \
  "http://127.0.0.1:$PORT/v1/score")
[ "$code" = 404 ] && grep -q "a takeover answers no requests" "$TMP/post" ||
  fail "POST /v1/score to a takeover: $code $(cat "$TMP/post")"
sleep 3
taken=$(count "$WEST" geo.results 'rv-taken-over-from=east')
[ "$taken" -eq 0 ] || fail "the takeover answered $taken request(s) east had answered before the split"
pass "split brain (mirror down, both sites up): a manual takeover at west ready in $ready_ms ms, its /readyz, /metrics and log say it serves east's requests, POST /v1/score is not its; none of the $N east answered before the split answered again"

# the mirror is back: what east answered meanwhile reaches west
bash "$SITES" mirror start "$SDIR"
results() { # BOOTSTRAP TOPIC [HEADER]: "key value" lines
  kcat -C -b "$1" -t "$2" -o beginning -e -q -f '%k\t%h\t%s\n' 2>/dev/null |
    { if [ -n "${3:-}" ]; then grep -- "$3" || true; else cat; fi; } | cut -f1,3 | sort
}
for _ in $(seq 900); do
  results "$WEST" east.geo.results >"$TMP/east-answered"
  results "$WEST" geo.results 'rv-taken-over-from=east' >"$TMP/taken"
  [ "$(cut -f1 "$TMP/east-answered" | sort -u | wc -l)" -ge $((2 * N)) ] && break
  sleep 0.1
done
sleep 3 # what the takeover still had in hand
results "$WEST" geo.results 'rv-taken-over-from=east' >"$TMP/taken"
results "$EAST" geo.results >"$TMP/east-own"
$PY - "$TMP/east-own" "$TMP/east-answered" "$TMP/taken" $((2 * N)) <<'PY' >"$TMP/verdict" ||
import json, sys
def load(p):
    out = {}
    for line in open(p):
        k, v = line.rstrip("\n").split("\t", 1)
        out.setdefault(k, []).append(json.loads(v))
    return out
own, mirrored, taken, n = load(sys.argv[1]), load(sys.argv[2]), load(sys.argv[3]), int(sys.argv[4])
assert len(own) == n and all(len(v) == 1 for v in own.values()), "east answered each once"
assert len(mirrored) == n, f"{len(mirrored)} of east's {n} results mirrored to west"
assert all(len(v) == 1 for v in taken.values()), "the takeover answered a request twice"
both = sorted(set(taken) & set(own))
assert all(int(k.split("-")[1]) > n // 2 for k in both), "answered twice from before the split"
key = lambda r: (r["id"], r["model"], r["version"], json.dumps(r["answers"], sort_keys=True))
differ = [k for k in both if key(taken[k][0]) != key(own[k][0])]
assert not differ, f"answers differ for {differ[:3]}"
print(len(both), len(taken))
PY
  fail "after the mirror resumed: $(cat "$TMP/verdict")"
read -r twice taken <"$TMP/verdict"
kill -TERM "$TAKEOVER"
wait "$TAKEOVER" || fail "the takeover exited non-zero on SIGTERM: $(tail -3 "$TMP/takeover.log")"
stop_host
pass "the mirror back: east answered all $((2 * N)) once; west's takeover answered $taken of those east answered during the split, $twice of them at both sites with the same id, model, version and answers (a reader keeping one result per id sees one answer)"
