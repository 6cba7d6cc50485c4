"""Runs in the driver child only: the auth matrix.

Every operation that needs a scope must answer 401 without a token, the configured status
(401 by default, as RFC 6750 says) to an unknown token, and 403 to a token of each smaller
scope. One that answers 2xx to a smaller scope lets the wrong caller in: the finding says
so by name."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from harness.openapi.operations import Operation, example_request
from harness.openapi.results import CheckReport, Finding
from harness.openapi.sender import Answer, Sender

_ORDER = ("read", "write", "admin")


def smaller_scopes(scope: str) -> tuple[str, ...]:
    return _ORDER[: _ORDER.index(scope)] if scope in _ORDER else ()


def auth_matrix(
    ops: Sequence[Operation],
    sender: Sender,
    base_url: str,
    tokens: Mapping[str, str],
    unknown_status: int,
) -> CheckReport:
    secured = [op for op in ops if op.secured and op.scope != "none"]
    if not secured:
        return CheckReport("auth", "skipped", 0, "no operation of the document needs a token")
    findings: list[Finding] = []
    missing_tokens: set[str] = set()
    probed = 0
    unknown = f"harness-unknown-{secrets.token_urlsafe(12)}"
    for op in secured:
        request = example_request(op, base_url)
        cases: list[tuple[str, str | None, int]] = [
            ("no token", None, 401),
            ("an unknown token", unknown, unknown_status),
        ]
        for smaller in smaller_scopes(op.scope):
            if tokens.get(smaller):
                cases.append((f"a {smaller} token", tokens[smaller], 403))
            else:
                missing_tokens.add(smaller)
        for what, token, expected in cases:
            answer = _send(sender, op, request, token)
            probed += 1
            problem = _problem(op, what, expected, answer)
            if problem:
                findings.append(answer.finding(problem))
    detail = f"{probed} requests to {len(secured)} operations that need a token"
    if missing_tokens:
        detail += f"; no {'/'.join(sorted(missing_tokens))} token to probe smaller scopes with"
    return CheckReport("auth", "fail" if findings else "pass", probed, detail, tuple(findings))


def _send(sender: Sender, op: Operation, request: Mapping[str, Any], token: str | None) -> Answer:
    kwargs = dict(request)
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return sender.send(op.label, headers=headers, **kwargs)


def _problem(op: Operation, what: str, expected: int, answer: Answer) -> str:
    if answer.hung:
        return f"with {what}: {answer.error}"
    assert answer.status is not None
    if answer.status == expected:
        return ""
    if 200 <= answer.status < 300:
        return (
            f"accepted a request that needs a {op.scope} token with {what} "
            f"(answered {answer.status}, expected {expected})"
        )
    return f"with {what}: answered {answer.status}, expected {expected}"
