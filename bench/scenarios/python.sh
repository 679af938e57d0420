# shellcheck shell=bash
# bench/scenarios/python.sh - Python models (plugins/python): python.

# python: what the Python plugin costs per batch, without a broker
# (bench/proc_rtt: in this process, as isolation: none, and through a model
# process), at batch $PY_BATCH (default 64) of the demo's 30 features, for a
# module whose predict returns a ready array (the plugin's own cost: the
# matrix, the call into Python, the checks of the result) and for a
# scikit-learn Pipeline (scaler + gradient boosting) from its pickle, and the
# TorchScript MLP through plugins/torch (all three from
# scripts/train_python_models.py); beside the same calls made directly in
# Python (timeit). The Python plugin's overhead per batch is its no-op time
# less Python's own call.
scenario_python() {
  local batch=${PY_BATCH:-64} plugin=$BUILD/plugins/libpython_model.so
  [ -f "$plugin" ] || die "no $plugin in the build"
  $PY "$SRC/scripts/train_python_models.py" "$WORK" >/dev/null
  $PY - "$WORK" "$batch" <<'PY' >"$WORK/python-direct.json"
import json, pickle, sys, timeit
import numpy
import torch
work, batch = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(1)
m = pickle.load(open(f"{work}/breast_cancer-pipeline.pkl", "rb"))
mlp = torch.jit.load(f"{work}/breast_cancer-mlp.pt")
open(f"{work}/noop.py", "w").write(
    "import numpy\nLABELS = ['malignant', 'benign']\n_out = numpy.full((4096, 2), 0.5)\n"
    "def predict(model, X):\n    return _out[: len(X)]\n")
out = numpy.full((4096, 2), 0.5)
# proc_rtt's rows: the demo's first four values over and over
X = numpy.tile(numpy.array([17.99, 10.38, 122.8, 1001.0] * 8)[:30], (batch, 1))
def us(f, number):
    t = sorted(timeit.repeat(f, number=number, repeat=9))
    return t[len(t) // 2] / number * 1e6
def forward():
    with torch.inference_mode():
        return mlp(torch.from_numpy(X).to(torch.float32)).to(torch.float64).numpy()
print(json.dumps({"noop_us": us(lambda: out[: len(X)], 20000),
                  "pipeline_us": us(lambda: m.predict_proba(X), 200),
                  "torch_us": us(forward, 2000)}))
PY
  local what so params
  for what in noop pipeline torch; do
    so=$plugin
    case $what in
    noop) params=(--param module="$WORK/noop.py") ;;
    pipeline) params=(--param model_file="$WORK/breast_cancer-pipeline.pkl" --param labels=malignant,benign) ;;
    torch)
      so=$BUILD/plugins/libtorch_model.so
      params=(--param model_file="$WORK/breast_cancer-mlp.pt" --param labels=malignant,benign)
      ;;
    esac
    "$TOOLS/proc_rtt" --runner "$RV" --plugin "$so" --batch "$batch" --calls 2000 --gap-us 0 \
      --features 30 "${params[@]}" | tee "$WORK/python-$what.txt"
  done
  summarize "$WORK" "$batch" <<'PY'
import json, re, sys
work, batch = sys.argv[1], int(sys.argv[2])
direct = json.load(open(f"{work}/python-direct.json"))
def p50(what, way):
    text = open(f"{work}/python-{what}.txt").read()
    return float(re.search(rf"isolation: {way} +p50 +([0-9.]+) us", text).group(1))
print(f"\n| batch of {batch}, 30 features | directly in Python | the plugin, isolation: none | "
      "the plugin, in a model process |")
print("|---|---|---|---|")
for what, label in (("noop", "predict returns a ready array"),
                    ("pipeline", "scikit-learn Pipeline, predict_proba"),
                    ("torch", "TorchScript MLP (plugins/torch; in Python: model(x))")):
    print(f"| {label} | {direct[what + '_us']:.1f} µs | {p50(what, 'none'):.1f} µs "
          f"| {p50(what, 'process'):.1f} µs |")
print(f"\nthe plugin's overhead per batch (no-op, in this process, less Python's own call): "
      f"{p50('noop', 'none') - direct['noop_us']:.1f} µs")
PY
}

# pyserve: the demo's scikit-learn Pipeline (scripts/train_python_models.py)
# served at saturation three ways, on the same broker and data: by the host
# through the Python plugin (in its model process; the host writes a score
# record and a result per request), by the same plugin in a remote scorer
# (`rendezvous scorer`; the host joins its score records), and by the
# Python peer (bench/python_peer.py --pickle, batches of $PEER_BATCH,
# default 64: one result per request), each as it comes.
scenario_pyserve() {
  start_services ph pr pp
  $PY "$SRC/scripts/train_python_models.py" "$WORK" >/dev/null
  run_host pipeline_yaml python-plugin ph
  pipeline_yaml pr "$WORK/pr.yaml" remote
  "$RV" scorer -c "$WORK/pr.yaml" --model pipeline -b "$BOOTSTRAP" >/dev/null 2>"$WORK/pr.scorer.log" &
  local scorer=$!
  PIDS+=("$scorer")
  wait_for "$WORK/pr.scorer.log" "assigned" 120
  start_host pr "$WORK/pr.yaml"
  bench python-plugin-remote pr --duration "$DURATION" --window "$WINDOW"
  stop_host pr
  stop_pid "$scorer"
  $PY "$SRC/bench/python_peer.py" -b "$BOOTSTRAP" --requests pp.requests --results pp.results \
    --pickle "$WORK/breast_cancer-pipeline.pkl" --features "$MODELS/breast_cancer-linear.json" \
    --group pp-peer --batch "${PEER_BATCH:-64}" 2>"$WORK/pp.log" &
  local pid=$!
  PIDS+=("$pid")
  wait_for "$WORK/pp.log" "assigned" 60
  bench python-peer-pickle pp --duration "$DURATION" --window 2000 --warmup 200
  stop_pid "$pid"
  ratio "host, Python plugin / Python peer (batches of ${PEER_BATCH:-64})" \
    "$WORK/python-plugin.json" "$WORK/python-peer-pickle.json"
  ratio "remote scorer, Python plugin / Python peer" "$WORK/python-plugin-remote.json" \
    "$WORK/python-peer-pickle.json"
}

# pipeline_yaml SERVICE FILE [remote]: the pipeline alone, served in the
# host or (remote) by a scorer
pipeline_yaml() {
  local where=""
  [ "${3:-}" != remote ] || where="remote: true, labels: [malignant, benign], "
  { yaml_head "$1" "the pyserve scenario"; cat <<YAML; } >"$2"
models:
  - {name: pipeline, ${where}plugin: $BUILD/plugins/libpython_model.so, max_batch: 64,
     queue_size: 16384, params: {model_file: $WORK/breast_cancer-pipeline.pkl, labels: "malignant,benign"}}
rendezvous:
  schedule: [{model: pipeline, within_ms: 4000}]
  max_in_flight: 10000
YAML
}
