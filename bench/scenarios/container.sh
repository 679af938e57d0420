# shellcheck shell=bash
# bench/scenarios/container.sh - the host in its container image: container.

# container: the demo models' host (the xgboost scenario's config) at
# saturation as the bare process and in the image under podman
# (--network=host; the config mounted where the image reads it, plugins and
# models at their paths, the state directory a tmpfs), in turn, $CONTAINER_ROUNDS rounds (default
# 2): what the container costs. IMAGE (default localhost/rendezvous:latest)
# is built by scripts/image.sh first when absent; the bare process is
# $BUILD's, the image's host comes from its own Release build of the same
# sources.
scenario_container() {
  command -v podman >/dev/null || die "podman is missing: run scripts/setup.sh"
  export CONTAINERS_CONF=${CONTAINERS_CONF:-$SRC/deploy/podman/containers.conf}
  local image=${IMAGE:-localhost/rendezvous:latest} rounds=${CONTAINER_ROUNDS:-2} round kind
  podman image exists "$image" || bash "$SRC/scripts/image.sh" build >&2 ||
    die "the image could not be built"
  local svcs=()
  for round in $(seq "$rounds"); do svcs+=("cb$round" "cc$round"); done
  start_services "${svcs[@]}"
  for round in $(seq "$rounds"); do
    for kind in $(in_turn "$round" bare podman); do
      if [ "$kind" = bare ]; then
        run_xgboost "container-bare-$round" "cb$round"
      else
        run_in_container "container-podman-$round" "cc$round" "$image"
      fi
    done
  done
  echo "image: $image, $(($(podman image inspect --format '{{.Size}}' "$image") / 1024 / 1024)) MiB" |
    tee -a "$RESULTS"
  summarize "$WORK" "$rounds" <<'PY'
import json, sys
work, rounds = sys.argv[1], int(sys.argv[2])
print("\n| round | bare process | in the container | container / bare |")
print("|---|---|---|---|")
for r in range(1, rounds + 1):
    bare = json.load(open(f"{work}/container-bare-{r}.json"))["throughput"]
    pod = json.load(open(f"{work}/container-podman-{r}.json"))["throughput"]
    print(f"| {r} | {bare:,.0f}/s | {pod:,.0f}/s | {pod / bare:.2f} |")
PY
}

# run_in_container NAME SERVICE IMAGE: run_xgboost's host in IMAGE
run_in_container() {
  local name=$1 svc=$2 ctr=rvbench-$2-$$
  xgboost_yaml "$svc" "$WORK/$svc.yaml"
  sed -i "s|^state_dir: .*|state_dir: /var/lib/rendezvous/$svc|" "$WORK/$svc.yaml"
  podman run -d --name "$ctr" --network=host --tmpfs /var/lib/rendezvous:rw,mode=0700,U \
    -v "$WORK/$svc.yaml:/etc/rendezvous/rendezvous.yaml:ro" -v "$BUILD/plugins:$BUILD/plugins:ro" \
    -v "$MODELS:$MODELS:ro" "$3" -c /etc/rendezvous/rendezvous.yaml -b "$BOOTSTRAP" >/dev/null || die "podman run $ctr failed"
  podman logs -f "$ctr" >"$WORK/$svc.log" 2>&1 &
  wait_for "$WORK/$svc.log" "assigned" 120
  bench "$name" "$svc" --duration "$DURATION" --window "$WINDOW"
  memory "$name" "$(podman inspect --format '{{.State.Pid}}' "$ctr")"
  podman stop -t 30 "$ctr" >/dev/null
  podman logs "$ctr" 2>&1 | grep 'summary:' | tail -1 || true
  podman rm "$ctr" >/dev/null
}
