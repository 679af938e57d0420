#!/usr/bin/env bash
# `rendezvous topics` and the host's start-up check of its topics. On a
# real cluster (RV_BROKER=kafka), where nothing is created by using it: a
# host whose topics are missing refuses to start and names each one and
# the command that makes them; `topics` lists what is missing without
# creating anything, `--create` makes them, and then the host serves; too
# few result partitions is refused by both. On the embedded broker, which
# makes every topic a client asks for, `topics` prints the plan.
. "$(dirname "$0")/lib.sh"

write_service top "$TMP/top.yaml" <<YAML
models:
  - {name: a, plugin: $RV_FIXTURE_DIR/ok.so}
rendezvous:
  schedule: [{model: a, within_ms: 500}]
YAML

if [ "${RV_BROKER:-embedded}" != kafka ]; then
  out=$("$RV_BIN" topics -c "$TMP/top.yaml")
  for t in requests scores results archive alerts dead-letter control; do
    assert_contains "$out" "top.$t" "the embedded plan"
  done
  pass "topics: the embedded broker's plan lists every topic of the service"
  exit 0
fi

start_broker few.requests:4 few.results:2
# the host refuses to start and says what is missing, all of it at once
rc=0
timeout 60 "$RV_BIN" -c "$TMP/top.yaml" -b "$BOOTSTRAP" 2>"$TMP/missing.log" || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "the host started without its topics (exit $rc)"
assert_contains "$(cat "$TMP/missing.log")" "7 topic(s) missing on the cluster: top.requests (requests), top.scores (scores)" "the host's reason"
assert_contains "$(cat "$TMP/missing.log")" "\`rendezvous topics -c $TMP/top.yaml --create\` creates them" "the host's hint"
pass "a host whose topics are missing refuses to start and names them: $(grep -o '7 topic(s) missing.*' "$TMP/missing.log" | cut -c1-80)..."

# looking creates nothing
rc=0
"$RV_BIN" topics -c "$TMP/top.yaml" -b "$BOOTSTRAP" >"$TMP/topics1.out" 2>"$TMP/topics1.err" || rc=$?
[ $rc -eq 1 ] || fail "topics with missing topics: exit $rc"
[ "$(grep -c ' missing ' "$TMP/topics1.out")" -eq 7 ] || fail "topics table: $(cat "$TMP/topics1.out")"
rc=0
"$RV_BIN" topics -c "$TMP/top.yaml" -b "$BOOTSTRAP" >/dev/null 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "a look created topics (second look: exit $rc)"
pass "topics lists the 7 missing topics and creates none by looking (exit 1 twice)"

"$RV_BIN" topics -c "$TMP/top.yaml" -b "$BOOTSTRAP" --create >"$TMP/create.out" 2>"$TMP/create.err" ||
  fail "topics --create: $(cat "$TMP/create.err")"
[ "$(grep -c '^created top\.' "$TMP/create.out")" -eq 7 ] || fail "created: $(cat "$TMP/create.out")"
assert_contains "$(cat "$TMP/create.out")" "every topic is there and fits" "after --create"
"$RV_BIN" topics -c "$TMP/top.yaml" -b "$BOOTSTRAP" >/dev/null || fail "topics after --create"
start_host "$TMP/top.yaml" "$TMP/top.log"
echo 'top-1:{"x": 1, "y": 2}' | kcat -P -b "$BOOTSTRAP" -t top.requests -K:
wait_count top.results 1 60
stop_host
pass "topics --create makes the 7 topics ($(sed -n 's/^created top.requests: //p' "$TMP/create.out")), then the host serves"

# too few partitions: both say which and why
sed 's/^service: top/service: few/' "$TMP/top.yaml" >"$TMP/few.yaml"
rc=0
"$RV_BIN" topics -c "$TMP/few.yaml" -b "$BOOTSTRAP" --create >"$TMP/few.out" 2>"$TMP/few.err" || rc=$?
[ $rc -eq 1 ] || fail "topics with 2 result partitions for 4: exit $rc"
assert_contains "$(cat "$TMP/few.err")" "topic few.results has 2 partitions but few.requests has 4" "topics' reason"
rc=0
timeout 60 "$RV_BIN" -c "$TMP/few.yaml" -b "$BOOTSTRAP" 2>"$TMP/few.log" || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "the host started with 2 result partitions for 4 (exit $rc)"
assert_contains "$(cat "$TMP/few.log")" "topic few.results has 2 partitions but few.requests has 4" "the host's reason"
pass "2 result partitions for 4 requests partitions: refused by topics and by the host"
