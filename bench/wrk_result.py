"""wrk_result.py - what a wrk --latency run printed, for the HTTP scenarios'
summaries (bench/scenarios/https.sh): requests/s, p50 and p99 in ms, the
non-2xx count and the socket errors ("" when none)."""
import re

UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def read(path):
    t = open(path).read()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    pct = {p: float(v) * UNIT[u] for p, v, u in re.findall(r"\s(\d+)%\s+([\d.]+)(us|ms|s)\b", t)}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    errors = re.search(r"Socket errors: (.*)", t)
    return rate, pct.get("50"), pct.get("99"), int(bad.group(1)) if bad else 0, (
        errors.group(1) if errors else "")
