#!/usr/bin/env bash
# The container image (scripts/image.sh, from this build's .deb) under
# podman, on a real Kafka: the image runs as a non-root user with
# `rendezvous` as its entrypoint; the installed demo config, mounted with
# the replica's identity from the environment, serves paced load; the
# container is killed with SIGKILL and a fresh one with an empty state
# directory replaces it: every request answered, none lost, and what is
# answered twice is what the killed one answered past its last commit (the
# at-least-once promise). Then a model .so dropped into the mounted plugin
# folder and the config's new entry go live on `podman kill --signal HUP`;
# model processes are sandboxed inside the container as outside (a model
# opening a socket is refused). Needs podman and a real Kafka: registered as kafka_container.
. "$(dirname "$0")/lib.sh"
[ "${RV_BROKER:-}" = kafka ] || fail "needs RV_BROKER=kafka"
command -v podman >/dev/null || fail "podman is missing: run scripts/setup.sh"
export CONTAINERS_CONF=$RV_SOURCE_DIR/deploy/podman/containers.conf
TAG=localhost/rendezvous-test:$$
RATE=2000 SECONDS_LOAD=10 # 20,000 requests

# the image, from this build's package
(cd "$TMP" && cpack -G DEB --config "$RV_BUILD_DIR/CPackConfig.cmake" -B "$TMP/pkg" \
  >"$TMP/cpack.log" 2>&1) || fail "cpack: $(tail -5 "$TMP/cpack.log")"
