#!/usr/bin/python3
"""python_peer.py - the scoring loop a user writes today without Rendezvous.

The benchmark's peer for the xgboost scenario (bench/run.sh peer): a
confluent-kafka consumer that parses each request, scores it with the same
XGBoost model the host serves (xgboost.Booster loaded from
conf/models/breast_cancer-xgb.json; or, with --pickle, the pickled
scikit-learn model the Python plugin serves) and produces a result
{"id": <key>, "answers": [{"label", "score"}, ...]} to the results topic, on
the request's partition. Same broker, same data, same producer settings as
the host (idempotence, acks=all, linger.ms=1); offsets are auto-committed,
as such loops usually do.

Two modes:
  --batch 0 (default): one DMatrix and one predict() per message - the loop
      as it is usually written (and as the XGBoost docs show it);
  --batch N: consume() up to N messages, one DMatrix and one predict() for
      the lot - the best a careful user does without a serving host.

--whole (with --scores, --archive, --linear, --canary) does the demo host's
whole work, so that the comparison is of equal work: every model scores
every request (the XGBoost model, the logistic fallback and the logistic
canary, in numpy over the batch), and the peer writes the host's records
(docs/records.md) - one score record per model to the scores topic, the
decoy's copy (the request's key, value and headers plus the provenance
headers) to the archive topic, and the result with every model's status and
latency - 5 records per request, on the request's partition, keyed by its id.

Runs until SIGTERM/SIGINT or --max-seconds; prints a summary on stderr.
Run with /usr/bin/python3 (Debian's python3-xgboost, python3-confluent-kafka).
"""
import argparse
import hashlib
import json
import math
import signal
import sys
import time

import numpy as np
import xgboost as xgb
from confluent_kafka import Consumer, KafkaError, Producer

stop = False


def dumps(record):  # compact, as the host writes its records
    return json.dumps(record, separators=(",", ":"))


