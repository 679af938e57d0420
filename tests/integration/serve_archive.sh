#!/usr/bin/env bash
# The decoy's segment files over a run longer than they may hold: with
# archive.max_mb the oldest whole segments are deleted while the host
# serves (counted in /metrics, logged), and what remains is what it wrote
# last, read by `archive cat` and put back by `archive replay`.
# On a full disk (a 256 KiB tmpfs; skipped, saying so, where mount is not
# permitted) every request is still answered and on the archive stream;
# the records the files miss are counted, logged and alerted, and once
# there is room again the files take records again, with a clear alert,
# and hold no torn record.
. "$(dirname "$0")/lib.sh"
FX=$RV_FIXTURE_DIR

start_broker $(service_topics ret) ret.replayed $(service_topics full)

# The full disk is mounted here, not in its case (a subshell's exit runs no
# cleanup hook), and unmounted lazily before the scratch dir goes: a case
# that failed leaves its host (killed after the hooks) holding files on it.
FULL=
mkdir "$TMP/full"
if mount -t tmpfs -o size=256k,mode=0755 tmpfs "$TMP/full" 2>"$TMP/mount.err"; then
  FULL=$TMP/full
  cleanup_hooks+=("umount -l '$TMP/full'")
fi

# service NAME ARCHIVE_DIR PORT [MORE]: a config of the ok fixture and the
# decoy writing 64 KiB segments into ARCHIVE_DIR, /metrics on PORT.
service() {
  cat >"$TMP/$1.yaml" <<YAML
service: $1
state_dir: $TMP/state-$1
streams: {brokers: embedded}
input: {features: [x, y]}
models:
  - {name: a, plugin: $FX/ok.so}
  - {name: decoy, builtin: decoy, params: {dir: $2, segment_bytes: 65536}}
rendezvous:
  schedule: [{model: a, within_ms: 500}]
http: {listen: "127.0.0.1:$3"}
${4:-}
YAML
}

# send NAME FROM TO: requests NAME-FROM..NAME-TO, each about 700 bytes.
send() {
  $PY - "$1" "$2" "$3" <<'PY' | kcat -P -b "$BOOTSTRAP" -t "$1.requests" -K: -X linger.ms=5
import sys
name, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pad = "p" * 600
for i in range(first, last + 1):
    print(f'{name}-{i}:{{"x": {i % 7}, "y": 1, "pad": "{pad}"}}')
PY
}

# metric PORT NAME: an unlabelled metric's value
metric() {
  curl -sf "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n {print $2}'
}

