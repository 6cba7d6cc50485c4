"""The driver's results file: what each check probed and what broke (tokens masked).

Written by the child after every check (so a killed driver still leaves the checks it
finished) and read by the stage, which judges it. Schema ``harness.api-results/1``::

    {"schema", "service", "operations": N, "checks": [
      {"check", "status": "pass" | "fail" | "error" | "skipped", "probed", "detail",
       "findings": [{"operation", "problem", "curl", "status", "answer"}]}]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wholefile import write_atomically

RESULTS_SCHEMA = "harness.api-results/1"
CheckName = Literal["server_errors", "schema", "auth", "hostile", "rate_limit", "metrics"]
CHECK_TITLES: dict[CheckName, str] = {
    "server_errors": "no 5xx on any operation",
    "schema": "responses conform to the schema",
    "auth": "auth matrix",
    "hostile": "injection and malformed input answer 4xx",
    "rate_limit": "rate limit answers 429 and recovers",
    "metrics": "metric names exposed",
}
CHECK_EXPECTS: dict[CheckName, str] = {
    "server_errors": "no 5xx and an answer within the request timeout",
    "schema": "an answer as the OpenAPI document declares it",
    "auth": "401 without or with an unknown token, 403 with a smaller scope",
    "hostile": "a 4xx for what the document forbids, never a 5xx or a hang",
    "rate_limit": "429 above the rate, then served again",
    "metrics": "every listed metric name on /metrics",
}
CheckStatus = Literal["pass", "fail", "error", "skipped"]
MAX_ANSWER_CHARS = 300


class ResultsError(Exception):
    """A results file that is missing or not in the expected form."""


@dataclass(frozen=True)
class Finding:
    """One request that broke a check: which operation, what, how to send it again."""

    operation: str
    problem: str
    curl: str = ""
    status: int | None = None
    answer: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "problem": self.problem,
            "curl": self.curl,
            "status": self.status,
            "answer": self.answer[:MAX_ANSWER_CHARS],
        }


@dataclass(frozen=True)
class CheckReport:
    check: CheckName
    status: CheckStatus
    probed: int = 0
    detail: str = ""
    findings: tuple[Finding, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status,
            "probed": self.probed,
            "detail": self.detail,
            "findings": [f.to_json() for f in self.findings],
        }


@dataclass(frozen=True)
class Results:
    service: str
    operations: int = 0
    checks: tuple[CheckReport, ...] = field(default_factory=tuple)

    def with_check(self, report: CheckReport) -> Results:
        return Results(self.service, self.operations, (*self.checks, report))

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": RESULTS_SCHEMA,
            "service": self.service,
            "operations": self.operations,
            "checks": [c.to_json() for c in self.checks],
        }


def write_results(path: Path, results: Results) -> None:
    write_atomically(path, json.dumps(results.to_json(), indent=2) + "\n")


def read_results(path: Path) -> Results:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"the api driver wrote no results ({path} is missing)") from None
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: unreadable api results ({exc})") from None
    try:
        return _parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ResultsError(
            f"{path}: api results not in the {RESULTS_SCHEMA} form ({exc!r})"
        ) from None


def _parse(data: Any) -> Results:
    if data.get("schema") != RESULTS_SCHEMA:
        raise ValueError(f"schema is {data.get('schema')!r}")
    checks = []
    for raw in data["checks"]:
        if raw["check"] not in CHECK_TITLES or raw["status"] not in (
            "pass",
            "fail",
            "error",
            "skipped",
        ):
            raise ValueError(f"check {raw['check']!r} with status {raw['status']!r}")
        findings = tuple(
            Finding(
                operation=str(f["operation"]),
                problem=str(f["problem"]),
                curl=str(f.get("curl", "")),
                status=None if f.get("status") is None else int(f["status"]),
                answer=str(f.get("answer", "")),
            )
            for f in raw.get("findings", [])
        )
        checks.append(
            CheckReport(
                check=raw["check"],
                status=raw["status"],
                probed=int(raw.get("probed", 0)),
                detail=str(raw.get("detail", "")),
                findings=findings,
            )
        )
    return Results(str(data["service"]), int(data.get("operations", 0)), tuple(checks))