def on_stop(signum, frame):
    global stop
    stop = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-b", "--bootstrap", required=True)
    ap.add_argument("--requests", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--model", help="XGBoost model (JSON)")
    ap.add_argument("--pickle", help="instead of --model: a pickled model with predict_proba "
                    "(the Python plugin's scenario; not with --whole)")
    ap.add_argument("--features", required=True,
                    help="JSON file whose 'features' list gives the column order")
    ap.add_argument("--labels", default="malignant,benign")
    ap.add_argument("--group", default="python-peer")
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=3600)
    ap.add_argument("--whole", action="store_true",
                    help="the demo host's whole work (needs the four options below)")
    ap.add_argument("--scores", help="scores topic (--whole)")
    ap.add_argument("--archive", help="archive topic (--whole)")
    ap.add_argument("--linear", help="the fallback's logistic model file (--whole)")
    ap.add_argument("--canary", help="the canary's logistic model file (--whole)")
    a = ap.parse_args()
    if a.whole and not (a.scores and a.archive and a.linear and a.canary):
        ap.error("--whole needs --scores, --archive, --linear and --canary")
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)

    features = json.load(open(a.features))["features"]
    labels = a.labels.split(",")
    if bool(a.model) == bool(a.pickle) or (a.pickle and a.whole):
        ap.error("give --model or --pickle (and --pickle not with --whole)")
    if a.pickle:
        import pickle
        with open(a.pickle, "rb") as f:
            model = pickle.load(f)

        def score(x):  # the positive label's probability, as the booster gives
            return model.predict_proba(x)[:, 1]
    else:
        booster = xgb.Booster()
        booster.load_model(a.model)

        def score(x):
            return booster.predict(xgb.DMatrix(x.astype(np.float32)))

    consumer = Consumer({"bootstrap.servers": a.bootstrap, "group.id": a.group,
                         "auto.offset.reset": "earliest", "fetch.wait.max.ms": 10})
    producer = Producer({"bootstrap.servers": a.bootstrap, "enable.idempotence": True,
                         "acks": "all", "linger.ms": 1})
    consumer.subscribe([a.requests],
                       on_assign=lambda c, ps: print(f"python_peer: assigned {len(ps)} "
                                                     "partition(s)", file=sys.stderr,
                                                     flush=True))
    print(f"python_peer: serving {a.requests} -> {a.results} "
          f"({'per message' if a.batch <= 0 else f'batches of {a.batch}'}"
          f"{', the whole work' if a.whole else ''})",
          file=sys.stderr, flush=True)

    def row(value):
        req = json.loads(value)
        return [float(req.get(f, math.nan)) for f in features]

    def request_id(msg):
        for name, value in msg.headers() or []:
            if name == "rv-id" and value is not None:
                return value.decode()
        if msg.key() is not None:
            return msg.key().decode()
        return f"{msg.topic()}-{msg.partition()}-{msg.offset()}"

    def produce(topic, msg, key, value, headers=None):
        while True:
            try:
                producer.produce(topic, key=key, value=value, headers=headers,
                                 partition=msg.partition())
                return
            except BufferError:
                producer.poll(0.01)

    def answers(p):  # both labels, best first, as the host ranks them
        pair = [{"label": labels[0], "score": float(1.0 - p)},
                {"label": labels[1], "score": float(p)}]
        return pair if pair[0]["score"] >= pair[1]["score"] else pair[::-1]

    def emit(msg, p):
        key = request_id(msg)
        produce(a.results, msg, key, dumps({"id": key, "answers": answers(p)}))

    def version(path):  # the host hashes plugin, params and features; the file will do
        return hashlib.sha256(open(path, "rb").read()).hexdigest()[:8]

    def logistic(path):  # a function of the batch's rows -> P(labels[1]), as linear_model.c
        m = json.load(open(path))
        cols = [features.index(f) for f in m["features"]]
        w, b = np.array(m["coef"][0]), m["intercept"][0]

        def predict(x):
            with np.errstate(over="ignore"):
                return 1.0 / (1.0 + np.exp(-(x[:, cols] @ w + b)))
        return predict

    if a.whole:  # conf/demo.yaml's models, in its schedule's order, then the canary
        models = [("xgb-v1", version(a.model),
                   lambda x: booster.predict(xgb.DMatrix(x.astype(np.float32)))),
                  ("linear-v1", version(a.linear), logistic(a.linear)),
                  ("canary", version(a.canary), logistic(a.canary))]

    def emit_whole(msgs, read_us):
        x = np.array([row(m.value()) for m in msgs], dtype=np.float64)
        probs = [predict(x) for _, _, predict in models]
        scored_us = int(time.monotonic() * 1e6) - read_us
        status = {name: {"status": "ok", "latency_us": scored_us} for name, _, _ in models}
        for i, msg in enumerate(msgs):
            key = request_id(msg)
            for (name, ver, _), p in zip(models, probs):
                produce(a.scores, msg, key, dumps(
                    {"id": key, "model": name, "version": ver, "status": "ok",
                     "latency_us": scored_us, "answers": answers(p[i])}))
            ts_type, ts = msg.timestamp()
            provenance = [("rv-id", key.encode()), ("rv-topic", msg.topic().encode()),
                          ("rv-partition", str(msg.partition()).encode()),
                          ("rv-offset", str(msg.offset()).encode()),
                          ("rv-timestamp", str(ts if ts_type else -1).encode())]
            produce(a.archive, msg, msg.key(), msg.value(),
                    list(msg.headers() or []) + provenance)
            produce(a.results, msg, key, dumps(
                {"id": key, "model": models[0][0], "version": models[0][1],
                 "reason": "preferred", "rank": 0, "answers": answers(probs[0][i]),
                 "latency_us": int(time.monotonic() * 1e6) - read_us, "schedule_version": 1,
                 "models": status}))

    n = 0
    end = time.monotonic() + a.max_seconds
    while not stop and time.monotonic() < end:
        if a.batch <= 0:
            msg = consumer.poll(0.1)
            msgs = [msg] if msg is not None else []
        else:
            msgs = consumer.consume(num_messages=a.batch, timeout=0.1)
        good = []
        for m in msgs:
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    print(f"python_peer: {m.error()}", file=sys.stderr)
                continue
            good.append(m)
        if not good:
            producer.poll(0)
            continue
        if a.whole:
            emit_whole(good, int(time.monotonic() * 1e6))
        elif a.batch <= 0:
            for m in good:
                emit(m, score(np.array([row(m.value())]))[0])
        else:
            ps = score(np.array([row(m.value()) for m in good]))
            for m, p in zip(good, ps):
                emit(m, p)
        n += len(good)
        producer.poll(0)
    left = producer.flush(10)
    consumer.close()
    print(f"python_peer: {n} requests scored, {left} result(s) not flushed", file=sys.stderr)


if __name__ == "__main__":
    main()
