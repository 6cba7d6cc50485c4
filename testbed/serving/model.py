"""The served model: a scikit-learn logistic regression trained deterministically (synthetic data).

Trained once at ``up`` (fixed seed, so every run serves the same model) and saved with
joblib; each serving replica loads the file when it boots.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.serving.golden import golden_set_path, write_golden_set
from wholefile import write_atomically

MODEL_NAME = "churn-classifier"
MODEL_VERSION = "1.0.0"
"""The version deployed at ``up``."""
NEXT_MODEL_VERSION = "2.0.0"
"""A second version, trained at ``up`` beside the first: what a rollout promotes."""
MODEL_VERSIONS: tuple[str, ...] = (MODEL_VERSION, NEXT_MODEL_VERSION)
MODEL_KIND = "logreg"
FEATURE_COUNT = 8
TRAINING_SEED = 20240501
TRAINING_SAMPLES = 4000


@dataclass(frozen=True)
class Prediction:
    prediction: int
    probability: float


class LoadedModel:
    """A loaded classifier of one ``version``; ``predict`` takes one row of
    ``FEATURE_COUNT`` floats."""

    def __init__(self, estimator: Any, version: str = MODEL_VERSION) -> None:
        self._estimator = estimator
        self.version = version

    def predict(self, features: list[float]) -> Prediction:
        import numpy as np

        row = np.asarray([features], dtype=np.float64)
        probabilities = self._estimator.predict_proba(row)[0]
        label = int(probabilities.argmax())
        return Prediction(prediction=label, probability=float(probabilities[label]))


def _training_seed(version: str) -> int:
    """Each version its own seed (so 2.0.0 answers some rows differently from 1.0.0)."""
    return (
        TRAINING_SEED + MODEL_VERSIONS.index(version)
        if version in MODEL_VERSIONS
        else (TRAINING_SEED + sum(version.encode()))
    )


def train_model(path: Path, version: str = MODEL_VERSION) -> Path:
    """Train the classifier of ``version`` (deterministic) and save it atomically to
    ``path`` (the artifact carries its version), its golden set beside it
    (:mod:`testbed.serving.golden`)."""
    import joblib  # type: ignore[import-untyped]
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    features, labels = make_classification(
        n_samples=TRAINING_SAMPLES,
        n_features=FEATURE_COUNT,
        n_informative=5,
        n_redundant=1,
        random_state=_training_seed(version),
    )
    # A linear model: scoring one row costs ~0.2 ms, mostly scikit-learn's input checks
    # (gradient boosting cost 2.5x that, a third of a replica's budget at 250 req/s each).
    estimator = LogisticRegression(random_state=TRAINING_SEED).fit(features, labels)
    buffer = io.BytesIO()
    joblib.dump({"version": version, "estimator": estimator}, buffer)
    write_golden_set(
        estimator, golden_set_path(path), model=MODEL_NAME, version=version,
        features=FEATURE_COUNT, seed=_training_seed(version),
    )
    write_atomically(path, buffer.getvalue())
    return path


def load_model(path: Path) -> LoadedModel:
    """Load a saved classifier; raises FileNotFoundError when the artifact is gone."""
    import joblib
    import sklearn

    if not path.is_file():
        raise FileNotFoundError(f"model artifact {path} does not exist")
    # Rows come validated (8 finite floats): skip sklearn's per-call checks (~250 us each).
    sklearn.set_config(assume_finite=True, skip_parameter_validation=True)
    loaded = joblib.load(path)
    if isinstance(loaded, dict):  # {"version", "estimator"}
        return LoadedModel(loaded["estimator"], str(loaded["version"]))
    return LoadedModel(loaded)  # an artifact of before versions were stored in it
