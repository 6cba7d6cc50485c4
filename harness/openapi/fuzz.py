"""Runs in the driver child only: schemathesis-generated requests (positive data) against
every operation, bounded by examples per operation and by a time budget in all.

Two checks come out of it: ``server_errors`` (no 5xx, no hang) and ``schema`` (status
code, content type and body as the document declares them). The first finding per
operation and check is kept, with the number of failing requests."""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from harness.openapi.operations import Operation
from harness.openapi.results import CheckReport, Finding
from harness.openapi.sender import Sender

SCHEMA_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


class _OutOfTime(Exception):
    pass


@dataclass
class _Tally:
    first: dict[tuple[str, str], Finding] = field(default_factory=dict)
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def add(self, check: str, finding: Finding) -> None:
        key = (check, finding.operation)
        self.failures[key] += 1
        self.first.setdefault(key, finding)

    def report(self, check: str, ops: Sequence[Operation], deadline_hit: bool) -> CheckReport:
        findings = [
            Finding(
                f.operation,
                f"{f.problem} ({self.failures[k]} failing requests)",
                f.curl,
                f.status,
                f.answer,
            )
            for k, f in self.first.items()
            if k[0] == check
        ]
        unexercised = [op.label for op in ops if self.examples[op.label] == 0]
        probed = sum(self.examples.values())
        detail = f"{probed} generated requests to {len(ops) - len(unexercised)} operations"
        if findings:
            return CheckReport(check, "fail", probed, detail, tuple(findings))  # type: ignore[arg-type]
        if unexercised or self.errors:
            why = "; ".join(self.errors[:3]) or (
                f"time budget spent before {', '.join(unexercised[:5])} got a request"
                if deadline_hit
                else f"no request generated for {', '.join(unexercised[:5])}"
            )
            return CheckReport(check, "error", probed, f"{detail}; {why}")  # type: ignore[arg-type]
        return CheckReport(check, "pass", probed, detail)  # type: ignore[arg-type]


def fuzz(
    ops: Sequence[Operation],
    sender: Sender,
    base_url: str,
    token: str,
    max_examples: int,
    budget_s: float,
) -> tuple[CheckReport, CheckReport]:
    """(server_errors, schema) reports over ``ops``."""
    tally = _Tally()
    deadline = time.monotonic() + budget_s
    deadline_hit = False
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for op in ops:
        if time.monotonic() >= deadline:
            deadline_hit = True
            break
        try:
            _fuzz_operation(op, sender, base_url, headers, max_examples, deadline, tally)
        except _OutOfTime:
            deadline_hit = True
            break
        except Exception as exc:  # hypothesis / schemathesis could not generate
            tally.errors.append(f"{op.label}: {type(exc).__name__}: {str(exc)[:200]}")
    return tally.report("server_errors", ops, deadline_hit), tally.report(
        "schema", ops, deadline_hit
    )


def _fuzz_operation(
    op: Operation,
    sender: Sender,
    base_url: str,
    headers: dict[str, str],
    max_examples: int,
    deadline: float,
    tally: _Tally,
) -> None:
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=op.api.as_strategy())
    def exercise(case: Case[Any]) -> None:
        if time.monotonic() >= deadline:
            raise _OutOfTime
        _exercise(op, case, sender, base_url, headers, tally)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exercise()


def _exercise(
    op: Operation,
    case: Case[Any],
    sender: Sender,
    base_url: str,
    headers: dict[str, str],
    tally: _Tally,
) -> None:
    kwargs = case.as_transport_kwargs(base_url=base_url, headers=headers)
    request_headers = {
        k: v
        for k, v in kwargs.pop("headers", {}).items()
        if not k.lower().startswith("x-schemathesis")
    }
    answer = sender.send(op.label, headers=request_headers, **kwargs)
    tally.examples[op.label] += 1
    if answer.hung:
        tally.add("server_errors", answer.finding(answer.error))
        return
    assert answer.status is not None and answer.response is not None
    if answer.status >= 500:
        tally.add("server_errors", answer.finding(f"answered {answer.status}"))
    try:
        case.validate_response(answer.response, checks=SCHEMA_CHECKS, headers=request_headers)
    except FailureGroup as group:
        titles = sorted({f.title for f in group.exceptions})
        message = "; ".join(titles)
        first = str(group.exceptions[0].message).strip().splitlines()
        if first:
            message += f": {first[0][:200]}"
        tally.add("schema", answer.finding(f"answered {answer.status}: {message}"))
