#!/usr/bin/env bash
# The container image (scripts/image.sh, from this build's .deb) under
# podman, on a real Kafka: the image runs as a non-root user with
# `rendezvous` as its entrypoint; the installed demo config, mounted with
# the replica's identity from the environment, serves paced load; the
# container is killed with SIGKILL and a fresh one with an empty state
# directory replaces it: every request answered, none lost, and what is
# answered twice is what the killed one answered past its last commit (the
# at-least-once promise); the same with exactly-once delivery answers each
# once. A model .so dropped into the mounted plugin folder and the config's
# new entry go live on `podman kill --signal HUP`; model processes are
# sandboxed inside the container as outside (a model opening a socket is
# refused). Then deploy/kubernetes/rendezvous.yaml under `podman kube
# play`: two pods share the requests, one is deleted under load and nothing
# is lost, `podman kube down` drains the other. Needs podman and a real
# Kafka: registered as kafka_container.
. "$(dirname "$0")/lib.sh"
[ "${RV_BROKER:-}" = kafka ] || fail "needs RV_BROKER=kafka"
command -v podman >/dev/null || fail "podman is missing: run scripts/setup.sh"
export CONTAINERS_CONF=$RV_SOURCE_DIR/deploy/podman/containers.conf
TAG=localhost/rendezvous-test:$$
RATE=2000 SECONDS_LOAD=10 # 20,000 requests

# the image, from this build's package
(cd "$TMP" && cpack -G DEB --config "$RV_BUILD_DIR/CPackConfig.cmake" -B "$TMP/pkg" \
  >"$TMP/cpack.log" 2>&1) || fail "cpack: $(tail -5 "$TMP/cpack.log")"
cleanup_hooks+=("podman rm -f -t 0 rv-c1-$$ rv-c2-$$ rv-c3-$$ rv-c4-$$ rv-net-$$ >/dev/null 2>&1; podman rmi -f $TAG >/dev/null 2>&1")
RV_IMAGE_TAG=$TAG bash "$RV_SOURCE_DIR/scripts/image.sh" build --deb "$TMP"/pkg/rendezvous_*.deb \
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
# Kafka on the podman bridge's gateway: reached from the host network and
# from pods alike. The bridge is up while a container is on it, so one
# stays there (sleeping) for the test's length.
GW=$(podman network inspect podman --format '{{range .Subnets}}{{.Gateway}}{{end}}')
podman run -d --name "rv-net-$$" --entrypoint /bin/sleep "$TAG" infinity >"$TMP/net.out" 2>&1 ||
  fail "a container on podman's bridge network: $(cat "$TMP/net.out")"
for _ in $(seq 100); do
  addrs=$(ip -4 -o addr show 2>&1) || true
  [[ -n "$GW" && "$addrs" == *"inet $GW/"* ]] && break
  sleep 0.1
done
[[ -n "$GW" && "$addrs" == *"inet $GW/"* ]] ||
  fail "no podman bridge gateway on this host (${GW:-none in podman network inspect podman}):"$'\n'"$addrs"
RV_KAFKA_HOST=$GW start_kafka $(service_topics demo)
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

# load PREFIX: $RATE requests/s of the demo's rows for $SECONDS_LOAD s in
# the background (LOADER), ids PREFIX-<n>; those acknowledged in
# $TMP/PREFIX.acked
load() {
  $PY - "$BOOTSTRAP" "$RATE" "$SECONDS_LOAD" "$RV_SOURCE_DIR/conf/data/breast_cancer.jsonl" \
    "$TMP/$1.acked" "$1" <<'PY' 2>"$TMP/$1.load.err" &
import sys, time
from confluent_kafka import Producer
bootstrap, rate, secs, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), open(sys.argv[4]).read().split("\n")
rows = [r for r in rows if r.strip()]
out, prefix = open(sys.argv[5], "w", buffering=1), sys.argv[6]
p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True})
def done(err, msg):
    if not err:
        out.write(msg.key().decode() + "\n")
t0, i, n = time.time(), 0, rate * secs
while i < n:
    due = min(n, int((time.time() - t0) * rate))
    while i < due:
        p.produce("demo.requests", key=f"{prefix}-{i}", value=rows[i % len(rows)].encode(), callback=done)
        i += 1
    p.poll(0.001)
p.flush(30)
PY
  LOADER=$!
}

