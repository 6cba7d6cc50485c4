"""report.html opened in real headless Chromium: every chart drawn, no console error,
no request beyond the file itself; a screenshot kept in the test's tmp path."""

from __future__ import annotations

import json
from pathlib import Path

from harness.report import write_html_report
from harness.report.trends import TrendRun
from tests.history.canned import START, write_run
from tests.report.browser import open_report


def _canned(report: Path) -> dict[str, object]:
    document = write_run(report, "run-3", status="fail", latency_ms=12.0, fault_latency_ms=180.0)
    steps = document["steps"]
    assert isinstance(steps, list)
    steps[0]["metrics"]["overall"]["reasons"] = [
        {"reason": "ConnectionResetError", "count": 2}, {"reason": "HTTP 503", "count": 1}]
    steps[0]["criteria"].append({
        "name": "p95 < baseline * 1.10", "status": "fail", "observed": 12.0, "threshold": 11.0,
        "unit": "ms", "phase": None, "reason": "baseline 10 ms from run run-2",
        "baseline": {"run_id": "run-2", "value": 10.0}})
    steps.append({
        "name": "registry-contract", "kind": "contract", "stage": "contracts", "status": "fail",
        "summary": "1/2 interactions verified, 1 failed",
        "criteria": [
            {"name": "orchestrator: get a model", "status": "pass", "observed": "verified",
             "threshold": None, "unit": "", "phase": None},
            {"name": "orchestrator: list versions <script>alert(1)</script>", "status": "fail",
             "observed": "mismatch", "threshold": None, "unit": "", "phase": None,
             "mismatches": [{"path": "$.versions[0].stage", "expected": "\"production\"",
                             "actual": "missing", "kind": "BodyMismatch"}]}],
        "metrics": {"interactions_expected": 2, "interactions_verified": 1}, "artifacts": []})
    chaos_events = [
        {"event": "activity-started", "at": START + 0.5, "name": "serving-health",
         "type": "probe", "stage": "hypothesis-before"},
        {"event": "activity-finished", "at": START + 0.8, "name": "serving-health",
         "type": "probe", "stage": "hypothesis-before", "status": "succeeded"},
        {"event": "activity-started", "at": START + 4.0, "name": "add-latency",
         "type": "action", "stage": "method"},
        {"event": "fault-injected", "at": START + 4.1, "fault": "latency", "target": "serving-0"},
        {"event": "activity-finished", "at": START + 4.2, "name": "add-latency",
         "type": "action", "stage": "method", "status": "succeeded"},
        {"event": "activity-started", "at": START + 7.0, "name": "remove-latency",
         "type": "action", "stage": "rollbacks"},
        {"event": "fault-reverted", "at": START + 7.1, "fault": "latency", "target": "serving-0",
         "ok": True},
        {"event": "activity-finished", "at": START + 7.2, "name": "remove-latency",
         "type": "action", "stage": "rollbacks", "status": "succeeded"},
    ]
    (report / "chaos").mkdir()
    (report / "chaos" / "events.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in chaos_events))
    return document


def test_report_renders_offline_in_chromium(tmp_path: Path) -> None:
    report = tmp_path / "report"
    document = _canned(report)
    earlier = [
        TrendRun(f"run-{i}", "pass", {("load", "p95"): 10.0 + i, ("load", "rps"): 20.0,
                                      ("load", "error_rate"): 0.0})
        for i in range(3)
    ]
    path = write_html_report(document, report, earlier)
    html = path.read_text()
    assert "<script>alert(1)</script>" not in html  # names are escaped
    assert "https://" not in html.split("<script>", 2)[-1]  # the page's own code loads nothing

    shot = tmp_path / "report.png"
    rendered = open_report(path, shot, tmp_path / "profile")

    assert rendered.console_errors == []
    assert rendered.requests == [path.resolve().as_uri()]
    # load: latency, throughput, failure reasons; chaos timeline; trends: load latency,
    # throughput, error rate and the contract's interactions
    assert rendered.charts == 8, rendered.drawn
    assert all(count > 0 for count in rendered.drawn), rendered.drawn
    for expected in ("FAIL · suite nightly", "p95 < baseline * 1.10", "10.0 (run run-2)",
                     "$.versions[0].stage", "trends: the last 4 runs", "failure reasons",
                     "chaos timeline", "injected: latency"):
        assert expected in rendered.text, expected
    assert shot.stat().st_size > 50_000
