"""Runs in the driver child only: injection and malformed input.

Sent with a token of the operation's scope, so that the request gets past authentication
to the code that parses it. Every probe must get an answer (no hang) and no 5xx. A probe
the document forbids (a malformed path parameter where the schema constrains it, an
oversized, deeply nested, invalid or wrongly typed body) must get a 4xx; a probe the
document allows (an SQL-like string in a free-text field) may also succeed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from harness.openapi.operations import Operation, example_request
from harness.openapi.results import CheckReport, Finding
from harness.openapi.sender import Sender

SQL_LIKE = ("1' OR '1'='1", "1; DROP TABLE models; --", "' UNION SELECT NULL, NULL --")
PATH_TRAVERSAL = ("../../../../etc/passwd", "..%2F..%2F..%2Fetc%2Fpasswd")


@dataclass(frozen=True)
class Probe:
    what: str
    request: dict[str, Any]
    must_reject: bool
    """True: only a 4xx is right. False: anything but a 5xx or a hang."""


def hostile_input(
    ops: Sequence[Operation],
    sender: Sender,
    base_url: str,
    tokens: Mapping[str, str],
    oversized_bytes: int,
    nesting_depth: int,
) -> CheckReport:
    findings: list[Finding] = []
    probed = 0
    for op in ops:
        token = tokens.get(op.scope, "") if op.secured else ""
        base = example_request(op, base_url)
        if token:
            base["headers"]["Authorization"] = f"Bearer {token}"
        for probe in _probes(op, base, base_url, oversized_bytes, nesting_depth):
            answer = sender.send(op.label, **probe.request)
            probed += 1
            if answer.hung:
                findings.append(answer.finding(f"{probe.what}: {answer.error}"))
                continue
            status = answer.status
            assert status is not None
            if status >= 500:
                findings.append(answer.finding(f"{probe.what}: answered {status}"))
            elif probe.must_reject and not 400 <= status < 500:
                findings.append(answer.finding(f"{probe.what}: answered {status}, expected a 4xx"))
    if probed == 0:
        return CheckReport("hostile", "skipped", 0, "no operation takes parameters or a body")
    detail = f"{probed} hostile requests to {len(ops)} operations"
    return CheckReport("hostile", "fail" if findings else "pass", probed, detail, tuple(findings))


def _probes(
    op: Operation, base: dict[str, Any], base_url: str, oversized: int, depth: int
) -> Iterator[Probe]:
    for param in op.path_params:
        for payload in (*SQL_LIKE, *PATH_TRAVERSAL, "9" * 4096):
            url = base_url.rstrip("/") + _fill(op, {param.name: payload}, base)
            kind = "path traversal" if ".." in payload else "malformed"
            yield Probe(
                f"{kind} {param.name}={payload[:40]!r}", {**base, "url": url}, param.constrained
            )
    for name in op.query_params:
        params = {**base.get("params", {}), name: SQL_LIKE[0]}
        yield Probe(f"SQL-like query {name}", {**base, "params": params}, False)
    if not op.json_body:
        return
    body = base.get("json")
    if isinstance(body, dict | list):
        yield Probe("SQL-like strings in the body", _with_json(base, _sql_strings(body)), False)
    raw_bodies = (
        ("an oversized body", b'{"x": "' + b"a" * oversized + b'"}', "application/json"),
        ("a deeply nested body", b"[" * depth + b"]" * depth, "application/json"),
        ("invalid JSON", b'{"name": ', "application/json"),
        ("a wrong content type", b"<model><name>x</name></model>", "application/xml"),
    )
    for what, data, content_type in raw_bodies:
        yield Probe(what, _with_data(base, data, content_type), True)


def _fill(op: Operation, override: Mapping[str, str], base: Mapping[str, Any]) -> str:
    """The operation's path with ``override`` (quoted) and the example's other values."""
    example_path = str(base["url"]).split("?", 1)[0]
    template = op.path
    values = _path_values(template, example_path)
    values.update({k: quote(v, safe="") for k, v in override.items()})
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def _path_values(template: str, url: str) -> dict[str, str]:
    """Path parameter values of the example, read back from its URL."""
    import re

    names = re.findall(r"{([^}]+)}", template)
    pattern = re.escape(template)
    for name in names:
        pattern = pattern.replace(re.escape("{" + name + "}"), "([^/]*)")
    match = re.search(pattern + "$", url)
    return dict(zip(names, match.groups(), strict=True)) if match else {n: "1" for n in names}


def _sql_strings(value: Any) -> Any:
    if isinstance(value, str):
        return SQL_LIKE[0]
    if isinstance(value, dict):
        return {k: _sql_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sql_strings(v) for v in value]
    return value


def _with_json(base: Mapping[str, Any], body: Any) -> dict[str, Any]:
    return {**base, "json": body}


def _with_data(base: Mapping[str, Any], data: bytes, content_type: str) -> dict[str, Any]:
    request = {k: v for k, v in base.items() if k not in ("json", "data", "files")}
    request["headers"] = {**base.get("headers", {}), "Content-Type": content_type}
    request["data"] = data
    return request