# answered PREFIX LOSS-MS: waits until every acknowledged request of the
# load has a result; "requests twice" in $TMP/PREFIX.verdict; fails when
# one is lost, or was first answered outside the loss at LOSS-MS and the
# rebalance it brings (up to the 6 s session timeout of a static member
# later): a duplicate the at-least-once promise does not explain (answered
# past the last commit of a host then lost, or in flight in a rebalance)
answered() {
  wait "$LOADER" || fail "the load failed: $(tail -3 "$TMP/$1.load.err")"
  local n
  n=$(sort -u "$TMP/$1.acked" | wc -l)
  [ "$n" -eq $((RATE * SECONDS_LOAD)) ] || fail "$n of $((RATE * SECONDS_LOAD)) requests acknowledged"
  for _ in $(seq 1200); do
    timeout 60 kcat -C -b "$BOOTSTRAP" -t demo.results -o beginning -e -q -f '%k %T\n' 2>/dev/null |
      grep "^$1-" >"$TMP/$1.results" || true # (kcat reads read_committed)
    [ "$(cut -d' ' -f1 "$TMP/$1.results" | sort -u | wc -l)" -ge "$n" ] && break
    sleep 0.1
  done
  $PY - "$TMP/$1.acked" "$TMP/$1.results" "$2" <<'PY' >"$TMP/$1.verdict" 2>&1 ||

import sys
acked = set(open(sys.argv[1]).read().split())
times = {}
for line in open(sys.argv[2]):
    k, t = line.split()
    times.setdefault(k, []).append(int(t))
since = int(sys.argv[3])
lost = acked - set(times)
assert not lost, f"{len(lost)} requests never answered, e.g. {sorted(lost)[:3]}"
twice = {k: sorted(v) for k, v in times.items() if len(v) > 1}
assert all(len(v) == 2 for v in twice.values()), "a request answered more than twice"
odd = [k for k, v in twice.items() if not since - 5000 <= v[0] <= since + 10000]
assert not odd, f"{len(odd)} answered twice, first away from the loss and its rebalance: {odd[:3]}"
print(len(acked), len(twice))
PY
    fail "$(tail -1 "$TMP/$1.verdict")"
}

# kill_and_replace PREFIX OLD NEW: paced load (ids PREFIX-<n>), the OLD
# container killed with SIGKILL a third of the way in and replaced by NEW,
# a fresh one; every request answered ("requests twice" in
# $TMP/PREFIX.verdict)
kill_and_replace() {
  load "$1"
  sleep $((SECONDS_LOAD / 3))
  podman kill --signal KILL "$2" >/dev/null
  local killed_at=$(($(date +%s%N) / 1000000))
  podman rm -f "$2" >/dev/null
  run "$3"
  answered "$1" "$killed_at"
}
kill_and_replace c "rv-c1-$$" "rv-c2-$$"
read -r n twice <"$TMP/c.verdict"
pass "SIGKILL of the container under load, a fresh one with an empty state dir: all $n requests answered, $twice twice (each first answered about the kill: read again past the killed one's last commit)"

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

# exactly-once: the same kill and replacement; a read_committed reader
# sees every request answered once (the replica's transactional id from
# its identity: the fresh container fences the killed one's transaction)
{ cat "$TMP/demo.yaml"; echo 'delivery: {mode: exactly_once, transactional_id: "demo-${POD_NAME}"}'; } \
  >"$TMP/conf/rendezvous.yaml"
run "rv-c3-$$"
kill_and_replace e "rv-c3-$$" "rv-c4-$$"
read -r n twice <"$TMP/e.verdict"
[ "$twice" -eq 0 ] || fail "exactly-once: $twice requests answered twice"
podman stop -t 30 "rv-c4-$$" >/dev/null
pass "exactly-once: SIGKILL of the container under load, a fresh one with an empty state dir: all $n requests answered once (read_committed)"

# deploy/kubernetes under podman kube play, as shipped but for what podman
# 4.3 cannot do: a Secret volume (kube play crashes on one: the same files
# from a host folder), two pods publishing one containerPort (ports
# dropped: each pod has an address of its own); the brokers, the image and
# its install prefix (this build's) set as an operator sets them
mkdir -p "$TMP/secrets"
DEPLOY=rv-test-$$ # the Deployment's name here: its pods are $DEPLOY-pod-N
$PY - "$RV_SOURCE_DIR/deploy/kubernetes/rendezvous.yaml" "$TMP/kube.yaml" "$TMP/secrets" \
  "$BOOTSTRAP" "$TAG" "$PREFIX" "$DEPLOY" <<'PY' || fail "the manifest could not be read"
