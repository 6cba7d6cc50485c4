"""The golden set of the served model: inputs with the answers the model gives them,
written when the model is trained and kept beside its artifact
(``<artifact>.golden.json``), so a load test can tell right answers from wrong ones.

Format (``harness.golden/1``, read by :mod:`harness.load.ml`)::

    {"schema": "harness.golden/1", "model": NAME, "version": VERSION,
     "tolerance": 1e-06,
     "cases": [{"input": {"features": [...]}, "expected": {"prediction": 1,
                                                           "probability": 0.93}}]}

``input`` is a request body; ``expected`` the answer's fields (numbers within the
tolerance, anything else exactly).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wholefile import write_atomically

GOLDEN_SCHEMA = "harness.golden/1"
GOLDEN_CASES = 200
GOLDEN_SEED = 7
TOLERANCE = 1e-6


def golden_set_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + ".golden.json")


def write_golden_set(
    estimator: Any, path: Path, *, model: str, version: str, features: int, seed: int
) -> Path:
    """Held-out rows like the training data (same generator, another seed), rounded as
    a client would send them, with the estimator's answers to exactly those rows."""
    import numpy as np
    from sklearn.datasets import make_classification

    rows, _ = make_classification(
        n_samples=GOLDEN_CASES, n_features=features, n_informative=5, n_redundant=1,
        random_state=seed + GOLDEN_SEED,
    )
    rows = np.round(rows, 4)
    probabilities = estimator.predict_proba(rows)
    cases = []
    for row, probs in zip(rows, probabilities, strict=True):
        label = int(probs.argmax())
        cases.append({
            "input": {"features": [float(v) for v in row]},
            "expected": {"prediction": label, "probability": float(probs[label])},
        })
    document = {
        "schema": GOLDEN_SCHEMA, "model": model, "version": version, "tolerance": TOLERANCE,
        "cases": cases,
    }
    write_atomically(path, json.dumps(document, indent=1) + "\n")
    return path
