#!/usr/bin/env bash
# What the host writes besides results, checked from outside with Kafka
# clients: the decoy's archive (topic and segment files) holds every request
# byte for byte and replays it as it was; malformed requests go to dead-letter with their reason and original
# bytes while every other request still gets its result; and a partition
# mismatch stops the start with a clear message.
. "$(dirname "$0")/lib.sh"
FX=$RV_FIXTURE_DIR

start_broker $(service_topics arch) arch.replayed $(service_topics bad) $(service_topics exp) \
  $(service_topics burst)

# Reads every record of topic $2 from $1 with a Kafka client of its own and
# prints them as Python reprs of (key, headers, value): bytes exactly.
raw_records() {
  $PY - "$BOOTSTRAP" "$1" <<'PY'
import sys, uuid
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": str(uuid.uuid4()),
              "enable.auto.commit": False})
md = c.list_topics(sys.argv[2], timeout=10).topics[sys.argv[2]]
parts = []
for p in md.partitions:
    lo, hi = c.get_watermark_offsets(TopicPartition(sys.argv[2], p), timeout=10)
    if hi > lo:
        parts.append((p, lo, hi))
c.assign([TopicPartition(sys.argv[2], p, lo) for p, lo, _ in parts])
left = sum(hi - lo for _, lo, hi in parts)
while left > 0:
    m = c.poll(10)
    assert m is not None, f"{left} records of {sys.argv[2]} never came"
    if m.error():
        continue
    print(repr((m.key(), m.headers() or [], m.value())))
    left -= 1
c.close()
PY
}

case_archive() {
  write_service arch "$TMP/arch.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so}
  - {name: decoy, builtin: decoy, params: {dir: $TMP/archive, segment_bytes: 8192}}
rendezvous:
  schedule: [{model: a, within_ms: 500}]
YAML
  start_host "$TMP/arch.yaml" "$TMP/arch.log"
  # Keys, headers, unicode, escapes, and bodies that are not UTF-8.
  mkdir "$TMP/msgs"
  for i in $(seq 40); do printf '{"x": %d, "note": "caf\xc3\xa9 \\"q\\" \\n"}' "$i" >"$TMP/msgs/$i"; done
  for i in $(seq 41 50); do printf '{"x": %d, "raw": "\xff\xfe"}' "$i" >"$TMP/msgs/$i"; done
  for i in $(seq 50); do
    kcat -P -b "$BOOTSTRAP" -t arch.requests -k "key-$i" -H "trace=t$i" -H "rv-id=id-$i" \
      "$TMP/msgs/$i"
  done
  wait_count arch.results 50
  wait_count arch.archive 50
  stop_host
  # The topic holds the exact copy: key, value and headers as produced, then
  # the provenance headers.
  raw_records arch.archive >"$TMP/archive.raw"
  $PY - "$TMP/msgs" "$TMP/archive.raw" <<'PY' || fail "the archive topic is not the exact copy"
import ast, os, sys
recs = [ast.literal_eval(l) for l in open(sys.argv[2])]
assert len(recs) == 50, len(recs)
seen = set()
for key, headers, value in recs:
    n = key.decode().split("-")[1]
    assert value == open(os.path.join(sys.argv[1], n), "rb").read(), f"value of {key}"
    names = [h for h, _ in headers]
    assert names == ["trace", "rv-id", "rv-id", "rv-topic", "rv-partition", "rv-offset",
                     "rv-timestamp"], names
    h = dict(headers)
    assert h["trace"] == f"t{n}".encode() and h["rv-id"] == f"id-{n}".encode(), headers
    assert h["rv-topic"] == b"arch.requests" and int(h["rv-offset"]) >= 0, headers
    assert int(h["rv-timestamp"]) > 0 and 0 <= int(h["rv-partition"]) < 4, headers
    seen.add(n)
assert len(seen) == 50
PY
  "$RV_BIN" archive cat --topic arch.archive -b "$BOOTSTRAP" >"$TMP/archive.topic" ||
    fail "archive cat --topic"
  "$RV_BIN" archive cat "$TMP/archive" >"$TMP/archive.files" || fail "archive cat"
  ls "$TMP/archive" | grep -c '\.rva$' | grep -qv '^1$' || fail "segments did not rotate"
  $PY - "$TMP/msgs" "$TMP/archive.topic" "$TMP/archive.files" <<'PY'
import base64, json, os, sys
msgs, sources = sys.argv[1], sys.argv[2:]
want = {f"id-{i}": open(os.path.join(msgs, str(i)), "rb").read() for i in range(1, 51)}
for src in sources:
    recs = [json.loads(l) for l in open(src, encoding="utf-8")]
    assert len(recs) == 50, f"{src}: {len(recs)} records"
    seen = set()
    for r in recs:
        body = base64.b64decode(r["body_b64"]) if "body_b64" in r else r["body"].encode("utf-8")
        assert body == want[r["id"]], f"{src}: body of {r['id']} differs"
        n = r["id"].split("-")[1]
        assert r["key"] == f"key-{n}", r
        assert r["headers"]["trace"] == f"t{n}", r
        assert r["topic"] == "arch.requests" and r["offset"] >= 0 and r["timestamp_ms"] > 0, r
        seen.add(r["id"])
    assert seen == set(want), f"{src}: ids differ"
    assert sum("body_b64" in r for r in recs) == 10, "non-UTF-8 bodies must be base64"
PY
  # Replay from the segment files: key, value and the request's own headers
  # as they were, no provenance.
  "$RV_BIN" archive replay "$TMP/archive" --to arch.replayed -b "$BOOTSTRAP" 2>"$TMP/replay.err" ||
    fail "archive replay: $(cat "$TMP/replay.err")"
  assert_contains "$(cat "$TMP/replay.err")" "50 record(s) put on arch.replayed, 0 failed" "replay"
  raw_records arch.replayed >"$TMP/replayed.raw"
  $PY - "$TMP/msgs" "$TMP/replayed.raw" <<'PY' || fail "replayed records differ from the requests"
import ast, os, sys
recs = [ast.literal_eval(l) for l in open(sys.argv[2])]
assert len(recs) == 50, len(recs)
for key, headers, value in recs:
    n = key.decode().split("-")[1]
    assert value == open(os.path.join(sys.argv[1], n), "rb").read(), f"value of {key}"
    assert headers == [("trace", f"t{n}".encode()), ("rv-id", f"id-{n}".encode())], headers
PY
  # Replay from the topic onto the requests: the host answers them again,
  # under the same ids.
  start_host "$TMP/arch.yaml" "$TMP/arch2.log"
  "$RV_BIN" archive replay --topic arch.archive --to arch.requests -b "$BOOTSTRAP" \
    2>"$TMP/replay2.err" || fail "archive replay --topic: $(cat "$TMP/replay2.err")"
  wait_count arch.results 100
  stop_host
  consume arch.results | $PY -c '
import collections, json, sys
ids = collections.Counter(json.loads(l)["id"] for l in sys.stdin)
assert len(ids) == 50 and set(ids.values()) == {2}, ids
' || fail "replayed requests were not answered once more under their ids"
  pass "archive: 50 requests byte for byte in the topic and in rotated segment files, replayed as they were"
}

