#!/usr/bin/env bash
# TorchScript models (plugins/torch) through the real host, in sandboxed
# model processes: the demo's small MLP (scripts/train_python_models.py,
# Debian's python3-torch, torch.jit.save) answers every demo row as model(x) in Python
# (max abs diff <= 1e-6), once returning probabilities and once logits
# (softmax in the plugin); a pin that does not match is refused with the
# digest; a network of the wrong output width fails its batches, costing
# that model only.
. "$(dirname "$0")/lib.sh"
PLUG=$RV_BUILD_DIR/plugins/libtorch_model.so
DATA=$RV_SOURCE_DIR/conf/data/breast_cancer.jsonl
FEATURES=$(sed -n '/^  features: \[/,/\]/p' "$RV_SOURCE_DIR/conf/demo.yaml" | tr -d '\n' |
  sed 's/^ *features: //')
N=$(wc -l <"$DATA")

# the demo's MLP (scripts/train_python_models.py) and two more, and the
# reference: model(x) in Python on every demo row
RV_TRAIN_TEST_MODELS=1 $PY "$RV_SOURCE_DIR/scripts/train_python_models.py" "$TMP" >/dev/null
mv "$TMP/breast_cancer-mlp.pt" "$TMP/mlp.pt"
mv "$TMP/breast_cancer-mlp-logits.pt" "$TMP/mlp-logits.pt"
mv "$TMP/breast_cancer-mlp-wide.pt" "$TMP/wide.pt"
$PY - "$DATA" "$TMP" <<'PY'
import json, sys
import torch
rows = torch.tensor([list(json.loads(l).values()) for l in open(sys.argv[1])], dtype=torch.float64)
ref = torch.jit.load(f"{sys.argv[2]}/mlp.pt")
with torch.no_grad():
    p = ref(rows.to(torch.float32)).to(torch.float64)
with open(f"{sys.argv[2]}/expected.jsonl", "w") as f:
    for i, row in enumerate(p.tolist()):
        f.write(json.dumps({"id": f"t-{i}", "p": row}) + "\n")
PY
SHA=$(sha256sum "$TMP/mlp.pt" | cut -d' ' -f1)

start_broker $(service_topics tm)
cat >"$TMP/tm.yaml" <<YAML
service: tm
state_dir: $TMP/state
streams: {brokers: embedded}
input:
  features: $FEATURES
models:
  - {name: mlp, plugin: $PLUG, max_batch: 64, queue_size: 4096,
     params: {model_file: $TMP/mlp.pt, labels: "malignant,benign", model_sha256: $SHA, threads: 1}}
  - {name: logits, plugin: $PLUG, max_batch: 64, queue_size: 4096,
     params: {model_file: $TMP/mlp-logits.pt, labels: "malignant,benign", output: logits}}
  - {name: wide, plugin: $PLUG, max_batch: 64, queue_size: 4096,
     params: {model_file: $TMP/wide.pt, labels: "malignant,benign"}}
rendezvous:
  schedule: [{model: mlp, within_ms: 3000}]
YAML
start_host "$TMP/tm.yaml" "$TMP/tm.log"
awk '{ printf "t-%d:%s\n", NR - 1, $0 }' "$DATA" | kcat -P -b "$BOOTSTRAP" -t tm.requests -K:
wait_count tm.results "$N" 120
wait_count tm.scores $((3 * N)) 60
consume tm.scores >"$TMP/scores"
$PY - "$TMP/scores" "$TMP/expected.jsonl" "$N" <<'PY'
import json, sys
want = {e["id"]: e["p"] for e in map(json.loads, open(sys.argv[2]))}
labels, n = ["malignant", "benign"], int(sys.argv[3])
worst, seen = {}, {}
for rec in map(json.loads, open(sys.argv[1])):
    m = rec["model"]
    seen[m] = seen.get(m, 0) + 1
    if m == "wide":
        assert rec["status"] == "error" and "forward returned shape [" in rec["error"], rec
        continue
    assert rec["status"] == "ok", rec
    for a in rec["answers"]:
        worst[m] = max(worst.get(m, 0.0), abs(a["score"] - want[rec["id"]][labels.index(a["label"])]))
assert seen == {"mlp": n, "logits": n, "wide": n}, seen
assert max(worst.values()) <= 1e-6, worst
print(" ".join(f"{m}: max abs diff {d:.1e}" for m, d in worst.items()))
PY
pass "a TorchScript MLP: all $N demo rows as model(x) in Python (<= 1e-6), as probabilities and as logits; one of the wrong width fails its batches, the others answer"

sed -i "s/model_sha256: $SHA/model_sha256: $(printf '0%.0s' $(seq 64))/" "$TMP/tm.yaml"
kill -HUP "$HOST_PID"
for _ in $(seq 300); do grep -q "reload: failed" "$TMP/tm.log" && break; sleep 0.1; done
grep "reload: failed" "$TMP/tm.log" | grep -q "refused: its sha256 is $SHA, the config pins 0000" ||
  fail "a wrong pin was not refused: $(grep reload "$TMP/tm.log" | tail -3)"
stop_host
pass "a wrong model_sha256 is refused at reload with the digest; the running models serve on"
