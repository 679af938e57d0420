"""The demo's scikit-learn Pipeline through a module: a place to put
preprocessing of its own (docs/python-models.md)."""
import pickle

LABELS = ["malignant", "benign"]  # the pipeline's classes 0 and 1


def load(params):
    return pickle.loads(params["model_bytes"])  # the bytes the pin checked


def predict(model, X):
    return model.predict_proba(X)