case_dead_letter() {
  write_service bad "$TMP/bad.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so}
rendezvous:
  schedule: [{model: a, within_ms: 500}]
YAML
  start_host "$TMP/bad.yaml" "$TMP/bad.log"
  mkdir "$TMP/bad"
  printf 'not json' >"$TMP/bad/1"
  printf '{"x": "twelve"}' >"$TMP/bad/2"
  head -c 300 /dev/zero | tr '\0' ' ' | sed 's/^/{"x": 1,/; s/$/}/' >"$TMP/bad/3"
  printf '[1, 2]' >"$TMP/bad/5"
  for i in 1 2 3 5; do kcat -P -b "$BOOTSTRAP" -t bad.requests -k "bad-$i" "$TMP/bad/$i"; done
  echo "bad-4:" | kcat -P -b "$BOOTSTRAP" -t bad.requests -K: # an empty message
  # ids past input.max_id_bytes (256): an rv-id header, and a key
  long=$(head -c 300 /dev/zero | tr '\0' 'i')
  printf '{"x": 6}' >"$TMP/bad/6"
  kcat -P -b "$BOOTSTRAP" -t bad.requests -k "bad-6" -H "rv-id=$long" "$TMP/bad/6"
  printf '{"x": 7}' >"$TMP/bad/7"
  kcat -P -b "$BOOTSTRAP" -t bad.requests -k "bad-7$long" "$TMP/bad/7"
  for i in $(seq 20); do echo "good-$i:{\"x\": $i, \"y\": 2}"; done |
    kcat -P -b "$BOOTSTRAP" -t bad.requests -K:
  wait_count bad.results 20
  wait_count bad.dead-letter 7
  sleep 0.5
  stop_host
  [ "$(consume bad.results | wc -l)" -eq 20 ] || fail "expected exactly 20 results"
  consume bad.results | grep -c '"id":"good-' | grep -q '^20$' || fail "results are not the good ones"
  kcat -C -b "$BOOTSTRAP" -t bad.dead-letter -o beginning -e -q \
    -f '%k|%h|%S\n' >"$TMP/dl" 2>/dev/null
  [ "$(wc -l <"$TMP/dl")" -eq 7 ] || fail "expected 7 dead letters: $(cat "$TMP/dl")"
  for want in "bad-1|.*rv-error=body is not valid JSON" \
              "bad-2|.*rv-error=feature 'x' is a string, expected a number" \
              "bad-3|.*rv-error=body of 30[0-9] bytes exceeds input.max_body_bytes (256)" \
              "bad-4|.*rv-error=empty body" \
              "bad-5|.*rv-error=body is a JSON array, expected an object" \
              "bad-6|.*rv-error=request id of 300 bytes exceeds input.max_id_bytes (256)" \
              "bad-7i*|.*rv-error=request id of 305 bytes exceeds input.max_id_bytes (256)"; do
    grep -q "^$want" "$TMP/dl" || fail "dead-letter lacks /$want/: $(cat "$TMP/dl")"
  done
  # the original bytes, untouched: sizes match what was produced
  for i in 1 2 3 5; do
    size=$(stat -c %s "$TMP/bad/$i")
    grep "^bad-$i|" "$TMP/dl" | grep -q "|$size\$" || fail "dead letter bad-$i is not $size bytes"
  done
  grep -q "rv-source-topic=bad.requests" "$TMP/dl" || fail "dead letters do not name their source"
  pass "dead-letter: 7 malformed requests (bodies, overlong ids) with reasons and original bytes, 20 good ones answered"
}

