"""Report files from a hand-built result: verdict.json, junit.xml, summary.md."""

from __future__ import annotations

import json
from pathlib import Path

import junitparser

from harness.outcome import CriterionResult, Mismatch, StepOutcome
from harness.reporters import write_reports
from harness.status import Status
from harness.verdict import RunResult, judge_run, judge_stage


def result(report: Path) -> RunResult:
    contract = StepOutcome(
        name="registry-contract", kind="contract", status=Status.FAIL, summary="1/2 failed",
        criteria=(
            CriterionResult("consumer: get a model", Status.PASS, observed="verified"),
            CriterionResult(
                "consumer: register a model", Status.FAIL, observed="mismatch",
                reason="body mismatch",
                mismatches=(Mismatch("$.stage", "a string", "42", "type"),),
            ),
        ),
        artifacts=(report / "registry-contract" / "pact-results.json",),
        started_at=100.0, finished_at=101.5,
    )
    load = StepOutcome(
        name="inference", kind="load", status=Status.ERROR, summary="locust did not start",
        metrics={"p95_ms": float("nan"), "series": [1, 2], "path": Path("/x")},
        started_at=100.0, finished_at=100.2,
    )
    skipped = StepOutcome(name="pod-kill", kind="chaos", status=Status.SKIPPED,
                          summary="skipped: fail_fast")
    stages = [judge_stage("contracts", [contract, load]), judge_stage("chaos", [skipped])]
    return RunResult(run_id="20261121T110236Z-3f9a", suite="smoke", target={"kind": "local"},
                     started_at=100.0, finished_at=103.0, verdict=judge_run(stages))


def test_report_files(tmp_path: Path) -> None:
    write_reports(result(tmp_path), tmp_path)
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["status"] == "error" and verdict["duration_s"] == 3.0
    assert verdict["started_at"] == "1970-01-01T00:01:40.000Z"
    contract, load, skipped = verdict["steps"]
    assert contract["artifacts"] == ["registry-contract/pact-results.json"]
    assert contract["criteria"][1]["mismatches"] == [
        {"path": "$.stage", "expected": "a string", "actual": "42", "kind": "type"}]
    assert load["metrics"] == {"p95_ms": None, "series": [1, 2], "path": "/x"}
    assert (skipped["stage"], skipped["status"]) == ("chaos", "skipped")

    xml = junitparser.JUnitXml.fromfile(str(tmp_path / "junit.xml"))
    suites = {suite.name: suite for suite in xml}
    assert (suites["registry-contract"].tests, suites["registry-contract"].failures) == (2, 1)
    failed = next(case for case in suites["registry-contract"] if case.name.endswith("a model")
                  and not case.is_passed)
    (failure,) = failed.result
    assert failure.message == "body mismatch"
    assert "$.stage: expected a string, got 42 (type)" in failure.text
    assert suites["inference"].errors == 1 and suites["pod-kill"].skipped == 1

    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("# harness: ERROR")
    assert "| contracts | registry-contract | contract | ❌ fail | 1/2 failed |" in summary
    assert "`consumer: register a model`: body mismatch; $.stage: expected a string, got 42" \
        in summary


def passing(report: Path) -> RunResult:
    load = StepOutcome(name="inference", kind="load", status=Status.PASS, summary="ok",
                       criteria=(CriterionResult("p95 < 100ms", Status.PASS, observed=80.0),))
    return RunResult(run_id="r", suite="smoke", target={"kind": "local"}, started_at=100.0,
                     finished_at=101.0, verdict=judge_run([judge_stage("s", [load])]))


def test_verdict_json_is_written_last(tmp_path: Path) -> None:
    reported = write_reports(passing(tmp_path), tmp_path)
    assert reported.exit_code == 0
    written = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert set(written) == {"verdict.json", "junit.xml", "summary.md", "report.html"}
    assert written["verdict.json"] >= max(
        written["junit.xml"], written["summary.md"], written["report.html"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_a_report_that_cannot_be_written_makes_the_verdict_error(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").mkdir()
    reported = write_reports(passing(tmp_path), tmp_path)
    assert reported.verdict.status is Status.ERROR and reported.exit_code == 2
    assert reported.verdict.reason == (
        f"cannot write {tmp_path / 'junit.xml'}: Is a directory "
        "(the run itself: pass, all 1 steps passed)")
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["status"] == "error" and "junit.xml: Is a directory" in verdict["reason"]
    assert "# harness: PASS" in (tmp_path / "summary.md").read_text()  # written before it


def test_an_unwritable_verdict_json_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "verdict.json").mkdir()
    reported = write_reports(passing(tmp_path), tmp_path)
    assert reported.exit_code == 2
    assert reported.verdict.reason.startswith(f"cannot write {tmp_path / 'verdict.json'}: ")
    assert (tmp_path / "junit.xml").exists() and (tmp_path / "summary.md").exists()