import os, sys, yaml
src, out, sdir, bootstrap, image, prefix, name = sys.argv[1:8]
keep = []
for d in yaml.safe_load_all(open(src)):
    if d["kind"] == "Secret":
        for k, v in d["stringData"].items():
            open(os.path.join(sdir, k), "w").write(v)
        continue
    if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "rendezvous-env":
        d["data"]["KAFKA_BOOTSTRAP"] = bootstrap
    if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "rendezvous-config":
        d["data"]["rendezvous.yaml"] = d["data"]["rendezvous.yaml"].replace("/usr/", prefix + "/")
    if d["kind"] == "Deployment":
        d["metadata"]["name"] = name
        spec = d["spec"]["template"]["spec"]
        spec["containers"][0]["image"] = image
        del spec["containers"][0]["ports"]
        for v in spec["volumes"]:
            if "secret" in v:
                v["hostPath"] = {"path": sdir, "type": "Directory"}
                del v["secret"]
    keep.append(d)
yaml.safe_dump_all(keep, open(out, "w"), sort_keys=False)
PY
chmod -R a+rX "$TMP/secrets"
cleanup_hooks+=("podman pod rm -f -t 0 $DEPLOY-pod-0 $DEPLOY-pod-1 >/dev/null 2>&1")
podman kube play "$TMP/kube.yaml" >"$TMP/play.log" 2>&1 || fail "podman kube play: $(grep -iv healthcheck "$TMP/play.log" | tail -3)"
declare -A IP
for pod in 0 1; do
  c=$DEPLOY-pod-$pod-rendezvous
  IP[$pod]=$(podman inspect "$c" --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}')
  for _ in $(seq 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://${IP[$pod]}:8080/readyz")" = 200 ] && break
    sleep 0.1
  done
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://${IP[$pod]}:8080/readyz")" = 200 ] ||
    fail "pod $pod not ready: $(podman logs "$c" 2>&1 | grep -v '^%' | tail -3)"
  podman healthcheck run "$c" >/dev/null || fail "pod $pod's liveness probe (curl inside the container) fails"
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://${IP[$pod]}:8080/metrics")
  [ "$code" = 401 ] || fail "pod $pod's /metrics without a token: $code"
  curl -sf -H "Authorization: Bearer change-me" "http://${IP[$pod]}:8080/metrics" >"$TMP/metrics-$pod" ||
    fail "pod $pod's /metrics with the Secret's token: $(head -c 200 "$TMP/metrics-$pod")"
  grep -q '^rendezvous_requests_total' "$TMP/metrics-$pod" || fail "pod $pod's /metrics: no requests counter"
  podman logs -f "$c" >"$TMP/pod-$pod.log" 2>&1 &
done
pass "podman kube play of deploy/kubernetes/rendezvous.yaml: two pods ready on /readyz, their liveness probes pass, the Secret's tokens guard /metrics"

# paced load; pod 0 deleted (SIGTERM: it drains) a third of the way in
load k
sleep $((SECONDS_LOAD / 3))
DELETED_AT=$(($(date +%s%N) / 1000000))
podman pod stop -t 30 "$DEPLOY-pod-0" >/dev/null && podman pod rm "$DEPLOY-pod-0" >/dev/null ||
  fail "pod 0 could not be deleted"
# drained POD: its log (copied by `podman logs -f` in the background, which
# may lag the container's end by a moment) says it drained and summed up
drained() {
  for _ in $(seq 100); do
    grep -q "signal 15: stop fetching, drain" "$TMP/pod-$1.log" &&
      grep -q "^summary: requests" "$TMP/pod-$1.log" && return 0
    sleep 0.1
  done
  return 1
}
drained 0 || fail "pod 0 did not drain: $(grep -v '^%' "$TMP/pod-0.log" | tail -3)"
answered k "$DELETED_AT"
read -r n twice <"$TMP/k.verdict"
pass "two pods under load, one deleted (it drained): all $n requests answered, $twice twice (in flight in the rebalance that followed)"

# podman kube down: the other drains, and its group's offsets reach the end
# (it stops what exists, then says the deleted pod is missing)
podman kube down "$TMP/kube.yaml" >"$TMP/down.log" 2>&1 ||
  grep -q "no pod with name or ID $DEPLOY-pod-0" "$TMP/down.log" ||
  fail "podman kube down: $(tail -3 "$TMP/down.log")"
podman pod rm -f "$DEPLOY-pod-1" >/dev/null 2>&1 || true
drained 1 || fail "pod 1 did not drain on kube down: $(grep -v '^%' "$TMP/pod-1.log" | tail -3)"
$PY - "$BOOTSTRAP" <<'PY' || fail "the group's offsets after kube down"
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "demo-rendezvous"})
parts = [TopicPartition("demo.requests", p) for p in range(4)]
for tp in c.committed(parts, timeout=10):
    lo, hi = c.get_watermark_offsets(tp, timeout=10)
    assert tp.offset == hi, f"[{tp.partition}] committed {tp.offset}, end {hi}"
c.close()
PY
pass "podman kube down: the last pod drains and commits every request it read"
