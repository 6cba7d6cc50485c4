"""The ML work of a pipeline: a seeded synthetic dataset, a small classifier, its accuracy.

Blocking and CPU-bound: the pipeline runs these in its thread pool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression

FEATURES = 8
TEST_FRACTION = 0.25


@dataclass(frozen=True)
class Dataset:
    x_train: NDArray[np.float64]
    y_train: NDArray[np.int64]
    x_test: NDArray[np.float64]
    y_test: NDArray[np.int64]

    @property
    def samples(self) -> int:
        return int(self.x_train.shape[0] + self.x_test.shape[0])


def make_dataset(samples: int, seed: int) -> Dataset:
    """Two noisy classes split by a random hyperplane; the same (samples, seed), same data."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, FEATURES))
    weights = rng.normal(size=FEATURES)
    noise = rng.normal(scale=0.5, size=samples)
    y = (x @ weights + noise > 0).astype(np.int64)
    split = max(1, int(samples * (1 - TEST_FRACTION)))
    return Dataset(x[:split], y[:split], x[split:], y[split:])


def train_classifier(dataset: Dataset) -> Any:
    """A logistic regression fitted on the training split (milliseconds for 10k samples)."""
    if len(set(dataset.y_train.tolist())) < 2:
        raise ValueError("the training split holds a single class; use more samples")
    model = LogisticRegression(max_iter=200)
    model.fit(dataset.x_train, dataset.y_train)
    return model


def evaluate_accuracy(model: Any, dataset: Dataset) -> float:
    """Accuracy on the held-out split, in [0, 1]."""
    predicted = np.asarray(model.predict(dataset.x_test))
    return float(np.mean(predicted == dataset.y_test))
