"""The api driver: ``python -m harness.openapi.driver PLAN RESULTS`` (a child of the stage).

PLAN is a :class:`harness.openapi.plan.DrivePlan`; the tokens
come in ``$HARNESS_API_TOKENS`` (``{"read", "write", "admin"}``), never in a file. The
checks run one after the other; RESULTS is rewritten after each, so a driver killed at
its deadline still leaves the checks it finished. A check that raises becomes an
``error`` report naming the exception; the others still run. Every token is masked in
RESULTS. Exit code 0 when RESULTS was written (whatever the checks found), 2 for misuse.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.openapi.curl import mask
from harness.openapi.judge import expected_checks
from harness.openapi.plan import TOKENS_ENV, read_plan
from harness.openapi.results import CheckName, CheckReport, Results, write_results
from harness.openapi.sender import Sender
from harness.openapi.spec import ApiStep


@dataclass
class Run:
    """What every check gets (``operations``: counted once the document is loaded)."""

    step: ApiStep
    base_url: str
    openapi: str
    tokens: Mapping[str, str]
    sender: Sender
    operations: int = 0

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(t for t in self.tokens.values() if t)


def drive(step: ApiStep, base_url: str, openapi: str, tokens: Mapping[str, str], out: Path) -> None:
    secrets = tuple(t for t in tokens.values() if t)
    run = Run(step, base_url, openapi, tokens, Sender(step.request_timeout, secrets))
    results = Results(step.service)
    write_results(out, results)
    try:
        for names, check in _checks(run):
            for report in _guarded(names, check, run):
                results = Results(results.service, run.operations, results.checks)
                results = results.with_check(report)
                write_results(out, results)
    finally:
        run.sender.close()


def _checks(run: Run) -> list[tuple[list[CheckName], Callable[[Run], list[CheckReport]]]]:
    step = run.step
    checks: list[tuple[list[CheckName], Callable[[Run], list[CheckReport]]]] = []
    document = _document_names(step)
    if document:
        checks.append((document, _document_checks))
    if step.rate_limit is not None:
        checks.append((["rate_limit"], _rate_limit))
    if step.metrics is not None:
        checks.append((["metrics"], _metrics))
    return checks


def _document_names(step: ApiStep) -> list[CheckName]:
    """The checks that need the OpenAPI document, in the order they run."""
    return [c for c in expected_checks(step) if c not in ("rate_limit", "metrics")]


def _guarded(
    names: Sequence[CheckName], check: Callable[[Run], list[CheckReport]], run: Run
) -> list[CheckReport]:
    try:
        return check(run)
    except Exception as exc:  # a driver bug or an unexpected answer: that check is ERROR
        why = mask(f"{type(exc).__name__}: {exc}", run.secrets)[:500]
        return [CheckReport(name, "error", 0, f"the check raised {why}") for name in names]


def _document_checks(run: Run) -> list[CheckReport]:
    from harness.openapi.auth_matrix import auth_matrix
    from harness.openapi.fuzz import fuzz
    from harness.openapi.hostile import hostile_input
    from harness.openapi.operations import DocumentError, load_document, operations

    step = run.step
    scopes = step.auth.scopes if step.auth else {}
    secured = step.auth.secured if step.auth else []
    try:
        ops = operations(load_document(run.openapi), scopes, secured)
    except DocumentError as exc:
        return [CheckReport(name, "error", 0, str(exc)) for name in _document_names(step)]
    run.operations = len(ops)
    reports: list[CheckReport] = []
    if step.fuzz:
        fuzzed = [op for op in ops if not op.matches(step.fuzz.exclude)]
        token = run.tokens.get(step.fuzz.token, "")
        pair = fuzz(fuzzed, run.sender, run.base_url, token, step.max_examples, step.fuzz.budget)
        reports += [report for report in pair if report.check in step.fuzz.checks]
    if step.auth:
        status = step.auth.unknown_token_status
        reports.append(auth_matrix(ops, run.sender, run.base_url, run.tokens, status))
    if step.hostile:
        probed = [op for op in ops if not op.matches(step.hostile.exclude)]
        reports.append(
            hostile_input(
                probed,
                run.sender,
                run.base_url,
                run.tokens,
                step.hostile.oversized_bytes,
                step.hostile.nesting_depth,
            )
        )
    return reports


def _rate_limit(run: Run) -> list[CheckReport]:
    from harness.openapi.rate_limit import rate_limit

    options = run.step.rate_limit
    assert options is not None
    token = run.tokens.get(options.token, "")
    return [rate_limit(options, run.base_url, token, run.step.request_timeout, run.secrets)]


def _metrics(run: Run) -> list[CheckReport]:
    from harness.openapi.metric_names import metric_names

    options = run.step.metrics
    assert options is not None
    return [metric_names(run.sender, run.base_url, options.path, options.names)]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m harness.openapi.driver PLAN RESULTS", file=sys.stderr)
        return 2
    plan = read_plan(Path(argv[0]))
    raw_tokens = json.loads(os.environ.get(TOKENS_ENV) or "{}")
    tokens = {k: str(v) for k, v in raw_tokens.items() if v}
    drive(plan.step, plan.base_url, plan.openapi, tokens, Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
