#!/usr/bin/python3
"""Trains the demo's Python and TorchScript models on scikit-learn's breast
cancer set (docs/python-models.md), beside those of train_models.py:

  breast_cancer-pipeline.pkl  a scikit-learn Pipeline (scaler + gradient
                              boosting), pickled: plugins/python serves it
                              as it is (predict_proba)
  breast_cancer_pipeline.py   a module serving the same pickle through
                              load() and predict(), to start one from
  breast_cancer-mlp.pt        a small PyTorch MLP (its standardization
                              inside), torch.jit.save'd: plugins/torch

Run with Debian's interpreter (python3-sklearn, python3-torch):
  /usr/bin/python3 scripts/train_python_models.py [OUT_DIR]
OUT_DIR defaults to conf/models; the tests write to a scratch dir. Fixed
seeds, single thread: running it again gives the same models (the pickle
byte for byte; the TorchScript archive's bytes may differ, not its
weights).
"""
import os
import pickle
import sys

import torch
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODULE = '''"""The demo's scikit-learn Pipeline through a module: a place to put
preprocessing of its own (docs/python-models.md)."""
import pickle

LABELS = ["malignant", "benign"]  # the pipeline's classes 0 and 1


def load(params):
    return pickle.loads(params["model_bytes"])  # the bytes the pin checked


def predict(model, X):
    return model.predict_proba(X)
'''


class MLP(torch.nn.Module):
    """30 features in, standardized inside; probabilities (or logits) out."""

    def __init__(self, mean, std, width: int = 2, softmax: bool = True):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.net = torch.nn.Sequential(torch.nn.Linear(30, 16), torch.nn.ReLU(),
                                       torch.nn.Linear(16, width))
        self.softmax = softmax

    def forward(self, x):
        z = self.net((x - self.mean) / self.std)
        return torch.softmax(z, dim=1) if self.softmax else z


def train_pipeline(d, out):
    m = make_pipeline(StandardScaler(),
                      GradientBoostingClassifier(n_estimators=60, random_state=0))
    m.fit(d.data, d.target)
    with open(os.path.join(out, "breast_cancer-pipeline.pkl"), "wb") as f:
        pickle.dump(m, f)
    with open(os.path.join(out, "breast_cancer_pipeline.py"), "w") as f:
        f.write(MODULE)


def train_mlp(d, out):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    X = torch.tensor(d.data, dtype=torch.float32)
    y = torch.tensor(d.target)
    m = MLP(X.mean(0), X.std(0))
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    for _ in range(200):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m.net((X - m.mean) / m.std), y).backward()
        opt.step()
    m.eval()
    torch.jit.script(m).save(os.path.join(out, "breast_cancer-mlp.pt"))
    return m


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "conf", "models")
    d = load_breast_cancer()
    train_pipeline(d, out)
    m = train_mlp(d, out)
    if os.environ.get("RV_TRAIN_TEST_MODELS"):  # the tests' extra networks
        m.softmax = False
        torch.jit.script(m).save(os.path.join(out, "breast_cancer-mlp-logits.pt"))
        wide = MLP(m.mean, m.std, width=3)
        torch.jit.script(wide).save(os.path.join(out, "breast_cancer-mlp-wide.pt"))


if __name__ == "__main__":
    main()
