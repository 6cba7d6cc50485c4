"""A run's results as Prometheus gauges, pushed to a Pushgateway at the end of the run.

Read from the verdict document (``verdict.json``, schema harness.verdict/1: the public
contract), into a ``CollectorRegistry`` of its own (never the process's default one), and
pushed with ``prometheus_client.push_to_gateway`` (HTTP PUT) under the grouping key
``{job="harness", suite=<suite>}``: each run of a suite replaces the previous run's group,
and Prometheus, scraping the Pushgateway (``honor_labels: true``), keeps the history.

Series (every one labelled ``suite`` and ``run_id``; step series also ``stage``, ``step``,
``kind``; ``phase`` is ``all`` for whole-step figures):

    harness_run_status{status}              1 for the run's status, 0 for the others
    harness_run_duration_seconds
    harness_run_finished_timestamp_seconds
    harness_step_status{status}             1 for the step's status, 0 for the others
    harness_step_duration_seconds
    harness_load_latency_seconds{phase, quantile="0.5"|"0.95"|"0.99"}
    harness_load_requests_per_second{phase}
    harness_load_error_ratio{phase}
    harness_load_requests{phase}
    harness_recovery_seconds{phase="recovery"}     the recovery_time criteria's observed value
    harness_contract_interactions{result="expected"|"verified"|"failed"}
    harness_criterion_status{criterion, phase, status}
    harness_criterion_observed{criterion, phase}   numeric observations only
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

STATUSES = ("pass", "fail", "error", "skipped")
JOB = "harness"
QUANTILES = (("0.5", "p50_ms"), ("0.95", "p95_ms"), ("0.99", "p99_ms"))
RUN = ("suite", "run_id")
STEP = (*RUN, "stage", "step", "kind")


class PushError(RuntimeError):
    """The Pushgateway did not take the results (said in one line, with its URL)."""


def results_registry(document: Mapping[str, Any]) -> CollectorRegistry:
    """The gauges of one run, from its verdict document."""
    registry = CollectorRegistry()
    gauges = _Gauges(registry)
    run = {"suite": str(document.get("suite", "")), "run_id": str(document.get("run_id", ""))}
    for status in STATUSES:
        gauges.run_status.labels(**run, status=status).set(
            float(document.get("status") == status)
        )
    _set(gauges.run_duration, run, document.get("duration_s"))
    _set(gauges.run_finished, run, _timestamp(document.get("finished_at")))
    for step in document.get("steps") or []:
        if isinstance(step, Mapping):
            _step(gauges, run, step)
    return registry


def push_results(document: Mapping[str, Any], url: str, timeout_s: float = 10.0) -> None:
    """PUT the run's gauges to the Pushgateway at ``url``. Raises PushError."""
    registry = results_registry(document)
    grouping = {"suite": str(document.get("suite", "")) or "unnamed"}
    try:
        push_to_gateway(url, job=JOB, registry=registry, grouping_key=grouping, timeout=timeout_s)
    except Exception as exc:  # urllib raises URLError, HTTPError, OSError, ValueError...
        raise PushError(f"pushing results to the Pushgateway at {url} failed: {exc}") from None


class _Gauges:
    def __init__(self, registry: CollectorRegistry) -> None:
        def gauge(name: str, doc: str, labels: tuple[str, ...]) -> Gauge:
            return Gauge(name, doc, labels, registry=registry)

        self.run_status = gauge("harness_run_status", "1 for the run's status", (*RUN, "status"))
        self.run_duration = gauge("harness_run_duration_seconds", "Run wall time", RUN)
        self.run_finished = gauge(
            "harness_run_finished_timestamp_seconds", "When the run finished (Unix time)", RUN
        )
        self.step_status = gauge(
            "harness_step_status", "1 for the step's status", (*STEP, "status")
        )
        self.step_duration = gauge("harness_step_duration_seconds", "Step wall time", STEP)
        self.latency = gauge(
            "harness_load_latency_seconds", "Latency percentile (HDR, exact to 3 digits)",
            (*STEP, "phase", "quantile"),
        )
        self.rps = gauge(
            "harness_load_requests_per_second", "Requests per second", (*STEP, "phase")
        )
        self.error_ratio = gauge(
            "harness_load_error_ratio", "Failed requests / requests", (*STEP, "phase")
        )
        self.requests = gauge("harness_load_requests", "Requests made", (*STEP, "phase"))
        self.recovery = gauge(
            "harness_recovery_seconds", "Time to recover after the fault", (*STEP, "phase")
        )
        self.interactions = gauge(
            "harness_contract_interactions", "Pact interactions", (*STEP, "result")
        )
        self.criterion_status = gauge(
            "harness_criterion_status", "1 for the criterion's status",
            (*STEP, "criterion", "phase", "status"),
        )
        self.criterion_observed = gauge(
            "harness_criterion_observed", "The criterion's observed value (its unit)",
            (*STEP, "criterion", "phase"),
        )


def _step(gauges: _Gauges, run: Mapping[str, str], step: Mapping[str, Any]) -> None:
    labels = {
        **run,
        "stage": str(step.get("stage", "")),
        "step": str(step.get("name", "")),
        "kind": str(step.get("kind", "")),
    }
    for status in STATUSES:
        gauges.step_status.labels(**labels, status=status).set(
            float(step.get("status") == status)
        )
    metrics = step.get("metrics")
    metrics = metrics if isinstance(metrics, Mapping) else {}
    _set(gauges.step_duration, labels, metrics.get("duration_s"))
    for phase, figures in _load_figures(metrics):
        for quantile, key in QUANTILES:
            ms = figures.get(key)
            _set(
                gauges.latency, {**labels, "phase": phase, "quantile": quantile},
                ms / 1000.0 if isinstance(ms, int | float) else None,
            )
        phased = {**labels, "phase": phase}
        _set(gauges.rps, phased, figures.get("rps"))
        _set(gauges.error_ratio, phased, figures.get("error_rate"))
        _set(gauges.requests, phased, figures.get("requests"))
    for result in ("expected", "verified", "failed"):
        count = metrics.get(f"interactions_{result}")
        _set(gauges.interactions, {**labels, "result": result}, count)
    for criterion in step.get("criteria") or []:
        if isinstance(criterion, Mapping):
            _criterion(gauges, labels, criterion)


def _load_figures(metrics: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """("all", overall figures), then (phase, figures) for each phase measured."""
    overall = metrics.get("overall")
    if isinstance(overall, Mapping):
        yield "all", overall
    phases = metrics.get("phases")
    if isinstance(phases, Mapping):
        for phase, figures in phases.items():
            if isinstance(figures, Mapping):
                yield str(phase), figures


def _criterion(
    gauges: _Gauges, labels: Mapping[str, str], criterion: Mapping[str, Any]
) -> None:
    name = str(criterion.get("name", ""))
    phase = str(criterion.get("phase") or "all")
    for status in STATUSES:
        gauges.criterion_status.labels(
            **labels, criterion=name, phase=phase, status=status
        ).set(float(criterion.get("status") == status))
    observed = criterion.get("observed")
    _set(gauges.criterion_observed, {**labels, "criterion": name, "phase": phase}, observed)
    if name.startswith("recovery_time"):
        _set(gauges.recovery, {**labels, "phase": "recovery"}, observed)


def _set(gauge: Gauge, labels: Mapping[str, str], value: object) -> None:
    """Set the series to a number; no series at all for anything else (no fake 0)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        gauge.labels(**labels).set(float(value))


def _timestamp(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
