#!/usr/bin/python3
"""What a mirror has yet to carry from SOURCE to TARGET: for each topic of
SOURCE it copies (not internal, not a remote topic, not its own
heartbeats, which never stop), the records at SOURCE less those of the
remote topic PREFIX.TOPIC at TARGET (MirrorMaker 2's default replication
policy). Waits until that is 0 and prints the seconds it took, or exits 1
with what is left after --wait seconds.

    mirror_backlog.py SOURCE TARGET PREFIX [--wait 300]

A mirror stopped a while (or restarted) copies what it missed first, and
the records written meanwhile wait behind that, while its heartbeats, one
a second, come through: a fresh heartbeat does not say it caught up.
"""
import argparse
import sys
import time

from confluent_kafka import Consumer, TopicPartition


def records(c, topic, partitions):
    """The records of topic, or None while a partition cannot say (a
    remote topic just made: its leader still settling)."""
    n = 0
    for p in partitions:
        try:
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        except Exception:
            return None
        n += high - low
    return n


def copied(name, prefixes):
    return not (name.startswith("__") or name.endswith("internal") or name == "heartbeats"
                or any(name.startswith(f"{p}.") for p in prefixes))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("target")
    ap.add_argument("prefix")
    ap.add_argument("--wait", type=float, default=300)
    a = ap.parse_args()
    conf = {"group.id": "rvbench-mirror-backlog", "enable.auto.commit": False}
    src = Consumer({**conf, "bootstrap.servers": a.source})
    dst = Consumer({**conf, "bootstrap.servers": a.target})
    t0 = time.time()
    while True:
        topics = src.list_topics(timeout=10).topics
        remote = dst.list_topics(timeout=10).topics
        # remote topic prefixes at SOURCE: those of the other sites (west. at east)
        others = {t.split(".", 1)[0] for t in topics if t.endswith(".heartbeats")}
        left = {}
        for t, md in topics.items():
            if not copied(t, others):
                continue
            r = f"{a.prefix}.{t}"
            here = records(src, t, md.partitions)
            there = records(dst, r, remote[r].partitions) if r in remote else 0
            if here is None or there is None or here > there:
                left[t] = None if here is None or there is None else here - there
        if not left:
            print(f"{time.time() - t0:.1f}")
            return
        if time.time() - t0 > a.wait:
            sys.exit(f"mirror_backlog: not carried after {a.wait:.0f} s: {left}")
        time.sleep(1)


if __name__ == "__main__":
    main()
