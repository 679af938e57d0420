#!/usr/bin/python3
"""Prints the demo's report from the records the host wrote to Kafka:
requests and results, results by reason and by model, per-model latency and
accuracy against the true labels, the rendezvous' own accuracy, and the
canary's agreement with each model.

usage: demo_report.py DIR EXPECTED.jsonl N
DIR holds results.jsonl, scores.jsonl, alerts.jsonl, archive.jsonl as read
with kcat.
"""
import collections
import json
import os
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    d, expected_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    expected = load(expected_path)
    # accuracy only on rows the models did not learn from
    truth = {e["id"]: e["label"] for e in expected if e.get("split", "test") == "test"}
    results = load(os.path.join(d, "results.jsonl"))
    scores = load(os.path.join(d, "scores.jsonl"))
    alerts = load(os.path.join(d, "alerts.jsonl"))
    archive = load(os.path.join(d, "archive.jsonl"))

    ids = [r["id"] for r in results]
    print(f"\nrequests produced {n}, results {len(results)} "
          f"({len(set(ids))} distinct ids), archived by the decoy {len(archive)}")
    reasons = collections.Counter(r["reason"] for r in results)
    print("results by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    chosen = collections.Counter(r["model"] or "(default)" for r in results)
    print("results by model:  " + ", ".join(f"{k} {v}" for k, v in sorted(chosen.items())))

    by_model = collections.defaultdict(list)
    for s in scores:
        by_model[s["model"]].append(s)
    canary = {s["id"]: s for s in by_model.get("canary", []) if s["status"] == "ok"}
    print(f"\n{'model':<12} {'scored':>6} {'ok':>5} {'accuracy':>9} {'p50 us':>8} "
          f"{'p99 us':>8} {'agrees with canary':>19}")
    for name in sorted(by_model):
        recs = by_model[name]
        ok = [s for s in recs if s["status"] == "ok" and s["answers"]]
        lat = [s["latency_us"] for s in recs]
        held = [s for s in ok if s["id"] in truth]
        correct = sum(truth[s["id"]] == s["answers"][0]["label"] for s in held)
        agree = [s["answers"][0]["label"] == canary[s["id"]]["answers"][0]["label"]
                 for s in ok if s["id"] in canary]
        agreement = f"{sum(agree) / len(agree):.3f}" if agree else "-"
        print(f"{name:<12} {len(recs):>6} {len(ok):>5} {correct / max(1, len(held)):>9.4f} "
              f"{pct(lat, 0.5):>8} {pct(lat, 0.99):>8} {agreement:>19}")
    answered = [r for r in results if r["answers"]]
    held = [r for r in answered if r["id"] in truth]
    correct = sum(truth[r["id"]] == r["answers"][0]["label"] for r in held)
    lat = [r["latency_us"] for r in results]
    print(f"{'rendezvous':<12} {len(results):>6} {len(answered):>5} "
          f"{correct / max(1, len(held)):>9.4f} {pct(lat, 0.5):>8} {pct(lat, 0.99):>8}")
    print(f"(accuracy on the {len(truth)} held-out rows the models were not trained on; "
          "latency from the host reading the request to the model's answer, or to the "
          "result for the rendezvous)")
    rc = live_evaluation(d, by_model, results, truth)
    raised = [a for a in alerts if a["type"] == "alert"]
    print(f"\ncanary alerts: {len(raised)}" +
          "".join(f"\n  {a['message']}" for a in raised[:5]))
    if len(set(ids)) != n:
        print(f"ERROR: expected {n} results, got {len(set(ids))}")
        return 1
    return rc


def live_evaluation(d, by_model, results, truth):
    """The host's own figures (GET /v1/evaluation, since start) beside the
    accuracy computed here from the streams: they must be the same."""
    path = os.path.join(d, "evaluation.json")
    if not os.path.exists(path):
        print("\nERROR: no live evaluation (GET /v1/evaluation did not answer)")
        return 1
    ev = json.load(open(path))
    figs = {f["source"]: f for f in ev["figures"]
            if f["window"] == "start" and "schedule_version" not in f}
    print(f"\nlive evaluation by the host, {ev['counts']['joined']} requests joined with "
          f"their true labels (GET /v1/evaluation):")
    print(f"{'source':<12} {'joined':>6} {'accuracy':>9} {'AUC':>7} {'log loss':>9} "
          f"{'ECE':>6} {'offline accuracy':>17}")
    rc = 0
    offline_of = {name: [s for s in recs if s["status"] == "ok" and s["answers"]]
                  for name, recs in by_model.items()}
    offline_of["served"] = [r for r in results if r["answers"]]
    for name in sorted(figs):
        f = figs[name]
        held = [s for s in offline_of.get(name, []) if s["id"] in truth]
        offline = sum(truth[s["id"]] == s["answers"][0]["label"] for s in held) / max(1, len(held))
        same = abs(offline - f["accuracy"]) < 1e-9 and len(held) == f["count"]
        rc |= 0 if same else 1
        print(f"{name:<12} {f['count']:>6} {f['accuracy']:>9.4f} {f['auc']:>7.4f} "
              f"{f['log_loss']:>9.4f} {f['ece']:>6.3f} {offline:>17.4f}"
              f"{'' if same else '  ERROR: differs'}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
