#!/usr/bin/env bash
# Python models (plugins/python, docs/python-models.md) through the real
# host: the demo's scikit-learn Pipeline (scaler + gradient boosting, from
# scripts/train_python_models.py), served from its pickle alone and through
# a module's load() and predict(), answers every demo row as the pipeline's own predict_proba in
# Python (max abs diff <= 1e-12); the pins refuse a changed file; a changed
# module is a new model on SIGHUP, an unchanged one is shared. Faults cost
# that model only: a module that raises, returns the wrong shape, sleeps
# past its deadline, segfaults through ctypes, leaks memory, opens a socket
# or runs a program; the other model answers every request. X is a
# read-only view of the batch in the memory shared with the host (no copy).
. "$(dirname "$0")/lib.sh"
PLUG=$RV_BUILD_DIR/plugins/libpython_model.so
DATA=$RV_SOURCE_DIR/conf/data/breast_cancer.jsonl
FEATURES=$(sed -n '/^  features: \[/,/\]/p' "$RV_SOURCE_DIR/conf/demo.yaml" | tr -d '\n' |
  sed 's/^ *features: //')
N=$(wc -l <"$DATA")

# the demo's pipeline and module (scripts/train_python_models.py), and the
# reference: the pipeline's predict_proba on every demo row
$PY "$RV_SOURCE_DIR/scripts/train_python_models.py" "$TMP" >/dev/null
mv "$TMP/breast_cancer-pipeline.pkl" "$TMP/pipe.pkl"
mv "$TMP/breast_cancer_pipeline.py" "$TMP/model.py"
$PY - "$DATA" "$TMP" <<'PY'
import json, pickle, sys
import numpy
m = pickle.load(open(f"{sys.argv[2]}/pipe.pkl", "rb"))
rows = [json.loads(l) for l in open(sys.argv[1])]
X = numpy.array([list(r.values()) for r in rows], dtype=numpy.float64)
with open(f"{sys.argv[2]}/expected.jsonl", "w") as out:
    for i, row in enumerate(m.predict_proba(X)):
        out.write(json.dumps({"id": f"r-{i}", "p": row.tolist()}) + "\n")
PY
SHA=$(sha256sum "$TMP/pipe.pkl" | cut -d' ' -f1)

config() { # FILE MODELS...: the demo's features, a schedule of the first two
  local file=$1
  shift
  {
    cat <<YAML
service: py
state_dir: $TMP/state
streams: {brokers: embedded}
input:
  features: $FEATURES
models:
YAML
    for m in "$@"; do echo "  - $m"; done
    echo "rendezvous:"
    echo "  schedule: [{model: pipe, within_ms: 3000}, {model: other, within_ms: 3000}]"
  } >"$file"
}
start_broker $(service_topics py)
config "$TMP/py.yaml" \
  "{name: pipe, plugin: $PLUG, max_batch: 64, queue_size: 4096, params: {model_file: $TMP/pipe.pkl, labels: \"malignant,benign\", model_sha256: $SHA}}" \
  "{name: other, plugin: $PLUG, max_batch: 64, queue_size: 4096, params: {module: $TMP/model.py, model_file: $TMP/pipe.pkl}}"
start_host "$TMP/py.yaml" "$TMP/py.log"
awk '{ printf "r-%d:%s\n", NR - 1, $0 }' "$DATA" | kcat -P -b "$BOOTSTRAP" -t py.requests -K:
wait_count py.results "$N" 120
wait_count py.scores $((2 * N)) 60
consume py.scores >"$TMP/scores"
$PY - "$TMP/scores" "$TMP/expected.jsonl" "$N" <<'PY'
import json, sys
want = {e["id"]: e["p"] for e in map(json.loads, open(sys.argv[2]))}
labels = ["malignant", "benign"]
worst, seen = {}, {}
for rec in map(json.loads, open(sys.argv[1])):
    m = rec["model"]
    assert rec["status"] == "ok", rec
    assert len(rec["answers"]) == 2, rec
    for a in rec["answers"]:
        d = abs(a["score"] - want[rec["id"]][labels.index(a["label"])])
        worst[m] = max(worst.get(m, 0.0), d)
    seen[m] = seen.get(m, 0) + 1