# input.max_age_ms: a backlog (Kafka timestamps two minutes old) gets the
# default answer at once, reason expired, archived by the decoy and scored
# by no model; fresh requests beside it are scored as usual.
case_expired() {
  write_service exp "$TMP/exp.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so}
  - {name: decoy, builtin: decoy}
rendezvous:
  schedule: [{model: a, within_ms: 500}]
  default: {label: review, score: 0.5}
YAML
  sed -i 's/^input: {features: \[x, y\], max_body_bytes: 256}/input: {features: [x, y], max_body_bytes: 256, max_age_ms: 60000}/' "$TMP/exp.yaml"
  grep -q "max_age_ms: 60000" "$TMP/exp.yaml" || fail "config not written"
  start_host "$TMP/exp.yaml" "$TMP/exp.log"
  $PY - "$BOOTSTRAP" <<'PY'
import sys, time
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1]})
now = int(time.time() * 1000)
for i in range(5):
    p.produce("exp.requests", key=f"old-{i}", value=b'{"x": 1}', timestamp=now - 120000)
    p.produce("exp.requests", key=f"new-{i}", value=b'{"x": 1}', timestamp=now)
assert p.flush(10) == 0
PY
  wait_count exp.results 10
  wait_count exp.archive 10
  sleep 0.5
  stop_host
  consume exp.results >"$TMP/exp.results"
  consume exp.scores >"$TMP/exp.scores"
  $PY - "$TMP/exp.results" "$TMP/exp.scores" <<'PY' || fail "expired requests: $(cat "$TMP/exp.results")"
import json, sys
res = {r["id"]: r for r in map(json.loads, open(sys.argv[1]))}
assert len(res) == 10, len(res)
for i in range(5):
    old, new = res[f"old-{i}"], res[f"new-{i}"]
    assert old["reason"] == "expired" and old["answers"] == [{"label": "review", "score": 0.5}], old
    assert old["models"]["a"]["status"] == "expired", old
    assert new["reason"] == "preferred", new
scored = {json.loads(l)["id"] for l in open(sys.argv[2])}
assert scored == {f"new-{i}" for i in range(5)}, scored
PY
  grep -q "expired 5," "$TMP/exp.log" || fail "summary does not count them: $(grep summary "$TMP/exp.log")"
  pass "max_age_ms: 5 two-minute-old requests answered expired with the default, archived, not scored; 5 fresh ones scored"
}

# A burst far larger than the decoy's queue: every request is archived all
# the same (the decoy's queue grows; it used to shed, leaving holes in the
# archive whenever the decoy fell behind, as after a rewind under load).
case_burst() {
  write_service burst "$TMP/burst.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so}
  - {name: decoy, builtin: decoy, queue_size: 2, max_batch: 1}
rendezvous:
  schedule: [{model: a, within_ms: 2000}]
YAML
  $PY - "$BOOTSTRAP" <<'PY'
import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "linger.ms": 20})
for i in range(3000):
    p.produce("burst.requests", key=f"b-{i}", value=f'{{"x": {i}, "y": 2}}')
assert p.flush(30) == 0
PY
  start_host "$TMP/burst.yaml" "$TMP/burst.log"
  wait_count burst.results 3000
  wait_count burst.archive 3000
  stop_host
  consume burst.archive | sort | uniq -c | awk '$1 != 1' | head -3 | grep . &&
    fail "archive copies twice"
  grep -q "model decoy: ok 3000, error 0, shed 0," "$TMP/burst.log" ||
    fail "the decoy shed: $(grep "model decoy:" "$TMP/burst.log")"
  pass "3000 requests at once into a decoy queue of 2: all 3000 archived, none shed"
}

run_parallel case_archive case_dead_letter case_expired case_burst

# Scores and results go to the request's partition number: fewer result
# partitions than request partitions is refused at start, clearly.
stop_broker
start_broker mis.requests:4 mis.scores:4 mis.results:2
write_service mis "$TMP/mis.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so}
rendezvous:
  schedule: [{model: a, within_ms: 500}]
YAML
set +e
"$RV_BIN" -c "$TMP/mis.yaml" -b "$BOOTSTRAP" >/dev/null 2>"$TMP/mis.log"
rc=$?
set -e
[ $rc -ne 0 ] || fail "a partition mismatch must stop the start"
assert_contains "$(cat "$TMP/mis.log")" "topic mis.results has 2 partitions but mis.requests has 4" "mismatch message"
pass "partition mismatch refused: $(grep -o 'topic mis.results.*' "$TMP/mis.log")"
