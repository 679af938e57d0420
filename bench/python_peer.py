#!/usr/bin/python3
"""python_peer.py - the scoring loop a user writes today without Rendezvous.

The benchmark's peer for the xgboost scenario (bench/run.sh peer): a
confluent-kafka consumer that parses each request, scores it with the same
XGBoost model the host serves (xgboost.Booster loaded from
conf/models/breast_cancer-xgb.json) and produces a result
{"id": <key>, "answers": [{"label", "score"}, ...]} to the results topic, on
the request's partition. Same broker, same data, same producer settings as
the host (idempotence, acks=all, linger.ms=1); offsets are auto-committed,
as such loops usually do.

Two modes:
  --batch 0 (default): one DMatrix and one predict() per message - the loop
      as it is usually written (and as the XGBoost docs show it);
  --batch N: consume() up to N messages, one DMatrix and one predict() for
      the lot - the best a careful user does without a serving host.

Runs until SIGTERM/SIGINT or --max-seconds; prints a summary on stderr.
Run with /usr/bin/python3 (Debian's python3-xgboost, python3-confluent-kafka).
"""
import argparse
import json
import math
import signal
import sys
import time

import numpy as np
import xgboost as xgb
from confluent_kafka import Consumer, KafkaError, Producer

stop = False


def on_stop(signum, frame):
    global stop
    stop = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-b", "--bootstrap", required=True)
    ap.add_argument("--requests", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--model", required=True, help="XGBoost model (JSON)")
    ap.add_argument("--features", required=True,
                    help="JSON file whose 'features' list gives the column order")
    ap.add_argument("--labels", default="malignant,benign")
    ap.add_argument("--group", default="python-peer")
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=3600)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)

    features = json.load(open(a.features))["features"]
    labels = a.labels.split(",")
    booster = xgb.Booster()
    booster.load_model(a.model)

    consumer = Consumer({"bootstrap.servers": a.bootstrap, "group.id": a.group,
                         "auto.offset.reset": "earliest", "fetch.wait.max.ms": 10})
    producer = Producer({"bootstrap.servers": a.bootstrap, "enable.idempotence": True,
                         "acks": "all", "linger.ms": 1})
    consumer.subscribe([a.requests],
                       on_assign=lambda c, ps: print(f"python_peer: assigned {len(ps)} "
                                                     "partition(s)", file=sys.stderr,
                                                     flush=True))
    print(f"python_peer: serving {a.requests} -> {a.results} "
          f"({'per message' if a.batch <= 0 else f'batches of {a.batch}'})",
          file=sys.stderr, flush=True)

    def row(value):
        req = json.loads(value)
        return [float(req.get(f, math.nan)) for f in features]

    def emit(msg, p):
        key = msg.key().decode() if msg.key() is not None else \
            f"{msg.topic()}-{msg.partition()}-{msg.offset()}"
        out = {"id": key, "answers": [{"label": labels[0], "score": float(1.0 - p)},
                                      {"label": labels[1], "score": float(p)}]}
        while True:
            try:
                producer.produce(a.results, key=key, value=json.dumps(out),
                                 partition=msg.partition())
                break
            except BufferError:
                producer.poll(0.01)

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
        if a.batch <= 0:
            for m in good:
                p = booster.predict(xgb.DMatrix(np.array([row(m.value())], dtype=np.float32)))[0]
                emit(m, p)
        else:
            ps = booster.predict(xgb.DMatrix(np.array([row(m.value()) for m in good],
                                                      dtype=np.float32)))
            for m, p in zip(good, ps):
                emit(m, p)
        n += len(good)
        producer.poll(0)
    left = producer.flush(10)
    consumer.close()
    print(f"python_peer: {n} requests scored, {left} result(s) not flushed", file=sys.stderr)


if __name__ == "__main__":
    main()
