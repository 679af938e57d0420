#!/usr/bin/env bash
# The demo, end to end on the embedded broker: set up, build, start the host
# on conf/demo.yaml, send the breast-cancer data set through Kafka with kcat,
# read every result back, stop the host with SIGTERM, and print a report.
#
#   bash scripts/demo.sh           on the embedded broker
#   bash scripts/demo.sh --kafka   on a real Apache Kafka (a single-node
#                                  KRaft cluster from scripts/kafka.sh, its
#                                  topics made by `rendezvous topics --create`)
#   bash scripts/demo.sh --promotion  promotion by evidence (conf/promotion.yaml):
#                                  the weaker model first, labels arriving, the
#                                  stronger one put first when a test says so
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 0 ] || [ "$1" = --kafka ] || [ "$1" = --promotion ] || { sed -n '2,13p' "$0"; exit 2; }
bash scripts/setup.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

if [ "${1:-}" = --promotion ]; then
  work=$(mktemp -d /tmp/rendezvous-demo-XXXXXX)
  rm -rf conf/state/promotion
  ./build/rendezvous -c conf/promotion.yaml >"$work/host.out" 2>"$work/host.log" &
  host=$!
  trap 'kill -9 $host 2>/dev/null || true; rm -rf "$work"' EXIT
  for _ in $(seq 200); do
    grep -q "serving:" "$work/host.log" && break
    kill -0 $host 2>/dev/null || { cat "$work/host.log"; exit 1; }
    sleep 0.05
  done
  bootstrap=$(sed -n 's/.*bootstrap=\([^ ]*\).*/\1/p' "$work/host.log" | head -1)
  echo "host serving conf/promotion.yaml: small-v1 first, xgb-v1 scoring beside it"
  # the data set's rows over and over, each followed by its true label
  for pass in 1 2 3 4 5 6; do
    /usr/bin/python3 - "$pass" conf/data/breast_cancer.jsonl conf/data/breast_cancer.expected.jsonl \
      "$work/requests" "$work/labels" <<'PY'
import json, sys
p, rows, expected = sys.argv[1], open(sys.argv[2]).read().split("\n"), open(sys.argv[3])
with open(sys.argv[4], "w") as req, open(sys.argv[5], "w") as lab:
    for i, (row, e) in enumerate(zip(rows, map(json.loads, expected))):
        key = f"pass{p}-{i}"
        req.write(f"{key}:{row}\n")
        lab.write(f"{key}:{json.dumps({'id': key, 'label': e['label']})}\n")
PY
    kcat -P -b "$bootstrap" -t promo.requests -K: <"$work/requests"
    kcat -P -b "$bootstrap" -t promo.labels -K: <"$work/labels"
    echo "pass $pass: 569 requests and their labels"
    sleep 1
    curl -sf http://127.0.0.1:8471/v1/promotions >"$work/promotions.json" || true
    grep -q '"action":"promote"' "$work/promotions.json" && break
  done
  for _ in $(seq 100); do
    grep -q "schedule version 2" "$work/host.log" && break
    sleep 0.1
  done
  /usr/bin/python3 - "$work/promotions.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
d = [x for x in p["decisions"] if x["action"] == "promote"]
if not d:
    sys.exit(f"no promotion: {p}")
d = d[0]
print(f"promoted {d['challenger']} over {d['champion']} after {d['labels']} labelled requests: "
      f"{d['reason']}")
print(f"champion now: {p['champion']}")
PY
  grep "schedule version 2" "$work/host.log" | sed 's/^/  host: /'
  kill -TERM $host
  wait $host
  exit 0
fi

