#!/usr/bin/env bash
# The benchmark's own tools do what its numbers say: the pass-through (the
# limit) writes the records asked per request, padded to the sizes asked,
# the archive record the request's exact copy with its provenance headers,
# and commits only what was acknowledged; rvbench driving it counts every
# request back and loses none.
. "$(dirname "$0")/lib.sh"
PT=$RV_BUILD_DIR/bench/passthrough
RVB=$RV_BUILD_DIR/bench/rvbench
[ -x "$PT" ] && [ -x "$RVB" ] || fail "bench tools not built in $RV_BUILD_DIR/bench"

PARTITIONS=1 start_broker q.requests q.scores q.results q.archive q.labels
"$PT" -b "$BOOTSTRAP" --requests q.requests --scores q.scores --results q.results \
  --archive q.archive --score-bytes 185 --result-bytes 365 --group pt 2>"$TMP/pt.log" &
PT_PID=$!
cleanup_hooks+=("kill $PT_PID 2>/dev/null")
wait_log "$TMP/pt.log" "assigned 1 partition" 1

# one request with a header of its own and bytes JSON would re-encode
printf '{"a": 1.50, "s": "caf\\u00e9"}' >"$TMP/body"
kcat -P -b "$BOOTSTRAP" -t q.requests -k k1 -H trace=abc "$TMP/body"
wait_count q.results 1
wait_count q.scores 4
wait_count q.archive 1

$PY - "$BOOTSTRAP" "$TMP/body" <<'PY' || fail "the pass-through's records"
import json, sys, uuid
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": str(uuid.uuid4()),
              "enable.auto.commit": False})
def records(topic):
    _, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.assign([TopicPartition(topic, 0, 0)])
    out = []
    while len(out) < hi:
        m = c.poll(10)
        assert m is not None and not m.error(), f"{topic}: {m and m.error()}"
        out.append(m)
    return out
scores, results, archive = records("q.scores"), records("q.results"), records("q.archive")
assert len(scores) == 4, f"{len(scores)} score records, expected 4 (6 records less the copy and the result)"
for m in scores:
    assert len(m.value()) == 185, f"score record of {len(m.value())} bytes, asked 185"
    assert json.loads(m.value())["id"] == "k1" and m.key() == b"k1"
assert len(results) == 1 and len(results[0].value()) == 365, "one result of 365 bytes"
assert json.loads(results[0].value())["id"] == "k1"
(a,) = archive
body = open(sys.argv[2], "rb").read()
assert a.key() == b"k1" and a.value() == body, f"copy {a.key()!r} {a.value()!r}, sent k1 {body!r}"
h = dict(a.headers())
assert h["trace"] == b"abc", h
assert (h["rv-id"], h["rv-topic"], h["rv-partition"], h["rv-offset"]) == \
    (b"k1", b"q.requests", b"0", b"0"), h
assert int(h["rv-timestamp"]) > 1_600_000_000_000, h
print("records as asked")
PY
pass "the pass-through writes scores and the result padded as asked, the archive record an exact copy with provenance"

# rvbench through it: every request counted back, none lost
"$RVB" -b "$BOOTSTRAP" --requests q.requests --results q.results \
  --data "$RV_SOURCE_DIR/conf/data/breast_cancer.jsonl" --label smoke --duration 2 --rate 500 \
  --window 1000 --json "$TMP/smoke.json" >"$TMP/rvbench.out" 2>"$TMP/rvbench.err" ||
  fail "rvbench: $(cat "$TMP/rvbench.err")"
assert_contains "$(cat "$TMP/rvbench.out")" "(lost 0, duplicates 0, foreign 0, unparsable 0, unflushed 0)" \
  "rvbench against the pass-through"
sent=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['results'])" "$TMP/smoke.json")
[ "$sent" -ge 900 ] || fail "rvbench counted $sent results in 2 s at 500/s"
pass "rvbench counts $sent requests back through the pass-through, none lost"

# with --labels: after each request its row's label (from --truth, the same
# line), keyed and identified by the request's id
TRUTH=$RV_SOURCE_DIR/conf/data/breast_cancer.expected.jsonl
"$RVB" -b "$BOOTSTRAP" --requests q.requests --results q.results --labels q.labels --truth "$TRUTH" \
  --data "$RV_SOURCE_DIR/conf/data/breast_cancer.jsonl" --count 600 --rate 600 --id-prefix L- \
  >"$TMP/labels.out" 2>"$TMP/labels.err" || fail "rvbench --labels: $(cat "$TMP/labels.err")"
$PY - "$BOOTSTRAP" "$TRUTH" <<'PY' || fail "rvbench's labels"
import json, sys, uuid
from confluent_kafka import Consumer, TopicPartition
truth = [json.loads(l)["label"] for l in open(sys.argv[2])]
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": str(uuid.uuid4()),
              "enable.auto.commit": False})
c.assign([TopicPartition("q.labels", 0, 0)])
got = []
while len(got) < 600:
    m = c.poll(10)
    assert m is not None and not m.error(), f"after {len(got)} labels: {m and m.error()}"
    got.append(m)
for i, m in enumerate(got):
    v = json.loads(m.value())
    assert m.key() == f"L-{i}".encode() and v == {"id": f"L-{i}", "label": truth[i % len(truth)]}, \
        f"label {i}: {m.key()!r} {v}"
print("labels as sent")
PY
pass "rvbench sends each request's true label after it, keyed by its id (600, cycling the 569 rows)"
printf '{"id": "x"}\n' >"$TMP/bad.jsonl"
if "$RVB" -b "$BOOTSTRAP" --requests q.requests --results q.results --labels q.labels \
  --truth "$TMP/bad.jsonl" --data "$RV_SOURCE_DIR/conf/data/breast_cancer.jsonl" --count 1 \
  >/dev/null 2>"$TMP/bad.err"; then
  fail "rvbench took a truth file without labels"
fi
assert_contains "$(cat "$TMP/bad.err")" "bad.jsonl:1: no \"label\" string" "rvbench's error"
pass "rvbench refuses a truth file line without a label, naming file and line"

kill -TERM "$PT_PID"
wait "$PT_PID" || fail "the pass-through exited $? after SIGTERM: $(cat "$TMP/pt.log")"
summary=$(tail -1 "$TMP/pt.log")
assert_contains "$summary" "0 delivery failures, 0 still pending" "the pass-through's summary"
consumed=$(sed -n 's/^passthrough: \([0-9]*\) requests consumed.*/\1/p' <<<"$summary")
committed=$(sed -n 's/.* \([0-9]*\) requests committed.*/\1/p' <<<"$summary")
[ "$consumed" = "$committed" ] && [ "$consumed" -ge $((sent + 1)) ] ||
  fail "consumed $consumed, committed $committed, expected all of $((sent + 1))"
pass "the pass-through committed every request it consumed ($committed)"
