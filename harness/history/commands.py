"""``harness history`` and ``harness compare``: reading the store from the command line.

Both exit 0 on success and 2 (with one line on stderr) when the store cannot be read
or a run cannot be found.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Literal, TypeVar

from rich.console import Console

from harness.history.compare import compare_runs
from harness.history.display import comparison_markdown, comparison_table, history_table
from harness.history.queries import RunView, find_run, latest_run, passing_runs, recent_runs
from harness.history.store import HistoryError, HistoryStore, open_store, within_deadline

EXIT_ERROR = 2
T = TypeVar("T")


def history_command(suite: str | None, limit: int, console: Console) -> int:
    def read(store: HistoryStore) -> list[RunView]:
        with store.session() as session:
            return recent_runs(session, suite, limit)

    try:
        runs = _with_store(read)
    except HistoryError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if not runs:
        which = f" of suite {suite!r}" if suite else ""
        console.print(f"no runs{which} recorded yet")
        return 0
    console.print(history_table(runs))
    return 0


def compare_command(
    run_a: str | None, run_b: str | None, fmt: Literal["table", "markdown"], console: Console
) -> int:
    try:
        a, b = _with_store(lambda store: _pair(store, run_a, run_b))
    except HistoryError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return EXIT_ERROR
    comparison = compare_runs(a, b)
    if fmt == "markdown":
        sys.stdout.write(comparison_markdown(comparison))
        return 0
    console.print(comparison_table(comparison))
    console.print(f"{comparison.regressions} regression(s)")
    return 0


def _pair(store: HistoryStore, run_a: str | None, run_b: str | None) -> tuple[RunView, RunView]:
    """(A, B): both given; B given (A = its suite's last passing run before it); or B =
    the latest run and A the last passing run of its suite before it."""
    with store.session() as session:
        if run_a is not None and run_b is not None:
            return find_run(session, run_a), find_run(session, run_b)
        if run_a is not None:
            b = find_run(session, run_a)
        else:
            latest = latest_run(session)
            if latest is None:
                raise HistoryError("no run recorded yet: nothing to compare")
            b = latest
        previous = passing_runs(session, b.suite, 1, before=b.started_at, exclude=b.run_id)
        if not previous:
            raise HistoryError(
                f"no passing run of suite {b.suite!r} before {b.run_id}: name two runs"
            )
        return previous[0], b


def _with_store(work: Callable[[HistoryStore], T]) -> T:
    def run() -> T:
        store = open_store()
        try:
            return work(store)
        finally:
            store.close()

    return within_deadline(run, "history store")