case_retention() {
  local port
  port=$(free_ports 1)
  service ret "$TMP/ret-archive" "$port" "archive: {max_mb: 1}"
  start_host "$TMP/ret.yaml" "$TMP/ret.log"
  send ret 1 4000 # ~3 MB of records: about 48 segments, room for 16
  wait_count ret.results 4000 60
  wait_count ret.archive 4000
  local bytes deleted
  bytes=$(cat "$TMP"/ret-archive/*.rva | wc -c)
  ((bytes <= 1048576 + 65536)) || fail "the segments hold $bytes bytes, over 1 MiB and a segment"
  deleted=$(metric "$port" rendezvous_archive_segments_deleted_total)
  ((deleted >= 20)) || fail "rendezvous_archive_segments_deleted_total is '$deleted'"
  (($(metric "$port" rendezvous_archive_deleted_bytes_total) > 20 * 60000)) ||
    fail "rendezvous_archive_deleted_bytes_total: $(metric "$port" rendezvous_archive_deleted_bytes_total)"
  grep -q "ret-archive: deleted the oldest .*over the size bound" "$TMP/ret.log" ||
    fail "retention is not logged: $(tail -5 "$TMP/ret.log")"
  stop_host
  "$RV_BIN" archive cat "$TMP/ret-archive" >"$TMP/ret.cat" 2>"$TMP/ret.cat.err" ||
    fail "archive cat: $(cat "$TMP/ret.cat.err")"
  # what remains is what the decoy wrote last: of each partition in it, its
  # newest requests without a hole (one read early as a whole may be gone)
  "$RV_BIN" archive cat --topic ret.archive -b "$BOOTSTRAP" >"$TMP/ret.topic" ||
    fail "archive cat --topic"
  $PY - "$TMP/ret.cat" "$TMP/ret.topic" <<'PY' || fail "the files left are not the tail of every partition"
import collections, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert 1000 <= len(recs) < 4000, len(recs)
ids = [r["id"] for r in recs]
assert len(set(ids)) == len(ids), "a request twice"
last = collections.Counter()
for l in open(sys.argv[2]):
    r = json.loads(l)
    last[r["partition"]] = max(last[r["partition"]], r["offset"])
by = collections.defaultdict(list)
for r in recs:
    by[r["partition"]].append(r["offset"])
assert by and set(by) <= set(last), (by.keys(), last)
for p, offs in by.items():
    assert offs == list(range(offs[0], last[p] + 1)), f"partition {p}: not its newest"
PY
  local n
  n=$(wc -l <"$TMP/ret.cat")
  "$RV_BIN" archive replay "$TMP/ret-archive" --to ret.replayed -b "$BOOTSTRAP" \
    2>"$TMP/ret.replay.err" || fail "archive replay: $(cat "$TMP/ret.replay.err")"
  assert_contains "$(cat "$TMP/ret.replay.err")" "$n record(s) put on ret.replayed, 0 failed" \
    "replay of what remains"
  pass "retention: 4000 requests of ~700 bytes kept under archive.max_mb 1 ($bytes bytes, $deleted oldest segments deleted, counted and logged); the $n left, the newest, read and replayed"
}

case_disk_full() {
  if [ -z "$FULL" ]; then
    echo "ok - SKIP disk full: cannot mount a tmpfs here ($(cat "$TMP/mount.err")); it needs root"
    return 0
  fi
  local port
  port=$(free_ports 1)
  service full "$FULL/archive" "$port"
  start_host "$TMP/full.yaml" "$TMP/full.log"
  send full 1 1000 # ~750 KB for 256 KiB
  wait_count full.results 1000 60
  wait_count full.archive 1000
  check_exactly_once full 1000 || fail "a request lost or answered twice while the disk was full"
  local failures
  failures=$(metric "$port" rendezvous_archive_write_failures_total)
  ((failures > 500)) || fail "rendezvous_archive_write_failures_total is '$failures'"
  [ "$(metric "$port" rendezvous_archive_failing)" = 1 ] || fail "rendezvous_archive_failing is not 1"
  grep -q "No space left on device; requests are still served" "$TMP/full.log" ||
    fail "the full disk is not logged: $(tail -5 "$TMP/full.log")"
  consume full.alerts >"$TMP/full.alerts"
  [ "$(grep -c '"type":"alert","check":"archive_write"' "$TMP/full.alerts")" = 1 ] ||
    fail "expected one archive_write alert: $(cat "$TMP/full.alerts")"
  grep -q 'No space left on device' "$TMP/full.alerts" || fail "the alert has no reason"
  # room again: every segment but the one being written goes
  ls "$FULL"/archive/*.rva | head -n -1 | xargs rm -f
  send full 1001 1010
  wait_count full.results 1010
  local until=$((SECONDS + 30))
  until consume full.alerts | grep -q '"type":"clear","check":"archive_write"'; do
    ((SECONDS < until)) || fail "no clear alert after the disk had room again"
    sleep 0.2
  done
  [ "$(metric "$port" rendezvous_archive_failing)" = 0 ] || fail "rendezvous_archive_failing is not 0"
  stop_host
  "$RV_BIN" archive cat "$FULL/archive" >"$TMP/full.cat" 2>"$TMP/full.cat.err" ||
    fail "archive cat after the full disk: $(cat "$TMP/full.cat.err")"
  for i in $(seq 1001 1010); do
    grep -q "\"id\":\"full-$i\"" "$TMP/full.cat" || fail "full-$i is not in the files"
  done
  pass "disk full: 1000 requests answered once each and on the archive stream, $failures records the files missed counted, logged, alerted once; with room again cleared and written, no torn record"
}

run_parallel case_retention case_disk_full
