"""Recording runs from their report directories; per-phase figures from the interval
stream; the killed-run recovery; comparisons. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.history.compare import compare_runs, is_regression
from harness.history.queries import find_run, passing_runs, recent_runs
from harness.history.record import record_start, record_verdict
from harness.history.recovery import recover_killed_runs
from harness.history.store import HistoryError, HistoryStore
from tests.history.canned import write_run


def test_a_run_is_recorded_with_figures_per_endpoint_and_phase(
    store: HistoryStore, tmp_path: Path
) -> None:
    report = tmp_path / "r1"
    document = write_run(report, "run-1", latency_ms=10.0, fault_latency_ms=200.0)
    record_verdict(store, document, report)
    with store.session() as session:
        run = find_run(session, "run-1")
    assert run.status == "pass" and run.suite == "nightly" and not run.interrupted
    assert [s.name for s in run.steps] == ["load", "chaos"]
    assert run.metric("load", "p95") == 10.0
    assert run.metric("load", "p95", endpoint="POST /predict") == 10.0
    # per phase, recomputed from the HDR interval stream: seconds 4-6 at 200 ms
    assert run.metric("load", "p95", phase="fault") == pytest.approx(200.0, rel=0.01)
    assert run.metric("load", "p95", phase="baseline") == pytest.approx(10.0, rel=0.01)
    assert run.metric("load", "error_rate", phase="fault") == pytest.approx(3 / 60)
    assert run.metric("load", "requests", phase="recovery") == 60
    assert run.metric("chaos", "faults_injected") == 1
    assert run.criteria[0].name == "p95 < 100ms" and run.criteria[0].observed == 10.0


def test_recording_the_same_run_again_replaces_it(store: HistoryStore, tmp_path: Path) -> None:
    document = write_run(tmp_path / "r", "run-1")
    record_verdict(store, document, tmp_path / "r")
    record_verdict(store, {**document, "status": "fail"}, tmp_path / "r")
    with store.session() as session:
        runs = recent_runs(session)
    assert [(r.run_id, r.status) for r in runs] == [("run-1", "fail")]


def test_last_passing_runs_and_prefixes(store: HistoryStore, tmp_path: Path) -> None:
    for index, status in enumerate(["pass", "pass", "fail"]):
        document = write_run(tmp_path / f"r{index}", f"run-{index}", status=status)
        document["started_at"] = f"2027-01-15T08:0{index}:00.000Z"
        record_verdict(store, document, tmp_path / f"r{index}")
    with store.session() as session:
        assert [r.run_id for r in passing_runs(session, "nightly", 5)] == ["run-1", "run-0"]
        assert [r.run_id for r in recent_runs(session, "nightly", 2)] == ["run-2", "run-1"]
        assert recent_runs(session, "other") == []
        with pytest.raises(HistoryError, match="ambiguous"):
            find_run(session, "run-")
        with pytest.raises(HistoryError, match="no run 'nope'"):
            find_run(session, "nope")


def test_compare_marks_regressions(store: HistoryStore, tmp_path: Path) -> None:
    record_verdict(store, write_run(tmp_path / "a", "run-a", latency_ms=10.0), tmp_path / "a")
    record_verdict(store, write_run(tmp_path / "b", "run-b", latency_ms=12.0,
                                    status="fail"), tmp_path / "b")
    with store.session() as session:
        comparison = compare_runs(find_run(session, "run-a"), find_run(session, "run-b"))
    p95 = next(m for m in comparison.metrics if m.key == ("load", "", "", "p95"))
    assert p95.delta == 2.0 and p95.relative == pytest.approx(0.2) and p95.regression
    rps = next(m for m in comparison.metrics if m.key == ("load", "", "", "rps"))
    assert rps.delta == 0 and not rps.regression
    assert [(c.name, c.a, c.b, c.regression) for c in comparison.criteria] == [
        ("p95 < 100ms", "pass", "fail", True)
    ]


@pytest.mark.parametrize(
    ("metric", "a", "b", "regression"),
    [("p95", 100.0, 110.0, False), ("p95", 100.0, 110.5, True), ("rps", 100.0, 95.0, False),
     ("rps", 100.0, 94.0, True), ("error_rate", 0.001, 0.002, False),
     ("error_rate", 0.001, 0.0021, True), ("failures", 0, 1, True), ("p95", 100.0, 50.0, False),
     ("summary_thing", 1.0, 100.0, False)],
)
def test_regression_tolerances(metric: str, a: float, b: float, regression: bool) -> None:
    assert is_regression(metric, a, b) is regression


def _dead_pid() -> tuple[int, float]:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid, time.time() - 100


def test_a_killed_run_is_recorded_by_recovery(store: HistoryStore, tmp_path: Path) -> None:
    with_verdict, without = tmp_path / "with", tmp_path / "without"
    record_start(store, "alive", "nightly", "local", tmp_path / "alive", None, time.time())
    for run_id, report in (("killed-after-verdict", with_verdict), ("killed", without)):
        record_start(store, run_id, "nightly", "local", report, "abc123", time.time())
    write_run(with_verdict, "killed-after-verdict")
    without.mkdir()
    (without / "events.jsonl").write_text(
        json.dumps({"event": "StepFinished", "at": time.time(), "step": "contracts",
                    "kind": "contract", "status": "pass", "summary": "3/3"}) + "\n"
        + '{"event": "StepStart'  # the line being written when it was killed
    )
    pid, started = _dead_pid()
    from sqlalchemy import update

    from harness.history.models import RunRow

    with store.session() as session:
        session.execute(update(RunRow).where(RunRow.run_id != "alive")
                        .values(owner_pid=pid, owner_started=started))
    lines = recover_killed_runs(store)
    assert len(lines) == 2 and all("interrupted" in line for line in lines)
    assert recover_killed_runs(store) == []
    with store.session() as session:
        after_verdict = find_run(session, "killed-after-verdict")
        killed = find_run(session, "killed")
        runs = {r.run_id for r in recent_runs(session)}
    assert after_verdict.interrupted and after_verdict.status == "pass"
    assert after_verdict.metric("load", "p95") == 10.0
    assert killed.interrupted and killed.status == "error" and killed.git_revision == "abc123"
    assert [(s.name, s.status) for s in killed.steps] == [("contracts", "pass")]
    assert "alive" not in runs  # still running: its owner (this process) is alive
