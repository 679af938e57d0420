#!/usr/bin/env bash
# A remote model (`remote: true`) scored by the Python scorer of
# examples/python_scorer (confluent-kafka + XGBoost, another process): its
# answers are chosen while it runs; killed -9, the local fallback answers
# every request; started again, it is preferred again. Every request is
# answered exactly once throughout.
. "$(dirname "$0")/lib.sh"
N=400
PARTITIONS=4 start_broker $(service_topics rem)
# the demo's features: the data set's names, spaces as underscores
FEATURES=$($PY -c '
from sklearn.datasets import load_breast_cancer
print(",".join(n.replace(" ", "_") for n in load_breast_cancer().feature_names))')
MODELS=$RV_SOURCE_DIR/conf/models

cat >"$TMP/rem.yaml" <<YAML
service: rem
state_dir: $TMP/state-rem
streams: {brokers: embedded}
input: {features: [${FEATURES//,/, }]}
models:
  - {name: xgb-py, remote: true, labels: [malignant, benign]}
  - name: linear-v1
    plugin: $RV_BUILD_DIR/plugins/liblinear_model.so
    params: {model_file: $MODELS/breast_cancer-linear.json}
rendezvous:
  schedule: [{model: xgb-py, within_ms: 500}, {model: linear-v1, within_ms: 1000}]
YAML

start_scorer() { # log
  $PY "$RV_SOURCE_DIR/examples/python_scorer/scorer.py" --brokers "$BOOTSTRAP" --service rem \
    --model xgb-py --model-file "$MODELS/breast_cancer-xgb.json" --features "$FEATURES" \
    --labels malignant,benign >"$1" 2>&1 &
  SCORER_PID=$!
  echo "$SCORER_PID" >>"$TMP/pids"
  wait_log "$1" "^assigned [1-9]" 1 60
}

# send FIRST LAST: the data set's rows as requests rem-FIRST..rem-LAST.
send() {
  $PY - "$1" "$2" <<'PY' | kcat -P -b "$BOOTSTRAP" -t rem.requests -K'|'
import json, sys
from sklearn.datasets import load_breast_cancer
d = load_breast_cancer()
names = [n.replace(" ", "_") for n in d.feature_names]
for i in range(int(sys.argv[1]), int(sys.argv[2]) + 1):
    row = d.data[i % len(d.data)]
    print(f"rem-{i}|" + json.dumps(dict(zip(names, map(float, row)))))
PY
}

# chosen FIRST LAST MODEL REASON MIN_SHARE: each of rem-FIRST..rem-LAST has
# exactly one result, and at least MIN_SHARE of them chose MODEL for REASON.
chosen() {
  wait_count rem.results "$2" 60
  consume rem.results >"$TMP/results"
  $PY - "$TMP/results" "$@" <<'PY'
import collections, json, sys
path, first, last, model, reason, share = sys.argv[1:]
rs = [json.loads(l) for l in open(path)]
count = collections.Counter(r["id"] for r in rs)
ids = [f"rem-{i}" for i in range(int(first), int(last) + 1)]
missing = [i for i in ids if count[i] == 0]
assert not missing, f"{len(missing)} without a result, e.g. {missing[:5]}"
twice = [k for k, v in count.items() if v > 1]
assert not twice, f"{len(twice)} answered twice, e.g. {twice[:5]}"
mine = [r for r in rs if r["id"] in set(ids)]
hit = [r for r in mine if r["model"] == model and r["reason"] == reason]
assert len(hit) >= float(share) * len(ids), \
    f"{len(hit)} of {len(ids)} chose {model} ({reason}); e.g. {[r for r in mine if r not in hit][:2]}"
print(f"rem-{first}..rem-{last}: {len(hit)} of {len(ids)} chose {model} ({reason})")
PY
}

start_host "$TMP/rem.yaml" "$TMP/rem.log"
start_scorer "$TMP/scorer1.log"
send 1 $N
chosen 1 $N xgb-py preferred 0.95
pass "the remote Python scorer's answers are chosen"

kill -9 "$SCORER_PID"
wait "$SCORER_PID" 2>/dev/null || true
send $((N + 1)) $((2 * N))
chosen $((N + 1)) $((2 * N)) linear-v1 fallback 1.0
pass "scorer killed -9: the local fallback answers every request, once"

start_scorer "$TMP/scorer2.log"
send $((2 * N + 1)) $((3 * N))
chosen $((2 * N + 1)) $((3 * N)) xgb-py preferred 0.9
stop_host
pass "scorer started again: the remote model is preferred again"
grep -q "reading remote scores from rem.scores" "$TMP/rem.log" || fail "no remote reader in the log"