n = int(sys.argv[3])
assert seen == {"pipe": n, "other": n}, seen
assert max(worst.values()) <= 1e-12, worst
print(f"max abs diff {max(worst.values()):.1e}")
PY
pass "a scikit-learn Pipeline served from its pickle and through a module: all $N demo rows as its predict_proba in Python (max abs diff <= 1e-12)"

# a changed module is a new model on SIGHUP; the unchanged pickle model is
# shared; a pin that does not match is refused and the models serve on
echo "# a comment: another file" >>"$TMP/model.py"
kill -HUP "$HOST_PID"
wait_log "$TMP/py.log" "generation 2 built in .*: 1 model(s) reused, 1 new" 1 60
grep -q "model other warmed on" "$TMP/py.log" || fail "the changed module's model was not warmed"
sed -i "s/model_sha256: $SHA/model_sha256: $(printf '0%.0s' $(seq 64))/" "$TMP/py.yaml"
kill -HUP "$HOST_PID"
for _ in $(seq 300); do grep -q "reload: failed" "$TMP/py.log" && break; sleep 0.1; done
grep "reload: failed" "$TMP/py.log" | grep -q "refused: its sha256 is $SHA, the config pins 0000" ||
  fail "a wrong pin was not refused: $(grep reload "$TMP/py.log" | tail -3)"
stop_host
pass "a changed module is a new model on SIGHUP (warmed), the unchanged pickle's model reused; a wrong model_sha256 is refused at reload with the digest"

# faults cost that model only: each module below fails its own way; the
# pickle model answers every request
fault() { # NAME BODY [MAX_SCORE_MS]: a module whose predict(model, X) runs BODY
  printf 'import ctypes, os, socket, subprocess, time\nimport numpy\nLABELS = ["malignant", "benign"]\nkept = []\ndef predict(model, X):\n    %s\n' "$2" >"$TMP/fault_$1.py"
  echo "{name: $1, plugin: $PLUG, max_batch: 64, queue_size: 4096, max_score_ms: ${3:-2000}, max_memory_mb: 1024, params: {module: $TMP/fault_$1.py}}"
}
# beside them, a module that finds X where the host laid the batch out: in
# the memory the model process shares with it (no copy), read-only
cat >"$TMP/view.py" <<'PY'
import numpy
LABELS = ["malignant", "benign"]
def predict(model, X):
    at = X.__array_interface__["data"][0]
    for line in open("/proc/self/maps"):
        span, rest = line.split(" ", 1)
        lo, hi = (int(v, 16) for v in span.split("-"))
        if lo <= at < hi:
            if "/memfd:rv-model-channel" not in rest:
                raise ValueError("X is a copy, in " + (rest.split()[4:] or ["anonymous memory"])[0])
            break
    else:
        raise ValueError("X lies in no mapping")
    if X.flags.writeable:
        raise ValueError("X is writeable")
    return numpy.tile([0.25, 0.75], (len(X), 1))
PY
config "$TMP/faults.yaml" \
  "{name: pipe, plugin: $PLUG, max_batch: 64, queue_size: 4096, params: {model_file: $TMP/pipe.pkl, labels: \"malignant,benign\"}}" \
  "{name: view, plugin: $PLUG, max_batch: 64, queue_size: 4096, params: {module: $TMP/view.py}}" \
  "$(fault raises 'raise ValueError("no model for these rows")')" \
  "$(fault shape 'return numpy.zeros((len(X), 3))')" \
  "$(fault nan 'return numpy.full((len(X), 2), numpy.nan)')" \
  "$(fault sleeps 'time.sleep(30)')" \
  "$(fault segfault 'ctypes.string_at(0)')" \
  "$(fault leaks 'kept.append(numpy.ones(512 << 20, dtype=numpy.uint8)); return numpy.full((len(X), 2), 0.5)' 20000)" \
  "$(fault socket 'socket.create_connection(("127.0.0.1", 9))')" \
  "$(fault runs 'subprocess.run(["/bin/true"])')"
