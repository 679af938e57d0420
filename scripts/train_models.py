#!/usr/bin/python3
"""Trains the demo models on scikit-learn's shipped data sets and writes
everything the demo and the parity tests read:

  conf/models/<set>-xgb.json      XGBoost model (JSON), for plugins/xgboost
  conf/models/<set>-linear.json   logistic / softmax regression, for plugins/linear
  conf/models/<set>-canary.json   a smaller linear model (strong regularisation)
  conf/data/<set>.jsonl           one request body per row (features by name)
  conf/data/<set>.expected.jsonl  id, true label and each reference library's
                                  predict_proba for that row

Run with Debian's interpreter (python3-xgboost, python3-sklearn):
  /usr/bin/python3 scripts/train_models.py
The outputs are committed; running this again reproduces them (fixed seeds,
single thread).
"""
import json
import os
import sys

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
import xgboost as xgb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "conf", "models")
DATA = os.path.join(ROOT, "conf", "data")


def feature_names(raw):
    return [n.replace(" ", "_") for n in raw]


def export_linear(model, features, labels, path):
    coef = model.coef_.tolist()
    intercept = model.intercept_.tolist()
    doc = {
        "kind": "logistic" if len(labels) == 2 else "softmax",
        "features": features,
        "labels": labels,
        "coef": coef,
        "intercept": intercept,
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def write_set(name, X, y, features, labels, classes):
    multi = len(labels) > 2
    params = dict(n_estimators=40 if multi else 60, max_depth=4, learning_rate=0.3,
                  n_jobs=1, random_state=7, tree_method="exact")
    if multi:
        params["objective"] = "multi:softprob"
    # Models learn from 70% of the rows; the other 30% are held out so the
    # demo's accuracy means something. Every row is still scored (parity).
    idx = np.arange(len(X))
    train_idx, _ = train_test_split(idx, test_size=0.3, random_state=7, stratify=y)
    is_train = np.zeros(len(X), dtype=bool)
    is_train[train_idx] = True
    Xt, yt = X[is_train], y[is_train]
    booster = xgb.XGBClassifier(**params).fit(Xt, yt)
    booster.get_booster().save_model(os.path.join(MODELS, f"{name}-xgb.json"))

    kw = dict(max_iter=20000, random_state=7)
    if multi:
        kw["multi_class"] = "multinomial"
    linear = LogisticRegression(C=1.0, **kw).fit(Xt, yt)
    canary = LogisticRegression(C=0.01, **kw).fit(Xt, yt)
    export_linear(linear, features, labels, os.path.join(MODELS, f"{name}-linear.json"))
    export_linear(canary, features, labels, os.path.join(MODELS, f"{name}-canary.json"))

    p_xgb = booster.predict_proba(X)
    p_lin = linear.predict_proba(X)
    p_can = canary.predict_proba(X)
    with open(os.path.join(DATA, f"{name}.jsonl"), "w") as req, \
         open(os.path.join(DATA, f"{name}.expected.jsonl"), "w") as exp:
        for i, row in enumerate(X):
            body = {f: float(v) for f, v in zip(features, row)}
            req.write(json.dumps(body, separators=(",", ":")) + "\n")
            exp.write(json.dumps({
                "id": f"{name}-{i}",
                "label": labels[int(y[i])],
                "split": "train" if is_train[i] else "test",
                "xgboost": [float(v) for v in p_xgb[i]],
                "linear": [float(v) for v in p_lin[i]],
                "canary": [float(v) for v in p_can[i]],
            }, separators=(",", ":")) + "\n")
    held = ~is_train
    acc = lambda p: float(np.mean(np.argmax(p[held], axis=1) == y[held]))
    print(f"{name}: {len(X)} rows ({int(held.sum())} held out), {len(features)} features, "
          f"{len(labels)} labels; held-out accuracy xgboost {acc(p_xgb):.4f} "
          f"linear {acc(p_lin):.4f} canary {acc(p_can):.4f}")


def main():
    os.makedirs(MODELS, exist_ok=True)
    os.makedirs(DATA, exist_ok=True)
    bc = load_breast_cancer()
    write_set("breast_cancer", bc.data, bc.target, feature_names(bc.feature_names),
              [str(n) for n in bc.target_names], None)
    dg = load_digits()
    write_set("digits", dg.data, dg.target, [f"pixel_{i}" for i in range(64)],
              [str(i) for i in range(10)], None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
