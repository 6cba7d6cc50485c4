"""A pytest plugin (entry point ``pytest11``: ``harness``) that gates a pytest run on a
suite. It is inert unless a test asks for its fixture::

    def test_release_gate(harness_gate):
        harness_gate("suites/prerelease.yaml", target="external")

    async def test_release_gate_async(harness_gate):   # pytest-asyncio
        await harness_gate.run_async("suites/prerelease.yaml", target="external")

The suite runs with the reports the CLI writes; a verdict other than PASS fails the test
with one line per failed criterion (step, criterion, why) and the report directory.
Invalid input (a suite with mistakes) fails it with the problems, file:line: field.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported when a test uses the fixture: inert for every other run
    from harness.verdict import RunResult


def failure_text(result: RunResult) -> str:
    """The pytest failure message for a run that did not pass."""
    from harness.reporters.summary_md import why
    from harness.status import Status

    verdict = result.verdict
    lines = [f"harness verdict {verdict.status.value.upper()}: {verdict.reason}"]
    for _, step in verdict.steps:
        bad = [c for c in step.criteria if c.status in (Status.FAIL, Status.ERROR)]
        if step.status in (Status.FAIL, Status.ERROR) and not bad:
            lines.append(f"  {step.name}: {step.status.value}: {step.summary}")
        lines += [f"  {step.name}: {c.name}: {c.status.value}: {why(c)}" for c in bad]
    lines.append(f"reports in {result.report_dir}")
    return "\n".join(lines)


class HarnessGate:
    """Runs a suite and fails the calling test unless its verdict is PASS."""

    def __init__(self, tmp_path: Path) -> None:
        self._tmp_path = tmp_path

    def _options(self, options: dict[str, Any]) -> dict[str, Any]:
        options.setdefault("report_dir", self._tmp_path / "harness-report")
        return options

    def __call__(self, suite: str | Path, **options: Any) -> RunResult:
        from harness.api import InvalidRun, run

        try:
            result = run(suite, **self._options(options))
        except InvalidRun as exc:
            pytest.fail("harness: invalid run:\n" + "\n".join(exc.lines), pytrace=False)
        return _gated(result)

    async def run_async(self, suite: str | Path, **options: Any) -> RunResult:
        from harness.api import InvalidRun, run_async

        try:
            result = await run_async(suite, **self._options(options))
        except InvalidRun as exc:
            pytest.fail("harness: invalid run:\n" + "\n".join(exc.lines), pytrace=False)
        return _gated(result)


def _gated(result: RunResult) -> RunResult:
    if not result.passed:
        pytest.fail(failure_text(result), pytrace=False)
    return result


@pytest.fixture
def harness_gate(tmp_path: Path) -> HarnessGate:
    """Call it with a suite file (and ``target=``, ``report_dir=``, ``faults=``,
    ``dry_run=``); the test fails unless the verdict is PASS."""
    return HarnessGate(tmp_path)