cleanup_hooks+=("podman rm -f -t 0 rv-c1-$$ rv-c2-$$ >/dev/null 2>&1; podman rmi -f $TAG >/dev/null 2>&1")
RV_IMAGE_TAG=$TAG bash "$RV_SOURCE_DIR/scripts/image.sh" build --deb "$TMP"/pkg/*.deb \
  >"$TMP/image.out" 2>"$TMP/image.err" || fail "scripts/image.sh: $(tail -5 "$TMP/image.err")"
size=$(sed -n 's/^size_bytes=//p' "$TMP/image.out")
help=$(podman run --rm "$TAG" --help 2>&1) || fail "podman run IMAGE --help: $help"
assert_contains "$help" "usage: rendezvous serve" "the image's --help"
user=$(podman run --rm --entrypoint /usr/bin/id "$TAG" -u)
[ "$user" = 10001 ] || fail "the image runs as uid $user"
! podman run --rm --entrypoint /bin/sh "$TAG" -c 'command -v gcc cc ctest' >/dev/null 2>&1 ||
  fail "the image holds a compiler or the tests"
pass "the image ($((size / 1024 / 1024)) MiB from the .deb on a minimal Debian root): rendezvous as entrypoint, --help, uid 10001, no compiler"

# the installed demo config, for this Kafka, with the replica's identity
# and the HTTP port from the environment; /plugins is mounted for models
# dropped in
start_kafka $(service_topics demo)
PREFIX=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$RV_BUILD_DIR/CMakeCache.txt")
read -r PORT < <(free_ports 1)
mkdir -p "$TMP/conf" "$TMP/plugins"
sed -e "s|brokers: embedded.*|brokers: \"$BOOTSTRAP\"\n  kafka:\n    group.instance.id: \"\${POD_NAME}\"|" \
  -e "s|listen: \"127.0.0.1:8080\"|listen: \"127.0.0.1:\${HTTP_PORT}\"|" \
  "$RV_BUILD_DIR/share/example.yaml" >"$TMP/conf/rendezvous.yaml"
grep -q "$PREFIX/lib/rendezvous/plugins/libxgboost_model.so" "$TMP/conf/rendezvous.yaml" ||
  fail "the example config does not name the installed plugins"
chmod -R a+rX "$TMP/conf" "$TMP/plugins"

run() { # NAME: a container of the image, its state dir an empty tmpfs
  podman run -d --name "$1" --network=host \
    --tmpfs /var/lib/rendezvous:rw,mode=0700,U \
    -v "$TMP/conf:/etc/rendezvous:ro" -v "$TMP/plugins:/plugins:ro" \
    -e POD_NAME=demo-0 -e HTTP_PORT="$PORT" "$TAG" >/dev/null ||
    fail "podman run $1 failed"
  for _ in $(seq 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ] && return 0
    sleep 0.1
  done
  fail "$1 not ready in 60 s: $(podman logs "$1" 2>&1 | tail -5)"
}
run "rv-c1-$$"

# paced load; killed with SIGKILL a third of the way in, replaced
$PY - "$BOOTSTRAP" "$RATE" "$SECONDS_LOAD" "$RV_SOURCE_DIR/conf/data/breast_cancer.jsonl" \
  "$TMP/acked" <<'PY' 2>"$TMP/load.err" &
import sys, time
from confluent_kafka import Producer
bootstrap, rate, secs, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), open(sys.argv[4]).read().split("\n")
rows = [r for r in rows if r.strip()]
out = open(sys.argv[5], "w", buffering=1)
p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True})
def done(err, msg):
    if not err:
        out.write(msg.key().decode() + "\n")
t0, i, n = time.time(), 0, rate * secs
while i < n:
    due = min(n, int((time.time() - t0) * rate))
    while i < due:
        p.produce("demo.requests", key=f"c-{i}", value=rows[i % len(rows)].encode(), callback=done)
        i += 1
    p.poll(0.001)
p.flush(30)
PY
LOADER=$!
sleep $((SECONDS_LOAD / 3))
podman kill --signal KILL "rv-c1-$$" >/dev/null
KILLED_AT=$(($(date +%s%N) / 1000000))
podman rm -f "rv-c1-$$" >/dev/null
run "rv-c2-$$"
wait "$LOADER" || fail "the load failed: $(tail -3 "$TMP/load.err")"
N=$(sort -u "$TMP/acked" | wc -l)
[ "$N" -eq $((RATE * SECONDS_LOAD)) ] || fail "$N of $((RATE * SECONDS_LOAD)) requests acknowledged"
wait_count demo.results "$N" 120
timeout 60 kcat -C -b "$BOOTSTRAP" -t demo.results -o beginning -e -q -f '%k %T\n' 2>/dev/null >"$TMP/results"
$PY - "$TMP/acked" "$TMP/results" "$KILLED_AT" <<'PY' >"$TMP/verdict" || fail "$(cat "$TMP/verdict")"
import sys
acked = set(open(sys.argv[1]).read().split())
times = {}
for line in open(sys.argv[2]):
    k, t = line.split()
    times.setdefault(k, []).append(int(t))
killed = int(sys.argv[3])
lost = acked - set(times)
assert not lost, f"{len(lost)} requests never answered, e.g. {sorted(lost)[:3]}"
twice = {k: sorted(v) for k, v in times.items() if len(v) > 1}
assert all(len(v) == 2 for v in twice.values()), "a request answered more than twice"
late = [k for k, v in twice.items() if v[0] > killed + 1000]
assert not late, f"{len(late)} answered twice whose first answer came after the kill: {late[:3]}"
print(len(acked), len(twice))
PY
read -r n twice <"$TMP/verdict"
pass "SIGKILL of the container under load, a fresh one with an empty state dir: all $n requests answered, $twice twice (each first answered by the killed one before the kill: read again past its last commit)"

# a model dropped into the mounted plugin folder, and the config's new
# entry, live on SIGHUP; one whose model process opens a socket is refused
# by the sandbox inside the container as outside (its warm-up fails with
# the reason; the running generation keeps serving)
cp "$RV_FIXTURE_DIR/ok.so" "$TMP/plugins/ok.so"
chmod a+r "$TMP/plugins/ok.so"
cp "$TMP/conf/rendezvous.yaml" "$TMP/demo.yaml"
reload_with() { # MODEL-LINE: the demo config plus that model, and SIGHUP
  sed "s|^rendezvous:|  - $1\nrendezvous:|" "$TMP/demo.yaml" >"$TMP/conf/rendezvous.yaml"
  podman kill --signal HUP "rv-c2-$$" >/dev/null
}
# warm-up runs on recent traffic
head -50 "$RV_SOURCE_DIR/conf/data/breast_cancer.jsonl" | awk '{print "w-" NR ":" $0}' |
  kcat -P -b "$BOOTSTRAP" -t demo.requests -K:
reload_with "{name: sock, plugin: /plugins/ok.so, params: {fault: socket}}"
for _ in $(seq 300); do
  podman logs "rv-c2-$$" 2>&1 | grep -q "reload: failed" && break
  sleep 0.1
done
podman logs "rv-c2-$$" 2>&1 | grep "reload: failed" | grep -q "socket: Operation not permitted" ||
  fail "a model opening a socket was not refused: $(podman logs "rv-c2-$$" 2>&1 | grep reload | tail -3)"
reload_with "{name: dropped, plugin: /plugins/ok.so}"
for _ in $(seq 300); do
  curl -s "http://127.0.0.1:$PORT/v1/models" >"$TMP/models.json"
  grep -q '"dropped"' "$TMP/models.json" && break
  sleep 0.1
done
grep -q '"dropped"' "$TMP/models.json" ||
  fail "the dropped-in model is not live after SIGHUP: $(podman logs "rv-c2-$$" 2>&1 | grep reload | tail -3)"
head -20 "$RV_SOURCE_DIR/conf/data/breast_cancer.jsonl" | awk '{print "h-" NR ":" $0}' |
  kcat -P -b "$BOOTSTRAP" -t demo.requests -K:
for _ in $(seq 300); do
  [ "$(consume demo.scores | grep -c '"id":"h-[0-9]*","model":"dropped"' || true)" -ge 20 ] && break
  sleep 0.1
done
consume demo.scores | grep '"id":"h-' >"$TMP/scores" || true
$PY - "$TMP/scores" <<'PY' || fail "the scores of the dropped-in model: $(head -c 600 "$TMP/scores")"
import json, sys
sc = [json.loads(l) for l in open(sys.argv[1])]
dropped = [s for s in sc if s["model"] == "dropped"]
assert len(dropped) == 20 and all(s["status"] == "ok" for s in dropped), dropped[:2]
PY
podman stop -t 30 "rv-c2-$$" >/dev/null
st=$(podman inspect --format '{{.State.ExitCode}}' "rv-c2-$$")
[ "$st" = 0 ] || fail "the container exited $st on SIGTERM: $(podman logs "rv-c2-$$" 2>&1 | tail -3)"
pass "a .so dropped into the mounted plugin folder goes live on podman kill --signal HUP and answers; one whose model process opens a socket is refused by the sandbox inside the container (its warm-up fails: socket: Operation not permitted); podman stop drains and exits 0"
