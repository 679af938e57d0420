#!/usr/bin/python3
"""How fast a host drains a backlog: reads TOPIC (a results topic,
read_committed) from the beginning until it holds COUNT records, or until
--wait seconds pass without a new one, and takes each record's timestamp
(the host's producer's clock when it wrote the result). Prints one JSON
object: the count, the records/s between the 10th and the 90th percentile
of those timestamps (so neither the host's start nor its last, partly
filled batches count), and the seconds from the first record to the last.

    drain.py BOOTSTRAP TOPIC COUNT [--wait 60] [--label NAME]

Exits 1 when fewer than COUNT records came.
"""
import argparse
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("topic")
    ap.add_argument("count", type=int)
    ap.add_argument("--wait", type=float, default=60)
    ap.add_argument("--label", default="drain")
    a = ap.parse_args()
    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": f"rvbench-drain-{time.time_ns()}",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "isolation.level": "read_committed"})
    c.subscribe([a.topic])
    stamps = []
    last = time.monotonic()
    while len(stamps) < a.count and time.monotonic() - last < a.wait:
        for m in c.consume(10000, timeout=0.5):
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    print(f"drain.py: {m.error()}", file=sys.stderr)
                continue
            stamps.append(m.timestamp()[1])
            last = time.monotonic()
    c.close()
    stamps.sort()
    n = len(stamps)
    out = {"label": a.label, "count": n, "want": a.count}
    if n >= 10:
        lo, hi = stamps[n // 10], stamps[n * 9 // 10]
        span = (hi - lo) / 1000
        out["throughput"] = (n * 9 // 10 - n // 10) / span if span > 0 else None
        out["seconds"] = (stamps[-1] - stamps[0]) / 1000
    print(json.dumps(out))
    return 0 if n >= a.count else 1


if __name__ == "__main__":
    sys.exit(main())
