"""Canned report directories: a verdict document, events.jsonl and a load step's interval
stream (real HDR histograms), as a run of the harness leaves them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.load import histogram

START = 1_800_000_000  # a wall-clock second


def interval_line(second: int, latencies_ms: list[float], failures: int = 0) -> str:
    hist = histogram.new_histogram()
    histogram.record_many_ms(hist, latencies_ms)
    endpoint = {
        "type": "POST", "name": "/predict", "count": len(latencies_ms), "failures": failures,
        "hist": histogram.encode(hist),
    }
    return json.dumps({"type": "interval", "second": second,
                       "endpoints": {"POST /predict": endpoint}})


def write_run(
    report_dir: Path,
    run_id: str,
    status: str = "pass",
    latency_ms: float = 10.0,
    fault_latency_ms: float | None = None,
    suite: str = "nightly",
    criteria: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Ten seconds of load (20 requests a second); with ``fault_latency_ms``, seconds 4-6 are
    a chaos fault phase at that latency. Returns the verdict document (also written)."""
    step_dir = report_dir / "load"
    step_dir.mkdir(parents=True, exist_ok=True)
    lines = ['{"type": "start"}']
    series = []
    for offset in range(10):
        in_fault = fault_latency_ms is not None and 4 <= offset <= 6
        value = fault_latency_ms if in_fault and fault_latency_ms is not None else latency_ms
        lines.append(interval_line(START + offset, [value] * 20, failures=1 if in_fault else 0))
        series.append({"second": START + offset, "elapsed_s": offset + 1.0, "requests": 20,
                       "failures": 1 if in_fault else 0, "p50_ms": value, "p95_ms": value,
                       "p99_ms": value, "max_ms": value, "unsent": 0, "phase": None})
    (step_dir / "intervals.jsonl").write_text("\n".join(lines) + "\n")
    events = [{"event": "RunStarted", "at": START - 1.0, "run_id": run_id}]
    if fault_latency_ms is not None:
        events += [
            {"event": "PhaseChanged", "at": START + 0.0, "step": "chaos", "phase": "baseline"},
            {"event": "FaultInjected", "at": START + 4.0, "step": "chaos", "fault": "latency",
             "target": "serving-0"},
            {"event": "PhaseChanged", "at": START + 4.0, "step": "chaos", "phase": "fault"},
            {"event": "PhaseChanged", "at": START + 7.0, "step": "chaos", "phase": "recovery"},
        ]
    (report_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    rate = (3 if fault_latency_ms is not None else 0) / 200
    overall = {"requests": 200, "failures": round(rate * 200), "error_rate": rate, "rps": 20.0,
               "p50_ms": latency_ms, "p90_ms": latency_ms, "p95_ms": latency_ms,
               "p99_ms": fault_latency_ms or latency_ms, "p99.9_ms": fault_latency_ms or latency_ms,
               "max_ms": fault_latency_ms or latency_ms, "min_ms": latency_ms,
               "mean_ms": latency_ms}
    document = {
        "schema": "harness.verdict/1", "run_id": run_id, "suite": suite,
        "target": {"kind": "local"}, "status": status, "reason": f"run {status}",
        "started_at": "2027-01-15T08:00:00.000Z", "finished_at": "2027-01-15T08:00:30.000Z",
        "duration_s": 30.0,
        "steps": [
            {"name": "load", "kind": "load", "stage": "under-chaos", "status": status,
             "summary": "200 requests",
             "criteria": criteria or [{"name": "p95 < 100ms", "status": status,
                                       "observed": latency_ms, "threshold": 100.0, "unit": "ms",
                                       "phase": None}],
             "metrics": {"overall": overall, "endpoints": {"POST /predict": overall},
                         "series": series},
             "artifacts": ["load/intervals.jsonl"]},
            {"name": "chaos", "kind": "chaos", "stage": "under-chaos", "status": "pass",
             "summary": "recovered", "criteria": [], "metrics": {"faults_injected": 1},
             "artifacts": []},
        ],
    }
    (report_dir / "verdict.json").write_text(json.dumps(document))
    return document