work=$(mktemp -d /tmp/rendezvous-demo-XXXXXX)
rm -rf conf/state/archive conf/state/evaluation # the decoy archive and the evaluation of this run only
host=""
trap '[ -z "$host" ] || kill -9 $host 2>/dev/null || true; [ ! -d "$work/kafka" ] || bash scripts/kafka.sh stop "$work/kafka" >/dev/null 2>&1; rm -rf "$work"' EXIT
brokers=()
if [ "${1:-}" = --kafka ]; then
  bootstrap=$(bash scripts/kafka.sh start "$work/kafka" 2>"$work/kafka.log" | sed -n 's/^bootstrap=//p')
  [ -n "$bootstrap" ] || { cat "$work/kafka.log"; exit 1; }
  ./build/rendezvous topics -c conf/demo.yaml -b "$bootstrap" --create | sed 's/^/  /'
  brokers=(-b "$bootstrap")
fi
./build/rendezvous -c conf/demo.yaml "${brokers[@]}" >"$work/host.out" 2>"$work/host.log" &
host=$!
for _ in $(seq 200); do
  grep -q "serving:" "$work/host.log" && break
  kill -0 $host 2>/dev/null || { cat "$work/host.log"; exit 1; }
  sleep 0.05
done
if [ ${#brokers[@]} -eq 0 ]; then
  bootstrap=$(sed -n 's/.*bootstrap=\([^ ]*\).*/\1/p' "$work/host.log" | head -1)
  echo "host serving on the embedded broker at $bootstrap"
else
  echo "host serving on Apache Kafka at $bootstrap"
fi

data=conf/data/breast_cancer.jsonl
n=$(wc -l <"$data")
# key = request id, so results can be joined with the true labels
awk '{ printf "breast_cancer-%d:%s\n", NR - 1, $0 }' "$data" |
  kcat -P -b "$bootstrap" -t demo.requests -K:
echo "produced $n requests to demo.requests with kcat"
for _ in $(seq 600); do
  got=$(kcat -C -b "$bootstrap" -t demo.results -o beginning -e -q 2>/dev/null | wc -l)
  [ "$got" -ge "$n" ] && break
  sleep 0.1
done
# the true labels of the held-out rows, as they would come later; the
# host joins them with every model's answers (GET /v1/evaluation)
held=$(/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("split", "test") == "test":
        print(r["id"] + ":" + json.dumps({"id": r["id"], "label": r["label"]}))' \
  conf/data/breast_cancer.expected.jsonl | tee "$work/labels" | wc -l)
kcat -P -b "$bootstrap" -t demo.labels -K: <"$work/labels"
echo "produced $held true labels (the held-out rows) to demo.labels"
for _ in $(seq 300); do
  curl -sf http://127.0.0.1:8470/v1/evaluation >"$work/evaluation.json" 2>/dev/null &&
    /usr/bin/python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["counts"]["joined"] < int(sys.argv[2]))' \
      "$work/evaluation.json" "$held" && break
  sleep 0.1
done
for t in results scores alerts; do
  kcat -C -b "$bootstrap" -t "demo.$t" -o beginning -e -q >"$work/$t.jsonl" 2>/dev/null
done
cp "$work/results.jsonl" conf/state/results.jsonl # for rendezvous rate --results
# the archive topic holds each request's exact copy; archive cat shows it as JSON
./build/rendezvous archive cat --topic demo.archive -b "$bootstrap" >"$work/archive.jsonl"
kill -TERM $host
wait $host
echo "host stopped with SIGTERM: drained, flushed, committed; its summary:"
sed -n '/^summary:/,/memory:/p' "$work/host.log" | sed 's/^/  /'
/usr/bin/python3 scripts/demo_report.py "$work" conf/data/breast_cancer.expected.jsonl "$n"
echo "decoy archive files: $(./build/rendezvous archive cat conf/state/archive | wc -l) records in conf/state/archive"
# before a candidate goes live: the archived traffic through it, offline
/usr/bin/python3 -c '
import json, sys
print("id,label")
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r["id"] + "," + r["label"])' conf/data/breast_cancer.expected.jsonl >conf/state/labels.csv
echo "conf/candidate.yaml (linear-v1 preferred) rated on the archive:"
./build/rendezvous rate -c conf/candidate.yaml conf/state/archive --labels conf/state/labels.csv \
  --results conf/state/results.jsonl | sed 's/^/  /'
