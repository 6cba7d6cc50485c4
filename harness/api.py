"""Running a suite from Python: :func:`run` (sync) and :func:`run_async` return the run's
typed result (:class:`~harness.verdict.RunResult`: its ``verdict``, ``exit_code``, ...),
with the same reports the CLI writes. The CLI's ``run`` is built from the same pieces.

Bad input (an invalid suite, a refused ``--fault``, a report directory that cannot be
written) raises :class:`InvalidRun` with the problems as lines; a failing system is a
verdict, never an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, Unpack

from harness.config import load_suite
from harness.config.suite import TargetKindName
from harness.engine import RunOptions, new_run_id, run_suite
from harness.events import Emit, Event
from harness.paths import project_root
from harness.plan import Suite
from harness.report_dir import ReportDirError, claim_report_dir
from harness.reporters import fan_out, write_reports
from harness.reporters.event_log import EventLog
from harness.targets.local import fault_spec_problems, testbed_missing
from harness.verdict import RunResult

if TYPE_CHECKING:
    from harness.history.baseline import BaselinePlan


class InvalidRun(Exception):
    """The run cannot start: each line names the file, line and field (or the option)."""

    def __init__(self, lines: Sequence[str], *, counted: bool = False) -> None:
        super().__init__("\n".join(lines))
        self.lines = tuple(lines)
        self.counted = counted  # the problems of a suite file (the CLI counts them)


@dataclass(frozen=True)
class PreparedRun:
    suite: Suite  # baseline criteria resolved from the history store
    options: RunOptions
    baselines: BaselinePlan | None = None

    def judged(self, result: RunResult) -> RunResult:
        """The run's result with its baseline criteria explained (run, value, skips)."""
        if self.baselines is None:
            return result
        from harness.history.lifecycle import with_baselines

        return with_baselines(result, self.baselines)


def resolve_suite(given: str | Path | None, default: str = "suites/smoke.yaml") -> Path:
    """A suite path as given (relative to the cwd), else relative to the project root."""
    if given is None:
        return project_root() / default
    path = Path(given)
    if path.is_absolute() or path.exists():
        return path.resolve()
    return project_root() / path


def prepare_run(
    suite_path: Path,
    *,
    report_dir: Path | None = None,
    target: TargetKindName | None = None,
    faults: Sequence[str] = (),
    dry_run: bool = False,
) -> PreparedRun:
    """Load and check everything a run needs; raise InvalidRun with the problems."""
    suite, problems = load_suite(suite_path, base_dir=project_root())
    if suite is None:
        raise InvalidRun([str(p) for p in problems], counted=True)
    kind = target or suite.target.kind
    missing = testbed_missing() if kind == "local" else None
    if missing:
        raise InvalidRun([f"harness: {missing}"])
    if faults and kind != "local":
        raise InvalidRun(["harness: --fault applies to the local testbed only"])
    refused = fault_spec_problems(faults)
    if refused:
        raise InvalidRun([f"--fault {faults[i]!r}: {message}" for i, message in refused])
    run_id = new_run_id()
    options = RunOptions(
        run_id=run_id,
        report_dir=(report_dir or project_root() / "reports" / run_id).resolve(),
        target_kind=target,
        extra_faults=tuple(faults),
        dry_run=dry_run,
    )
    return _recorded(suite, options)


def _recorded(suite: Suite, options: RunOptions) -> PreparedRun:
    """The run's row in the history store, and its baselines; InvalidRun when the store
    cannot be used (before anything starts)."""
    from harness.history.lifecycle import begin_recording
    from harness.history.store import HistoryError

    try:
        resolved, baselines = begin_recording(suite, options)
    except HistoryError as exc:
        raise InvalidRun([f"harness: {exc}; the run was not started"]) from None
    return PreparedRun(resolved, options, baselines)


@contextlib.contextmanager
def event_log(report_dir: Path, run_id: str) -> Iterator[EventLog]:
    """``REPORT_DIR/events.jsonl``, open for the run, in a report directory this run owns
    (:mod:`harness.report_dir`: locked, an earlier run moved aside); InvalidRun when the
    directory is another live run's or cannot be written (before anything starts, so
    that no step is blamed for it). Leaving the block normally (the reports written)
    clears the directory's in-progress mark."""
    path = report_dir / "events.jsonl"
    with contextlib.ExitStack() as stack:
        try:
            claim = stack.enter_context(claim_report_dir(report_dir, run_id))
            log = stack.enter_context(contextlib.closing(EventLog(path)))
        except ReportDirError as exc:
            raise InvalidRun([f"harness: {exc}"]) from None
        except OSError as exc:
            raise InvalidRun([f"harness: cannot write {path}: {exc.strerror or exc}"]) from None
        yield log
        claim.finish()


class RunOptionsGiven(TypedDict, total=False):
    """The keyword arguments of :func:`run` and :func:`run_async`."""

    report_dir: str | Path | None  # default reports/<run-id>/
    target: TargetKindName | None  # overrides the suite's target.kind
    faults: Sequence[str]  # local testbed fault switches
    dry_run: bool  # steps of kinds that support it touch nothing
    on_event: Callable[[Event], None] | None  # every event, as it happens


async def run_async(suite: str | Path, **given: Unpack[RunOptionsGiven]) -> RunResult:
    """Run a suite file; the reports are written to ``report_dir`` (default
    ``reports/<run-id>/``). Cancel the task to interrupt the run (it still reports)."""
    report_dir = given.get("report_dir")
    prepared = prepare_run(
        resolve_suite(suite),
        report_dir=Path(report_dir) if report_dir is not None else None,
        target=given.get("target"),
        faults=tuple(given.get("faults", ())),
        dry_run=given.get("dry_run", False),
    )
    on_event = given.get("on_event")
    with event_log(prepared.options.report_dir, prepared.options.run_id) as log:
        emit: Emit = fan_out(log, on_event) if on_event is not None else log
        result = prepared.judged(await run_suite(prepared.suite, prepared.options, emit))
        return await asyncio.to_thread(write_reports, result, prepared.options.report_dir)


def run(suite: str | Path, **given: Unpack[RunOptionsGiven]) -> RunResult:
    """:func:`run_async` to its end. Inside a running event loop (an async test, a
    notebook) it runs on a thread of its own."""
    coroutine = run_async(suite, **given)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    results: list[RunResult] = []
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            results.append(asyncio.run(coroutine))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=in_thread, name="harness-run")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]
