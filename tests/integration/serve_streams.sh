#!/usr/bin/env bash
# What the host writes besides results, checked from outside with kcat:
# the decoy's archive (topic and segment files) holds every request byte for
# byte; malformed requests go to dead-letter with their reason and original
# bytes while every other request still gets its result; and a partition
# mismatch stops the start with a clear message.
. "$(dirname "$0")/lib.sh"
FX=$RV_FIXTURE_DIR

start_broker $(service_topics arch) $(service_topics bad)

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
  consume arch.archive >"$TMP/archive.topic"
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
  pass "archive: 50 requests byte for byte in the topic and in rotated segment files"
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
  for i in $(seq 20); do echo "good-$i:{\"x\": $i, \"y\": 2}"; done |
    kcat -P -b "$BOOTSTRAP" -t bad.requests -K:
  wait_count bad.results 20
  wait_count bad.dead-letter 5
  sleep 0.5
  stop_host
  [ "$(consume bad.results | wc -l)" -eq 20 ] || fail "expected exactly 20 results"
  consume bad.results | grep -c '"id":"good-' | grep -q '^20$' || fail "results are not the good ones"
  kcat -C -b "$BOOTSTRAP" -t bad.dead-letter -o beginning -e -q \
    -f '%k|%h|%S\n' >"$TMP/dl" 2>/dev/null
  [ "$(wc -l <"$TMP/dl")" -eq 5 ] || fail "expected 5 dead letters: $(cat "$TMP/dl")"
  for want in "bad-1|.*rv-error=body is not valid JSON" \
              "bad-2|.*rv-error=feature 'x' is a string, expected a number" \
              "bad-3|.*rv-error=body of 30[0-9] bytes exceeds input.max_body_bytes (256)" \
              "bad-4|.*rv-error=empty body" \
              "bad-5|.*rv-error=body is a JSON array, expected an object"; do
    grep -q "^$want" "$TMP/dl" || fail "dead-letter lacks /$want/: $(cat "$TMP/dl")"
  done
  # the original bytes, untouched: sizes match what was produced
  for i in 1 2 3 5; do
    size=$(stat -c %s "$TMP/bad/$i")
    grep "^bad-$i|" "$TMP/dl" | grep -q "|$size\$" || fail "dead letter bad-$i is not $size bytes"
  done
  grep -q "rv-source-topic=bad.requests" "$TMP/dl" || fail "dead letters do not name their source"
  pass "dead-letter: 5 malformed requests with reasons and original bytes, 20 good ones answered"
}

run_parallel case_archive case_dead_letter

# Scores and results go to the request's partition number: fewer result
# partitions than request partitions is refused at start, clearly.
kill "$BROKER_PID"
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
