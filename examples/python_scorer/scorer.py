#!/usr/bin/python3
"""A remote model in Python: reads a Rendezvous service's requests, scores
them with an XGBoost model and writes the host's score records, so that a
host whose config names the model with `remote: true` joins its answers.

    /usr/bin/python3 scorer.py --brokers HOST:PORT --service demo \\
        --model xgb-py --model-file model.json --features f1,f2,... \\
        --labels malignant,benign

The contract, whatever the language (docs/records.md, "Scores"):
- read `<service>.requests` in a consumer group of your own (replicas of
  this scorer share its partitions); the request id is the `rv-id` header,
  else the key; the body is one JSON object, each feature a field;
- write one record per request to `<service>.scores`, to the request's
  partition number, key the id, value
  {"id": ..., "model": ..., "version": ..., "status": "ok", "latency_us": ...,
   "answers": [{"label": ..., "score": ...}, ...]}   (best first)
  or "status": "error" with "error": "<why>";
- commit a request's offset only after its score record is acknowledged.

Every client setting below that the host's deadline depends on is explained
in docs/records.md, "What the host's deadline needs from a scorer".
"""
import argparse
import hashlib
import json
import math
import signal
import sys
import time

import numpy as np
import xgboost
from confluent_kafka import Consumer, Producer, TopicPartition

BATCH = 64


def request_id(msg):
    for name, value in msg.headers() or []:
        if name == "rv-id" and value is not None:
            return value.decode("utf-8", "replace")
    key = msg.key()
    return key.decode("utf-8", "replace") if key else None


def features_of(body, names):
    """The feature vector, NaN for a missing one; ValueError on a bad body."""
    doc = json.loads(body)
    if not isinstance(doc, dict):
        raise ValueError("the body is not a JSON object")
    row = []
    for name in names:
        v = doc.get(name)
        if v is None:
            row.append(math.nan)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            row.append(float(v))
        else:
            raise ValueError(f"feature {name} is not a finite number")
    return row


def answers_of(probs, labels):
    """Every label with its probability, best first."""
    if len(labels) == 2 and np.ndim(probs) == 0:
        probs = [1.0 - float(probs), float(probs)]
    pairs = [{"label": l, "score": float(p)} for l, p in zip(labels, probs)]
    return sorted(pairs, key=lambda a: -a["score"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--service", required=True)
    ap.add_argument("--model", required=True, help="the model's name in the host's config")
    ap.add_argument("--model-file", required=True, help="an XGBoost model (JSON or UBJSON)")
    ap.add_argument("--features", required=True, help="comma-separated, the config's order")
    ap.add_argument("--labels", required=True, help="comma-separated, class 0 first")
    ap.add_argument("--group", help="consumer group (default <service>.scorer.<model>)")
    a = ap.parse_args()
    names = a.features.split(",")
    labels = a.labels.split(",")
    booster = xgboost.Booster()
    booster.load_model(a.model_file)
    # one thread: OpenMP threads spin between calls, taking the CPU that the
    # host and the broker need to meet the deadline (docs/records.md)
    booster.set_param({"nthread": 1})
    with open(a.model_file, "rb") as f:
        version = "py" + hashlib.sha256(f.read()).hexdigest()[:6]

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    consumer = Consumer({
        "bootstrap.servers": a.brokers,
        "group.id": a.group or f"{a.service}.scorer.{a.model}",
        "enable.auto.commit": False,
        "auto.offset.reset": "latest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        # a fetch returns within 10 ms even with little data: the answer
        # has a deadline (a real broker answers at once when data comes; an
        # embedded one waits this long; docs/records.md)
        "fetch.wait.max.ms": 10,
    })
    # produce at once, not after librdkafka's default 5 ms (docs/records.md)
    producer = Producer({"bootstrap.servers": a.brokers, "linger.ms": 1})
    consumer.subscribe([f"{a.service}.requests"],
                       on_assign=lambda c, ps: print(f"assigned {len(ps)} partition(s)", flush=True))
    scores = f"{a.service}.scores"
    # the scores topic's metadata before the first answer: a first produce
    # to an unknown topic waits ~0.9 s for it (docs/records.md)
    producer.list_topics(scores, timeout=10)
    while not stop:
        msgs = [m for m in consumer.consume(BATCH, 0.01) if not m.error()]
        if not msgs:
            continue
        rows, ok, records = [], [], []
        for m in msgs:
            rid = request_id(m)
            if rid is None:
                continue
            try:
                rows.append(features_of(m.value(), names))
                ok.append((m, rid))
            except ValueError as e:
                records.append((m, rid, {"status": "error", "error": str(e), "answers": []}))
        if rows:
            t0 = time.monotonic()
            probs = booster.inplace_predict(np.asarray(rows, dtype=np.float64))
            us = int((time.monotonic() - t0) * 1e6)
            for (m, rid), p in zip(ok, probs):
                records.append((m, rid, {"status": "ok", "latency_us": us,
                                         "answers": answers_of(p, labels)}))
        for m, rid, fields in records:
            value = {"id": rid, "model": a.model, "version": version, **fields}
            producer.produce(scores, json.dumps(value).encode(), key=rid.encode(),
                             partition=m.partition())
        if producer.flush(30) == 0:  # acknowledged: now the offsets
            ends = {}
            for m in msgs:
                ends[(m.topic(), m.partition())] = max(ends.get((m.topic(), m.partition()), 0),
                                                       m.offset() + 1)
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in ends.items()],
                            asynchronous=True)
    consumer.close()
    producer.flush(30)


if __name__ == "__main__":
    sys.exit(main())
