"""Runs whose harness process died (SIGKILL, power loss) are completed in the store by
``harness recover`` and by the start of the next run.

A row still "running" whose owner process is gone is recorded from its report
directory: from ``verdict.json`` if it was written (marked interrupted), else as an
interrupted ERROR with the steps that ``events.jsonl`` shows finished.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from harness.history.figures import read_events
from harness.history.models import RUNNING, RunRow, StepRow
from harness.history.record import record_interrupted, record_verdict
from harness.history.store import HistoryStore
from harness.run_processes import same_process_alive


def owner_alive(pid: int | None, started: float | None) -> bool:
    return pid is not None and started is not None and same_process_alive(pid, started)


def recover_killed_runs(store: HistoryStore) -> list[str]:
    """One line per run completed; the runs of live harness processes are left alone."""
    with store.session() as session:
        orphans = [
            (run.run_id, Path(run.report_dir))
            for run in session.scalars(select(RunRow).where(RunRow.status == RUNNING))
            if not owner_alive(run.owner_pid, run.owner_started)
        ]
    lines = []
    for run_id, report_dir in orphans:
        verdict_path = report_dir / "verdict.json"
        document = _read_verdict(verdict_path)
        if document is not None and document.get("run_id") == run_id:
            record_verdict(store, document, report_dir, interrupted=True)
            lines.append(f"history: run {run_id} recorded from {verdict_path} (interrupted)")
            continue
        _record_without_verdict(store, run_id, report_dir)
        lines.append(f"history: run {run_id} recorded as interrupted (no verdict was written)")
    return lines


def _record_without_verdict(store: HistoryStore, run_id: str, report_dir: Path) -> None:
    finished = [
        e for e in read_events(report_dir / "events.jsonl") if e.get("event") == "StepFinished"
    ]
    with store.session() as session:
        run = session.scalar(select(RunRow).where(RunRow.run_id == run_id))
        if run is None or run.status != RUNNING:
            return
        record_interrupted(
            session, run, "killed: the harness process ended before writing a verdict"
        )
        run.finished_at = max((float(e.get("at", 0.0)) for e in finished), default=None)
        run.steps.clear()
        for position, event in enumerate(finished):
            run.steps.append(
                StepRow(
                    position=position, name=str(event.get("step", "")),
                    kind=str(event.get("kind", "")), stage="",
                    status=str(event.get("status", "")), summary=str(event.get("summary", "")),
                )
            )


def _read_verdict(path: Path) -> dict[str, object] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None
