"""The api driver's results judged: one criterion per check the step asked for.

A check that failed carries every finding as a mismatch (operation, what broke, the
answer, and the request as a curl command with secrets masked); a check the driver did
not finish (killed at its deadline, crashed) is ERROR, never a pass."""

from __future__ import annotations

from harness.openapi.results import CHECK_EXPECTS, CHECK_TITLES, CheckName, CheckReport, Results
from harness.openapi.spec import ApiStep
from harness.outcome import CriterionResult, Mismatch
from harness.status import Status

_STATUS = {
    "pass": Status.PASS,
    "fail": Status.FAIL,
    "error": Status.ERROR,
    "skipped": Status.SKIPPED,
}


def expected_checks(step: ApiStep) -> list[CheckName]:
    checks: list[CheckName] = list(step.fuzz.checks) if step.fuzz else []
    checks += ["auth"] if step.auth else []
    checks += ["hostile"] if step.hostile else []
    checks += ["rate_limit"] if step.rate_limit is not None else []
    checks += ["metrics"] if step.metrics is not None else []
    return checks


def criterion_name(check: CheckName) -> str:
    return f"{check}: {CHECK_TITLES[check]}"


def judge(step: ApiStep, results: Results, unfinished_reason: str = "") -> list[CriterionResult]:
    by_check = {report.check: report for report in results.checks}
    criteria: list[CriterionResult] = []
    for check in expected_checks(step):
        report = by_check.get(check)
        if report is None:
            why = unfinished_reason or "the api driver ended before this check"
            criteria.append(CriterionResult(criterion_name(check), Status.ERROR, reason=why))
        else:
            criteria.append(_criterion(report))
    return criteria


def _criterion(report: CheckReport) -> CriterionResult:
    status = _STATUS[report.status]
    name = criterion_name(report.check)
    if status is not Status.FAIL:
        return CriterionResult(
            name, status, observed=0 if status is Status.PASS else None, threshold=0,
            unit="findings", reason=report.detail,
        )  # fmt: skip
    first = report.findings[0] if report.findings else None
    reason = report.detail if first is None else (
        f"{first.operation}: {first.problem}"
        + (f"; reproduce: {first.curl}" if first.curl else "")
        + f" ({len(report.findings)} findings; {report.detail})"
    )  # fmt: skip
    mismatches = tuple(
        Mismatch(
            path=f.operation,
            expected=CHECK_EXPECTS[report.check],
            actual=f"{f.problem}; answer: "
            + (f"{f.status} " if f.status is not None else "")
            + f.answer[:200],
            kind=f"request: {f.curl}" if f.curl else "",
        )
        for f in report.findings
    )
    return CriterionResult(
        name, Status.FAIL, observed=len(report.findings), threshold=0, unit="findings",
        reason=reason, mismatches=mismatches,
    )  # fmt: skip
