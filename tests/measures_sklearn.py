"""The reference figures for test_measures: reads a CSV of answers (the
true label's index, then one probability per label) and prints
scikit-learn's measures of them, one "name value" per line, in the order
host/evaluation/measures.h defines them. Brier over more than two labels and the
calibration error are not in Debian's scikit-learn (1.2): they are written
here with numpy, as scikit-learn 1.7 defines the first."""
import sys

import numpy as np
from sklearn.metrics import (accuracy_score, brier_score_loss, log_loss,
                             precision_score, recall_score, roc_auc_score)

data = np.loadtxt(sys.argv[1], delimiter=",", ndmin=2)
y = data[:, 0].astype(int)
p = data[:, 1:]
k = p.shape[1]
labels = list(range(k))
pred = np.argmax(p, axis=1)
print("accuracy", repr(accuracy_score(y, pred)))
print("log_loss", repr(log_loss(y, p, labels=labels)))
if k == 2:
    print("brier", repr(brier_score_loss(y == 1, p[:, 1])))
    print("auc", repr(roc_auc_score(y == 1, p[:, 1])))
else:
    onehot = np.eye(k)[y]
    print("brier", repr(np.mean(np.sum((p - onehot) ** 2, axis=1))))
    print("auc", repr(roc_auc_score(y, p, multi_class="ovr", average="macro", labels=labels)))
top = p.max(axis=1)
bins = np.minimum((top * 10).astype(int), 9)
ece = sum(np.mean(bins == b) * abs(np.mean(pred[bins == b] == y[bins == b]) - np.mean(top[bins == b]))
          for b in range(10) if np.any(bins == b))
print("ece", repr(ece))
prec = precision_score(y, pred, labels=labels, average=None, zero_division=0)
rec = recall_score(y, pred, labels=labels, average=None, zero_division=0)
for i in labels:
    print(f"precision{i}", repr(prec[i]) if np.any(pred == i) else "nan")
    print(f"recall{i}", repr(rec[i]) if np.any(y == i) else "nan")
