"""Prometheus metrics of the serving replicas (prometheus-client multiprocess mode).

``PROMETHEUS_MULTIPROC_DIR`` is set by the deployment before the workers start, so the
values of every replica land in files there and ``/metrics`` on any replica aggregates all.
"""

from __future__ import annotations

import re

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

PREDICTIONS = Counter(
    "ml_predictions",
    "Prediction requests answered, by HTTP status",
    ["model", "version", "status"],
)
PREDICTION_LATENCY = Histogram(
    "ml_prediction_latency_seconds",
    "Time to answer POST /predict (injected faults included)",
    ["model", "version"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

INITIAL_STATUSES = (200, 422, 429, 500, 503)
"""``/predict`` answers whose ``ml_predictions_total`` series exist at 0 from a replica's
start (a labelled counter has no series until its first ``.labels()``): ok, bad input,
rate limited, injected error (default status), not ready."""

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
RENAMED_PREDICTIONS = "ml_inference_requests"
"""What the ``metric-renamed`` fault calls ``ml_predictions`` (a rename that breaks dashboards)."""


def render_metrics(renamed: bool = False) -> bytes:
    """All replicas' metrics in the Prometheus text format."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    text = generate_latest(registry)
    if renamed:
        name = rb"\bml_predictions(?=_total|_created|\s|\{)"
        text = re.sub(name, RENAMED_PREDICTIONS.encode(), text)
    return text
