"""Train a small classifier on synthetic data and register it in MLflow as version 1.

Runs in the MLflow virtualenv (``mlflow_platform.py up`` calls it) with
``MLFLOW_TRACKING_URI`` pointing at the tracking server. No download: the data is made
here (four features, two classes), so the model is the same on every machine.
"""

from __future__ import annotations

import argparse

import mlflow
import numpy as np
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

FEATURES = 4


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    x = rng.normal(size=(400, FEATURES))
    y = (x @ np.array([1.5, -2.0, 0.5, 1.0]) > 0).astype(np.int64)
    model = LogisticRegression().fit(x, y)
    with mlflow.start_run():
        mlflow.log_metric("train_accuracy", float(model.score(x, y)))
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x, model.predict(x)),
            registered_model_name=args.name,
        )


if __name__ == "__main__":
    main()
