#!/usr/bin/python3
"""The lag of a mirror between two sites: records produced at SOURCE on
TOPIC at RATE a second for DURATION seconds, read at TARGET on the remote
topic PREFIX.TOPIC (MirrorMaker 2's default replication policy); each
record's lag is its arrival at TARGET less its timestamp at SOURCE (the
mirror keeps a record's timestamp). Prints one JSON object: counts and lag
percentiles in ms; a record not arrived within --settle s counts as missing.

    mirror_lag.py SOURCE TARGET TOPIC PREFIX [--rate 2000] [--duration 15]

Debian's python3-confluent-kafka; both sites on this machine (one clock).
"""
import argparse
import json
import sys
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, int(round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("target")
    ap.add_argument("topic")
    ap.add_argument("prefix")
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--duration", type=float, default=15)
    ap.add_argument("--settle", type=float, default=30)
    a = ap.parse_args()
    remote = f"{a.prefix}.{a.topic}"
    tag = f"lag-{time.time_ns()}-"

    # read the remote topic from its end before anything is sent
    c = Consumer({"bootstrap.servers": a.target, "group.id": tag, "enable.auto.commit": False,
                  "fetch.wait.max.ms": 10})
    md = c.list_topics(remote, timeout=30).topics[remote]
    if md.error:
        sys.exit(f"mirror_lag: {remote} at {a.target}: {md.error}")
    parts = []
    for p in md.partitions:
        for attempt in range(60):  # a remote topic just made: its leader still settling
            try:
                _, high = c.get_watermark_offsets(TopicPartition(remote, p), timeout=10)
                break
            except Exception:
                if attempt == 59:
                    raise
                time.sleep(0.5)
        parts.append(TopicPartition(remote, p, high))
    c.assign(parts)

    sent, lags, done = {}, [], threading.Event()

    def read():
        while not done.is_set() or len(lags) < len(sent):
            m = c.poll(0.1)
            now = time.time() * 1000
            if m is None or m.error() or not m.key() or not m.key().startswith(tag.encode()):
                if done.is_set() and now > deadline[0]:
                    break
                continue
            lags.append(now - m.timestamp()[1])

    deadline = [float("inf")]
    reader = threading.Thread(target=read)
    reader.start()
    p = Producer({"bootstrap.servers": a.source, "linger.ms": 5, "acks": "all"})
    t0, i = time.time(), 0
    while time.time() - t0 < a.duration:
        due = int((time.time() - t0) * a.rate)
        while i < due:
            key = f"{tag}{i}"
            p.produce(a.topic, key=key, value=b'{"x": 1}')
            sent[key] = 1
            i += 1
        p.poll(0)
        time.sleep(0.001)
    p.flush(30)
    deadline[0] = time.time() * 1000 + a.settle * 1000
    done.set()
    reader.join()
    c.close()
    lags.sort()
    print(json.dumps({
        "source": a.source, "target": a.target, "topic": remote, "rate": a.rate,
        "duration_s": a.duration, "sent": len(sent), "arrived": len(lags),
        "missing": len(sent) - len(lags),
        "lag_ms": {"p50": percentile(lags, 0.5), "p99": percentile(lags, 0.99),
                   "max": lags[-1] if lags else None},
    }))


if __name__ == "__main__":
    main()