sed -i 's/schedule: \[{model: pipe, within_ms: 3000}, {model: other, within_ms: 3000}\]/schedule: [{model: pipe, within_ms: 3000}]/' "$TMP/faults.yaml"
sed -i 's/^service: py/service: pyf/' "$TMP/faults.yaml"
start_broker $(service_topics pyf)
start_host "$TMP/faults.yaml" "$TMP/faults.log"
head -200 "$DATA" | awk '{ printf "f-%d:%s\n", NR - 1, $0 }' | kcat -P -b "$BOOTSTRAP" -t pyf.requests -K:
wait_count pyf.results 200 120
# each fault model's records (a model that leaks takes seconds to fill its
# address space on busy cores: its first error can come well after the
# results), then the slow and the restarted models' last ones
for _ in $(seq 300); do
  consume pyf.scores | $PY -c '
import json, sys
by = {}
for s in (json.loads(l) for l in sys.stdin if l.strip()):
    by.setdefault(s["model"], set()).add(s["status"])
faults = ["raises", "shape", "nan", "sleeps", "segfault", "socket", "runs", "leaks"]
done = all(by.get(m) for m in faults) and (sys.argv[1] == "ON" or "error" in by["leaks"])
sys.exit(0 if done else 1)' "${RV_SANITIZED:-OFF}" && break
  sleep 0.2
done
sleep 2
consume pyf.results >"$TMP/f.results"
consume pyf.scores >"$TMP/f.scores"
kill -0 "$HOST_PID" || fail "the host died"
$PY - "$TMP/f.results" "$TMP/f.scores" "${RV_SANITIZED:-OFF}" <<'PY'
import json, sys
sanitized = sys.argv[3] == "ON"  # no address-space limit under ASan
results = [json.loads(l) for l in open(sys.argv[1])]
assert len({r["id"] for r in results}) == 200 and all(r["reason"] == "preferred" and r["model"] == "pipe" for r in results), results[:2]
by = {}
for s in map(json.loads, open(sys.argv[2])):
    by.setdefault(s["model"], []).append(s)
want = {
    "raises": "ValueError: no model for these rows",
    "shape": "predict returned shape (",
    "nan": "not a probability",
    "socket": "PermissionError: [Errno 1] Operation not permitted",
    "runs": "PermissionError: [Errno 1] Operation not permitted",
    "leaks": "MemoryError",
}
if sanitized:
    del want["leaks"]
for m, reason in want.items():
    errs = [s for s in by.get(m, []) if s["status"] == "error"]
    assert any(reason in s["error"] for s in errs), (m, by.get(m, [])[:2])
for m in ("sleeps", "segfault"):
    assert by.get(m) and all(s["status"] != "ok" for s in by[m]), (m, by.get(m, [])[:2])
view = by.get("view", [])
assert len(view) == 200 and all(s["status"] == "ok" for s in view), [s for s in view if s["status"] != "ok"][:2] or len(view)
print(" ".join(f"{m}: {sum(s['status'] != 'ok' for s in by.get(m, []))}" for m in list(want) + ["sleeps", "segfault"]))
PY
[ "${RV_SANITIZED:-OFF}" = ON ] || grep -q "segfault.*\(signal 11\|SIGSEGV\|Segmentation\)" "$TMP/faults.log" ||
  fail "the segfault was not seen as one: $(grep segfault "$TMP/faults.log" | tail -3)"
stop_host
pass "faults cost that model only: a module that raises, returns the wrong shape or NaN, sleeps past max_score_ms, segfaults through ctypes, leaks past max_memory_mb, opens a socket or runs a program; the pickle model answered all 200; X was a read-only view of the shared memory in all 200"
